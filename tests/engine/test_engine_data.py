"""``x.data`` is a tensor, as in torch: on x's memory, off the graph, with a version count of its own; its
setter; and the in-place methods ``add_ sub_ mul_ div_ copy_ zero_ fill_``. Torch is the oracle: every
test runs the same steps on torch and on the reference engine and compares what each gives.
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}


def arrays(dtype=np.float32, min_dims=0):
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=min_dims, max_dims=3, max_side=4),
                      elements=st.floats(-3, 3, width=32))


def into(shape):
    """Shapes that broadcast to ``shape`` (not beyond it): what an in-place op can take."""
    return hnp.broadcastable_shapes(shape, max_dims=len(shape)).filter(
        lambda other: np.broadcast_shapes(shape, other) == shape)


def both(lib_tg, values, requires_grad=False, through=None):
    """The same tensor in torch and in the engine; ``through``: an op first, so it is not a leaf."""
    pair = [torch.tensor(values, requires_grad=requires_grad), lib_tg.tensor(values, requires_grad=requires_grad)]
    return [through(t) for t in pair] if through else pair


def error_of(step):
    try:
        step()
    except Exception as error:  # noqa: BLE001 - compared with torch's
        return type(error).__name__, str(error).splitlines()[0]
    return None


# -- what x.data is --------------------------------------------------------------------------------------

MAKERS = {"a leaf": lambda t: t, "a result": lambda t: t * 2}


@pytest.mark.parametrize("maker", MAKERS)
@pytest.mark.parametrize("requires_grad", [True, False])
@FAST
@given(values=arrays())
def test_data_is_a_tensor_off_the_graph(reference, maker, requires_grad, values):
    theirs, mine = both(reference, values, requires_grad, MAKERS[maker])
    for t, lib in ((theirs, torch), (mine, reference)):
        assert type(t.data) is lib.Tensor
    td, md = theirs.data, mine.data
    assert (md.shape, md.dtype, md.requires_grad, md.grad_fn, md.is_leaf, md._version) == \
        (td.shape, str(td.dtype), td.requires_grad, td.grad_fn, td.is_leaf, td._version)
    assert md.tolist() == td.tolist()
    assert md.requires_grad is False and md.grad_fn is None  # (the same on both sides, and as torch says)


@FAST
@given(values=arrays(min_dims=1), fill=st.floats(-5, 5, width=32))
def test_data_shares_storage_both_ways(reference, values, fill):
    for lib in (torch, reference):
        x = lib.tensor(values)
        d = x.data
        d.fill_(fill)  # through .data: x sees it
        assert x.tolist() == np.full(values.shape, np.float32(fill)).tolist(), lib.__name__
        x.zero_()  # through x: .data sees it
        assert d.tolist() == np.zeros(values.shape).tolist(), lib.__name__
        x.data[0] = 7  # a view of .data writes through too
        assert x[0].tolist() == np.full(values.shape[1:], 7.0).tolist(), lib.__name__


# -- version counts: .data is not counted, detach() is ------------------------------------------------

def counts(lib, values, via, change):
    """x's and the changed tensor's ``_version`` after changing x (a saved sigmoid output) through ``via``."""
    a = lib.tensor(values, requires_grad=True)
    x = a.sigmoid()
    handle = x.data if via == "data" else x.detach()
    change(handle)
    return x._version, handle._version


CHANGES = {
    "add_": lambda t: t.add_(1.5), "sub_": lambda t: t.sub_(0.25, alpha=2), "mul_": lambda t: t.mul_(3),
    "div_": lambda t: t.div_(2), "zero_": lambda t: t.zero_(), "fill_": lambda t: t.fill_(0.5),
    "copy_": lambda t: t.copy_(t * 0 + 4), "[...] =": lambda t: t.__setitem__(Ellipsis, 2.0),
    "+=": lambda t: t.__iadd__(1), "twice": lambda t: t.add_(1).mul_(2),
}


@pytest.mark.parametrize("via", ["data", "detach"])
@pytest.mark.parametrize("change", CHANGES)
def test_version_counts_like_torch(reference, rng, via, change):
    values = rng.standard_normal(3).astype(np.float32)
    theirs = counts(torch, values, via, CHANGES[change])
    mine = counts(reference, values, via, CHANGES[change])
    assert mine == theirs
    # and neither is vacuous: torch counts the change on the handle; only detach() shares it with x
    assert theirs[1] >= 1 and (theirs[0] == 0) == (via == "data")


@pytest.mark.parametrize("change", CHANGES)
def test_backward_after_a_change_through_data_or_detach(reference, rng, change):
    """Through .data: no error, and the gradient silently uses the changed values; through detach():
    torch's error, word for word."""
    values = rng.standard_normal(4).astype(np.float32)

    def run(lib, via):
        a = lib.tensor(values, requires_grad=True)
        s = a.sigmoid()  # saves its output
        CHANGES[change](s.data if via == "data" else s.detach())
        error = error_of(lambda: s.sum().backward())
        return error, None if error else a.grad.tolist()

    for via in ("data", "detach"):
        theirs, mine = run(torch, via), run(reference, via)
        assert mine[0] == theirs[0], via
        if via == "data":
            assert theirs[0] is None
            np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-6, atol=1e-7)
        else:
            assert theirs[0] is not None and "modified by an inplace operation" in theirs[0][1]


