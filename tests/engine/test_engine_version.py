"""In-place changes to what backward saved: the engine raises exactly where torch raises, with
torch's message, and its version counts (``x._version``) are torch's.

Each scenario is one program over ``lib``, run against torch and against the engine; the error
(type and text, read from torch at test time) or the final values must be the same. Every
scenario also states whether torch raises, so that no comparison is vacuous.
"""

import contextlib
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine_errors import assert_like_torch, outcome

RAISES = {
    "a saved input changed with +=": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        y = x.sin()
        x += 1
        y.sum().backward()""",
    "a saved output changed with zero_": """
        a = lib.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]], requires_grad=True)
        s = a.sigmoid()
        s.zero_()
        s.sum().backward()""",
    "a 0-d saved output changed with *=": """
        w = lib.tensor(0.5, requires_grad=True)
        s = lib.sigmoid(w * 3.0)
        s *= 2
        s.backward()""",
    "the output max() saved, changed": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        m = a.max()
        m += 1
        m.backward()""",
    "a constant factor changed after the product": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        c = lib.tensor([3.0, 4.0])
        y = a * c
        c += 1
        y.sum().backward()""",
    "a constant numerator changed after dividing": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        c = lib.tensor([3.0, 4.0])
        y = c / a
        c -= 1
        y.sum().backward()""",
    "a parameter updated before backward, as an early optimizer step": """
        w = lib.tensor(1.5, requires_grad=True)
        loss = w ** 2
        with lib.no_grad():
            w -= 0.1
        loss.backward()""",
    "detach() shares the counter": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        y = x.sin()
        x.detach().zero_()
        y.sum().backward()""",
    "a view of a detached tensor shares the counter": """
        a = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        x = a * 2
        y = x.cos()
        v = x.detach().view(2, 2)
        v += 1
        y.sum().backward()""",
    "changed twice: version 2, and named by the last op": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        y = x.exp() * x
        x += 1
        x -= 1
        y.sum().backward()""",
    "saved after one change, changed again": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        x *= 2
        y = x.sin()
        x *= 2
        y.sum().backward()""",
    "named as torch names ClampBackward1": """
        a = lib.tensor([0.2, 2.0], requires_grad=True)
        c = a.clamp(0, 1)
        y = c.log()
        c.detach().fill_(0.5)
        y.sum().backward()""",
    "named as torch names PowBackward2": """
        a = lib.tensor([0.2, 2.0], requires_grad=True)
        r = 2 ** a
        y = r.tanh()
        r.detach().zero_()
        y.sum().backward()""",
    "a float64 tensor": """
        a = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        x = a * 1
        y = x.sin()
        x += 1
        y.sum().backward()""",
    "matmul keeps both sides": """
        a = lib.tensor([[1.0, 2.0], [3.0, 0.5]], requires_grad=True)
        x = a * 1
        y = x @ x
        x += 1
        y.sum().backward()""",
    "x *= x: the other factor is x itself": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        x *= x
        x.sum().backward()""",
    "a second backward after retain_graph": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        y = a.exp()
        y.sum().backward(retain_graph=True)
        y += 1
        y.sum().backward()""",
    "log_softmax's output changed": """
        a = lib.tensor([[1.0, 2.0, 0.5]], requires_grad=True)
        p = lib.log_softmax(a, 1)
        loss = (p * p).sum()
        p.detach().zero_()
        loss.backward()""",
}

NO_RAISE = {
    "x * 2 keeps only the 2": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        y = x * 2
        x += 1
        y.sum().backward()
        result = (a.grad, x._version, y._version)""",
    "1 - x keeps nothing": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        y = 1 - x
        x.zero_()
        y.sum().backward()
        result = (a.grad, x._version)""",
    "a product with a constant keeps only the constant": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        c = lib.tensor([3.0, 4.0])
        x = a * 1
        y = x * c
        x.detach().zero_()
        y.sum().backward()
        result = a.grad""",
    "changed after backward ran": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        y = a.exp()
        y.sum().backward()
        y += 1
        result = (a.grad, y._version)""",
    "an in-place product keeps the old numbers itself": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 5.0], requires_grad=True)
        x = a * 1
        x *= b
        x.sum().backward()
        result = (a.grad, b.grad, x, x._version)""",
    "an in-place quotient keeps the old numbers itself": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 5.0], requires_grad=True)
        x = a * 1
        x /= b
        x.sum().backward()
        result = (a.grad, b.grad)""",
    "zero_ in the graph sends back zeros": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        x.zero_()
        (x * a).sum().backward()
        result = (a.grad, x.grad_fn.name(), x._version)""",
    "fill_ in the graph sends back zeros": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        x.fill_(3.0)
        (x * a).sum().backward()
        result = (a.grad, x.grad_fn.name(), x._version)""",
    "x.data changed in place is not counted": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        y = x.sin()
        x.data[...] = 0.0
        y.sum().backward()
        result = (a.grad, x._version)""",
    "a leaf's .data updated under no_grad is not counted": """
        w = lib.tensor([1.5, -0.5], requires_grad=True)
        loss = (w ** 2).sum()
        with lib.no_grad():
            w.data -= 0.1
        loss.backward()
        result = (w.grad, w._version)""",
    "a tensor changed before it was saved": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        x += 1
        y = x.sin()
        y.sum().backward()
        result = (a.grad, x._version)""",
}

VERSIONS = {
    "each in-place op counts once": """
        x = lib.ones(2)
        counts = [x._version]
        x += 1
        counts.append(x._version)
        x -= 1
        x *= 2
        x /= 2
        x.zero_()
        x.fill_(3)
        counts.append(x._version)
        result = counts""",
    "views and detach share the count, .data and requires_grad_ do not add": """
        x = lib.zeros(3)
        v = x[0:2]
        v += 1
        d = x.detach()
        d.zero_()
        r = x.view(3, 1)
        r.fill_(2)
        x.requires_grad_()
        x.data[...] = 1
        t = x.unsqueeze(0)
        result = (x._version, v._version, d._version, r._version, t._version)""",
    "results of ops start at 0, whatever their inputs' counts": """
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1
        x += 1
        y = x.sin()
        c = x.clone()
        result = (a._version, x._version, y._version, c._version)""",
}


@pytest.mark.parametrize("name", RAISES)
def test_raises_as_torch_does(reference, name):
    assert_like_torch(reference, RAISES[name], expect_error=True)


@pytest.mark.parametrize("name", NO_RAISE)
def test_does_not_raise_where_torch_does_not(reference, name):
    assert_like_torch(reference, NO_RAISE[name])


@pytest.mark.parametrize("name", VERSIONS)
def test_versions_count_as_torch_counts(reference, name):
    assert_like_torch(reference, VERSIONS[name])


def test_the_message_is_torchs_modified_by_an_inplace_operation(reference):
    """The comparison above is of whole messages; this one says which message it is."""
    error = outcome(torch, RAISES["a saved input changed with +="])["error"]
    assert "modified by an inplace operation" in error[1] and "which is output 0 of Add" in error[1]
    assert outcome(reference, RAISES["a saved input changed with +="])["error"] == error


def test_the_learner_release_counts_too():
    """The counter lives outside the exercises: the untouched release engine refuses a changed saved
    value as well (its backward pass is an exercise, so this asks the node directly)."""
    from autograder.learner.engines import load_learner_release
    program = RAISES["a saved input changed with +="]
    theirs = outcome(torch, program)
    ours = outcome(load_learner_release(), program.replace("y.sum().backward()", "y.grad_fn.saved_tensors"))
    assert theirs["error"] is not None and ours == theirs


# -- random programs: recorded ops and in-place changes, interleaved ---------------------------------

OPS = ("u.sin()", "lib.tanh(u)", "u.sigmoid()", "lib.exp(lib.tanh(u))", "u * v", "u + v", "u - v", "u.relu()",
       "u.clamp(-0.5, 0.5)", "u ** 2", "u / (v.sigmoid() + 0.5)", "2 ** lib.tanh(u)", "u.cos() * 0.5")
# in-place changes of value u (with v as the other operand); leaves change only under no_grad, as torch requires
CHANGES = ("u += 0.5", "u *= 0.5", "u -= v", "u *= v", "u.zero_()", "u.fill_(0.25)", "d = u.detach(); d *= 0.5",
           "u.data[...] = 0.75")


def _play(lib, leaves, steps, target):
    """Run a program; what it ends with: the error, or the leaves' gradients and every version."""
    values = [lib.tensor(leaves[0], requires_grad=True), lib.tensor(leaves[1])]
    for kind, text, i, j in steps:
        u, v = values[i], values[j]
        if kind == "op":
            values.append(eval(text, {"lib": lib, "u": u, "v": v}))
        else:
            with lib.no_grad() if i == 0 else contextlib.nullcontext():
                exec(text, {"u": u, "v": v})
    try:
        values[target].sum().backward()
    except RuntimeError as error:
        return ("error", str(error))
    grad = values[0].grad
    return ("ran", None if grad is None else grad.numpy().copy(), [t._version for t in values])


