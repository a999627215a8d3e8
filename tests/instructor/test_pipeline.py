"""The grading pipeline end to end with stock nbgrader, in a scratch copy of the course.

``stock_class.PIPELINE``'s learners are autograded once by ``nbgrader autograde`` (the session's
``stock_graded``); each test reads the real gradebooks. Expected points come from the source
notebooks' nbgrader metadata, never typed in.
"""

import re
from contextlib import ExitStack

import nbformat
import pytest
import stock_class
from nbgrader.api import Gradebook

from autograder.learner.engines import SOLUTIONS

pytestmark = pytest.mark.slow  # runs beside test_grade_course (SHARED_FIXTURE_GROUPS in tests/conftest.py)

ASSIGNMENT = stock_class.ASSIGNMENT
NOTEBOOKS, FIRST_TWO, PLANTED = stock_class.NOTEBOOKS, stock_class.FIRST_TWO, stock_class.PLANTED


def graded_cells(notebook_name):
    """{grade_id: points} of the graded cells of a source notebook."""
    nb = nbformat.read(SOLUTIONS / f"{notebook_name}.ipynb", as_version=4)
    return {cell.metadata.nbgrader["grade_id"]: cell.metadata.nbgrader["points"]
            for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade")}


@pytest.fixture(scope="module")
def gradebook(stock_graded):
    """``({student: their gradebook}, nbgrader's log, {student: their course root})``."""
    roots, log = stock_graded
    with ExitStack() as opened:
        books = {root: opened.enter_context(Gradebook(f"sqlite:///{root / 'gradebook.db'}"))
                 for root in set(roots.values())}
        yield {student: books[root] for student, root in roots.items()}, log, roots


def scores(gb, student, notebook):
    return {g: gb[student].find_grade(g, notebook, ASSIGNMENT, student).score for g in graded_cells(notebook)}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_reference_solutions_score_full_marks(gradebook, notebook):
    gb, *_ = gradebook
    assert scores(gb, "complete", notebook) == graded_cells(notebook)


UNTOUCHED = [notebook for notebook in NOTEBOOKS if notebook not in FIRST_TWO]  # by the first_two learner


@pytest.mark.parametrize("notebook", UNTOUCHED)
def test_untouched_release_scores_zero_and_still_grades(gradebook, notebook):
    gb, log, _ = gradebook
    assert set(scores(gb, "first_two", notebook).values()) == {0}
    assert gb["first_two"].find_submission_notebook(notebook, ASSIGNMENT, "first_two").needs_manual_grade is False
    assert not re.search(rf"{notebook}.*(Traceback|failed)", log)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_learner_who_did_the_first_two_notebooks_gets_exactly_their_points(gradebook, notebook):
    gb, *_ = gradebook
    expected = graded_cells(notebook) if notebook in FIRST_TWO else dict.fromkeys(graded_cells(notebook), 0)
    assert scores(gb, "first_two", notebook) == expected


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_edited_test_cells_are_restored_and_earn_nothing(gradebook, notebook):
    gb, _, roots = gradebook
    submitted = {student: stock_class.locked_test_cells(nbformat.read(
        roots[student] / "submitted" / student / ASSIGNMENT / f"{notebook}.ipynb", as_version=4))
        for student in ("complete", "first_two")}
    # the edits were submitted: an emptied test, and (first_two) one made to pass, where the notebook has two
    assert submitted["complete"][0].source == stock_class.EMPTIED
    assert [c.source for c in submitted["first_two"][:2]] == [stock_class.EMPTIED, stock_class.PASSING][
        :len(submitted["first_two"])]
    # that nbgrader put the tests back and ran them is what the score tests above show: complete
    # scores full marks on right answers, and the untouched notebooks, whose emptied or `pass` test
    # cells would have passed, score nothing


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_planted_bugs_lose_points_on_their_own_cells_only(gradebook, notebook):
    gb, *_ = gradebook
    expected = {g: (0 if g in PLANTED else points) for g, points in graded_cells(notebook).items()}
    assert scores(gb, "planted_bugs", notebook) == expected
