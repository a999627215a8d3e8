"""torch's everyday surface beyond the tutorial, against torch on hypothesis-drawn inputs.

sqrt, abs, max/min/argmax/argmin, the views (T, t, transpose, view, reshape, flatten,
squeeze, unsqueeze), stack, cat, where, comparisons, nn.functional, tensor factories,
torch.autograd.grad and dtype promotion. Each case is one expression evaluated with torch and
with the reference engine: the outcome must match in values, dtype, shape, grad_fn name and
(for ops that copy values exactly) repr, then in every leaf's gradient after a backward pass
with a random upstream gradient; or both must raise the same error with the same text.
"""

import re
import warnings

import numpy as np
import pytest
import strategies as s
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FORWARD = {"rtol": 1e-5, "atol": 1e-6}
GRADIENT = {"rtol": 1e-4, "atol": 1e-5}
few = settings(max_examples=10, deadline=None)
some = settings(max_examples=20, deadline=None)

small_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
# few distinct values, so that max/min meet ties
tied = st.sampled_from([-1.0, 0.0, 0.5, 2.0]).map(np.float32)


def name_of(node):
    return None if node is None else type(node).__name__


def outcome(lib, expression, arrays, names="xyz"):
    """``(leaves, result)`` or ``(leaves, (error type name, message))`` of ``expression``."""
    leaves = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return leaves, eval(expression, {"lib": lib, **dict(zip(names, leaves))})
        except Exception as error:  # noqa: BLE001 - the error is the outcome compared
            return leaves, (type(error).__name__, str(error))


def assert_tensor_agrees(ours, theirs, what, tolerance=FORWARD, exact=False):
    assert ours.dtype == str(theirs.dtype), f"{what}: dtype {ours.dtype}, torch {theirs.dtype}"
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: shape {tuple(ours.shape)}, torch {theirs.shape}"
    assert name_of(ours.grad_fn) == name_of(theirs.grad_fn), (
        f"{what}: grad_fn {name_of(ours.grad_fn)}, torch {name_of(theirs.grad_fn)}")
    assert ours.requires_grad == theirs.requires_grad, f"{what}: requires_grad {ours.requires_grad}"
    if exact:
        assert repr(ours) == repr(theirs), f"{what}: repr\n{ours!r}\ntorch:\n{theirs!r}"
    np.testing.assert_allclose(ours._array, theirs.detach().numpy(), equal_nan=True, err_msg=what, **tolerance)


def compare(engine, expression, arrays, data, names="xyz", exact=True, tolerance=FORWARD):
    """Forward (or the error), then backward with a random upstream gradient on the first output."""
    theirs, their_out = outcome(torch, expression, arrays, names)
    ours, our_out = outcome(engine, expression, arrays, names)
    case = f"{expression} with " + ", ".join(f"{n}={a!r}" for n, a in zip(names, arrays))
    if isinstance(their_out, tuple) and isinstance(their_out[0], str):
        assert isinstance(our_out, tuple) and our_out == their_out, (
            f"{case}: torch raises {their_out}, the engine gives {our_out!r}")
        return
    assert not (isinstance(our_out, tuple) and isinstance(our_out[0], str)), f"{case}: the engine raised {our_out}"
    if isinstance(their_out, tuple):  # torch.return_types.max / min
        assert type(our_out).__name__ == type(their_out).__name__ and repr(our_out) == repr(their_out), case
        for field in ("values", "indices"):
            assert_tensor_agrees(getattr(our_out, field), getattr(their_out, field), f"{field} of {case}", exact=True)
        our_out, their_out = our_out.values, their_out.values
    assert_tensor_agrees(our_out, their_out, f"forward of {case}", tolerance, exact)
    if not their_out.requires_grad:
        return
    gradient = data.draw(s.arrays(tuple(their_out.shape)), label="upstream gradient")
    their_out.backward(torch.tensor(gradient))
    our_out.backward(engine.tensor(gradient))
    for name, mine, torchs in zip(names, ours, theirs):
        if torchs.grad is None:
            assert mine.grad is None, f"d/d{name} of {case}: torch has none, the engine {mine.grad!r}"
        else:
            np.testing.assert_allclose(mine.grad._array, torchs.grad.numpy(), err_msg=f"d/d{name} of {case}",
                                       **GRADIENT)
            assert mine.grad.dtype == str(torchs.grad.dtype)


# -- elementwise, with function and method forms -----------------------------------------------

