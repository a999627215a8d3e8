"""Reading submissions (``grading/collect.py``) on its own: what a learner's folder holds becomes
plain data, and everything odd in it becomes a note for that learner's report, never an error,
never a file read from somewhere else."""

import os

import pytest

from autograder.instructor.grading import collect

A = "autodiff"


def folder(root, student="ada"):
    path = root / "submitted" / student / A
    (path / "tinygrad_course").mkdir(parents=True)
    (path / "01.ipynb").write_text("{}")
    (path / "tinygrad_course" / "engine.py").write_text("x = 1\n")
    return path


def test_a_plain_submission_is_its_files_with_nbgraders_own_aside(tmp_path):
    path = folder(tmp_path)
    (path / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")
    (path / "submission_secret.txt").write_text("s3cret")
    got = collect.read_submission(path, "ada")
    assert got.files == {"01.ipynb": b"{}", "tinygrad_course/engine.py": b"x = 1\n"} and got.notes == []
    assert set(got.bookkeeping) == set(collect.NBGRADER_FILES) and got.timestamp.startswith("2026-12-01")


def test_links_fifos_and_odd_names_become_notes_not_files(tmp_path):
    path = folder(tmp_path)
    outside = tmp_path / "instructor-only.txt"
    outside.write_text("hidden tests")
    (path / "stolen.txt").symlink_to(outside)
    (path / "linked_dir").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(path / "pipe")
    (path / "forged\nTotal: 99 of 99").write_text("x")
    os.close(os.open(os.fsencode(path) + b"/bad\xffname", os.O_CREAT | os.O_WRONLY))
    got = collect.read_submission(path, "ada")
    assert set(got.files) == {"01.ipynb", "tinygrad_course/engine.py"}
    notes = "\n".join(got.notes)
    assert b"hidden tests" not in b"".join(got.files.values())
    assert "stolen.txt is a symbolic link" in notes and "linked_dir is a symbolic link" in notes
    assert "pipe was left out: it is not a regular file" in notes
    assert "forged\\nTotal" in notes and "\nTotal: 99 of" not in notes, "a newline in a name cannot forge a line"
    assert "bad\\xffname" in notes


def test_size_count_and_depth_limits_keep_the_assignment_first(tmp_path, monkeypatch):
    monkeypatch.setattr(collect, "MAX_FILES", 3)
    monkeypatch.setattr(collect, "MAX_FILE_BYTES", 100)
    monkeypatch.setattr(collect, "MAX_DEPTH", 2)
    path = folder(tmp_path)
    for name in ("a.txt", "b.txt", "c.txt"):
        (path / name).write_text("small")
    (path / "aaa_big.bin").write_bytes(b"0" * 101)
    (path / "d1" / "d2" / "d3").mkdir(parents=True)
    (path / "d1" / "d2" / "d3" / "deep.txt").write_text("deep")
    got = collect.read_submission(path, "ada")
    assert {"01.ipynb", "tinygrad_course/engine.py"} <= set(got.files) and len(got.files) == 3
    notes = "\n".join(got.notes)
    assert "more file(s) were left out" in notes and "nested too deeply" in notes
    assert "deep.txt" not in got.files


def test_a_timestamp_nbgrader_cannot_read_is_left_out_with_a_note(tmp_path):
    path = folder(tmp_path)
    (path / "timestamp.txt").write_text("next tuesday")
    got = collect.read_submission(path, "ada")
    assert got.timestamp is None and "is not a date nbgrader can read" in " ".join(got.notes)


def test_the_digest_is_a_function_of_the_bytes(tmp_path):
    first = collect.read_submission(folder(tmp_path, "ada"), "ada").digest
    assert collect.read_submission(folder(tmp_path, "ben"), "ben").digest == first
    (tmp_path / "submitted" / "ben" / A / "01.ipynb").write_text("{ }")
    assert collect.read_submission(tmp_path / "submitted" / "ben" / A, "ben").digest != first


def test_submissions_skips_odd_ids_and_grades_a_linked_folder_as_nothing(tmp_path):
    folder(tmp_path, "ada")
    folder(tmp_path, "ben")
    (tmp_path / "submitted" / "eve").symlink_to(tmp_path / "submitted" / "ada", target_is_directory=True)
    folder(tmp_path, "bad\tid")
    with pytest.warns(UserWarning, match="cannot be a student id"):
        found = {s.student: s for s in collect.submissions(tmp_path, A)}
    assert sorted(found) == ["ada", "ben", "eve"]
    assert found["eve"].files == {} and "symbolic link" in found["eve"].notes[0]
    with pytest.warns(UserWarning):
        assert [s.student for s in collect.submissions(tmp_path, A, students=["ben"])] == ["ben"]
