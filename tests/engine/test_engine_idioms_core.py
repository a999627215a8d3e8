"""Everyday idioms a learner brings from torch or numpy, against torch: ``int(t)``/``float(t)``/``t`` as a
list index, float functions of integer and bool tensors, ``@`` of two dtypes, the ``requires_grad`` and
``.grad`` setters, ``x[0]`` as a view, torch's indexing errors, ``&``/``|``/``^``/``~``, ``//`` and ``%``,
``backward(inputs=...)``, and a backward pass as silent as torch's where a gradient is inf or nan.

Each scenario is a small program over ``lib`` (torch or the engine) and some drawn numbers; its result
(repr, dtype, values), its error (type and text) and its warnings must be torch's.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_engine_errors import TRIGGERED, run_program

REPO = Path(__file__).resolve().parents[2]
few = settings(max_examples=12, deadline=None)


def describe(value):
    """What must match: a tensor's repr, dtype and exact values (nan where nan); containers item by item."""
    if isinstance(value, tuple | list):
        return [describe(v) for v in value]
    if hasattr(value, "requires_grad") and hasattr(value, "dtype"):
        values = np.asarray(value.detach().numpy(), dtype=np.float64).ravel().tolist()
        # (repr tells nan from nan as equal, and -0.0 from 0.0)
        return {"repr": repr(value), "dtype": str(value.dtype), "values": [repr(v) for v in values]}
    return repr(value)


def pop_values(described):
    """The values of every tensor in a ``describe``d result, taken out of it."""
    if isinstance(described, list):
        return np.concatenate([pop_values(d) for d in described] or [np.zeros(0)])
    return np.array(described.pop("values"), dtype=float) if isinstance(described, dict) else np.zeros(0)


def outcome(lib, program, data):
    """``{"error", "warnings", "result"}`` of ``program`` run with ``lib`` as ``lib`` and ``data``'s names."""
    names = {"np": np, **{k: v.copy() if isinstance(v, np.ndarray) else v for k, v in data.items()}}
    error, shown, namespace = run_program(lib, program, **names)
    return {"error": error, "warnings": shown, "result": describe(namespace.get("result"))}


def assert_like_torch(engine, program, expect_error=None, ulps=False, **data):
    """``ulps``: values may differ in the last bits (elementwise functions: torch's are not always correctly
    rounded, the engine's are)."""
    theirs, ours = outcome(torch, program, data), outcome(engine, program, data)
    if ulps and theirs["error"] is None and ours["error"] is None:
        np.testing.assert_allclose(pop_values(ours["result"]), pop_values(theirs["result"]), rtol=3e-7)
    assert ours == theirs, f"program:\n{textwrap.dedent(program)}\ndata: {data}"
    if expect_error is not None:  # the scenario really is an error (or not) in torch: the comparison is not vacuous
        assert (theirs["error"] is not None) == expect_error, theirs


small_ints = hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4),
                        elements=st.integers(-5, 5))
floats = hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4),
                    elements=st.floats(-4, 4, width=32))

# -- B1: int(t), float(t), t as an index ------------------------------------------------------------

SCALAR_PROGRAMS = {
    "int of a float tensor": "result = int(lib.tensor(a))",
    "float of an int tensor": "result = float(lib.tensor(n))",
    "int of an int tensor": "result = int(lib.tensor(n))",
    "int of argmax": "result = int(lib.tensor(a).argmax())",
    "a list indexed by argmax": "result = list(range(100))[lib.tensor(a).argmax()]",
    "a list indexed by an int tensor": "result = list('abcdefghijk')[lib.tensor(n)]",
    "range of an int tensor": "result = list(range(lib.tensor(n)))",
    "a float tensor as an index": "result = [1, 2, 3][lib.tensor(a)]",
    "__index__ of a float tensor": "result = lib.tensor(a).__index__()",
}


@pytest.mark.parametrize("name", SCALAR_PROGRAMS)
@few
@given(a=floats, n=small_ints.map(np.abs))
def test_python_number_from_a_tensor(reference, name, a, n):
    assert_like_torch(reference, SCALAR_PROGRAMS[name], a=a, n=n)


