"""nbgrader's ``Execute`` preprocessor, hardened for notebooks that fight back.

``SafeExecute`` is nbgrader's ``Execute`` (same config, same outputs, same grades for an
honest notebook) with five changes:
  - kernels come from the submission's warm factory (``zygote``) inside the sandbox, over
    unix sockets, through a jupyter_client provisioner -- no new interpreter per notebook;
  - a kernel that dies (``os._exit``, a segfault, the memory or CPU limit) no longer throws
    the notebook away: cells that ran keep their results, the cell that was running gets an
    error naming what happened, and every later cell an error saying it could not run;
  - a cell that outlives its timeout and ignores the interrupt gets the kernel killed (stock
    nbgrader would wait out the timeout again on every later cell), and a whole notebook
    has a wall-clock limit;
  - each cell's output is capped while it arrives (stock ``LimitOutput`` trims it only
    after the grader has held all of it in memory);
  - output still arriving ``iopub_timeout`` seconds after its cell finished is let go, with a
    line in the cell and the report (``LateOutputExecute``, shared with stock autograde's
    ``SandboxedExecute``), where nbgrader fails the whole notebook.
"""

import os
import signal
import threading
import uuid
from queue import Empty
from time import monotonic

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from jupyter_client.utils import ensure_async
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

SIGNAL_WORDS = {
    signal.SIGSEGV: "crashed with a segmentation fault (SIGSEGV)",
    signal.SIGBUS: "crashed with a bus error (SIGBUS)",
    signal.SIGABRT: "aborted (SIGABRT)",
    signal.SIGKILL: "was killed (SIGKILL)",
    signal.SIGXCPU: "used up its CPU-time limit (SIGXCPU)",
    signal.SIGXFSZ: "wrote a file larger than the file-size limit (SIGXFSZ)",
    signal.SIGFPE: "crashed with an arithmetic fault (SIGFPE)",
}


class GradingContext:
    """What the kernels of the submission being graded share (set by ``submission`` for one submission)."""

    def __init__(self, zygote, run_dir, ipc_dir):
        self.zygote, self.run_dir, self.ipc_dir = zygote, run_dir, ipc_dir
        self.incidents = []  # {"notebook", "cell", "reason"} for the report
        self.before_kernel = None  # called with nbgrader's output folder before each kernel starts
        self.kernel_seed = None  # seeds the notebooks' own hidden checks (advisory; not the judge's)


ACTIVE = None  # the GradingContext of the submission this process is grading (one at a time)


class KernelStopped(RuntimeError):
    """The grader stopped the kernel on purpose; the message says why."""


class ZygoteProvisioner(LocalProvisioner):
    """Launch the kernel by forking the warm factory instead of starting a new interpreter."""

    async def launch_kernel(self, cmd, **kwargs):
        context = self.parent.grading
        if "ipykernel_launcher" not in cmd:
            raise RuntimeError(f"only ipykernel kernels can be graded here, not {cmd}")
        argv = cmd[cmd.index("ipykernel_launcher") + 1:]
        env = {k: os.environ[k] for k in ("NBGRADER_EXECUTION",) if k in os.environ}
        if context.kernel_seed is not None:  # the notebooks' own hidden checks: the same cases on every run
            env["AUTOGRADER_HIDDEN_SEED"] = str(context.kernel_seed)
        self.process = context.zygote.spawn_kernel(argv, cwd=context.run_dir, env=env)
        self.parent.kernel_process = self.process  # outlives the provisioner's cleanup, for the report
        self.pid, self.pgid, self.cwd = self.process.pid, None, context.run_dir
        return self.connection_info


class ZygoteKernelManager(AsyncKernelManager):
    """Unix-socket transport (the sandbox has no network), kernels from the zygote."""

    def __init__(self, grading, **kwargs):
        super().__init__(**kwargs)
        self.grading = grading
        self.transport = "ipc"
        name = uuid.uuid4().hex[:8]
        self.ip = os.path.join(grading.ipc_dir, name)
        self.connection_file = os.path.join(grading.ipc_dir, f"{name}.json")

    async def _async_pre_start_kernel(self, **kwargs):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or str(uuid.uuid4())
            self.provisioner = ZygoteProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec,
                                                 parent=self)
        return await super()._async_pre_start_kernel(**kwargs)


def _error(ename, evalue):
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def cell_label(cell, index):
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"cell '{grade_id}'" if grade_id else f"cell {index + 1}"


class LateOutputExecute(Execute):
    """nbgrader's ``Execute``, letting go of a cell's output that is still arriving ``iopub_timeout``
    seconds after the cell's reply, instead of failing the notebook.

    A cell that floods its output (say 20 MB to file descriptor 1) can finish within its time and
    leave the kernel forwarding that output for longer than ``iopub_timeout``; how much longer
    depends on the grading machine's load. nbgrader's ``raise_on_iopub_timeout=True`` then fails the
    whole notebook, so the same bytes would score differently on a busy machine. The score comes from
    the judge, not from any cell's output, so nothing is lost by not waiting; the cell says so.
    """

    raise_on_iopub_timeout = Bool(False, help="Fail the notebook when a cell's output is still "
                                              "arriving iopub_timeout seconds after its reply "
                                              "(nbgrader: True).").tag(config=True)

    async def _async_poll_for_reply(self, msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive):
        reply = await super()._async_poll_for_reply(msg_id, cell, timeout, task_poll_output_msg,
                                                    task_poll_kernel_alive)
        if task_poll_output_msg.cancelled():  # nbclient gave up waiting for it (and did not raise)
            cell.outputs.append(new_output("stream", name="stdout", text=(
                f"\n[the grader stopped waiting for this cell's output {self.iopub_timeout} s after the cell "
                f"finished; the rest of it is not kept]\n")))
            self.output_let_go(cell)
        return reply

    def output_let_go(self, cell):
        """Called once a cell's late output was let go."""
        self.log.warning("a cell's output was still arriving %s s after it finished; the rest was not kept",
                         self.iopub_timeout)


