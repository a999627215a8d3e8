"""One class autograded by stock ``nbgrader autograde``, shared by the tests that read its gradebook.

- ``PIPELINE``: learners made from ``solutions/`` and the release, with or without engine exercises
  solved, test cells emptied or replaced, planted bugs. ``instructor/test_pipeline.py`` checks their
  points cell by cell. Two of them also edit their test cells: nbgrader restores them before it
  grades, so what is graded is still their work (the untouched notebooks are those of the learner
  who did the first two; three learners where there were six, the same checks).
- ``PARITY``: a small honest class (some notebooks left out). ``instructor/test_grade_course.py``
  grades the same submissions with our grader (in parallel, on Dask, into PostgreSQL) and compares
  gradebooks.

Both are graded by stock nbgrader (about 4 s a notebook, one after another in each run; three runs
at once): the conftest's ``stock_graded`` fixture, built once per session.
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


def locked_test_cells(nb):
    return [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code"]


# What a learner may do to a test cell; nbgrader restores it either way (it is locked).
EMPTIED, PASSING = "", "pass  # nothing to check"


def _edit_test_cells(nb, replacements):
    """The notebook's test cells, in turn, set to ``replacements`` (cycled); ``None`` leaves one as it is."""
    for i, cell in enumerate(locked_test_cells(nb)):
        replacement = replacements[i % len(replacements)]
        if replacement is not None:
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
    # every notebook done; every other test cell emptied: restored, the tests pass on right answers
    "complete": dict(notebooks="solutions", solved="all", edit=lambda nb: _edit_test_cells(nb, [EMPTIED, None])),
    # the first two notebooks done, the others untouched; every test cell emptied or made to pass:
    # restored, they earn nothing for unwritten answers
    "first_two": dict(notebooks={nb: "solutions" for nb in FIRST_TWO}, solved=exercises_of(FIRST_TWO),
                      edit=lambda nb: _edit_test_cells(nb, [EMPTIED, PASSING])),
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
    """Both classes graded by stock ``nbgrader autograde``: three runs at once, each on its own copy of
    ``released`` under ``folder`` (the pipeline learners in two halves, the parity class), since one
    run grades its notebooks one after another. ``({student: their course root}, nbgrader's logs)``."""
    pipeline = list(PIPELINE.items())
    batches = {"pipeline-a": dict(pipeline[:2]), "pipeline-b": dict(pipeline[2:]), "parity": None}
    env = {**os.environ, "PYTHONPATH": str(course.REPO),  # stock kernels import the checks from the repo
           "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
    roots, runs = {}, {}
    for name, learners in batches.items():
        root = course.copy_of(released, folder / name)
        if learners is None:
            submit_parity_class(root)
        else:
            for student, spec in learners.items():
                submit_pipeline_learner(root, student, spec)
        roots.update(dict.fromkeys(learners or PARITY, root))
        runs[name] = subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--create"],
                                      cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    logs = []
    for name, run in runs.items():
        out, err = run.communicate(timeout=1800)
        assert run.returncode == 0, f"{name}: {out[-3000:]}{err[-3000:]}"
        logs.append(err)
    return roots, "\n".join(logs)
