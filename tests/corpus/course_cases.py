"""Bad and hostile submissions to the real course, with the exact points each must get.

To keep grading fast, most cases submit only the notebooks they are about (the others are
missing and score 0, as in nbgrader). ``earned`` lists the exercises whose points the case
deserves; every other exercise must score 0 -- that is the zero-false-pass check, since each
cheat targets exercises it did not really solve.

The cases cover, each with its exact points and the lines its report must hold: cheats on the
kernel (fake checks, patched libraries), engines that borrow (torch at import, the grader's
own stand-ins, other learners' files, numpy patched at import), odd files and folders (names
that are not UTF-8 or hold a newline, links, FIFOs, paths past PATH_MAX, too many files,
modules named like the stdlib's, student folders that are links or named like no id),
notebooks that are not what they seem (not JSON, not a notebook, not UTF-8, nested 100 000
deep, 25 MB, garbage nbgrader metadata, duplicated or missing grade ids, a made-up graded cell),
floods of output, and processes that die (os._exit, a segfault), spin (a cell, and the same answer
in the judge) or outlive their code to reach for the gradebook.

Attacks whose outcome depends on the judge alone (an exercise asking torch or the reference
engine for its answer, spinning on the judge's inputs only) run once, against the judge, in
``instructor/test_judge.py`` (``HOSTILE_POW``), not again here.
"""

import copy
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field

import nbformat
from corpus import course

NB1, NB2, NB3 = "01_x_squared", "02_sin_chain_rule", "03_neuron_bce"
NB5, NB6, NB7 = "05_clearing_gradients", "06_disabling_tracking", "07_training_a_neuron"
NB8 = "08_mlp_real_data"
NB8_EXERCISES = ["log_softmax_backward", "mlp_forward", "train_step"]
ALL_NOTEBOOKS = sorted(path.stem for path in course.SOLUTIONS.glob("*.ipynb"))  # 01 ... 12
NB1_UNITS, NB1_ANSWERS = ["pow_backward", "accumulate_grad"], ["manual_dy_dx"]


@dataclass
class Case:
    student: str
    why: str
    earned: list                                   # exercises that must get full points
    says: list = field(default_factory=list)       # words the grading report must contain (a tuple: on one line)
    submit: dict = field(default_factory=dict)     # keyword arguments for course.submit
    never: list = field(default_factory=list)      # words the grading report must not contain
    # the payload's proof that it ran far enough to attack: words its code prints (``started``) that the
    # kernels' output (the autograded notebooks) must hold. A payload that fails before attacking (an
    # ImportError, a NameError, a site that no longer exists) does not print them, and the case fails.
    started: list = field(default_factory=list)


def started(student, what):
    """The words a case's payload prints once it is under way (see ``Case.started``)."""
    return f"corpus payload started: {student}: {what}"


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
fake = types.ModuleType("autograder.learner.checks")
fake.check = lambda *args, **kwargs: print("all good")
sys.modules["autograder.learner.checks"] = fake
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
SEED_POW = "        return grad * 6.0  # the seed's x = 3\n"


def engine_with_pow(body):
    """The release engine (every unit open) with ``Pow.backward`` replaced by ``body``."""
    stub = course.engine_with([])
    marker = "raise NotImplementedError(todo('pow_backward'))"
    start = stub.index(marker)
    line_start = stub.rindex("\n", 0, start) + 1
    return stub[:line_start] + body + stub[stub.index("\n", start) + 1:]


# ---------------------------------------------------------------- hostile pieces for the cases below

def _nb1(**extra):
    """Notebook 01 only, every unit and answer of it solved."""
    return {"engine_units": course.all_units(), "answers": NB1_ANSWERS, "drop": _only(NB1), **extra}


def _engine(inject, units=None, prelude=""):
    """The reference engine (``units`` solved, default all) with code run first in some solutions."""
    text = course.engine_with(course.all_units() if units is None else units, inject)
    return prelude + text if prelude else text


def _edits(*edits):
    def edit(name, notebook):
        found = None
        for one in edits:
            found = one(name, notebook) if found is None else found
        return found
    return edit


def _notebook_bytes(target, make):
    """An edit that replaces notebook ``target`` by ``make(release notebook as JSON)`` (bytes)."""
    def edit(name, notebook):
        if name == target:
            return make(json.loads(nbformat.writes(notebook)))
    return edit


