"""Stock ``nbgrader autograde`` with every kernel in the bubblewrap sandbox.

``classroom/nbgrader_config.py`` puts ``SandboxedExecute`` in place of nbgrader's ``Execute``
in the autograde chain of ``nbgrader autograde`` (``AutogradeApp``) and of the formgrader's
autograde button (``NbGraderAPI``). ``python -m autograder.grade`` is not affected: it builds
its ``Autograde`` without those parents and runs its own kernels (``kernels``, ``zygote``).

Each notebook's kernel is nbgrader's usual ``ipykernel`` command, wrapped in ``bwrap`` by
``sandbox.bwrap_command`` (no network, own pid/ipc/uts namespaces, no capabilities, a fresh
``/tmp``, the system and the Python environment read-only, rlimits from ``sandbox.Limits``),
seeing and writing only:
  - the notebook's working folder, ``autograded/<student>/<assignment>/`` (nbgrader runs the
    kernel there): the learner's own files;
  - a private folder of this kernel, outside the course root: its connection file and unix
    sockets (``transport="ipc"``, there is no network) and, read-only, a copy of the grading
    code (``autograder/**/*.py``, what the test cells import).
The course root (gradebook, ``nbgrader_config.py``, source notebooks, other learners'
``submitted/`` and ``autograded/`` folders) and the repository are not in the sandbox at all.

When the kernel is gone, its whole sandbox is gone too (the namespace's pid 1 is killed and
waited for), and anything in the working folder that is not a plain file or folder (a symlink
to the gradebook, a fifo) is removed before nbgrader writes the graded notebook there.

Where bubblewrap is missing or refused, the kernels are nbgrader's own, with a warning.
The score is still what the test cells said inside the learner's kernel: see the README for
what only ``python -m autograder.grade`` guarantees.
"""

import os
import shutil
import signal
import stat
import tempfile
import time
import uuid

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute

from autograder.classgrading import sandbox

# A fresh kernel maps this much before learner code runs (Python, ipykernel, numpy and torch:
# about 640 MB of address space here); ``Limits.memory_mb`` comes on top, as for the zygote.
KERNEL_BASE_MB = 1024
PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # autograder/
_warned = False


def autograde_preprocessors():
    """nbgrader's own autograde chain, with ``SandboxedExecute`` in place of ``Execute``."""
    chain = Autograde.class_traits()["autograde_preprocessors"].default()
    return [SandboxedExecute if step is Execute else step for step in chain]


def copy_grading_code(target):
    """``autograder/**/*.py`` into ``target``: what the test cells import (no reference engine, and
    not ``autograder/instructor/``, the grader's own stand-ins).

    (``bundle.package_files`` picks the same code, but importing it would import torch here.)
    """
    def skip(folder, names):
        return [name for name in names if name.startswith(".") or name == "__pycache__"
                or (folder == PACKAGE and name == "instructor")
                or (not name.endswith(".py") and not os.path.isdir(os.path.join(folder, name)))]

    shutil.copytree(PACKAGE, target, ignore=skip)


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except (OSError, ValueError):
        return []


def _signal(pid, signum):
    try:
        os.kill(pid, signum)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def remove_specials(folder):
    """Remove everything under ``folder`` that is not a plain file or folder; their paths.

    A kernel could leave a symlink named like the notebook nbgrader is about to write (to the
    gradebook, say): nbgrader runs outside the sandbox, so it would write through it.
    """
    removed = []
    for top, folders, files in os.walk(folder):  # does not descend into symlinked folders
        for name in folders + files:
            path = os.path.join(top, name)
            try:
                mode = os.lstat(path).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    os.unlink(path)
                    removed.append(path)
            except FileNotFoundError:
                continue
    return removed


