"""softmax, log_softmax, nll_loss and cross_entropy (notebook 08) agree with torch: values, gradients,
graph node names and errors, on batches of one, many classes, large logits and every reduction."""

import numpy as np
import pytest
import torch

FORWARD = {"rtol": 1e-5, "atol": 1e-6}
GRADIENT = {"rtol": 1e-4, "atol": 1e-6}

EXPRESSIONS = [
    "lib.softmax(x, dim=1)", "lib.softmax(x, -1)", "x.softmax(0)", "lib.log_softmax(x, dim=1)",
    "x.log_softmax(-1)", "lib.nn.functional.softmax(x, dim=1)", "lib.nn.functional.log_softmax(x, dim=0)",
    "lib.nn.functional.cross_entropy(x, y)", "lib.nn.functional.cross_entropy(x, y, reduction='sum')",
    "lib.nn.functional.cross_entropy(x, y, reduction='none')",
    "lib.nn.functional.nll_loss(lib.log_softmax(x, dim=1), y)",
]
SHAPES = {"a batch of one": (1, 3), "a batch": (5, 4), "many classes": (3, 60)}


@pytest.mark.parametrize("expression", EXPRESSIONS)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("scale", [1.0, 1000.0], ids=["small logits", "large logits"])
def test_agrees_with_torch(reference, expression, shape, scale, rng):
    x0 = (rng.normal(size=shape) * scale).astype(np.float32)
    y0 = rng.integers(0, shape[1], size=shape[0])
    results = []
    for lib in (torch, reference):
        x = lib.tensor(x0.copy(), requires_grad=True)
        out = eval(expression, {"lib": lib, "x": x, "y": lib.tensor(y0)})
        grad = np.random.default_rng(1).normal(size=tuple(out.shape)).astype(np.float32)
        out.backward(lib.tensor(grad))
        results.append((out.detach().numpy(), x.grad.numpy(), type(out.grad_fn).__name__, out.dtype))
    (theirs, their_grad, their_node, their_dtype), (ours, our_grad, our_node, our_dtype) = results
    assert our_node == their_node and str(our_dtype) == str(their_dtype)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, **FORWARD)
    np.testing.assert_allclose(our_grad, their_grad, rtol=GRADIENT["rtol"], atol=GRADIENT["atol"] * scale)


def test_single_sample_and_zero_d(reference):
    for lib in (torch, reference):
        x = lib.tensor([2.0, 1.0, 0.1], requires_grad=True)
        loss = lib.nn.functional.cross_entropy(x, lib.tensor(1))
        loss.backward()
        assert loss.shape == () and round(loss.item(), 5) == 1.41703
        softmax = np.exp([2.0, 1.0, 0.1]) / np.exp([2.0, 1.0, 0.1]).sum()
        np.testing.assert_allclose(x.grad.numpy(), softmax - [0, 1, 0], rtol=1e-5)
        assert lib.softmax(lib.tensor(3.0), -1).item() == 1.0


@pytest.mark.parametrize("call, error", [
    ("F.cross_entropy(x, lib.tensor([0, 3]))", IndexError),
    ("F.cross_entropy(x, lib.tensor([0, 1, 2]))", ValueError),
    ("F.cross_entropy(x, lib.tensor([0, 1]), reduction='avg')", ValueError),
])
def test_errors_as_torch(reference, call, error):
    messages = []
    for lib in (torch, reference):
        x = lib.tensor(np.zeros((2, 3), np.float32))
        with pytest.raises(error) as info:
            eval(call, {"lib": lib, "F": lib.nn.functional, "x": x})
        messages.append(str(info.value))
    assert messages[0] == messages[1]