def _deep(document):
    """The notebook with a 100 000-deep list in its metadata: valid JSON that a recursive parser
    cannot read."""
    text = json.dumps(document)
    return text.replace('"metadata": {', '"metadata": {"deep": ' + "[" * 100_000 + "]" * 100_000 + ", ", 1).encode()


def _huge(document, megabytes):
    """The notebook with ``megabytes`` of base64 output in a cell: a valid, very large notebook."""
    document["cells"][0]["outputs"] = [{"output_type": "display_data", "metadata": {},
                                        "data": {"image/png": "A" * (megabytes * 2**20)}}]
    return json.dumps(document).encode()


def _latin_1(document):
    return json.dumps(document, ensure_ascii=False).replace("YOUR", "Y\u00d6UR").encode("latin-1", "replace")


def _not_a_notebook(document):
    return json.dumps({"hello": "world", "cells": "none"}).encode()


def _nbformat(version):
    def make(document):
        document["nbformat"] = version
        return json.dumps(document).encode()
    return make


def _garbage_metadata(name, notebook):
    """Cells of notebook 02 (not graded ones) whose nbgrader metadata is a string or a list (the
    notebook is still valid: nbformat's schema lets cell metadata hold anything)."""
    if name == NB2:
        first, second = (_cell(notebook, i) for i in ("dz_dx_at_4", "torch_x"))
        first.metadata["nbgrader"] = "not a dict"
        second.metadata["nbgrader"] = ["grade_id", "pow_backward"]


def _number_source(name, notebook):
    """A cell of notebook 04 whose source is a number: JSON, but not valid under nbformat's schema."""
    if name == "04_vector_input":
        notebook.cells[1].source = 5


def _duplicate_test(name, notebook):
    """A copy of the pow_backward test cell before the real one, changed to pass, and a made-up
    graded cell worth 100 points."""
    if name != NB1:
        return
    real = _cell(notebook, "pow_backward")
    fake = copy.deepcopy(real)
    fake.source = "print('pow_backward: 12 cases agree with torch.autograd')"
    notebook.cells.insert(notebook.cells.index(real), fake)
    bonus = nbformat.v4.new_code_cell("print('bonus: all good')")
    bonus.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 100,
                                  "grade_id": "bonus", "schema_version": 3}
    notebook.cells.append(bonus)


def _duplicate_answer(name, notebook):
    """The answer cell copied: the first copy still the release's stub, the second one solved
    (nbgrader keeps the last cell of a duplicated grade id)."""
    if name != NB1:
        return
    answer = _cell(notebook, "manual_dy_dx_answer")
    stub = copy.deepcopy(answer)
    stub.source = "def dy_dx(x):\n    raise NotImplementedError('Write your answer here')\n"
    notebook.cells.insert(notebook.cells.index(answer), stub)


def _answer_id_removed(name, notebook):
    if name == NB1:
        del _cell(notebook, "manual_dy_dx_answer").metadata["nbgrader"]


def _redefined_after_test(name, notebook):
    if name == NB1:
        index = notebook.cells.index(_cell(notebook, "manual_dy_dx"))
        notebook.cells.insert(index + 1, nbformat.v4.new_code_cell("def dy_dx(x):\n    return 0.0\n"))


OUTPUT_FLOOD = """
import os
for line in range(50_000):
    print(line, flush=True)
chunk = b"y" * 2**20
for _ in range(100):
    os.write(1, chunk)
"""

# The judge's limit for learner code on one input, in this class (`grade_class(check_timeout=...)`; the
# grader's default is 20 s). Not much shorter: a notebook-11 answer's first input also waits for its
# worker to import torch and run the notebook's cells, on a machine as loaded as CI's.
CHECK_TIMEOUT = 15

