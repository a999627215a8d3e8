"""Shared pytest setup: import ``autograder`` from this checkout, and seeded randomness."""

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
    from autograder.engines import load_reference
    return load_reference()


# Notebooks under tests/ are fixtures, not nbval subjects (nbval runs on solutions/).
collect_ignore_glob = ["**/*.ipynb"]
