"""torch idioms learners type right after the course, against torch computed in the test.

Loss target checks (binary_cross_entropy's dtype, cross_entropy / nll_loss targets and class
probabilities), nn.Linear's dtype refusal, the elementwise max/min (ties included),
``torch.autograd.Function`` written once and run on both libraries, and everyday API
(module functions, constants, conversions, loss modules). Each case is a program over ``lib``
(torch or the engine): values, dtype, shape, grad_fn name and gradients must agree, or both must
raise the same error type and text, and warn the same.
"""

import textwrap
import warnings

import numpy as np
import pytest
import strategies as s
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

few = settings(max_examples=15, deadline=None)
VALUES = {"rtol": 1e-5, "atol": 1e-6}
GRADIENTS = {"rtol": 1e-4, "atol": 1e-5}


def run(lib, program, **arrays):
    """Run ``program`` with ``lib`` and a leaf per array (requires_grad for float ones); returns the
    leaves, the value named ``result`` (or the error's type and text) and the warnings' texts."""
    leaves = {name: lib.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for name, a in arrays.items()}
    namespace = {"lib": lib, "F": lib.nn.functional, "np": np, **leaves}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(textwrap.dedent(program), namespace)
            result = namespace.get("result")
        except Exception as error:  # noqa: BLE001 - the error is the outcome compared
            result = (type(error).__name__, str(error))
    return leaves, result, [(w.category.__name__, str(w.message)) for w in caught]


def node_name(t):
    return None if t.grad_fn is None else type(t.grad_fn).__name__


def assert_same(ours, theirs, what, tolerance=VALUES):
    """Tensors (or Python values) alike in dtype, shape, grad_fn, requires_grad and values."""
    if not isinstance(theirs, torch.Tensor):
        assert ours == theirs and type(ours) is type(theirs), f"{what}: {ours!r}, torch {theirs!r}"
        return
    assert ours.dtype == str(theirs.dtype), f"{what}: dtype {ours.dtype}, torch {theirs.dtype}"
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: shape {tuple(ours.shape)}, torch {tuple(theirs.shape)}"
    assert node_name(ours) == node_name(theirs), f"{what}: grad_fn {node_name(ours)}, torch {node_name(theirs)}"
    assert ours.requires_grad == theirs.requires_grad, f"{what}: requires_grad"
    np.testing.assert_allclose(ours._array, theirs.detach().numpy(), equal_nan=True, err_msg=what, **tolerance)


def compare(engine, program, expect_error=False, backward=True, tolerance=VALUES, **arrays):
    """The program's result, warnings and (after ``result.sum().backward()``) every leaf's gradient."""
    their_leaves, theirs, their_warnings = run(torch, program, **arrays)
    our_leaves, ours, our_warnings = run(engine, program, **arrays)
    case = f"{textwrap.dedent(program).strip()}\nwith {arrays}"
    assert our_warnings == their_warnings, case
    assert isinstance(theirs, tuple) == expect_error, f"{case}: torch gave {theirs!r}"  # the case is what it claims
    if isinstance(theirs, tuple):
        assert ours == theirs, f"{case}: torch raises {theirs}, the engine {ours!r}"
        return
    assert not isinstance(ours, tuple), f"{case}: the engine raised {ours}"
    assert_same(ours, theirs, case, tolerance)
    if backward and isinstance(theirs, torch.Tensor) and theirs.requires_grad:
        theirs.sum().backward()
        ours.sum().backward()
        for name, leaf in their_leaves.items():
            mine = our_leaves[name]
            if leaf.grad is None:
                assert mine.grad is None, f"d/d{name} of {case}: torch has none"
            else:
                np.testing.assert_allclose(mine.grad._array, leaf.grad.numpy(), err_msg=f"d/d{name} of {case}",
                                           **GRADIENTS)


probabilities = st.floats(0.0625, 0.9375, width=32)


# -- A4: binary_cross_entropy takes a target of the input's dtype only --------------------------