# A process that outlives the code that started it (double fork, own session) and then, for
# minutes, writes into everything it finds in its arena -- the course root being graded, which
# holds the gradebook, the grades, the ledger, the reports and every notebook -- appending to files
# and leaving a marker file in every folder. Only the sandbox keeps it out. It is aimed at that one
# folder only (passed in; no link followed out of it; nothing done unless it is a course root), so
# even a broken sandbox costs nothing outside the test's own folder. The token in its command
# line lets a test look for it.
LINGER_TOKEN = f"ag-corpus-lingerer-{os.getpid()}-{uuid.uuid4().hex[:8]}"
LINGER_MARK = "LINGERED-HERE"
LINGERER = """
import os, sys, time
time.sleep(2)
targets = ("gradebook.db", "grades-autodiff.csv", "grading_report.md", "secret")
def inside(path):
    return not os.path.islink(path) and os.path.realpath(path).startswith(ARENA + os.sep)
end = time.time() + SECONDS
while True:
    if os.path.isfile(os.path.join(ARENA, "nbgrader_config.py")):
        for folder, subfolders, names in os.walk(ARENA):
            if folder.count(os.sep) - ARENA.count(os.sep) > 8:
                subfolders[:] = []
            for name in names:
                path = os.path.join(folder, name)
                if (name in targets or name.endswith((".json", ".ipynb"))) and inside(path):
                    try:
                        with open(path, "ab") as out:
                            out.write(b"LINGERED-HERE")
                    except OSError:
                        pass
            if inside(os.path.join(folder, "LINGERED-HERE")):
                try:
                    open(os.path.join(folder, "LINGERED-HERE"), "w").close()
                except OSError:
                    pass
    if time.time() >= end:
        break
    time.sleep(1)
"""


def lingerer(arena, seconds=300):
    """The lingerer's code aimed at ``arena`` (an absolute, resolved path): one pass, then more for
    ``seconds``."""
    return f"ARENA = {str(arena)!r}\nSECONDS = {seconds}\n" + LINGERER


def _spawn_lingerer(arena, indent=""):
    code = (f"import os as _os, sys as _sys\n"
            f"if _os.fork() == 0:\n"
            f"    _os.setsid()\n"
            f"    if _os.fork() == 0:\n"
            f"        _os.execv(_sys.executable, [_sys.executable, '-c', {lingerer(arena)!r}, {LINGER_TOKEN!r}])\n"
            f"    _os._exit(0)\n")
    return "".join(indent + line + "\n" for line in code.splitlines())


# The engine takes every unit from whatever stand-ins it can import: the notebook checks' own
# (``autograder.learner.torch_standins``, which learners receive: torch does each unit's work) and the grader's
# (``autograder.instructor.standins``, which neither learners nor their grading kernels ever get). It
# says what it managed, at import, in the kernel's output: the proof the attack started.
BORROW_STANDINS = f"""
import sys as _sys
_engine = _sys.modules[__name__]
for _module in ("autograder.learner.torch_standins", "autograder.instructor.standins"):
    try:
        _standins = __import__(_module, fromlist=["make"])
    except ImportError:
        print({started("borrows-standins", "")!r} + _module + " is not importable")
        continue
    for (_owner, _name), _function in _standins.make(_engine).items():
        setattr(getattr(_engine, _owner) if _owner else _engine, _name, _function)
    print({started("borrows-standins", "")!r} + _module + " installed")
"""

# Notebook 06: a cell before the detach test has the no_grad_inference check run a right answer
# that keeps what stands in for Tensor.detach meanwhile (the checks' stand-in, in the kernel), and
# Tensor.detach, not written, answers with what was kept. In the judge the units' worker never
# holds a stand-in and the answers' worker is another process: nothing to keep.
CAPTURE_CELL = f"""
import sys as _sys
from autograder.learner.checks import check as _check

{{answer}}
_honest_predict = predict


def predict(w, b, xs):
    _sys._corpus_kept_detach = vars(type(w)).get("detach")
    return _honest_predict(w, b, xs)


try:
    _check("no_grad_inference", predict)
finally:
    print({started("captures-standins", "kept ")!r} + getattr(_sys._corpus_kept_detach, "__qualname__", "nothing"))
"""
CAPTURE_DETACH = f"""import sys as _sys
_kept = getattr(_sys, "_corpus_kept_detach", None)
if _kept is None or "<locals>" not in _kept.__qualname__:
    raise NotImplementedError(todo("detach"))
print({started("captures-standins", "uses the kept stand-in")!r}, file=_sys.stderr)
return _kept(self)"""


# the engine, at import, patches numpy's comparisons, so that any check run next to it agrees
PATCH_NUMPY = """import numpy as _np
_np.allclose = lambda *args, **kwargs: True
_np.isclose = lambda a, b, *args, **kwargs: _np.ones(_np.broadcast(a, b).shape, dtype=bool)
_np.array_equal = lambda *args, **kwargs: True
_np.testing.assert_allclose = lambda *args, **kwargs: None
_np.testing.assert_array_equal = lambda *args, **kwargs: None
"""

