"""The grading checks: right answers pass, open and wrong ones fail with words that teach,
memorised answers fail the hidden checks, and handing the work to torch or tampering is caught."""

import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from check_runs import run
from planted_bugs import answers as correct
from planted_bugs import plant

from autograder.checking import slips
from autograder.instructor.release import strip_solutions
from autograder.learner import checks
from autograder.learner.diagnose import diagnose
from autograder.learner.engines import REPO, SOLUTIONS, load_engine

UNITS = list(checks.UNITS)
NOTEBOOK = list(checks.NOTEBOOK_EXERCISES)
OP_UNITS = {"pow_backward": "Pow", "sin_backward": "Sin", "add_backward": "Add", "sub_backward": "Sub",
            "mul_backward": "Mul", "neg_backward": "Neg", "sigmoid_backward": "Sigmoid",
            "log_backward": "Log", "clamp_backward": "Clamp", "mean_backward": "Mean",
            "log_softmax_backward": "LogSoftmax", "softplus_backward": "Softplus"}



@pytest.fixture
def engine_from(tmp_path):
    """Write an engine (the reference with ``engine.py`` text replaced) to a folder and load it."""
    made = []

    def make(engine_source, name="engine_under_test"):
        folder = tmp_path / f"engine{len(made)}"
        target = folder / "tinygrad_course"
        shutil.copytree(SOLUTIONS / "tinygrad_course", target, ignore=shutil.ignore_patterns("__pycache__"))
        (target / "engine.py").write_text(engine_source)
        made.append(folder)
        return load_engine(folder, f"{name}_{len(made)}")
    return make


def reference_source():
    return (SOLUTIONS / "tinygrad_course" / "engine.py").read_text()


# ---------------------------------------------------------------- right answers pass

@pytest.mark.parametrize("exercise", UNITS + NOTEBOOK)
def test_reference_passes_visible_and_hidden_checks(exercise, reference, rng):
    answer = correct.answers(reference).get(exercise)
    passed, text = run(exercise, answer, engine=reference)
    assert passed, text
    assert re.fullmatch(rf"{exercise}: \d+ cases agree with torch.autograd\n", text)
    lines = set()
    for seed in rng.integers(0, 2**63, size=3):
        passed, text = run(exercise, answer, engine=reference, hidden=True, seed=int(seed))
        assert passed, text
        lines.add(text)
    assert len(lines) == 1, lines  # the line a hidden pass prints is the same for every seed (nbval)


def test_visible_output_is_the_same_every_run(reference, engine_from):
    passing = [run("mean_backward", engine=reference) for _ in range(2)]
    broken = engine_from(plant(reference_source(), "mean_backward", "return grad"))
    failing = [run("mean_backward", engine=broken) for _ in range(2)]
    assert passing[0] == passing[1] and passing[0][0]
    assert failing[0] == failing[1] and not failing[0][0]


def test_hidden_checks_draw_new_cases_each_time(engine_from):
    broken = engine_from(plant(reference_source(), "sin_backward", "x, = ctx.saved_tensors\nreturn grad * np.sin(x)"))
    messages = {run("sin_backward", engine=broken, hidden=True)[1] for _ in range(3)}
    assert len(messages) == 3  # each names a fresh case and seed
    seed = int(next(iter(messages)).rsplit("seed=", 1)[1].split(")")[0])
    assert run("sin_backward", engine=broken, hidden=True, seed=seed)[1] in messages


# ---------------------------------------------------------------- open exercises

def test_stripped_engine_fails_every_unit_as_not_written(engine_from):
    stripped = engine_from(strip_solutions(reference_source()))
    for exercise in UNITS:
        passed, text = run(exercise, engine=stripped)
        notebook, what, _ = checks.UNITS[exercise]
        assert not passed
        assert text.startswith(f"{exercise}: {slips.words(slips.NOT_WRITTEN)}: {what}"), text
        assert notebook in text


