"""The judge: a submission's score, computed with torch in a process that never runs learner code.

The judge starts workers (``autograder.worker.serve``'s loop) in a sandbox that holds the
learner's files, numpy and the torch-free ``autograder.worker`` package (and the notebooks' data,
``NOTEBOOK_DATA``) -- no torch, no checks,
no reference engine, no stand-ins, no gradebook, nothing writable but a private /tmp: one for
the engine units, one for the notebook answers that use the engine (the only one given the
grader's stand-ins for the units, over the pipe), one for the by-hand answers (no engine), and,
only for the answers written in torch (``exercises.NEEDS_TORCH``, notebook 11), a torch worker: the
same loop and sandbox with the interpreter's installed packages visible (torch among them), an empty
folder and no engine. It too gets only the inputs; torch's answer is computed here.
It runs the exercise's check (``autograder.learner.checks.run_check``) with a ``WorkerRunner``: the
check chooses the inputs, the worker runs the learner's unit on them and answers over a pipe
with plain data (``autograder.worker.codec``, decoded strictly), and the check computes torch's
answer here and compares. Nothing the worker says can change what is compared against.

Each exercise's outcome is a ``Verdict`` built here from the check's own result (``CheckFailed``'s
fields: the failing case and the slip id the check chose by comparing values in this process); the
worker's replies are only the values compared, never a verdict, a slip or a flag taken as it is
(a "not written yet" the worker reports counts only when the submitted source still holds the stub).

The hidden check's seed is derived from the course secret and the submission's digest
(``hidden_seed``): the same bytes get the same cases, and so the same score, on every run.

Sandboxes: ``bwrap`` (bubblewrap: no network, own pid namespace -- every process the learner
starts dies with the worker, and there are at most ``WORKER_TASKS`` of them at once, enforced as
``sandbox`` describes -- and a filesystem of the system's read-only libraries, the
interpreter's standard library, numpy and the submission; where it does not work, ``judge``
raises ``sandbox.SandboxUnavailable`` and runs nothing); ``unconfined`` (asked for by name only:
a plain child process with the grader's rights, whose ``sys.path`` holds numpy and the worker
package but not site-packages: ``import torch`` fails unless learner code goes looking for
torch's folder itself, which only bwrap prevents).
"""

import hashlib
import hmac
import json
import os
import resource
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from autograder.checking import slips
from autograder.instructor import sandbox
from autograder.learner import checks
from autograder.worker import codec, exercises

PACKAGE = Path(__file__).resolve().parent.parent   # autograder/
NUMPY = Path(np.__file__).resolve().parent
STANDINS = PACKAGE / "instructor" / "standins.py"  # sent only to sessions judging an answer using the engine
INSIDE = "/opt/judge"                              # where the worker's files appear in bwrap
BOOT = ("import sys; sys.path[:0] = {paths!r}; sys.path.append('.'); "
        "from autograder.worker.serve import main; main()")
WORKER_TASKS = 32  # processes and threads in a worker's sandbox: the worker needs one (sandbox.MAX_TASKS says how)
# the data modules the notebooks import, in every worker at the path a notebook imports them from: an
# answer cell may use the names a notebook's data cell defines (08's x_all, species, SPECIES). numpy only.
NOTEBOOK_DATA = ("checking/__init__.py", "checking/datasets.py")
REQUEST_TIMEOUT = 20.0  # the slowest honest request (train_neuron, hidden) takes well under 1 s
SUBMISSION_BUDGET = 150.0  # all exercises of one submission: a learner whose every unit hangs costs minutes, not hours


@dataclass(frozen=True)
class Verdict:
    """The judge's verdict on one exercise of one submission.

    ``case``: ``(number, description)`` of the case that failed, or None; ``slip``: an id of
    ``autograder.checking.slips.LABELS``, or None when no usual slip was recognised; ``message``: the
    learner's text; ``seed``: the hidden check's seed. ``as_dict`` is the plain data the grader
    passes on (to the gradebook's notes, the ledger and the insight page)."""
    exercise: str
    passed: bool
    message: str
    case: tuple | None = None
    slip: str | None = None
    seed: int | None = None

    def as_dict(self):
        return asdict(self)


