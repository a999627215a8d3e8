"""Stock ``nbgrader autograde``: kernels in bubblewrap, scores from the judge.

``classroom/nbgrader_config.py`` changes the autograde chain of ``nbgrader autograde``
(``AutogradeApp``) and of the formgrader's autograde button (``NbGraderAPI``): nbgrader's
``Execute`` becomes ``SandboxedExecute`` followed by ``JudgeVerdicts``. ``python -m
autograder.instructor.grade`` is not affected: it builds its ``Autograde`` without those parents and runs
its own kernels (``kernels``, ``zygote``) and the same judge (``submission.apply_judgement``).

``SandboxedExecute`` runs each notebook's kernel (nbgrader's usual ``ipykernel`` command) in
``bwrap`` via ``sandbox.bwrap_command`` (no network, own pid/ipc/uts namespaces, no
capabilities, a fresh ``/tmp``, the system and the Python environment read-only, rlimits from
``sandbox.Limits``), seeing and writing only:
  - the notebook's working folder, ``autograded/<student>/<assignment>/`` (nbgrader runs the
    kernel there): the learner's own files;
  - a private folder of this kernel, outside the course root: its connection file and unix
    sockets (``transport="ipc"``, there is no network) and, read-only, a copy of the grading
    code (``autograder/**/*.py``, what the test cells import).
The course root (gradebook, ``nbgrader_config.py``, source notebooks, other learners'
``submitted/`` and ``autograded/`` folders) and the repository are not in the sandbox at all.
When the kernel is gone, its whole sandbox is gone too (the namespace's pid 1 is killed and
waited for), and anything in the working folder that is not a plain file or folder (a symlink
to the gradebook, a fifo) is removed before nbgrader writes the graded notebook there. A kernel
that dies costs nothing but its outputs: the notebook goes on to the judge.

``JudgeVerdicts`` then runs ``autograder.instructor.judge`` on that notebook's exercises, in this process
(torch, the comparison) with the learner's code in torch-free sandboxed workers, on the
learner's files as nbgrader staged them, rebuilt from ``submitted/`` and ``source/`` (not from
the folder the kernel could write): the submitted notebook, and the submitted engine over the
source's other files. The hidden seeds come from the course secret (``.grading/secret``) and the
submission's files (``collect.read_submission``), as in ``python -m autograder.instructor.grade``: the same
bytes get the same score from either command. Every graded test cell's outputs are replaced by
the judge's verdict (a failing exercise: an error output carrying the judge's message, so
nbgrader's ``SaveAutoGrades`` scores it 0 and the feedback says why; a passing one: the
message on stdout, full points). Nothing the kernel printed, raised or faked in a test cell
reaches the score; a graded test cell the judge has no check for scores 0 (grade it by hand).

Fail closed: where bubblewrap is missing or refused (``sandbox.probe``), each notebook is refused
with an error saying why and what to do, and no learner code runs, unless the instructor sets
``c.SandboxedExecute.allow_unsandboxed_learner_code = True``: then kernels and the judge's
workers run unconfined, with a loud warning for every notebook.
"""

import os
import shutil
import signal
import stat
import tempfile
import time
import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool

from autograder.instructor import sandbox
from autograder.instructor.grading import collect, kernels

# A fresh kernel maps this much before learner code runs (Python, ipykernel, numpy and torch:
# about 640 MB of address space here); ``Limits.memory_mb`` comes on top, as for the zygote.
KERNEL_BASE_MB = 1024
PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # autograder/
LEARNER_SIDE = ("__init__.py", "learner", "checking", "worker")
# ``autograder.instructor.judge.judge``'s sandbox modes: its workers in bubblewrap, or unconfined (opt-in only).
JUDGE_SANDBOXED = "bwrap"
JUDGE_UNCONFINED = "unconfined"
# What ``SandboxedExecute`` tells ``JudgeVerdicts`` about the notebook in ``resources``.
RESOURCE = "autograder_stock"
OPT_IN = "c.SandboxedExecute.allow_unsandboxed_learner_code = True"