@pytest.mark.parametrize("target_dtype", ["int64", "int32", "float64", "float16", "bool"])
@pytest.mark.parametrize("call", ["F.binary_cross_entropy(p, t)", "lib.nn.BCELoss()(p, t)"])
def test_binary_cross_entropy_refuses_a_target_of_another_dtype(reference, call, target_dtype):
    p = np.array([0.3, 0.8], np.float32)
    compare(reference, f"t = lib.tensor([1, 0]).to(lib.{target_dtype})\nresult = {call}", expect_error=True, p=p)


def test_binary_cross_entropy_float64_input_refuses_float32_target(reference):
    p = np.array([0.3, 0.8], np.float64)
    compare(reference, "result = F.binary_cross_entropy(p, lib.tensor([1., 0.]))", expect_error=True, p=p)


@pytest.mark.parametrize("target_dtype", ["int64", "int32", "float64", "float16", "bool"])
def test_mse_loss_takes_a_target_of_another_dtype(reference, target_dtype):
    p = np.array([0.3, 0.8], np.float32)
    compare(reference, f"result = F.mse_loss(p, lib.tensor([1, 0]).to(lib.{target_dtype}))", p=p)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_mse_loss_of_two_integer_tensors_is_refused(reference, dtype):
    compare(reference, f"a = lib.tensor([1, 0]).to(lib.{dtype})\nresult = F.mse_loss(a, a)", expect_error=True)


# -- B6/B7/A19/B22: cross_entropy and nll_loss targets -------------------------------------------

TARGETS = {
    "an (N, 1) target": "lib.tensor([[0], [2]])",
    "an (N, 1, 1) target": "lib.tensor([[[0]], [[2]]])",
    "float class indices": "lib.tensor([0., 2.])",
    "float64 class indices": "lib.tensor([0., 2.], dtype=lib.float64)",
    "int32 class indices": "lib.tensor([0, 2], dtype=lib.int32)",
    "int16 class indices": "lib.tensor([0, 2], dtype=lib.int16)",
    "bool class indices": "lib.tensor([True, False])",
    "a 0-d target for a batch": "lib.tensor(1)",
    "a target one too long": "lib.tensor([0, 1, 2])",
    "float indices one too long": "lib.tensor([0., 1., 2.])",
    "integer probabilities": "lib.tensor([[0, 1, 0], [1, 0, 0]])",
    "bool probabilities": "lib.ones(2, 3, dtype=lib.bool)",
    "probabilities of another width": "lib.rand(2, 4)",
    "a list": "[0, 2]",
}


@pytest.mark.parametrize("loss", ["F.cross_entropy", "F.nll_loss", "lib.nn.CrossEntropyLoss()"])
@pytest.mark.parametrize("target", TARGETS.values(), ids=TARGETS.keys())
def test_class_targets_are_checked_as_torch_checks_them(reference, loss, target):
    x = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, -0.3]], np.float32)
    their_leaves, theirs, _ = run(torch, f"result = {loss}(x, {target})", x=x)
    ours = run(reference, f"result = {loss}(x, {target})", x=x)[1]
    assert isinstance(theirs, tuple) or target.startswith("lib.rand"), theirs  # an error in torch (bar soft)
    if isinstance(theirs, tuple):
        assert ours == theirs


ONE_SAMPLE_TARGETS = ["lib.tensor(2)", "lib.tensor([2])", "lib.tensor([0, 1])", "lib.tensor([[1]])",
                      "lib.tensor(2.)", "lib.tensor(2, dtype=lib.int32)", "lib.tensor(2, dtype=lib.uint8)"]


@pytest.mark.parametrize("loss", ["F.cross_entropy", "F.nll_loss"])
@pytest.mark.parametrize("target", ONE_SAMPLE_TARGETS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_one_sample_of_class_scores(reference, loss, target, reduction):
    x = np.array([0.5, -1.0, 2.0], np.float32)
    their = run(torch, f"result = {loss}(x, {target}, reduction={reduction!r})", x=x)[1]
    # (torch's backward refuses the (1,) target it took in forward: "size mismatch (got input: [3], target: [1])")
    compare(reference, f"result = {loss}(x, {target}, reduction={reduction!r})", expect_error=isinstance(their, tuple),
            backward=target != "lib.tensor([2])", x=x)


def test_uint8_class_indices_are_taken(reference):
    x = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, -0.3]], np.float32)
    compare(reference, "result = F.cross_entropy(x, lib.tensor([2, 0], dtype=lib.uint8))", x=x)


