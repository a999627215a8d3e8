"""Slip ids travel as data: the check names the slip (``slips.Slip``), ``CheckFailed`` carries its id,
the judge's ``Verdict`` keeps it, ``apply_judgement`` and ``book.Writer`` put it in the ledger, and the
insight page counts it -- with no step reading a message's words back.

- every id of ``slips.LABELS`` makes that whole trip (a failure raised by the checks' own ``Trial``);
- a real judge run (bubblewrap) names a planted sign slip, an untouched stub and a raised error by id,
  and a ``NotImplementedError`` whose source has no stub left is not taken for "not written yet";
- nothing under ``autograder/instructor`` looks for "Likely slip" or matches slip words with a regex.
"""

import ast
import json
import re
import shutil
from pathlib import Path

import markupsafe
import nbgrader.api
import numpy as np
import pytest
from nbgrader.api import Gradebook

import autograder
from autograder.checking import slips
from autograder.instructor import insight, judge
from autograder.instructor.grading import book
from autograder.instructor.grading.submission import apply_judgement
from autograder.learner import checks
from autograder.learner.engines import SOLUTIONS

ASSIGNMENT, COURSE_ID, NOTEBOOK = "hw", "slip-ids", "01_x_squared"
POW = "pow_backward"
INSTRUCTOR = Path(autograder.__file__).parent / "instructor"


class _NoWorker:
    def run(self, driver, args):
        raise AssertionError("these failures are raised by the check itself")


def _failure(slip_id, words):
    """A hidden check's failure naming ``slip_id``, raised by the checks' own Trial."""
    trial = checks.Trial(POW, True, 7, _NoWorker())
    trial.case("x = [1, 2]")
    expected = np.array([1.0, 2.0])
    slip = None if slip_id is None else slips.Slip(slip_id, words)
    with pytest.raises(checks.CheckFailed) as failed:
        trial.fail("your gradient for x", torch_value=expected, mine=-expected, slip=slip)
    return failed.value


def _alembic_head():
    """What nbgrader's ``get_alembic_version`` finds, without starting the ``alembic`` command."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    with nbgrader.api._temp_alembic_ini("sqlite:///unused.db") as ini:
        return ScriptDirectory.from_config(Config(ini)).get_current_head()


def _course(root, exercises):
    """A gradebook with one notebook holding ``exercises`` (1 point each)."""
    root.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{root}/gradebook.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nbgrader.api, "get_alembic_version", _alembic_head)
        with Gradebook(db_url, COURSE_ID) as gradebook:
            gradebook.update_or_create_assignment(ASSIGNMENT)
            gradebook.update_or_create_notebook(NOTEBOOK, ASSIGNMENT)
            for exercise in exercises:
                gradebook.update_or_create_grade_cell(exercise, NOTEBOOK, ASSIGNMENT, max_score=1.0,
                                                      cell_type="code")
    return db_url


def _merge(root, db_url, student, judged):
    """One submission's judged verdicts, through apply_judgement and the writer, as ``grade_submission`` would."""
    with book.quiet_gradebook(), Gradebook(db_url, COURSE_ID) as gradebook:
        gradebook.update_or_create_student(student)
        gradebook.add_submission(ASSIGNMENT, student)
    outcomes = {NOTEBOOK: {"status": "graded", "message": None, "grades": {}, "comments": {}, "notes": []}}
    apply_judgement(db_url, ASSIGNMENT, student, COURSE_ID, judged, outcomes)
    outcomes[NOTEBOOK].update(book.read_scores(db_url, ASSIGNMENT, student, COURSE_ID)[NOTEBOOK])
    outcomes[NOTEBOOK]["max_score"] = float(len(judged))
    outcomes[NOTEBOOK]["score"] = sum(g["auto_score"] or 0.0 for g in outcomes[NOTEBOOK]["grades"].values())
    writer = book.Writer(root, db_url, ASSIGNMENT, COURSE_ID)
    try:
        writer.merge({"student": student, "digest": f"digest-{student}", "timestamp": None, "complete": True,
                      "error": None, "notes": [], "incidents": [], "sandbox": "none", "seconds": 0.1,
                      "timings": {}, "notebooks": outcomes, "files": {"autograded": {}, "feedback": None}})
    finally:
        writer.close()


