"""The one sandbox builder (``sandbox.bwrap_command``), on its own: what code inside sees of the
environment, the files and the network, for both of its users (the kernels, with the installed
packages; the judge's worker, without them). Runs under bubblewrap only; every probe aims at this
test's own folder."""

import ast
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.instructor import sandbox

pytestmark = pytest.mark.needs_bwrap

PROBE = r"""
import importlib.util, json, os, socket, sys
paths = json.loads(sys.argv[1])
def can(action):
    try:
        action()
        return True
    except OSError:
        return False
def connect():
    socket.create_connection(("127.0.0.1", paths["port"]), timeout=2).close()
print(json.dumps({
    "env": sorted(os.environ),
    "write_mine": can(lambda: open(os.path.join(paths["mine"], "w.txt"), "w").close()),
    "write_shown": can(lambda: open(os.path.join("/shown", "w.txt"), "w").close()),
    "read_shown": open("/shown/note.txt").read(),
    "read_canary": can(lambda: open(paths["canary"]).read()),
    "network": can(connect),
    "numpy": importlib.util.find_spec("numpy") is not None,
}))
"""


def run_inside(tmp_path, **options):
    mine, shown = tmp_path / "mine", tmp_path / "shown"
    mine.mkdir(exist_ok=True)
    shown.mkdir(exist_ok=True)
    (shown / "note.txt").write_text("read me")
    canary = tmp_path / "canary.txt"
    canary.write_text("outside")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        paths = {"mine": str(mine), "canary": str(canary), "port": listener.getsockname()[1]}
        # the kernels start the venv's interpreter; the judge's worker the real one, the venv out of sight
        python = sandbox.interpreter() if options["installed_packages"] else os.path.realpath(sys.executable)
        command = sandbox.bwrap_command([python, "-c", PROBE, json.dumps(paths)], cwd=str(mine),
                                        env={"ONLY": "this"}, writable=[str(mine)],
                                        read_only=[(str(shown), "/shown")], **options)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("installed_packages", [True, False], ids=["kernels", "judge worker"])
def test_inside_sees_only_what_it_was_given(tmp_path, installed_packages):
    seen = run_inside(tmp_path, installed_packages=installed_packages)
    assert set(seen["env"]) <= {"ONLY", "PWD", "LC_CTYPE"} and "ONLY" in seen["env"], "the environment is cleared"
    assert seen["write_mine"] and not seen["write_shown"] and seen["read_shown"] == "read me"
    assert not seen["read_canary"], "the rest of the test's folder is out of sight"
    assert not seen["network"], "no network, not even the host's loopback"
    assert seen["numpy"] is installed_packages


def test_no_other_module_builds_a_bubblewrap_command():
    """One builder: a second copy drifts (it did: 7 against 10 /etc files)."""
    package = Path(sandbox.__file__).resolve().parent.parent
    builders = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.List) and node.elts and isinstance(node.elts[0], ast.Constant) \
                    and node.elts[0].value == "bwrap":
                builders.append(path.relative_to(package).as_posix())
    assert builders == ["instructor/sandbox.py"], builders