def test_float_of_a_tensor_that_requires_grad_warns_once_as_torch():
    """torch warns the first time in a process only (TORCH_WARN_ONCE), and not under no_grad nor for int():
    each library runs in a fresh process."""
    program = textwrap.dedent("""
        import json, sys, warnings
        sys.path.insert(0, sys.argv[1])
        if sys.argv[2] == "torch":
            import torch as lib
        else:
            from autograder.learner.engines import load_reference
            lib = load_reference()
        x = lib.tensor(2.5, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with lib.no_grad():
                float(x)
            values = [int(x), x.item(), float(x), float(x * 2), float(lib.tensor([1.0], requires_grad=True))]
        print(json.dumps([values, [(w.category.__name__, str(w.message), w.lineno) for w in caught]]))
    """)
    results = []
    for lib in ("torch", "engine"):
        run = subprocess.run([sys.executable, "-c", program, str(REPO), lib], capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONWARNINGS": ""})
        values, caught = json.loads(run.stdout)
        results.append((values, [(kind, TRIGGERED.sub("", text), line) for kind, text, line in caught]))
    assert results[1] == results[0]
    assert len(results[0][1]) == 1  # torch warned, once


# -- A2/A5/A10/B15: float functions of integer and bool tensors ----------------------------------

FLOAT_FUNCTIONS = ["lib.sin(x)", "x.cos()", "lib.exp(x)", "x.log()", "lib.tanh(x)", "lib.sigmoid(x)", "x.sigmoid()",
                   "lib.sqrt(x)", "lib.nn.functional.sigmoid(x)", "lib.nn.Sigmoid()(x)", "lib.nn.Tanh()(x)",
                   "x.clamp(min=0.5)", "lib.clamp(x, 0, 1.5)", "x.clamp(max=1)", "lib.clamp(x, 0, 1)"]
REFUSED = ["lib.relu(x)", "lib.abs(x)", "lib.nn.functional.relu(x)", "x.log_softmax(0)", "lib.log_softmax(x, -1)",
           "lib.nn.functional.softplus(x)", "lib.nn.functional.cross_entropy(x.reshape(1, -1), lib.tensor([0]))"]
DTYPES = ["int64", "int32", "int16", "int8", "uint8", "bool"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("expression", FLOAT_FUNCTIONS + REFUSED)
@settings(max_examples=4, deadline=None)
@given(values=small_ints)
def test_float_function_of_integer_or_bool_tensor(reference, expression, dtype, values):
    values = values.astype(dtype) if dtype != "uint8" else np.abs(values).astype(dtype)
    program = f"x = lib.tensor(v).to(lib.{dtype}); result = {expression}"
    assert_like_torch(reference, program, ulps=True, v=values)


# -- A3/B16: matmul with a 0-d operand or two dtypes ---------------------------------------------

MATMUL_SHAPES = [((2, 3), (3, 2)), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((), (3,)), ((3,), ()), ((), ()),
                 ((2, 2, 3), (3, 2)), ((2, 3), (2, 3, 2)), ((2, 2, 3), (3,)), ((2, 3), (2, 2)), ((3,), (2,)),
                 ((2, 3), (2,))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32"), ("int64", "float32"),
                                    ("float32", "int32"), ("float32", "float16"), ("float32", "float32")], ids=str)
def test_matmul_of_two_dtypes(reference, shapes, dtypes):
    program = f"""
        a = lib.ones({shapes[0]}, dtype=lib.{dtypes[0]})
        b = lib.ones({shapes[1]}, dtype=lib.{dtypes[1]})
        result = a @ b"""
    assert_like_torch(reference, program)


def test_linear_without_bias_of_float64_input(reference):
    program = """
        layer = lib.nn.Linear(2, 1, bias=False)
        result = layer(lib.ones(3, 2, dtype=lib.float64))"""
    assert_like_torch(reference, program, expect_error=True)


# -- A6/A17/A18/A16: the requires_grad and .grad setters -------------------------------------------

SETTER_PROGRAMS = {
    "requires_grad on an int tensor": "x = lib.tensor(n); x.requires_grad = True",
    "requires_grad False on an int tensor": "x = lib.tensor(n); x.requires_grad = False; result = x.requires_grad",
    "requires_grad False on a non-leaf": "w = lib.tensor(a, requires_grad=True); y = w * 2; y.requires_grad = False",
    "requires_grad True on a non-leaf": "w = lib.tensor(a, requires_grad=True); y = w * 2; y.requires_grad = True",
    "requires_grad True on a result off the graph": "y = lib.tensor(a) * 2; y.requires_grad = True; result = y",
    "requires_grad set to 1": "w = lib.tensor(a); w.requires_grad = 1",
    "a Parameter of an int tensor": "result = lib.nn.Parameter(lib.tensor(n))",
    "a Parameter that does not require grad": "result = lib.nn.Parameter(lib.tensor(a), requires_grad=False)",
    "a leaf leaves the graph before backward": """
        w = lib.tensor(a, requires_grad=True); y = w * 2
        w.requires_grad = False
        y.sum().backward(); result = w.grad""",
    "a leaf leaves the graph and comes back": """
        w = lib.tensor(a, requires_grad=True); y = w * 2
        w.requires_grad = False; w.requires_grad = True
        y.sum().backward(); result = w.grad""",
    "grad of another shape": "w = lib.tensor(a, requires_grad=True); w.grad = lib.zeros(w.numel() + 1)",
    "grad of another dtype": "w = lib.tensor(a, requires_grad=True); w.grad = lib.zeros_like(w).double()",
    "an int grad": "w = lib.tensor(a, requires_grad=True); w.grad = lib.zeros_like(w).long()",
    "grad a number": "w = lib.tensor(a, requires_grad=True); w.grad = 3",
    "grad itself": "w = lib.tensor(a, requires_grad=True); w.grad = w",
    "grad of the right kind": "w = lib.tensor(a, requires_grad=True); w.grad = lib.ones_like(w) * 2; result = w.grad",
    "grad of another shape on a non-leaf": "w = lib.tensor(a, requires_grad=True); y = w * 2; y.grad = lib.zeros(7, 7)",
}


@pytest.mark.parametrize("name", SETTER_PROGRAMS)
@few
@given(a=floats, n=small_ints)
def test_setters_like_torch(reference, name, a, n):
    assert_like_torch(reference, SETTER_PROGRAMS[name], a=a, n=n)


# -- A1: x[0] is a view ------------------------------------------------------------------------

VIEW_PROGRAMS = {
    "zero_ of x[0]": "x = lib.tensor(m); x[0].zero_(); result = x",
    "fill_ of x[1, 0]": "x = lib.tensor(m); x[1, 0].fill_(5); result = x",
    "add_ of x[0, 1]": "x = lib.tensor(m); x[0, 1].add_(5); result = x",
    "add_ of x[0][1]": "x = lib.tensor(m); x[0][1].add_(5); result = x",
    "zero_ of x[-1, ...]": "x = lib.tensor(m); x[-1, ...].zero_(); result = x",
    "+= on each element": """
        x = lib.tensor(m[0])
        for e in x:
            e += 1
        result = x""",
    "zero_ of one entry of .grad": """
        w = lib.tensor(m, requires_grad=True); (w * 3).sum().backward()
        w.grad[0, 0].zero_(); result = w.grad""",
    "an SGD step on one entry under no_grad": """
        w = lib.tensor(m, requires_grad=True); (w * w).sum().backward()
        with lib.no_grad():
            w[1, 1].sub_(0.1 * w.grad[1, 1])
        result = w""",
    "version counts of x[0]": "x = lib.tensor(m); y = x[0, 0]; y.add_(1); result = (x._version, y._version)",
    "in place on x[0] of a leaf": "w = lib.tensor(m, requires_grad=True); w[0, 0].zero_()",
    "in place on a view of a saved tensor": """
        w = lib.tensor(m, requires_grad=True); y = w.exp(); y[0, 1].mul_(2)
        y.sum().backward()""",
    "gradient through x[0]": "w = lib.tensor(m, requires_grad=True); (w[1, 0] * 2).backward(); result = w.grad",
}


@pytest.mark.parametrize("name", VIEW_PROGRAMS)
@few
@given(m=hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=4),
                    elements=st.floats(-4, 4, width=32)))