def autograde_preprocessors():
    """nbgrader's own autograde chain, ``Execute`` replaced by ``SandboxedExecute, JudgeVerdicts``."""
    chain = Autograde.class_traits()["autograde_preprocessors"].default()
    if Execute not in chain:  # without it no test cell would fail, and every cell would score
        raise RuntimeError("nbgrader's autograde chain has no Execute step: this nbgrader is not supported")
    return [new for step in chain for new in ((SandboxedExecute, JudgeVerdicts) if step is Execute else (step,))]


def copy_grading_code(target):
    """The learner's side of ``autograder/`` (``__init__.py``, ``learner/``, ``checking/``, ``worker/``) into
    ``target``: what the test cells import (no reference engine, and nothing of ``autograder/instructor/``,
    the grader's own stand-ins above all).

    (``bundle.package_files`` picks the same code, but importing it would import torch here.)
    """
    def skip(folder, names):
        return [name for name in names if name.startswith(".") or name == "__pycache__"
                or (folder == PACKAGE and name not in LEARNER_SIDE)
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


class LearnerCodeRefused(sandbox.SandboxUnavailable):
    """No working sandbox, and no one asked to run learner code without one."""


def _where(resources):
    ids = (resources or {}).get("nbgrader", {})
    return f"{ids.get('student', '?')}/{ids.get('assignment', '?')}/{ids.get('notebook', '?')}.ipynb"


class SandboxedExecute(kernels.LateOutputExecute):
    """nbgrader's ``Execute``, its kernels started in the bubblewrap sandbox (see the module); a cell's
    output still arriving long after the cell finished is let go rather than failing the notebook."""

    allow_unsandboxed_learner_code = Bool(False, help=(
        "Where bubblewrap is missing or refused, run learners' kernels and the judge's workers "
        "anyway, unconfined, with your rights: they can read and write the course, the gradebook "
        "and other learners' files, and reach the network. Off: such notebooks are refused.")).tag(config=True)

    def __init__(self, *args, **kwargs):
        self._works, self._detail = sandbox.probe()
        if self._works:
            kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)
        self._sandboxed = None

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if isinstance(km, SandboxedKernelManager):
            self._sandboxed = km
        return km

    def preprocess(self, nb, resources=None, km=None):
        where = _where(resources)
        if not self._works and not self.allow_unsandboxed_learner_code:
            raise LearnerCodeRefused(
                f"{where}: not graded, no learner code was run: {self._detail}. Stock nbgrader autograde "
                f"runs learners' kernels and the judge's workers only in bubblewrap. Install it "
                f"(Debian/Ubuntu: apt-get install -y bubblewrap) or, on macOS or Windows, grade inside a "
                f"Linux container or VM that has it (README: \"Grading on macOS or Windows\"). Only if you "
                f"trust every submission: to run learner code unconfined with your rights anyway, put "
                f"`{OPT_IN}` in nbgrader_config.py.")
        if not self._works:
            self.log.warning("NOT SANDBOXED (%s): %s. Learner code in this kernel and in the judge's "
                             "workers runs with your rights: it can read and write the course, the "
                             "gradebook and other learners' files, and reach the network (you set %s).",
                             where, self._detail, OPT_IN)
        resources[RESOURCE] = {"judge_sandbox": JUDGE_SANDBOXED if self._works else JUDGE_UNCONFINED}
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError as error:  # its outputs so far stay; the judge grades the notebook
            self.log.warning("%s: the kernel died (%s); the judge grades this notebook from its files",
                             where, str(error)[:200])
            return nb, resources
        finally:
            if self._sandboxed is not None:  # also when the kernel never came up
                self._sandboxed.release()
                self._sandboxed = None


def graded_test_cells(nb):
    """``{grade_id: cell}``: the code cells nbgrader scores from their outputs (graded, not answers).

    Their grade id is the judge's exercise id, as in ``submission.apply_judgement``."""
    return {cell.metadata["nbgrader"]["grade_id"]: cell for cell in nb.cells
            if cell.cell_type == "code" and nbgrader_utils.is_grade(cell) and not nbgrader_utils.is_solution(cell)}