# -- the setter -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("maker", MAKERS)
@FAST
@given(values=arrays(), other=arrays(min_dims=0))
def test_data_setter(reference, maker, values, other):
    results = []
    for lib in (torch, reference):
        x = MAKERS[maker](lib.tensor(values, requires_grad=True))
        x.detach().add_(1)  # counted on x: the setter keeps x's count
        new = lib.tensor(other)
        x.data = new
        seen = [x.shape, x.tolist(), x.requires_grad, x.grad_fn is None, x._version, new._version]
        new.add_(1)  # x holds new's memory ...
        seen += [x.tolist(), x._version, new._version]  # ... but not its count
        x.data.mul_(2)
        seen += [new.tolist(), x._version]
        results.append(seen)
    assert results[1] == results[0]


@pytest.mark.parametrize("value", [5, 2.5, [1.0, 2.0], np.ones(2, np.float32), None])
def test_data_setter_refuses_what_is_not_a_tensor(reference, value):
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        return error_of(lambda: setattr(x, "data", value))
    theirs = run(torch)
    assert theirs is not None and run(reference) == theirs


@pytest.mark.parametrize("requires_grad", [True, False])
def test_data_setter_dtype_rule(reference, requires_grad):
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=requires_grad)
        return error_of(lambda: setattr(x, "data", lib.tensor([1, 2]))), x.dtype == lib.int64
    theirs, mine = run(torch), run(reference)
    assert (theirs[0] is None) != requires_grad  # torch refuses integers only for a tensor that requires grad
    assert mine == theirs


# -- the in-place methods, against torch -----------------------------------------------------------------

BINARY = ["add_", "sub_", "mul_", "div_"]