def test_integer_index_is_a_view(reference, name, m):
    assert_like_torch(reference, VIEW_PROGRAMS[name], m=m)


# -- A12/B10/B11: torch's indexing errors --------------------------------------------------------

INDEX_PROGRAMS = {
    "reversed by a negative step": "result = lib.tensor(v)[::-1]",
    "reversed columns": "result = lib.tensor(v).reshape(1, -1)[:, ::-2]",
    "an index past the end": "x = lib.tensor(v); result = x[len(v)]",
    "an index before the start": "x = lib.tensor(v); result = x[-len(v) - 1]",
    "a column past the end": "x = lib.tensor(v).reshape(1, -1); result = x[:, len(v) + 2]",
    "a list index past the end": "x = lib.tensor(v); result = x[[0, len(v)]]",
    "too many indices": "x = lib.tensor(v); result = x[0, 0]",
    "too many indices of a matrix": "x = lib.tensor(v).reshape(1, -1); result = x[0, 0, 0]",
    "a float index": "x = lib.tensor(v); result = x[1.0]",
    "a float tensor index": "x = lib.tensor(v); result = x[lib.tensor([0.0])]",
    "a 0-d float tensor index": "x = lib.tensor(v); result = x[lib.tensor(0.0)]",
    "a mask of another length": "x = lib.tensor(v); result = x[lib.tensor([True] * (len(v) + 1))]",
    "a step of 2": "result = lib.tensor(v)[::2]",
}