@pytest.mark.parametrize("expression, domain, exact", [
    ("x.sqrt()", s.POSITIVE, False), ("lib.sqrt(x)", s.POSITIVE, False),
    ("x.abs()", s.REAL, True), ("lib.abs(x)", s.REAL, True), ("abs(x)", s.REAL, True),
    ("lib.nn.functional.relu(x)", s.REAL, True), ("lib.nn.functional.sigmoid(x)", s.REAL, False),
])
@few
@given(data=st.data())
def test_elementwise(reference, expression, domain, exact, data):
    x = data.draw(s.arrays(s.shapes, domain), label="x")
    compare(reference, expression, [x], data, exact=exact)


# -- max, min, argmax, argmin: ties on purpose -------------------------------------------------

MAX_MIN = ["x.max()", "x.min()", "lib.max(x)", "lib.min(x)", "x.argmax()", "x.argmin()",
           "x.max(d)", "x.min(d)", "x.max(dim=d, keepdim=True)", "lib.min(x, d, keepdim=True)", "lib.max(x, d)",
           "x.argmax(d)", "x.argmin(dim=d, keepdim=True)", "lib.argmax(x, d)", "x.max(d).values * 2"]


@pytest.mark.parametrize("expression", MAX_MIN)
@some
@given(data=st.data())
def test_max_min_with_ties(reference, expression, data):
    """Whole-tensor max/min share the gradient evenly among ties; along a dim, it goes to the
    returned index (and the bad dims give torch's IndexError)."""
    x = data.draw(hnp.arrays(np.float32, s.shapes, elements=tied), label="x")
    d = data.draw(st.integers(-x.ndim - 2, x.ndim + 1), label="d")
    compare(reference, expression.replace("(d)", f"({d})").replace("d,", f"{d},").replace("=d", f"={d}"), [x], data)


# -- views -------------------------------------------------------------------------------------

VIEWS = ["x.T", "x.t()", "lib.t(x)", "x.transpose(D, E)", "lib.transpose(x, D, E)", "x.T.T",
         "x.view(-1)", "x.view(SHAPE)", "x.reshape(SHAPE)", "lib.reshape(x, SHAPE)", "x.T.reshape(SHAPE)",
         "x.T.view(SHAPE)", "x.transpose(D, E).view(SHAPE)", "x.view(SHAPE).T",
         "x.flatten()", "lib.flatten(x)", "x.flatten(D)", "x.flatten(D, E)", "x.T.flatten()",
         "x.unsqueeze(D)", "lib.unsqueeze(x, E)", "x.squeeze()", "x.squeeze(D)", "lib.squeeze(x, (D, E))",
         "x.unsqueeze(D).squeeze(D)", "x.T.sin()"]


@st.composite
def view_case(draw):
    x = draw(s.arrays(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)))
    d, e = draw(st.integers(-x.ndim - 1, x.ndim)), draw(st.integers(-x.ndim - 1, x.ndim))
    sizes = [n for n in range(1, x.size + 1) if x.size % n == 0]
    shape = draw(st.one_of(
        st.lists(st.sampled_from(sizes), min_size=1, max_size=3),  # often not of x's size: torch's error
        st.sampled_from(sizes).map(lambda n: [n, -1]),
        st.sampled_from(sizes).map(lambda n: [-1, 1, n]),
        st.just([-1, -1])))
    return x, d, e, tuple(shape)


@pytest.mark.parametrize("expression", VIEWS)
@some
@given(case=view_case(), data=st.data())
def test_views(reference, expression, case, data):
    """Values, grad_fn (PermuteBackward0, TBackward0, ViewBackward0, UnsafeViewBackward0 after a
    transpose, ...), gradients; or torch's error for a bad dim, shape, or a view of a transposed tensor."""
    x, d, e, shape = case
    compare(reference, expression.replace("SHAPE", repr(shape)).replace("D", str(d)).replace("E", str(e)), [x], data)


@pytest.mark.parametrize("expression", ["x.permute(2, 0, 1)", "x.permute((1, 2, 0)).reshape(-1)",
                                        "x.permute(0, 2, 1).view(-1)", "x.permute(0, 1)", "x.permute(0, 0, 1)"])
@few
@given(x=s.arrays(hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=3)), data=st.data())
def test_permute(reference, expression, x, data):
    """A cyclic order is not its own inverse: the gradient must go back through the inverse."""
    compare(reference, expression, [x], data)


def test_view_is_a_view_and_flatten_of_1d_is_the_tensor_itself(reference):
    for lib in (torch, reference):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        assert y.flatten() is y
        with warnings.catch_warnings(record=True) as caught:  # torch warns once a process
            warnings.simplefilter("always")
            assert lib.tensor(5.0).T.grad_fn is None
        assert lib is torch or "Tensor.T is deprecated on 0-D tensors" in str(caught[0].message)


