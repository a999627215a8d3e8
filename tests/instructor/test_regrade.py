"""A grade is a function of the submission's bytes: grading the same class twice gives the same gradebook.

The class has a learner whose ``sum_to_shape`` fails only on the hidden check's empty-axis family,
so the hidden cases must be the same on both runs (their seed comes from the course secret and
the submission's files), and the notebooks' own (advisory) hidden checks must repeat too, or the
reports would differ.
"""

import csv
import difflib

import pytest
from corpus import course
from nbgrader.api import Gradebook

from autograder.instructor.grade import grade_class

pytestmark = [pytest.mark.slow, pytest.mark.needs_bwrap]
ONLY_04 = sorted(path.stem for path in course.SOLUTIONS.glob("*.ipynb") if path.stem != "04_vector_input")


def _engine_replacing(unit, old, new):
    source = course.engine_with(course.all_units())
    assert source.count(old) == 1, (unit, old)
    return source.replace(old, new)


CLASS = {
    "ada": dict(engine_units=course.all_units(), drop=ONLY_04),
    "empty-axis-slip": dict(drop=ONLY_04, files={"tinygrad_course/engine.py": _engine_replacing(
        "sum_to_shape", "if n == 1 and grad.shape[i] != 1", "if n == 1 and grad.shape[i] > 1")}),
}


def _grades(root):
    with Gradebook(f"sqlite:///{root}/gradebook.db", course.COURSE_ID) as gradebook:
        return {(student, notebook.name, grade.name): grade.score
                for student in CLASS
                for notebook in gradebook.find_submission(course.ASSIGNMENT, student).notebooks
                for grade in notebook.grades}


def test_grading_the_same_class_twice_gives_identical_gradebooks(fresh_course):
    root = fresh_course
    for student, submission in CLASS.items():
        course.submit(root, student, **submission)
    first = grade_class(course.ASSIGNMENT, root, workers=0, progress=False, feedback=False)
    grades, table = _grades(root), (root / "grades-autodiff.csv").read_text()
    reports = {s: (root / "autograded" / s / course.ASSIGNMENT / "grading_report.md").read_text() for s in CLASS}
    second = grade_class(course.ASSIGNMENT, root, workers=0, progress=False, feedback=False, regrade=True)
    assert first.failed == second.failed == {}
    assert sorted(second.graded) == sorted(CLASS)
    assert _grades(root) == grades
    assert (root / "grades-autodiff.csv").read_text() == table
    for student, report in reports.items():
        again = (root / "autograded" / student / course.ASSIGNMENT / "grading_report.md").read_text()
        assert again == report, "".join(difflib.unified_diff(report.splitlines(True), again.splitlines(True)))
    rows = {row["student_id"]: row for row in csv.DictReader(table.splitlines())}
    assert float(rows["ada"]["sum_to_shape"]) > 0 and float(rows["ada"]["mean_backward"]) > 0
    assert float(rows["empty-axis-slip"]["sum_to_shape"]) == 0 < float(rows["empty-axis-slip"]["mean_backward"])
    assert "(hidden check)" in reports["empty-axis-slip"]