def hidden_seed(secret, digest, exercise):
    """The hidden check's seed for one submission: HMAC(course secret, submission digest, exercise)."""
    mac = hmac.new(secret.encode(), f"{digest}:{exercise}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "little")


def work_digest(files):
    """The digest of a submission's own files (name and bytes), not of when or how it was handed in:
    the same work resubmitted gets the same hidden cases."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest())
        digest.update(hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def course_secret(course_root):
    """The course's secret for hidden seeds: ``.grading/secret`` in the course root, made once."""
    path = Path(course_root) / ".grading" / "secret"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(16).hex())
    return path.read_text().strip()


# --------------------------------------------------------------------------
# The worker process
# --------------------------------------------------------------------------

def _bwrap(argv, folder, torch=False):
    """The worker in the one sandbox builder: the interpreter without its packages, numpy and the
    worker package read-only under ``INSIDE``, the submission read-only as its working folder.
    ``torch``: the interpreter with its installed packages (torch among them), as the kernels have it."""
    read_only = []
    if not torch:
        read_only.append((NUMPY, f"{INSIDE}/site/numpy"))
        if NUMPY.with_name("numpy.libs").is_dir():
            read_only.append((NUMPY.with_name("numpy.libs"), f"{INSIDE}/site/numpy.libs"))
    read_only += [(PACKAGE / "__init__.py", f"{INSIDE}/grader/autograder/__init__.py"),
                  (PACKAGE / "worker", f"{INSIDE}/grader/autograder/worker"), (folder, "/submission")]
    read_only += [(PACKAGE / name, f"{INSIDE}/grader/autograder/{name}") for name in NOTEBOOK_DATA]
    return sandbox.bwrap_command(argv, cwd="/submission", env=_env(), read_only=read_only,
                                 installed_packages=torch, tasks=WORKER_TASKS)


def _env():
    """The sandbox's environment, with hash randomisation off: a worker's replies are the same every run."""
    return {**sandbox.environment(""), "PYTHONHASHSEED": "0"}


def _plain_layout(scratch):
    """The same paths as in bwrap, as symlinks in a scratch folder (sandbox ``unconfined``)."""
    (scratch / "site").mkdir(parents=True)
    (scratch / "site" / "numpy").symlink_to(NUMPY)
    if NUMPY.with_name("numpy.libs").is_dir():
        (scratch / "site" / "numpy.libs").symlink_to(NUMPY.with_name("numpy.libs"))
    (scratch / "grader" / "autograder").mkdir(parents=True)
    shutil.copyfile(PACKAGE / "__init__.py", scratch / "grader" / "autograder" / "__init__.py")
    (scratch / "grader" / "autograder" / "worker").symlink_to(PACKAGE / "worker")
    for name in NOTEBOOK_DATA:
        (scratch / "grader" / "autograder" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGE / name, scratch / "grader" / "autograder" / name)
    return [str(scratch / "grader"), str(scratch / "site")]


def _limits(memory_mb, cpu_seconds):
    def apply():
        mb = 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * mb, memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * mb, 16 * mb))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


