"""The learner release, run untouched as a learner first opens it: every cell that is not an open
exercise runs cleanly, and open exercises fail only with the message that names them."""

import re
import shutil

import nbclient
import nbformat
import pytest
from nbgrader.utils import determine_grade
from open_exercises import ENGINE_TODO, errors_of, open_exercise_error, role

from autograder.instructor.release import strip_solutions
from autograder.learner.engines import COURSE, SOLUTIONS
from autograder.worker import exercises

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted(p.name for p in COURSE.glob("*.ipynb"))


@pytest.fixture(scope="module")
def course_copy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("learner") / "course"
    shutil.copytree(COURSE, folder)
    return folder


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_release_notebook_fails_only_at_open_exercises(course_copy, name):
    notebook = nbformat.read(course_copy / name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(course_copy)}}).execute()
    errors = errors_of(notebook)
    unexplained = [(i, ename, evalue) for i, cell, ename, evalue in errors
                   if open_exercise_error(cell, ename, evalue) is None]
    assert unexplained == []
    assert errors, f"{name}: nothing is open in the untouched release"
    failed_checks = [(i, cell, output) for i, cell in enumerate(notebook.cells) for output in cell.get("outputs", [])
                     if output.get("ename") == "CheckFailed"]
    assert failed_checks, f"{name}: no check failed, so nothing shows how a failed check reads"
    for i, cell, output in failed_checks:
        assert_message_alone(output)
        if role(cell) == "check":  # still an error output: nbgrader gives the cell no points
            assert determine_grade(cell)[0] == 0, (i, cell.source)


FRAME = re.compile(r"Traceback|^\s*File |Cell In\[|----> |\x1b\[", re.M)


def assert_message_alone(output):
    """A failed check's output is its message: no traceback header, frames, or arrows."""
    shown = "\n".join(output["traceback"])
    assert not FRAME.search(shown), shown
    assert shown == output["evalue"], (shown, output["evalue"])


def test_release_has_every_notebook():
    assert NOTEBOOKS == sorted(p.name for p in SOLUTIONS.glob("*.ipynb"))


def _check_index(notebook, exercise):
    return next((i for i, cell in enumerate(notebook.cells)
                 if cell.metadata.get("nbgrader", {}).get("grade_id") == exercise), None)


def _warned(notebook, index):
    """Does the prose just above cell ``index`` (the nearest markdown cell) say it will stop?"""
    for cell in reversed(notebook.cells[:index]):
        if cell.cell_type == "markdown":
            return "NotImplementedError" in cell.source
    return False


@pytest.mark.parametrize("exercise", list(exercises.UNITS))
def test_cells_that_stop_before_their_exercise_are_announced(exercise, tmp_path):
    """A learner working through the course in order reaches an engine exercise's notebook with
    everything else done. A cell that stops on that exercise *before* its section says so above it,
    as 01 does before its by-hand steps, so that nobody takes the error for a broken course."""
    name = exercises.UNITS[exercise][0]
    folder = tmp_path / "course"
    shutil.copytree(COURSE, folder)
    reference = (SOLUTIONS / "tinygrad_course" / "engine.py").read_text()
    (folder / "tinygrad_course" / "engine.py").write_text(
        strip_solutions(reference, keep=set(exercises.UNITS) - {exercise}))
    notebook = nbformat.read(folder / name, as_version=4)
    check_at = _check_index(notebook, exercise)
    assert check_at is not None, f"{name} has no check cell for {exercise}"
    del notebook.cells[check_at:]  # what runs from the exercise's check on is not in question here
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(folder)}}).execute()
    early = [(index, cell.metadata.get("nbgrader", {}).get("grade_id")) for index, cell, _, evalue
             in errors_of(notebook) if role(cell) == "demo" and index < check_at
             and (ENGINE_TODO.search(evalue) or [None, None])[1] == exercise]
    assert [cell for cell in early if not _warned(notebook, cell[0])] == []
