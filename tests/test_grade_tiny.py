"""Class grading on a tiny self-made nbgrader course: the machinery and the fast corpus cases.

One class -- honest submissions and every case of ``corpus/tiny_cases.py`` -- is graded once
with two Dask workers; each test then reads the real gradebook, CSV, ledger and files.
"""

import csv
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from corpus import tiny, tiny_cases
from nbgrader.api import Gradebook

from autograder.classgrading import sandbox
from autograder.grade import grade_class

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
COURSE_ID = "tiny-course"


@pytest.fixture(scope="module")
def listening_port():
    """A loopback port with a live listener: the sandbox must not reach it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, listening_port):
    root = tiny.build_course(tmp_path_factory.mktemp("tiny") / "course")
    cases = tiny_cases.cases(root, listening_port)
    for case in cases:
        tiny_cases.make(root, case)
    summary = grade_class(tiny.ASSIGNMENT, root, workers=2, progress=False, notebook_timeout=120,
                          interrupt_grace=2)
    with open(summary.csv) as table:
        rows = {row["student_id"]: row for row in csv.DictReader(table)}
    return root, {case.student: case for case in cases}, summary, rows


def _report(root, student):
    return (root / "feedback" / student / tiny.ASSIGNMENT / "grading_report.md").read_text()


def test_every_submission_is_graded_and_none_is_lost(graded):
    root, cases, summary, rows = graded
    assert summary.failed == {}
    assert sorted(summary.graded) == sorted(cases)
    assert set(rows) == set(cases)


@pytest.mark.parametrize("student", [c.student for c in tiny_cases.cases("/course", 1)])
def test_corpus_case_gets_exactly_its_points(graded, student):
    root, cases, summary, rows = graded
    case = cases[student]
    if student == "spy" and sandbox.resolve("auto")[0] != "bwrap":
        pytest.skip("needs bubblewrap: without a sandbox a submission can read the course root")
    scores = {exercise: float(rows[student][exercise]) for exercise in case.expected}
    assert scores == case.expected, f"{student} ({case.why})"
    report = _report(root, student)
    for words in case.says:
        assert words in report, f"{student}: the report should say {words!r}:\n{report}"


def test_gradebook_holds_the_same_scores_as_the_csv(graded):
    root, cases, summary, rows = graded
    with Gradebook(f"sqlite:///{root}/gradebook.db", COURSE_ID) as gradebook:
        for student in cases:
            submission = gradebook.find_submission(tiny.ASSIGNMENT, student)
            assert submission.score == pytest.approx(float(rows[student]["score"]))
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    assert grade.score == pytest.approx(float(rows[student][grade.name]))


def test_a_dead_kernel_is_named_in_the_notebook_and_the_feedback(graded):
    root, *_ = graded
    notebook = nbformat.read(root / "autograded" / "dies-late" / tiny.ASSIGNMENT / "a_square.ipynb", as_version=4)
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs
              if o.output_type == "error"]
    assert [e.ename for e in errors] == ["KernelDied", "NotRun"]
    assert "segmentation fault" in errors[0].evalue
    feedback = root / "feedback" / "dies-late" / tiny.ASSIGNMENT
    assert {p.name for p in feedback.iterdir()} >= {"a_square.html", "b_cube.html"}


def test_a_rerun_skips_what_is_graded_and_regrades_what_changed(graded):
    root, cases, first, rows = graded
    tiny.submit(root, "partial")  # the learner fixed b_cube and the engine, resubmitted
    summary = grade_class(tiny.ASSIGNMENT, root, workers=0, progress=False)
    assert summary.graded == ["partial"]
    assert sorted(summary.skipped) == sorted(set(cases) - {"partial"})
    with open(summary.csv) as table:
        new = {row["student_id"]: row for row in csv.DictReader(table)}
    assert float(new["partial"]["score"]) == sum(tiny_cases.FULL.values())
    assert {k: v for k, v in new.items() if k != "partial"} == {k: v for k, v in rows.items() if k != "partial"}
    ledger = json.loads((root / ".grading" / tiny.ASSIGNMENT / "partial.json").read_text())
    assert ledger["complete"] and ledger["notebooks"]["b_cube"]["score"] == 4.0


def test_cli_grades_an_lms_zip_without_a_sandbox(tmp_path):
    """``--zip`` goes through nbgrader's zip_collect; ``--sandbox none`` is the documented fallback."""
    root = tiny.build_course(tmp_path / "course")
    download = tmp_path / "download"
    for student, kwargs in {"zed": {}, "yan": {"notebooks": {"a_square": "solved", "b_cube": "release"}}}.items():
        folder = tiny.submit(root, student, **kwargs)
        shutil.copytree(folder, download / "lms-export" / student)
        shutil.rmtree(root / "submitted" / student)
    archive = shutil.make_archive(str(tmp_path / "lms"), "zip", download)
    done = subprocess.run([sys.executable, "-m", "autograder.grade", tiny.ASSIGNMENT, "--course-root", str(root),
                           "--zip", archive, "--serial", "--sandbox", "none", "--no-progress"],
                          capture_output=True, text=True, env=tiny.tool_env(), cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "graded 2 submission(s)" in done.stdout and "no sandbox" in done.stdout
    with open(root / f"grades-{tiny.ASSIGNMENT}.csv") as table:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(table)}
    assert scores == {"zed": sum(tiny_cases.FULL.values()), "yan": 2.0 + 1.0 + 1.0}
