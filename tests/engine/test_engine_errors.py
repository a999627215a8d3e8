"""Errors and warnings carry torch's type and text, read from torch at test time.

Each scenario is a small program over ``lib`` run against torch and against the engine; what it
raises or warns (type and message) must be the same.  torch sometimes appends
``(Triggered internally at <file>:<line>.)`` to a message: that part alone is ignored.
"""

import re
import textwrap
import warnings

import pytest
import torch

TRIGGERED = re.compile(r"\s*\(Triggered internally at .*\)\s*$", re.DOTALL)


def run_program(lib, program, **names):
    """``(error or None, warnings, its namespace)`` of a program run with ``lib`` as ``lib`` and ``names`` set."""
    namespace = {"lib": lib, **names}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(textwrap.dedent(program), namespace)
            error = None
        except Exception as exc:
            error = (type(exc).__name__, TRIGGERED.sub("", str(exc)))
    return error, [(w.category.__name__, TRIGGERED.sub("", str(w.message))) for w in caught], namespace


def outcome(lib, program):
    """``(error or None, warnings, final values)`` of a program run with ``lib`` as ``lib``."""
    error, shown, namespace = run_program(lib, program)
    result = namespace.get("result")
    return {"error": error, "warnings": shown, "result": None if result is None else repr(result)}


def assert_like_torch(engine, program, expect_error=False, expect_warning=False):
    theirs, ours = outcome(torch, program), outcome(engine, program)
    assert ours == theirs, f"program:\n{textwrap.dedent(program)}"
    # the scenario really is an error (or warning) in torch, so the comparison is not vacuous
    assert (theirs["error"] is not None) == expect_error, theirs
    assert bool(theirs["warnings"]) == expect_warning, theirs


ERRORS = {
    "backward on a tensor that does not require grad": """
        x = lib.tensor(2.0)
        (x ** 2).backward()""",
    "backward after requires_grad_(False), as in the seed": """
        x = lib.tensor(2.0, requires_grad=True)
        x.requires_grad_(False)
        (x ** 2).backward()""",
    "backward through a detached tensor": """
        x = lib.tensor(2.0, requires_grad=True)
        (x.detach() ** 2).backward()""",
    "backward of a result computed under no_grad": """
        x = lib.tensor(2.0, requires_grad=True)
        with lib.no_grad():
            y = x ** 2
        y.backward()""",
    "implicit gradient for a non-scalar output": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * 3).backward()""",
    "gradient of the wrong shape": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * 3).backward(lib.tensor([1.0, 2.0, 3.0]))""",
    "in-place += on a leaf that requires grad": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x += 1""",
    "in-place -= on a leaf that requires grad": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x -= 1""",
    "in-place *= on a leaf that requires grad": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x *= 2""",
    "in-place /= on a leaf that requires grad": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x /= 2""",
    "zero_ on a leaf that requires grad": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.zero_()""",
    "requires_grad_(False) on a non-leaf": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * 2).requires_grad_(False)""",
    "requires_grad_() on an integer tensor": """
        lib.tensor([1, 2]).requires_grad_()""",
    "tensor(..., requires_grad=True) of integers": """
        lib.tensor([1, 2], requires_grad=True)""",
    "retain_grad on a tensor without grad": """
        lib.tensor([1.0]).retain_grad()""",
    "item of several values": """
        lib.tensor([1.0, 2.0]).item()""",
    "float of several values": """
        float(lib.tensor([1.0, 2.0]))""",
    "bool of several values": """
        bool(lib.tensor([1.0, 2.0]))""",
    "numpy() of a tensor that requires grad": """
        lib.tensor([1.0, 2.0], requires_grad=True).numpy()""",
    "len of a 0-d tensor": """
        len(lib.tensor(1.0))""",
    "clamp without bounds": """
        lib.clamp(lib.tensor([1.0]))""",
    "shapes that do not broadcast": """
        lib.tensor([1.0, 2.0]) + lib.tensor([1.0, 2.0, 3.0])""",
    "shapes that do not broadcast, inner dimension": """
        lib.tensor([[1.0, 2.0], [3.0, 4.0]]) * lib.tensor([[1.0, 2.0, 3.0]])""",
    "dot of different lengths": """
        lib.tensor([1.0, 2.0, 3.0]) @ lib.tensor([1.0, 2.0])""",
    "matrix @ vector, sizes differ": """
        lib.ones(2, 3) @ lib.tensor([1.0, 2.0])""",
    "vector @ matrix, sizes differ": """
        lib.tensor([1.0, 2.0]) @ lib.ones(3, 2)""",
    "matrix @ matrix, sizes differ": """
        lib.ones(2, 3) @ lib.ones(2, 3)""",
    "reshape to a different size": """
        lib.tensor([1.0, 2.0, 3.0]).reshape(2)""",
    "reshape with two -1": """
        lib.ones(2, 2).reshape(-1, -1)""",
    "reshape that -1 cannot fill": """
        lib.ones(2, 3).reshape(-1, 4)""",
    "sum over a dim that does not exist": """
        lib.tensor([1.0, 2.0]).sum(1)""",
    "mean over a negative dim that does not exist": """
        lib.ones(2, 3).mean(-3)""",
    "sum over the same dim twice": """
        lib.ones(2, 3).sum((0, 0))""",
    "mean of integers": """
        lib.tensor([1, 2]).mean()""",
}

