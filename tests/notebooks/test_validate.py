"""nbgrader's Validate (the button learners press before submitting) on the course's notebooks:
it passes a finished notebook and names the failing checks of an unfinished one."""

import shutil
import subprocess
import sys

import pytest

from autograder.instructor.release import tool_environment
from autograder.learner.engines import COURSE, SOLUTIONS

pytestmark = pytest.mark.slow

NOTEBOOKS = ["01_x_squared.ipynb", "06_disabling_tracking.ipynb", "08_mlp_real_data.ipynb"]


def validate(folder, name):
    result = subprocess.run([sys.executable, "-m", "nbgrader", "validate", name], cwd=folder,
                            capture_output=True, text=True, timeout=300, env=tool_environment())
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def learner_folders(tmp_path_factory):
    """The release as a learner gets it, and the same folder once every answer is written."""
    untouched = tmp_path_factory.mktemp("untouched") / "course"
    shutil.copytree(COURSE, untouched)
    finished = tmp_path_factory.mktemp("finished") / "course"
    shutil.copytree(COURSE, finished)
    shutil.copy(SOLUTIONS / "tinygrad_course" / "engine.py", finished / "tinygrad_course" / "engine.py")
    for name in NOTEBOOKS:
        shutil.copy(SOLUTIONS / name, finished / name)
    return untouched, finished


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_validate_passes_a_finished_notebook(learner_folders, name):
    report = validate(learner_folders[1], name)
    assert "Success! Your notebook passes all the tests." in report, report[-2000:]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_validate_names_what_is_still_open(learner_folders, name):
    report = validate(learner_folders[0], name)
    assert "VALIDATION FAILED" in report, report[-2000:]
    assert "not written yet" in report or "Write your answer here" in report, report[-2000:]