# -- joining: stack, cat; choosing: where; comparisons ---------------------------------------

@st.composite
def joinable(draw):
    shape = draw(small_shapes)
    dim = draw(st.integers(0, len(shape) - 1))
    other = list(shape)
    other[dim] = draw(st.integers(1, 3))
    return draw(s.arrays(shape)), draw(s.arrays(tuple(other))), draw(st.integers(-len(shape) - 2, len(shape) + 1))


@pytest.mark.parametrize("expression", ["lib.stack([x, y], d)", "lib.stack([x, x, y], dim=d)", "lib.stack([x])",
                                        "lib.cat([x, y], d)", "lib.cat((y, x, y), dim=d)", "lib.cat([x])",
                                        "lib.cat([x, y])", "lib.stack([x, y.sin()])"])
@some
@given(case=joinable(), data=st.data())
def test_stack_and_cat(reference, expression, case, data):
    """Gradients cut back to each input; shapes that do not fit, or a bad dim: torch's error."""
    x, y, d = case
    compare(reference, expression.replace("d)", f"{d})"), [x, y], data)


@pytest.mark.parametrize("expression", ["lib.where(x > 0, x, y)", "lib.where(x > y, x, 0.5)",
                                        "lib.where(y <= 0, 2, x * y)", "lib.where(x != 0, x, y) * 2"])
@some
@given(data=st.data())
def test_where(reference, expression, data):
    x, y = data.draw(s.broadcast_pair((s.REAL, s.REAL)), label="x, y")
    compare(reference, expression, [x, y], data)


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
@few
@given(data=st.data())
def test_comparisons_are_bool_tensors_without_grad(reference, op, data):
    equal_shapes = s.shapes.flatmap(lambda shape: st.tuples(*[hnp.arrays(np.float32, shape, elements=tied)] * 2))
    x, y = data.draw(st.one_of(s.broadcast_pair((s.REAL, s.REAL)), equal_shapes), label="x, y")
    compare(reference, f"x {op} y", [x, y], data)
    compare(reference, f"x {op} 0.5", [x], data)


def test_comparing_with_none_is_plain_python(reference):
    for lib in (torch, reference):
        x = lib.tensor([1.0, 2.0])
        assert (x == None) is False and (x != None) is True  # noqa: E711 - what is tested
        with pytest.raises(TypeError, match="'<' not supported between instances of 'Tensor' and 'NoneType'"):
            x < None  # noqa: B015


def test_shapes_that_do_not_broadcast_raise_torchs_error(reference):
    for expression in ["x < y", "lib.where(x > 0, x, y)", "lib.stack([x, y])", "lib.cat([x, y], 1)",
                       "lib.cat([x, x[0]])", "lib.cat([])", "lib.stack([])", "lib.cat([x[0, 0], x[0, 0]])",
                       "lib.where(x, x, 0.)", "x.flatten(1, 0)", "x.unsqueeze(0).t()", "lib.tensor([]).max()",
                       "lib.tensor([[]]).max(1)"]:
        x, y = np.ones((2, 3), np.float32), np.ones((4,), np.float32)
        theirs, ours = outcome(torch, expression, [x, y])[1], outcome(reference, expression, [x, y])[1]
        assert isinstance(theirs[0], str) and ours == theirs, f"{expression}: torch {theirs}, engine {ours!r}"


# -- nn.functional losses ------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@few
@given(data=st.data())
def test_mse_loss(reference, reduction, data):
    x = data.draw(s.arrays(s.shapes), label="x")
    y = data.draw(s.arrays(x.shape), label="y")
    compare(reference, f"lib.nn.functional.mse_loss(x, y, reduction={reduction!r})", [x, y], data, exact=False)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@few
@given(data=st.data())
def test_binary_cross_entropy(reference, reduction, data):
    shape = data.draw(s.shapes, label="shape")
    x = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(0.0625, 0.9375, width=32)), label="x")
    y = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(0, 1, width=32)), label="y")
    compare(reference, f"lib.nn.functional.binary_cross_entropy(x, y, reduction={reduction!r})", [x, y], data,
            exact=False)