def staged_files(coursedir, exclude, student, assignment):
    """``(files, submission)``: the assignment's files as nbgrader stages them for grading, from
    ``source/`` and ``submitted/`` (not from the folder a kernel could write): each source file
    that is not a notebook, the learner's copy where ``exclude`` (``exclude_overwriting``) keeps
    it. ``submission`` is ``collect.read_submission`` of the submitted folder (links not followed),
    whose files give the work digest as in ``python -m autograder.instructor.grade``."""
    submitted = coursedir.format_path(coursedir.submitted_directory, student, assignment)
    source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    submission = collect.read_submission(submitted, student)
    kept = {Path(name).as_posix() for name in exclude}
    files = {}
    for path in nbgrader_utils.find_all_files(str(source), coursedir.ignore + ["*.ipynb"]):
        name = Path(path).relative_to(source).as_posix()
        data = submission.files.get(name) if name in kept else Path(path).read_bytes()
        if data is not None:
            files[name] = data
    return files, submission


def verdict_output(verdict):
    """The one output a judged test cell keeps: the judge's message, as an error when it failed."""
    seed = "" if verdict.seed is None else f" (hidden-check seed {verdict.seed})"
    lines = [f"graded by the judge{seed}:", *verdict.message.splitlines()]
    if verdict.passed:
        return NotebookNode(output_type="stream", name="stdout", text="\n".join(lines) + "\n")
    return NotebookNode(output_type="error", ename="CheckFailed", evalue=lines[1] if len(lines) > 1 else "failed",
                        traceback=lines)


class JudgeVerdicts(NbGraderPreprocessor):
    """Every graded test cell's outcome becomes the judge's verdict on that exercise (see the module)."""

    def preprocess(self, nb, resources):
        from autograder.instructor import judge  # torch: only when a notebook is graded, not for every nbgrader command
        from autograder.learner import checks

        info = resources.get(RESOURCE)
        if info is None:
            raise RuntimeError("JudgeVerdicts must follow SandboxedExecute in the autograde chain "
                               "(stock.autograde_preprocessors())")
        ids = resources["nbgrader"]
        converter = self._converter()
        cells = graded_test_cells(nb)
        exercises = sorted(set(cells) & set(checks.ALL_EXERCISES))
        files, submission = staged_files(converter.coursedir, converter.exclude_overwriting.get(ids["assignment"], []),
                                         ids["student"], ids["assignment"])
        mine = submission.files.get(f"{ids['notebook']}.ipynb")  # as submitted (answer cells only are run)
        parsed = None if mine is None else judge.load_notebook_text(mine.decode("utf-8", errors="replace"))
        notebooks = {ids["notebook"]: parsed}
        folder = Path(tempfile.mkdtemp(prefix="stock-judge-"))
        try:
            for name, data in files.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(data)
            limits = sandbox.Limits()  # the limits `python -m autograder.instructor.grade` gives the judge by default
            verdicts = judge.judge(exercises, folder, notebooks, secret=judge.course_secret(converter.coursedir.root),
                                   digest=judge.work_digest(submission.files), sandbox=info["judge_sandbox"],
                                   memory_mb=limits.memory_mb, cpu_seconds=min(limits.cpu_seconds, 300),
                                   ) if exercises else {}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for grade_id, cell in cells.items():
            verdict = verdicts.get(grade_id) or judge.Verdict(
                grade_id, False, f"{grade_id}: the judge has no check for this cell, so it scores 0 here; grade it "
                                 "by hand")
            cell.outputs = [verdict_output(verdict)]
        passed = sum(v.passed for v in verdicts.values())
        self.log.info("%s: the judge passed %d of %d exercise(s)", _where(resources), passed, len(cells))
        return nb, resources

    def _converter(self):
        """The ``Autograde`` converter this preprocessor serves (its exporter's parent)."""
        node = self.parent
        while node is not None and not (hasattr(node, "coursedir") and hasattr(node, "exclude_overwriting")):
            node = node.parent
        if node is None:
            raise RuntimeError("JudgeVerdicts runs only inside nbgrader's Autograde converter")
        return node
