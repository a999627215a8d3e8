"""Grade a whole class with nbgrader: in parallel, resumable, on one machine or a Dask cluster.

Run it where nbgrader's own commands run, in the course root (the folder that holds
``nbgrader_config.py``), between ``nbgrader collect`` and ``nbgrader release_feedback``:

    python -m autograder.instructor.grade autodiff                       # every core of this machine
    python -m autograder.instructor.grade autodiff --zip lms-download.zip  # an LMS zip, via nbgrader zip_collect
    python -m autograder.instructor.grade autodiff --workers 4 --regrade --csv grades.csv
    python -m autograder.instructor.grade autodiff --dask tcp://scheduler:8786 --db-url postgresql://...

Every option is optional and ``--help`` says what each does; the gradebook is the course's
sqlite ``gradebook.db`` unless ``--db-url`` names another (``postgresql://`` URLs use psycopg2
when psycopg 3 is not installed).

Fail closed: learner code runs only in bubblewrap (``autograder.instructor.sandbox``). Where
bubblewrap is missing or refused, the command refuses to grade, says why and what to do
(``apt-get install -y bubblewrap``; on macOS or Windows, grade inside a Linux container or VM),
and runs nothing. ``--unsandboxed-learner-code`` runs every learner's code with your rights
instead (it can read and change your files and reach the network): for submissions you trust
only, and the summary and every learner's report say so.

What it does, using nbgrader's own machinery throughout:
  1. (``--zip``) ``nbgrader zip_collect`` files the download into ``submitted/``.
  2. Each learner's submission is one job: on a worker, nbgrader's ``Autograde``
     converter grades it in a scratch course root, one notebook at a time, with kernels forked
     from a warm, sandboxed factory (see ``autograder.instructor.grading``). The same function runs
     on every Dask worker; locally a ``distributed.LocalCluster`` (one single-threaded worker
     process per core) runs it, so a worker that dies is replaced and its work retried.
  3. One writer (this process) merges every result into nbgrader's gradebook (sqlite or
     PostgreSQL through ``db_url``), writes ``autograded/<student>/<assignment>/`` and
     ``feedback/<student>/<assignment>/`` (HTML from nbgrader's ``GenerateFeedback``, the
     grading report at its top and in ``grading_report.md``, and nbgrader's ``timestamp.txt``
     and ``submission_secret.txt``), and a ledger entry in ``.grading/<assignment>/<student>.json``.
     ``nbgrader export``, the formgrader, ``nbgrader generate_feedback`` and
     ``nbgrader release_feedback`` see every grade and every feedback file.
  4. A rerun skips submissions whose bytes are unchanged since they were graded into the
     gradebook in use (``--regrade`` to force; another ``--db-url`` grades everyone again); a
     submission that hit a grader error, or whose worker died, is retried. Ctrl-C stops the run
     and keeps what was graded: rerun the same command to resume. The CSV, the instructor's
     class insight next to it (``insight-<assignment>.html``: pass rate, score distribution and
     common slips per exercise, ``autograder.instructor.insight``) and a summary end it; the summary says
     what to run next. Neither the CSV nor the insight page ever replaces one that listed a
     learner the gradebook in use does not hold: the old file is kept and the summary says so.

Dask workers need this repository importable (``pip install -e .`` or ``PYTHONPATH``), the
course's Python environment, and bubblewrap; start each with one thread, e.g.
``dask worker tcp://scheduler:8786 --nthreads 1 --nworkers <cores>``.
"""

import argparse
import importlib.util
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autograder.instructor import insight, judge, sandbox
from autograder.instructor.grading import book, bundle, collect
from autograder.instructor.grading.submission import grade_submission
from autograder.instructor.settings import (  # noqa: F401 - CourseRootError: raised through here
    CONFIG_FILE,
    CourseRootError,
    course_settings,
    database_url,
    find_course_root,
)

INTERRUPTED = 130  # the shell's exit status for a command stopped by Ctrl-C (128 + SIGINT)


