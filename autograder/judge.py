"""The judge: a submission's score, computed with torch in a process that never runs learner code.

For each exercise the judge starts a worker (``python -m autograder.worker.serve``'s loop) in a
sandbox that holds the learner's files, numpy and the torch-free ``autograder.worker`` package
-- no torch, no checks, no reference engine, no gradebook, nothing writable but a private /tmp.
It runs the exercise's check (``autograder.checks.run_check``) with a ``WorkerRunner``: the
check chooses the inputs, the worker runs the learner's unit on them and answers over a pipe
with plain data (``autograder.worker.codec``, decoded strictly), and the check computes torch's
answer here and compares. Nothing the worker says can change what is compared against.

The hidden check's seed is derived from the course secret and the submission's digest
(``hidden_seed``): the same bytes get the same cases, and so the same score, on every run.

Sandboxes: ``bwrap`` (bubblewrap: no network, own pid namespace -- every process the learner
starts dies with the worker -- and a filesystem of the system's read-only libraries, the
interpreter's standard library, numpy and the submission); ``none`` (a plain child process
whose ``sys.path`` holds numpy and the worker package but not site-packages: ``import torch``
fails unless learner code goes looking for torch's folder itself, which only bwrap prevents).
"""

import hashlib
import hmac
import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from autograder import checks
from autograder.worker import codec

PACKAGE = Path(__file__).resolve().parent          # autograder/
NUMPY = Path(np.__file__).resolve().parent
INSIDE = "/opt/judge"                              # where the worker's files appear in bwrap
BOOT = ("import sys; sys.path[:0] = {paths!r}; sys.path.append('.'); "
        "from autograder.worker.serve import main; main()")
REQUEST_TIMEOUT = 60.0
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf")
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
       "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def hidden_seed(secret, digest, exercise):
    """The hidden check's seed for one submission: HMAC(course secret, submission digest, exercise)."""
    mac = hmac.new(secret.encode(), f"{digest}:{exercise}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "little")


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

def _site_packages():
    """Folders where an interpreter keeps installed packages: hidden from the worker in bwrap."""
    found = set()
    for prefix in {sys.prefix, sys.base_prefix, "/usr", "/usr/local"}:
        for lib in ("lib", "lib64"):
            for name in ("site-packages", "dist-packages"):
                found.update(str(p) for p in Path(prefix, lib).glob(f"python3*/{name}") if p.is_dir())
    found.update(str(p) for p in Path("/usr/lib/python3").glob("dist-packages") if p.is_dir())
    return sorted(found)


def _bwrap(argv, folder):
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for top in ("/usr", "/bin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ETC_FILES:
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    base = os.path.realpath(sys.base_prefix)
    if not base.startswith("/usr"):
        args += ["--ro-bind", base, base]
    for folder_ in _site_packages():
        if os.path.isdir(folder_) and (folder_.startswith(base) or folder_.startswith("/usr")):
            args += ["--tmpfs", folder_]
    args += ["--ro-bind", str(NUMPY), f"{INSIDE}/site/numpy"]
    if NUMPY.with_name("numpy.libs").is_dir():
        args += ["--ro-bind", str(NUMPY.with_name("numpy.libs")), f"{INSIDE}/site/numpy.libs"]
    args += ["--ro-bind", str(PACKAGE / "__init__.py"), f"{INSIDE}/grader/autograder/__init__.py",
             "--ro-bind", str(PACKAGE / "worker"), f"{INSIDE}/grader/autograder/worker",
             "--ro-bind", str(folder), "/submission", "--chdir", "/submission", "--clearenv"]
    for key, value in _env().items():
        args += ["--setenv", key, value]
    return [*args, "--", *argv]


def _env():
    return {**ENV, **{k: os.environ[k] for k in PASS_THROUGH if k in os.environ}}


def _plain_layout(scratch):
    """The same paths as in bwrap, as symlinks in a scratch folder (sandbox ``none``)."""
    (scratch / "site").mkdir(parents=True)
    (scratch / "site" / "numpy").symlink_to(NUMPY)
    if NUMPY.with_name("numpy.libs").is_dir():
        (scratch / "site" / "numpy.libs").symlink_to(NUMPY.with_name("numpy.libs"))
    (scratch / "grader" / "autograder").mkdir(parents=True)
    shutil.copyfile(PACKAGE / "__init__.py", scratch / "grader" / "autograder" / "__init__.py")
    (scratch / "grader" / "autograder" / "worker").symlink_to(PACKAGE / "worker")
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
    """One worker process for one exercise; ``run`` is a request over the pipe, its reply decoded."""

    def __init__(self, exercise, folder, setup, *, sandbox="bwrap", memory_mb=2048, cpu_seconds=120,
                 timeout=REQUEST_TIMEOUT):
        self.timeout, self.dead = timeout, None
        self.scratch = Path(tempfile.mkdtemp(prefix="judge-"))
        python = os.path.realpath(sys.executable)
        if sandbox == "bwrap":
            boot = BOOT.format(paths=[f"{INSIDE}/grader", f"{INSIDE}/site"])
            command, cwd, env = _bwrap([python, "-S", "-s", "-B", "-P", "-c", boot], folder), None, None
        else:
            boot = BOOT.format(paths=_plain_layout(self.scratch))
            command, cwd, env = [python, "-S", "-s", "-B", "-P", "-c", boot], str(folder), _env()
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, start_new_session=True,
                                        preexec_fn=_limits(memory_mb, cpu_seconds))
        self.buffer = b""
        reply = self._exchange({"exercise": exercise, **setup})
        self._problem = reply.get("problem") if "problem" in reply else reply.get("raised")

    def problem(self):
        return self._problem

    def run(self, driver, args):
        return self._exchange({"driver": driver, "args": args})

    def _exchange(self, message):
        if self.dead:
            return {"raised": self.dead}
        try:
            self.process.stdin.write(codec.encode(message).encode() + b"\n")
            self.process.stdin.flush()
            line = self._read_line()
            reply = codec.decode(line.decode("utf-8"))
            if not isinstance(reply, dict) or not ({"value", "raised", "problem"} & set(reply)):
                raise codec.CodecError("not a reply")
            return reply
        except (BrokenPipeError, EOFError, OSError, TimeoutError, UnicodeDecodeError, codec.CodecError) as error:
            self.dead = {"type": "WorkerStopped", "place": "", "not_written": False, "worker": True,
                         "message": self._why(error)}
            self.close()
            return {"raised": self.dead}

    def _why(self, error):
        if isinstance(error, TimeoutError):
            return f"your code did not finish within {self.timeout:g} s"
        code = self.process.poll()
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals.__members__.values() else -code
            return (f"the process running your code was killed by {name}"
                    + (" (it ran out of memory or CPU time)" if name in ("SIGKILL", "SIGXCPU", "SIGSEGV") else ""))
        if code is not None:
            return f"the process running your code exited with status {code}"
        return f"its reply could not be read ({error})"

    def _read_line(self):
        deadline = time.monotonic() + self.timeout
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
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.scratch, ignore_errors=True)


