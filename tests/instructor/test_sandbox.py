"""Fail closed: without a working bubblewrap nothing runs learner code, unless a person asked for it
by name (``--unsandboxed-learner-code``, mode ``unconfined``); then every summary and report says so.

Fast: the probe is replaced, and no learner code runs here (the end-to-end runs are in
``test_grade_tiny.py``).
"""

import re

import pytest
from conftest import require_bwrap

from autograder.instructor import grade, sandbox
from autograder.instructor.grading import report

MISSING = "bubblewrap is not installed (a test says so)"


@pytest.fixture
def no_bwrap(monkeypatch):
    monkeypatch.setattr(sandbox, "probe", lambda: (False, MISSING))


def test_resolve_refuses_without_bubblewrap_and_says_why_and_what_to_do(no_bwrap):
    with pytest.raises(sandbox.SandboxUnavailable) as refused:
        sandbox.resolve("bwrap")
    message = str(refused.value)
    for words in (MISSING, "apt-get install -y bubblewrap", "macOS or Windows", "Linux container or VM",
                  "--unsandboxed-learner-code", "with your rights"):
        assert words in message


def test_no_mode_falls_back_to_running_learner_code_unconfined(no_bwrap):
    assert sandbox.resolve("unconfined") == ("unconfined", sandbox.UNCONFINED)
    for name in ("auto", "none", "", None):
        with pytest.raises(ValueError, match="no fallback"):
            sandbox.resolve(name)
        with pytest.raises(ValueError):
            sandbox.command(name, ["python"], cwd="/tmp", env={})


def test_grade_class_refuses_before_it_reads_or_writes_anything(no_bwrap, tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    with pytest.raises(sandbox.SandboxUnavailable, match="refusing to run learner code"):
        grade.grade_class("autodiff", tmp_path, workers=0, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nbgrader_config.py"]


def test_the_cli_refuses_with_the_reason_and_a_status(no_bwrap, tmp_path, capsys):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    assert grade.main(["autodiff", "--course-root", str(tmp_path), "--serial", "--no-progress"]) == 2
    said = capsys.readouterr()
    assert "refusing to run learner code without a sandbox: " + MISSING in said.err
    assert "apt-get install -y bubblewrap" in said.err and said.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nbgrader_config.py"]


@pytest.mark.parametrize("value", ["none", "auto", "bwrap"])
def test_the_old_sandbox_option_is_refused_not_ignored(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        grade.main(["autodiff", "--course-root", str(tmp_path), "--sandbox", value])
    assert stopped.value.code == 2
    assert "--sandbox is gone" in capsys.readouterr().err


def test_an_unconfined_run_is_said_loudly_in_the_summary_and_the_report():
    words = sandbox.resolve("unconfined")[1]
    loud = grade.Summary(graded=["ada"], sandbox=words, unconfined=True).text().splitlines()
    quiet = grade.Summary(graded=["ada"], sandbox="bubblewrap: ...").text().splitlines()
    banner = grade.unconfined_warning()
    assert len(banner) >= 8 and loud[-len(banner):] == banner, "a multi-line warning closes the summary"
    assert not set(banner) & set(quiet) and f"sandbox: {words}" in loud
    assert "WARNING: NO SANDBOX" in banner[1] and "--unsandboxed-learner-code" in banner[1]
    outcomes = {"01": {"score": 1.0, "max_score": 2.0, "message": None, "notes": []}}
    loud_report = report.build("ada", "autodiff", outcomes, [], words)
    assert report.as_markdown(loud_report).splitlines()[2].startswith(
        "**Warning: graded without a sandbox (--unsandboxed-learner-code):**")
    assert "graded without a sandbox" in report.as_html(loud_report)
    quiet_report = report.build("ada", "autodiff", outcomes, [], "bwrap")
    assert "Warning" not in report.as_markdown(quiet_report) + report.as_html(quiet_report)


def test_needs_bwrap_skips_where_bubblewrap_is_missing_and_fails_under_ci(no_bwrap, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs a working bubblewrap.*" + re.escape(MISSING)):
        require_bwrap()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI that is a failure"):
        require_bwrap()
