"""The learner's engine: the reference with every solution region replaced by its NotImplementedError.

It must import, hold no solution text, raise a message naming the exercise and its notebook at
each open unit (reached through the API a learner uses), and do everything that is not an
exercise exactly as the reference does: forward of every op, printing, errors, grad-mode
switches, and the backward rules learners do not write (Div, Exp, Tanh, MatMul, ...).
"""

import collections
import shutil

import numpy as np
import pytest
import strategies as s
import torch
from test_engine_errors import ERRORS, assert_like_torch

from autograder.instructor import release
from autograder.learner.engines import COURSE, SOLUTIONS, load_engine, load_learner_release

PACKAGE = SOLUTIONS / "tinygrad_course"
SOURCE = (PACKAGE / "engine.py").read_text()
EXERCISE_IDS = release.solution_exercises(SOURCE)


def build_engine(folder, name, keep=()):
    """The reference package with its engine stripped (all regions open but those in ``keep``)."""
    package = folder / "tinygrad_course"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "engine.py").write_text(release.strip_solutions(SOURCE, "engine.py", keep=keep))
    return load_engine(folder, name)


@pytest.fixture(scope="module", params=["stripped", "course"])
def learner(request, tmp_path_factory):
    """The learner engine, built here from solutions/, and as released in course/."""
    if request.param == "course":
        if not (COURSE / "tinygrad_course" / "engine.py").is_file():
            pytest.skip("course/ has not been generated yet (python -m autograder.instructor.release builds it)")
        return load_learner_release()
    return build_engine(tmp_path_factory.mktemp("learner"), "tinygrad_course_stripped")


def only_open(exercise, tmp_path):
    """An engine where every exercise is solved except ``exercise``."""
    keep = set(EXERCISE_IDS) - {exercise}
    return build_engine(tmp_path, f"tinygrad_course_open_{exercise}", keep=keep)


def assert_names(error_info, engine, exercise):
    message = str(error_info.value)
    notebook = engine.EXERCISES[exercise][0]
    assert f"'{exercise}'" in message and notebook in message, message
    assert message == engine.engine.todo(exercise)


# -- no solution text ---------------------------------------------------------------------------

def split_regions(text):
    """(lines inside solution regions, lines outside them) of an engine source."""
    inside, outside, current = [], [], None
    for line in text.splitlines():
        if release.BEGIN.match(line):
            current = True
        elif release.END.match(line):
            current = None
        else:
            (inside if current else outside).append(line.strip())
    return inside, outside


def test_learner_engine_holds_no_solution_line(learner):
    """A solution line may appear only as often as the reference has it outside every region
    (``x, = ctx.saved_tensors`` also opens Cos.backward, say); any extra copy is a leak."""
    text = open(learner.engine.__file__).read()
    inside, outside = split_regions(SOURCE)
    allowed, present = collections.Counter(outside), collections.Counter(line.strip() for line in text.splitlines())
    leaked = [line for line in set(inside) if line and present[line] > allowed[line]]
    assert leaked == []
    assert not any(release.BEGIN.match(line) or release.END.match(line) for line in text.splitlines())


def test_released_engine_is_built_from_the_current_reference():
    released = COURSE / "tinygrad_course" / "engine.py"
    if not released.is_file():
        pytest.skip("course/ has not been generated yet (python -m autograder.instructor.release builds it)")
    assert released.read_text() == release.strip_solutions(SOURCE, "engine.py"), (
        "course/tinygrad_course/engine.py is stale; rebuild it: python -m autograder.instructor.release")


def test_learner_engine_lists_every_exercise(learner):
    assert set(learner.EXERCISES) == set(EXERCISE_IDS)
    text = open(learner.engine.__file__).read()
    for exercise in EXERCISE_IDS:
        assert f"raise NotImplementedError(todo({exercise!r}))" in text


# -- each open unit says which exercise it is ----------------------------------------------------

# What a learner runs that reaches each unit first (every other exercise solved).
PUBLIC_DRIVERS = {
    "pow_backward": "(x ** 2).backward()",
    "accumulate_grad": "(x * 3).backward()",
    "sin_backward": "lib.sin(x).backward()",
    "backward_pass": "lib.sin(x ** 2).backward()",
    "add_backward": "(x + 1).backward()",
    "sub_backward": "(1 - x).backward()",
    "mul_backward": "(x * 3).backward()",
    "neg_backward": "(-x).backward()",
    "sigmoid_backward": "lib.sigmoid(x).backward()",
    "log_backward": "lib.log(x).backward()",
    "clamp_backward": "lib.clamp(x, 0, 1).backward()",
    "mean_backward": "(x * lib.tensor([1.0, 2.0])).mean().backward()",
    "sum_to_shape": "(x * lib.tensor([1.0, 2.0])).sum().backward()",
    "zero_": "(x ** 2).backward(); x.grad.zero_()",
    "grad_mode": "exec('with lib.no_grad():\\n    pass', {'lib': lib})",
    "detach": "x.detach()",
    "log_softmax_backward": "lib.log_softmax(x * lib.tensor([1.0, 2.0]), dim=0)[0].backward()",
    "softplus_backward": "lib.nn.functional.softplus(x, beta=2.0).backward()",
}