@dataclass
class Summary:
    graded: list = field(default_factory=list)         # students merged into the gradebook
    skipped: list = field(default_factory=list)        # unchanged since last graded
    failed: dict = field(default_factory=dict)         # student -> grader error (not merged)
    problems: dict = field(default_factory=dict)       # student -> [notebook problem, ...] (merged)
    seconds: float = 0.0
    sandbox: str = ""
    unconfined: bool = False                           # learner code ran with the grader's rights
    csv: str = ""
    insight: str = ""                                  # the instructor's class insight (HTML)
    insight_error: str = ""
    csv_error: str = ""                                # why the CSV was not (re)written
    lost: dict = field(default_factory=dict)           # student -> what happened to the worker that died
    interrupted: bool = False                          # stopped by Ctrl-C; the graded part is kept
    submission_seconds: list = field(default_factory=list)
    assignment: str = ""
    course_root: str = ""

    def next_steps(self):
        """What the instructor runs next, in nbgrader's exchange cycle."""
        if not self.assignment:
            return []
        where = "" if not self.course_root or Path(self.course_root) == Path.cwd().resolve() \
            else f"cd {self.course_root} && "
        return ["next: the learners' feedback, with nbgrader's commands in the course root:",
                f"  {where}nbgrader generate_feedback {self.assignment} && "
                f"nbgrader release_feedback {self.assignment}",
                "  (learners then run: nbgrader fetch_feedback " + self.assignment + ")"]

    def text(self):
        lines = [f"graded {len(self.graded)} submission(s), skipped {len(self.skipped)} already graded, "
                 f"{len(self.failed)} not graded because of grader errors, in {self.seconds:.1f} s"]
        if self.submission_seconds:
            lines.append(f"mean time per submission on a worker: "
                         f"{sum(self.submission_seconds) / len(self.submission_seconds):.1f} s")
        lines.append(f"sandbox: {self.sandbox}")
        if self.problems:
            lines.append(f"notebooks graded with problems ({sum(map(len, self.problems.values()))}):")
            lines += [f"  {student}: {problem}" for student in sorted(self.problems)
                      for problem in self.problems[student]]
        if self.lost:
            lines.append(f"grading workers that died mid-grade ({len(self.lost)}):")
            lines += [f"  {student}: {what}" for student, what in sorted(self.lost.items())]
        if self.failed:
            lines.append("not graded (rerun to retry):")
            lines += [f"  {student}: {error.strip().splitlines()[-1] if error.strip() else error}"
                      for student, error in sorted(self.failed.items())]
        if self.csv_error:
            lines.append(f"scores per learner and exercise not written: {self.csv_error}")
        elif self.csv:
            lines.append(f"scores per learner and exercise: {self.csv}")
        if self.insight:
            lines.append(f"class insight (pass rates, scores, common slips; instructor only): {self.insight}")
        elif self.insight_error:
            lines.append(f"class insight not written: {self.insight_error}")
        if self.interrupted:
            lines.append("interrupted (Ctrl-C): what was graded is in the gradebook; to resume, run the same "
                         "command again (graded submissions are skipped)")
        else:
            lines += self.next_steps()
        if self.unconfined:  # last, where the terminal leaves it
            lines += unconfined_warning()
        return "\n".join(lines)


def unconfined_warning():
    """The closing summary's warning for a run with ``--unsandboxed-learner-code``."""
    rule = "!" * 78
    return [rule,
            f"WARNING: NO SANDBOX. This run was asked for with {sandbox.UNCONFINED_OPTION}: every",
            "learner's code ran as you, with your rights. It could read and change every file you can",
            "(the gradebook, the hidden tests, other learners' work, your home folder) and reach the",
            "network; only the resource limits applied. Trust these grades, and this machine, only as",
            "far as you trust every submission. Each learner's report says it was graded unconfined.",
            "To grade safely: install bubblewrap (apt-get install -y bubblewrap), or on macOS or",
            "Windows grade inside a Linux container or VM (README: \"Grading on macOS or Windows\").",
            rule]


