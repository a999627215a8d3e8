"""Submissions as plain data: from nbgrader's ``submitted/`` layout, or an LMS zip.

A submission travels to a worker as bytes (``files``: relative path -> content), so workers
need no shared filesystem. Reading is defensive: symlinks are not followed (a link to another
learner's folder or to the instructor's files would otherwise be copied as the learner's
work), nor are FIFOs or devices; oversized files, names that are not printable UTF-8 (a newline
in a name would forge a line of the report), paths nested too deeply and files past a count are
left out, the assignment's own files (notebooks, ``tinygrad_course/``) counted first; and each
such decision is a note for the report.

``nbgrader submit`` adds two files of its own to every submission, ``timestamp.txt`` and
``submission_secret.txt``. They are nbgrader's bookkeeping, not the learner's work: they are
kept aside (``Submission.bookkeeping``), never handed to grading as learner files, and the
writer puts them back into ``autograded/`` and ``feedback/`` as nbgrader's own ``autograde``
and ``generate_feedback`` would (``nbgrader release_feedback`` needs both).
"""

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import parse_utc

SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git"}
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_TOTAL_BYTES = 60 * 1024 * 1024
MAX_FILES = 200            # files kept from one submission (the assignment's own come first)
MAX_PATH_CHARS = 300       # characters of a kept file's path inside the submission
MAX_DEPTH = 12             # folders below the submission's top that are read
MAX_STUDENT_CHARS = 200    # a student id (folder name) longer than this is not graded
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
        h = hashlib.sha256((self.timestamp or "").encode("utf-8", "surrogateescape"))
        for name in sorted(self.files):
            h.update(name.encode("utf-8", "surrogateescape") + b"\0" + hashlib.sha256(self.files[name]).digest())
        for name in sorted(self.bookkeeping):
            h.update(b"nbgrader\0" + name.encode() + b"\0" + hashlib.sha256(self.bookkeeping[name]).digest())
        return h.hexdigest()

    def job(self):
        return {"student": self.student, "files": self.files, "timestamp": self.timestamp,
                "notes": list(self.notes), "digest": self.digest}


def shown(name, limit=120):
    """A file name as one printable line for the report: the bytes of a name that is not UTF-8 as
    ``\xff``, control characters (a newline could forge a line of the report) escaped, long names cut."""
    out = []
    for char in name:
        if 0xDC80 <= ord(char) <= 0xDCFF:  # os.fsdecode's stand-in for a byte that is not UTF-8
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif char.isprintable():
            out.append(char)
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    text = "".join(out)
    return text if len(text) <= limit else f"{text[:limit - 20]}...{text[-17:]}"


def _name_problem(relative):
    """Why a file's path cannot be kept as a learner file, or None."""
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8"
    if any(not char.isprintable() for char in relative):
        return "its name holds control characters (a newline, a tab, ...)"
    if len(relative) > MAX_PATH_CHARS:
        return f"its path is longer than {MAX_PATH_CHARS} characters"
    return None


def _is_assignment_file(relative):
    """A notebook at the top or a file of the engine package: read first, so that extra files
    cannot push the learner's own work past the size and count limits."""
    return ("/" not in relative and relative.endswith(".ipynb")) or relative.startswith("tinygrad_course/")


