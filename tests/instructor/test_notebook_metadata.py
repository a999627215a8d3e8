"""Malformed nbgrader metadata in a submitted notebook costs that notebook at most, says so, and never
leaves the submission ungraded."""

import copy
import csv

import nbformat
import pytest
from corpus import tiny, tiny_cases
from nbgrader.nbgraderformat import MetadataValidator

from autograder.instructor import judge
from autograder.instructor.grading import submission as unit

VALID = {"grade": False, "grade_id": "square_answer", "locked": False, "schema_version": 3, "solution": True,
         "task": False}
MALFORMED = {
    "null": None,
    "a list": [VALID],
    "a string": "square_answer",
    "a grade id that is a list": {**VALID, "grade_id": ["square_answer"]},
    "a grade id that is a dict": {**VALID, "grade_id": {"id": "square_answer"}},
    "a grade id that is a number": {**VALID, "grade_id": 7},
    "a grade id that is null": {**VALID, "grade_id": None},
    "points that are text": {**VALID, "grade": True, "solution": False, "points": "2"},
    "negative points": {**VALID, "grade": True, "solution": False, "points": -1},
    "solution that is text": {**VALID, "solution": "yes"},
    "grade that is a number": {**VALID, "grade": 1},
    "locked that is null": {**VALID, "locked": None},
    "a schema version that is text": {**VALID, "schema_version": "3"},
    "an old schema version": {**VALID, "schema_version": 1},
    "a missing flag": {k: v for k, v in VALID.items() if k != "grade"},
    "an unknown key": {**VALID, "mine": True},
}
INFO = {"cell_ids": ["square_answer"], "grade_ids": ["square"]}


def _notebook(meta):
    cell = nbformat.v4.new_code_cell("def square(x):\n    return x * x")
    cell.metadata["nbgrader"] = copy.deepcopy(meta)
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import math"), cell])


@pytest.mark.parametrize("shape", MALFORMED)
def test_tidy_turns_malformed_metadata_into_a_plain_cell_and_says_so(shape):
    notebook = _notebook(MALFORMED[shape])
    said = unit.tidy_grade_ids(notebook, INFO)
    assert "nbgrader" not in notebook.cells[1].metadata
    problem = unit.metadata_problem(_notebook(MALFORMED[shape]).cells[1])
    assert problem and said == [f"cell 2 had nbgrader metadata nbgrader cannot read ({problem}); it was graded "
                                "as a plain cell"]
    MetadataValidator().validate_nb(notebook)  # what nbgrader itself checks now passes
    assert judge.answer_cells(notebook) == [("#0", "import math"), ("#1", "def square(x):\n    return x * x")]


def test_tidy_keeps_valid_metadata():
    notebook = _notebook(VALID)
    assert unit.tidy_grade_ids(notebook, INFO) == []
    assert notebook.cells[1].metadata["nbgrader"] == VALID


def test_tidy_handles_cell_metadata_that_is_not_an_object():
    notebook = _notebook(VALID)
    notebook.cells[0]["metadata"] = ["odd"]
    said = unit.tidy_grade_ids(notebook, INFO)
    assert notebook.cells[0].metadata == {} and "metadata that is not an object" in said[0]
    assert notebook.cells[1].metadata["nbgrader"] == VALID


@pytest.mark.parametrize("shape", ["null", "a list", "a grade id that is a list"])
def test_judge_answer_cells_read_malformed_metadata_as_plain(shape):
    notebook = _notebook(MALFORMED[shape])
    assert judge.answer_cells(notebook) == [("#0", "import math"), ("#1", "def square(x):\n    return x * x")]


@pytest.mark.parametrize("text, words", [
    ('{"cells": [{"cell_type": "code", "metadata": [1], "source": ""}], "metadata": {}, "nbformat": 4,'
     ' "nbformat_minor": 5}', "cell 1's metadata is [1], not an object"),
    ('{"cells": [], "metadata": null, "nbformat": 4, "nbformat_minor": 5}', "its metadata is null"),
    ('{"cells": {"a": 1}, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "its cells are"),
    ('{"cells": [3], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "cell 1 is 3, not an object"),
])
def test_a_notebook_nbformat_cannot_read_is_named_with_a_clear_sentence(text, words):
    notebook, problem = unit._read_notebook(text.encode())
    assert notebook is None and words in problem


def test_a_renamed_notebook_with_a_list_grade_id_is_still_matched():
    notebook = _notebook(VALID)
    notebook.cells[0].metadata["nbgrader"] = {**VALID, "grade_id": ["x"]}
    files = {"mine.ipynb": nbformat.writes(notebook).encode()}
    chosen, problems, notes = unit.resolve_notebooks(files, {"a": INFO})
    assert chosen == {"a": "mine.ipynb"} and problems == {}


@pytest.mark.slow
@pytest.mark.needs_bwrap
def test_a_submission_with_malformed_metadata_is_graded(tmp_path):
    """One learner whose two notebooks each carry malformed metadata (a null on the answer cell, a
    list grade id on a test cell, a test cell's points as text): every notebook is graded, the honest
    work keeps its points, and the report names each cell."""
    from autograder.instructor.grade import grade_class
    root = tiny.build_course(tmp_path / "course")

    def edit(name, notebook):
        for cell in notebook.cells:
            meta = cell.metadata.get("nbgrader", {})
            if name == "a_square" and meta.get("grade_id") == "square_answer":
                cell.metadata["nbgrader"] = None
            if name == "b_cube" and meta.get("grade_id") == "cube":
                meta["grade_id"] = ["cube"]
            if name == "b_cube" and meta.get("grade_id") == "engine_half":
                meta["points"] = "1"
    tiny.submit(root, "odd-metadata", edit=edit)
    tiny.submit(root, "honest")
    summary = grade_class(tiny.ASSIGNMENT, root, workers=0, progress=False, notebook_timeout=120,
                          interrupt_grace=2)
    assert summary.failed == {} and sorted(summary.graded) == ["honest", "odd-metadata"]
    with open(summary.csv) as table:
        rows = {row["student_id"]: row for row in csv.DictReader(table)}
    assert float(rows["honest"]["score"]) == sum(tiny_cases.FULL.values())
    assert rows["odd-metadata"] == {**rows["honest"], "student_id": "odd-metadata"}
    report = (root / "feedback" / "odd-metadata" / tiny.ASSIGNMENT / "grading_report.md").read_text()
    for words in ("had nbgrader metadata nbgrader cannot read (it is null, not an object)",
                  "is not of type 'string'", "'1' is not of type 'number'"):
        assert words in report, report
