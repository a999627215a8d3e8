"""Where learner code runs: a bubblewrap sandbox, and resource limits on every kernel.

A submission's kernels run inside ``bwrap`` (Debian package ``bubblewrap``) with:
  - no network (a new, empty network namespace; kernels talk to nbgrader over unix sockets),
  - its own pid, ipc and uts namespaces, no capabilities, a fresh ``/tmp``,
  - a filesystem that shows the system and the Python environment read-only, and one
    writable folder: this submission's working copy (the grading code arrives through the
    kernel factory's stdin, see ``zygote``). Not visible:
    the course root (gradebook, hidden tests, source notebooks), the instructor's reference
    engine, other learners' submissions, home folders.
Every kernel also gets rlimits (address space, CPU seconds, file size, no core dumps), and
every sandbox a limit on the processes and threads it holds together (``MAX_TASKS``; a kernel
with torch and ipykernel runs about 15 threads), so a learner who starts hundreds of processes
is refused (``fork`` fails with EAGAIN) instead of loading the machine. It is enforced twice:
  - ``RLIMIT_NPROC``, set inside the sandbox before the sandboxed program starts
    (``limit_inside``). The kernel counts it per user and per user namespace, and bubblewrap gives
    each sandbox its own user namespace, so for a grader that is not root it counts exactly this
    sandbox's processes. Root is exempt from ``RLIMIT_NPROC``, hence:
  - for a grader running as root, a ``pids`` cgroup per sandbox (``limit_outside``): a
    short-lived shim makes ``<pids cgroup>/autograder-<pid>``, sets ``pids.max``, joins it and
    execs bubblewrap (cgroup v1 ``pids``, or v2 where the grader's cgroup tree is writable). The
    cgroups of sandboxes that are gone are removed by the next one. Where root has no writable
    pids cgroup (``process_limit()`` says so), only the other limits hold.

bubblewrap works as root in this container and unprivileged where user namespaces are
allowed. Fail closed: where it is missing or refused (``probe``), ``resolve`` raises
``SandboxUnavailable`` saying why and what to do, and no learner code runs. Only the explicit
mode ``unconfined`` (``python -m autograder.instructor.grade --unsandboxed-learner-code``) runs learner code
as a plain subprocess with the same limits and a scrubbed environment: it can then read and
write whatever the grading user can and reach the network, and every summary and report says so.
"""

import functools
import os
import re
import resource
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

# "unconfined" runs learner code with the grader's rights: asked for by name only, never a fallback.
MODES = ("bwrap", "unconfined")
UNCONFINED_OPTION = "--unsandboxed-learner-code"
UNCONFINED = (f"NONE ({UNCONFINED_OPTION}): learner code ran unconfined, with the grader's rights "
              f"(it could read and change the grader's files and reach the network; only the resource "
              f"limits applied)")
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


def _site_packages():
    """Folders where an interpreter keeps installed packages (resolved, as the interpreter's folder
    bound in the sandbox is, so a symlinked prefix hides them too)."""
    found = set()
    for prefix in {sys.prefix, sys.base_prefix, "/usr", "/usr/local"}:
        for lib in ("lib", "lib64"):
            for name in ("site-packages", "dist-packages"):
                found.update(os.path.realpath(p) for p in Path(prefix, lib).glob(f"python3*/{name}") if p.is_dir())
    found.update(str(p) for p in Path("/usr/lib/python3").glob("dist-packages") if p.is_dir())
    return sorted(found)


def _system_binds(installed_packages):
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
    # the Python environment: the interpreter, and (for kernels) the venv with its packages
    base = os.path.realpath(sys.base_prefix)
    folders = {base} | ({os.path.realpath(sys.prefix), os.path.normpath(sys.prefix)} if installed_packages else set())
    for folder in sorted(folders):
        if not folder.startswith(("/usr/", "/bin", "/lib")) and folder != "/usr":
            args += ["--ro-bind", folder, folder]
    if not installed_packages:  # the interpreter alone: every installed package out of sight
        args += [arg for folder in _site_packages() if folder.startswith((base, "/usr"))
                 for arg in ("--tmpfs", folder)]
    return args + hide_private()


