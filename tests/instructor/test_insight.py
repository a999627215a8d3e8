"""The instructor's class insight (``autograder.instructor.insight``): exact counts on classes with planted slips.

- Fast: a generated class of 13 learners (one of them handed in untouched work, and one more
  without a submission) on a 3-exercise assignment in a real nbgrader gradebook. Each failure is
  raised by the checks' own ``Trial`` and turned into a verdict by the judge's ``failed_verdict``,
  then into notes and plain data by ``submission.apply_judgement``; ``book.Writer`` merges each
  result and keeps the verdicts in the ledger; the insight must count every planted slip, pass,
  exercise not attempted and missing notebook exactly, and draw its charts.
- Slow: a small class of the real course graded by ``grade_class``: planted engine slips in
  ``Pow.backward`` and ``Sub.backward`` (one learner has both) come back as exact counts in
  ``insight-autodiff.html``.
"""

import base64
import csv
import json
import re
from collections import Counter

import nbgrader.api
import numpy as np
import pytest
from nbgrader.api import Gradebook

from autograder.checking import slips
from autograder.instructor import insight, judge
from autograder.instructor.grading import book
from autograder.instructor.grading.submission import apply_judgement
from autograder.learner import checks

ASSIGNMENT, COURSE_ID = "hw", "insight-course"
NB1, NB4 = "01_x_squared", "04_vector_input"
POW, ACC, SUM = "pow_backward", "accumulate_grad", "sum_to_shape"
LAYOUT = {NB1: [(POW, 2.0), (ACC, 1.0)], NB4: [(SUM, 2.0)]}
MISSING = "missing"  # the learner's notebook is not in the submission


class _Delegating:
    """A runner whose learner code called torch: what the judge's worker reports."""

    def run(self, driver, args):
        return {"offence": "torch.autograd.grad"}


def _failure(exercise, kind, seed=11):
    """A check's failure (``CheckFailed``) exactly as the judge's check raises it, for one planted slip ``kind``."""
    t = checks.Trial(exercise, True, seed, _Delegating())
    t.case("x of shape (2, 3)")
    e = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]])
    failures = {
        "sign": lambda: t.fail("your gradient for x", torch_value=e, mine=-e, slip=slips.explain(-e, e)),
        "factor n": lambda: t.fail("your gradient for x", torch_value=e, mine=e / 3, slip=slips.explain(
            e / 3, e, known=[(slips.FACTOR, f"the factor n is missing ({slips.words(slips.FACTOR)} 3): "
                              "d/dx x ** n = n * x ** (n - 1)", e / 3)])),
        "factor": lambda: t.fail("your gradient for x", torch_value=e, mine=2 * e, slip=slips.explain(2 * e, e)),
        "not written": lambda: t.report_raised({"not_written": True, "message": "NotImplementedError"},
                                               what="the function"),
        "delegated": lambda: t.run("driver", what="the function"),
        "raised": lambda: t.report_raised({"type": "ValueError", "message": "operands could not be broadcast"},
                                          what="AccumulateGrad.apply"),
        "not accumulated": lambda: t.fail("after 2 calls: leaf 0.grad", torch_value=2 * e, mine=e,
                                          slip=slips.explain(e, 2 * e, known=[(
                                              slips.NOT_ACCUMULATED, f"{slips.words(slips.NOT_ACCUMULATED)}: "
                                              "leaf.grad holds only the latest gradient; add to it", e)])),
        "not reduced": lambda: t.fail("the reduced gradient", torch_value=e.sum(0), mine=e, slip=slips.Slip(
            slips.NOT_REDUCED, f"{slips.words(slips.NOT_REDUCED)}: your result still has the broadcast shape "
            "(2, 3), but the input had (3,)")),
        "wrong shape": lambda: t.fail(f"x's shape (3,) ({slips.words(slips.WRONG_SHAPE)}): a gradient has its "
                                      "input's shape", slip=slips.Slip(slips.WRONG_SHAPE)),
        "other": lambda: t.fail("the reduced gradient", torch_value=e, mine=e + [[0.1, 0, 0], [0, 0, 7]]),
    }
    with pytest.raises(checks.CheckFailed) as failed:
        failures[kind]()
    return failed.value