def _tools_on_path():
    """nbgrader runs ``alembic`` (from this Python's bin folder) when it creates a gradebook."""
    tools = os.path.dirname(sys.executable)
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([tools, os.environ.get("PATH", "")])


def _local(dask):
    """Grading on this machine (in-process or a LocalCluster): scratch folders are ours to clean."""
    return dask in (None, "local")


def _executor(workers, dask):
    """``(submit, as_completed, close, share, lost)`` for Dask (local cluster or address), or in-process.
    ``lost()``: the keys of jobs that were running on a worker that died."""
    if dask is None and workers == 0:
        def submit(data, job):
            with book.quiet_gradebook():  # what a worker process has by importing book
                return _Done(grade_submission(data, job))
        return submit, lambda futures: iter(futures), lambda: None, lambda data: data, set
    from distributed import Client, LocalCluster, as_completed
    if dask in (None, "local"):
        with _sigint_ignored():  # the workers inherit it: Ctrl-C is this process's to handle, cleanly
            cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                   processes=True, host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    else:
        cluster, client = None, Client(dask)

    def submit(data, job):
        return client.submit(grade_submission, data, job, pure=False, key=job["key"])

    def close():
        client.close()
        if cluster is not None:
            cluster.close()

    def lost():
        found = set()
        for _, event in client.get_events("all"):  # the scheduler's record of workers it lost
            if isinstance(event, dict) and event.get("action") == "remove-worker" and not event.get("expected"):
                found.update(str(key) for key in event.get("processing-tasks", ()))
        return found

    def share(data):
        # a task's result, not scattered data: the scheduler keeps how to make it, so a worker that
        # dies holding the only copy costs a recomputation, not every submission still to grade
        return client.submit(_bundle, data, pure=False, key=f"bundle-{uuid.uuid4().hex[:8]}")

    return submit, as_completed, close, share, lost


def _bundle(data):
    return data


class _sigint_ignored:
    """SIGINT ignored while worker processes start (only the main thread may change it)."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class _Done:
    """A finished in-process result with the part of a future's interface used below."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def grade_class(assignment, course_root=None, *, workers=None, dask=None, db_url=None, students=None,
                regrade=False, zip_file=None, zip_regexp=collect.DEFAULT_ZIP_REGEXP, csv_path=None,
                feedback=True, sandbox_mode="bwrap", cell_timeout=None, notebook_timeout=900, interrupt_grace=5,
                check_timeout=judge.REQUEST_TIMEOUT, limits=None, scratch=None, progress=True, log=print):
    """Grade every submission in ``<course root>/submitted/``; ``course_root`` defaults to the
    current folder, which must then be an nbgrader course root (``CourseRootError`` if not).
    ``sandbox_mode``: ``bwrap`` (``sandbox.SandboxUnavailable``, before anything is read or run,
    where bubblewrap does not work) or ``unconfined`` (learner code with the grader's rights).
    ``check_timeout``: seconds the judge gives the learner's code on one of its inputs."""
    started = time.monotonic()
    mode, sandbox_words = sandbox.resolve(sandbox_mode)  # first: fail closed before touching anything
    if mode == "bwrap":
        sandbox_words += f"; {sandbox.process_limit()}"
    if mode == "unconfined":
        log(f"WARNING: {sandbox.UNCONFINED_OPTION}: learner code runs WITHOUT a sandbox, with your rights")
    _tools_on_path()
    course_root = find_course_root(course_root)
    course_id, default_db = course_settings(course_root)
    db_url = database_url(db_url) or default_db
    if zip_file:
        collect.unpack_zip(course_root, assignment, zip_file, zip_regexp)
    if db_url != default_db and not book.has_assignment(db_url, assignment, course_id):
        book.copy_assignment(default_db, db_url, assignment, course_id)
        log(f"copied assignment {assignment} from {default_db} into {db_url}")
    settings = {"sandbox": mode, "feedback": feedback, "cell_timeout": cell_timeout,
                "notebook_timeout": notebook_timeout, "interrupt_grace": interrupt_grace,
                "check_timeout": check_timeout, "cell_output_limit": 2_000_000,
                "limits": (limits or sandbox.Limits()).asdict(), "scratch": scratch}
    summary = Summary(sandbox=sandbox_words, unconfined=mode == "unconfined", assignment=assignment,
                      course_root=str(course_root))
    writer = book.Writer(course_root, db_url, assignment, course_id)
    # every job's scratch lives in this run folder, removed at the end: a worker that dies mid-grade
    # cannot clean its own (a remote Dask worker's scratch is on its machine: not ours to see)
    run_folder = Path(tempfile.mkdtemp(prefix="ag-run-", dir=scratch)) if _local(dask) else None
    todo, bookkeeping, run = [], {}, uuid.uuid4().hex[:8]
    try:
        for submission in collect.submissions(course_root, assignment, students):
            if not regrade and writer.is_done(submission.student, submission.digest):
                summary.skipped.append(submission.student)
            else:
                job = submission.job()
                job["key"] = f"grade-{submission.student}-{submission.digest[:12]}-{run}"
                if run_folder is not None:
                    job["scratch"] = str(run_folder / f"j{len(todo)}")  # short: kernels' socket paths live below
                todo.append(job)
                bookkeeping[submission.student] = submission.bookkeeping  # stays here, not sent to workers
        if todo:
            data = bundle.build(course_root, assignment, db_url, course_id, settings)
            _run(todo, data, writer, summary, workers, dask, progress, bookkeeping)
    except KeyboardInterrupt:  # Ctrl-C: keep what is graded, write the tables for it, say how to resume
        summary.interrupted = True
    finally:
        writer.close()
        if run_folder is not None:
            _remove_scratch(run_folder, todo, summary)
    _write_tables(summary, db_url, assignment, course_id, csv_path or course_root / f"grades-{assignment}.csv",
                  course_root / book.LEDGER / assignment)
    summary.seconds = time.monotonic() - started
    return summary