def test_nll_loss_of_a_0d_input(reference):
    compare(reference, "result = F.nll_loss(lib.tensor(1.), lib.tensor(0))", expect_error=True)


@few
@given(data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]),
       target_dtype=st.sampled_from(["float32", "float64"]), batched=st.booleans())
def test_cross_entropy_with_class_probabilities(reference, data, reduction, target_dtype, batched):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=4) if batched else
                      hnp.array_shapes(min_dims=1, max_dims=1, min_side=1, max_side=5), label="shape")
    x = data.draw(s.arrays(shape), label="logits")
    p = data.draw(hnp.arrays(np.float32, shape, elements=probabilities), label="target").astype(target_dtype)
    compare(reference, f"result = F.cross_entropy(x, p, reduction={reduction!r})", x=x, p=p)
    compare(reference, f"result = lib.nn.CrossEntropyLoss(reduction={reduction!r})(x, p)", x=x, p=p)


def test_cross_entropy_with_probabilities_refuses_a_bad_reduction(reference):
    x = np.zeros((2, 3), np.float32)
    compare(reference, "result = F.cross_entropy(x, lib.softmax(lib.ones(2, 3), 1), reduction='avg')",
            expect_error=True, x=x)


# -- A3: nn.Linear converts no dtype ---------------------------------------------------------------

DTYPE_PAIRS = [("float64", "float32"), ("int64", "float32"), ("int32", "float32"), ("float16", "float32"),
               ("float32", "float64"), ("float32", "int64"), ("uint8", "float32"), ("int16", "float32"),
               ("float64", "float64")]


@pytest.mark.parametrize("input_dtype, weight_dtype", DTYPE_PAIRS)
@pytest.mark.parametrize("form", ["F.linear(X, W, B)", "F.linear(X, W)", "F.linear(X[0], W, B)",
                                  "F.linear(X.reshape(2, 2, 2), W, B)", "F.linear(X, W, B.double())"])
def test_linear_refuses_mixed_dtypes(reference, input_dtype, weight_dtype, form):
    program = f"""
        X = lib.ones(4, 2).to(lib.{input_dtype})
        W = lib.ones(3, 2).to(lib.{weight_dtype})
        B = lib.ones(3).to(lib.{weight_dtype})
        result = {form}"""
    mixed = input_dtype != weight_dtype or "double" in form and weight_dtype != "float64"
    compare(reference, program, expect_error=mixed)


@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_linear_layer_refuses_a_float64_or_int_batch(reference, dtype):
    compare(reference, f"result = lib.nn.Linear(2, 3)(lib.ones(4, 2, dtype=lib.{dtype}))", expect_error=True)


# -- B2: elementwise max and min -----------------------------------------------------------------

ELEMENTWISE = ["lib.max(a, b)", "lib.min(a, b)", "lib.maximum(a, b)", "lib.minimum(a, b)", "a.max(b)",
               "a.min(b)", "a.maximum(b)", "a.minimum(b)", "lib.max(a, other=b)", "lib.maximum(b, a)",
               "lib.max(a, lib.zeros_like(a))", "lib.max(a, lib.tensor(0.))", "lib.min(a, b[:1])"]


@few
@given(data=st.data(), expression=st.sampled_from(ELEMENTWISE))
def test_elementwise_max_and_min_split_ties_as_torch(reference, data, expression):
    shape = data.draw(s.nonscalar_shapes, label="shape")
    tied = st.sampled_from([-1.0, 0.0, 0.5, 2.0, float("nan")]).map(np.float32)  # ties, and nan
    a = data.draw(hnp.arrays(np.float32, shape, elements=tied), label="a")
    b = data.draw(hnp.arrays(np.float32, shape, elements=tied), label="b")
    compare(reference, f"result = {expression}", a=a, b=b)


