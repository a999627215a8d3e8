"""Every sandbox holds a bounded number of processes: learner code that starts hundreds is refused
(``fork`` fails) and honest grading goes on. Runs under bubblewrap only."""

import subprocess

import pytest

from autograder.instructor import sandbox

pytestmark = pytest.mark.needs_bwrap

FORKS = """
import os, sys, time
started = 0
for _ in range(200):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    started += 1
print(started)
"""


@pytest.mark.parametrize("tasks", [20, sandbox.MAX_TASKS])
def test_a_kernels_sandbox_stops_a_fork_loop_at_its_limit(tasks, tmp_path):
    command = sandbox.bwrap_command([sandbox._python(), "-c", FORKS], cwd=str(tmp_path), writable=[str(tmp_path)],
                                    env=sandbox.environment(""), tasks=tasks)
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 0 < int(done.stdout) < tasks, done.stdout  # the shims and bubblewrap's init count too



@pytest.mark.slow
def test_a_notebook_that_starts_hundreds_of_processes_is_stopped_and_the_class_is_graded(tmp_path):
    """In the kernels' sandbox (the zygote's): the fork loop is refused part-way, the learner's answer
    (right only if the loop was stopped) and the rest of the submission and of the class are graded."""
    import csv

    from corpus import tiny, tiny_cases

    from autograder.instructor.grade import grade_class
    root = tiny.build_course(tmp_path / "course")
    answer = FORKS.replace("print(started)", "def square(x):\n    return x * x if started < 200 else 0")

    def edit(name, notebook):
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "square_answer":
                cell.source = answer
    tiny.submit(root, "forks", edit=edit)
    tiny.submit(root, "bystander")
    summary = grade_class(tiny.ASSIGNMENT, root, workers=0, progress=False, notebook_timeout=120,
                          interrupt_grace=2)
    assert summary.failed == {} and sorted(summary.graded) == ["bystander", "forks"]
    with open(summary.csv) as table:
        rows = {row["student_id"]: row for row in csv.DictReader(table)}
    full = sum(tiny_cases.FULL.values())
    assert float(rows["forks"]["score"]) == full and float(rows["bystander"]["score"]) == full, rows
