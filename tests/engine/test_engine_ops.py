"""Forward values and leaf gradients of every op agree with torch.autograd on random inputs.

Each case is an expression from ``strategies`` evaluated once with torch and once with the
reference engine on the same float32 inputs; the outputs, then the leaves' ``.grad`` after a
backward pass with a random upstream gradient, must agree within float32 tolerances.
"""

import numpy as np
import pytest
import strategies as s
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

FORWARD = {"rtol": 1e-5, "atol": 1e-6}
GRADIENT = {"rtol": 1e-4, "atol": 1e-5}
few = settings(max_examples=15, deadline=None)
many = settings(max_examples=60, deadline=None)


def assert_agrees(ours, theirs, what, tolerance=FORWARD):
    """``ours`` (engine tensor or None) equals ``theirs`` (torch tensor or None): dtype, shape, values."""
    if theirs is None or ours is None:
        assert ours is None and theirs is None, f"{what}: torch has {theirs!r}, the engine {ours!r}"
        return
    assert ours.dtype == str(theirs.dtype), f"{what}: dtype {ours.dtype}, torch has {theirs.dtype}"
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: shape {tuple(ours.shape)}, torch {theirs.shape}"
    np.testing.assert_allclose(ours._array, theirs.detach().numpy(), equal_nan=True, err_msg=what, **tolerance)


def evaluate(lib, expression, arrays, names):
    inputs = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    return inputs, eval(expression, {"lib": lib, **dict(zip(names, inputs))})


def check_expression(engine, expression, arrays, names, draw_gradient):
    """Forward, then backward(gradient) on both libraries; compare output and every leaf's grad."""
    theirs, their_out = evaluate(torch, expression, arrays, names)
    ours, our_out = evaluate(engine, expression, arrays, names)
    case = f"{expression} with " + ", ".join(f"{n}={a!r}" for n, a in zip(names, arrays))
    assert_agrees(our_out, their_out, f"forward of {case}")
    assert our_out.grad_fn is not None and our_out.requires_grad
    gradient = draw_gradient(tuple(their_out.shape))
    their_out.backward(torch.tensor(gradient))
    our_out.backward(engine.tensor(gradient))
    for name, mine, torchs in zip(names, ours, theirs):
        assert_agrees(mine.grad, torchs.grad, f"d/d{name} of {case}, upstream {gradient!r}", GRADIENT)


def gradient_drawer(data):
    return lambda shape: data.draw(s.arrays(shape), label="upstream gradient")


@pytest.mark.parametrize("expression", list(s.UNARY))
@few
@given(data=st.data())
def test_unary(reference, expression, data):
    x = data.draw(s.arrays(s.shapes, s.UNARY[expression]), label="x")
    check_expression(reference, expression, [x], "x", gradient_drawer(data))


@pytest.mark.parametrize("expression", list(s.BINARY))
@many
@given(data=st.data())
def test_binary_with_broadcasting(reference, expression, data):
    """Gradients come back in each input's own shape: broadcasting is summed out."""
    a, b = data.draw(s.broadcast_pair(s.BINARY[expression]), label="a, b")
    check_expression(reference, expression, [a, b], "ab", gradient_drawer(data))


@pytest.mark.parametrize("expression", s.MATMUL)
@few
@given(data=st.data())
def test_matmul(reference, expression, data):
    a, b = data.draw(s.matmul_pair(), label="a, b")
    check_expression(reference, expression, [a, b], "ab", gradient_drawer(data))


@pytest.mark.parametrize("requires_grad", [(True, False), (False, True)])
@few
@given(pair=s.matmul_pair(), data=st.data())
def test_matmul_with_one_constant_operand(reference, requires_grad, pair, data):
    """Only the operand that requires grad gets one (the engine skips the other product)."""
    results = []
    for lib in (torch, reference):
        a, b = (lib.tensor(x.copy(), requires_grad=r) for x, r in zip(pair, requires_grad))
        out = a @ b
        if not results:
            gradient = data.draw(s.arrays(tuple(out.shape)), label="upstream gradient")
        out.backward(lib.tensor(gradient))
        results.append((a.grad, b.grad))
    for name, ours, theirs in zip("ab", results[1], results[0]):
        assert_agrees(ours, theirs, f"d/d{name} of a @ b, requires_grad={requires_grad}, {pair!r}", GRADIENT)


