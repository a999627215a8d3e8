"""Submissions as plain data: from nbgrader's ``submitted/`` layout, or an LMS zip.

A submission travels to a worker as bytes (``files``: relative path -> content), so workers
need no shared filesystem. Reading is defensive: symlinks are not followed (a link to another
learner's folder or to the instructor's files would otherwise be copied as the learner's
work), oversized files are left out, and each such decision is a note for the report.

``nbgrader submit`` adds two files of its own to every submission, ``timestamp.txt`` and
``submission_secret.txt``. They are nbgrader's bookkeeping, not the learner's work: they are
kept aside (``Submission.bookkeeping``), never handed to grading as learner files, and the
writer puts them back into ``autograded/`` and ``feedback/`` as nbgrader's own ``autograde``
and ``generate_feedback`` would (``nbgrader release_feedback`` needs both).
"""

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git"}
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_TOTAL_BYTES = 60 * 1024 * 1024
# Written by `nbgrader submit` at the top of each submission (exchange/default/submit.py).
NBGRADER_FILES = ("timestamp.txt", "submission_secret.txt")
MAX_BOOKKEEPING_BYTES = 4096
# One folder per learner in the zip (``<anything>/<student>/<file>``, engine files under
# ``tinygrad_course/``); pass --zip-regexp for an LMS that encodes the learner in file names.
DEFAULT_ZIP_REGEXP = r"^.*/(?P<student_id>[^/]+)/(?P<file_id>tinygrad_course/[^/]+\.py|[^/]+\.ipynb)$"


@dataclass
class Submission:
    student: str
    files: dict  # relative path -> bytes
    timestamp: str | None = None
    notes: list = field(default_factory=list)
    bookkeeping: dict = field(default_factory=dict)  # nbgrader's own files (NBGRADER_FILES) -> bytes

    @property
    def digest(self):
        """Changes whenever any submitted byte (or nbgrader's timestamp or secret) changes: what
        resuming keys on, so feedback is always written with the secret it is released under."""
        h = hashlib.sha256((self.timestamp or "").encode())
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        for name in sorted(self.bookkeeping):
            h.update(b"nbgrader\0" + name.encode() + b"\0" + hashlib.sha256(self.bookkeeping[name]).digest())
        return h.hexdigest()

    def job(self):
        return {"student": self.student, "files": self.files, "timestamp": self.timestamp,
                "notes": list(self.notes), "digest": self.digest}


def read_submission(folder, student):
    folder = Path(folder)
    files, notes, total, bookkeeping = {}, [], 0, {}
    timestamp = None
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if any(part in SKIP_DIRS for part in path.relative_to(folder).parts):
            continue
        if path.is_symlink():
            notes.append(f"{relative} is a symbolic link; links are not followed, so it was left out")
            continue
        if not path.is_file():
            continue
        size = path.stat().st_size
        if relative in NBGRADER_FILES:
            if size > MAX_BOOKKEEPING_BYTES:
                notes.append(f"{relative} ({size} bytes) is too large to be nbgrader's own; it was left out")
                continue
            bookkeeping[relative] = path.read_bytes()
            if relative == "timestamp.txt":
                timestamp = bookkeeping[relative].decode(errors="replace").strip()[:100] or None
            continue
        if size > MAX_FILE_BYTES or total + size > MAX_TOTAL_BYTES:
            notes.append(f"{relative} ({size / 2**20:.0f} MB) is over the size limit; it was left out")
            continue
        files[relative] = path.read_bytes()
        total += size
    return Submission(student=student, files=files, timestamp=timestamp, notes=notes, bookkeeping=bookkeeping)


def valid_student_id(student):
    return bool(student) and "/" not in student and not student.startswith(".")


def submissions(course_root, assignment, students=None):
    """Every ``submitted/<student>/<assignment>/`` folder (nbgrader's layout), sorted by id."""
    root = Path(course_root) / "submitted"
    found = []
    for folder in sorted(root.glob(f"*/{assignment}")):
        student = folder.parent.name
        if not folder.is_dir() or folder.is_symlink() or not valid_student_id(student):
            continue
        if students and student not in students:
            continue
        found.append(read_submission(folder, student))
    return found


def unpack_zip(course_root, assignment, zip_file, regexp=DEFAULT_ZIP_REGEXP):
    """Run ``nbgrader zip_collect`` on an LMS download; returns its log for the summary.

    The zip is placed where zip_collect looks for it (``downloaded/<assignment>/archive/``);
    nbgrader extracts it and files each learner's notebooks and engine under ``submitted/``.
    """
    archive = Path(course_root) / "downloaded" / assignment / "archive"
    if archive.exists():
        shutil.rmtree(archive)
    archive.mkdir(parents=True)
    shutil.copy(zip_file, archive / Path(zip_file).name)
    command = [sys.executable, "-m", "nbgrader", "zip_collect", assignment, "--force",
               f"--FileNameCollectorPlugin.named_regexp={regexp}",
               "--FileNameCollectorPlugin.valid_ext=['.ipynb', '.py']"]
    result = subprocess.run(command, cwd=course_root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader zip_collect failed on {zip_file}:\n{result.stdout}\n{result.stderr}")
    return result.stderr