@pytest.mark.parametrize("name", INDEX_PROGRAMS)
@few
@given(v=hnp.arrays(np.float32, st.integers(1, 5), elements=st.floats(-4, 4, width=32)))
def test_indexing_errors_like_torch(reference, name, v):
    assert_like_torch(reference, INDEX_PROGRAMS[name], v=v)


# -- indexing by a mask: bool, and uint8 (torch's deprecated spelling of a bool mask) ------------------

MASK_PROGRAMS = {
    "a bool mask, values and gradient": """
        x = lib.tensor(v, requires_grad=True); y = x[lib.tensor(keep)]; (y * y).sum().backward()
        result = (y, x.grad)""",
    "a uint8 mask, values and gradient": """
        x = lib.tensor(v, requires_grad=True); y = x[lib.tensor(keep).to(lib.uint8)]; (y * y).sum().backward()
        result = (y, x.grad)""",
    "a uint8 mask of rows of a matrix": "result = lib.tensor(v).reshape(-1, 1)[lib.tensor(keep).to(lib.uint8)]",
    "a uint8 mask of columns": "result = lib.tensor(v).reshape(1, -1)[:, lib.tensor(keep).to(lib.uint8)]",
    "a uint8 mask set to a number (masked_fill_ refuses it)": """
        x = lib.tensor(v); x[lib.tensor(keep).to(lib.uint8)] = 5; result = x""",
    "a uint8 mask set to a tensor": """
        x = lib.tensor(v); m = lib.tensor(keep).to(lib.uint8); x[m] = lib.ones(int(m.sum())) * 7; result = x""",
}


@pytest.mark.parametrize("name", MASK_PROGRAMS)
@few
@given(v=hnp.arrays(np.float32, st.integers(1, 5), elements=st.floats(-4, 4, width=32)), data=st.data())
def test_mask_indexing_like_torch(reference, name, v, data):
    keep = data.draw(hnp.arrays(np.bool_, v.shape))
    assert_like_torch(reference, MASK_PROGRAMS[name], v=v, keep=keep)


# -- B3/B12: bitwise operators, // and % -----------------------------------------------------------

