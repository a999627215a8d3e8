"""A warm kernel factory: import torch and ipykernel once, fork a fresh kernel per notebook.

Stock nbgrader starts a new Python for every notebook and pays the interpreter start, the
ipykernel import and the torch import each time (most of its ~4 s per notebook). Here one
process per submission -- the zygote, started inside the sandbox -- imports them once and
then forks: each notebook still gets its own kernel process, with the learner's code never
having run in the parent, so a kernel is as fresh as a new interpreter (the zygote only
imports modules; numpy's global random state is reseeded in each child).

The grading code reaches the zygote through its stdin, not through the filesystem: the
first line carries the files (``autograder/*.py``, for the notebooks' visible checks; no
reference engine), which the zygote writes to a private folder inside the sandbox. What the
kernels' checks say is advisory: the score comes from ``autograder.instructor.judge`` afterwards.

The zygote runs no learner code itself. It speaks JSON lines on stdin/stdout:
    {"op": "spawn", "kind": "kernel"|"main", "argv": [...], "cwd": ..., "env": {...},
     "limits": {...}, "stdout": path, "module": name}   -> {"pid": n}
    {"op": "poll", "pid": n}                  -> {"returncode": int | null}
    {"op": "signal", "pid": n, "signal": s}   -> {}   (to the child's whole process group)
    {"op": "quit"}
Each child calls ``setsid`` (its process group is its own), gets the rlimits, and exits with
``os._exit`` so nothing of the zygote's state is flushed twice.
"""

import base64
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback

from autograder.instructor import sandbox

# torch.fx...symbolic_shapes: torch imports it (with sympy, ~0.35 s) on the first backward() or
# autograd.grad; every notebook does one, so the zygote pays it once instead of every kernel
PRELOAD = ("numpy", "torch", "torch.fx.experimental.symbolic_shapes", "IPython", "ipykernel.kernelapp",
           "ipykernel.ipkernel", "ipywidgets", "autograder.learner.checks")


class ZygoteError(RuntimeError):
    """The kernel factory did not answer (it died, or the sandbox refused to start)."""


# ---------------------------------------------------------------- inside the sandbox


def _exit_code(stop):
    if stop.code is None:
        return 0
    return stop.code if isinstance(stop.code, int) else 1


def _child(request, protocol_fd, mapped):
    """Runs in the forked child; never returns."""
    code = 1
    try:
        os.setsid()
        os.close(protocol_fd)
        os.chdir(request["cwd"])
        null = os.open(os.devnull, os.O_RDWR)
        out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) \
            if request.get("stdout") else 2  # the zygote's stderr is the submission's kernel log
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.environ.update(request.get("env", {}))
        if "numpy" in sys.modules:  # a fresh interpreter seeds numpy's global generator itself
            sys.modules["numpy"].random.seed()
        sandbox.apply_limits(request["limits"], mapped)
        if request["kind"] == "kernel":
            from ipykernel import kernelapp
            sys.argv = ["ipykernel_launcher", *request["argv"]]
            kernelapp.launch_new_instance(argv=request["argv"])
        else:  # the module's main(argv), as imported (and warmed) by the zygote
            sys.argv = [request["module"], *request["argv"]]
            code = importlib.import_module(request["module"]).main(request["argv"]) or 0
            raise SystemExit(code)
        code = 0
    except SystemExit as stop:
        code = _exit_code(stop)
    except BaseException:  # noqa: BLE001 - report anything, then leave
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


# Run with ``python -c``: unpack the grading code sent on stdin, then serve.
BOOTSTRAP = """
import base64, importlib, json, os, sys
init = json.loads(sys.stdin.buffer.readline())
for name, data in init["files"].items():
    path = os.path.join(init["home"], name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(base64.b64decode(data))
sys.path.insert(0, init["home"])
importlib.invalidate_caches()
from autograder.instructor.grading.zygote import serve
serve(init)
"""