@pytest.mark.parametrize("program", [
    "result = lib.maximum(lib.tensor([1, 2]), lib.tensor([1.5]))",
    "result = lib.maximum(lib.tensor([1., 2.]), lib.tensor(1.5, dtype=lib.float64))",
    "result = lib.maximum(lib.tensor([True, False]), lib.tensor([False, False]))",
])
def test_elementwise_max_promotes_as_torch(reference, program):
    compare(reference, program)


@pytest.mark.parametrize("program", ["result = lib.maximum(lib.ones(2), 0.)", "result = lib.ones(2).maximum(2)",
                                     "result = lib.minimum(lib.ones(2), 1)"])
def test_elementwise_max_wants_a_tensor(reference, program):
    compare(reference, program, expect_error=True)


# -- B9: torch.autograd.Function, the same class body run on both libraries ------------------------

FUNCTIONS = '''
class Softplus(lib.autograd.Function):
    """log(1 + exp(x)), stable: the max(x, 0) is taken out first."""
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        seen.append((lib.is_grad_enabled(), ctx.needs_input_grad))
        return lib.maximum(x, lib.zeros_like(x)) + lib.log(1 + lib.exp(-x.abs()))

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        seen.append(lib.is_grad_enabled())
        return grad * lib.sigmoid(x)

class StraightThrough(lib.autograd.Function):
    """Rounds on the way forward, passes the gradient through unchanged."""
    @staticmethod
    def forward(ctx, x):
        return (x > 0).float()

    @staticmethod
    def backward(ctx, grad):
        return grad

class Scale(lib.autograd.Function):
    """x * k with k a number (no gradient) and a mask tensor that gets none either."""
    @staticmethod
    def forward(ctx, x, k, mask):
        ctx.k = k
        ctx.save_for_backward(mask)
        seen.append(ctx.needs_input_grad)
        return x * k * mask

    @staticmethod
    def backward(ctx, grad):
        mask, = ctx.saved_tensors
        return grad * ctx.k * mask, None, None

class ArgMax(lib.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        out = x.argmax().float()
        ctx.mark_non_differentiable(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        return None

class TooFew(lib.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        return x * k

    @staticmethod
    def backward(ctx, grad):
        return grad

class GradientForANumber(lib.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        return x * k

    @staticmethod
    def backward(ctx, grad):
        return grad, grad

class NoBackward(lib.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

seen = []
'''


@few
@given(data=st.data(), call=st.sampled_from([
    "Softplus.apply(x)", "Softplus.apply(x * 3) * 2", "StraightThrough.apply(x)",
    "Scale.apply(x, 2.5, (x > 0).float())", "Scale.apply(x, 2.5, x.detach())", "ArgMax.apply(x)",
    "Softplus.apply(x.detach())"]))
def test_autograd_function_as_torch(reference, data, call):
    x = data.draw(hnp.arrays(np.float32, data.draw(s.shapes, label="shape"), elements=st.floats(-30, 30, width=32)),
                  label="x")
    compare(reference, FUNCTIONS + f"result = {call}", x=x)
    # what forward and backward saw: grad mode off in both, needs_input_grad per argument
    program = FUNCTIONS + f"y = {call}\nif y.requires_grad:\n    y.sum().backward()\nresult = seen"
    assert run(reference, program, x=x)[1] == run(torch, program, x=x)[1]


@pytest.mark.parametrize("program", [
    "result = type(Softplus.apply(x).grad_fn).__name__",
    "result = len(Scale.apply(x, 2., x.detach()).grad_fn.next_functions)",
    "with lib.no_grad():\n    result = Softplus.apply(x)",
    "y = Softplus.apply(x)\ny.sum().backward()\ny.sum().backward()",
    "TooFew.apply(x, 2.).sum().backward()",
    "GradientForANumber.apply(x, 2.).sum().backward()",
    "NoBackward.apply(x).sum().backward()",
])
def test_autograd_function_errors_and_names(reference, program):
    x = np.array([1.0, -2.0], np.float32)
    their = run(torch, FUNCTIONS + program, x=x)[1]
    compare(reference, FUNCTIONS + program, expect_error=isinstance(their, tuple), x=x)


