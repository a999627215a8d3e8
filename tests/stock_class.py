"""One class autograded by stock ``nbgrader autograde``, shared by the tests that read its gradebook.

- ``PIPELINE``: learners made from ``solutions/`` and the release, with or without engine exercises
  solved, test cells emptied or replaced, planted bugs. ``instructor/test_pipeline.py`` checks their
  points cell by cell.
- ``PARITY``: a small honest class (some notebooks left out). ``instructor/test_grade_course.py``
  grades the same submissions with our grader (in parallel, on Dask, into PostgreSQL) and compares
  gradebooks.

Both are graded by one stock run (serial, about 4 s a notebook): the conftest's ``stock_graded``
fixture, built once per session.
"""

import os
import shutil
import subprocess
import sys

import nbformat
from corpus import course, course_cases

from autograder.instructor import release
from autograder.learner.engines import SOLUTIONS, load_reference

ASSIGNMENT = release.ASSIGNMENT
ENGINE = (SOLUTIONS / "tinygrad_course" / "engine.py").read_text()
NOTEBOOKS = sorted(p.stem for p in SOLUTIONS.glob("*.ipynb"))
FIRST_TWO = NOTEBOOKS[:2]


def exercises_of(notebook_names):
    """Engine exercise ids asked for by these notebooks."""
    table = load_reference().EXERCISES
    return {ex for ex, (nb, _) in table.items() if nb[:-len(".ipynb")] in notebook_names}


def _empty_test_cells(nb, replacement):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            cell.source = replacement
    return nb


# How each pipeline learner is made: notebooks from `solutions` or the `release`, an engine with
# the given exercises solved, and an optional edit of the notebooks.
PLANTED = {
    "pow_backward": ("return grad * (n * x ** (n - 1))", "return -grad * (n * x ** (n - 1))"),
    "mean_backward": ("return np.broadcast_to(grad / count, ctx.shape)",
                      "return np.broadcast_to(grad, ctx.shape)"),
    "log_softmax_backward": ("return grad - np.exp(out) * grad.sum(axis=ctx.dim, keepdims=True)",
                             "return grad + np.exp(out) * grad.sum(axis=ctx.dim, keepdims=True)"),
}
PIPELINE = {
    "complete": dict(notebooks="solutions", solved="all"),
    "untouched": dict(notebooks="release", solved=()),
    "first_two": dict(notebooks={nb: "solutions" for nb in FIRST_TWO}, solved=exercises_of(FIRST_TWO)),
    "emptied_tests_complete": dict(notebooks="solutions", solved="all", edit=lambda nb: _empty_test_cells(nb, "")),
    "passing_tests_untouched": dict(notebooks="release", solved=(),
                                    edit=lambda nb: _empty_test_cells(nb, "pass  # nothing to check")),
    "planted_bugs": dict(notebooks="solutions", solved="all", planted=PLANTED),
}

# What each parity learner submits (``course.submit``'s arguments): small, so the serial run stays short.
PARITY = {
    "ada": dict(engine_units=course.all_units(), answers=course.all_answers(),
                drop=course_cases._only(course_cases.NB1, course_cases.NB3, course_cases.NB7)),
    "ben": dict(engine_units=["pow_backward", "sin_backward", "backward_pass", "mul_backward"],
                answers=["manual_dy_dx"], drop=course_cases._only(course_cases.NB1, course_cases.NB2)),
    "cy": dict(drop=course_cases._only(course_cases.NB1)),
}


def _engine_for(spec):
    text = ENGINE if spec["solved"] == "all" else release.strip_solutions(ENGINE, keep=set(spec["solved"]))
    for old, new in spec.get("planted", {}).values():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def submit_pipeline_learner(root, student, spec):
    built_release = root / "release" / ASSIGNMENT
    folder = root / "submitted" / student / ASSIGNMENT
    shutil.copytree(built_release, folder)
    (folder / "tinygrad_course" / "engine.py").write_text(_engine_for(spec))
    for name in NOTEBOOKS:
        origin = spec["notebooks"] if isinstance(spec["notebooks"], str) else spec["notebooks"].get(name, "release")
        nb = nbformat.read((SOLUTIONS if origin == "solutions" else built_release) / f"{name}.ipynb", as_version=4)
        if "edit" in spec:
            nb = spec["edit"](nb)
        nbformat.write(nb, folder / f"{name}.ipynb")


def submit_parity_class(root):
    for student, kwargs in PARITY.items():
        course.submit(root, student, **kwargs)
    return root


def autograde(released, folder):
    """Both classes submitted to a copy of ``released`` at ``folder`` and graded by one stock
    ``nbgrader autograde``; ``(course root, nbgrader's log)``."""
    root = course.copy_of(released, folder)
    for student, spec in PIPELINE.items():
        submit_pipeline_learner(root, student, spec)
    submit_parity_class(root)
    env = {**os.environ, "PYTHONPATH": str(course.REPO),  # stock kernels import the checks from the repo
           "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--create"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root, done.stderr
