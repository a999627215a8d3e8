"""Binder, without Binder: the environment from binder/ with the same steps repo2docker runs (pip
install -r binder/requirements.txt into the session's venv, then binder/postBuild in a copy of the
repository), then the first learner notebook run there up to its first open exercise (all of them:
in the published repository's Binder, instructor/test_publish.py)."""

import json
import shutil
import subprocess

import binder_venv
import pytest
from open_exercises import open_exercise_error

from autograder.learner.engines import REPO

# Shares the one Binder venv with test_publish (SHARED_FIXTURE_GROUPS in tests/conftest.py).
pytestmark = pytest.mark.slow


def _repository_copy(destination):
    """What Binder clones: the committed files."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    for name in filter(None, files.stdout.split("\0")):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, target)
    return destination


@pytest.fixture(scope="module")
def binder_env(binder_base, tmp_path_factory):
    repo = _repository_copy(tmp_path_factory.mktemp("binder-repo") / "repo")
    bin_dir, environ = binder_base.post_build(repo)
    return repo, bin_dir, environ


def test_binder_image_holds_the_release_only(binder_env):
    repo, _, _ = binder_env
    assert not (repo / "solutions").exists() and not (repo / "tests").exists()
    assert not (repo / "autograder" / "instructor").exists()  # the grader's stand-ins: an answer key
    assert (repo / "course" / "tinygrad_course" / "engine.py").is_file()


def test_binder_env_has_no_reference_engine_and_pinned_cpu_torch(binder_env):
    repo, bin_dir, environ = binder_env
    probe = ("import importlib.util, json, torch; "
             "print(json.dumps([importlib.util.find_spec('tinygrad_course') is None, torch.__version__]))")
    out = subprocess.run([str(bin_dir / "python"), "-c", probe], cwd=repo, env=environ,
                         capture_output=True, text=True, check=True).stdout
    no_engine_outside_course, version = json.loads(out)
    assert no_engine_outside_course
    assert version.startswith("2.13.0") and "+cu" not in version


def test_first_notebook_runs_in_binder_env_up_to_its_first_open_exercise(binder_env):
    """Notebook 01 (kernel, torch, the checks, the widgets): every notebook runs in the published
    repository's Binder (instructor/test_publish.py), which holds this ``course/`` (checked there too)
    and installs the same requirements; one here shows this repository's postBuild gives the same."""
    repo, bin_dir, environ = binder_env
    first = sorted((REPO / "course").glob("*.ipynb"))[0].name
    result = subprocess.run([str(bin_dir / "python"), "-c", binder_venv.RUN_UNTIL_FIRST_ERROR, str(repo / "course"),
                             first], cwd=repo / "course", env=environ, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(report) == [first]
    for name, run in report.items():
        error = run["first_error"]
        assert error is not None, f"{name}: ran to the end with nothing open"
        assert open_exercise_error(error["cell"], error["ename"], error["evalue"]), (name, error)
