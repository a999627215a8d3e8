"""Paths as they are: checks work from a venv, a home or a course folder reached through symlinks
(``/tmp`` and ``/var`` are symlinks on macOS), and the tamper and delegation guards still judge a
file by where its bytes live."""

import shutil
import subprocess
import sys
import textwrap
import types

import pytest
from planted_bugs import plant

from autograder.learner import guards
from autograder.learner.engines import REPO, SOLUTIONS

TORCH_POW = """
import torch
x, = ctx.saved_tensors
t = torch.tensor(x, requires_grad=True)
g, = torch.autograd.grad(t ** ctx.exponent, t, torch.tensor(grad))
return g.numpy()
"""


def test_checks_run_from_a_venv_and_a_course_folder_behind_symlinks(tmp_path):
    if sys.prefix == sys.base_prefix:
        pytest.skip("the tests are not running in a venv, so there is no venv to reach through a symlink")
    real = tmp_path / "real"
    shutil.copytree(SOLUTIONS / "tinygrad_course", real / "course" / "tinygrad_course",
                    ignore=shutil.ignore_patterns("__pycache__"))
    engine = real / "delegating" / "tinygrad_course"
    shutil.copytree(real / "course" / "tinygrad_course", engine)
    (engine / "engine.py").write_text(plant((engine / "engine.py").read_text(), "pow_backward", TORCH_POW))
    (real / "course" / "mine.py").write_text("def allclose(*args, **kwargs):\n    return True\n")
    (tmp_path / "home").symlink_to(real, target_is_directory=True)
    (tmp_path / "venv").symlink_to(sys.prefix, target_is_directory=True)
    course = tmp_path / "home" / "course"
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(REPO)!r})
        from autograder.learner.checks import check
        from autograder.learner.engines import load_engine
        print("PREFIX", sys.prefix)
        check("pow_backward")  # the engine in ./tinygrad_course: the reference
        import tinygrad_course as tg
        def predict(w, b, xs):  # an answer checked with torch's stand-ins in the engine's units
            with tg.no_grad():
                return tg.sigmoid(w * (xs if isinstance(xs, tg.Tensor) else tg.tensor(xs)) + b)
        check("no_grad_inference", predict)
        try:
            check("pow_backward", engine=load_engine({str(tmp_path / "home" / "delegating")!r}, "delegating"))
        except AssertionError as failure:
            print("DELEGATION CAUGHT", failure)
        import numpy, mine
        numpy.allclose = mine.allclose
        try:
            check("pow_backward")
        except AssertionError as failure:
            print("TAMPERING CAUGHT", failure)
    """)
    done = subprocess.run([str(tmp_path / "venv" / "bin" / "python"), "-c", script], cwd=course,
                          capture_output=True, text=True, timeout=300)
    out = done.stdout
    assert f"PREFIX {tmp_path / 'venv'}" in out, (out, done.stderr)  # the venv really is reached via the link
    assert "pow_backward: " in out and "cases agree with torch.autograd" in out, (out, done.stderr)
    assert "no_grad_inference: 3 cases agree" in out, (out, done.stderr)  # the stand-ins' torch is allowed
    assert "DELEGATION CAUGHT" in out and "torch (" in out.split("DELEGATION CAUGHT")[1], out
    assert "TAMPERING CAUGHT" in out and "numpy.allclose" in out.split("TAMPERING CAUGHT")[1], out


def _function_from(path, name="allclose"):
    path.write_text(f"def {name}(*args, **kwargs):\n    return True\n")
    namespace = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace[name]


def test_a_file_is_trusted_by_where_its_bytes_live(tmp_path):
    site, course = tmp_path / "site-packages", tmp_path / "course"
    site.mkdir()
    course.mkdir()
    (site / "learner").symlink_to(course, target_is_directory=True)  # a link in site-packages to learner code
    (course / "lib").symlink_to(site, target_is_directory=True)      # a link in the course folder to installed code
    (site / "installed.py").touch()
    cases = {"learner code through a link in site-packages": (site / "learner" / "fake.py", False),
             "installed code through a link in the course folder": (course / "lib" / "installed.py", True),
             "learner code": (course / "plain.py", False)}
    for label, (path, trusted) in cases.items():
        integrity = guards.Integrity(trusted=[site])
        integrity.capture("lib", vars(types.SimpleNamespace(allclose=_function_from(path))), must_be_installed=True)
        assert (integrity.import_problems == []) == trusted, (label, integrity.import_problems)