# saved values are freed by backward(); only nodes that saved something complain the second time
SECOND_BACKWARD = ["x ** 2", "lib.sin(x)", "lib.cos(x)", "lib.exp(x)", "lib.log(x)", "lib.sigmoid(x)",
                   "lib.tanh(x)", "lib.relu(x)", "x.clamp(0, 1)", "x * 2", "x * x", "x / 2", "2 / x",
                   "x ** x", "2 ** x", "x @ x", "x + 1", "1 - x", "-x", "x - x", "x.sum()", "x.mean()",
                   "x.reshape(2, 1)"]


@pytest.mark.parametrize("name", list(ERRORS))
def test_error_like_torch(reference, name):
    assert_like_torch(reference, ERRORS[name], expect_error=True)


@pytest.mark.parametrize("expression", SECOND_BACKWARD)
def test_second_backward_without_retain_graph(reference, expression):
    program = f"""
        x = lib.tensor([0.5, 2.0], requires_grad=True)
        y = ({expression}).sum()
        y.backward()
        y.backward()
        result = x.grad"""
    theirs = outcome(torch, program)
    assert outcome(reference, program) == theirs, expression


def test_second_backward_error_is_the_saved_tensors_one(reference):
    program = """
        x = lib.tensor(3.0, requires_grad=True)
        y = x ** 2
        y.backward()
        y.backward()"""
    assert_like_torch(reference, program, expect_error=True)


def test_retain_graph_allows_a_second_backward(reference):
    program = """
        x = lib.tensor(3.0, requires_grad=True)
        y = lib.sin(x ** 2)
        y.backward(retain_graph=True)
        y.backward()
        result = x.grad"""
    assert_like_torch(reference, program)


WARNINGS = {
    ".grad of a non-leaf": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        result = y.grad""",
    ".grad of a non-leaf after backward": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.sum().backward()
        result = y.grad""",
    "tensor() of a tensor": """
        result = lib.tensor(lib.tensor([1.0, 2.0]))""",
}


@pytest.mark.parametrize("name", list(WARNINGS))
def test_warning_like_torch(reference, name):
    assert_like_torch(reference, WARNINGS[name], expect_warning=True)


QUIET = {
    ".grad of a non-leaf that called retain_grad": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        (y * y).sum().backward()
        result = y.grad""",
    ".grad of a leaf": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        result = x.grad""",
    "in-place on a leaf under no_grad": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with lib.no_grad():
            x -= 0.5 * x
        result = x""",
    "in-place on a non-leaf joins the graph": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y += x
        y.sum().backward()
        result = (y, x.grad)""",
    "backward(gradient) on a leaf": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.backward(lib.tensor([3.0, 4.0]))
        result = x.grad""",
    "a list of 0-d tensors becomes one tensor": """
        result = lib.tensor([lib.tensor(1.5), lib.tensor(2.0)])""",
    "0-d tensors take dim 0 and -1": """
        result = (lib.tensor(3.0).sum(0), lib.tensor(3.0).mean(-1, keepdim=True))""",
    "nan and inf come out without a warning": """
        x = lib.tensor([0.0, float("inf"), 1.0, -1.0])
        result = (lib.log(x), lib.sin(x), lib.exp(x * 100), x / 0, 1 / x, x ** -1, x ** 0.5)""",
    "requires_grad_() on a non-leaf is allowed": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        result = (x * 2).requires_grad_()""",
}


@pytest.mark.parametrize("name", list(QUIET))
def test_no_error_like_torch(reference, name):
    assert_like_torch(reference, QUIET[name])