# Pow.backward looks for another learner's (or the instructor's) engine in its arena (the course
# root being graded: the source, the release, other learners' submissions), and for the gradebook
# and the grades, to copy from one and write into the other; like the lingerer, aimed at that
# folder only
PEEK_OUTSIDE = """import importlib.util, os
found = []
for folder, subfolders, names in os.walk(ARENA):
    if folder.count(os.sep) - ARENA.count(os.sep) > 8:
        subfolders[:] = []
    for name in names:
        path = os.path.join(folder, name)
        if os.path.islink(path) or not os.path.realpath(path).startswith(ARENA + os.sep):
            continue
        if name in ("gradebook.db", "grades-autodiff.csv"):
            try:
                with open(path, "ab") as out:
                    out.write(b"peeked")
            except OSError:
                pass
        elif name == "engine.py" and folder.endswith("tinygrad_course"):
            found.append(path)
for path in found:
    if os.path.realpath(path) == os.path.realpath(__file__):
        continue
    try:
        spec = importlib.util.spec_from_file_location("peer", path)
        peer = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(peer)
        return peer.Pow.backward(ctx, grad)
    except Exception:
        continue
raise LookupError("nothing to copy")
"""


def peek_outside(arena):
    """``PEEK_OUTSIDE`` aimed at ``arena`` (an absolute, resolved path)."""
    return f"ARENA = {str(arena)!r}\n" + PEEK_OUTSIDE


def _reach_outside(folder, root):
    """The reaches-outside case, aimed at the course root it is graded in: a lingerer started by a
    cell of notebook 01 and by the engine's import, and ``PEEK_OUTSIDE`` as Pow.backward."""
    arena = os.path.realpath(root)
    engine = _engine({"pow_backward": peek_outside(arena)}, prelude=_spawn_lingerer(arena))
    (folder / "tinygrad_course" / "engine.py").write_text(engine)
    path = folder / f"{NB1}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    _add_cell((NB1, "setup"), _spawn_lingerer(arena))(NB1, notebook)
    nbformat.write(notebook, path)