OPERATOR_PROGRAMS = [
    "(lib.tensor(a) > 0) & (lib.tensor(a) < 2)", "(lib.tensor(a) > 0) | (lib.tensor(a) < -1)",
    "(lib.tensor(a) > 0) ^ (lib.tensor(a) < 2)", "~(lib.tensor(a) > 0)", "~lib.tensor(n)", "~lib.tensor(a)",
    "lib.tensor(n) & lib.tensor(k)", "lib.tensor(n) | 1", "1 ^ lib.tensor(n)", "(lib.tensor(a) > 0) & True",
    "lib.tensor(a) & lib.tensor(a)", "lib.tensor(n) & 1.5",
    "lib.tensor(n) // 2", "lib.tensor(n) // lib.tensor(k)", "lib.tensor(n) % 3", "lib.tensor(n) % lib.tensor(k)",
    "7 // lib.tensor(k)", "7 % lib.tensor(k)", "7.5 % lib.tensor(k)", "lib.tensor(n) // 2.5", "lib.tensor(n) % 2.5",
    "lib.tensor(a) // 0.75", "lib.tensor(a) % 0.75", "lib.tensor(a) % -0.5", "lib.tensor(a) // lib.tensor(b)",
    "lib.tensor(a) % lib.tensor(b)", "lib.tensor(n) // 0", "lib.tensor(n) % lib.tensor(n * 0)", "lib.tensor(a) // 0",
    "(lib.tensor(a) > 0) // (lib.tensor(a) > 1)", "(lib.tensor(a) > 0) % 2", "lib.tensor(a, requires_grad=True) // 2",
    "lib.tensor(a, requires_grad=True) % 2", "2 % lib.tensor(a, requires_grad=True)",
]


@pytest.mark.parametrize("expression", OPERATOR_PROGRAMS)
@few
@given(a=floats, data=st.data())
def test_bitwise_floor_division_and_remainder(reference, expression, a, data):
    # a number divided by a subnormal overflows float32; torch's remainder then gives nan in its vector
    # lanes and the exact remainder in its loop's tail (which: the machine's vector width)
    a = np.where(np.abs(a) < 1e-30, np.float32(0), a)
    same = hnp.arrays(np.int64, a.shape, elements=st.integers(-6, 6))
    n, k = data.draw(same), data.draw(same.map(lambda k: np.where(k == 0, 3, k)))
    b = data.draw(hnp.arrays(np.float32, a.shape, elements=st.sampled_from([-3.0, -0.5, 0.5, 2.0, 0.0])))
    assert_like_torch(reference, f"result = {expression}", a=a, b=b, n=n, k=k)


GRADIENT_PROGRAMS = {
    "a % b": "x = lib.tensor(a, requires_grad=True); w = lib.tensor(b, requires_grad=True)\n"
             "(x % w).sum().backward(); result = (x.grad, w.grad)",
    "a % 2.5": "x = lib.tensor(a, requires_grad=True); (x % 2.5).sum().backward(); result = x.grad",
    "a // 2": "x = lib.tensor(a, requires_grad=True); (x // 2).sum().backward()",
    "2 % a": "x = lib.tensor(a, requires_grad=True); (2 % x).sum().backward()",
}


@pytest.mark.parametrize("name", GRADIENT_PROGRAMS)
@few
@given(a=floats, data=st.data())
def test_gradient_of_floor_division_and_remainder(reference, name, a, data):
    b = data.draw(hnp.arrays(np.float32, a.shape, elements=st.sampled_from([-3.0, -0.5, 0.5, 2.0])))
    assert_like_torch(reference, GRADIENT_PROGRAMS[name], a=a, b=b)


# -- B8: backward(create_graph=..., inputs=...) -------------------------------------------------------