# -- B4/A14: torch.tensor of a list of tensors -----------------------------------------------------

@pytest.mark.parametrize("elements", [
    "[lib.tensor(1.), lib.tensor(2.)]", "[lib.tensor([1.]), lib.tensor([2.])]", "[lib.tensor(1), lib.tensor(2)]",
    "[lib.tensor(1., dtype=lib.float64), lib.tensor(2.)]", "[lib.tensor(1.), 2.]", "[lib.tensor(1), 2.5]",
    "[lib.tensor(1, dtype=lib.int32), 2]", "[[lib.tensor(1.), lib.tensor(2.)]]", "(lib.tensor(True), lib.tensor(3))",
    "[lib.tensor([1., 2.]), lib.tensor([2., 3.])]", "[lib.tensor([[1.5]]), lib.tensor(2.5, dtype=lib.float16)]"])
def test_tensor_of_one_number_tensors(reference, elements):
    their = run(torch, f"result = lib.tensor({elements})")[1]
    compare(reference, f"result = lib.tensor({elements})", expect_error=isinstance(their, tuple))
    compare(reference, f"result = lib.tensor({elements}, dtype=lib.float64)", expect_error=isinstance(their, tuple))


@few
@given(values=hnp.arrays(np.float32, st.integers(1, 5), elements=st.floats(-3, 3, width=32)))
def test_tensor_of_losses_that_require_grad(reference, values):
    program = "result = lib.tensor([v * 2 for v in w])"
    compare(reference, program.replace("w]", "w.detach()]"), w=values)  # (no warning: nothing requires grad)
    ours = run(reference, "result = lib.tensor([v * 2 for v in w])", w=values)[1]
    theirs = run(torch, "result = lib.tensor([v * 2 for v in w])", w=values)[1]
    assert_same(ours, theirs, "torch.tensor of tensors that require grad")


def test_tensor_of_tensors_that_require_grad_warns_once_as_torch(reference):
    """torch warns once per process (so it is asked in a fresh one here), and float() of such a tensor
    afterwards does not warn again (one flag for both); the engine likewise."""
    import subprocess
    import sys
    program = ("import torch, warnings\nwarnings.simplefilter('always')\nw = torch.ones(2, requires_grad=True)\n"
               "with warnings.catch_warnings(record=True) as caught:\n    warnings.simplefilter('always')\n"
               "    torch.tensor([w[0], w[1]]); torch.tensor([w[0]]); float(w[1])\n"
               "print(repr([(c.category.__name__, str(c.message)) for c in caught]))")
    theirs = eval(subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout)
    theirs = [(kind, text.split(" (Triggered internally")[0]) for kind, text in theirs]
    reference.engine._scalar_warned = False
    w = reference.ones(2, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reference.tensor([w[0], w[1]])
        reference.tensor([w[0]])
        float(w[1])
    assert [(c.category.__name__, str(c.message)) for c in caught] == theirs and len(theirs) == 1


# -- B18: softmax without a dim ------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(), (4,), (1, 4), (2, 3), (1, 2, 3), (1, 1, 2, 3)])
@pytest.mark.parametrize("call", ["F.softmax(x)", "F.log_softmax(x)", "F.softmax(x, dim=None)",
                                  "F.softmax(x, None, 3)", "F.softmax(x, 0)", "F.log_softmax(x, dim=-1)"])
def test_functional_softmax_guesses_the_dim_with_torchs_warning(reference, shape, call):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 3
    their = run(torch, f"result = {call}", x=x)[1]
    compare(reference, f"result = {call}", expect_error=isinstance(their, tuple), x=x)


@pytest.mark.parametrize("call", ["lib.softmax(x)", "lib.log_softmax(x)", "x.softmax()", "x.log_softmax()",
                                  "lib.softmax(x, None)", "x.softmax(None)", "x.log_softmax(None)"])
def test_softmax_without_a_dim_is_refused_as_torch(reference, call):
    compare(reference, f"result = {call}", expect_error=True, x=np.ones((2, 3), np.float32))


# -- E: everyday names -------------------------------------------------------------------------------

BINARY = ["lib.add(x, y)", "lib.add(x, 2)", "lib.add(x, y, alpha=2)", "x.add(y)", "x.add(2.5)", "lib.sub(x, y)",
          "x.sub(2)", "lib.sub(x, y, alpha=0.5)", "lib.mul(x, y)", "x.mul(3)", "lib.mul(2, x)", "lib.add(2, x)",
          "lib.pow(x, 2)", "lib.pow(2, x)", "lib.pow(x, 3)", "x.view_as(y)", "lib.maximum(x, y)",
          "lib.add(x, y, alpha=0.37)", "x.sub(y, alpha=-0.1)"]
UNARY = ["lib.neg(x)", "x.neg()", "lib.square(x)", "x.square()", "lib.sign(x)", "x.sign()", "lib.exp(x)",
         "lib.isnan(x)", "x.isnan()", "x.any()", "x.all()", "lib.any(x)", "lib.all(x)", "x.any(dim=0)",
         "x.all(0, keepdim=True)", "x.cpu()", "x.contiguous()", "F.tanh(x)", "x.is_floating_point()"]


@few
@given(data=st.data(), expression=st.sampled_from(BINARY + UNARY))
def test_everyday_names(reference, data, expression):
    shape = data.draw(s.nonscalar_shapes, label="shape")
    values = st.sampled_from([-1.5, 0.0, 0.5, 2.0, float("nan")]) if "nan" in expression else st.floats(-3, 3,
                                                                                                         width=32)
    x = data.draw(hnp.arrays(np.float32, shape, elements=values), label="x")
    y = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(0.25, 3, width=32)), label="y")
    compare(reference, f"result = {expression}", x=x, y=y)