def _stub_folder(tmp_path):
    """A submitted engine folder that still holds the released stubs of the units the plan leaves unwritten."""
    folder = tmp_path / "submitted"
    (folder / "tinygrad_course").mkdir(parents=True)
    (folder / "tinygrad_course" / "engine.py").write_text(
        "".join(f"raise NotImplementedError(todo({unit!r}))\n" for unit in (POW, ACC, SUM)))
    return folder


# The class: what each learner did on each exercise ("pass", a slip kind, or the notebook missing).
# s13 handed in the notebooks untouched; s14 is in the gradebook without a submission.
STUDENTS = [f"s{i:02d}" for i in range(1, 14)]
PLAN = {
    POW: ["pass"] * 6 + ["sign"] * 3 + ["factor n", "not written", MISSING, "not written"],
    ACC: ["pass"] * 4 + ["not accumulated"] * 4 + ["delegated", "raised", "sign", MISSING, "not written"],
    SUM: ["sign"] * 2 + ["not reduced"] * 5 + ["wrong shape", "other", MISSING, MISSING, "factor", "not written"],
}
ABSENT = "s14"  # in the gradebook, no submission


def _notebook_of(exercise):
    return next(nb for nb, cells in LAYOUT.items() if exercise in dict(cells))


def _result(db_url, student, stubs):
    """What ``grade_submission`` returns for one learner of the plan (verdicts by the judge's
    ``failed_verdict``, notes by apply_judgement)."""
    plan = {exercise: PLAN[exercise][STUDENTS.index(student)] for exercise in PLAN}
    outcomes, judged = {}, {}
    for notebook, cells in LAYOUT.items():
        if any(plan[exercise] == MISSING for exercise, _ in cells):
            outcomes[notebook] = {"status": "failed", "message": f"{notebook}.ipynb is missing from the submission",
                                  "grades": {}, "comments": {}, "notes": []}
            continue
        outcomes[notebook] = {"status": "graded", "message": None, "grades": {}, "comments": {}, "notes": []}
        for exercise, _ in cells:
            if plan[exercise] == "pass":
                judged[exercise] = judge.Verdict(exercise, True, f"{exercise}: agrees", seed=11)
            else:
                judged[exercise] = judge.failed_verdict(exercise, _failure(exercise, plan[exercise]), 11,
                                                        engine_folder=stubs, notebooks={})
    with book.quiet_gradebook(), Gradebook(db_url, COURSE_ID) as gradebook:
        gradebook.update_or_create_student(student)
        gradebook.add_submission(ASSIGNMENT, student)
    apply_judgement(db_url, ASSIGNMENT, student, COURSE_ID, judged, outcomes)
    scores = book.read_scores(db_url, ASSIGNMENT, student, COURSE_ID)
    for notebook, outcome in outcomes.items():
        if outcome["status"] == "graded":
            outcome.update(scores[notebook])
        outcome["max_score"] = sum(points for _, points in LAYOUT[notebook])
        outcome["score"] = sum((g["auto_score"] or 0.0) for g in outcome["grades"].values())
    return {"student": student, "digest": f"digest-{student}", "timestamp": None, "complete": True,
            "error": None, "notes": [], "incidents": [], "sandbox": "none", "seconds": 0.1, "timings": {},
            "notebooks": outcomes, "files": {"autograded": {}, "feedback": None}}