INPUTS_PROGRAMS = {
    "one of two leaves": """
        x = lib.tensor(a, requires_grad=True); w = lib.tensor(b, requires_grad=True)
        (x * w).sum().backward(inputs=[x]); result = (x.grad, w.grad)""",
    "a leaf and a non-leaf": """
        x = lib.tensor(a, requires_grad=True); w = lib.tensor(b, requires_grad=True); y = x * w
        (y * y).sum().backward(inputs=[w, y]); result = (x.grad, w.grad, y.grad, y.retains_grad)""",
    "a tensor, twice, with a gradient": """
        x = lib.tensor(a, requires_grad=True); y = x * 3
        y.backward(lib.ones_like(y), inputs=x, retain_graph=True); y.backward(lib.ones_like(y), inputs=(x,))
        result = x.grad""",
    "an unused leaf": """
        x = lib.tensor(a, requires_grad=True); w = lib.tensor(b, requires_grad=True)
        (x * 3).sum().backward(inputs=[x, w]); result = (x.grad, w.grad)""",
    "no inputs": "x = lib.tensor(a, requires_grad=True); (x * 3).sum().backward(inputs=[])",
    "an input that does not require grad": """
        x = lib.tensor(a, requires_grad=True); (x * 3).sum().backward(inputs=[lib.tensor(b)])""",
    "twice without retain_graph": """
        x = lib.tensor(a, requires_grad=True); y = (x * x).sum()
        y.backward(inputs=[x]); y.backward(inputs=[x])""",
}


@pytest.mark.parametrize("name", INPUTS_PROGRAMS)
@few
@given(a=floats, data=st.data())
def test_backward_inputs_like_torch(reference, name, a, data):
    b = data.draw(hnp.arrays(np.float32, a.shape, elements=st.floats(-4, 4, width=32)))
    assert_like_torch(reference, INPUTS_PROGRAMS[name], a=a, b=b)


def test_backward_create_graph_is_refused_as_autograd_grad_refuses_it(reference):
    """torch builds a graph of the gradient; the engine cannot, and says so as its autograd.grad does."""
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward(create_graph=True)  # torch takes the keyword
    assert x.grad.grad_fn is not None
    w = reference.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError) as by_grad:
        reference.autograd.grad((w * w).sum(), [w], create_graph=True)
    with pytest.raises(NotImplementedError) as by_backward:
        (w * w).sum().backward(create_graph=True)
    assert str(by_backward.value) == str(by_grad.value)


# -- C2: a backward pass as silent as torch's where a gradient is inf or nan --------------------------

SILENT_PROGRAMS = {
    "log at 0": "x = lib.tensor(z, requires_grad=True); lib.log(x).sum().backward(); result = x.grad",
    "a power 0.5 at 0": "x = lib.tensor(z, requires_grad=True); (x ** 0.5).sum().backward(); result = x.grad",
    "sqrt at 0": "x = lib.tensor(z, requires_grad=True); x.sqrt().sum().backward(); result = x.grad",
    "1 / x at 0": "x = lib.tensor(z, requires_grad=True); (1 / x).sum().backward(); result = x.grad",
    "x / x at 0": "x = lib.tensor(z, requires_grad=True); (x / x).sum().backward(); result = x.grad",
    "the safe-log trick's backward": """
        x = lib.tensor(z, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (its forward, 0 * log(0), still warns in the engine: see the report)
            y = lib.where(x > 0, x * lib.log(x), 0).sum()
        y.backward(); result = x.grad""",
    "forward log, sqrt, exp and / at their edges": """
        x = lib.tensor(z)
        result = (lib.log(x), x.sqrt(), (x - 1).log(), (x + 100).exp(), x / 0, x ** -1, (x - 1) ** 0.5)""",
}


@pytest.mark.parametrize("name", SILENT_PROGRAMS)
@few
@given(z=hnp.arrays(np.float32, st.integers(1, 4), elements=st.sampled_from([0.0, 1.0, 2.5])))
def test_silent_like_torch(reference, name, z):
    assert_like_torch(reference, "import warnings\n" + textwrap.dedent(SILENT_PROGRAMS[name]), ulps=True, z=z)


# -- div with rounding_mode ---------------------------------------------------------------------------

