"""Bad and hostile submissions to the real course, with the exact points each must get.

To keep grading fast, most cases submit only the notebooks they are about (the others are
missing and score 0, as in nbgrader). ``earned`` lists the exercises whose points the case
deserves; every other exercise must score 0 -- that is the zero-false-pass check, since each
cheat targets exercises it did not really solve.
"""

from dataclasses import dataclass, field

import nbformat
from corpus import course

NB1, NB2, NB3 = "01_x_squared", "02_sin_chain_rule", "03_neuron_bce"
NB5, NB6, NB7 = "05_clearing_gradients", "06_disabling_tracking", "07_training_a_neuron"
ALL_NOTEBOOKS = [NB1, NB2, NB3, "04_vector_input", NB5, NB6, NB7]
NB1_UNITS, NB1_ANSWERS = ["pow_backward", "accumulate_grad"], ["manual_dy_dx"]


@dataclass
class Case:
    student: str
    why: str
    earned: list                                   # exercises that must get full points
    says: list = field(default_factory=list)       # words the grading report must contain
    submit: dict = field(default_factory=dict)     # keyword arguments for course.submit


def _only(*keep):
    return [n for n in ALL_NOTEBOOKS if n not in keep]


def _cell(notebook, grade_id):
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def _add_cell(after, source):
    def edit(name, notebook):
        if name == after[0]:
            index = notebook.cells.index(_cell(notebook, after[1]))
            notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return edit


def _set(target, grade_id, source):
    def edit(name, notebook):
        if name == target:
            _cell(notebook, grade_id).source = source
    return edit


# a notebook cell that swaps the checks module for one that always passes
FAKE_CHECKS = """
import sys, types
fake = types.ModuleType("autograder.checks")
fake.check = lambda *args, **kwargs: print("all good")
sys.modules["autograder.checks"] = fake
"""
# a notebook cell that makes torch and numpy comparisons always agree
PATCH_LIBRARIES = """
import numpy, torch
torch.allclose = lambda *args, **kwargs: True
numpy.allclose = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
torch.testing.assert_close = lambda *args, **kwargs: None
"""
WRONG_POW = "        return grad * 0\n"
ENGINE_TORCH_POW = """        import torch
        x, = ctx.saved_tensors
        t = torch.tensor(x, requires_grad=True)
        (t ** ctx.exponent).backward(torch.tensor(grad))
        return t.grad.numpy()
"""
ENGINE_REFERENCE_POW = """        import sys, importlib.util, glob
        for name, module in list(sys.modules.items()):
            if "reference" in name and hasattr(module, "Pow"):
                return module.Pow.backward(ctx, grad)
        for path in glob.glob("/**/solutions/tinygrad_course/engine.py", recursive=True):
            spec = importlib.util.spec_from_file_location("stolen", path)
            stolen = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(stolen)
            return stolen.Pow.backward(ctx, grad)
        raise NotImplementedError("nothing to steal")
"""
SEED_POW = "        return grad * 6.0  # the seed's x = 3\n"


def engine_with_pow(body):
    """The release engine (every unit open) with ``Pow.backward`` replaced by ``body``."""
    stub = course.engine_with([])
    marker = "raise NotImplementedError(todo('pow_backward'))"
    start = stub.index(marker)
    line_start = stub.rindex("\n", 0, start) + 1
    return stub[:line_start] + body + stub[stub.index("\n", start) + 1:]