@many
@given(case=s.reductions(), data=st.data())
def test_sum_and_mean_over_dims(reference, case, data):
    x, expression = case
    check_expression(reference, expression, [x], "x", gradient_drawer(data))


@few
@given(case=s.reshapes(), data=st.data())
def test_reshape(reference, case, data):
    x, expression = case
    check_expression(reference, expression, [x], "x", gradient_drawer(data))


@pytest.mark.parametrize("expression", ["x + c", "c + x", "x * c", "c * x", "x - c", "c - x", "x / c", "c ** x"])
@few
@given(data=st.data())
def test_python_numbers_on_either_side(reference, expression, data):
    x = data.draw(s.arrays(s.shapes), label="x")
    c = data.draw(st.one_of(st.integers(1, 5), st.floats(0.25, 3)), label="c")
    check_expression(reference, expression.replace("c", repr(c)), [x], "x", gradient_drawer(data))


def test_constant_inputs_get_no_gradient(reference):
    """An input that does not require grad gets no ``.grad``, in the engine as in torch."""
    for lib in (torch, reference):
        x, c = lib.tensor([1.0, 2.0], requires_grad=True), lib.tensor([3.0, 4.0])
        (x * c).sum().backward()
        assert c.grad is None and x.grad is not None, lib.__name__


# -- composite graphs ---------------------------------------------------------------------------

def build(lib, leaves, steps):
    inputs = [lib.tensor(a.copy(), requires_grad=True) for a in leaves]
    return inputs, s.run_program(lib, inputs, steps)


def compare_leaves(engine, program, ours, theirs):
    for i, (mine, torchs) in enumerate(zip(ours, theirs)):
        assert_agrees(mine.grad, torchs.grad, f"grad of leaf {i} in {program}", GRADIENT)


@many
@given(program=s.programs(), reduce=st.sampled_from(["sum", "mean"]))
def test_composite_graphs(reference, program, reduce):
    """Random graphs with reused nodes (diamonds): values and leaf gradients agree."""
    theirs, their_values = build(torch, *program)
    ours, our_values = build(reference, *program)
    for i, (mine, torchs) in enumerate(zip(our_values, their_values)):
        assert_agrees(mine, torchs, f"value {i} of {program}")
    getattr(their_values[-1], reduce)().backward()
    getattr(our_values[-1], reduce)().backward()
    compare_leaves(reference, program, ours, theirs)


@few
@given(program=s.programs(), calls=st.integers(2, 4), data=st.data())
def test_repeated_backward_accumulates(reference, program, calls, data):
    """backward(retain_graph=True) several times adds each round into .grad, as torch does."""
    theirs, their_values = build(torch, *program)
    ours, our_values = build(reference, *program)
    gradient = data.draw(s.arrays(tuple(their_values[-1].shape)), label="upstream gradient")
    for call in range(calls):
        retain = call < calls - 1
        their_values[-1].backward(torch.tensor(gradient), retain_graph=retain)
        our_values[-1].backward(reference.tensor(gradient), retain_graph=retain)
        compare_leaves(reference, program, ours, theirs)


@few
@given(program=s.programs(max_steps=4), data=st.data())
def test_backward_from_two_outputs_and_retain_grad(reference, program, data):
    """Two backward calls from different values of one graph, and retain_grad on a middle value."""
    theirs, their_values = build(torch, *program)
    ours, our_values = build(reference, *program)
    first = data.draw(st.integers(len(ours), len(our_values) - 1), label="first output")
    middle = data.draw(st.integers(len(ours), len(our_values) - 1), label="retained value")
    their_values[middle].retain_grad()
    our_values[middle].retain_grad()
    their_values[first].sum().backward(retain_graph=True)
    our_values[first].sum().backward(retain_graph=True)
    their_values[-1].mean().backward()
    our_values[-1].mean().backward()
    compare_leaves(reference, program, ours, theirs)
    assert_agrees(our_values[middle].grad, their_values[middle].grad, f"retained grad in {program}", GRADIENT)


