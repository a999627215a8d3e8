"""The corpus's hostile payloads aim only inside their own test folder, so even a broken sandbox
costs nothing beyond it.

The payloads that write (the lingerer and ``PEEK_OUTSIDE`` of ``corpus/course_cases.py``) run here
in a deliberately leaky bubblewrap that shows them this test's whole folder, writable: their arena
(a stand-in course root) and canaries beside it, placed where the old payloads went (the arena's
parent, a sibling folder, links out of the arena). The attacks must hit the arena -- they are real,
and only a sandbox keeps them out of a real course -- and leave every canary beside it
byte-for-byte as it was, with no marker file.
"""

import shutil
import subprocess
import sys
import textwrap

import pytest
from corpus import course_cases

from autograder.instructor import sandbox

pytestmark = pytest.mark.needs_bwrap

TARGETS = {"gradebook.db": b"SQLite format 3\x00 canary", "grades-autodiff.csv": b"student_id,score\nada,1\n",
           "notes.ipynb": b'{"cells": []}', ".grading/autodiff/ada.json": b'{"complete": true}',
           "source/autodiff/tinygrad_course/engine.py": b"class Pow:\n    backward = staticmethod(lambda c, g: 'X')\n"}


def _plant(folder, who):
    for name, data in TARGETS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.replace(b"'X'", repr(f"copied from {who}").encode()))


def _tree(folder):
    """{relative path: bytes} of every file and link under ``folder`` (links as their target)."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if not p.is_symlink() else str(p.readlink()))
            for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink()}


def _leaky(code, arena, exposed):
    """``code`` run in bubblewrap with all of ``exposed`` writable (a sandbox that fails to hide it)."""
    command = sandbox.bwrap_command([sys.executable, "-c", code], cwd=str(arena), writable=[str(exposed)],
                                    env=sandbox.environment(""))
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_the_writing_payloads_hit_their_arena_and_nothing_beside_it(tmp_path):
    exposed = tmp_path.resolve()
    arena, sibling = exposed / "course", exposed / "sibling"
    _plant(arena, "the arena")
    (arena / "nbgrader_config.py").write_text("c = get_config()\n")  # the payloads attack a course root only
    _plant(exposed, "beside")            # the arena's parent: where walking up from the arena leads
    _plant(sibling, "a sibling")
    (arena / "linked.ipynb").symlink_to(sibling / "notes.ipynb")  # links out of the arena, as a learner makes
    (arena / "linked-folder").symlink_to(sibling, target_is_directory=True)
    beside = {"parent": {k: v for k, v in _tree(exposed).items() if not k.startswith(("course/", "sibling/"))},
              "sibling": _tree(sibling)}
    before = _tree(arena)

    lingered = _leaky(course_cases.lingerer(arena, seconds=0), arena, exposed)
    assert lingered.returncode == 0, lingered.stderr
    peek = ("def backward(ctx, grad):\n" + textwrap.indent(course_cases.peek_outside(arena), "    ")
            + "\n__file__ = '/nowhere/engine.py'\nprint(backward(None, None))\n")
    peeked = _leaky(peek, arena, exposed)
    assert peeked.returncode == 0, peeked.stderr

    # the attacks are real: in the arena they wrote and copied
    assert peeked.stdout.strip() == "copied from the arena"
    after = _tree(arena)
    mark = course_cases.LINGER_MARK
    assert after["gradebook.db"] == before["gradebook.db"] + mark.encode() + b"peeked"
    assert after["grades-autodiff.csv"] == before["grades-autodiff.csv"] + mark.encode() + b"peeked"
    for name in ("notes.ipynb", ".grading/autodiff/ada.json"):
        assert after[name] == before[name] + mark.encode()
    assert {name for name in after if name.endswith(mark)} >= {mark, f".grading/{mark}", f"source/autodiff/{mark}"}
    # and beside it nothing changed, nothing appeared
    assert {k: v for k, v in _tree(exposed).items() if not k.startswith(("course/", "sibling/"))} == beside["parent"]
    assert _tree(sibling) == beside["sibling"]
    # the arena's marks were meant: gone, so that a later look for stray marks in the test folders
    # (test_grade_corpus's canaries) finds only what a real leak would leave
    shutil.rmtree(arena)
