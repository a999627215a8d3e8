"""The kernel factory (``grading/zygote.py``) on its own: it starts in bubblewrap from the files the
bundle ships and nothing else, forks children that run in their own folder and process group, hands
back their exit codes, and leaves no process behind. Runs under bubblewrap only."""

import time

import pytest

from autograder.instructor import sandbox
from autograder.instructor.grading import bundle
from autograder.instructor.grading.zygote import PRELOAD, Zygote

pytestmark = pytest.mark.needs_bwrap

# A module of the test's own, shipped with the grading code: each child runs its main(argv).
PROBE = b'''
import os, time
import numpy as np

def main(argv):
    what = argv[0]
    if what == "draw":
        print(np.random.random())
    elif what == "where":
        print(os.getcwd(), os.getpgid(0) == os.getpid())
    elif what == "read":
        try:
            print(open(argv[1]).read())
        except OSError as error:
            print("refused", type(error).__name__)
    elif what == "sleep":
        time.sleep(60)
    return int(argv[1]) if what == "exit" else 0
'''


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("factory")
    run = tmp_path / "run"
    run.mkdir()
    files = {**bundle.package_files(), "factory_probe.py": PROBE}
    with Zygote(mode="bwrap", cwd=str(run), writable=[str(run)], files=files, home="/tmp/grader",
                limits=sandbox.Limits().asdict(), log=str(tmp_path / "kernels.log")) as zygote:
        yield zygote, run
    assert not zygote.alive(), "close() leaves no factory behind"


def run_probe(zygote, run, *argv, timeout=60):
    out = run / f"out-{'-'.join(argv).replace('/', '_')}.txt"
    child = zygote.run_main("factory_probe", list(argv), cwd=str(run), stdout=str(out))
    assert child.wait(timeout=timeout) is not None
    return child.poll(), out.read_text().strip()


def test_the_factory_warms_everything_from_the_shipped_files_alone(factory):
    zygote, _ = factory
    assert zygote.ready["ready"] and zygote.ready["missing"] == [], "the bundle lacks a module the kernels import"
    assert set(zygote.ready["loaded"]) == set(PRELOAD)


def test_children_run_in_their_folder_and_group_and_return_their_code(factory):
    zygote, run = factory
    code, said = run_probe(zygote, run, "where")
    assert code == 0 and said == f"{run} True"
    assert run_probe(zygote, run, "exit", "7")[0] == 7


def test_each_child_draws_fresh_random_numbers(factory):
    zygote, run = factory
    draws = {run_probe(zygote, run, "draw", str(i))[1] for i in range(3)}
    assert len(draws) == 3, "a forked kernel must not replay the factory's random state"


def test_a_child_sees_neither_the_repository_nor_the_grader_files(factory, tmp_path):
    zygote, run = factory
    canary = tmp_path / "canary.txt"
    canary.write_text("secret")
    assert run_probe(zygote, run, "read", str(canary))[1].startswith("refused")
    assert run_probe(zygote, run, "read", str(bundle.PACKAGE / "instructor" / "judge.py"))[1].startswith("refused")


def test_a_signal_stops_a_running_child(factory):
    zygote, run = factory
    child = zygote.run_main("factory_probe", ["sleep"], cwd=str(run), stdout=str(run / "sleep.txt"))
    time.sleep(1)
    assert child.poll() is None
    child.kill()
    assert child.wait(timeout=10) is not None and child.poll() < 0
