"""The gradebook side: nbgrader's ``Gradebook`` API only (sqlite or PostgreSQL via ``db_url``).

- ``copy_assignment`` seeds a gradebook with an assignment's structure (notebooks, graded,
  solution, task and source cells): the scratch gradebook each worker grades into, or a
  PostgreSQL gradebook from the course's sqlite one.
- ``Writer`` is the single writer: it merges each graded submission into the main gradebook
  exactly as nbgrader's ``SaveAutoGrades`` would (a manual score keeps its precedence and
  flags the cell for review), then writes ``autograded/`` and ``feedback/`` and a ledger
  entry that lets a rerun skip what is already graded and keeps, per exercise, whether it
  passed and the id of the slip that failed it, from the fields of the judge's verdict
  (``"exercises"``: ``grading.verdicts``; read by ``autograder.instructor.insight``).

  Both folders carry nbgrader's own ``timestamp.txt`` and ``submission_secret.txt``, as
  ``nbgrader autograde`` and ``generate_feedback`` leave them: ``generate_feedback`` compares
  the timestamps (equal: it keeps our feedback) and ``release_feedback`` reads both (the
  secret names each learner's HTML in the exchange). ``nbgrader fetch_feedback`` hands
  learners one HTML file per submitted notebook and nothing else, so the grading report is
  written as ``grading_report.md`` for the instructor and also shown, rendered from
  ``grading_report.json`` (``grading/report.py``), at the top of each HTML.
- ``export_csv`` writes scores per learner and exercise from the gradebook, and never replaces
  a CSV that lists a learner the gradebook in use does not (``Shrinking``).

"Already graded" belongs to the gradebook being written: a submission is skipped only when the
ledger says its exact bytes were graded *into this gradebook* and the gradebook still holds a
score for every grade cell of every notebook. Switching ``--db-url`` (or losing ``gradebook.db``)
grades everyone again into the gradebook in use.
"""

import contextlib
import csv
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SAWarning

from autograder.instructor.grading import report
from autograder.instructor.grading.verdicts import exercise_verdicts


class Shrinking(RuntimeError):
    """Writing this file would drop learners an earlier one listed: the old file is kept."""


LEDGER = ".grading"  # <course root>/.grading/<assignment>/<student>.json

# nbgrader's Gradebook.add_submission builds objects in a way SQLAlchemy 2 warns about on every
# new submission (SAWarning "... not in session, add operation along ... will not proceed"):
# harmless, and nbgrader's to fix. Silenced for every process that grades (a worker imports this
# module before it runs nbgrader's Autograde), and around each use here (``quiet_gradebook``),
# which holds even where the process's filters were reset (e.g. under pytest).
warnings.filterwarnings("ignore", category=SAWarning, module=r"nbgrader\.api")


