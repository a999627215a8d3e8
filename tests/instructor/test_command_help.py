"""Every option of the instructor's commands says in ``--help`` what it does."""

import argparse
import importlib.util

import pytest

from autograder.instructor import grade, insight, release


class _Built(Exception):
    def __init__(self, parser):
        self.parser = parser


def parser_of(command, monkeypatch):
    """The parser ``command.main`` builds, caught before it parses anything."""
    def catch(parser, *args, **kwargs):
        raise _Built(parser)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", catch)
    with pytest.raises(_Built) as built:
        command.main([])
    return built.value.parser


@pytest.mark.parametrize("command", [grade, insight, release], ids=lambda c: c.__name__)
def test_every_option_has_help(command, monkeypatch):
    parser = parser_of(command, monkeypatch)
    shown = [a for a in parser._actions if a.help is not argparse.SUPPRESS]
    silent = [a.option_strings or a.dest for a in shown if not (a.help or "").strip()]
    assert silent == [], f"{command.__name__}: these say nothing in --help"
    text = parser.format_help()
    assert parser.prog.startswith("python -m autograder.instructor.") and "(default: None)" not in text


def test_grading_without_the_instructor_extra_says_what_to_install(monkeypatch, capsys, tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    assert grade.main(["autodiff", "--course-root", str(tmp_path)]) == 2
    said = capsys.readouterr().err
    assert "dask[distributed]" in said and "pip install -e '.[instructor]'" in said
    assert grade.missing_packages(serial=True) == [], "--serial grades without Dask"


@pytest.mark.parametrize("option", ["--workers", "--cell-timeout", "--notebook-timeout", "--check-timeout",
                                    "--memory-mb", "--cpu-seconds"])
@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_limits_below_one_are_refused_with_the_option_named(option, value, capsys, tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("")
    with pytest.raises(SystemExit) as exit_:
        grade.main(["autodiff", "--course-root", str(tmp_path), option, value])
    said = capsys.readouterr().err
    assert exit_.value.code == 2 and option in said and ("above 0" in said or "not a number" in said), said


class _Graded(Exception):
    def __init__(self, settings):
        self.settings = settings


def test_a_positive_limit_is_taken_as_a_number(monkeypatch, tmp_path):
    def stop_before_grading(*args, **kwargs):
        raise _Graded(kwargs)

    monkeypatch.setattr(grade, "grade_class", stop_before_grading)
    monkeypatch.setattr(grade.sandbox, "resolve", lambda mode: None)
    monkeypatch.setattr(grade, "missing_packages", lambda **kwargs: [])
    (tmp_path / "nbgrader_config.py").write_text("")
    with pytest.raises(_Graded) as graded:
        grade.main(["autodiff", "--course-root", str(tmp_path), "--check-timeout", "2.5", "--workers", "3"])
    assert graded.value.settings["check_timeout"] == 2.5 and graded.value.settings["workers"] == 3
