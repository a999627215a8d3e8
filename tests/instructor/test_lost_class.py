"""No lost class: the gradebook being written decides what is already graded, the CSV and the
insight page never shrink, a worker that dies is named and its scratch removed, and Ctrl-C stops
cleanly with what was graded kept. Honest learners on the tiny course, graded in the default sandbox."""

import csv
import html
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from corpus import tiny
from nbgrader.api import Gradebook, MissingEntry
from postgres_server import running_postgres

from autograder.instructor import grade, insight
from autograder.instructor.grade import database_url, grade_class
from autograder.instructor.grading import book

pytestmark = [pytest.mark.slow, pytest.mark.needs_bwrap]  # grading runs learner code: bubblewrap or nothing
REPO = Path(__file__).resolve().parents[2]
COURSE_ID = "tiny-course"
FAST = dict(progress=False, notebook_timeout=120, interrupt_grace=2, feedback=False)


def _class(tmp_path, students):
    root = tiny.build_course(tmp_path / "course")
    for student in students:
        tiny.submit(root, student)
    return root


def _scores(db_url):
    """``{student: {grade cell: score}}`` of every submission in a gradebook."""
    with Gradebook(db_url, COURSE_ID) as gradebook:
        found = {}
        for student in gradebook.students:
            try:
                submission = gradebook.find_submission(tiny.ASSIGNMENT, student.id)
            except MissingEntry:
                continue
            found[student.id] = {g.name: g.score for nb in submission.notebooks for g in nb.grades}
        return found


def _csv_learners(path):
    with open(path) as table:
        return sorted(row["student_id"] for row in csv.DictReader(table))