def cases():
    everything = dict(engine_units=course.all_units(), answers=course.all_answers())
    nb1_solved = dict(engine_units=course.all_units(), answers=NB1_ANSWERS, drop=_only(NB1))
    return [
        Case("reference", "every unit and answer solved", course.all_units() + course.all_answers(),
             submit=everything),
        Case("blank", "the release, untouched", []),
        Case("partial", "the first three notebooks' work only",
             ["pow_backward", "accumulate_grad", "sin_backward", "backward_pass", "add_backward", "sub_backward",
              "mul_backward", "manual_dy_dx", "manual_dz_dx"],
             submit=dict(engine_units=["pow_backward", "accumulate_grad", "sin_backward", "backward_pass",
                                       "add_backward", "sub_backward", "mul_backward"],
                         answers=["manual_dy_dx", "manual_dz_dx"])),
        Case("fake-checks-module", "a cell replaces autograder.checks with a module that always passes", [],
             ["re-check in a sandbox decides"], submit=dict(drop=_only(NB1), edit=_add_cell((NB1, "setup"), FAKE_CHECKS))),
        # tampering is refused by the checks for every exercise of the kernel, the honest one too
        Case("patched-libraries", "a wrong Pow.backward, and torch/numpy comparisons patched to agree", [],
             submit=dict(drop=_only(NB1), answers=NB1_ANSWERS, files={
                 "tinygrad_course/engine.py": engine_with_pow(WRONG_POW)},
                 edit=_add_cell((NB1, "setup"), PATCH_LIBRARIES))),
        Case("delegates-to-torch", "Pow.backward asks torch for the gradient", [],
             submit=dict(drop=_only(NB1), files={"tinygrad_course/engine.py": engine_with_pow(ENGINE_TORCH_POW)})),
        Case("delegates-to-reference", "Pow.backward calls the instructor's reference engine", [],
             submit=dict(drop=_only(NB1), files={
                 "tinygrad_course/engine.py": engine_with_pow(ENGINE_REFERENCE_POW)})),
        Case("hard-coded-seed", "answers hard-coded from the tutorial's numbers", [],
             submit=dict(drop=_only(NB1), files={"tinygrad_course/engine.py": engine_with_pow(SEED_POW)},
                         edit=_set(NB1, "manual_dy_dx_answer", "def dy_dx(x):\n    return 6.0\n"))),
        Case("kernel-dies", "a cell of notebook 03 calls os._exit; notebooks 01 and 02 are fine",
             NB1_UNITS + NB1_ANSWERS + ["sin_backward", "backward_pass", "manual_dz_dx"],
             ["exited with status 7"],
             submit=dict(everything, drop=_only(NB1, NB2, NB3),
                         edit=_add_cell((NB3, "setup"), "import os\nos._exit(7)"))),
        Case("invalid-json", "notebook 01 is not valid JSON; notebook 02 is fine",
             ["sin_backward", "backward_pass", "manual_dz_dx"], ["01_x_squared.ipynb is not valid JSON"],
             submit=dict(everything, drop=_only(NB1, NB2),
                         edit=lambda name, nb: b'{"cells": [}' if name == NB1 else None)),
        Case("renamed", "notebook 01 submitted as '01_x_squared-2.ipynb'", NB1_UNITS + NB1_ANSWERS, ["renamed"],
             submit=dict(nb1_solved, rename={NB1: "01_x_squared-2.ipynb"})),
        Case("edited-tests", "open units; the pow test deleted, the accumulate test edited to pass",
             NB1_ANSWERS, ["test cell pow_backward had been deleted", "test cell accumulate_grad had been edited"],
             submit=dict(drop=_only(NB1), answers=NB1_ANSWERS, edit=_edit_tests)),
        Case("memory-hog", "the dy_dx answer cell allocates without bound", NB1_UNITS,
             submit=dict(nb1_solved, answers=[], edit=_set(
                 NB1, "manual_dy_dx_answer",
                 "hoard = []\nwhile True:\n    hoard.append(bytearray(100 * 2**20))\n"))),
        Case("endless-loop", "the dy_dx answer cell never ends", NB1_UNITS, ["interrupted"],
             submit=dict(nb1_solved, answers=[], edit=_set(NB1, "manual_dy_dx_answer", "while True:\n    pass\n"))),
        Case("huge-output", "prints 100 MB before a correct answer", NB1_UNITS + NB1_ANSWERS,
             submit=dict(nb1_solved, edit=_set(NB1, "manual_dy_dx_answer", (
                 "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)\n"
                 "def dy_dx(x):\n    return 2 * x\n")))),
    ]


def _edit_tests(name, notebook):
    if name != NB1:
        return
    notebook.cells.remove(_cell(notebook, "pow_backward"))
    _cell(notebook, "accumulate_grad").source = "print('accumulate_grad: all good')"


def expected(case, points):
    return {exercise: (points[exercise] if exercise in case.earned else 0.0) for exercise in points}