@contextlib.contextmanager
def quiet_gradebook():
    """nbgrader's gradebook calls without SQLAlchemy's SAWarnings (other warnings still show)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=SAWarning)
        yield


def copy_assignment(source_url, target_url, assignment, course_id):
    """Copy ``assignment`` (structure only, no submissions) from one gradebook to another."""
    with Gradebook(source_url, course_id) as source, Gradebook(target_url, course_id) as target:
        master = source.find_assignment(assignment)
        target.update_or_create_assignment(master.name, duedate=master.duedate)
        for notebook in master.notebooks:
            target.update_or_create_notebook(notebook.name, master.name, kernelspec=notebook.kernelspec)
            for cell in notebook.grade_cells:
                target.update_or_create_grade_cell(cell.name, notebook.name, master.name,
                                                   max_score=cell.max_score, cell_type=cell.cell_type)
            for cell in notebook.solution_cells:
                target.update_or_create_solution_cell(cell.name, notebook.name, master.name)
            for cell in notebook.task_cells:
                target.update_or_create_task_cell(cell.name, notebook.name, master.name,
                                                  max_score=cell.max_score, cell_type=cell.cell_type)
            for cell in notebook.source_cells:
                target.update_or_create_source_cell(cell.name, notebook.name, master.name,
                                                    cell_type=cell.cell_type, locked=cell.locked,
                                                    source=cell.source, checksum=cell.checksum)


def has_assignment(db_url, assignment, course_id):
    with Gradebook(db_url, course_id) as gradebook:
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            return False
        return True


def assignment_layout(db_url, assignment, course_id):
    """``{notebook: {"grade_ids": [...], "max_score": float}}`` for the assignment."""
    with Gradebook(db_url, course_id) as gradebook:
        master = gradebook.find_assignment(assignment)
        return {nb.name: {"grade_ids": sorted(c.name for c in nb.grade_cells + nb.task_cells),
                          "cell_ids": sorted(c.name for c in nb.source_cells),
                          "max_score": float(nb.max_score)}
                for nb in master.notebooks}


def read_scores(db_url, assignment, student, course_id):
    """What nbgrader saved for one submission: per notebook, grades and comments."""
    found = {}
    with Gradebook(db_url, course_id) as gradebook:
        submission = gradebook.find_submission(assignment, student)
        for notebook in submission.notebooks:
            found[notebook.name] = {
                "grades": {g.name: {"auto_score": g.auto_score, "needs_manual_grade": g.needs_manual_grade}
                           for g in notebook.grades},
                "comments": {c.name: c.auto_comment for c in notebook.comments},
                "late_penalty": notebook.late_submission_penalty,
            }
    return found


def zero_grades(db_url, assignment, student, course_id, found):
    """Set ``auto_score`` to 0 for ``{notebook: {grade_id: ...}}`` (what the verifier overturned)."""
    if not found:
        return
    with Gradebook(db_url, course_id) as gradebook:
        for notebook, grade_ids in found.items():
            for grade_id in grade_ids:
                gradebook.find_grade(grade_id, notebook, assignment, student).auto_score = 0.0
        gradebook.db.commit()


def gradebook_id(db_url):
    """Which gradebook ``db_url`` names, whatever the driver or password: backend, user, host, port,
    database (a sqlite file by its resolved path, so a symlinked course folder is the same gradebook)."""
    url = make_url(db_url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{os.path.realpath(database) if database not in ('', ':memory:') else database}"
    return f"{url.get_backend_name()}://{url.username or ''}@{url.host or ''}:{url.port or ''}/{database}"


def _atomic_tree(files, destination):
    """Replace folder ``destination`` by ``files`` (relative path -> bytes) in one rename."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=destination.parent))
    for name, data in files.items():
        path = staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if destination.exists():
        old = destination.with_name(f".old-{destination.name}")
        if old.exists():
            shutil.rmtree(old)
        destination.rename(old)
        staging.rename(destination)
        shutil.rmtree(old)
    else:
        staging.rename(destination)