ROUNDED_DIVISION_PROGRAMS = [
    # values, zero gradients for both inputs (a step function), torch's node name; x / 0 gives inf or nan
    "x = lib.tensor(a, requires_grad=True); y = lib.tensor(b, requires_grad=True)\n"
    "z = lib.div(x, y, rounding_mode=mode); z.backward(lib.ones_like(z))\n"
    "result = (z, x.grad, y.grad, z.grad_fn.name())",
    "x = lib.tensor(a, requires_grad=True); z = x.div(2, rounding_mode=mode)\n"
    "result = (z, [f is None for f, _ in z.grad_fn.next_functions])",
    "result = lib.div(lib.tensor(n), lib.tensor(k), rounding_mode=mode)",  # integers stay integers
    "result = lib.tensor(n).div(2.5, rounding_mode=mode)",
    "result = lib.div(7, lib.tensor(k), rounding_mode=mode)",
    "result = lib.div(7.5, lib.tensor(a), rounding_mode=mode)",
    "x = lib.tensor(n); x.div_(3, rounding_mode=mode); result = x",
    "x = lib.tensor(a); x.div_(lib.tensor(b), rounding_mode=mode); result = x",
    # torch's refusals: an integer divided by 0, a bool, a mode it does not know, true division in place on integers
    "result = lib.tensor(n).div(0, rounding_mode=mode)",
    "result = lib.tensor([True]).div(lib.tensor([True]), rounding_mode=mode)",
    "result = lib.tensor(a).div(2, rounding_mode='round')",
    "result = lib.div(lib.tensor(a), 'half', rounding_mode=mode)",
    "result = lib.div([7.0], lib.tensor(a), rounding_mode=mode)",
    "x = lib.tensor(n); x.div_(3); result = x",
]


@pytest.mark.parametrize("mode", ["trunc", "floor"])
@pytest.mark.parametrize("program", ROUNDED_DIVISION_PROGRAMS)
@few
@given(a=floats, data=st.data())
def test_division_with_rounding_mode_like_torch(reference, program, mode, a, data):
    a = np.where(np.abs(a) < 1e-30, np.float32(0), a)  # (no subnormal divisor: see the test above)
    same = hnp.arrays(np.int64, a.shape, elements=st.integers(-7, 7))
    n, k = data.draw(same), data.draw(same.map(lambda k: np.where(k == 0, 3, k)))
    b = data.draw(hnp.arrays(np.float32, a.shape, elements=st.sampled_from([-3.0, -0.5, 0.5, 2.0, 0.0, -0.0])))
    assert_like_torch(reference, program, a=a, b=b, n=n, k=k, mode=mode)


# A tensor of one dtype used in an op of a wider one: torch casts the gradient back at every edge, so the
# rest of its history computes in its own dtype (the engine used to carry the wider gradient to the leaf).
MIXED_DTYPE_PROGRAMS = {  # (+, *, /, ** only: torch rounds those exactly, so every bit must agree)
    "float32 squared, times float64": "y = lib.tensor(a, dtype=lib.float32, requires_grad=True)\n"
                                      "(y * y * lib.tensor(w)).sum().backward(); result = y.grad",
    "float32 through a chain, a float64 loss": "y = lib.tensor(a, dtype=lib.float32, requires_grad=True)\n"
                                               "z = (y * 3 + 1) * y / 7; (z ** 3 * lib.tensor(w)).sum().backward()\n"
                                               "result = y.grad",
    "float32 cast to float64 by .double()": "y = lib.tensor(a, dtype=lib.float32, requires_grad=True)\n"
                                            "z = y * y * 0.3; (z.double() * lib.tensor(w)).sum().backward()\n"
                                            "result = y.grad",
    "float16 into float32": "y = lib.tensor(a, dtype=lib.float16, requires_grad=True)\n"
                            "(y * y * lib.tensor(w, dtype=lib.float32)).sum().backward(); result = y.grad",
    "a hook sees its tensor's dtype": "y = lib.tensor(a, dtype=lib.float32, requires_grad=True); z = y * y\n"
                                      "seen = []; z.register_hook(lambda g: seen.append(g.dtype))\n"
                                      "(z * lib.tensor(w)).sum().backward(); result = [y.grad, str(seen)]",
}


@pytest.mark.parametrize("name", MIXED_DTYPE_PROGRAMS)
@few
@given(a=hnp.arrays(np.float64, 5, elements=st.floats(-2, 2, width=16)),
       w=hnp.arrays(np.float64, 5, elements=st.floats(-3, 3)))
def test_gradients_through_mixed_dtypes_like_torch(reference, name, a, w):
    assert_like_torch(reference, MIXED_DTYPE_PROGRAMS[name], expect_error=False, a=a, w=w)