def test_default_engine_is_loaded_fresh_from_the_working_folder(tmp_path, monkeypatch):
    package = tmp_path / "tinygrad_course"
    shutil.copytree(SOLUTIONS / "tinygrad_course", package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)
    assert run("neg_backward")[0]
    engine = package / "engine.py"
    engine.write_text(plant(engine.read_text(), "neg_backward", "return grad  # edited after the first check"))
    passed, text = run("neg_backward")
    assert not passed and slips.words(slips.SIGN) in text  # the edit is picked up without restarting anything


def test_missing_engine_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    passed, text = run("pow_backward")
    assert not passed and "no tinygrad_course folder" in text and str(tmp_path) in text


def release_stub():
    """The lines nbgrader puts in an answer cell: the code_stub of classroom/nbgrader_config.py."""
    import ast
    tree = ast.parse((REPO / "classroom" / "nbgrader_config.py").read_text())
    stubs = [ast.literal_eval(node.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
             and ast.unparse(node.targets[0]) == "c.ClearSolutions.code_stub"]
    return stubs[0]["python"]


@pytest.mark.parametrize("exercise", NOTEBOOK)
def test_notebook_stub_fails_as_not_written(exercise, reference):
    stub_lines = release_stub()
    namespace = {}
    exec("def stub(*args):\n" + textwrap.indent(stub_lines, "    "), namespace)
    passed, text = run(exercise, namespace["stub"], engine=reference)
    assert not passed and slips.words(slips.NOT_WRITTEN) in text and checks.NOTEBOOK_EXERCISES[exercise][0] in text
    for line in stub_lines.splitlines():  # the message quotes what the cell holds, as it holds it
        assert f"`{line}`" in text, text


def test_a_stub_left_in_a_helper_is_named_rather_than_the_function_checked(reference):
    """Notebook 10's answer cell holds class Dual and jvp: with jvp written and Dual.__mul__ still the
    released stub, the message names Dual.__mul__ (jvp itself is fine)."""
    jvp = correct.answers(reference)["dual_jvp"]
    dual = dict(zip(jvp.__code__.co_freevars, (cell.cell_contents for cell in jvp.__closure__)))["Dual"]
    namespace = {}
    exec("class Dual:\n    def __mul__(self, other):\n" + textwrap.indent(release_stub(), " " * 8), namespace)
    dual.__mul__ = dual.__rmul__ = namespace["Dual"].__mul__  # as the cell defines it: Dual.__mul__
    passed, text = run("dual_jvp", jvp, engine=reference)
    assert not passed and slips.words(slips.NOT_WRITTEN) in text
    assert "Dual.__mul__, in your answer for jvp" in text, text
    exec("def dy_dx(x):\n" + textwrap.indent(release_stub(), "    "), namespace)
    _, written = run("manual_dy_dx", namespace["dy_dx"], engine=reference)
    assert "not written yet: your dy_dx (notebook" in written, written  # the stub in the function checked


def test_an_engine_keeps_its_own_files_after_a_reload_under_its_name():
    """An answer on an engine object loaded before another load under the same module name (tests and
    instructors reload the reference) runs that object's submodules (``autograd``), which are its own
    code, not a delegation to the reference."""
    first = load_engine(SOLUTIONS, "reload_test_engine")
    load_engine(SOLUTIONS, "reload_test_engine")
    passed, text = run("jacobian_rows", correct.answers(first)["jacobian_rows"], engine=first, hidden=True, seed=3)
    assert passed, text


def test_a_notebook_answer_that_raises_not_implemented_itself_is_quoted(reference):
    def unfinished(x):
        raise NotImplementedError("negative x later")
    passed, text = run("manual_dy_dx", unfinished)
    assert not passed and "`raise NotImplementedError('negative x later')`" in text, text
    assert "YOUR CODE HERE" not in text


def test_bad_calls_say_what_is_wrong(reference):
    with pytest.raises(ValueError, match="unknown exercise 'pow'"):
        checks.check("pow")
    with pytest.raises(ValueError, match=r"check\('manual_dy_dx', dy_dx\)"):
        checks.check("manual_dy_dx")
    with pytest.raises(ValueError, match="takes no answer"):
        checks.check("pow_backward", print, engine=reference)


# ---------------------------------------------------------------- memorised answers

def _key(value):
    if callable(value) and not hasattr(value, "data"):  # a function the check built (notebook 10's f): fresh each call
        return "a function"
    if hasattr(value, "data") and not isinstance(value, np.ndarray):
        return ("tensor", _key(np.asarray(value.data)))
    if isinstance(value, np.ndarray):
        return (value.shape, value.tobytes())
    if isinstance(value, list | tuple):
        return tuple(_key(v) for v in value)
    return value


# Left out: answers that change the tensors or arrays they are given or return a graph on them (sgd_step,
# mlp_forward, train_step, clip_grad_norm): a replayed result cannot be the right one for fresh tensors, so not
# even the visible check passes; and those whose inputs are a fresh function or module each call, nothing a
# replay can key on (notebook 11's hvp and gradient_penalty, notebook 09's numerical_gradient; their hidden
# cases are random inputs all the same).
@pytest.mark.parametrize("exercise", [e for e in NOTEBOOK
                                      if e not in ("sgd_step", "mlp_forward", "train_step", "clip_grad_norm",
                                                   "hvp", "gradient_penalty", "numerical_gradient")])
def test_answers_memorised_from_the_visible_check_fail_the_hidden_one(exercise, reference):
    right, seen = correct.answers(reference)[exercise], {}

    def recorder(*args):
        seen[_key(args)] = result = right(*args)
        return result

    def memorised(*args):
        return seen.get(_key(args), 6.0)  # the seed's dy/dx for anything it has not seen
    assert run(exercise, recorder, engine=reference)[0]
    assert run(exercise, memorised, engine=reference)[0]
    passed, text = run(exercise, memorised, engine=reference, hidden=True)
    assert not passed and "hidden check" in text


@pytest.mark.parametrize("exercise", list(OP_UNITS))
def test_op_rules_memorised_from_the_visible_check_fail_the_hidden_one(exercise):
    engine = load_engine(SOLUTIONS, f"memorising_{exercise}").engine
    op, seen = getattr(engine, OP_UNITS[exercise]), {}
    right = op.backward

    def key(ctx, grad):
        options = [repr(getattr(ctx, k, None)) for k in ("exponent", "min", "max", "dim", "keepdim", "shape")]
        return _key(list(ctx.saved_tensors)), _key(grad), tuple(ctx.input_shapes), tuple(options)

    def recorder(ctx, grad):
        seen[key(ctx, grad)] = result = right(ctx, grad)
        return result

    def memorised(ctx, grad):
        unseen = np.zeros_like(grad)  # wrong wherever the true gradient is not all zero
        return seen.get(key(ctx, grad), (unseen, unseen) if len(ctx.input_shapes) == 2 else unseen)
    op.backward = staticmethod(recorder)
    assert run(exercise, engine=engine)[0]
    op.backward = staticmethod(memorised)
    assert run(exercise, engine=engine)[0]
    passed, text = run(exercise, engine=engine, hidden=True)
    assert not passed and "hidden check" in text


# ---------------------------------------------------------------- delegation

TORCH_POW = """
import torch
x, = ctx.saved_tensors
t = torch.tensor(x, requires_grad=True)
g, = torch.autograd.grad(t ** ctx.exponent, t, torch.tensor(grad))
return g.numpy()
"""
REFERENCE_SIN = """
from autograder.learner.engines import load_reference
return load_reference().engine.Sin.backward(ctx, grad)
"""


@pytest.mark.parametrize("unit,body,who", [("pow_backward", TORCH_POW, "torch ("),
                                            ("sin_backward", REFERENCE_SIN, "reference engine")])
def test_engine_units_that_delegate_fail(unit, body, who, engine_from):
    engine = engine_from(plant(reference_source(), unit, body))
    passed, text = run(unit, engine=engine)
    assert not passed and slips.words(slips.DELEGATED) in text and who in text


def test_reference_functions_reached_directly_are_caught(reference, engine_from):
    body = f"import sys\nreturn sys.modules[{reference.__name__!r}].engine.Mul.backward(ctx, grad)"
    passed, text = run("mul_backward", engine=engine_from(plant(reference_source(), "mul_backward", body)))
    assert not passed and "reference engine" in text


def test_manual_answers_that_use_torch_or_an_engine_fail(engine_from):
    engine = engine_from(reference_source())
    def with_torch(x):
        t = torch.tensor(float(x), requires_grad=True)
        (t ** 2).backward()
        return t.grad.item()

    def with_engine(x):
        t = engine.tensor(float(x), requires_grad=True)
        (t ** 2).backward()
        return t.grad.item()
    for answer, who in ((with_torch, "torch ("), (with_engine, "tinygrad_course engine")):
        passed, text = run("manual_dy_dx", answer)
        assert not passed and slips.words(slips.DELEGATED) in text and who in text


def test_engine_exercises_may_use_the_engine_but_not_torch(reference):
    def predict(w, b, xs):
        with torch.no_grad():
            out = torch.sigmoid(torch.tensor(float(w.item())) * torch.tensor(list(np.asarray(
                getattr(xs, "data", xs)))) + float(b.item()))
        return out.tolist()
    assert run("no_grad_inference", correct.answers(reference)["no_grad_inference"], engine=reference)[0]
    passed, text = run("no_grad_inference", predict, engine=reference)
    assert not passed and slips.words(slips.DELEGATED) in text


# ---------------------------------------------------------------- tampering

@pytest.mark.parametrize("target,name", [(np, "allclose"), (torch.autograd, "grad"), (torch, "allclose"),
                                         (torch.Tensor, "backward")])
def test_replacing_what_the_checks_rely_on_is_caught(target, name, reference, monkeypatch):
    monkeypatch.setattr(target, name, lambda *args, **kwargs: True)
    passed, text = run("pow_backward", engine=reference)
    assert not passed and name in text and "Restart the kernel" in text


def test_patching_the_checkers_classes_is_caught(reference, monkeypatch):
    monkeypatch.setattr(checks.Trial, "fail", lambda *args, **kwargs: None)
    passed, text = run("pow_backward", engine=reference)
    assert not passed and "autograder.checking.trial.Trial.fail" in text


def test_the_check_itself_cannot_be_replaced():
    with pytest.raises(AttributeError, match="cannot be replaced"):
        checks.check = lambda *args, **kwargs: None
    with pytest.raises(AttributeError, match="cannot be replaced"):
        slips.agrees = lambda *args, **kwargs: True


def test_tampering_from_inside_the_learners_unit_is_caught(reference, engine_from):
    body = "np.allclose = lambda *args, **kwargs: True\nreturn grad"
    original = np.allclose
    try:
        passed, text = run("neg_backward", engine=engine_from(plant(reference_source(), "neg_backward", body)))
    finally:
        np.allclose = original
    assert not passed and "numpy.allclose" in text


def test_tampering_before_the_checker_is_imported_is_caught():
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(REPO)!r})
        import numpy
        numpy.allclose = lambda *args, **kwargs: True
        from autograder.learner.checks import check
        from autograder.learner.engines import load_reference
        try:
            check("pow_backward", engine=load_reference())
        except AssertionError as failure:
            print("CAUGHT", failure)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "CAUGHT" in done.stdout and "numpy.allclose" in done.stdout, done.stderr