@pytest.mark.parametrize("expression", [
    "lib.div(x, y)", "x.div(y)", "x.div(4)", "lib.div(lib.tensor([1, 2]), 2)", "lib.sign(lib.tensor([-2, 0, 3]))",
    "lib.sign(lib.tensor([True, False]))", "lib.square(lib.tensor([2, 3]))", "lib.tensor([0, 1]).any()",
    "lib.tensor([[0, 1], [1, 1]]).all(dim=1)", "lib.isnan(lib.tensor([1]))", "lib.tensor([1, 2]).is_floating_point()",
    "lib.any(lib.tensor([]))", "lib.all(lib.tensor([]))", "lib.pi", "lib.e", "lib.inf", "repr(lib.nan)",
    "x.cpu() is x", "x.contiguous() is x", "lib.as_tensor(x) is x"])
def test_everyday_values(reference, expression):
    x, y = np.array([1.0, -2.0, 0.0], np.float32), np.array([3.0, 4.0, 5.0], np.float32)
    compare(reference, f"result = {expression}", x=x, y=y)


@pytest.mark.parametrize("array", [np.array([1.0, 2.0]), np.array([1, 2]), np.array([[1.5]], np.float32),
                                   np.array([True, False])])
def test_from_numpy_shares_memory_and_keeps_the_dtype(reference, array):
    for make in ("from_numpy(a)", "as_tensor(a)"):
        program = f"a = np.array({array.tolist()!r}, dtype=np.{array.dtype.name})\nt = lib.{make}\n" \
                  "a.reshape(-1)[0] = 0\nresult = t"
        compare(reference, program)
    compare(reference, "result = lib.as_tensor(np.array([1., 2.]), dtype=lib.float32)")
    compare(reference, "result = lib.as_tensor([1., 2.])")
    compare(reference, "result = lib.from_numpy([1., 2.])", expect_error=True)


# -- E: binary_cross_entropy_with_logits and the loss modules ------------------------------------------