@pytest.mark.parametrize("method", BINARY)
@pytest.mark.parametrize("dtype", DTYPES)
@FAST
@given(data=st.data())
def test_binary_in_place_values(reference, method, dtype, data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    values = data.draw(hnp.arrays(DTYPES[dtype][0], shape, elements=st.floats(-3, 3, width=32)))
    other_shape = data.draw(into(shape))
    other = data.draw(hnp.arrays(DTYPES[dtype][0], other_shape, elements=st.floats(0.25, 3, width=32)))
    scalar = data.draw(st.sampled_from([None, 2, -0.5]))
    # (0.37 and -0.1 are not powers of two: x + alpha * other rounds twice unless it is fused as torch's)
    alpha = data.draw(st.sampled_from([1, 2, -0.5, 0.37, -0.1])) if method in ("add_", "sub_") else 1
    kwargs = {"alpha": alpha} if alpha != 1 else {}
    outs = []
    for lib in (torch, reference):
        x = lib.tensor(values)
        view = x.data
        arg = scalar if scalar is not None else lib.tensor(other)
        returned = getattr(x, method)(arg, **kwargs)
        assert returned is x
        outs.append((x.numpy().copy(), view.numpy().copy(), str(x.dtype), x._version))
    (tv, tview, tdtype, tver), (mv, mview, mdtype, mver) = outs
    assert (mdtype, mver) == (tdtype, tver) == (tdtype, 1)
    broadcast = scalar is not None or other_shape != shape
    if alpha not in (1, 2, -0.5) and (broadcast or dtype == "float64"):
        # alpha * other is inexact here, and torch rounds it per element as its CPU kernel goes: fused
        # in the vector lanes, in two steps in the loop's tail (which elements: the machine's vector
        # width); the engine fuses every element (float64 in 80-bit longdouble: rounded twice). Allowed:
        # the rounding of the product and an ulp of the sum, which near a cancellation is many ulps.
        kind = DTYPES[dtype][0]
        product = kind(alpha) * np.broadcast_to(np.asarray(scalar if scalar is not None else other, kind), tv.shape)
        allowed = np.spacing(np.abs(product)) + np.spacing(np.abs(tv))
        assert np.all(np.abs(mv.astype(np.float64) - tv) <= allowed), (mv, tv)
    else:  # exact: alpha * other is exact, or torch fuses every element as the engine does
        np.testing.assert_array_equal(mv, tv)
    np.testing.assert_array_equal(mview, mv)  # the .data taken before saw the change


@pytest.mark.parametrize("method", [*BINARY, "copy_"])
def test_in_place_through_the_graph(reference, rng, method):
    """On a result of the graph: x's history now ends in the op, and the gradients are torch's (after
    copy_, x's old values get none: a's gradient is 0)."""
    a0, b0 = rng.standard_normal(3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)
    outs = []
    for lib in (torch, reference):
        a, b = lib.tensor(a0, requires_grad=True), lib.tensor(b0, requires_grad=True)
        x = a * 1
        getattr(x, method)(b)
        x.pow(2).sum().backward()
        outs.append((type(x.grad_fn).__name__, a.grad.tolist(), b.grad.tolist(), x._version))
    assert outs[1][0] == outs[0][0] and outs[1][3] == outs[0][3]
    np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(outs[1][2], outs[0][2], rtol=1e-6, atol=1e-6)


@FAST
@given(data=st.data())
def test_copy_values_and_gradient(reference, data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    src_shape = data.draw(into(shape))
    values = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-3, 3, width=32)))
    src = data.draw(hnp.arrays(np.float32, src_shape, elements=st.floats(-3, 3, width=32)))
    into_int = data.draw(st.booleans())
    outs = []
    for lib in (torch, reference):
        x = lib.tensor(values.astype(np.int64) if into_int else values)
        s = lib.tensor(src, requires_grad=not into_int)
        x.copy_(s)
        seen = [x.tolist(), str(x.dtype), x._version, x.requires_grad]
        if not into_int:
            assert type(x.grad_fn).__name__ == "CopyBackwards"
            (x * lib.tensor(values)).sum().backward()
            seen.append(s.grad.tolist())
        outs.append(seen)
    assert outs[1][:4] == outs[0][:4]
    if not into_int:  # summed back over the broadcast axes: numpy and torch add in different orders
        np.testing.assert_allclose(outs[1][4], outs[0][4], rtol=1e-6, atol=1e-6)


def test_copy_from_a_number(reference):
    outs = [lib.zeros(3).copy_(2.5).tolist() for lib in (torch, reference)]
    assert outs[1] == outs[0] == [2.5] * 3