# ---------------------------------------------------------------- the diagnose walker

def seed_neuron(lib):
    x, y = lib.tensor(6.7), lib.tensor(0.0)
    w, b = lib.tensor(1.0, requires_grad=True), lib.tensor(0.0, requires_grad=True)
    z = w * x + b
    p = lib.clamp(lib.sigmoid(z), 1e-8, 1 - 1e-8)
    loss = -(y * lib.log(p) + (1 - y) * lib.log(1 - p))
    return loss, {"x": x, "y": y, "w": w, "b": b, "z": z, "p": p}


def prediction(lib):
    x, w, b = lib.tensor(6.7), lib.tensor(1.0, requires_grad=True), lib.tensor(0.0, requires_grad=True)
    return lib.sigmoid(w * x + b), {"x": x, "w": w, "b": b}


def test_diagnose_agrees_on_the_reference(reference):
    found = diagnose(seed_neuron, engine=reference)
    assert found.ok and "agrees" in repr(found)


def test_diagnose_names_the_node_and_input_that_go_wrong(engine_from):
    swapped = "a, b = ctx.saved_tensors\nreturn grad * a, grad * b"
    broken = engine_from(plant(reference_source(), "mul_backward", swapped))
    found = diagnose(prediction, engine=broken)
    assert not found.ok
    assert found.message == "at MulBackward0 (w * x) your gradient for input 0 (w) is 0.00122795, torch's is 0.00822729"
    found = diagnose(seed_neuron, engine=broken)  # the first wrong node from the output: y * log(p)
    assert found.message.startswith("at MulBackward0 (y * log(p)) your gradient for input 1 (log(p))"), found


