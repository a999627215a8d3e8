"""Class grading on a tiny self-made nbgrader course: the machinery and the fast corpus cases.

One class -- honest submissions and every case of ``corpus/tiny_cases.py`` -- is graded once
with two Dask workers, in bubblewrap (``needs_bwrap``); each test then reads the real gradebook,
CSV, ledger and files. The command line is also run without bubblewrap: it refuses, and with
``--unsandboxed-learner-code`` it grades honest submissions and says so loudly.
"""

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from corpus import tiny, tiny_cases
from nbgrader.api import Gradebook

from autograder.instructor import grade, sandbox
from autograder.instructor.grade import grade_class

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
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
def graded(tmp_path_factory, listening_port, needs_bwrap):
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


def _lms_zip(tmp_path):
    """A course with an LMS download of two honest learners' work (no hostile code: it may run unconfined)."""
    root = tiny.build_course(tmp_path / "course")
    download = tmp_path / "download"
    for student, kwargs in {"zed": {}, "yan": {"notebooks": {"a_square": "solved", "b_cube": "release"}}}.items():
        folder = tiny.submit(root, student, **kwargs)
        shutil.copytree(folder, download / "lms-export" / student)
        shutil.rmtree(root / "submitted" / student)
    return root, shutil.make_archive(str(tmp_path / "lms"), "zip", download)


def test_cli_grades_an_lms_zip_unconfined_only_when_asked_and_says_so_loudly(tmp_path):
    """``--zip`` goes through nbgrader's zip_collect; ``--unsandboxed-learner-code`` runs learner code with
    the grader's rights: a multi-line warning closes the summary, and every report opens with one."""
    root, archive = _lms_zip(tmp_path)
    done = subprocess.run([sys.executable, "-m", "autograder.instructor.grade", tiny.ASSIGNMENT,
                           "--course-root", str(root), "--zip", archive, "--serial", "--unsandboxed-learner-code",
                           "--no-progress"],
                          capture_output=True, text=True, env=tiny.tool_env(), cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "graded 2 submission(s)" in done.stdout
    banner = grade.unconfined_warning()
    assert done.stdout.rstrip().splitlines()[-len(banner):] == banner
    assert f"sandbox: {sandbox.UNCONFINED}" in done.stdout
    with open(root / f"grades-{tiny.ASSIGNMENT}.csv") as table:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(table)}
    assert scores == {"zed": sum(tiny_cases.FULL.values()), "yan": 2.0 + 1.0 + 1.0}
    for student in scores:
        for folder in ("feedback", "autograded"):
            report = (root / folder / student / tiny.ASSIGNMENT / "grading_report.md").read_text().splitlines()
            assert report[2].startswith("**Warning: graded without a sandbox (--unsandboxed-learner-code):**")
            assert f"Sandbox: {sandbox.UNCONFINED}." in report


def test_cli_without_bubblewrap_refuses_and_runs_nothing(tmp_path):
    """No bwrap on PATH (as on a Mac): the command says why and what to do, and nothing is graded,
    collected or written."""
    root, archive = _lms_zip(tmp_path)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    env = {**tiny.tool_env(), "PATH": os.path.dirname(sys.executable)}  # this Python's tools, no bwrap
    done = subprocess.run([sys.executable, "-m", "autograder.instructor.grade", tiny.ASSIGNMENT,
                           "--course-root", str(root), "--zip", archive, "--serial", "--no-progress"],
                          capture_output=True, text=True, env=env, cwd=REPO)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "refusing to run learner code without a sandbox: bubblewrap is not installed" in done.stderr
    assert "apt-get install -y bubblewrap" in done.stderr and "--unsandboxed-learner-code" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