@few
@given(data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]), form=st.sampled_from([
    "F.binary_cross_entropy_with_logits(x, t, reduction={r!r})", "lib.nn.BCEWithLogitsLoss(reduction={r!r})(x, t)",
    "F.binary_cross_entropy_with_logits(x, t, weight=lib.tensor(w), reduction={r!r})",
    "F.binary_cross_entropy_with_logits(x, t, pos_weight=lib.tensor(w), reduction={r!r})",
    "lib.nn.BCEWithLogitsLoss(weight=lib.tensor(w), pos_weight=lib.tensor(w[::-1].copy()), reduction={r!r})(x, t)"]),
    target_dtype=st.sampled_from(["float32", "float64"]))
def test_binary_cross_entropy_with_logits_is_stable(reference, data, reduction, form, target_dtype):
    shape = data.draw(s.nonscalar_shapes, label="shape")
    x = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-200, 200, width=32)), label="logits")
    t = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(0, 1, width=32)), label="target")
    w = data.draw(hnp.arrays(np.float32, shape[-1:], elements=st.floats(0, 2, width=32)), label="weight")
    program = f"w = np.array({w.tolist()!r}, dtype=np.float32)\nresult = " + form.format(r=reduction)
    # (1 - t) x and log(sigmoid(x)) cancel at large |x|: torch rounds each to float32 on the way, the engine once,
    # so the loss agrees to float32's resolution at |x|, not at the loss
    tolerance = {"rtol": 1e-5, "atol": 4e-7 * max(1.0, float(np.abs(x).max()))}
    compare(reference, program, tolerance=tolerance, x=x, t=t.astype(target_dtype))


@pytest.mark.parametrize("target", ["lib.tensor([1, 0])", "lib.tensor([1, 0], dtype=lib.int32)",
                                    "lib.tensor([True, False])", "lib.tensor([1., 0., 1.])"])
def test_binary_cross_entropy_with_logits_refuses_as_torch(reference, target):
    compare(reference, f"result = F.binary_cross_entropy_with_logits(x, {target})", expect_error=True,
            x=np.array([0.5, -1.0], np.float32))


@few
@given(data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_loss_modules(reference, data, reduction):
    shape = data.draw(s.nonscalar_shapes, label="shape")
    p = data.draw(hnp.arrays(np.float32, shape, elements=probabilities), label="p")
    t = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(0, 1, width=32)), label="t")
    for module in ("MSELoss", "BCELoss"):
        compare(reference, f"loss = lib.nn.{module}(reduction={reduction!r})\nresult = loss(p, t)", p=p, t=t)
    compare(reference, f"result = repr(lib.nn.MSELoss(reduction={reduction!r}))")


# -- A10: softmax of integers or bools -------------------------------------------------------------------

@pytest.mark.parametrize("values", ["lib.arange(3)", "lib.arange(6).reshape(2, 3)", "lib.tensor([True, False])",
                                    "lib.arange(3, dtype=lib.int32)", "lib.arange(3).to(lib.uint8)"])
@pytest.mark.parametrize("call", ["lib.softmax(v, 0)", "lib.softmax(v, -1)", "lib.log_softmax(v, 0)",
                                  "F.softmax(v, 0)", "v.log_softmax(-1)", "F.cross_entropy(v, lib.tensor(0))",
                                  "F.cross_entropy(v, lib.tensor([0, 1]))"])
def test_softmax_of_integers_is_refused_as_torch(reference, values, call):
    their = run(torch, f"v = {values}\nresult = {call}")[1]
    assert isinstance(their, tuple)
    assert run(reference, f"v = {values}\nresult = {call}")[1] == their


def test_an_engine_function_without_a_node_name_is_named_as_torch_names_its_own(reference):
    """The engine's array Function subclassed without ``node_name``: its node is ``<Class>Backward``, as the
    node of a torch.autograd.Function of the same name (and its gradient is torch's)."""
    def square(base):
        class Square(base):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, grad):
                x, = ctx.saved_tensors
                return 2 * x * grad
        return Square

    outs = []
    for lib, base in ((torch, torch.autograd.Function), (reference, reference.engine.Function)):
        x = lib.tensor([1.0, -2.5], requires_grad=True)
        y = square(base).apply(x)
        y.sum().backward()
        outs.append((type(y.grad_fn).__name__, y.tolist(), x.grad.tolist()))
    assert outs[1] == outs[0]