class Writer:
    """Merges results into the main gradebook and course folders (one instance, one process)."""

    def __init__(self, course_root, db_url, assignment, course_id):
        self.root, self.db_url = Path(course_root), db_url
        self.assignment, self.course_id = assignment, course_id
        self.gradebook = Gradebook(db_url, course_id)
        self.gradebook_id = gradebook_id(db_url)
        self._cells = None

    def cells(self):
        """``{exercise: (notebook, max_score)}``: the assignment's graded cells (read once)."""
        if self._cells is None:
            with quiet_gradebook():
                master = self.gradebook.find_assignment(self.assignment)
                self._cells = {cell.name: (notebook.name, float(cell.max_score or 0.0))
                               for notebook in master.notebooks for cell in notebook.grade_cells}
        return self._cells

    def close(self):
        self.gradebook.close()

    def ledger_path(self, student):
        return self.root / LEDGER / self.assignment / f"{student}.json"

    def is_done(self, student, digest):
        """Graded before from these exact bytes, with every notebook finished (not a grader error),
        into this very gradebook, which still holds a score for every grade cell (see the module
        docstring: a ledger entry alone is not a grade)."""
        entry = self._entry(student)
        autograded = self.root / "autograded" / student / self.assignment
        if not (entry.get("digest") == digest and entry.get("complete") and autograded.is_dir()):
            return False
        # entries from before gradebooks were recorded name none: the gradebook's own check decides
        if "gradebooks" in entry and self.gradebook_id not in entry["gradebooks"]:
            return False
        return self.holds(student)

    def holds(self, student):
        """The gradebook has ``student``'s submission with a score for every grade cell of every notebook."""
        with quiet_gradebook():
            try:
                submission = self.gradebook.find_submission(self.assignment, student)
            except MissingEntry:
                return False
            expected = {notebook.name for notebook in submission.assignment.notebooks}
            notebooks = {notebook.name: notebook for notebook in submission.notebooks}
            if set(notebooks) != expected:
                return False
            return all(grade.auto_score is not None or grade.manual_score is not None or grade.needs_manual_grade
                       for notebook in notebooks.values() for grade in notebook.grades)

    def _entry(self, student):
        try:
            entry = json.loads(self.ledger_path(student).read_text())
        except (OSError, ValueError):
            return {}
        return entry if isinstance(entry, dict) else {}

    def merge(self, result, bookkeeping=None):
        """Write one graded submission; only then record it as done.

        ``bookkeeping``: nbgrader's own files from the submission (``timestamp.txt``,
        ``submission_secret.txt``: ``collect.Submission.bookkeeping``), copied into
        ``autograded/`` and ``feedback/`` unchanged, as nbgrader does.
        """
        student = result["student"]
        with quiet_gradebook():
            self._merge_grades(self.gradebook, student, result)
        nbgrader_files = nbgrader_bookkeeping(result, bookkeeping)
        _atomic_tree({**result["files"]["autograded"], **nbgrader_files},
                     self.root / "autograded" / student / self.assignment)
        if result["files"].get("feedback") is not None:
            _atomic_tree({**with_report(result["files"]["feedback"]), **nbgrader_files},
                         self.root / "feedback" / student / self.assignment)
        entry = {k: result.get(k) for k in ("student", "digest", "timestamp", "complete", "notes", "incidents",
                                        "sandbox", "seconds", "timings")}
        entry["notebooks"] = {name: {k: v for k, v in outcome.items() if k in ("status", "message", "score",
                                                                                "max_score", "notes")}
                              for name, outcome in result["notebooks"].items()}
        # per exercise: passed, and the slip that failed it (autograder.instructor.insight reads these)
        entry["exercises"] = exercise_verdicts(result, self.cells())
        # the gradebooks that hold these bytes' grades: another gradebook still has them to grade
        before = self._entry(student)
        held = before.get("gradebooks", []) if before.get("digest") == result.get("digest") else []
        entry["gradebooks"] = sorted({*held, self.gradebook_id})
        path = self.ledger_path(student)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entry, indent=1, sort_keys=True))
        os.replace(tmp, path)

    def _merge_grades(self, gb, student, result):
        try:
            gb.update_or_create_student(student)
            extra = {"timestamp": result["timestamp"]} if result.get("timestamp") else {}
            gb.update_or_create_submission(self.assignment, student, **extra)
            for name, outcome in result["notebooks"].items():
                self._merge_notebook(gb.find_submission_notebook(name, self.assignment, student), outcome)
            gb.db.commit()
        except Exception:
            gb.db.rollback()
            raise

    @staticmethod
    def _merge_notebook(submitted, outcome):
        graded = outcome["status"] == "graded"
        for grade in submitted.grades:
            new = outcome["grades"].get(grade.name) if graded else None
            if new is None:  # nothing to grade: nbgrader's rule for a missing notebook
                grade.auto_score, grade.needs_manual_grade = 0.0, grade.manual_score is not None
                continue
            grade.auto_score = new["auto_score"]
            grade.needs_manual_grade = bool(new["needs_manual_grade"]) or grade.manual_score is not None
        for comment in submitted.comments:
            comment.auto_comment = outcome["comments"].get(comment.name) if graded else None
        submitted.late_submission_penalty = outcome.get("late_penalty") if graded else None