class SafeExecute(LateOutputExecute):
    interrupt_grace = Integer(5, help="Seconds a timed-out cell has to obey the interrupt "
                                      "before its kernel is killed.").tag(config=True)
    notebook_timeout = Integer(900, help="Wall-clock seconds for a whole notebook.").tag(config=True)
    cell_output_limit = Integer(2_000_000, help="Bytes of output kept per cell.").tag(config=True)

    def create_kernel_manager(self):
        if ACTIVE is None:  # outside a class grading run: behave exactly like nbgrader's Execute
            return super().create_kernel_manager()
        if not self.kernel_name:
            self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name", "python3")
        self.km = self._grading_km = ZygoteKernelManager(ACTIVE, kernel_name=self.kernel_name, config=self.config)
        return self.km

    def preprocess(self, nb, resources=None, km=None):
        self._running, self._stopped, self._output_bytes, self._grading_km = None, None, {}, None
        if ACTIVE is not None and ACTIVE.before_kernel is not None:
            ACTIVE.before_kernel((resources or {}).get("metadata", {}).get("path") or ".")
        watchdog = threading.Timer(self.notebook_timeout, self._overtime)
        watchdog.daemon = True
        watchdog.start()
        try:
            return super().preprocess(nb, resources, km)
        except (DeadKernelError, KernelStopped) as error:
            self._record_loss(str(error))
            return self.nb, self.resources
        finally:
            watchdog.cancel()

    def output_let_go(self, cell):
        self._incident(f"its output was still arriving {self.iopub_timeout} s after it finished; "
                       "the rest of it was not kept")

    def preprocess_cell(self, cell, resources, index):
        self._running = index
        return super().preprocess_cell(cell, resources, index)

    def _overtime(self):
        self._stopped = f"the notebook ran longer than its {self.notebook_timeout} s limit"
        self._kill()

    def _kill(self):
        process = getattr(self._grading_km, "kernel_process", None)
        if process is not None:
            try:
                process.kill()
            except Exception:  # noqa: BLE001 - it may be gone already, which is what we want
                pass

    def _death_reason(self, fallback):
        if self._stopped:
            return self._stopped
        process = getattr(self._grading_km, "kernel_process", None)  # nbclient drops self.km on cleanup
        code = None
        for _ in range(20):  # the exit status can lag the dead heartbeat by a moment
            code = process.poll() if process is not None else None
            if code is not None:
                break
            threading.Event().wait(0.05)
        if code is None:
            return f"the kernel stopped responding ({fallback})"
        if code < 0:
            words = SIGNAL_WORDS.get(-code, f"was killed by signal {-code}")
            if -code == signal.SIGKILL:
                words += ", usually the memory limit"
            return f"the kernel {words}"
        return f"the kernel exited with status {code} (os._exit or a crash in native code)"

    def _record_loss(self, fallback):
        """Cells that ran keep their outputs; the running cell and all after it get an error."""
        index = self._running if self._running is not None else -1
        reason = self._death_reason(fallback)
        cells = self.nb.cells
        label = cell_label(cells[index], index) if index >= 0 else "kernel start-up"
        for number, cell in enumerate(cells):
            if cell.cell_type != "code" or number < index:
                continue
            if number == index:
                cell.outputs.append(_error("KernelDied", f"{reason} while running this cell"))
            else:
                cell.outputs = [_error("NotRun", f"not run: {reason} in {label}")]
        self._incident(reason, label)

    def _incident(self, reason, label=None):
        if ACTIVE is None:
            return
        if label is None:
            label = cell_label(self.nb.cells[self._running], self._running)
        notebook = (self.resources or {}).get("nbgrader", {}).get("notebook", "?")
        ACTIVE.incidents.append({"notebook": notebook, "cell": label, "reason": reason})

    # ---- timeouts: interrupt as stock nbgrader does, then kill if the interrupt is ignored

    async def _async_poll_for_reply(self, msg_id, cell, timeout, *tasks):
        self._waiting_for = msg_id
        return await super()._async_poll_for_reply(msg_id, cell, timeout, *tasks)

    async def _async_handle_timeout(self, timeout, cell=None):
        reply = await super()._async_handle_timeout(timeout, cell)
        if await self._obeyed_interrupt():
            self._incident(f"the cell ran longer than its {timeout} s limit and was interrupted")
            return reply
        self._stopped = (f"the cell ran longer than its {timeout} s limit and ignored the interrupt, "
                         f"so its kernel was stopped")
        self._kill()
        raise KernelStopped(self._stopped)

    async def _obeyed_interrupt(self):
        deadline = monotonic() + self.interrupt_grace
        while (left := deadline - monotonic()) > 0:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
            except Empty:
                return False
            if msg["parent_header"].get("msg_id") == self._waiting_for:
                return True
        return False

    # ---- output: cap it as it arrives

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        if used + size > self.cell_output_limit:
            if used <= self.cell_output_limit:  # say it once, on stdout (stderr would cost points)
                outs.append(new_output("stream", name="stdout", text=(
                    f"\n[output truncated by the grader: more than {self.cell_output_limit // 1000} kB]\n")))
            return None
        return super().output(outs, msg, display_id, cell_index)