def serve(init):
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything an import prints must not corrupt the protocol
    loaded, missing = [], []
    for name in init.get("preload", PRELOAD):
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception as error:  # noqa: BLE001 - a missing optional module only costs speed
            missing.append(f"{name}: {error}")
    mapped = sandbox.mapped_bytes()
    status = {}  # pid -> exit code (None while running)

    def reap():
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in status:
                status[pid] = os.waitstatus_to_exitcode(wait_status)
                _signal_group(pid, signal.SIGKILL)  # whatever the learner's code left running

    def reply(message):
        protocol.write(json.dumps(message) + "\n")

    reply({"ready": True, "loaded": loaded, "missing": missing})
    for line in sys.stdin.buffer:
        request = json.loads(line)
        op = request["op"]
        if op == "spawn":
            pid = os.fork()
            if pid == 0:
                _child(request, protocol.fileno(), mapped)
            status[pid] = None
            reply({"pid": pid})
        elif op == "poll":
            reap()
            reply({"returncode": status.get(request["pid"], -signal.SIGKILL)})
        elif op == "signal":
            _signal_group(request["pid"], request["signal"])
            reply({})
        elif op == "quit":
            reply({})
            break
    for pid, code in status.items():
        if code is None:
            _signal_group(pid, signal.SIGKILL)


def _signal_group(pid, signum):
    for send in (os.killpg, os.kill):
        try:
            send(pid, signum)
            return
        except (ProcessLookupError, PermissionError):
            continue


# ---------------------------------------------------------------- the grader's side


class ForkedProcess:
    """A zygote child, with the part of ``subprocess.Popen``'s interface jupyter_client uses."""

    stdin = stdout = stderr = None

    def __init__(self, zygote, pid):
        self.zygote, self.pid, self.returncode = zygote, pid, None

    def poll(self):
        if self.returncode is None:
            try:
                self.returncode = self.zygote.request(op="poll", pid=self.pid)["returncode"]
            except ZygoteError:
                self.returncode = -signal.SIGKILL  # the whole sandbox is gone, and the child with it
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum):
        if self.poll() is None:
            self.zygote.request(op="signal", pid=self.pid, signal=int(signum))

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)


class Zygote:
    """Start the factory in the sandbox; ``spawn`` kernels and modules from it."""

    def __init__(self, *, mode, cwd, writable, files, home, limits, log, start_timeout=120):
        """``files``: relative path -> bytes of the grading code, unpacked in ``home`` inside."""
        self.limits, self.log_path = limits, log
        self.env = sandbox.environment(home)
        argv = [sandbox.interpreter(), "-c", BOOTSTRAP]
        command = sandbox.command(mode, argv, cwd=cwd, writable=writable, env=self.env)
        self._lock = threading.Lock()
        self._buffer = b""
        with open(log, "ab") as errors:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                cwd=cwd, env=self.env if mode == "unconfined" else None, start_new_session=True)
        init = {"home": home, "files": {name: base64.b64encode(data).decode() for name, data in files.items()}}
        try:
            self.process.stdin.write((json.dumps(init) + "\n").encode())
            self.process.stdin.flush()
        except OSError as error:
            raise ZygoteError(f"the kernel factory did not start: {error}{self._tail()}") from error
        self.ready = self._read(start_timeout)

    def _read(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise ZygoteError(f"the kernel factory did not answer within {timeout:.0f} s{self._tail()}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise ZygoteError(f"the kernel factory stopped{self._tail()}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _tail(self):
        try:
            with open(self.log_path, errors="replace") as log:
                text = log.read()[-600:].strip()
        except OSError:
            return ""
        return f": {text}" if text else ""

    def request(self, timeout=30, **message):
        with self._lock:
            if self.process.poll() is not None:
                raise ZygoteError(f"the kernel factory has exited (status {self.process.returncode})")
            try:
                self.process.stdin.write((json.dumps(message) + "\n").encode())
                self.process.stdin.flush()
            except (BrokenPipeError, OSError) as error:
                raise ZygoteError(f"the kernel factory is gone: {error}") from error
            return self._read(timeout)

    def alive(self):
        return self.process.poll() is None

    def spawn_kernel(self, argv, *, cwd, env=None, limits=None):
        reply = self.request(op="spawn", kind="kernel", argv=list(argv), cwd=cwd, env=env or {},
                             limits=limits or self.limits)
        return ForkedProcess(self, reply["pid"])

    def run_main(self, module, argv, *, cwd, stdout, env=None, limits=None):
        """``module.main(argv)`` in a fresh child, its stdout to the file ``stdout``."""
        reply = self.request(op="spawn", kind="main", module=module, argv=list(argv), cwd=cwd,
                             env=env or {}, limits=limits or self.limits, stdout=stdout)
        return ForkedProcess(self, reply["pid"])

    def close(self):
        if self.process.poll() is None:
            try:
                self.request(op="quit", timeout=5)
            except (ZygoteError, json.JSONDecodeError):
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