class SandboxedProvisioner(LocalProvisioner):
    """Launch the kernel command inside bubblewrap; signals go to the kernel inside."""

    async def launch_kernel(self, cmd, **kwargs):
        km = self.parent
        cwd = kwargs.get("cwd")
        if not cwd:
            raise RuntimeError("a sandboxed kernel needs nbgrader's working folder (no cwd was given)")
        km.work_dir = cwd = os.path.abspath(cwd)
        env = sandbox.environment(km.code_dir)
        env.update({k: v for k, v in (kwargs.get("env") or {}).items() if k == "NBGRADER_EXECUTION"})
        env["JPY_PARENT_PID"] = "1"  # bwrap's init, the kernel's parent in the sandbox: nothing to poll
        command = sandbox.bwrap_command(list(cmd), cwd=cwd, writable=[cwd, km.ipc_dir], env=env)
        at = command.index("--clearenv")  # the grading code: visible, read-only
        command[at:at] = ["--ro-bind", km.code_dir, km.code_dir]
        limits = km.limits.asdict()
        kwargs["preexec_fn"] = lambda: sandbox.apply_limits(limits, KERNEL_BASE_MB * 1024 * 1024)
        info = await super().launch_kernel(command, **kwargs)
        km.sandbox_process = self.process
        return info

    def _kernel_pids(self):
        """(the sandbox's pid 1, [its children: the kernel]) as seen from outside, or (None, [])."""
        inits = _children(self.pid) if self.pid else []
        return (inits[0], _children(inits[0])) if inits else (None, [])

    async def send_signal(self, signum):
        """Signal the kernel, not bwrap (which would die of SIGINT and take the kernel with it).

        SIGKILL goes to the sandbox's pid 1: every process in the sandbox dies with it, and
        bwrap outside exits only once they are all gone.
        """
        if self.process is None or self.process.poll() is not None:
            return
        init, kernels = self._kernel_pids()
        if signum == signal.SIGKILL and init is not None and _signal(init, signum):
            return
        if signum != signal.SIGKILL and kernels and all(_signal(pid, signum) for pid in kernels):
            return
        await super().send_signal(signum)


class SandboxedKernelManager(AsyncKernelManager):
    """An ipykernel in bubblewrap, over unix sockets in a private folder of its own."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.limits = sandbox.Limits()
        self.private = tempfile.mkdtemp(prefix="nbgrader-kernel-")
        self.ipc_dir = os.path.join(self.private, "ipc")
        self.code_dir = os.path.join(self.private, "code")
        os.mkdir(self.ipc_dir)
        copy_grading_code(os.path.join(self.code_dir, "autograder"))
        self.transport = "ipc"
        self.connection_file = os.path.join(self.ipc_dir, "kernel.json")
        self.ip = os.path.join(self.ipc_dir, "kernel")
        self.work_dir = self.sandbox_process = None

    async def _async_pre_start_kernel(self, **kwargs):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or str(uuid.uuid4())
            self.provisioner = SandboxedProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec,
                                                    parent=self)
        return await super()._async_pre_start_kernel(**kwargs)

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            self.release()

    def release(self):
        """The sandbox is gone, the working folder holds plain files only, the private folder is
        removed. Safe to call more than once."""
        process = self.sandbox_process
        if process is not None and process.poll() is None:
            inits = _children(process.pid)
            if not (inits and _signal(inits[0], signal.SIGKILL)):
                process.kill()
            deadline = time.monotonic() + 10
            while process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if process.poll() is None:
                process.kill()
                process.wait()
        if self.work_dir and process is not None:
            removed = remove_specials(self.work_dir)
            if removed:
                self.log.warning("removed what the kernel left that is not a plain file: %s", ", ".join(removed))
        shutil.rmtree(self.private, ignore_errors=True)


class SandboxedExecute(Execute):
    """nbgrader's ``Execute``, its kernels started in the bubblewrap sandbox (see the module)."""

    def __init__(self, *args, **kwargs):
        global _warned
        works, detail = sandbox.probe()
        if works:
            kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)
        if not works and not _warned:
            _warned = True
            self.log.warning("NOT SANDBOXED: %s. Kernels start as in stock nbgrader and learner code "
                             "runs with your rights: it can read and write the course, the gradebook "
                             "and other learners' files, and reach the network.", detail)
        self._sandboxed = None

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if isinstance(km, SandboxedKernelManager):
            self._sandboxed = km
        return km

    def preprocess(self, nb, resources=None, km=None):
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if self._sandboxed is not None:  # also when the kernel never came up
                self._sandboxed.release()
                self._sandboxed = None