def _remove_scratch(run_folder, todo, summary):
    """Remove the run's scratch; a job folder still holding a scratch folder lost its worker mid-grade
    (a worker that finishes, or fails inside Python, removes its own)."""
    for index, job in enumerate(todo):
        folder = run_folder / f"j{index}"
        if not summary.interrupted and folder.is_dir() and any(folder.iterdir()):
            summary.lost.setdefault(job["student"], _lost_words(job["student"], summary))
    shutil.rmtree(run_folder, ignore_errors=True)


def _lost_words(student, summary, local=True):
    scratch = "its scratch folder removed" if local else "its scratch folder is left on that worker's machine"
    if student in summary.failed:
        return f"its worker died while grading it ({scratch}); not graded (rerun to retry)"
    return f"a worker died while grading it ({scratch}); graded again on another worker"


def _write_tables(summary, db_url, assignment, course_id, csv_path, ledger_dir):
    """The CSV and the insight page, from the gradebook in use; an old one that listed learners this
    gradebook does not hold is kept, and the summary says why."""
    try:
        summary.csv = str(book.export_csv(db_url, assignment, course_id, csv_path, ledger_dir=ledger_dir))
    except book.Shrinking as refused:
        summary.csv_error = str(refused)
    try:
        summary.insight = str(insight.write_insight(db_url, assignment, course_id, csv_path,
                                                    ledger_dir=ledger_dir))
    except Exception as error:  # noqa: BLE001 - the grades are written; the insight page is extra
        summary.insight_error = str(error) if isinstance(error, insight.Shrinking) \
            else f"{type(error).__name__}: {error}"