def test_diagnose_names_a_node_that_raises(engine_from):
    open_neg = engine_from(plant(reference_source(), "neg_backward", "raise NotImplementedError(todo('neg_backward'))"))
    found = diagnose(seed_neuron, engine=open_neg)
    assert not found.ok
    assert found.message.startswith("at NegBackward0 (-((y * log(p)) + (1 * log(1 - p)))) your engine raised"), found
    assert "not written yet" in found.message


def balanced(text):
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def notebook_neuron(lib):
    """Notebook 03's diagnose demo: no intermediate named, so every label is a long expression."""
    x, y = lib.tensor(6.7), lib.tensor(0.0)
    w, b = lib.tensor(1.0, requires_grad=True), lib.tensor(0.0, requires_grad=True)
    p = lib.sigmoid(w * x + b).clamp(1e-8, 1 - 1e-8)
    return -(y * p.log() + (1 - y) * (1 - p).log()), {"w": w, "b": b}


@pytest.mark.parametrize("unit, body", [
    ("neg_backward", "return grad"),
    ("log_backward", "x, = ctx.saved_tensors\nreturn -grad / x"),
    ("sigmoid_backward", "out, = ctx.saved_tensors\nreturn grad * out")])
def test_diagnose_shortens_long_expressions_with_their_brackets_paired(unit, body, engine_from):
    found = diagnose(notebook_neuron, engine=engine_from(plant(reference_source(), unit, body)))
    assert not found.ok and balanced(found.message), found.message


