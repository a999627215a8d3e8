"""Shared pytest setup: import ``autograder`` from this checkout, seeded randomness, and
``needs_bwrap`` for every test that runs hostile learner code."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the tests run from a clone without `pip install -e .` too
    sys.path.insert(0, str(REPO))


def pytest_report_header(config):
    return f"random seed for this run: {RUN_SEED} (set TEST_SEED to repeat it)"


RUN_SEED = int(os.environ.get("TEST_SEED", np.random.SeedSequence().entropy % 2**32))


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


# Notebooks under tests/ are fixtures, not nbval subjects (nbval runs on solutions/).
collect_ignore_glob = ["**/*.ipynb"]