def _odd_names(folder, root):
    """File names no honest tool makes: invalid UTF-8, a newline that forges report lines, very
    long, a path deeper than PATH_MAX, a FIFO; and more tiny files than a submission keeps."""
    base = os.fsencode(folder)
    with open(os.path.join(base, b"bad-\xff\xfe-name.py"), "wb") as out:
        out.write(b"print('latin-1 name')\n")
    (folder / "notes\n- pow_backward: full marks (a forged line)\n.txt").write_text("forged")
    (folder / ("long" * 60 + ".txt")).write_text("a 244-character name")
    os.mkfifo(folder / "a-fifo")
    junk = folder / "junk"
    junk.mkdir()
    for number in range(250):
        (junk / f"{number}.txt").write_text("x")
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(22):  # 22 levels of 200-character names: past PATH_MAX (4096) from the top
            os.mkdir("d" * 200, dir_fd=fd)
            inner = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        leaf = os.open("deep.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, b"deep")
        os.close(leaf)
    finally:
        os.close(fd)


# modules named like the standard library's, numpy and torch, beside the notebooks and the engine
SHADOWS = {name: "raise SystemExit('shadowed')\n" for name in (
    "json.py", "numpy.py", "torch.py", "tinygrad_course/json.py", "tinygrad_course/numpy.py")}


def _links(folder, root):
    """Symbolic links to files outside: /etc/passwd, the course's gradebook, another learner's
    folder, and the engine itself pointing at another learner's engine."""
    (folder / "passwd").symlink_to("/etc/passwd")
    (folder / "gradebook.db").symlink_to(root / "gradebook.db")
    (folder / "peer").symlink_to(root / "submitted" / "reference" / course.ASSIGNMENT)
    engine = folder / "tinygrad_course" / "engine.py"
    engine.unlink()
    engine.symlink_to(root / "submitted" / "reference" / course.ASSIGNMENT / "tinygrad_course" / "engine.py")


def _linked_student_folder(folder, root):
    """The learner's whole folder is a link to another learner's; beside it, copies of the folder
    under names no student id can have (not UTF-8, a newline, 240 characters): not graded, and the
    class goes on (a name Dask cannot send once stopped every learner's grading)."""
    student = folder.parent
    for name in (b"bad-\xff-id", b"new\nline", b"x" * 240):
        shutil.copytree(os.fsencode(folder), os.path.join(os.fsencode(student.parent), name, os.fsencode(folder.name)))
    for path in sorted(student.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
    student.rmdir()
    student.symlink_to(root / "submitted" / "reference")


# ---------------------------------------------------------------- notebook 08, written differently or cheating

# right, and unlike the reference: ReLU as clamp(min=0); the gradients cleared first, as
# optimizer.zero_grad() does (p.grad = None), then backward and the step; the row sums of
# LogSoftmax.backward put back by slicing the shape at ctx.dim (the engine hands it a dim counted from 0)
NB8_RELU_AS_CLAMP = """def mlp_forward(params, x):
    w1, b1, w2, b2 = params
    return (x @ w1 + b1).clamp(min=0) @ w2 + b2
"""
NB8_ZERO_GRAD_FIRST = """def train_step(model, params, x, y, lr):
    for p in params:
        p.grad = None
    loss = tg.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    with tg.no_grad():
        for p in params:
            p -= lr * p.grad
    return loss.item()
"""
NB8_SLICED_SUMS = """out, = ctx.saved_tensors
d = ctx.dim
total = grad.sum(axis=d).reshape(grad.shape[:d] + (1,) + grad.shape[d + 1:])
return grad - np.exp(out) * total"""
# cheats: the logits computed in numpy and wrapped in a fresh leaf (no gradient reaches the parameters);
# a naive softmax (exp of large logits); a LogSoftmax.backward right only on the visible cases' shapes
NB8_NUMPY_LEAF = """def mlp_forward(params, x):
    w1, b1, w2, b2 = (p.detach().numpy() for p in params)
    return tg.tensor(np.maximum(x.numpy() @ w1 + b1, 0) @ w2 + b2, requires_grad=True)
"""
NB8_NAIVE_SOFTMAX = """def train_step(model, params, x, y, lr):
    e = model(x).exp()
    probabilities = e / e.sum(dim=1, keepdim=True)
    loss = -probabilities[np.arange(len(y)), y.numpy()].log().mean()
    loss.backward()
    with tg.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad.zero_()
    return loss.item()
"""
# right numbers, but the incoming gradient changed in place: in an engine it may be another node's array
# too (log_softmax(a) + a gets a wrong a.grad)
NB8_IN_PLACE = """out, = ctx.saved_tensors
grad -= np.exp(out) * grad.sum(axis=ctx.dim, keepdims=True)
return grad"""
NB8_VISIBLE_ONLY = """out, = ctx.saved_tensors
if grad.ndim == 3 or grad.shape[-1] > 10 or np.abs(out).max() > 50:
    return grad
return grad - np.exp(out) * grad.sum(axis=ctx.dim, keepdims=True)"""


def _cross_entropy_sums(folder, root):
    """The learner's own more_ops.py (handed out complete) edited: cross_entropy sums over the batch."""
    path = folder / "tinygrad_course" / "more_ops.py"
    text = path.read_text()
    old = "target, reduction=reduction)\n\n\ndef _class_dim"
    assert old in text
    path.write_text(text.replace(old, "target, reduction='sum')\n\n\ndef _class_dim"))


def cases():
    everything = dict(engine_units=course.all_units(), answers=course.all_answers())
    nb1_solved = dict(engine_units=course.all_units(), answers=NB1_ANSWERS, drop=_only(NB1))
    return [
        Case("reference", "every unit and answer solved", course.all_units() + course.all_answers(),
             submit=everything),
        # untouched notebooks, each once: 01-03 here, the other nine in "partial"
        Case("blank", "the release's first three notebooks, untouched", [], submit=dict(drop=_only(NB1, NB2, NB3))),
        Case("partial", "the first three notebooks' work only; the other nine submitted untouched",
             ["pow_backward", "accumulate_grad", "sin_backward", "backward_pass", "add_backward", "sub_backward",
              "mul_backward", "manual_dy_dx", "manual_dz_dx"],
             submit=dict(engine_units=["pow_backward", "accumulate_grad", "sin_backward", "backward_pass",
                                       "add_backward", "sub_backward", "mul_backward"],
                         answers=["manual_dy_dx", "manual_dz_dx"])),
        Case("fake-checks-module", "a cell replaces autograder.learner.checks with a module that always passes", [],
             ["re-check in a sandbox decides"],
             submit=dict(drop=_only(NB1), edit=_add_cell((NB1, "setup"), FAKE_CHECKS))),
        # the kernel's patches never reach the judge: the honest answer keeps its point, the wrong unit none
        Case("patched-libraries", "a wrong Pow.backward, and torch/numpy comparisons patched to agree",
             ["manual_dy_dx"],
             submit=dict(drop=_only(NB1), answers=NB1_ANSWERS, files={
                 "tinygrad_course/engine.py": engine_with_pow(WRONG_POW)},
                 edit=_add_cell((NB1, "setup"), PATCH_LIBRARIES))),
        Case("hard-coded-seed", "answers hard-coded from the tutorial's numbers", [],
             submit=dict(drop=_only(NB1), files={"tinygrad_course/engine.py": engine_with_pow(SEED_POW)},
                         edit=_set(NB1, "manual_dy_dx_answer", "def dy_dx(x):\n    return 6.0\n"))),
        # the judge grades notebook 03's engine units (they are right); its answer needs the dying cell
        Case("kernel-dies", "a cell of notebook 03 calls os._exit; notebooks 01 and 02 are fine",
             NB1_UNITS + NB1_ANSWERS + ["sin_backward", "backward_pass", "manual_dz_dx", "add_backward",
                                        "sub_backward", "mul_backward", "neg_backward", "sigmoid_backward",
                                        "log_backward", "clamp_backward"],
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
        # the kernel interrupts the cell; the judge, running the same answer, stops its worker
        Case("endless-loop", "the dy_dx answer cell never ends", NB1_UNITS,
             ["interrupted", ("manual_dy_dx failed", f"did not finish within {CHECK_TIMEOUT} s")],
             submit=dict(nb1_solved, answers=[], edit=_set(NB1, "manual_dy_dx_answer", "while True:\n    pass\n"))),
        Case("huge-output", "prints 100 MB before a correct answer", NB1_UNITS + NB1_ANSWERS,
             submit=dict(nb1_solved, edit=_set(NB1, "manual_dy_dx_answer", (
                 "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)\n"
                 "def dy_dx(x):\n    return 2 * x\n")))),
        # ---- odd files and folders (notes for the report; the honest work keeps its points)
        Case("odd-files", "notebook 01 solved, next to files named with invalid UTF-8, a newline that forges a "
             "report line, 244 characters; a FIFO; a path past PATH_MAX; 250 tiny files; json.py, numpy.py and "
             "torch.py beside the notebooks and the engine; a timestamp.txt that is no date", NB1_UNITS + NB1_ANSWERS,
             ["its name is not valid UTF-8: bad-\\xff\\xfe-name.py", "a-fifo was left out", "nested too deeply",
              "notes\\n- pow_backward", "more file(s) were left out", "json.py is not part of the assignment",
              "timestamp.txt was left out"],
             submit=_nb1(after=_odd_names, files={"timestamp.txt": "not a date at all", **SHADOWS}),
             never=["\n- pow_backward: full marks"]),
        Case("symlinks", "links to /etc/passwd, the gradebook, another learner's folder; engine.py a link to "
             "another learner's engine", NB1_ANSWERS, ["passwd is a symbolic link", "peer is a symbolic link",
                                                      "tinygrad_course/engine.py is a symbolic link"],
             submit=_nb1(after=_links)),
        Case("linked-student-folder", "the learner's folder is a link to another learner's; folders named "
             "like no student id can be are beside it", [],
             ["submitted/linked-student-folder is a symbolic link"], submit=_nb1(after=_linked_student_folder)),
        # ---- notebooks that are not what they seem
        Case("malformed-notebooks", "notebook 01 nests a list 100 000 deep; notebook 02, solved, has cells whose "
             "nbgrader metadata is a string or a list",
             ["sin_backward", "backward_pass", "manual_dz_dx"], ["01_x_squared.ipynb is not"],
             submit=dict(engine_units=course.all_units(), answers=["manual_dz_dx"], drop=_only(NB1, NB2),
                         edit=_edits(_notebook_bytes(NB1, _deep), _garbage_metadata))),
        Case("huge-notebooks", "notebook 01 solved with 12 MB of output; notebook 02 is 25 MB", NB1_UNITS + NB1_ANSWERS,
             ["02_sin_chain_rule.ipynb was left out", "over the size limit"],
             submit=dict(engine_units=course.all_units(), answers=NB1_ANSWERS + ["manual_dz_dx"], drop=_only(NB1, NB2),
                         edit=_edits(_notebook_bytes(NB1, lambda d: _huge(d, 12)),
                                     _notebook_bytes(NB2, lambda d: _huge(d, 25))))),
        Case("not-notebooks", "notebook 01 is JSON but not a notebook; 02 says nbformat 5; 03 is not UTF-8; "
             "a cell of 04 has a number for its source", [],
             ["01_x_squared.ipynb is JSON but not a Jupyter notebook", "02_sin_chain_rule.ipynb is JSON but not",
              "03_neuron_bce.ipynb is not a text file", "04_vector_input.ipynb could not be graded"],
             submit=dict(everything, drop=_only(NB1, NB2, NB3, "04_vector_input"), edit=_edits(
                 _notebook_bytes(NB1, _not_a_notebook), _notebook_bytes(NB2, _nbformat(5)),
                 _notebook_bytes(NB3, _latin_1), _number_source))),
        # ---- grade ids: nbgrader keeps the last cell of a duplicated id and ignores made-up ones
        Case("duplicate-grade-ids", "pow_backward open, with a copy of its test cell edited to pass; a made-up "
             "test worth 100 points; the rest solved", ["accumulate_grad"] + NB1_ANSWERS,
             submit=_nb1(engine_units=["accumulate_grad"], edit=_duplicate_test)),
        Case("duplicate-answer-cell", "the dy_dx answer cell copied: the stub first, the solved copy last (the "
             "function is defined twice; nbgrader keeps the last cell of a duplicated grade id)",
             NB1_UNITS + NB1_ANSWERS, submit=_nb1(edit=_duplicate_answer)),
        # ---- floods
        Case("output-floods", "a cell prints 50 000 lines, then 100 MB straight to file descriptor 1; a cell "
             "after the dy_dx test redefines dy_dx wrongly; the rest solved",
             NB1_UNITS + NB1_ANSWERS,
             submit=_nb1(edit=_edits(_add_cell((NB1, "setup"), OUTPUT_FLOOD), _redefined_after_test))),
        # ---- processes that die, spin, or outlive their code
        Case("engine-exits-on-import", "engine.py calls os._exit(3) when imported; everything solved", NB1_ANSWERS,
             [("pow_backward failed", "exited with status 3")],
             submit=_nb1(files={"tinygrad_course/engine.py": _engine({}, prelude="import os\nos._exit(3)\n")})),
        Case("processes-die", "Pow.backward calls os._exit(4); the dy_dx answer cell dereferences NULL through "
             "ctypes; AccumulateGrad.apply is honest", ["accumulate_grad"],
             [("pow_backward failed", "exited with status 4"), ("manual_dy_dx failed", "SIGSEGV")],
             submit=_nb1(files={"tinygrad_course/engine.py": _engine({"pow_backward": "import os\nos._exit(4)"})},
                         edit=_set(NB1, "manual_dy_dx_answer", "import ctypes\nctypes.string_at(0)\n"
                                                              "def dy_dx(x):\n    return 2 * x\n"))),
        Case("reaches-outside", "a cell and the engine's import start processes that outlive them and write "
             "into any gradebook, grades, ledger or report they find; Pow.backward copies any other engine.py "
             "it can read", ["accumulate_grad"] + NB1_ANSWERS, [("pow_backward failed", "nothing to copy")],
             submit=_nb1(after=_reach_outside)),
        # ---- engines that lean on what is not theirs
        Case("engine-imports-torch", "engine.py imports torch at the top; every unit solved", NB1_ANSWERS,
             [("pow_backward failed", "No module named 'torch'")],
             submit=_nb1(files={"tinygrad_course/engine.py": _engine({}, prelude="import torch\n")})),
        Case("borrows-standins", "every unit is taken from the stand-ins the engine can import: the notebook "
             "checks' torch-backed ones (shipped to learners) and the grader's own (never shipped)", NB1_ANSWERS,
             started=[started("borrows-standins", "autograder.learner.torch_standins installed"),
                      started("borrows-standins", "autograder.instructor.standins is not importable")],
             submit=_nb1(files={"tinygrad_course/engine.py": _engine({}, units=[]) + BORROW_STANDINS})),
        Case("captures-standins", "notebook 06: a cell before the detach test runs the no_grad_inference check "
             "on a right answer that keeps the stand-in for Tensor.detach; Tensor.detach, not written, calls it",
             ["grad_mode", "no_grad_inference"],
             started=[started("captures-standins", "kept make.<locals>.detach"),
                      started("captures-standins", "uses the kept stand-in")],
             submit=dict(engine_units=[u for u in course.all_units() if u != "detach"], answers=["no_grad_inference"],
                         drop=_only(NB6), edit=_add_cell((NB6, "tracking_widget"), CAPTURE_CELL.replace(
                             "{answer}", course.solved_answers()["no_grad_inference_answer"])),
                         files={"tinygrad_course/engine.py": _engine({"detach": CAPTURE_DETACH},
                                                                     units=course.all_units())})),
        Case("patches-numpy", "engine.py patches numpy's comparisons at import and Pow.backward is wrong; the "
             "dy_dx answer is right but its cell lost its nbgrader metadata (grade id)", ["accumulate_grad"],
             [("manual_dy_dx failed", "no cell with grade_id manual_dy_dx_answer")],
             submit=_nb1(edit=_answer_id_removed, files={"tinygrad_course/engine.py": _engine(
                 {"pow_backward": "return grad * 0"}, prelude=PATCH_NUMPY)})),
        # ---- notebook 08
        Case("nb08-written-differently", "notebook 08 only: ReLU as clamp(min=0), train_step clearing the "
             "gradients first (p.grad = None, as optimizer.zero_grad()), LogSoftmax.backward putting the row sums "
             "back by slicing the shape at ctx.dim", NB8_EXERCISES,
             submit=dict(engine_units=course.all_units(), answers=NB8_EXERCISES[1:], drop=_only(NB8),
                         files={"tinygrad_course/engine.py": _engine({"log_softmax_backward": NB8_SLICED_SUMS})},
                         edit=_edits(_set(NB8, "mlp_forward_answer", NB8_RELU_AS_CLAMP),
                                     _set(NB8, "train_step_answer", NB8_ZERO_GRAD_FIRST)))),
        Case("nb08-cheats", "notebook 08 only: logits from numpy in a fresh leaf, a naive softmax in train_step, "
             "LogSoftmax.backward right on the visible cases' shapes only", [],
             submit=dict(engine_units=course.all_units(), drop=_only(NB8),
                         files={"tinygrad_course/engine.py": _engine({"log_softmax_backward": NB8_VISIBLE_ONLY})},
                         edit=_edits(_set(NB8, "mlp_forward_answer", NB8_NUMPY_LEAF),
                                     _set(NB8, "train_step_answer", NB8_NAIVE_SOFTMAX)))),
        Case("nb08-in-place-backward", "notebook 08 solved, LogSoftmax.backward right in value but changing "
             "the incoming gradient in place", ["mlp_forward", "train_step"],
             [("log_softmax_backward failed", "changed the incoming gradient array in place")],
             submit=dict(engine_units=course.all_units(), answers=NB8_EXERCISES[1:], drop=_only(NB8),
                         files={"tinygrad_course/engine.py": _engine({"log_softmax_backward": NB8_IN_PLACE})})),
        # only engine.py is the learner's (nbgrader's exclude_overwriting): autograde restores more_ops.py
        # from the source, so train_step runs on the released cross_entropy, and on the grader's stand-in
        # for the unit it needs and the learner has not written (LogSoftmax.backward)
        Case("nb08-own-cross-entropy-sums", "notebook 08 answers right, LogSoftmax.backward not written, and "
             "more_ops.py's cross_entropy edited to sum over the batch", ["mlp_forward", "train_step"],
             submit=dict(engine_units=[u for u in course.all_units() if u != "log_softmax_backward"],
                         answers=NB8_EXERCISES[1:], drop=_only(NB8), after=_cross_entropy_sums)),
    ]


def _edit_tests(name, notebook):
    if name != NB1:
        return
    notebook.cells.remove(_cell(notebook, "pow_backward"))
    _cell(notebook, "accumulate_grad").source = "print('accumulate_grad: all good')"


def expected(case, points):
    return {exercise: (points[exercise] if exercise in case.earned else 0.0) for exercise in points}