def test_numpy_warnings_from_the_learners_code_stay_out_of_the_check(reference):
    """torch says nothing where a learner's numpy overflows or divides by 0 (it gives inf, as numpy does);
    so the checks run the learner's code with numpy's floating-point warnings off."""
    import warnings

    def dy_dx(x):
        overflowed = np.float64(1e308) * 10  # inf, with a RuntimeWarning where numpy warns
        return 2 * x if overflowed > 0 else None

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        passed, text = run("manual_dy_dx", dy_dx, engine=reference)
    assert passed, text


def test_transposed_weights_are_named_whether_the_product_fails_or_runs(reference, rng):
    """Non-square weights: `x @ W1.T` fails, and the hint names the transposition; square ones (a hidden
    family): it runs, and the values name it."""
    def transposed(params, x):
        w1, b1, w2, b2 = params
        return (x @ w1.T + b1).relu() @ w2.T + b2

    def transposed_if_square(params, x):
        w1, b1, w2, b2 = params
        square = w1.shape[0] == w1.shape[1] and w2.shape[0] == w2.shape[1]
        return (x @ (w1.T if square else w1) + b1).relu() @ (w2.T if square else w2) + b2

    passed, text = run("mlp_forward", transposed, engine=reference)
    assert not passed and "Hint: " + slips.words(slips.TRANSPOSED) in text, text
    for seed in rng.integers(0, 2**63, size=3):
        passed, text = run("mlp_forward", transposed_if_square, engine=reference, hidden=True, seed=int(seed))
        assert not passed and "Likely slip -- " + slips.words(slips.TRANSPOSED) in text, text