# --------------------------------------------------------------------------
# Judging a submission
# --------------------------------------------------------------------------

def answer_cells(notebook):
    """``[(cell id, source), ...]``: a notebook's code cells in order, its test cells left out."""
    cells = []
    for number, cell in enumerate(notebook.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        meta = meta if isinstance(meta, dict) else {}
        if meta.get("grade") and not meta.get("solution"):
            continue
        source = cell.get("source", "")
        source = "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else str(source)
        cells.append((str(meta.get("grade_id") or f"#{number}"), source))
    return cells


def judge(exercises, engine_folder, notebooks, *, secret, digest, sandbox="bwrap", memory_mb=2048,
          cpu_seconds=120, timeout=REQUEST_TIMEOUT):
    """``{exercise: {"passed", "message", "seed"}}`` for one submission.

    ``engine_folder`` holds the learner's ``tinygrad_course/`` (as nbgrader prepared it);
    ``notebooks`` maps a notebook name (no ``.ipynb``) to its parsed JSON (a dict) or None.
    """
    results = {}
    empty = Path(tempfile.mkdtemp(prefix="judge-empty-"))
    try:
        for exercise in exercises:
            results[exercise] = _judge_one(exercise, engine_folder, empty, notebooks, secret=secret, digest=digest,
                                           sandbox=sandbox, memory_mb=memory_mb, cpu_seconds=cpu_seconds,
                                           timeout=timeout)
    finally:
        shutil.rmtree(empty, ignore_errors=True)
    return results


def _judge_one(exercise, engine_folder, empty, notebooks, *, secret, digest, sandbox, **limits):
    seed = hidden_seed(secret, digest, exercise)
    if exercise in checks.UNITS:
        setup, folder = {"engine": True}, engine_folder
    else:
        notebook, function, _, uses_engine = checks.NOTEBOOK_EXERCISES[exercise]
        parsed = notebooks.get(notebook.removesuffix(".ipynb"))
        if parsed is None:
            return {"passed": False, "seed": seed, "message": f"{exercise}: {notebook} could not be read"}
        setup = {"engine": uses_engine, "answer": {"cells": answer_cells(parsed), "grade_id": f"{exercise}_answer",
                                                   "function": function}}
        folder = engine_folder if uses_engine else empty  # a by-hand exercise gets no engine to lean on
    runner = WorkerRunner(exercise, folder, setup, sandbox=sandbox, **limits)
    try:
        for hidden in (False, True):
            checks.run_check(exercise, runner, hidden=hidden,
                             seed=seed if hidden else checks.visible_seed(exercise))
    except checks.CheckFailed as failure:
        return {"passed": False, "seed": seed, "message": str(failure)}
    except Exception as error:  # noqa: BLE001 - learner data the check could not digest: this exercise only
        return {"passed": False, "seed": seed,
                "message": f"{exercise}: the check could not use what your code returned "
                           f"({type(error).__name__}: {str(error)[:300]})"}
    finally:
        runner.close()
    return {"passed": True, "seed": seed, "message": f"{exercise}: visible and hidden cases agree with torch"}


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