@pytest.fixture
def scratch():
    """A short scratch folder (kernels' socket paths below it must stay under 108 characters)."""
    folder = Path(tempfile.mkdtemp(prefix="lc-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- the gradebook decides

@pytest.fixture
def postgres_url():
    with running_postgres() as url:
        yield url


def test_a_new_gradebook_gets_the_whole_class(tmp_path, postgres_url):
    students = ["ann", "bob"]
    root = _class(tmp_path, students)
    sqlite = f"sqlite:///{root}/gradebook.db"
    first = grade_class(tiny.ASSIGNMENT, root, workers=0, **FAST)
    assert sorted(first.graded) == students
    switched = grade_class(tiny.ASSIGNMENT, root, workers=0, db_url=postgres_url, **FAST)
    assert sorted(switched.graded) == students and switched.skipped == []
    assert _scores(database_url(postgres_url)) == _scores(sqlite)
    assert _csv_learners(switched.csv) == students and not switched.csv_error
    assert insight.covered_learners(switched.insight)[0] == set(students)
    # rerunning either gradebook skips everyone: both hold these bytes' grades
    for db_url in (postgres_url, None):
        again = grade_class(tiny.ASSIGNMENT, root, workers=0, db_url=db_url, **FAST)
        assert again.graded == [] and sorted(again.skipped) == students


def test_a_lost_gradebook_file_is_graded_again(tmp_path):
    root = _class(tmp_path, ["ann"])
    grade_class(tiny.ASSIGNMENT, root, workers=0, **FAST)
    (root / "gradebook.db").unlink()  # the ledger still says "graded"; the gradebook does not
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", tiny.ASSIGNMENT, "--force"],
                          cwd=root, capture_output=True, text=True, env=tiny.tool_env())
    assert done.returncode == 0, done.stderr
    again = grade_class(tiny.ASSIGNMENT, root, workers=0, **FAST)
    assert again.graded == ["ann"] and again.skipped == []
    assert set(_scores(f"sqlite:///{root}/gradebook.db")) == {"ann"}


# ---------------------------------------------------------------- the tables never shrink

def test_the_csv_and_insight_page_never_lose_learners(tmp_path):
    root = _class(tmp_path, ["ann"])
    table, page = root / "grades-tiny.csv", root / "insight-tiny.html"
    first = grade_class(tiny.ASSIGNMENT, root, workers=0, **FAST)
    assert _csv_learners(first.csv) == ["ann"] and page.is_file()
    # the files of a run on a gradebook that held more of the class (another --db-url)
    with open(table, "a") as out:
        out.write("bob,5.0,7.0,0.0,2.0,1.0,1.0,1.0,\n")
    # the page's own meta tag rewritten with both names, however the template escaped them
    text = page.read_text()
    found = insight._LEARNERS_META.search(text)
    assert found and insight.covered_learners(page)[0] == {"ann"}
    page.write_text(text.replace(found["names"], html.escape(json.dumps(["ann", "bob"]), quote=True)))
    assert insight.covered_learners(page)[0] == {"ann", "bob"}
    kept_table, kept_page = table.read_bytes(), page.read_bytes()
    summary = grade_class(tiny.ASSIGNMENT, root, workers=0, regrade=True, **FAST)
    assert summary.graded == ["ann"]
    assert table.read_bytes() == kept_table and page.read_bytes() == kept_page
    assert "kept" in summary.csv_error and "bob" in summary.csv_error
    assert "kept" in summary.insight_error and "bob" in summary.insight_error
    text = summary.text()
    assert "not written" in text and "bob" in text
    # an insight page from before the learner list: its headline count is what it covered
    page.write_text('<p id="class-summary">2 learners with a submission.</p>')
    with pytest.raises(insight.Shrinking):
        insight.write_insight(f"sqlite:///{root}/gradebook.db", tiny.ASSIGNMENT, COURSE_ID, table)
    # once the old files are gone the gradebook's learners are written
    table.unlink()
    page.unlink()
    summary = grade_class(tiny.ASSIGNMENT, root, workers=0, **FAST)
    assert not summary.csv_error and _csv_learners(table) == ["ann"] and page.is_file()


# ---------------------------------------------------------------- a worker that dies

def test_a_worker_killed_mid_grade_is_named_and_its_scratch_removed(tmp_path, scratch, monkeypatch):
    import lost_worker
    root = _class(tmp_path, ["ann", "bob"])
    monkeypatch.setenv("AG_TEST_VICTIMS", "bob")
    monkeypatch.setenv("AG_TEST_MARKS", str(tmp_path))
    monkeypatch.setattr(grade, "grade_submission", lost_worker.grade_or_die)
    summary = grade_class(tiny.ASSIGNMENT, root, workers=1, scratch=str(scratch), **FAST)
    assert sorted(summary.graded) == ["ann", "bob"] and summary.failed == {}  # Dask graded bob again
    assert list(scratch.iterdir()) == []
    assert set(summary.lost) == {"bob"} and "died" in summary.lost["bob"]
    assert "bob: a worker died while grading it" in summary.text()
    with open(summary.csv) as table:  # honest learners: full points, the retried one too
        assert all(float(row["score"]) == float(row["max_score"]) > 0 for row in csv.DictReader(table))


def test_a_worker_that_keeps_dying_fails_only_its_learner(tmp_path, scratch, monkeypatch):
    """Dask gives up on a task whose workers keep dying (``KilledWorker``): that learner is not graded,
    is named, and the scratch its worker left is removed."""
    from distributed import KilledWorker
    root = _class(tmp_path, ["ann", "bob"])
    real = grade._executor

    def executor(workers, dask):
        submit, as_completed, close, share, lost = real(0, None)

        class Killed:
            def result(self):
                raise KilledWorker(task="grade-bob", last_worker=None, allowed_failures=3)

        def dies_on_bob(data, job):
            if job["student"] != "bob":
                return submit(data, job)
            Path(job["scratch"], "ag-left-by-a-dead-worker", "course").mkdir(parents=True)
            return Killed()
        return dies_on_bob, as_completed, close, share, lost
    monkeypatch.setattr(grade, "_executor", executor)
    summary = grade_class(tiny.ASSIGNMENT, root, workers=1, scratch=str(scratch), **FAST)
    assert summary.graded == ["ann"] and set(summary.failed) == {"bob"} and "died" in summary.failed["bob"]
    assert set(summary.lost) == {"bob"} and "not graded" in summary.lost["bob"]
    assert list(scratch.iterdir()) == []


# ---------------------------------------------------------------- Ctrl-C

def test_ctrl_c_stops_cleanly_keeps_what_is_graded_and_resumes(tmp_path, scratch):
    students = ["ann", "bob", "cy"]
    root = _class(tmp_path, students)
    command = [sys.executable, "-m", "autograder.instructor.grade", tiny.ASSIGNMENT, "--workers", "1", "--no-progress",
               "--no-feedback", "--scratch", str(scratch)]
    env = {**tiny.tool_env(), "PYTHONPATH": str(REPO)}
    ledger = root / book.LEDGER / tiny.ASSIGNMENT
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        while process.poll() is None and not list(ledger.glob("*.json")):
            time.sleep(0.1)  # waiting for the first graded learner, then Ctrl-C as a terminal sends it
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, (out, err)  # the shell's status for a command stopped by Ctrl-C
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, (out, err)
    assert "interrupted (Ctrl-C)" in out and "run the same command again" in out, out
    graded = _scores(f"sqlite:///{root}/gradebook.db")
    assert graded and set(graded) < set(students)  # stopped after the first, one at a time: some are left
    assert _csv_learners(root / "grades-tiny.csv") == sorted(graded)  # the table covers what is there
    assert list(scratch.iterdir()) == []
    resumed = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"skipped {len(graded)} already graded" in resumed.stdout
    assert set(_scores(f"sqlite:///{root}/gradebook.db")) == set(students)