def _alembic_head():
    """What nbgrader's ``get_alembic_version`` finds, without starting the ``alembic`` command (seconds)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    with nbgrader.api._temp_alembic_ini("sqlite:///unused.db") as ini:
        return ScriptDirectory.from_config(Config(ini)).get_current_head()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The planted class, merged by the writer; the insight page written next to the CSV."""
    root = tmp_path_factory.mktemp("insight") / "course"
    root.mkdir()
    db_url = f"sqlite:///{root}/gradebook.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nbgrader.api, "get_alembic_version", _alembic_head)
        with Gradebook(db_url, COURSE_ID) as gradebook:
            gradebook.update_or_create_assignment(ASSIGNMENT)
            for notebook, cells in LAYOUT.items():
                gradebook.update_or_create_notebook(notebook, ASSIGNMENT)
                for exercise, points in cells:
                    gradebook.update_or_create_grade_cell(exercise, notebook, ASSIGNMENT, max_score=points,
                                                          cell_type="code")
            gradebook.update_or_create_student(ABSENT)
    writer = book.Writer(root, db_url, ASSIGNMENT, COURSE_ID)
    stubs = _stub_folder(root)
    try:
        for student in STUDENTS:
            writer.merge(_result(db_url, student, stubs))
    finally:
        writer.close()
    ledger = root / book.LEDGER / ASSIGNMENT
    csv_path = book.export_csv(db_url, ASSIGNMENT, COURSE_ID, root / f"grades-{ASSIGNMENT}.csv", ledger_dir=ledger)
    data = insight.from_gradebook(db_url, ASSIGNMENT, COURSE_ID, ledger)
    page = insight.write_insight(db_url, ASSIGNMENT, COURSE_ID, csv_path, ledger_dir=ledger)
    return root, ledger, csv_path, insight.summarize(data), page


def test_the_writer_keeps_each_verdict_and_its_slip_in_the_ledger(generated):
    root, ledger, *_ = generated
    s07 = json.loads((ledger / "s07.json").read_text())["exercises"]
    assert s07[POW]["passed"] is False and s07[POW]["slip"] == slips.SIGN and s07[POW]["score"] == 0.0
    assert s07[POW]["message_first_line"] == f"{POW} (hidden check): your gradient for x disagrees with torch.autograd"
    assert s07[POW]["case"] == [1, "x of shape (2, 3)"]
    assert s07[ACC]["slip"] == slips.NOT_ACCUMULATED and s07[SUM]["slip"] == slips.NOT_REDUCED
    s10 = json.loads((ledger / "s10.json").read_text())["exercises"]
    assert s10[POW]["slip"] == slips.FACTOR and s10[ACC]["slip"] == slips.RAISED
    assert s10[SUM] == {"notebook": NB4, "score": 0.0, "max_score": 2.0, "passed": False, "slip": None,
                        "case": None, "message_first_line": None,
                        "not_graded": f"{NB4}.ipynb is missing from the submission"}
    s01 = json.loads((ledger / "s01.json").read_text())["exercises"]
    assert s01[POW] == {"notebook": NB1, "score": 2.0, "max_score": 2.0, "passed": True, "slip": None,
                        "case": None, "message_first_line": None, "not_graded": None}
    s09 = json.loads((ledger / "s09.json").read_text())["exercises"]
    assert s09[SUM]["slip"] is None and s09[SUM]["passed"] is False  # no usual slip recognised
    s13 = json.loads((ledger / "s13.json").read_text())["exercises"]
    assert {exercise: v["slip"] for exercise, v in s13.items()} == dict.fromkeys(PLAN, slips.NOT_WRITTEN)


def test_pass_rates_and_scores_per_exercise_are_exact(generated):
    *_, result, _ = generated
    got = {s.exercise.name: (s.learners, s.passed, s.failed, s.not_attempted, s.not_graded)
           for s in result.exercises}
    assert got == {POW: (13, 6, 4, 2, 1), ACC: (13, 4, 7, 1, 1), SUM: (13, 0, 10, 1, 2)}
    assert [s.pass_rate for s in result.exercises] == [6 / 13, 4 / 13, 0.0]
    assert [s.attempt_pass_rate for s in result.exercises] == [0.6, 4 / 11, 0.0]
    assert result.exercise(POW).scores == Counter({2.0: 6, 0.0: 7})
    assert result.exercise(SUM).not_graded_reasons == Counter({insight.NOT_SUBMITTED: 2})
    assert result.nobody_passed == [SUM]
    assert Counter(result.totals) == Counter({3.0: 4, 2.0: 2, 0.0: 7})
    assert result.max_total == 5.0 and result.absent == [ABSENT]
    assert result.untouched == ["s13"]  # not a failure of every exercise: no slip counts it


