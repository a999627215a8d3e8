"""Where learner code runs: a bubblewrap sandbox, and resource limits on every kernel.

A submission's kernels run inside ``bwrap`` (Debian package ``bubblewrap``) with:
  - no network (a new, empty network namespace; kernels talk to nbgrader over unix sockets),
  - its own pid, ipc and uts namespaces, no capabilities, a fresh ``/tmp``,
  - a filesystem that shows the system and the Python environment read-only, and one
    writable folder: this submission's working copy (the grading code arrives through the
    kernel factory's stdin, see ``zygote``). Not visible:
    the course root (gradebook, hidden tests, source notebooks), the instructor's reference
    engine, other learners' submissions, home folders.
Every kernel also gets rlimits (address space, CPU seconds, file size, no core dumps).

bubblewrap works as root in this container and unprivileged where user namespaces are
allowed. Where it is missing or refused (``auto`` mode probes it once), grading falls back to
a plain subprocess with the same limits and a scrubbed environment, and says so in the
summary: learner code can then read what the grading user can read and reach the network.
Install it with ``apt-get install -y bubblewrap``.
"""

import functools
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass

MODES = ("auto", "bwrap", "none")
# Enough of /etc for the dynamic loader, Python and numpy; no secrets (shadow, ssh, ...).
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group",
             "nsswitch.conf", "hosts", "mime.types", "alternatives")
# One thread per kernel: N kernels on N cores must not each start N BLAS/OpenMP threads.
SINGLE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                        "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}
# Passed through: some CPUs need these for OpenBLAS to compute correctly.
PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "LC_ALL", "TZ")


@dataclass(frozen=True)
class Limits:
    """Per-kernel limits. ``memory_mb`` is added to what the warm interpreter already maps."""

    memory_mb: int = 2048
    cpu_seconds: int = 600
    file_mb: int = 64

    def asdict(self):
        return asdict(self)


def apply_limits(limits, mapped_bytes=0):
    """Set rlimits on the calling process (a freshly forked kernel)."""
    mb = 1024 * 1024
    address_space = mapped_bytes + limits["memory_mb"] * mb
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb, limits["file_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def mapped_bytes():
    """Virtual memory this process maps now (from /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def environment(pythonpath):
    """The whole environment learner code sees: nothing inherited but a few locale/CPU knobs."""
    env = {
        "PATH": os.pathsep.join([os.path.join(sys.prefix, "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": "/tmp", "TMPDIR": "/tmp", "PYTHONPATH": pythonpath, "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "IPYTHONDIR": "/tmp/.ipython",
        "JUPYTER_RUNTIME_DIR": "/tmp/.jupyter", "LANG": "C.UTF-8", **SINGLE_THREAD,
    }
    env.update({k: os.environ[k] for k in PASS_THROUGH if k in os.environ})
    return env


# Inside /usr but never for learner code: nbgrader's default exchange holds every learner's
# submissions, and sandboxed code runs as the grader (root can list what learners cannot).
PRIVATE = ("/usr/local/share/nbgrader",)


def hide_private():
    """bubblewrap arguments that put an empty folder over each ``PRIVATE`` folder that exists."""
    return [arg for folder in PRIVATE if os.path.isdir(folder) for arg in ("--tmpfs", folder)]


def _system_binds():
    args = []
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/sys"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ETC_FILES:
        path = os.path.join("/etc", name)
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    # the Python environment: the venv and the interpreter it points to
    for folder in sorted({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), sys.prefix}):
        if not folder.startswith(("/usr/", "/bin", "/lib")) and folder != "/usr":
            args += ["--ro-bind", folder, folder]
    return args + hide_private()


def bwrap_command(argv, *, cwd, writable=(), env):
    """``argv`` wrapped in bubblewrap: see the module docstring for what it can see and do."""
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", *_system_binds()]
    for folder in writable:
        args += ["--bind", folder, folder]
    args += ["--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--chdir", cwd, "--", *argv]


@functools.cache
def probe():
    """``(works, detail)``: can bubblewrap start this Python with no network here?"""
    if shutil.which("bwrap") is None:
        return False, "bubblewrap is not installed (apt-get install -y bubblewrap)"
    command = bwrap_command([sys.executable, "-c", "import socket, numpy; print('ok')"],
                            cwd="/tmp", env=environment(""))
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"bubblewrap failed to start: {error}"
    if result.returncode != 0 or result.stdout.strip() != "ok":
        return False, f"bubblewrap refused to run here: {result.stderr.strip()[-300:]}"
    return True, "bubblewrap: no network, no view of the course root or other submissions"


def resolve(mode):
    """The sandbox actually used for ``mode`` (auto|bwrap|none), and a sentence for the summary."""
    if mode not in MODES:
        raise ValueError(f"sandbox mode must be one of {MODES}, not {mode!r}")
    if mode == "none":
        return "none", "no sandbox (--sandbox none): learner code runs with the grader's rights"
    works, detail = probe()
    if works:
        return "bwrap", detail
    if mode == "bwrap":
        raise RuntimeError(f"--sandbox bwrap was asked for but {detail}")
    return "none", f"no sandbox: {detail}; learner code runs with the grader's rights (limits still apply)"


def command(mode, argv, *, cwd, writable=(), env):
    """The command line that runs ``argv`` in the sandbox ``mode`` (as resolved)."""
    if mode == "bwrap":
        return bwrap_command(argv, cwd=cwd, writable=writable, env=env)
    return list(argv)