def test_binary_cross_entropy_clamps_the_log_at_minus_100(reference):
    """x = 0 with target 1 (and x = 1 with target 0) cost 100 each, not inf, as in torch."""
    x, y = np.array([0.0, 1.0, 0.5], np.float32), np.array([1.0, 0.0, 1.0], np.float32)
    for reduction in ("none", "sum"):
        theirs = torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.tensor(y), reduction=reduction)
        ours = reference.nn.functional.binary_cross_entropy(reference.tensor(x), reference.tensor(y),
                                                            reduction=reduction)
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours._array, theirs.numpy(), rtol=1e-6)


def test_loss_misuses_raise_torchs_errors(reference):
    x = np.full((2, 3), 0.5, np.float32)
    for expression in ["lib.nn.functional.mse_loss(x, x, reduction='bad')",
                       "lib.nn.functional.binary_cross_entropy(x * 4, x)",
                       "lib.nn.functional.binary_cross_entropy(x, x[0])"]:
        theirs, ours = outcome(torch, expression, [x])[1], outcome(reference, expression, [x])[1]
        assert isinstance(theirs[0], str) and ours == theirs, f"{expression}: torch {theirs}, engine {ours!r}"
    with pytest.warns(UserWarning, match=r"Using a target size \(torch.Size\(\[3\]\)\) that is different"):
        reference.nn.functional.mse_loss(reference.tensor(x), reference.tensor(x[0]))


# -- making tensors ------------------------------------------------------------------------------

@few
@given(shape=st.lists(st.integers(0, 4), max_size=3), requires_grad=st.booleans())
def test_factories_give_torchs_dtype_shape_and_requires_grad(reference, shape, requires_grad):
    splat = "*shape" if shape else "shape"  # torch.randn() without a size is an error
    for expression in [f"lib.randn({splat}, requires_grad=g)", "lib.rand(shape, requires_grad=g)",
                       "lib.zeros(shape, requires_grad=g)", f"lib.ones({splat}, requires_grad=g)",
                       "lib.zeros_like(lib.ones(shape), requires_grad=g)", "lib.ones_like(lib.zeros(shape))",
                       "lib.zeros_like(lib.tensor([1, 2]))", "lib.rand(shape, dtype=lib.float64)"]:
        namespace = {"shape": tuple(shape), "g": requires_grad}
        theirs = eval(expression, {"lib": torch, **namespace})
        ours = eval(expression, {"lib": reference, **namespace})
        assert (ours.dtype, tuple(ours.shape), ours.requires_grad, ours.is_leaf) == (
            str(theirs.dtype), tuple(theirs.shape), theirs.requires_grad, theirs.is_leaf), expression


def test_random_tensors_repeat_under_manual_seed(reference):
    reference.manual_seed(7)
    a, b = reference.randn(3, 4), reference.rand(5)
    reference.manual_seed(7)
    assert (reference.randn(3, 4)._array == a._array).all() and (reference.rand(5)._array == b._array).all()
    reference.manual_seed(8)
    assert not (reference.randn(3, 4)._array == a._array).all()
    assert ((0 <= b._array) & (b._array < 1)).all()
    big = reference.randn(20000)._array
    assert abs(big.mean()) < 0.05 and abs(big.std() - 1) < 0.05


@some
@given(start=st.integers(-5, 5) | st.floats(-5, 5), length=st.integers(-2, 12),
       step=st.sampled_from([1, 2, -1, 0.5, 0.25, 0.1, -0.3, 3]), steps=st.integers(0, 12))
def test_arange_and_linspace(reference, start, length, step, steps):
    """dtype (int64 from whole numbers, float32 otherwise) and length exact; values within float32."""
    for expression in [f"lib.arange({start!r}, {start + length * step!r}, {step!r})", f"lib.arange({length})",
                       f"lib.linspace({start!r}, {start + length!r}, {steps})", f"lib.arange({start!r})"]:
        try:
            theirs = eval(expression, {"lib": torch})
        except RuntimeError as error:
            with pytest.raises(RuntimeError, match=re.escape(str(error))):
                eval(expression, {"lib": reference})
            continue
        ours = eval(expression, {"lib": reference})
        assert ours.dtype == str(theirs.dtype) and tuple(ours.shape) == tuple(theirs.shape), expression
        np.testing.assert_allclose(ours._array, theirs.numpy(), rtol=1e-6, atol=1e-5, err_msg=expression)


# -- dtype promotion -----------------------------------------------------------------------------

DTYPES = ["bool", "int64", "int32", "float32", "float64"]
OTHERS = ["True", "2", "2.5", "-1", "0-d bool", "0-d int64", "0-d float64", "0-d float32",
          "1-d bool", "1-d int64", "1-d int32", "1-d float32", "1-d float64"]