def _ledger(root, student):
    return json.loads((root / book.LEDGER / ASSIGNMENT / f"{student}.json").read_text())["exercises"]


def _insight(root, db_url):
    ledger = root / book.LEDGER / ASSIGNMENT
    result = insight.summarize(insight.from_gradebook(db_url, ASSIGNMENT, COURSE_ID, ledger))
    page = insight.write_html(result, root / "insight.html", names=[]).read_text()
    return result, page


def test_every_slip_id_round_trips_from_the_judge_to_the_ledger_and_the_insight(tmp_path):
    root = tmp_path / "course"
    db_url = _course(root, [POW])
    stub = tmp_path / "stub"  # the released stub: "not written yet" stands only where the source still has it
    (stub / "tinygrad_course").mkdir(parents=True)
    (stub / "tinygrad_course" / "engine.py").write_text(f"raise NotImplementedError(todo({POW!r}))\n")
    ids = [*slips.LABELS, None]  # None: a failure with no usual slip recognised
    for number, slip_id in enumerate(ids):
        failure = _failure(slip_id, f"words for {slip_id}" if number % 2 else None)
        assert (failure.exercise, failure.case, failure.slip) == (POW, (1, "x = [1, 2]"), slip_id)
        verdict = judge.failed_verdict(POW, failure, 7, engine_folder=stub, notebooks={})
        assert (verdict.passed, verdict.slip, verdict.case, verdict.message) == (False, slip_id, failure.case,
                                                                                 str(failure))
        _merge(root, db_url, f"learner-{number:02d}", {POW: verdict})
    result, page = _insight(root, db_url)
    exercise = result.exercise(POW)
    for number, slip_id in enumerate(ids):
        student = f"learner-{number:02d}"
        kept = _ledger(root, student)[POW]
        assert (kept["passed"], kept["slip"], kept["case"]) == (False, slip_id, [1, "x = [1, 2]"]), slip_id
        if slip_id == slips.NOT_WRITTEN:  # not attempted: never counted as a slip
            assert result.slip(slip_id) is None and student in result.untouched
            assert f'id="slip-{slip_id}"' not in page
            continue
        shown = slip_id or insight.OTHER
        found = result.slip(shown)
        assert found is not None and found.learners == {student} and dict(found.exercises) == {POW: 1}, slip_id
        row = re.search(rf'<tr id="slip-{shown}"><td>(.*?)</td>', page)
        assert row and row[1] == str(markupsafe.escape(insight.label(shown))), slip_id
    assert (exercise.failed, exercise.not_attempted, exercise.passed) == (len(ids) - 1, 1, 0)
    assert sum(exercise.slips.values()) == len(ids) - 1


def test_a_slip_is_an_id_of_the_table_and_a_failure_takes_no_bare_words():
    with pytest.raises(ValueError):
        slips.Slip("sign flipped")  # words, not an id
    trial = checks.Trial(POW, False, 1, _NoWorker())
    with pytest.raises(TypeError):
        trial.fail("your gradient", slip="sign flipped: minus torch's")
    with pytest.raises(TypeError):
        slips.explain(np.ones(2), -np.ones(2), known=[("words without an id", np.ones(2))])
    assert slips.explain(-np.ones(2), np.ones(2)).id == slips.SIGN
    assert slips.explain(np.array([3.0, 6.0]), np.array([1.0, 2.0])).id == slips.FACTOR
    assert slips.explain_pair([np.ones(2), np.zeros(2)], [np.zeros(2), np.ones(2)]).id == slips.SWAPPED


