"""nbgrader's exchange cycle around our grader, with nbgrader's own commands unchanged.

Instructor (in a scratch copy of the course root): ``nbgrader release_assignment``; learners
(each in a home folder of their own): ``nbgrader fetch_assignment``, ``nbgrader submit`` (one
learner resubmits: the latest submission is the one graded); instructor: ``nbgrader collect``,
``python -m autograder.instructor.grade autodiff`` (run in the course root, no ``--course-root``),
``nbgrader generate_feedback``, ``nbgrader release_feedback``; learners: ``nbgrader
fetch_feedback``. The exchange is a real folder in tmp_path. Learners submit notebook 01 only,
so grading stays fast.

``nbgrader fetch_feedback`` gives a learner one HTML file per submitted notebook and nothing
else, so the grading report reaches learners at the top of each HTML (``grading_report.md``
stays in ``feedback/`` for the instructor).
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from corpus import course

from autograder.instructor import grade
from autograder.instructor.grading import report as gradingreport

pytestmark = [pytest.mark.slow, pytest.mark.needs_bwrap]
REPO = Path(__file__).resolve().parents[2]
NB1 = "01_x_squared"
NB1_UNITS = ["pow_backward", "accumulate_grad"]  # notebook 01's engine units
SUBMITTED_AS = re.compile(r"Submitted as: \S+ " + course.ASSIGNMENT + r" (.+?)\s*$", re.M)


def _env(home):
    """A user's environment: their own HOME (so their own nbgrader cache), this Python's tools."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "XDG_"))}
    env["HOME"] = str(home)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


class Cycle:
    def __init__(self, tmp_path, released):
        self.root = course.copy_of(released, tmp_path / "course")
        self.exchange = tmp_path / "exchange"
        self.exchange.mkdir()
        self.exchange.chmod(0o777)
        self.instructor = tmp_path / "instructor"
        self.instructor.mkdir()
        self.homes = {}
        self.stderr = []  # (command, stderr) of every nbgrader command

    def nbgrader(self, *args, home=None, student=None):
        """``nbgrader <args>`` as the instructor in the course root, or as a learner at home."""
        command = [sys.executable, "-m", "nbgrader", *args, f"--Exchange.root={self.exchange}"]
        if student:
            command += [f"--course={course.COURSE_ID}", f"--student={student}"]
        done = subprocess.run(command, cwd=home or self.root, env=_env(home or self.instructor),
                              capture_output=True, text=True, timeout=120)
        self.stderr.append((" ".join(args), done.stderr))
        assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr[-3000:]}"
        return done

    def learner(self, student):
        home = self.homes[student] = self.root.parent / "home" / student
        home.mkdir(parents=True)
        self.nbgrader("fetch_assignment", course.ASSIGNMENT, home=home, student=student)
        work = home / course.ASSIGNMENT
        for notebook in work.glob("*.ipynb"):  # notebook-light: only notebook 01 is submitted
            if notebook.stem != NB1:
                notebook.unlink()
        return work

    def submit(self, student):
        done = self.nbgrader("submit", course.ASSIGNMENT, home=self.homes[student], student=student)
        return SUBMITTED_AS.search(done.stderr + done.stdout)[1]


@pytest.fixture(scope="module")
def cycle(tmp_path_factory, released_course):
    cycle = Cycle(tmp_path_factory.mktemp("exchange-cycle"), released_course)
    cycle.nbgrader("release_assignment", course.ASSIGNMENT)
    work = {student: cycle.learner(student) for student in ("ada", "ben")}

    stamps = {"ada-first": cycle.submit("ada")}  # untouched: would score 0
    engine = work["ada"] / "tinygrad_course" / "engine.py"
    engine.write_text(course.engine_with(NB1_UNITS))  # then ada solves notebook 01's engine units
    stamps["ada"] = cycle.submit("ada")
    stamps["ben"] = cycle.submit("ben")  # untouched

    cycle.nbgrader("collect", course.ASSIGNMENT)
    graded = subprocess.run([sys.executable, "-m", "autograder.instructor.grade", course.ASSIGNMENT],
                            cwd=cycle.root, env=_env(cycle.instructor), capture_output=True, text=True,
                            timeout=300)
    assert graded.returncode == 0, graded.stdout + graded.stderr[-3000:]
    cycle.nbgrader("generate_feedback", course.ASSIGNMENT)
    cycle.nbgrader("release_feedback", course.ASSIGNMENT)
    for student in work:
        cycle.nbgrader("fetch_feedback", course.ASSIGNMENT, home=cycle.homes[student], student=student)
    with open(cycle.root / f"grades-{course.ASSIGNMENT}.csv") as table:
        rows = {row["student_id"]: row for row in csv.DictReader(table)}
    return cycle, stamps, graded, rows