def bwrap_command(argv, *, cwd, env, writable=(), read_only=(), installed_packages=True, tasks=None):
    """``argv`` wrapped in bubblewrap: see the module docstring for what it can see and do. The one
    builder for every sandbox: the grading kernels and the judge's torch-free workers.

    ``writable``: folders bound read-write at their own path; ``read_only``: ``(source, inside)``
    pairs; ``installed_packages=False`` shows the interpreter without any installed package (the
    judge's worker gets numpy through ``read_only``); ``tasks``: the most processes and threads the
    sandbox may hold (``MAX_TASKS`` by default)."""
    tasks = MAX_TASKS if tasks is None else tasks
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", *_system_binds(installed_packages)]
    for folder in writable:
        args += ["--bind", folder, folder]
    for source, inside in read_only:
        args += ["--ro-bind", str(source), inside]
    args += ["--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*limit_outside(tasks), *args, "--chdir", cwd, "--", *limit_inside(argv, tasks)]


# ---------------------------------------------------------------- the process limit

MAX_TASKS = 64  # processes and threads in one kernels' sandbox (a torch kernel runs about 15)
CGROUP_PREFIX = "autograder-"
# Inside the sandbox, before the program: RLIMIT_NPROC, counted in the sandbox's own user namespace.
_INSIDE = "import os, resource, sys; n = int(sys.argv[1]); resource.setrlimit(resource.RLIMIT_NPROC, (n, n)); " \
          "os.execvp(sys.argv[2], sys.argv[2:])"
# Outside, for root: a pids cgroup of its own, then bubblewrap (exec keeps the pid the caller knows).
_OUTSIDE = """
import os, sys
parent, tasks, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
for name in os.listdir(parent):  # the cgroups of sandboxes that are gone (a live one refuses rmdir)
    if name.startswith("autograder-") and name[len("autograder-"):].isdigit():
        try:
            os.kill(int(name[len("autograder-"):]), 0)
        except ProcessLookupError:
            try:
                os.rmdir(os.path.join(parent, name))
            except OSError:
                pass
        except OSError:
            pass
mine = os.path.join(parent, "autograder-%d" % os.getpid())
try:
    os.makedirs(mine, exist_ok=True)
    with open(os.path.join(mine, "pids.max"), "w") as limit:
        limit.write(tasks)
    with open(os.path.join(mine, "cgroup.procs"), "w") as procs:
        procs.write(str(os.getpid()))
except OSError as error:
    sys.exit("autograder: the sandbox's process limit could not be set (%s)" % error)
os.execvp(argv[0], argv)
"""  # its cgroups are CGROUP_PREFIX + the pid


def _python():
    return os.path.realpath(sys.executable)


def interpreter():
    """This Python as sandboxed code starts it: absolute, with no ``..`` (a path through a folder the
    sandbox does not show would not resolve inside it), the venv's own link kept so its packages load."""
    return os.path.normpath(os.path.abspath(sys.executable))


def limit_inside(argv, tasks):
    """``argv``, started by a shim that first sets RLIMIT_NPROC to ``tasks`` (run it inside the sandbox)."""
    return [_python(), "-I", "-S", "-c", _INSIDE, str(tasks), *argv]


def limit_outside(tasks):
    """The prefix that puts a sandbox started by root in a pids cgroup of its own ([] otherwise)."""
    parent = pids_cgroup()
    return [_python(), "-I", "-S", "-c", _OUTSIDE, parent, str(tasks)] if parent else []


def release_cgroup(pid):
    """Remove the pids cgroup of the sandbox whose shim had ``pid``, once everything in it is gone."""
    parent = pids_cgroup()
    if parent:
        try:
            os.rmdir(os.path.join(parent, f"{CGROUP_PREFIX}{pid}"))
        except OSError:
            pass


@functools.cache
def pids_cgroup():
    """The writable cgroup folder under which root makes a pids cgroup per sandbox, or None (not
    root, or no pids controller it can use)."""
    if os.geteuid() != 0:
        return None
    try:
        with open("/proc/self/cgroup") as own:
            lines = [line.rstrip("\n").split(":", 2) for line in own]
        with open("/proc/self/mountinfo") as mounts:
            mountinfo = [line.split() for line in mounts]
    except OSError:
        return None
    for number, controllers, path in lines:
        for fields in mountinfo:
            dash = fields.index("-")
            root, point, fstype, options = fields[3], fields[4], fields[dash + 1], fields[dash + 3]
            if number != "0" and "pids" in controllers.split(",") and fstype == "cgroup" \
                    and "pids" in options.split(","):
                return _usable(point, root, path)
            if number == "0" and fstype == "cgroup2":
                folder = _usable(point, root, "/")  # v2: a tree of ours under the (namespace's) root
                if folder and _enable_pids(point) and _enable_pids(os.path.join(point, "autograder")):
                    return os.path.join(point, "autograder")
    return None


def _usable(point, root, path):
    if not path.startswith(root):
        return None
    folder = os.path.normpath(os.path.join(point, os.path.relpath(path, root)))
    return folder if os.path.isdir(folder) and os.access(folder, os.W_OK) else None


def _enable_pids(folder):
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "cgroup.controllers")) as available:
            if "pids" not in available.read().split():
                return False
        with open(os.path.join(folder, "cgroup.subtree_control"), "r+") as control:
            if not re.search(r"\bpids\b", control.read()):
                control.write("+pids")
        return True
    except OSError:
        return False


