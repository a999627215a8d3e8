"""Every sandbox holds a bounded number of processes: learner code that starts hundreds is refused
(``fork`` fails) and honest grading goes on. Runs under bubblewrap only."""

import subprocess

import pytest

from autograder.classgrading import sandbox

pytestmark = pytest.mark.skipif(not sandbox.probe()[0], reason="bubblewrap is not available here")

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