def _fetched(cycle, student):
    return cycle.homes[student] / course.ASSIGNMENT / "feedback"


def test_the_latest_submission_is_collected_and_graded(cycle):
    cycle, stamps, graded, rows = cycle
    assert stamps["ada"] != stamps["ada-first"]
    for student in ("ada", "ben"):
        for folder in ("submitted", "autograded", "feedback"):
            stamp = cycle.root / folder / student / course.ASSIGNMENT / "timestamp.txt"
            assert stamp.read_text() == stamps[student], f"{folder}/{student}"
    assert "graded 2 submission(s)" in graded.stdout


def test_scores_differ_as_expected(cycle):
    cycle, stamps, graded, rows = cycle
    points = course.points(cycle.root)
    assert set(rows) == {"ada", "ben"}
    assert float(rows["ada"]["score"]) == sum(points[unit] for unit in NB1_UNITS) > 0
    assert float(rows["ben"]["score"]) == 0.0
    for unit in NB1_UNITS:
        assert float(rows["ada"][unit]) == points[unit] and float(rows["ben"][unit]) == 0.0


def test_learners_fetch_the_html_with_the_grading_report(cycle):
    cycle, stamps, graded, rows = cycle
    nb1 = course.layout(cycle.root)[NB1]
    for student in ("ada", "ben"):
        fetched = _fetched(cycle, student)
        # feedback for the graded (latest) submission only: ada's first one has none
        assert [p.name for p in fetched.iterdir()] == [stamps[student]]
        page = (fetched / stamps[student] / f"{NB1}.html").read_text()
        nb1_score = sum(float(rows[student][grade_id]) for grade_id in nb1["grade_ids"])
        assert f"{NB1} (Score: {nb1_score:.1f} / {nb1['max_score']:.1f})" in page
        report = (cycle.root / "feedback" / student / course.ASSIGNMENT / "grading_report.md").read_text()
        assert f"# Grading report: {course.ASSIGNMENT}, {student}" in report
        data = json.loads((cycle.root / "feedback" / student / course.ASSIGNMENT / "grading_report.json").read_text())
        assert gradingreport.as_html(data) in page, f"{student}: the fetched HTML should show the grading report"
        assert f"Total: {data['total']:g} / {data['maximum']:g}" in report


def test_nbgraders_own_files_are_not_reported_as_learner_files(cycle):
    cycle, stamps, graded, rows = cycle
    for student in ("ada", "ben"):
        report = (cycle.root / "feedback" / student / course.ASSIGNMENT / "grading_report.md").read_text()
        assert "submission_secret" not in report and "timestamp.txt" not in report, report
        feedback = cycle.root / "feedback" / student / course.ASSIGNMENT
        submitted = cycle.root / "submitted" / student / course.ASSIGNMENT
        assert (feedback / "submission_secret.txt").read_bytes() == (submitted / "submission_secret.txt").read_bytes()


def test_output_is_clean(cycle):
    cycle, stamps, graded, rows = cycle
    for command, stderr in cycle.stderr:
        assert "db_assignments" not in stderr, f"nbgrader {command}:\n{stderr}"
    assert "SAWarning" not in graded.stdout + graded.stderr, graded.stderr
    assert graded.stderr.count("2/2 [") == 1, f"the last progress line is drawn once:\n{graded.stderr}"
    assert f"nbgrader generate_feedback {course.ASSIGNMENT}" in graded.stdout
    assert f"nbgrader release_feedback {course.ASSIGNMENT}" in graded.stdout


def test_a_rerun_skips_and_generate_feedback_keeps_our_feedback(cycle):
    cycle, stamps, graded, rows = cycle
    before = {p: p.read_bytes() for p in (cycle.root / "feedback").rglob("*") if p.is_file()}
    summary = grade.grade_class(course.ASSIGNMENT, cycle.root, workers=0, progress=False)
    assert sorted(summary.skipped) == ["ada", "ben"] and not summary.graded
    cycle.nbgrader("generate_feedback", course.ASSIGNMENT)
    assert {p: p.read_bytes() for p in (cycle.root / "feedback").rglob("*") if p.is_file()} == before


def test_the_course_root_is_the_current_folder_or_given(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        grade.main([course.ASSIGNMENT])
    assert stopped.value.code == 2
    said = capsys.readouterr().err
    assert "nbgrader_config.py" in said and "--course-root" in said
    with pytest.raises(SystemExit):
        grade.main([course.ASSIGNMENT, "--course-root", str(tmp_path)])
    assert "not an nbgrader course root" in capsys.readouterr().err
    shutil.copy(REPO / "classroom" / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    assert grade.find_course_root() == tmp_path.resolve()