def operand(lib, text):
    if " " not in text:
        return eval(text)
    rank, dtype = text.split(" ")
    value = np.array(1 if dtype != "bool" else True, dtype=dtype)
    return lib.tensor(value if rank == "0-d" else np.stack([value, value]))


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "<", "==", "**"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_promotion_table(reference, dtype, op):
    """Every (tensor dtype, other operand) pair gives torch's dtype, or torch's refusal."""
    for rank in ("0-d", "1-d"):
        for other in OTHERS:
            results = []
            for lib in (torch, reference):
                operands = {"x": operand(lib, f"{rank} {dtype}"), "y": operand(lib, other)}
                try:
                    results.append(eval(f"x {op} y", operands))
                except Exception as error:  # noqa: BLE001 - both must refuse
                    results.append(error)
            theirs, ours = results
            case = f"{rank} {dtype} {op} {other}"
            if isinstance(theirs, Exception):
                assert isinstance(ours, Exception), f"{case}: torch raises {theirs!r}, the engine gives {ours!r}"
                continue
            assert not isinstance(ours, Exception), f"{case}: the engine raised {ours!r}"
            assert (ours.dtype, tuple(ours.shape)) == (str(theirs.dtype), tuple(theirs.shape)), case
            np.testing.assert_allclose(ours._array, theirs.numpy(), rtol=1e-6, err_msg=case)
            reversed_ = [eval(f"y {op} x", {"x": operand(lib, f"{rank} {dtype}"), "y": operand(lib, other)})
                         for lib in (torch, reference)] if op in "+*==" and other[0].isdigit() is False else []
            if reversed_:
                assert reversed_[1].dtype == str(reversed_[0].dtype), f"reversed {case}"


def test_promotion_in_the_tutorials_words(reference):
    assert reference.tensor(1) * 2.5 == 2.5 and (reference.tensor(1) * 2.5).dtype == reference.float32
    assert (reference.tensor([1, 2]) * reference.tensor([3, 4])).dtype == reference.int64
    assert (reference.tensor([1.0]) * 2).dtype == reference.float32
    assert (reference.tensor([True]) + 1).dtype == reference.int64


def test_a_promoted_leaf_still_gets_its_gradient_in_its_own_dtype(reference):
    for lib in (torch, reference):
        x = lib.tensor([1.5, 2.0], requires_grad=True)
        y = x * lib.tensor([2.0, 3.0], dtype=lib.float64)
        assert y.dtype == lib.float64
        y.sum().backward()
        assert x.grad.dtype == lib.float32 and x.grad.tolist() == [2.0, 3.0]


# -- torch.autograd.grad -------------------------------------------------------------------------

def graph(lib, a, b):
    h = a * b
    return h, (h.sin() + a ** 2).sum() * 0.5


@few
@given(pair=s.broadcast_pair((s.REAL, s.REAL)))
def test_autograd_grad_returns_gradients_and_leaves_grad_alone(reference, pair):
    found = []
    for lib in (torch, reference):
        a, b = (lib.tensor(v, requires_grad=True) for v in pair)
        h, out = graph(lib, a, b)
        first = lib.autograd.grad(out, [a, b, h], retain_graph=True)
        assert a.grad is None and b.grad is None  # nothing accumulated into the leaves
        second = lib.autograd.grad([out], (b,))  # the graph was kept: a second pass works, then frees it
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            lib.autograd.grad(out, a)
        assert isinstance(first, tuple) and isinstance(second, tuple)
        found.append([g.detach().numpy() for g in first + second])
    for ours, theirs in zip(found[1], found[0]):
        np.testing.assert_allclose(ours, theirs, **GRADIENT)


def test_autograd_grad_options_and_errors(reference):
    results = []
    for lib in (torch, reference):
        x = lib.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
        unused = lib.tensor(1.0, requires_grad=True)
        (x * 3).sum().backward()
        before = x.grad.tolist()
        y = x.sin() * 2
        row = []
        row.append(lib.autograd.grad(y, x, grad_outputs=lib.ones(2, 2) * 0.5, retain_graph=True)[0].tolist())
        row.append(lib.autograd.grad(y.sum(), [x, unused], allow_unused=True, retain_graph=True)[1])
        row.append(lib.autograd.grad(y, y, grad_outputs=lib.ones(2, 2), retain_graph=True)[0].tolist())
        assert x.grad.tolist() == before
        for misuse in ("lib.autograd.grad(y, x)", "lib.autograd.grad(y.sum(), lib.ones(2))",
                       "lib.autograd.grad(lib.ones(2), x)", "lib.autograd.grad(y.sum(), [x, unused])",
                       "lib.autograd.grad(y, x, grad_outputs=lib.ones(3))"):
            with pytest.raises(RuntimeError) as error:
                eval(misuse, {"lib": lib, "x": x, "y": y, "unused": unused})
            row.append(str(error.value))
        results.append(row)
    ours, theirs = results[1], results[0]
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    assert ours[1] is None and theirs[1] is None
    assert ours[2:] == theirs[2:]


