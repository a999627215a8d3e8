"""softplus (notebook 09) agrees with torch: values, gradients, dtype and node name, for beta and threshold,
in float32 and float64, and where its naive formula overflows (|x| in the hundreds)."""

import numpy as np
import pytest
import torch

TOLERANCE = {np.float32: {"rtol": 1e-6, "atol": 1e-7}, np.float64: {"rtol": 1e-12, "atol": 1e-15}}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("options", [{}, {"beta": 2.0}, {"beta": 0.5, "threshold": 5.0}, {"threshold": 1.0}],
                         ids=["defaults", "beta 2", "beta 0.5, threshold 5", "threshold 1"])
def test_agrees_with_torch(reference, dtype, options, rng):
    x0 = np.concatenate([rng.normal(size=20) * 4, [-900.0, -100.0, -20.0, 0.0, 19.9, 20.1, 100.0, 900.0]])
    x0, g0 = x0.astype(dtype), rng.normal(size=x0.size).astype(dtype)
    results = []
    for lib in (torch, reference):
        x = lib.tensor(x0.copy(), requires_grad=True)
        out = lib.nn.functional.softplus(x, **options)
        out.backward(lib.tensor(g0.copy()))
        results.append((out.detach().numpy(), x.grad.numpy(), type(out.grad_fn).__name__, out.dtype))
    (want, want_grad, want_node, want_dtype), (mine, mine_grad, node, my_dtype) = results
    assert node == want_node == "SoftplusBackward0" and str(my_dtype) == str(want_dtype)
    assert mine.dtype == dtype and mine_grad.dtype == dtype
    np.testing.assert_allclose(mine, want, **TOLERANCE[dtype])
    np.testing.assert_allclose(mine_grad, want_grad, **TOLERANCE[dtype])
    assert np.isfinite(mine).all() and np.isfinite(mine_grad).all()