def test_slips_per_exercise_are_exact(generated):
    *_, result, _ = generated
    assert result.exercise(POW).slips == Counter({slips.SIGN: 3, slips.FACTOR: 1})
    assert result.exercise(ACC).slips == Counter({slips.NOT_ACCUMULATED: 4, slips.DELEGATED: 1,
                                                  slips.RAISED: 1, slips.SIGN: 1})
    assert result.exercise(SUM).slips == Counter({slips.NOT_REDUCED: 5, slips.SIGN: 2, slips.WRONG_SHAPE: 1,
                                                  insight.OTHER: 1, slips.FACTOR: 1})


def test_slips_across_the_class_are_exact(generated):
    *_, result, _ = generated
    got = {s.slip: (s.failures, sorted(s.learners), dict(s.exercises)) for s in result.slips}
    assert got == {
        slips.SIGN: (6, ["s01", "s02", "s07", "s08", "s09", "s11"], {POW: 3, ACC: 1, SUM: 2}),
        slips.NOT_REDUCED: (5, ["s03", "s04", "s05", "s06", "s07"], {SUM: 5}),
        slips.NOT_ACCUMULATED: (4, ["s05", "s06", "s07", "s08"], {ACC: 4}),
        slips.FACTOR: (2, ["s10", "s12"], {POW: 1, SUM: 1}),
        slips.DELEGATED: (1, ["s09"], {ACC: 1}),
        slips.RAISED: (1, ["s10"], {ACC: 1}),
        slips.WRONG_SHAPE: (1, ["s08"], {SUM: 1}),
        insight.OTHER: (1, ["s09"], {SUM: 1}),
    }
    assert result.slip(slips.NOT_WRITTEN) is None  # not attempted is not a slip
    assert [s.slip for s in result.slips[:4]] == [slips.SIGN, slips.NOT_REDUCED, slips.NOT_ACCUMULATED,
                                                  slips.FACTOR]


def test_the_page_sits_next_to_the_csv_with_charts_and_numbers(generated):
    root, ledger, csv_path, result, page = generated
    assert page == csv_path.parent / f"insight-{ASSIGNMENT}.html"
    text = page.read_text()
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', text)
    assert [alt for alt, _ in images] == ["histogram of total scores", "pass rate per exercise", "most common slips"]
    for _, data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    row = re.search(rf'<tr id="exercise-{POW}">(.*?)</tr>', text, re.S)[1]
    cells = re.findall(r'<td class="n">([^<]*)</td>', row)
    assert cells[:6] == ["2", "6 / 13", "46%", "60%", "4", "2"], cells  # points, passed, rates, failed, untried
    assert f"{slips.words(slips.SIGN)} &times;3" in row and slips.words(slips.NOT_WRITTEN) not in row
    row = re.search(rf'<tr id="exercise-{SUM}">(.*?)</tr>', text, re.S)[1]
    assert 'class="none"' in row and "0 / 13" in row and f"{insight.NOT_SUBMITTED} &times;2" in row
    nobody = re.search(r'<ul id="nobody-passed">(.*?)</ul>', text, re.S)[1]
    assert SUM in nobody and POW not in nobody and ACC not in nobody
    sign = re.search(rf'<tr id="slip-{slips.SIGN}">(.*?)</tr>', text, re.S)[1]
    assert re.match(rf'<td>{slips.words(slips.SIGN)}</td><td class="n">6</td><td class="n">6</td>', sign)
    assert f'id="slip-{slips.NOT_WRITTEN}"' not in text
    assert "13 learners with a submission, 1 learner in the gradebook without one" in text
    assert "1 learner attempted no exercise" in text and "s13" in re.search(
        r'<div id="did-not-attempt">(.*?)</div>', text, re.S)[1]
    with open(csv_path) as table:
        rows = {row["student_id"]: row for row in csv.DictReader(table)}
    assert sum(float(rows[s][POW]) == 2.0 for s in STUDENTS) == 6  # the CSV and the page agree


