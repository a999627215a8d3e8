"""A class of honest and hostile submissions (``corpus/course_cases.py``) graded once on the real
course with two workers: every learner's score per exercise and in total is asserted (zero false
passes, no lost grade), and the lines each report must (and must not) hold; no process a learner
started outlives the grading, and none reached the gradebook, grades, ledger or reports, or the
canaries planted beside the course.
"""

import csv
import os
from pathlib import Path

import nbformat
import pytest
from corpus import course, course_cases

from autograder.instructor.grade import grade_class

pytestmark = [pytest.mark.slow, pytest.mark.needs_bwrap]  # hostile corpus: grading needs bwrap


@pytest.fixture(scope="module")
def bystanders(tmp_path_factory):
    """Canaries beside the corpus's folder, planted before it is graded: files named like what its
    payloads look for, in the folder above every test folder and in a sibling test folder."""
    top, sibling = tmp_path_factory.getbasetemp(), tmp_path_factory.mktemp("bystander")
    for folder in (top, sibling / "course"):
        for name in ("gradebook.db", "grades-autodiff.csv", "notes.ipynb", ".grading/autodiff/ada.json",
                     "feedback/ada/autodiff/grading_report.md", "nbgrader_config.py"):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(os.urandom(64))
    return top, sibling, {path: path.read_bytes() for path in [*top.glob("*"), *sibling.rglob("*")]
                          if path.is_file()}


@pytest.fixture(scope="module")
def corpus_graded(released_course, tmp_path_factory, cluster, bystanders):
    root = course.copy_of(released_course, tmp_path_factory.mktemp("corpus") / "course")
    cases = course_cases.cases()
    for case in cases:
        course.submit(root, case.student, **case.submit)
    summary = grade_class(course.ASSIGNMENT, root, dask=cluster, progress=False, cell_timeout=10,
                          check_timeout=course_cases.CHECK_TIMEOUT)
    with open(summary.csv) as table:
        rows = {row["student_id"]: row for row in csv.DictReader(table)}
    return root, {c.student: c for c in cases}, summary, rows, course.points(root)


def test_the_whole_class_is_graded(corpus_graded):
    root, cases, summary, rows, points = corpus_graded
    assert summary.failed == {}
    assert set(rows) == set(cases)


@pytest.mark.parametrize("student", [c.student for c in course_cases.cases()])
def test_corpus_case_gets_exactly_its_points(corpus_graded, student):
    root, cases, summary, rows, points = corpus_graded
    case = cases[student]
    expected = course_cases.expected(case, points)
    got = {exercise: float(rows[student][exercise]) for exercise in expected}
    assert got == expected, f"{student} ({case.why})"
    assert float(rows[student]["score"]) == sum(expected.values()), f"{student}: no points beyond the exercises'"
    report = (root / "feedback" / student / course.ASSIGNMENT / "grading_report.md").read_text()
    for words in case.says:  # a tuple: words that one line of the report must hold together
        lines = report.splitlines() if isinstance(words, tuple) else [report]
        assert any(all(w in line for w in (words if isinstance(words, tuple) else [words])) for line in lines), \
            f"{student}: the report should say {words!r}:\n{report}"
    for words in case.never:
        assert words not in report, f"{student}: the report must not say {words!r}:\n{report}"
    shown = course.kernel_output(root, student)
    for words in case.started:  # the payload's own proof that its attack got under way
        assert words in shown, f"{student}: the attack never started ({words!r} is not in the kernels' output)"


def test_output_flood_is_capped_while_it_arrives(corpus_graded):
    root, *_ = corpus_graded
    path = root / "autograded" / "huge-output" / course.ASSIGNMENT / f"{course_cases.NB1}.ipynb"
    assert path.stat().st_size < 3_000_000
    assert "output truncated by the grader" in path.read_text()


def test_a_dead_kernel_costs_its_own_notebook_only(corpus_graded):
    root, *_ = corpus_graded
    autograded = root / "autograded" / "kernel-dies" / course.ASSIGNMENT
    notebook = nbformat.read(autograded / f"{course_cases.NB3}.ipynb", as_version=4)
    names = [o.ename for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs
             if o.output_type == "error"]
    assert names[0] == "KernelDied" and set(names[1:]) == {"NotRun"}
    assert (root / "feedback" / "kernel-dies" / course.ASSIGNMENT / f"{course_cases.NB3}.html").is_file()


def test_no_learner_process_outlives_grading(corpus_graded):
    """The reaches-outside case starts processes that detach themselves (double fork, own
    session) from a kernel and from the judge's worker: all are gone once the class is graded."""
    alive = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if course_cases.LINGER_TOKEN.encode() in cmdline.read_bytes():
                alive.append(cmdline.parent.name)
        except OSError:
            continue
    assert alive == [], f"learner processes still running: {alive}"


def _files_under(root):
    """Every file under ``root`` that a path can name (a learner's folder nests past PATH_MAX)."""
    for folder, _, names in os.walk(root, onerror=lambda error: None):
        for name in names:
            yield Path(folder) / name


def test_learner_processes_reached_nothing_of_the_course(corpus_graded):
    """Nothing a learner process went looking for (the gradebook, grades, ledger, reports, other
    learners' engines) was written to, and no marker file was left in the course root."""
    root, *_ = corpus_graded
    markers, written = [], []
    for path in _files_under(root):
        if path.name == course_cases.LINGER_MARK:
            markers.append(path)
        elif path.suffix in (".db", ".csv", ".json", ".md", ".ipynb", ".py") and not path.is_symlink():
            try:
                data = path.read_bytes()  # the learner code's own text is in some: look for what it appends
            except OSError:
                continue
            if data.endswith((course_cases.LINGER_MARK.encode(), b"peeked")):
                written.append(path)
    assert markers == [] and written == []


def test_canaries_beside_the_corpus_are_untouched(corpus_graded, bystanders):
    """The payloads aim only inside their own course root: beside it, every canary is byte-for-byte
    what it was, no file appeared, and no marker was left anywhere in the test folders."""
    top, sibling, planted = bystanders
    now = {path: path.read_bytes() for path in [*top.glob("*"), *sibling.rglob("*")] if path.is_file()}
    assert now == planted
    assert [path for path in _files_under(top) if path.name == course_cases.LINGER_MARK] == []
