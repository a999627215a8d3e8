"""The grading pipeline end to end with stock nbgrader, in a scratch copy of the course.

One class of learners is autograded once by ``nbgrader autograde``; each test reads the real
gradebook. Expected points come from the source notebooks' nbgrader metadata, never typed in.
"""

import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.instructor import release
from autograder.learner.engines import SOLUTIONS, load_reference

pytestmark = pytest.mark.slow

ASSIGNMENT = release.ASSIGNMENT
ENGINE = (SOLUTIONS / "tinygrad_course" / "engine.py").read_text()
NOTEBOOKS = sorted(p.stem for p in SOLUTIONS.glob("*.ipynb"))
FIRST_TWO = NOTEBOOKS[:2]


def graded_cells(notebook_name):
    """{grade_id: points} of the graded cells of a source notebook."""
    nb = nbformat.read(SOLUTIONS / f"{notebook_name}.ipynb", as_version=4)
    return {cell.metadata.nbgrader["grade_id"]: cell.metadata.nbgrader["points"]
            for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade")}


def exercises_of(notebook_names):
    """Engine exercise ids asked for by these notebooks."""
    table = load_reference().EXERCISES
    return {ex for ex, (nb, _) in table.items() if nb[:-len(".ipynb")] in notebook_names}


def _empty_test_cells(nb, replacement):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            cell.source = replacement
    return nb


# How each learner of the class is made: notebooks from `solutions` or the `release`,
# an engine with the given exercises solved, and an optional edit of the notebooks.
PLANTED = {
    "pow_backward": ("return grad * (n * x ** (n - 1))", "return -grad * (n * x ** (n - 1))"),
    "mean_backward": ("return np.broadcast_to(grad / count, ctx.shape)",
                      "return np.broadcast_to(grad, ctx.shape)"),
    "log_softmax_backward": ("return grad - np.exp(out) * grad.sum(axis=ctx.dim, keepdims=True)",
                             "return grad + np.exp(out) * grad.sum(axis=ctx.dim, keepdims=True)"),
}
LEARNERS = {
    "complete": dict(notebooks="solutions", solved="all"),
    "untouched": dict(notebooks="release", solved=()),
    "first_two": dict(notebooks={nb: "solutions" for nb in FIRST_TWO}, solved=exercises_of(FIRST_TWO)),
    "emptied_tests_complete": dict(notebooks="solutions", solved="all", edit=lambda nb: _empty_test_cells(nb, "")),
    "passing_tests_untouched": dict(notebooks="release", solved=(),
                                    edit=lambda nb: _empty_test_cells(nb, "pass  # nothing to check")),
    "planted_bugs": dict(notebooks="solutions", solved="all", planted=PLANTED),
}


def _engine_for(spec):
    if spec["solved"] == "all":
        text = ENGINE
    else:
        text = release.strip_solutions(ENGINE, keep=set(spec["solved"]))
    for old, new in spec.get("planted", {}).values():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _submit(root, built_release, student, spec):
    folder = root / "submitted" / student / ASSIGNMENT
    shutil.copytree(built_release, folder)
    (folder / "tinygrad_course" / "engine.py").write_text(_engine_for(spec))
    for name in NOTEBOOKS:
        origin = spec["notebooks"] if isinstance(spec["notebooks"], str) else spec["notebooks"].get(name, "release")
        nb = nbformat.read((SOLUTIONS if origin == "solutions" else built_release) / f"{name}.ipynb", as_version=4)
        if "edit" in spec:
            nb = spec["edit"](nb)
        nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    built_release = release.build_in(root)
    for student, spec in LEARNERS.items():
        _submit(root, built_release, student, spec)
    result = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--create"],
                            cwd=root, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        yield gb, result.stderr


def scores(gb, student, notebook):
    return {g: gb.find_grade(g, notebook, ASSIGNMENT, student).score for g in graded_cells(notebook)}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_reference_solutions_score_full_marks(gradebook, notebook):
    gb, _ = gradebook
    assert scores(gb, "complete", notebook) == graded_cells(notebook)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_untouched_release_scores_zero_and_still_grades(gradebook, notebook):
    gb, log = gradebook
    assert set(scores(gb, "untouched", notebook).values()) == {0}
    assert gb.find_submission_notebook(notebook, ASSIGNMENT, "untouched").needs_manual_grade is False
    assert not re.search(rf"{notebook}.*(Traceback|failed)", log)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_learner_who_did_the_first_two_notebooks_gets_exactly_their_points(gradebook, notebook):
    gb, _ = gradebook
    expected = graded_cells(notebook) if notebook in FIRST_TWO else dict.fromkeys(graded_cells(notebook), 0)
    assert scores(gb, "first_two", notebook) == expected


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_edited_test_cells_are_restored_and_earn_nothing(gradebook, notebook):
    gb, _ = gradebook
    # emptied tests are put back by nbgrader and then run: full marks only because the answers are right
    assert scores(gb, "emptied_tests_complete", notebook) == graded_cells(notebook)
    # tests replaced by `pass` are put back too: no points for unwritten answers
    assert set(scores(gb, "passing_tests_untouched", notebook).values()) == {0}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_planted_bugs_lose_points_on_their_own_cells_only(gradebook, notebook):
    gb, _ = gradebook
    expected = {g: (0 if g in PLANTED else points) for g, points in graded_cells(notebook).items()}
    assert scores(gb, "planted_bugs", notebook) == expected
