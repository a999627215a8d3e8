"""Shared pytest setup: import ``autograder`` from this checkout, seeded randomness,
``needs_bwrap`` for every test that runs hostile learner code, the expensive things built once per
run (the released assignment, a stock nbgrader run, a Binder venv), and how xdist's workers share
the suite."""

import os
import shutil
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock
from xdist.scheduler import LoadScopeScheduling

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the tests run from a clone without `pip install -e .` too
    sys.path.insert(0, str(REPO))


def pytest_report_header(config):
    return f"random seed for this run: {RUN_SEED} (set TEST_SEED to repeat it)"


# Drawn once, by the first process to import this file; xdist's workers, started later, inherit the
# variable and so draw from the same seed as the header shows.
RUN_SEED = int(os.environ.setdefault("TEST_SEED", str(np.random.SeedSequence().entropy % 2**32)))


@pytest.fixture
def rng(request):
    """A numpy Generator, fresh per test and per run; TEST_SEED=<n> repeats a run."""
    return np.random.default_rng([RUN_SEED, sum(map(ord, request.node.nodeid))])


@pytest.fixture(scope="session")
def reference():
    """The reference engine (solutions/tinygrad_course), under a private module name."""
    from autograder.learner.engines import load_reference
    return load_reference()


NEEDS_BWRAP = ("needs_bwrap: runs hostile learner code, which must only ever run inside bubblewrap: skipped "
               "where bubblewrap does not work, an error where the environment variable CI is set")


def pytest_configure(config):
    config.addinivalue_line("markers", NEEDS_BWRAP)


def require_bwrap():
    """Skip (or, under CI, fail) the calling test unless bubblewrap works here: a hostile payload never
    runs unconfined, and CI cannot go green without the sandbox it tests."""
    from autograder.instructor import sandbox
    works, detail = sandbox.probe()
    if works:
        return
    reason = f"needs a working bubblewrap (it runs hostile learner code, only ever inside a sandbox): {detail}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; under CI that is a failure: CI must test the sandbox", pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item):
    if item.get_closest_marker("needs_bwrap"):
        require_bwrap()


@pytest.fixture(scope="session")
def needs_bwrap():
    """The same as ``@pytest.mark.needs_bwrap``, for a fixture that runs hostile code itself."""
    require_bwrap()


def built_once(tmp_path_factory, name, build):
    """``build(folder)`` once for the whole run, by whichever xdist worker asks first: the others wait
    on a file lock, then use its folder (a serial run just builds it). A build that failed is redone."""
    shared = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        shared = shared.parent  # the run's base folder; each worker's own folder sits inside it
    folder, done = shared / name, shared / f"{name}.built"
    with FileLock(shared / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def released_course(tmp_path_factory):
    """The real assignment released once per run (``nbgrader generate_assignment``, about 20 s), for
    every worker: a course root with its gradebook, to copy (``course.copy_of``), never to change."""
    from corpus import course
    return built_once(tmp_path_factory, "released-course", course.build_course)


@pytest.fixture
def fresh_course(released_course, tmp_path):
    """A private copy of the released course root, for one test."""
    from corpus import course
    return course.copy_of(released_course, tmp_path / "course")


@pytest.fixture(scope="session")
def stock_graded(released_course, tmp_path_factory):
    """``stock_class``'s learners autograded by stock ``nbgrader autograde``: ``({student: course root},
    nbgrader's logs)``. Its users run on one xdist worker (``SHARED_FIXTURE_GROUPS``)."""
    import stock_class
    return stock_class.autograde(released_course, tmp_path_factory.mktemp("stock") / "course")


@pytest.fixture(scope="module")
def cluster():
    """A two-worker Dask LocalCluster (one module's), for grading a class as an instructor's cluster would."""
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as local:
        yield local.scheduler_address


@pytest.fixture(scope="session")
def binder_base(tmp_path_factory):
    """One Binder venv per session (binder/requirements.txt installed, about a minute), for the tests
    that run a repository as Binder would, all on one xdist worker (``SHARED_FIXTURE_GROUPS``)."""
    import binder_venv
    return binder_venv.BinderVenv(tmp_path_factory.mktemp("binder") / "venv", REPO / "binder" / "requirements.txt")


# pytest-xdist (`-n auto --dist loadfile`): a test module, or a notebook's nbval cells, runs whole on
# one worker. Modules sharing an expensive session fixture that they change, or must not build twice,
# go to the same worker too. (xdist's `xdist_group` marker would say this per module, but xdist 3.8
# cannot add the group to pytest 9.2's node ids, and the scheduler only sees node ids.)
SHARED_FIXTURE_GROUPS = {
    "tests/instructor/test_pipeline.py": "stock-nbgrader",  # one stock `nbgrader autograde` (stock_class)
    "tests/instructor/test_grade_course.py": "stock-nbgrader",
    "tests/notebooks/test_binder.py": "binder-venv",  # one Binder venv, each module runs its postBuild in it
    "tests/instructor/test_publish.py": "binder-venv",
}


# Files of many independent, slow tests (no module fixture): their tests are spread over the workers,
# one by one, where keeping the file whole would leave one worker running it alone at the end.
SPREAD_TESTS = {
    "tests/checking/test_planted_bugs.py",  # quick tier: about 3 s a test, 90 tests
    "tests/notebooks/test_learner_release.py",  # slow tier: 3-6 s a test, 42 tests (a cheap module fixture)
}

# Scopes that take minutes (worker seconds from `--durations=0` on 2 cores, 2026-12-06), handed out
# first, longest first: xdist starts scopes in its queue's order, and a long one started near the end
# keeps one worker busy while the other has nothing left. Order only; the rest keep xdist's order
# (most tests first), so the single spread tests come last and fill the gaps.
LONG_SCOPES = {
    "tests/instructor/test_grade_corpus.py": 350, "stock-nbgrader": 330, "binder-venv": 190,
    "tests/instructor/test_lost_class.py": 140, "tests/instructor/test_grade_tiny.py": 100,
    "tests/instructor/test_stock_sandbox.py": 95, "tests/instructor/test_judge.py": 86,
    "tests/instructor/test_exchange_cycle.py": 57, "tests/learner/test_browser.py": 53,
}


class FileScheduling(LoadScopeScheduling):
    """xdist's ``loadfile``, with the files of ``SHARED_FIXTURE_GROUPS`` sent to one worker, the tests of
    ``SPREAD_TESTS`` one by one, and ``LONG_SCOPES`` first."""

    _ordered = False

    def _split_scope(self, nodeid):
        path = nodeid.split("::", 1)[0]
        if path in SPREAD_TESTS:
            return nodeid
        return SHARED_FIXTURE_GROUPS.get(path, path)

    def _assign_work_unit(self, node):
        if not self._ordered:  # the queue is complete by the first assignment
            self.workqueue = OrderedDict(sorted(self.workqueue.items(), key=lambda unit: -LONG_SCOPES.get(unit[0], 0)))
            self._ordered = True
        super()._assign_work_unit(node)


def pytest_xdist_make_scheduler(config, log):
    return FileScheduling(config, log)


# Notebooks under tests/ are fixtures, not nbval subjects (nbval runs on solutions/).
collect_ignore_glob = ["**/*.ipynb"]