def run_driver(lib, code):
    x = lib.tensor(0.5, requires_grad=True)
    exec(code, {"lib": lib, "x": x})
    return x


def test_every_exercise_has_a_driver():
    assert set(PUBLIC_DRIVERS) == set(EXERCISE_IDS)


@pytest.mark.parametrize("exercise", EXERCISE_IDS)
def test_open_unit_raises_through_the_public_api(exercise, tmp_path, reference):
    run_driver(reference, PUBLIC_DRIVERS[exercise])  # the driver itself works when solved
    engine = only_open(exercise, tmp_path)
    with pytest.raises(NotImplementedError) as error_info:
        run_driver(engine, PUBLIC_DRIVERS[exercise])
    assert_names(error_info, engine, exercise)


# In the full learner engine the backward pass is open too, so the units behind it are reached
# the way the backward pass would reach them: through the graph's own nodes.
def reach_pow(lib):
    (lib.tensor(3.0, requires_grad=True) ** 2).grad_fn.apply(np.ones((), np.float32))


def reach_accumulate(lib):
    (lib.tensor(3.0, requires_grad=True) * 2).grad_fn.next_functions[0][0].apply(np.ones((), np.float32))


def reach_unary(expression):
    def reach(lib):
        x = lib.tensor([0.5, 2.0], requires_grad=True)
        eval(expression, {"lib": lib, "x": x}).grad_fn.apply(np.ones(2, np.float32))
    return reach


GRAPH_DRIVERS = {
    "pow_backward": reach_pow,
    "accumulate_grad": reach_accumulate,
    "sin_backward": reach_unary("lib.sin(x)"),
    "backward_pass": lambda lib: (lib.tensor(1.0, requires_grad=True) * 2).backward(),
    "add_backward": reach_unary("x + 1"),
    "sub_backward": reach_unary("x - 1"),
    "mul_backward": reach_unary("x * 3"),
    "neg_backward": reach_unary("-x"),
    "sigmoid_backward": reach_unary("lib.sigmoid(x)"),
    "log_backward": reach_unary("lib.log(x)"),
    "clamp_backward": reach_unary("x.clamp(0, 1)"),
    "mean_backward": lambda lib: lib.tensor([0.5, 2.0], requires_grad=True).mean().grad_fn.apply(
        np.ones((), np.float32)),
    "sum_to_shape": lambda lib: lib.engine.sum_to_shape(np.ones((2, 3), np.float32), (3,)),
    "zero_": lambda lib: lib.tensor([1.0]).zero_(),
    "grad_mode": lambda lib: exec("with lib.no_grad():\n    pass", {"lib": lib}),
    "detach": lambda lib: lib.tensor([1.0]).detach(),
    "log_softmax_backward": reach_unary("lib.log_softmax(x, dim=0)"),
    "softplus_backward": reach_unary("lib.nn.functional.softplus(x)"),
}


@pytest.mark.parametrize("exercise", EXERCISE_IDS)
def test_open_unit_raises_in_the_full_learner_engine(learner, exercise, reference):
    GRAPH_DRIVERS[exercise](reference)  # solved, the same call runs
    with pytest.raises(NotImplementedError) as error_info:
        GRAPH_DRIVERS[exercise](learner)
    assert_names(error_info, learner, exercise)
    assert learner.is_grad_enabled()


def test_topological_order_is_part_of_backward_pass(learner):
    y = learner.tensor(1.0, requires_grad=True) * 2
    with pytest.raises(NotImplementedError) as error_info:
        learner.topological_order(y.grad_fn)
    assert_names(error_info, learner, "backward_pass")


# -- everything that is not an exercise works ----------------------------------------------------

def forward_cases():
    rng = np.random.default_rng(0)
    for expression, domain in s.UNARY.items():
        low, high = {s.REAL: (-3, 3), s.POSITIVE: (0.2, 3), s.NONZERO: (0.3, 3)}[domain]
        yield expression, {"x": rng.uniform(low, high, (2, 3)).astype(np.float32)}
    for expression in s.BINARY:
        yield expression, {"a": rng.uniform(0.2, 3, (2, 3)).astype(np.float32),
                           "b": rng.uniform(0.3, 3, (3,)).astype(np.float32)}
    for expression in s.MATMUL:
        yield expression, {"a": rng.normal(size=(2, 3)).astype(np.float32),
                           "b": rng.normal(size=(3, 4)).astype(np.float32)}