def test_not_written_yet_stands_only_where_the_source_still_holds_the_stub(tmp_path):
    """The worker (learner code's process) reports a NotImplementedError; the judge reads the files."""
    written = tmp_path / "written"
    (written / "tinygrad_course").mkdir(parents=True)
    (written / "tinygrad_course" / "engine.py").write_text("raise NotImplementedError('todo')\n")
    failure = _failure(slips.NOT_WRITTEN, None)
    assert judge.failed_verdict(POW, failure, 1, engine_folder=written, notebooks={}).slip == slips.RAISED
    answer = "manual_dy_dx"
    notebook = checks.NOTEBOOK_EXERCISES[answer][0].removesuffix(".ipynb")

    def cells(source):
        return {notebook: {"cells": [{"cell_type": "code", "source": source,
                                      "metadata": {"nbgrader": {"grade_id": f"{answer}_answer", "solution": True}}}]}}
    untouched = cells("def dy_dx(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n")
    assert judge.still_a_stub(answer, written, untouched)
    assert not judge.still_a_stub(answer, written, cells("def dy_dx(x):\n    return 2 * x\n"))
    assert not judge.still_a_stub(answer, written, {})


@pytest.mark.needs_bwrap
def test_the_judge_names_slips_by_id_and_they_reach_the_insight(tmp_path):
    """A real judge run: Sub.backward with b's sign flipped, Pow.backward as released, Mul.backward
    raising, Neg.backward raising NotImplementedError although it is no stub, Sin.backward right."""
    from planted_bugs import plant
    folder = tmp_path / "submission"
    shutil.copytree(SOLUTIONS / "tinygrad_course", folder / "tinygrad_course",
                    ignore=shutil.ignore_patterns("__pycache__"))
    engine = folder / "tinygrad_course" / "engine.py"
    source = engine.read_text()
    for unit, body in (("sub_backward", "return grad, grad"),
                       (POW, f"raise NotImplementedError(todo({POW!r}))"),
                       ("mul_backward", "raise ValueError('on purpose')"),
                       ("neg_backward", "raise NotImplementedError('later')")):
        source = plant(source, unit, body)
    engine.write_text(source)
    exercises = ["sub_backward", POW, "mul_backward", "neg_backward", "sin_backward"]
    found = judge.judge(exercises, folder, {}, secret="course", digest="submission", sandbox="bwrap")
    assert {e: v.slip for e, v in found.items()} == {
        "sub_backward": slips.SIGN, POW: slips.NOT_WRITTEN, "mul_backward": slips.RAISED,
        "neg_backward": slips.RAISED, "sin_backward": None}
    assert [e for e, v in found.items() if v.passed] == ["sin_backward"]
    assert all(v.case is not None for e, v in found.items() if e in ("sub_backward", "mul_backward"))
    root = tmp_path / "course"
    db_url = _course(root, exercises)
    _merge(root, db_url, "planted", found)
    assert {e: v["slip"] for e, v in _ledger(root, "planted").items()} == {e: v.slip for e, v in found.items()}
    result, page = _insight(root, db_url)
    assert {s.slip: dict(s.exercises) for s in result.slips} == {
        slips.SIGN: {"sub_backward": 1}, slips.RAISED: {"mul_backward": 1, "neg_backward": 1}}
    assert result.exercise(POW).not_attempted == 1 and result.untouched == []


def _python_files():
    return sorted(INSTRUCTOR.rglob("*.py"))


def test_nothing_under_instructor_reads_slips_back_from_prose():
    templates = sorted((INSTRUCTOR / "templates").glob("*"))
    assert _python_files() and templates
    for path in _python_files() + templates:
        assert "Likely slip" not in path.read_text(), f"{path} looks for the 'Likely slip' line"
    words = [w.lower() for w in slips.LABELS.values()] + ["raised", "likely slip"]
    functions = {"compile", "search", "match", "fullmatch", "findall", "finditer", "sub", "split"}
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in functions
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                pattern = node.args[0].value.lower()
                assert not any(w in pattern for w in words), f"{path}:{node.lineno} matches slip words: {pattern!r}"
