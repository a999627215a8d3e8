"""The learner release, run untouched as a learner first opens it: every cell that is not an open
exercise runs cleanly, and open exercises fail only with the message that names them."""

import shutil

import nbclient
import nbformat
import pytest
from open_exercises import errors_of, open_exercise_error, role

from autograder.engines import COURSE, SOLUTIONS

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
    unwarned = [i for i, cell, ename, evalue in errors if role(cell) == "demo" and not warned(notebook, i)]
    assert unwarned == [], f"{name}: cells that stop on an open exercise with no word of warning above them"


def warned(notebook, index):
    """Does the prose just above cell ``index`` (the nearest markdown cell) say it will raise?"""
    for cell in reversed(notebook.cells[:index]):
        if cell.cell_type == "markdown":
            return "NotImplementedError" in cell.source
    return False


def test_release_has_every_notebook():
    assert NOTEBOOKS == sorted(p.name for p in SOLUTIONS.glob("*.ipynb"))