class WorkerRunner:
    """A worker process serving one exercise at a time (``begin``); ``run`` is one request over the
    pipe, its reply decoded. A worker that dies or hangs costs the exercise it was on: the next
    ``begin`` starts a fresh process."""

    def __init__(self, folder, *, sandbox="bwrap", memory_mb=2048, cpu_seconds=120, timeout=REQUEST_TIMEOUT,
                 deadline=None, scratch=None, torch=False):
        self.folder, self.sandbox, self.timeout = folder, sandbox, timeout
        self.torch = torch  # the torch worker: installed packages on its path (see _start)
        self.scratch_parent = scratch  # where its temporary folder goes (None: the system's)
        self.deadline = deadline  # time.monotonic() by which the whole submission must be judged
        self.limits = (memory_mb, cpu_seconds)
        self.process, self.dead, self.scratch = None, None, None

    def _start(self):
        self.scratch = Path(tempfile.mkdtemp(prefix="judge-", dir=self.scratch_parent))
        python = os.path.realpath(sys.executable)
        # the torch worker starts the venv's own link (so its site-packages load, torch with them) and
        # keeps `site`; the others run the bare interpreter with -S: numpy and the worker package only
        flags = ["-S", "-s", "-B", "-P"]
        if self.torch:
            python, flags = sandbox.interpreter(), ["-s", "-B", "-P"]
        if self.sandbox == "bwrap":
            boot = BOOT.format(paths=[f"{INSIDE}/grader"] + ([] if self.torch else [f"{INSIDE}/site"]))
            command, cwd, env = _bwrap([python, *flags, "-c", boot], self.folder, self.torch), None, None
        elif self.sandbox == "unconfined":
            paths = _plain_layout(self.scratch)
            boot = BOOT.format(paths=paths[:1] if self.torch else paths)
            command, cwd, env = [python, *flags, "-c", boot], str(self.folder), _env()
        else:
            raise ValueError(f"sandbox must be 'bwrap' or 'unconfined', not {self.sandbox!r}")
        # stderr: only the interpreter's or bubblewrap's own start-up errors (serve silences it before
        # any learner code runs); kept outside the sandbox to explain a worker that could not start
        self.errors = open(self.scratch / "stderr", "w+b")
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.errors, start_new_session=True,
                                        preexec_fn=_limits(*self.limits))
        self.buffer, self.dead = b"", None

    def begin(self, exercise, setup):
        """Set the worker up for ``exercise`` (a fresh process if the last one died)."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.close()
            self.dead = {"type": "WorkerStopped", "place": "", "not_written": False, "worker": True,
                         "message": "the grader's time for this submission ran out before this exercise"}
            self._problem = self.dead
            return
        if self.process is None or self.dead is not None:
            self.close()
            self._start()
        reply = self._exchange({"exercise": exercise, **setup})
        self._problem = reply.get("problem") if "problem" in reply else reply.get("raised")

    def problem(self):
        return self._problem

    def run(self, driver, args):
        return self._exchange({"driver": driver, "args": args})

    def _exchange(self, message):
        if self.dead:
            return {"raised": self.dead}
        nonce = secrets.token_hex(16)
        try:
            request = codec.encode({**message, "nonce": nonce}).encode() + b"\n"
        except codec.CodecError as error:  # nothing was written: the worker is still in step
            words = f"the grader could not send this exercise to the worker whole: {error}"
            return {"raised": {"type": "Unsendable", "message": words, "words": words, "place": "",
                               "not_written": False}}
        try:
            self.process.stdin.write(request)
            self.process.stdin.flush()
            limit = time.monotonic() + self.timeout
            return self._reply(nonce, limit if self.deadline is None else min(limit, self.deadline))
        except Exception as error:  # noqa: BLE001 - whatever went wrong on the pipe costs this exercise only
            self.dead = {"type": "WorkerStopped", "place": "", "not_written": False, "worker": True,
                         "message": self._why(error)}
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            return {"raised": self.dead}

    def _reply(self, nonce, deadline):
        """The first line that decodes to a reply carrying ``nonce``; lines learner code wrote into
        the pipe (a forged reply, or a stale one, or one the codec refuses) are skipped, up to a budget."""
        budget = 8 * codec.MAX_LINE
        while True:
            line = self._read_line(deadline)
            budget -= len(line)
            if budget < 0:
                raise codec.CodecError("too much unreadable output on the reply pipe")
            try:
                reply = codec.decode(line.decode("utf-8"))
            except Exception:  # noqa: BLE001 - not the worker's reply: serve only writes what decode reads
                continue
            if isinstance(reply, dict) and reply.pop("nonce", None) == nonce and (
                    {"value", "raised", "problem"} & set(reply)):
                return reply

    def _why(self, error):
        if not isinstance(error, OSError | EOFError | TimeoutError | codec.CodecError):
            return f"the grader could not read its reply ({type(error).__name__}: {str(error)[:300]})"
        if isinstance(error, TimeoutError):
            if self.deadline is not None and time.monotonic() >= self.deadline:
                return "the grader's time for this submission ran out (your code was still running)"
            return f"your code did not finish within {self.timeout:g} s"
        try:
            code = self.process.wait(timeout=2)  # it may be just exiting: its status says why
        except subprocess.TimeoutExpired:
            return f"its reply could not be read ({error})"
        if self.sandbox == "bwrap" and code > 128:  # bubblewrap reports its child's signal as 128 + n
            code = -(code - 128)
        if code < 0:
            name = signal.Signals(-code).name if -code in {s.value for s in signal.Signals} else f"signal {-code}"
            why = {"SIGKILL": " (it ran out of memory, or was stopped)", "SIGXCPU": " (it ran out of CPU time)",
                   "SIGSEGV": " (it crashed)", "SIGXFSZ": " (it wrote too large a file)"}.get(name, "")
            return f"the process running your code was killed by {name}{why}"
        self.errors.seek(0)
        said = self.errors.read(4000).decode("utf-8", "replace").strip().splitlines()
        return f"the process running your code exited with status {code}" + (f" ({said[-1]})" if said else "")

    def _read_line(self, deadline):
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while b"\n" not in self.buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError()
                if not selector.select(left):
                    continue
                chunk = os.read(self.process.stdout.fileno(), 1 << 20)
                if not chunk:
                    raise EOFError("the worker closed its pipe")
                self.buffer += chunk
                if len(self.buffer) > codec.MAX_LINE:
                    raise codec.CodecError("reply too long")
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def close(self):
        if self.process is not None:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    self.process.kill()
            self.process.wait()
            if self.sandbox == "bwrap":
                sandbox.release_cgroup(self.process.pid)
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.process = None
        if self.scratch is not None:
            self.errors.close()
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


# --------------------------------------------------------------------------
# Judging a submission
# --------------------------------------------------------------------------

def answer_cells(notebook):
    """``[(cell id, source), ...]``: a notebook's code cells in order, its test cells left out.
    Malformed cells and metadata are read as plain cells (a grade id that is not a string is none)."""
    cells = []
    found = notebook.get("cells") if isinstance(notebook, dict) else None
    for number, cell in enumerate(found if isinstance(found, list) else []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        meta = meta if isinstance(meta, dict) else {}
        if meta.get("grade") and not meta.get("solution"):
            continue
        source = cell.get("source", "")
        source = "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else str(source)
        grade_id = meta.get("grade_id")
        cells.append((grade_id if isinstance(grade_id, str) and grade_id else f"#{number}", source))
    return cells


def _require(mode):
    """Fail closed: ``bwrap`` only where it works (else ``SandboxUnavailable``), ``unconfined`` only
    when asked for by name, anything else refused (``ValueError``); never a silent fallback."""
    sandbox.resolve(mode)


def judge(exercises, engine_folder, notebooks, *, secret, digest, sandbox="bwrap", memory_mb=2048,
          cpu_seconds=120, timeout=REQUEST_TIMEOUT, budget=SUBMISSION_BUDGET, scratch=None):
    """``{exercise: Verdict}`` for one submission.

    ``engine_folder`` holds the learner's ``tinygrad_course/`` (as nbgrader prepared it);
    ``notebooks`` maps a notebook name (no ``.ipynb``) to its parsed JSON (a dict) or None.
    ``sandbox``: ``bwrap`` (``SandboxUnavailable`` where it does not work) or ``unconfined``.
    ``scratch``: the folder its temporary folders go in (the class grader gives the submission's own,
    which the grader removes even when the process judging it dies).
    """
    _require(sandbox)
    empty = Path(tempfile.mkdtemp(prefix="judge-empty-", dir=scratch))
    options = {"sandbox": sandbox, "memory_mb": memory_mb, "cpu_seconds": cpu_seconds, "timeout": timeout,
               "deadline": time.monotonic() + budget, "scratch": scratch}
    runners = {"units": WorkerRunner(engine_folder, **options), "answers": WorkerRunner(engine_folder, **options),
               "by_hand": WorkerRunner(empty, **options),
               # started only for an exercise in NEEDS_TORCH (a process starts at its first begin)
               "torch": WorkerRunner(empty, **options, torch=True)}
    order = sorted(exercises, key=lambda e: (e not in checks.UNITS, checks.ALL_EXERCISES.index(e)
                                             if e in checks.ALL_EXERCISES else len(checks.ALL_EXERCISES)))
    try:
        return {exercise: _judge_one(exercise, runners, engine_folder, notebooks,
                                     hidden_seed(secret, digest, exercise))
                for exercise in order}
    finally:
        for runner in runners.values():
            runner.close()
        shutil.rmtree(empty, ignore_errors=True)


def _judge_one(exercise, runners, engine_folder, notebooks, seed):
    """One exercise in its worker: the units in one process (no notebook cell and no stand-in ever
    runs there), the answers that use the engine in another (with the grader's stand-ins for the
    units, sent over the pipe), the by-hand answers in a third (no engine to lean on)."""
    if exercise in checks.UNITS:
        setup, runner = {"engine": True}, runners["units"]
    else:
        notebook, function, _, uses_engine = checks.NOTEBOOK_EXERCISES[exercise]
        parsed = notebooks.get(notebook.removesuffix(".ipynb"))
        if parsed is None:
            return Verdict(exercise, False, f"{exercise}: {notebook} could not be read", seed=seed)
        setup = {"engine": uses_engine, "answer": {"cells": answer_cells(parsed), "grade_id": f"{exercise}_answer",
                                                   "function": function}}
        if uses_engine:
            setup["standins"] = STANDINS.read_text()
        runner = runners["torch" if exercise in exercises.NEEDS_TORCH else "answers" if uses_engine else "by_hand"]
    try:
        runner.begin(exercise, setup)
        for hidden in (False, True):
            checks.run_check(exercise, runner, hidden=hidden,
                             seed=seed if hidden else checks.visible_seed(exercise))
    except checks.CheckFailed as failure:
        return failed_verdict(exercise, failure, seed, engine_folder=engine_folder, notebooks=notebooks)
    except Exception as error:  # noqa: BLE001 - learner data the check could not digest: this exercise only
        runner.close()  # whatever state the worker is in, the next exercise gets a fresh one
        return Verdict(exercise, False, f"{exercise}: the check could not use what your code returned "
                                        f"({type(error).__name__}: {str(error)[:300]})", seed=seed)
    return Verdict(exercise, True, f"{exercise}: visible and hidden cases agree with torch", seed=seed)


def failed_verdict(exercise, failure, seed, *, engine_folder, notebooks):
    """The ``Verdict`` for a check that failed here: the case and slip id from ``CheckFailed``'s fields
    (set by the check, in this process). "Not written yet" rests on the worker's report of a
    ``NotImplementedError``, so it stands only where the submitted source still holds the stub."""
    slip = failure.slip
    if slip == slips.NOT_WRITTEN and not still_a_stub(exercise, engine_folder, notebooks):
        slip = slips.RAISED
    return Verdict(exercise, False, str(failure), case=failure.case, slip=slip, seed=seed)


def still_a_stub(exercise, engine_folder, notebooks):
    """Whether the submitted source still holds the released stub for ``exercise``: a unit's
    ``todo('<exercise>')`` in the learner's tinygrad_course, or a ``NotImplementedError`` in the
    answer cell. Read here, from the files, so "not written yet" never rests on the worker's word."""
    if exercise in checks.UNITS:
        marks = (f"todo({exercise!r})", f'todo("{exercise}")')
        for path in sorted(Path(engine_folder).glob("tinygrad_course/**/*.py")):
            text = path.read_text(encoding="utf-8", errors="replace")
            if any(mark in text for mark in marks):
                return True
        return False
    notebook = checks.NOTEBOOK_EXERCISES[exercise][0].removesuffix(".ipynb")
    parsed = notebooks.get(notebook)
    cells = dict(answer_cells(parsed)) if parsed is not None else {}
    return "NotImplementedError" in cells.get(f"{exercise}_answer", "")


def load_notebook(path):
    """A submitted notebook's JSON, or None when it is not a readable notebook (missing, too deep, not JSON)."""
    try:
        return load_notebook_text(Path(path).read_bytes().decode("utf-8", errors="replace"))
    except OSError:
        return None


def load_notebook_text(text):
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