def _read_regular(path, limit):
    """The bytes of the regular file ``path`` (not following a link, not blocking on a FIFO), or
    ``(None, why)``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        return None, f"it could not be opened ({error.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "it is not a regular file"
        if info.st_size > limit:
            return None, f"its {info.st_size / 2 ** 20:.0f} MB are over the size limit"
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            return None, "it grew over the size limit while it was read"
        return data, None
    except OSError as error:
        return None, f"it could not be read ({error.strerror})"
    finally:
        os.close(fd)


def _walk(folder, notes):
    """``[(relative path, absolute path)]`` of the entries worth reading under ``folder``; links,
    special files, unreadable or too deep folders become notes instead."""
    found = []

    def unreadable(error):
        where = os.path.relpath(error.filename, folder) if error.filename else "?"
        notes.append(f"the folder {shown(where)} could not be read ({error.strerror}); what it holds was left out")

    for top, folders, names in os.walk(folder, onerror=unreadable):
        relative_top = os.path.relpath(top, folder)
        depth = 0 if relative_top == "." else relative_top.count(os.sep) + 1
        keep = []
        for name in sorted(folders):
            path = os.path.join(top, name)
            relative = os.path.normpath(os.path.join(relative_top, name))
            if name in SKIP_DIRS:
                continue
            if os.path.islink(path):
                notes.append(f"{shown(relative)} is a symbolic link; links are not followed, so it was left out")
            elif depth + 1 > MAX_DEPTH or len(relative) > MAX_PATH_CHARS:
                notes.append(f"the folder {shown(relative)} is nested too deeply; what it holds was left out")
            else:
                keep.append(name)
        folders[:] = keep
        for name in sorted(names):
            found.append((os.path.normpath(os.path.join(relative_top, name)), os.path.join(top, name)))
    return found


def read_submission(folder, student):
    folder = Path(folder)
    files, notes, total, bookkeeping = {}, [], 0, {}
    timestamp = None
    entries = _walk(folder, notes)
    entries.sort(key=lambda entry: (not _is_assignment_file(entry[0]), entry[0]))
    over_count = 0
    for relative, path in entries:
        relative = relative.replace(os.sep, "/")
        if os.path.islink(path):
            notes.append(f"{shown(relative)} is a symbolic link; links are not followed, so it was left out")
            continue
        problem = _name_problem(relative)
        if problem:
            notes.append(f"a file was left out because {problem}: {shown(relative)}")
            continue
        if relative in NBGRADER_FILES:
            data, why = _read_regular(path, MAX_BOOKKEEPING_BYTES)
            if data is None:
                notes.append(f"{relative} was left out: {why}; it is too odd to be nbgrader's own")
                continue
            if relative == "timestamp.txt":
                timestamp, why = _timestamp(data)
                if why:
                    notes.append(f"timestamp.txt was left out: {why}")
                    continue
            bookkeeping[relative] = data
            continue
        if len(files) >= MAX_FILES:
            over_count += 1
            continue
        data, why = _read_regular(path, min(MAX_FILE_BYTES, MAX_TOTAL_BYTES - total))
        if data is None:
            why = why.replace("size limit", "size limit of the submission") if total else why
            notes.append(f"{shown(relative)} was left out: {why}")
            continue
        files[relative] = data
        total += len(data)
    if over_count:
        notes.append(f"{over_count} more file(s) were left out: a submission keeps at most {MAX_FILES} files "
                     f"(the assignment's notebooks and engine first)")
    return Submission(student=student, files=files, timestamp=timestamp, notes=notes, bookkeeping=bookkeeping)


def _timestamp(data):
    """``(timestamp, None)``, or ``(None, why)`` when nbgrader could not read it as a date."""
    text = data.decode("utf-8", errors="replace").strip()[:100]
    if not text:
        return None, None
    try:
        parse_utc(text)
    except (ValueError, OverflowError, TypeError) as error:
        return None, f"{shown(text, 60)!r} is not a date nbgrader can read ({type(error).__name__})"
    return text, None


def valid_student_id(student):
    """A folder name that can be a learner's id everywhere it goes (gradebook, Dask keys, file
    names such as ``.grading/<assignment>/<student>.json``, the report): printable UTF-8, no ``/``,
    not hidden, at most ``MAX_STUDENT_CHARS`` characters."""
    return (bool(student) and "/" not in student and not student.startswith(".") and student.isprintable()
            and len(student) <= MAX_STUDENT_CHARS and _name_problem(student) is None)


def submissions(course_root, assignment, students=None):
    """Every ``submitted/<student>/<assignment>/`` folder (nbgrader's layout), sorted by id.

    A folder that is a symbolic link (or inside one: ``submitted/<student>`` linking to another
    learner's) is not read: the learner is graded as handing in nothing, and the report says why.
    """
    root = Path(course_root) / "submitted"
    found = []
    for folder in sorted(root.glob(f"*/{assignment}")):
        student = folder.parent.name
        if not valid_student_id(student):
            if not student.startswith("."):  # one learner's odd folder name must not stop the class
                warnings.warn(f"submitted/{shown(student)}/{assignment} is not graded: its folder name cannot be a "
                              f"student id (it is not printable UTF-8, or is longer than {MAX_STUDENT_CHARS} "
                              f"characters)", stacklevel=2)
            continue
        if students and student not in students:
            continue
        if folder.is_symlink() or folder.parent.is_symlink():
            linked = folder.parent if folder.parent.is_symlink() else folder
            found.append(Submission(student=student, files={}, notes=[
                f"submitted/{shown(linked.relative_to(root).as_posix())} is a symbolic link; links are not "
                f"followed, so nothing of it was graded"]))
            continue
        if not folder.is_dir():
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
