"""A cell's output still arriving long after the cell finished: let go, never the notebook's failure.

How long a flood of output takes to drain depends on the grading machine's load, so failing the
notebook there (nbgrader's ``raise_on_iopub_timeout=True``) made the same bytes score differently on a
busy machine. Here the drain is made slow on purpose, whatever the machine: the grader's side handles
each output message slowly, so 200 messages take at least 4 s against an ``iopub_timeout`` of 1 s.
Both executors are checked: ``python -m autograder.instructor.grade``'s (``SafeExecute``, a plain kernel
here) and stock autograde's (``SandboxedExecute``, its kernel in bubblewrap).
"""

import time

import nbformat
import pytest
from nbclient.exceptions import CellTimeoutError
from nbformat.v4 import new_code_cell, new_notebook

from autograder.instructor.grading import kernels, stock

pytestmark = pytest.mark.slow  # real Jupyter kernels, about 5 s each

MESSAGES = 200
SECONDS_PER_MESSAGE = 0.02
FLOOD = f"for line in range({MESSAGES}):\n    print(line, flush=True)"  # one output message per line


def _slow_to_drain(executor_class):
    class SlowToDrain(executor_class):
        let_go = []

        def output(self, outs, msg, display_id, cell_index):
            time.sleep(SECONDS_PER_MESSAGE)
            return super().output(outs, msg, display_id, cell_index)

        def output_let_go(self, cell):
            self.let_go.append(cell.source)
            super().output_let_go(cell)

    return SlowToDrain


def _run(executor_class, folder, **options):
    notebook = new_notebook(cells=[new_code_cell(FLOOD), new_code_cell("print(6 * 7)")],
                            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                     "language": "python"}})
    executor = _slow_to_drain(executor_class)(iopub_timeout=1, timeout=60, **options)
    resources = {"metadata": {"path": str(folder)},
                 "nbgrader": {"student": "ada", "assignment": "autodiff", "notebook": "late"}}
    executed, _ = executor.preprocess(nbformat.from_dict(notebook), resources)
    return executed, executor


@pytest.fixture(params=["grade", "stock"])
def executor_class(request):
    if request.param == "stock":
        request.getfixturevalue("needs_bwrap")
        return stock.SandboxedExecute
    return kernels.SafeExecute


def test_the_drain_outlasts_the_timeout_so_nbgrader_would_fail_the_notebook(executor_class, tmp_path):
    with pytest.raises(CellTimeoutError, match="IOPub"):
        _run(executor_class, tmp_path, raise_on_iopub_timeout=True)


def test_late_output_is_let_go_the_cell_says_so_and_later_cells_run(executor_class, tmp_path):
    executed, executor = _run(executor_class, tmp_path)
    flood, after = executed.cells
    assert executor.let_go == [FLOOD]
    shown = "".join(output.get("text", "") for output in flood.outputs)
    assert shown.rstrip().endswith("[the grader stopped waiting for this cell's output 1 s after the cell "
                                   "finished; the rest of it is not kept]")
    assert shown.count("\n") < MESSAGES  # some of the flood was let go indeed
    assert [output.get("text") for output in after.outputs] == ["42\n"]


def test_the_grade_commands_report_names_the_cell_whose_output_was_let_go(tmp_path, monkeypatch):
    context = kernels.GradingContext(zygote=None, run_dir=str(tmp_path), ipc_dir=str(tmp_path))
    monkeypatch.setattr(kernels, "ACTIVE", context)

    class PlainKernel(kernels.SafeExecute):  # the report's bookkeeping, without the sandboxed kernel factory
        def create_kernel_manager(self):
            self.km = self._grading_km = self.kernel_manager_class(kernel_name="python3", config=self.config)
            return self.km

    _run(PlainKernel, tmp_path)
    assert context.incidents == [{"notebook": "late", "cell": "cell 1", "reason": (
        "its output was still arriving 1 s after it finished; the rest of it was not kept")}]