def test_an_empty_class_shows_no_rate_for_0_of_0(tmp_path):
    exercises = [insight.Exercise(POW, NB1, 2.0), insight.Exercise(SUM, NB4, 2.0)]
    empty = insight.summarize(insight.ClassData(ASSIGNMENT, exercises, [], 4.0, absent=["s01"]))
    assert [(s.pass_rate, s.attempt_pass_rate) for s in empty.exercises] == [(None, None)] * 2
    text = insight.write_html(empty, tmp_path / "insight.html", names=[]).read_text()
    assert "%" not in re.sub(r"<style>.*?</style>", "", text, flags=re.S)  # no "0%" for 0 of 0
    row = re.search(rf'<tr id="exercise-{POW}">(.*?)</tr>', text, re.S)[1]
    assert re.findall(r'<td class="n">([^<]*)</td>', row)[:4] == ["2", "0 / 0", "\u2014", "\u2014"]
    assert "No submissions" in text and "<img" not in text


# ---------------------------------------------------------------- a real class, graded by grade_class

@pytest.mark.slow
@pytest.mark.needs_bwrap
def test_grade_class_writes_the_insight_with_exact_counts(fresh_course):
    from corpus import course, course_cases
    from planted_bugs import plant

    from autograder.instructor.grade import grade_class

    root = fresh_course

    def engine(planted):
        text = course.REFERENCE_ENGINE
        for unit, body in planted:
            text = plant(text, unit, body)
        return course.MARKER.sub("", text)

    no_factor = ("pow_backward", "x, = ctx.saved_tensors\nn = ctx.exponent\nreturn grad * x ** (n - 1)")
    sign = ("sub_backward", "return grad, grad")
    # 3 learners leave out Pow.backward's factor n, 2 flip Sub.backward's sign for b; "both" does both
    learners = {"pow-1": [no_factor], "pow-2": [no_factor], "both": [no_factor, sign], "sub-1": [sign]}
    for student, planted in learners.items():
        course.submit(root, student, answers=course.all_answers(), files={"tinygrad_course/engine.py": engine(planted)},
                      drop=course_cases._only(course_cases.NB1, course_cases.NB3))
    summary = grade_class(course.ASSIGNMENT, root, workers=2, progress=False, feedback=False)
    assert summary.failed == {}
    page = root / f"insight-{course.ASSIGNMENT}.html"
    assert summary.insight == str(page) and str(page) in summary.text()

    ledger = root / book.LEDGER / course.ASSIGNMENT
    result = insight.summarize(insight.from_gradebook(f"sqlite:///{root}/gradebook.db", course.ASSIGNMENT,
                                                      course.COURSE_ID, ledger))
    by_name = {s.exercise.name: s for s in result.exercises}
    assert (by_name["pow_backward"].passed, by_name["pow_backward"].failed) == (1, 3)
    assert by_name["pow_backward"].slips == Counter({slips.FACTOR: 3})
    assert (by_name["sub_backward"].passed, by_name["sub_backward"].failed) == (2, 2)
    assert by_name["sub_backward"].slips == Counter({slips.SIGN: 2})
    graded = {name for nb, name in _cells(root) if nb in (course_cases.NB1, course_cases.NB3)}
    for name, s in by_name.items():
        if name in graded - {"pow_backward", "sub_backward"}:
            assert (s.passed, s.failed, s.not_graded) == (4, 0, 0), name
        elif name not in graded:
            assert (s.passed, s.not_graded, s.not_graded_reasons) == (0, 4, Counter({insight.NOT_SUBMITTED: 4}))
    assert {s.slip: (s.failures, sorted(s.learners)) for s in result.slips} == {
        slips.FACTOR: (3, ["both", "pow-1", "pow-2"]), slips.SIGN: (2, ["both", "sub-1"])}
    assert set(result.nobody_passed) == {name for _, name in _cells(root)} - graded
    points = course.points(root)
    full = sum(points[name] for name in graded)
    lost = points["pow_backward"], points["sub_backward"]
    assert Counter(result.totals) == Counter([full - lost[0]] * 2 + [full - lost[1], full - sum(lost)])
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 3
    assert re.search(r'<tr id="exercise-pow_backward">.*?1 / 4.*?25%', text, re.S)


def _cells(root):
    with Gradebook(f"sqlite:///{root}/gradebook.db", "tinygrad-course") as gradebook:
        return [(nb.name, cell.name) for nb in gradebook.find_assignment("autodiff").notebooks
                for cell in nb.grade_cells]