# -- Pow is rounded as torch rounds it: a long chain agrees to the last bit -----------------------

@pytest.mark.parametrize("x0", [4.0, 2.0, 0.5, 1.3])
def test_long_pow_chain_agrees_with_torch_bit_for_bit(reference, x0):
    """Notebook 02, exercise 4: y = x ** 1.0001 five thousand times (then sin, and the
    powers torch multiplies out): each step rounded once, as torch does, so no drift."""
    ys, grads = [], []
    for lib in (torch, reference):
        x = lib.tensor(x0, requires_grad=True)
        y = x
        for _ in range(5000):
            y = y ** 1.0001
        y = lib.sin(y) ** 3 + y ** -2 + y ** 2 + y ** 0.7
        y.backward()
        ys.append(y.item())
        grads.append(x.grad.item())
    ulps = abs(int(np.float32(ys[0]).view(np.int32)) - int(np.float32(ys[1]).view(np.int32)))
    assert ulps <= 1, f"x = {x0}: torch {ys[0]!r}, engine {ys[1]!r} ({ulps} ulp apart)"
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4)


@few
@given(x=s.arrays(s.shapes, s.POSITIVE), exponent=st.sampled_from([2, 3, -2, -1, 0.5, 1.5, 1.0001, 2.5, -0.3]))
def test_pow_forward_within_one_ulp(reference, x, exponent):
    theirs = (torch.tensor(x) ** exponent).numpy()
    ours = (reference.tensor(x) ** exponent)._array
    assert ours.dtype == theirs.dtype
    assert np.abs(ours.view(np.int32).astype(np.int64) - theirs.view(np.int32)).max(initial=0) <= 1


# -- the learner's release has all of it too ---------------------------------------------------

def test_learner_engine_has_the_surface():
    from autograder.learner.engines import COURSE, load_learner_release
    if not (COURSE / "tinygrad_course" / "more_ops.py").is_file():
        pytest.skip("course/ has not been generated yet")
    lib = load_learner_release()
    x = lib.tensor([[1.0, 5.0], [3.0, 2.0]])
    assert repr(x.max(1)) == repr(torch.tensor([[1.0, 5.0], [3.0, 2.0]]).max(1))
    assert lib.stack([x, x.T]).shape == (2, 2, 2) and lib.nn.functional.relu(x - 2).tolist() == [[0, 3], [1, 0]]
    assert callable(lib.autograd.grad) and (lib.tensor(1) * 2.5).dtype == lib.float32


# -- conversions -------------------------------------------------------------------------------

CONVERSIONS = ["x.double()", "x.to(lib.float64)", "x.double().float()", "x.to('cpu')", "x.to(lib.float32)",
               "x.long()", "x.int()", "x.to(lib.int64)", "x.to('cpu', lib.float64)", "x.to(dtype=lib.float64) * 2",
               "x.to(x.double())", "x.to('cuda')", "x.to(lib.float32, copy=True)", "x.double().sin().float()",
               "lib.tensor([1, 2]).double()", "x.to(lib.bool)", "(x * 2).to(lib.float64).sum()"]


@pytest.mark.parametrize("expression", CONVERSIONS)
@few
@given(x=s.arrays(s.shapes), data=st.data())
def test_conversions(reference, expression, x, data):
    """ToCopyBackward0 to a float dtype, off the graph to an integer one; the gradient comes back in the
    leaf's own dtype; a device other than the CPU: torch's error."""
    compare(reference, expression, [x], data)


def test_to_the_same_dtype_is_the_tensor_itself(reference):
    for lib in (torch, reference):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        assert x.to(lib.float32) is x and x.float() is x and x.to("cpu") is x and x.to(lib.float32, copy=True) is not x


# -- expand and repeat ---------------------------------------------------------------------------

@st.composite
def sizes_for(draw, x, minus_one):
    """Sizes for expand/repeat: often fitting x, sometimes not (torch's errors)."""
    extra = draw(st.lists(st.integers(1, 3), max_size=2))
    own = [draw(st.sampled_from([n, 2 * n, -1 if minus_one else n, 1, 3])) for n in x.shape]
    return tuple(extra + own) if draw(st.booleans()) else tuple(own[1:] or [-2])