def _run(todo, data, writer, summary, workers, dask, progress, bookkeeping=None):
    from tqdm import tqdm
    submit, as_completed, close, share, lost = _executor(workers, dask)
    try:
        shared = share(data)
        futures = {submit(shared, job): job for job in todo}
        bar = tqdm(total=len(todo), unit="submission", disable=not progress, smoothing=0.1)
        outcomes = Counter()
        for future in as_completed(list(futures)):
            job, died = futures[future], False
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - e.g. Dask's KilledWorker: this one only
                died = type(error).__name__ == "KilledWorker"
                result = {"student": job["student"], "error": "the grading worker died while grading it "
                          "(killed or out of memory)" if died else f"the grading worker failed: {error!r}"}
            _record(result, writer, summary, (bookkeeping or {}).get(job["student"]))
            if died:
                summary.lost.setdefault(job["student"], _lost_words(job["student"], summary, _local(dask)))
            outcomes["failed" if result["student"] in summary.failed else "graded"] += 1
            bar.set_postfix(outcomes, refresh=False)
            if bar.n + 1 < len(todo):
                bar.update()
            else:  # the last step is drawn by close(), once (update() would draw it too)
                bar.n += 1
        bar.close()
        # a remote worker's death is known from the scheduler's events (here, from the scratch it left)
        keys = {job["key"]: job["student"] for job in todo}
        for key in (lost() if not _local(dask) else ()):
            if key in keys:
                summary.lost.setdefault(keys[key], _lost_words(keys[key], summary, local=False))
    finally:
        close()


def _record(result, writer, summary, bookkeeping=None):
    student = result["student"]
    if result.get("error") and not result.get("complete"):
        summary.failed[student] = result["error"]
        return
    try:
        writer.merge(result, bookkeeping)
    except Exception as error:  # noqa: BLE001 - never lose the rest of the class to one bad write
        summary.failed[student] = f"could not be written to the gradebook: {error!r}"
        return
    summary.graded.append(student)
    summary.submission_seconds.append(result.get("seconds", 0.0))
    found = [f"{name}: {outcome['message']}" for name, outcome in sorted(result["notebooks"].items())
             if outcome.get("message")]
    if found:
        summary.problems[student] = found


def missing_packages(serial=False, db_url=None):
    """What this run would import from the ``[instructor]`` extra and cannot: said before any work."""
    needed = [("tqdm", "tqdm")] + ([] if serial else [("distributed", "dask[distributed]")])
    if db_url and db_url.startswith("postgresql") and not importlib.util.find_spec("psycopg"):
        needed.append(("psycopg2", "psycopg2-binary"))
    return [package for module, package in needed if importlib.util.find_spec(module) is None]


