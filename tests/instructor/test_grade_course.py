"""Class grading on the real course against stock nbgrader: a small honest class
(``stock_class.PARITY``) is graded by stock ``nbgrader autograde`` (in the session's stock runs) and
by ours, on the session's Dask LocalCluster with the gradebook in a real PostgreSQL server this
module starts: both gradebooks must hold the same grades and comments. (Ours into a sqlite
gradebook: the hostile class in ``test_grade_corpus`` and the tiny course in ``test_grade_tiny``.)
"""

import csv
from pathlib import Path

import pytest
import stock_class
from corpus import course
from nbgrader.api import Gradebook
from postgres_server import running_postgres

from autograder.instructor.grade import database_url, grade_class

# Runs on the worker that runs test_pipeline (SHARED_FIXTURE_GROUPS in tests/conftest.py).
pytestmark = [pytest.mark.slow, pytest.mark.needs_bwrap]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def released(released_course):
    """The session's build of the real assignment, copied per use."""
    return released_course


def _fresh_course(released, folder):
    return course.copy_of(released, folder)


# ---------------------------------------------------------------- parity with stock nbgrader

HONEST = stock_class.PARITY  # graded by stock nbgrader in the session's stock runs


def _honest_class(released, folder):
    return stock_class.submit_parity_class(_fresh_course(released, folder))


def _saved(db_url):
    """Everything autograding writes, per learner, notebook and cell."""
    with Gradebook(db_url, course.COURSE_ID) as gradebook:
        found = {}
        for student in HONEST:
            for notebook in gradebook.find_submission(course.ASSIGNMENT, student).notebooks:
                for grade in notebook.grades:
                    found[student, notebook.name, grade.name] = (grade.auto_score, grade.needs_manual_grade)
                for comment in notebook.comments:
                    found[student, notebook.name, comment.name, "comment"] = comment.auto_comment
        return found


@pytest.fixture(scope="module")
def stock_grades(stock_graded):
    roots, _ = stock_graded
    grades = _saved(f"sqlite:///{roots[next(iter(HONEST))]}/gradebook.db")  # the parity class's own course
    earned = {key: value for key, value in grades.items() if len(key) == 3 and value[0]}
    assert earned and len(earned) < sum(len(key) == 3 for key in grades)  # some points, not all
    return grades


# ---------------------------------------------------------------- Dask + PostgreSQL


@pytest.fixture(scope="module")
def postgres_url():
    with running_postgres() as url:
        yield url


def test_dask_and_postgresql_grades_equal_stock_nbgrader(released, tmp_path, stock_grades, cluster,
                                                         postgres_url):
    root = _honest_class(released, tmp_path / "course")
    summary = grade_class(course.ASSIGNMENT, root, dask=cluster, db_url=postgres_url, progress=False,
                          feedback=False)
    assert summary.failed == {}
    assert _saved(database_url(postgres_url)) == stock_grades
    with open(summary.csv) as table:  # the CSV is read back from PostgreSQL
        assert {row["student_id"] for row in csv.DictReader(table)} == set(HONEST)