@pytest.mark.parametrize("expression", ["x.expand(SIZES)", "x.expand(*SIZES)", "x.repeat(SIZES)", "x.repeat(*SIZES)",
                                        "x.expand(SIZES).sin()", "x.unsqueeze(0).expand(2, *x.shape)",
                                        "x.repeat(SIZES).sum(0)"])
@some
@given(x=s.arrays(s.nonscalar_shapes), data=st.data())
def test_expand_and_repeat(reference, expression, x, data):
    """ExpandBackward0 and RepeatBackward0 add the copies' gradients back up."""
    sizes = data.draw(sizes_for(x, minus_one="expand" in expression), label="sizes")
    compare(reference, expression.replace("SIZES", repr(sizes)), [x], data)


# -- reductions beyond sum and mean --------------------------------------------------------------

REDUCTIONS = ["x.var()", "x.std()", "x.var(d)", "x.std(d, keepdim=True)", "x.var(unbiased=False)",
              "x.std(d, correction=0)", "lib.var(x, d)", "x.var(False)", "lib.std(x)", "x.var(correction=2)",
              "x.prod()", "x.prod(d)", "lib.prod(x, d, keepdim=True)", "x.cumsum(d)", "lib.cumsum(x, dim=d)",
              "x.norm()", "x.norm(p=1)", "x.norm(dim=d)", "lib.norm(x, 3, d, True)", "x.norm(p=float('inf'))",
              "x.detach().norm(p=0)", "x.norm(dim=d, p=-float('inf'))", "x.long().prod()", "x.long().cumsum(d)",
              "x.long().var()", "x.long().norm()", "x.prod(d, dtype=lib.float64)"]


@pytest.mark.parametrize("expression", REDUCTIONS)
@some
@given(data=st.data())
def test_reductions(reference, expression, data):
    """var/std (with unbiased or correction; a single value: nan, as torch), prod (zeros included),
    cumsum, norm for several p; integer inputs: torch's dtype or its error. (p=0's gradient is left out:
    torch sends none, the engine zeros.)"""
    if "var" in expression or "std" in expression:
        # values all equal: torch's float32 sums leave a std of about 1e-7 and a gradient of
        # ±1/sqrt(n(n-1)), a rounding artifact; the engine's exact mean gives 0 there. Distinct values,
        # none below 1e-3 but 0: a spread of subnormals squares to 0 in torch's float32 (std 0, gradient
        # nan and inf), while the engine gives the gradient these values have at any scale.
        spread = st.floats(-3, 3, width=32).map(lambda v: np.float32(0) if abs(v) < 1e-3 else v)
        x = data.draw(hnp.arrays(np.float32, s.shapes, elements=spread, unique=True), label="x")
    else:
        x = data.draw(st.one_of(s.arrays(s.shapes), hnp.arrays(np.float32, s.shapes, elements=tied)), label="x")
        x = np.where(np.abs(x) < 1e-3, np.float32(0), x)  # (|x|^3 of a tiny x underflows float32: rounding)
    d = data.draw(st.integers(-x.ndim - 1, x.ndim), label="d")
    compare(reference, expression.replace("d)", f"{d})").replace("d,", f"{d},").replace("=d", f"={d}"), [x], data,
            exact=False)


@pytest.mark.parametrize("expression", ["x.sort()", "x.sort(d)", "x.sort(d, descending=True)", "lib.sort(x, d)",
                                        "x.sort(dim=d, stable=True).values * 2"])
@some
@given(data=st.data())
def test_sort_with_ties(reference, expression, data):
    """Values and indices as torch's (ties keep their order); each gradient goes back to its place."""
    x = data.draw(hnp.arrays(np.float32, s.shapes, elements=tied), label="x")
    d = data.draw(st.integers(-x.ndim - 1, x.ndim), label="d")
    compare(reference, expression.replace("d)", f"{d})").replace("d,", f"{d},").replace("=d", f"={d}"), [x], data)


# -- masked_fill, clone -------------------------------------------------------------------------

@pytest.mark.parametrize("expression", ["x.masked_fill(x > 0, 0.5)", "x.masked_fill(y > 0, -1)",
                                        "lib.masked_fill(x, y <= 0, 2)", "x.masked_fill(x > 0, lib.tensor(2.0))",
                                        "x.masked_fill(x, 0.0)", "x.masked_fill((x > 0).long(), 0.0)",
                                        "x.masked_fill(x > 0, y)", "x.clone()", "x.clone() * y", "lib.clone(x)",
                                        "(x * 1).masked_fill_(y > 0, 3.0)"])
