"""torch's in-place elementwise methods (``y.exp_()``, ``y.clamp_(min=0)``, ``y.pow_(2)``, ...) and the random fills
(``normal_``, ``uniform_``), against torch: the values, the node (the same as the op's: ``ExpBackward0``), the
version count, the gradients, torch's refusals (a leaf, an integer tensor, an overlapping input), and a result
saved for backward that changes again (``y.exp_(); y.mul_(2)``: torch refuses, naming the node that made it).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_engine_idioms_core import assert_like_torch

NONZERO = st.floats(-3, 3, width=32).filter(bool)  # (not -0: torch's own clamp_ and clamp disagree there)
METHODS = ["abs_()", "clamp_(min=0)", "clamp_(-0.5, 0.5)", "clip_(max=1)", "cos_()", "exp_()", "log_()", "neg_()",
           "pow_(2)", "pow_(3)", "relu_()", "sigmoid_()", "sign_()", "sin_()", "sqrt_()", "square_()", "tanh_()"]
SCENARIOS = {  # name: (program, an error in torch?)
    "in place": ("x = lib.tensor(a, requires_grad=True); y = x * 1; y.{op}; (y * y).sum().backward()\n"
                 "result = [y, x.grad, y._version, type(y.grad_fn).__name__]", False),
    "changed again before backward": ("x = lib.tensor(a, requires_grad=True); y = x * 1; y.{op}; y.mul_(2)\n"
                                      "y.sum().backward(); result = [y, x.grad]", None),
    "through a view": ("x = lib.tensor(a, requires_grad=True); y = x * 1; y[1:].{op}; y.sum().backward()\n"
                       "result = [y, x.grad]", False),
    "on a leaf": ("x = lib.tensor(a, requires_grad=True); x.{op}", True),
    "under no_grad, on a leaf": ("x = lib.tensor(a, requires_grad=True)\nwith lib.no_grad():\n    x.{op}\n"
                                 "result = [x, x._version]", False),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("op", METHODS)
@settings(max_examples=5, deadline=None)
@given(a=hnp.arrays(np.float64, 4, elements=NONZERO))
def test_in_place_elementwise_like_torch(reference, op, scenario, a):
    program, error = SCENARIOS[scenario]
    assert_like_torch(reference, program.format(op=op), expect_error=error, ulps=True, a=a)


@pytest.mark.parametrize("op", ["exp_()", "relu_()", "neg_()", "pow_(2)"])
def test_in_place_float_results_refused_on_integer_tensors(reference, op):
    assert_like_torch(reference, f"x = lib.tensor([1, 2, 3]); x.{op}; result = x",
                      expect_error=op not in ("relu_()", "neg_()", "pow_(2)"))


def test_in_place_power_refuses_an_overlapping_exponent(reference):
    program = "y = lib.tensor([1.5, 2.0, 0.5, 3.0]) * 1; y[1:].pow_(y[:3])"
    assert_like_torch(reference, program, expect_error=True)


RANDOM_FILLS = {  # draws that do not depend on the generator: torch's and the engine's differ
    "normal_ under no_grad": ("x = lib.zeros(3, requires_grad=True)\nwith lib.no_grad():\n    x.normal_(1.5, 0)\n"
                              "result = [x, x.requires_grad, x.grad_fn, x._version]", False),
    "uniform_ of a new tensor": ("x = lib.zeros(2, 3).uniform_(2, 2); result = [x, x._version]", False),
    "normal_ on a leaf": ("x = lib.zeros(3, requires_grad=True); x.normal_()", True),
    "normal_ on a non-leaf": ("x = lib.zeros(3, requires_grad=True); y = x * 2; y.normal_(0, 0)\n"
                              "y.sum().backward(); result = [y, x.grad, type(y.grad_fn).__name__]", False),
}


@pytest.mark.parametrize("name", RANDOM_FILLS)
def test_random_fills_like_torch(reference, name):
    program, error = RANDOM_FILLS[name]
    assert_like_torch(reference, program, expect_error=error)


def test_random_fills_draw_from_the_seeded_generator(reference):
    draws = []
    for _ in range(2):
        reference.manual_seed(3)
        draws.append((reference.zeros(1000).normal_(2, 0.5).numpy(), reference.zeros(1000).uniform_(-1, 3).numpy()))
    (normal, uniform), again = draws
    assert all(np.array_equal(a, b) for a, b in zip((normal, uniform), again))
    assert abs(normal.mean() - 2) < 0.1 and abs(normal.std() - 0.5) < 0.05
    assert uniform.min() >= -1 and uniform.max() < 3 and abs(uniform.mean() - 1) < 0.15