def process_limit():
    """A sentence for the summary: how the sandbox's process limit is enforced here."""
    if os.geteuid() != 0:
        return f"at most {MAX_TASKS} processes and threads per sandbox (RLIMIT_NPROC in its user namespace)"
    if pids_cgroup():
        return f"at most {MAX_TASKS} processes and threads per sandbox (a pids cgroup each)"
    return ("no limit on the number of processes in a sandbox: the grader runs as root (exempt from "
            "RLIMIT_NPROC) and has no writable pids cgroup")


@functools.cache
def probe():
    """``(works, detail)``: can bubblewrap start this Python with no network here?"""
    if shutil.which("bwrap") is None:
        return False, "bubblewrap is not installed (apt-get install -y bubblewrap)"
    command = bwrap_command([interpreter(), "-c", "import socket, numpy; print('ok')"],
                            cwd="/tmp", env=environment(""))
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"bubblewrap failed to start: {error}"
    if result.returncode != 0 or result.stdout.strip() != "ok":
        return False, f"bubblewrap refused to run here: {result.stderr.strip()[-300:]}"
    return True, "bubblewrap: no network, no view of the course root or other submissions"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is required and does not work here: no learner code runs."""


def refusal(detail):
    """Why grading will not run learner code here, and what to do about it."""
    return (f"refusing to run learner code without a sandbox: {detail}.\n"
            f"What to do: install bubblewrap (Debian/Ubuntu: apt-get install -y bubblewrap; it needs "
            f"user namespaces, or root); on macOS or Windows, grade inside a Linux container or VM that "
            f"has it (see the README, \"Grading on macOS or Windows\"). Only if you trust every "
            f"submission, {UNCONFINED_OPTION} (grade_class(..., sandbox_mode=\"unconfined\")) runs learner "
            f"code with your rights: it can read and change your files and reach the network.")


def resolve(mode="bwrap"):
    """The sandbox used for ``mode`` (bwrap|unconfined) and a sentence for the summary: ``bwrap``
    when it works here, else ``SandboxUnavailable``; ``unconfined`` only when asked for by name."""
    if mode not in MODES:
        raise ValueError(f"sandbox mode must be one of {MODES}, not {mode!r} (there is no fallback: "
                         f"'unconfined' is the explicit way to run learner code with the grader's rights)")
    if mode == "unconfined":
        return "unconfined", UNCONFINED
    works, detail = probe()
    if not works:
        raise SandboxUnavailable(refusal(detail))
    return "bwrap", detail


def command(mode, argv, *, cwd, writable=(), env):
    """The command line that runs ``argv`` in the sandbox ``mode`` (as resolved)."""
    if mode == "bwrap":
        return bwrap_command(argv, cwd=cwd, writable=writable, env=env)
    if mode == "unconfined":
        return list(argv)
    raise ValueError(f"sandbox mode must be one of {MODES}, not {mode!r}")