def nbgrader_bookkeeping(result, bookkeeping=None):
    """nbgrader's files for ``autograded/`` and ``feedback/``: the submission's own, else a
    ``timestamp.txt`` from the result's timestamp (nothing when the submission had none)."""
    files = {"timestamp.txt": result["timestamp"].encode()} if result.get("timestamp") else {}
    files.update(bookkeeping or {})
    return files


_BODY_START = re.compile(rb'<body[^>]*>\s*(?:<a name="top"></a>\s*)?(?:<div class="container">)?')


def with_report(feedback):
    """The feedback files with the grading report shown at the top of each notebook's HTML.

    ``nbgrader fetch_feedback`` delivers only ``<notebook>.html`` files, so this is how the
    report reaches learners: rendered from the report's data (``grading/report.py``).
    """
    data = report.read(feedback)
    if data is None:
        return dict(feedback)
    block = ("\n" + report.as_html(data)).encode()
    out = dict(feedback)
    for name, page in feedback.items():
        if name.endswith(".html") and "/" not in name:
            found = _BODY_START.search(page)
            if found:
                out[name] = page[:found.end()] + block + page[found.end():]
    return out


def export_csv(db_url, assignment, course_id, path, ledger_dir=None):
    """One row per learner: total, late penalty, each exercise (grade cell), and any problems."""
    with Gradebook(db_url, course_id) as gradebook:
        master = gradebook.find_assignment(assignment)
        cells = [(nb.name, c.name) for nb in master.notebooks for c in nb.grade_cells + nb.task_cells]
        exercise_names = [name for _, name in cells]
        rows = []
        for student in sorted(gradebook.students, key=lambda s: s.id):
            try:
                submission = gradebook.find_submission(assignment, student.id)
            except MissingEntry:
                rows.append({"student_id": student.id, "score": 0.0, "max_score": master.max_score,
                             "late_penalty": 0.0, "problems": "no submission"})
                continue
            row = {"student_id": student.id, "score": submission.score, "max_score": submission.max_score,
                   "late_penalty": submission.late_submission_penalty or 0.0}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    row[grade.name] = grade.score
            row["problems"] = _problems(ledger_dir, student.id)
            rows.append(row)
    path = Path(path)
    dropped = sorted(listed_learners(path) - {row["student_id"] for row in rows})
    if dropped:
        raise Shrinking(f"kept {path} as it was: it lists {_few(dropped)}, whom the gradebook in use "
                        f"({make_url(db_url).render_as_string(hide_password=True)}) does not hold. Grade "
                        f"them into this gradebook, or pass --csv to write the table somewhere else")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as out:
        writer = csv.DictWriter(out, ["student_id", "score", "max_score", "late_penalty", *exercise_names,
                                      "problems"], restval=0.0)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)  # an interrupted run leaves the old table, never half of one
    return path


def listed_learners(path):
    """The ``student_id``s of an existing grades CSV (none if there is no readable one)."""
    try:
        with open(path, newline="") as table:
            return {row["student_id"] for row in csv.DictReader(table) if row.get("student_id")}
    except (OSError, ValueError, KeyError, csv.Error):
        return set()


def _few(names, limit=5):
    shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
    return f"{len(names)} learner(s) ({shown})"


def _problems(ledger_dir, student):
    if ledger_dir is None:
        return ""
    try:
        entry = json.loads((Path(ledger_dir) / f"{student}.json").read_text())
    except (OSError, ValueError):
        return ""
    found = [f"{name}: {nb['message']}" for name, nb in sorted(entry["notebooks"].items()) if nb.get("message")]
    return " | ".join(found)