@pytest.mark.parametrize("expression, arrays", list(forward_cases()), ids=lambda v: v if isinstance(v, str) else "")
def test_forward_and_printing_of_every_op(learner, expression, arrays):
    shown = []
    for lib in (torch, learner):
        inputs = {name: lib.tensor(a.copy(), requires_grad=True) for name, a in arrays.items()}
        out = eval(expression, {"lib": lib, **inputs})
        shown.append((repr(out), out.tolist(), type(out.grad_fn).__name__))
    assert shown[1][0] == shown[0][0]
    np.testing.assert_allclose(shown[1][1], shown[0][1], rtol=1e-5, atol=1e-6)
    assert shown[1][2] == shown[0][2]


# the scenarios whose path goes through an open unit
REACH_OPEN_UNITS = {"backward through a detached tensor", "backward of a result computed under no_grad"}


@pytest.mark.parametrize("name", [n for n in ERRORS if n not in REACH_OPEN_UNITS])
def test_errors_like_torch(learner, name):
    assert_like_torch(learner, ERRORS[name], expect_error=True)


# Backward rules that are not exercises, applied node by node (no backward pass, no broadcasting):
# each node's gradients must be torch.autograd.grad's for the same upstream gradient.
NOT_EXERCISES = {
    "a / b": ((2, 3), (2, 3)), "lib.exp(a)": ((2, 3),), "lib.tanh(a)": ((2, 3),),
    "lib.cos(a)": ((2, 3),), "lib.relu(a)": ((2, 3),), "a @ b": ((2, 3), (3, 4)), "a @ b ": ((3,), (3,)),
    "a.matmul(b)": ((2, 3), (3,)), "a.sum(1)": ((2, 3),), "a.sum()": ((2, 3),), "a.reshape(3, 2)": ((2, 3),),
    "a ** b": ((2, 3), (2, 3)), "2 ** a": ((2, 3),),
}


@pytest.mark.parametrize("expression", list(NOT_EXERCISES))
def test_backward_rules_that_are_not_exercises(learner, expression):
    rng = np.random.default_rng(len(expression))
    arrays = [rng.uniform(0.5, 2, shape).astype(np.float32) for shape in NOT_EXERCISES[expression]]
    names = "ab"[:len(arrays)]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    their_out = eval(expression, {"lib": torch, **dict(zip(names, theirs))})
    upstream = rng.normal(size=tuple(their_out.shape)).astype(np.float32)
    expected = torch.autograd.grad(their_out, theirs, torch.tensor(upstream))
    ours = [learner.tensor(a, requires_grad=True) for a in arrays]
    our_out = eval(expression, {"lib": learner, **dict(zip(names, ours))})
    grads = our_out.grad_fn.apply(upstream)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6, err_msg=expression)


def test_grad_mode_switches_that_are_not_exercises(learner):
    x = learner.tensor([1.0, 2.0], requires_grad=True)
    with learner.set_grad_enabled(False):
        assert not learner.is_grad_enabled() and (x * 2).grad_fn is None
    assert learner.is_grad_enabled() and (x * 2).grad_fn is not None
    assert x.requires_grad_(False) is x and not x.requires_grad
    assert x.tolist() == [1.0, 2.0] and x.numpy().dtype == np.float32 and x.sum().item() == 3.0


def test_reciprocal_rule(learner):
    """``2 / x`` is Reciprocal then Mul (an exercise); the Reciprocal node alone works."""
    values, upstream = np.array([0.5, 2.0], np.float32), np.array([1.5, -1.0], np.float32)
    node = (2 / learner.tensor(values, requires_grad=True)).grad_fn.next_functions[0][0]
    assert node.name() == "ReciprocalBackward0"
    x = torch.tensor(values, requires_grad=True)
    expected, = torch.autograd.grad(torch.reciprocal(x), x, torch.tensor(upstream))
    np.testing.assert_allclose(node.apply(upstream)[0], expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("code", ["(x * 1).add_(x, alpha=0.5).sum().backward()",
                                  "lib.sub(x * 1, x, alpha=2).sum().backward()",  # (x + (-2) * x)
                                  "x.add(x, alpha=3).sum().backward()"])
def test_add_with_alpha_needs_the_learners_own_rule(code, tmp_path, reference):
    """``add``/``sub`` with ``alpha`` have a node of their own (one rounding, as torch's); its backward calls
    the learner's Add.backward, so the released engine holds no second, working copy of that rule."""
    run_driver(reference, code)
    engine = only_open("add_backward", tmp_path)
    with pytest.raises(NotImplementedError) as error_info:
        run_driver(engine, code)
    assert_names(error_info, engine, "add_backward")