@some
@given(data=st.data())
def test_masked_fill_and_clone(reference, expression, data):
    x, y = data.draw(s.broadcast_pair((s.REAL, s.REAL)), label="x, y")
    compare(reference, expression, [x, y], data)


# -- isclose, allclose, equal --------------------------------------------------------------------

@pytest.mark.parametrize("expression", ["lib.isclose(x, y)", "lib.allclose(x, y)", "lib.equal(x, y)",
                                        "x.allclose(x + 1e-6)", "lib.isclose(x, y, atol=0.5)",
                                        "lib.allclose(x, y, rtol=0.5, atol=0.1)", "lib.equal(x, x * 1)",
                                        "lib.allclose(x, x.long())", "lib.equal(x, x.long())",
                                        "lib.isclose(x, x.double())", "x.isclose(y).sum()", "x.equal(y)"])
@some
@given(data=st.data())
def test_closeness(reference, expression, data):
    x, y = data.draw(st.one_of(s.broadcast_pair((s.REAL, s.REAL)),
                               s.shapes.flatmap(lambda shape: st.tuples(*[hnp.arrays(np.float32, shape, elements=tied)]
                                                                        * 2))), label="x, y")
    theirs, ours = outcome(torch, expression, [x, y])[1], outcome(reference, expression, [x, y])[1]
    if isinstance(theirs, torch.Tensor):
        assert ours.dtype == str(theirs.dtype) and ours.tolist() == theirs.tolist(), expression
    else:
        assert ours == theirs, f"{expression}: torch {theirs!r}, engine {ours!r}"


# -- item assignment, version counts, and a tensor's detach() sharing its memory -------------------

SETITEM = [
    "y = x * 2; y[0] = 5.0; out = y",
    "z = lib.zeros(3, 2); z[1:] = x[:2]; out = z",
    "x[0] = 1.0; out = x",
    "d = x.detach(); d[0] = 7.0; out = x * 1",
    "d = x.detach(); d[1, 1] = -1.0; out = x.sin()",
    "with lib.no_grad():\n    x[1] = 0.0\nout = x * x",
    "y = x * 1; y[:, 0] = x[:, 1] ** 2; out = y",
    "y = x.exp(); y[0] = 1.0; out = y",
    "y = x.exp(); out = y * 2; y[0] = 1.0",
    "y = x * 1; y[0] = lib.ones(3); out = y",
    "y = x * 1; y[x > 0] = 0.0; out = y",
    "y = x * 1; y[lib.tensor([0, 2])] = x[1]; out = y.sum(0)",
    "y = x.detach(); y[0] = lib.tensor([1, 2]); out = y",
]


@pytest.mark.parametrize("script", SETITEM)
@few
@given(x=s.arrays((3, 2)), data=st.data())
def test_item_assignment(reference, script, x, data):
    """``t[i] = v`` records CopySlices; it counts as an in-place change (so backward refuses a saved
    value it overwrote); through ``detach()`` it changes the original's values too; on a leaf that
    requires grad: torch's error."""
    found = []
    for lib in (torch, reference):
        leaf = lib.tensor(x.copy(), requires_grad=True)
        names = {"lib": lib, "x": leaf}
        try:
            exec(script, names)
            out = names["out"]
            gradient = np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(tuple(out.shape))
            if out.requires_grad:
                out.backward(lib.tensor(gradient))
            found.append((out, leaf.detach().numpy().copy(), leaf._version, leaf.grad))
        except Exception as error:  # noqa: BLE001 - the error is what is compared
            found.append((type(error).__name__, str(error)))
    theirs, ours = found
    if isinstance(theirs[0], str):
        assert ours == theirs, f"{script}: torch raises {theirs}, the engine gives {ours!r}"
        return
    assert not isinstance(ours[0], str), f"{script}: the engine raised {ours}"
    assert_tensor_agrees(ours[0], theirs[0], script)
    np.testing.assert_array_equal(ours[1], theirs[1], err_msg=f"{script}: the leaf's values")
    assert ours[2] == theirs[2], f"{script}: leaf version {ours[2]}, torch {theirs[2]}"
    if theirs[3] is None:
        assert ours[3] is None, script
    else:
        np.testing.assert_allclose(ours[3]._array, theirs[3].numpy(), err_msg=script, **GRADIENT)