def _positive(kind):
    """An argparse type: a number of ``kind`` above zero (a limit of 0 s or 0 workers means nothing)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m autograder.instructor.grade", description=__doc__.split("\n")[0],
        epilog="Run it in the course root, between `nbgrader collect` and `nbgrader release_feedback`; "
               "the module's docstring (python -m pydoc autograder.instructor.grade) tells the whole story.")
    parser.add_argument("assignment", help="the nbgrader assignment to grade, e.g. autodiff")
    parser.add_argument("--course-root", help=f"the nbgrader course root (default: the current folder, "
                                              f"if it holds {CONFIG_FILE})")
    parser.add_argument("--zip", dest="zip_file", metavar="FILE",
                        help="an LMS download to file into submitted/ first, with `nbgrader zip_collect`")
    parser.add_argument("--zip-regexp", default=collect.DEFAULT_ZIP_REGEXP, metavar="REGEXP",
                        help="how zip_collect reads a student id and file name from each name in the zip "
                             "(default: %(default)s)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive(int), metavar="N",
                       help="submissions graded at once on this machine (default: one per core)")
    where.add_argument("--dask", metavar="ADDRESS",
                       help="grade on a Dask cluster: 'local' or a scheduler address such as tcp://host:8786")
    where.add_argument("--serial", action="store_true", help="grade in this process, one submission at a time "
                                                             "(debugging)")
    parser.add_argument("--db-url", metavar="URL",
                        help="the gradebook (default: the course's sqlite gradebook.db); a postgresql:// URL "
                             "gets the assignment copied in from the sqlite gradebook if it is missing")
    parser.add_argument("--student", action="append", dest="students", metavar="ID",
                        help="grade only this learner (repeat the option for several)")
    parser.add_argument("--regrade", action="store_true",
                        help="grade again submissions already graded into this gradebook with the same bytes")
    parser.add_argument("--csv", dest="csv_path", metavar="FILE",
                        help="where the grades table goes (default: <course root>/grades-<assignment>.csv)")
    parser.add_argument("--no-feedback", dest="feedback", action="store_false",
                        help="skip the feedback HTML and reports in feedback/ (faster; grades only)")
    parser.add_argument(sandbox.UNCONFINED_OPTION, dest="unconfined", action="store_true",
                        help="run every learner's code WITHOUT a sandbox, with your rights (it can read and "
                             "change your files and reach the network); only for submissions you trust. "
                             "Without this option grading needs a working bubblewrap and refuses otherwise")
    parser.add_argument("--sandbox", help=argparse.SUPPRESS)  # gone: said so below, not silently ignored
    parser.add_argument("--cell-timeout", type=_positive(int), metavar="S",
                        help="seconds one cell may run before it is interrupted (default: nbgrader's setting)")
    parser.add_argument("--notebook-timeout", type=_positive(int), default=900, metavar="S",
                        help="seconds one notebook may take in all; past it the notebook scores what it had "
                             "(default: %(default)s)")
    parser.add_argument("--check-timeout", type=_positive(float), default=judge.REQUEST_TIMEOUT, metavar="S",
                        help="seconds the judge lets the learner's code run on one of its inputs before that "
                             "exercise fails as not finishing (default: %(default)g)")
    parser.add_argument("--memory-mb", type=_positive(int), default=sandbox.Limits.memory_mb, metavar="MB",
                        help="memory each learner kernel may hold (default: %(default)s)")
    parser.add_argument("--cpu-seconds", type=_positive(int), default=sandbox.Limits.cpu_seconds, metavar="S",
                        help="CPU seconds each learner kernel may use (default: %(default)s)")
    parser.add_argument("--scratch", metavar="DIR",
                        help="where the per-submission scratch course roots go (default: a temporary folder)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar (for logs)")
    args = parser.parse_args(argv)
    if args.sandbox is not None:
        parser.error(f"--sandbox is gone: grading needs bubblewrap and refuses without it; "
                     f"{sandbox.UNCONFINED_OPTION} runs learner code with your rights instead")
    try:
        course_root = find_course_root(args.course_root)
    except CourseRootError as error:
        parser.error(str(error))
    missing = missing_packages(serial=args.serial, db_url=args.db_url)
    if missing:
        print(f"python -m autograder.instructor.grade needs the instructor's packages, and this environment "
              f"lacks {', '.join(missing)}: pip install -e '.[instructor]'", file=sys.stderr)
        return 2
    mode = "unconfined" if args.unconfined else "bwrap"
    try:
        sandbox.resolve(mode)  # refused here: a message, not a traceback
    except sandbox.SandboxUnavailable as error:
        print(f"python -m autograder.instructor.grade: {error}", file=sys.stderr)
        return 2
    try:
        summary = grade_class(
            args.assignment, course_root, workers=0 if args.serial else args.workers, dask=args.dask,
            db_url=args.db_url, students=args.students, regrade=args.regrade, zip_file=args.zip_file,
            zip_regexp=args.zip_regexp, csv_path=args.csv_path, feedback=args.feedback,
            sandbox_mode=mode, cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
            check_timeout=args.check_timeout,
            limits=sandbox.Limits(memory_mb=args.memory_mb, cpu_seconds=args.cpu_seconds), scratch=args.scratch,
            progress=args.progress)
    except KeyboardInterrupt:  # a second Ctrl-C, while the tables were being written
        print("interrupted (Ctrl-C): what was graded is in the gradebook; to resume, run the same command "
              "again (graded submissions are skipped)", file=sys.stderr)
        return INTERRUPTED
    print(summary.text())
    if summary.interrupted:
        return INTERRUPTED
    return 1 if summary.failed or summary.csv_error else 0


if __name__ == "__main__":
    sys.exit(main())