@st.composite
def programs(draw):
    """``(leaf values, steps, target)``: value 0 requires grad, value 1 does not; each op makes a new value
    from recent ones (so chains form), each change hits any value; backward starts at ``target``."""
    shape = draw(st.sampled_from([(), (2,), (2, 3)]))
    size = int(np.prod(shape))
    leaves = [np.array(draw(st.lists(st.floats(-2, 2, width=32), min_size=size, max_size=size)),
                       np.float32).reshape(shape) for _ in range(2)]
    steps, count = [], 2
    recent = st.integers(0, 2)
    for _ in range(draw(st.integers(2, 10))):
        if count == 2 or draw(st.integers(0, 2)):
            steps.append(("op", draw(st.sampled_from(OPS)), max(0, count - 1 - draw(recent)) if count > 2 else 0,
                          draw(st.integers(0, count - 1))))
            count += 1
        else:
            steps.append(("change", draw(st.sampled_from(CHANGES)), draw(st.integers(0, count - 1)),
                          draw(st.integers(0, count - 1))))
    return leaves, steps, draw(st.one_of(st.just(count - 1), st.integers(0, count - 1)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_programs_raise_and_count_as_torch(reference, program):
    leaves, steps, target = program
    theirs, ours = _play(torch, *program), _play(reference, *program)
    text = textwrap.indent("\n".join(f"{s}  (u = value {i}, v = value {j})" for _, s, i, j in steps), "  ")
    assert theirs[0] == ours[0], f"torch {theirs}, engine {ours}\n{text}"
    if theirs[0] == "error":
        assert ours[1] == theirs[1], text
    else:
        assert ours[2] == theirs[2], text
        assert (ours[1] is None) == (theirs[1] is None), text
        if theirs[1] is not None:
            np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5, atol=1e-6, err_msg=text)