@few
@given(x=s.arrays(s.nonscalar_shapes), data=st.data())
def test_non_scalar_backward_with_gradient(reference, x, data):
    """backward(gradient) on a non-scalar output: the vector-Jacobian product with that gradient."""
    gradient = data.draw(s.arrays(x.shape), label="gradient")
    results = []
    for lib, wrap in ((torch, torch.tensor), (reference, reference.tensor)):
        leaf = lib.tensor(x.copy(), requires_grad=True)
        (lib.sin(leaf) * leaf).backward(gradient=wrap(gradient))
        results.append(leaf.grad)
    assert_agrees(results[1], results[0], f"grad of sin(x) * x for x={x!r}, gradient={gradient!r}", GRADIENT)


@pytest.mark.parametrize("kind", ["tanh_affine", "sin_times_linear", "exp_of_squares"])
def test_jacobian_row_by_row_on_one_graph(reference, kind, rng):
    """Notebook 10's use: one graph, one backward per output with a one-hot gradient (retain_graph,
    .grad reset between rows) and the same through autograd.grad, equal torch's full Jacobian."""
    from autograder.worker.drivers import jacobian_function

    m, n = 3, 4
    a = rng.normal(size=(m, n)).astype(np.float32) / 2
    b = rng.normal(size=(m,) if kind != "sin_times_linear" else (m, n)).astype(np.float32) / 2
    x = rng.uniform(-1, 1, size=n).astype(np.float32)
    expected = torch.autograd.functional.jacobian(jacobian_function(kind, torch.tensor(a), torch.tensor(b)),
                                                  torch.tensor(x)).numpy()
    leaf = reference.tensor(x, requires_grad=True)
    y = jacobian_function(kind, reference.tensor(a), reference.tensor(b))(leaf)
    by_backward, by_grad = [], []
    for i, onehot in enumerate(np.eye(m, dtype=np.float32)):
        leaf.grad = None
        y.backward(gradient=reference.tensor(onehot), retain_graph=True)
        by_backward.append(leaf.grad.numpy().copy())
        by_grad.append(reference.autograd.grad(y, leaf, grad_outputs=reference.tensor(onehot),
                                               retain_graph=i < m - 1)[0].numpy())
    np.testing.assert_allclose(np.stack(by_backward), expected, **GRADIENT)
    np.testing.assert_allclose(np.stack(by_grad), expected, **GRADIENT)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_exact_values_where_torch_and_numpy_round_alike(reference, shape, rng):
    """Arithmetic-only graphs (no libm calls) give bit-identical gradients: the engine evaluates
    each backward formula in the order torch's kernels do, and adds gradients arriving along
    several paths in the order torch does (notebooks print gradients in full precision)."""
    arrays = [rng.uniform(0.5, 3, shape).astype(np.float32) for _ in range(3)]
    expression = "((a * b - c) / (a + 2) + (1 - b) * (c / b) + a * a * a - 1 / c) ** 2"
    grads = []
    for lib in (torch, reference):
        inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
        eval(expression, {"a": inputs[0], "b": inputs[1], "c": inputs[2]}).sum().backward()
        grads.append([np.asarray(t.grad.tolist(), np.float32) for t in inputs])
    for name, ours, theirs in zip("abc", grads[1], grads[0]):
        assert np.array_equal(ours, theirs), f"d/d{name}: engine {ours!r}, torch {theirs!r}, inputs {arrays!r}"



@pytest.mark.parametrize("index", [0, -1, slice(1, None), (slice(None), 1), (1, slice(0, 2)), [2, 0, 2]])
def test_indexing_is_recorded_like_torch(reference, rng, index):
    values = rng.standard_normal((3, 4)).astype(np.float32)
    weights = rng.standard_normal(np.empty((3, 4))[index].shape).astype(np.float32)
    results = []
    for lib in (torch, reference):
        x = lib.tensor(values, requires_grad=True)
        picked = x[index]
        (picked * lib.tensor(weights)).sum().backward()
        results.append((picked.grad_fn.name(), x.grad.numpy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-6)
