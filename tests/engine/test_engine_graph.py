"""The recorded graph has torch's shape: node names, ``next_functions``, AccumulateGrad at leaves
that require grad, None for inputs that do not."""

import itertools

import numpy as np
import pytest
import strategies as s
import torch
from hypothesis import given, settings


def graph(node, seen=None):
    """``[name, [children]]`` down to the leaves; a node met twice is shown as ``[name, "again"]``."""
    seen = {} if seen is None else seen
    if node is None:
        return None
    name = type(node).__name__
    if id(node) in seen:
        return [name, "again", seen[id(node)]]
    seen[id(node)] = len(seen)
    return [name, [graph(child, seen) for child, _ in node.next_functions]]


def describe(lib, expression, arrays, names, requires_grad):
    inputs = [lib.tensor(a.copy(), requires_grad=r) for a, r in zip(arrays, requires_grad)]
    out = eval(expression, {"lib": lib, **dict(zip(names, inputs))})
    return {"graph": graph(out.grad_fn), "requires_grad": out.requires_grad, "is_leaf": out.is_leaf,
            "repr_suffix": repr(out).rsplit(", ", 1)[-1] if out.requires_grad else None}


def assert_same_graph(engine, expression, arrays, names, requires_grad):
    theirs = describe(torch, expression, arrays, names, requires_grad)
    ours = describe(engine, expression, arrays, names, requires_grad)
    assert ours == theirs, f"{expression} with requires_grad={requires_grad}"


@pytest.mark.parametrize("expression", list(s.UNARY))
@pytest.mark.parametrize("requires_grad", [True, False])
def test_unary_graphs(reference, expression, requires_grad, rng):
    x = rng.uniform(0.5, 2, (2, 3)).astype(np.float32)
    assert_same_graph(reference, expression, [x], "x", [requires_grad])


BOTH_REQUIRE = list(itertools.product([True, False], repeat=2))


@pytest.mark.parametrize("expression", list(s.BINARY))
@pytest.mark.parametrize("requires_grad", BOTH_REQUIRE)
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((3,), (2, 3)), ((), (2,))])
def test_binary_graphs(reference, expression, requires_grad, shapes, rng):
    a, b = (rng.uniform(0.5, 2, shape).astype(np.float32) for shape in shapes)
    assert_same_graph(reference, expression, [a, b], "ab", requires_grad)


@pytest.mark.parametrize("expression", s.MATMUL)
@pytest.mark.parametrize("requires_grad", BOTH_REQUIRE)
@pytest.mark.parametrize("shapes", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 2))])
def test_matmul_graphs(reference, expression, requires_grad, shapes, rng):
    """Named by the shapes as torch names them: Dot, Mv, Mm, and Unsqueeze-Mm-Squeeze for vector@matrix."""
    a, b = (rng.uniform(0.5, 2, shape).astype(np.float32) for shape in shapes)
    assert_same_graph(reference, expression, [a, b], "ab", requires_grad)


@settings(max_examples=40, deadline=None)
@given(case=s.reductions())
def test_reduction_graphs(reference, case):
    x, expression = case
    assert_same_graph(reference, expression, [x], "x", [True])


@settings(max_examples=20, deadline=None)
@given(case=s.reshapes())
def test_reshape_graphs(reference, case):
    x, expression = case
    assert_same_graph(reference, expression, [x], "x", [True])


@settings(max_examples=40, deadline=None)
@given(program=s.programs())
def test_composite_graphs_reuse_nodes_like_torch(reference, program):
    """Diamonds: a value used twice is one node reached along two paths, in both libraries."""
    described = []
    for lib in (torch, reference):
        leaves, steps = program
        inputs = [lib.tensor(a.copy(), requires_grad=i % 2 == 0) for i, a in enumerate(leaves)]
        out = s.run_program(lib, inputs, steps)[-1]
        described.append(graph(out.grad_fn))
    assert described[1] == described[0], program


def test_accumulate_grad_belongs_to_its_leaf(reference):
    for lib in (torch, reference):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y, z = x * 2, x + 1
        first = y.grad_fn.next_functions[0][0]
        assert type(first).__name__ == "AccumulateGrad" and first.variable is x, lib.__name__
        assert z.grad_fn.next_functions[0][0] is first, f"{lib.__name__}: one AccumulateGrad per leaf"
        assert y.grad_fn.next_functions[1] == (None, 0), lib.__name__
        assert y.grad_fn.name() == "MulBackward0" and first.name().endswith("AccumulateGrad")


def test_detached_and_constant_inputs_are_none_edges(reference):
    shown = []
    for lib in (torch, reference):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        c = lib.tensor([3.0, 4.0])
        out = (x * c + x.detach()) / (c + 1)
        shown.append(graph(out.grad_fn))
    assert shown[1] == shown[0]


def test_no_graph_for_ops_on_constants(reference):
    for lib in (torch, reference):
        c = lib.tensor([3.0, 4.0])
        out = lib.sin(c * 2).sum()
        assert out.grad_fn is None and not out.requires_grad and out.is_leaf, lib.__name__
