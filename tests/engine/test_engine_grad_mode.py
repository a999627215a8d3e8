"""no_grad / enable_grad / set_grad_enabled, detach, zero_ and requires_grad_ behave as torch's.

Each scenario records what it observes in ``result`` (reprs, flags, identities); the record from
the engine must equal the record from torch.
"""

import pytest
from test_engine_errors import assert_like_torch

SCENARIOS = {
    "no_grad as a context manager": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with lib.no_grad():
            inside = lib.is_grad_enabled()
            y = x * 2
        z = x * 2
        result = (inside, lib.is_grad_enabled(), y, y.requires_grad, y.is_leaf, z)""",
    "no_grad restores the mode after an exception": """
        try:
            with lib.no_grad():
                raise KeyError("boom")
        except KeyError:
            pass
        result = lib.is_grad_enabled()""",
    "decorators without parentheses": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)

        @lib.no_grad
        def predict(v):
            '''the doc'''
            return v * 2

        @lib.enable_grad
        def train(v):
            return v * 2

        @lib.inference_mode
        def serve(v):
            return v * 2, lib.is_inference_mode_enabled()

        with lib.no_grad():
            trained = train(x)
        result = (predict(x), predict.__name__, predict.__doc__, trained, serve(x), lib.is_grad_enabled(),
                  lib.is_inference_mode_enabled())""",
    "no_grad as a decorator": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)

        @lib.no_grad()
        def predict(v):
            '''the doc'''
            return (v * 3, lib.is_grad_enabled())

        y, inside = predict(x)
        result = (y, inside, lib.is_grad_enabled(), predict.__name__, predict.__doc__)""",
    "enable_grad inside no_grad": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with lib.no_grad():
            with lib.enable_grad():
                y = x * 2
                inner = lib.is_grad_enabled()
            z = x * 2
            outer = lib.is_grad_enabled()
        result = (y, z, inner, outer, lib.is_grad_enabled())""",
    "enable_grad as a decorator called under no_grad": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)

        @lib.enable_grad()
        def double(v):
            return v * 2

        with lib.no_grad():
            y = double(x)
        result = (y, lib.is_grad_enabled())""",
    "nested no_grad": """
        with lib.no_grad():
            with lib.no_grad():
                pass
            still_off = lib.is_grad_enabled()
        result = (still_off, lib.is_grad_enabled())""",
    "set_grad_enabled as a plain call": """
        x = lib.tensor([1.0], requires_grad=True)
        lib.set_grad_enabled(False)
        y = x * 2
        off = lib.is_grad_enabled()
        lib.set_grad_enabled(True)
        result = (y, off, lib.is_grad_enabled(), x * 2)""",
    "set_grad_enabled as a context manager": """
        x = lib.tensor([1.0], requires_grad=True)
        with lib.set_grad_enabled(False):
            y = x * 2
            with lib.set_grad_enabled(True):
                z = x * 2
        result = (y, z, lib.is_grad_enabled())""",
    "set_grad_enabled as a decorator": """
        x = lib.tensor([1.0], requires_grad=True)

        @lib.set_grad_enabled(False)
        def f(v):
            return v * 2

        result = (f(x), lib.is_grad_enabled(), x * 2)""",
    "a leaf made under no_grad still requires grad": """
        with lib.no_grad():
            w = lib.tensor([1.0], requires_grad=True)
        result = (w, w.is_leaf, w.requires_grad)""",
    "in-place update under no_grad keeps the leaf a leaf": """
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        (w * w).sum().backward()
        with lib.no_grad():
            w -= 0.1 * w.grad
        result = (w, w.is_leaf, w.grad_fn, w.grad)""",
    "detach shares data with the original": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        d = x.detach()
        d += 10
        result = (x, d, d.requires_grad, d.is_leaf, d.grad_fn)""",
    "detach of a non-leaf": """
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x ** 2
        d = y.detach()
        d.zero_()
        result = (y, d, d.is_leaf, d.requires_grad)""",
    "detached values do not reach the leaf's grad": """
        x = lib.tensor(3.0, requires_grad=True)
        y = x * x.detach()
        y.backward()
        result = x.grad""",
    "zero_ clears grad in place; the next backward adds into the same tensor": """
        x = lib.tensor(2.0, requires_grad=True)
        (x ** 2).backward()
        g = x.grad
        first = repr(g)
        x.grad.zero_()
        cleared = repr(g)
        (x ** 2).backward()
        result = (first, cleared, x.grad, x.grad is g)""",
    "zero_ returns the tensor itself": """
        t = lib.tensor([1.0, 2.0])
        result = (t.zero_() is t, t)""",
    "gradients accumulate without zero_": """
        x = lib.tensor(2.0, requires_grad=True)
        for _ in range(3):
            (x ** 2).backward()
        result = x.grad""",
    "setting .grad to None starts over": """
        x = lib.tensor(2.0, requires_grad=True)
        (x ** 2).backward()
        x.grad = None
        (x ** 3).backward()
        result = x.grad""",
    "retain_grad on a 0-d value; its grad clears in place": """
        x = lib.tensor(2.0, requires_grad=True)
        y = x * 3
        y.retain_grad()
        (y * y).backward(retain_graph=True)
        first = repr(y.grad)
        (y * y).backward()
        second = repr(y.grad)
        y.grad.zero_()
        result = (first, second, y.grad, x.grad)""",
    "requires_grad_ turns tracking on and off on a leaf": """
        x = lib.tensor([1.0, 2.0])
        same = x.requires_grad_() is x
        on = (x * 2, x.requires_grad)
        x.requires_grad_(False)
        result = (same, on, x * 2, x.requires_grad, x)""",
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_grad_mode_like_torch_and_back_on_afterwards(reference, name):
    assert reference.is_grad_enabled() is True
    assert_like_torch(reference, SCENARIOS[name])
    # a scenario that leaves recording off would poison every later test: checked after each one
    assert reference.is_grad_enabled() is True