@pytest.mark.parametrize("method", ["zero_", "fill_"])
@FAST
@given(values=arrays(), fill=st.floats(-5, 5, width=32))
def test_zero_and_fill_through_data(reference, method, values, fill):
    outs = []
    for lib in (torch, reference):
        x = lib.tensor(values, requires_grad=True)
        d = x.data
        returned = d.zero_() if method == "zero_" else d.fill_(fill)
        outs.append((x.tolist(), returned is d, x._version, d._version))
    assert outs[1] == outs[0]


STEPS = {
    "add_ on a leaf that requires grad": lambda lib: lib.ones(3, requires_grad=True).add_(1),
    "copy_ into a leaf that requires grad": lambda lib: lib.ones(3, requires_grad=True).copy_(lib.zeros(3)),
    "a float into an integer tensor": lambda lib: lib.tensor([1, 2]).add_(1.5),
    "div_ of an integer tensor": lambda lib: lib.tensor([1, 2]).div_(2),
    "an integer into a bool tensor": lambda lib: lib.tensor([True, False]).mul_(2),
    "a result wider than the tensor": lambda lib: lib.ones(3).add_(lib.ones(2, 3)),
    "copy_ from a wider tensor": lambda lib: lib.ones(3).copy_(lib.ones(2, 3)),
    "copy_ from a shape that does not broadcast": lambda lib: lib.ones(3).copy_(lib.ones(2)),
    "copy_ whose broadcast is wider than both": lambda lib: lib.ones(2, 1).copy_(lib.ones(3)),
    "masked_fill_ with a wider mask": lambda lib: lib.ones(3).masked_fill_(lib.ones(2, 3) > 0, 0.0),
    "sub_ of a bool tensor": lambda lib: lib.tensor([True]).sub_(lib.tensor([True])),
}


@pytest.mark.parametrize("name", STEPS)
def test_refusals_like_torch(reference, name):
    theirs = error_of(lambda: STEPS[name](torch))
    assert theirs is not None, "torch raises here: the test would compare nothing"
    assert error_of(lambda: STEPS[name](reference)) == theirs


def test_add_through_data_on_a_leaf_is_allowed(reference):
    """The classic SGD step: ``p.data.add_(-lr * p.grad)`` on a leaf that requires grad, outside no_grad."""
    outs = []
    for lib in (torch, reference):
        p = lib.tensor([1.0, -2.0], requires_grad=True)
        (p * p).sum().backward()
        p.data.add_(p.grad, alpha=-0.1)
        p.data -= 0.1 * p.grad.data
        outs.append((p.tolist(), p._version, p.requires_grad, p.is_leaf))
    assert outs[1] == outs[0]


@pytest.mark.parametrize("method", ["add_", "sub_"])
def test_alpha_through_the_graph_and_its_refusals(reference, rng, method):
    """``x.sub_(b, alpha=0.3)`` on a graph result: torch's node, and b's gradient scaled by alpha; an
    alpha the result's dtype cannot hold is refused in torch's words."""
    a0, b0 = rng.standard_normal(3).astype(np.float32), rng.standard_normal(1).astype(np.float32)
    outs = []
    for lib in (torch, reference):
        a, b = lib.tensor(a0, requires_grad=True), lib.tensor(b0, requires_grad=True)
        x = a * 1
        getattr(x, method)(b, alpha=0.3)
        (x * x).sum().backward()
        refusals = [error_of(lambda lib=lib: getattr(lib.tensor([1, 2]), method)(lib.tensor([1, 1]), alpha=1.5)),
                    error_of(lambda lib=lib: getattr(lib.tensor([1.0, 2.0]), method)(lib.tensor([1.0]), alpha=True))]
        outs.append((type(x.grad_fn).__name__, x.tolist(), a.grad.tolist(), b.grad.tolist(), refusals))
    assert all(outs[0][4]), "torch refuses both: the test would compare nothing"
    assert outs[1] == outs[0]
