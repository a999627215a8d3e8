"""Hypothesis strategies for the engine tests, and the catalogue of expressions they draw from.

Every case is an expression in the names ``lib`` (``torch`` or a ``tinygrad_course`` engine)
and the input tensors, e.g. ``"lib.log(x)"`` or ``"a / b"``.  The same text is evaluated against
both libraries, so each test reads as "this expression agrees with torch", and a failing case
prints something you can paste into a notebook.  Each input has a *domain* keeping it away from
points where the function or its derivative is undefined (log at 0, 1/x at 0, ...).
"""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# -- domains: where the values of an input are drawn from --------------------------------

REAL = "real"          # [-3, 3], zero and the kinks of relu/clamp included on purpose
POSITIVE = "positive"  # [0.125, 4]: log, fractional powers, tensor exponents
NONZERO = "nonzero"    # |x| in [0.25, 3]: division, negative powers


def elements(domain):
    if domain == REAL:
        return st.floats(-3, 3, width=32)
    if domain == POSITIVE:
        return st.floats(0.125, 4, width=32)
    if domain == NONZERO:
        sign = st.sampled_from([-1.0, 1.0])
        return st.builds(lambda s, m: np.float32(s * m), sign, st.floats(0.25, 3, width=32))
    raise ValueError(f"unknown domain {domain!r}")


def arrays(shape, domain=REAL):
    return hnp.arrays(np.float32, shape, elements=elements(domain))


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)

# -- one input: every op, in function and method form, with numbers on either side ---------

UNARY = {
    "-x": REAL,
    "lib.sin(x)": REAL, "x.sin()": REAL,
    "lib.cos(x)": REAL, "x.cos()": REAL,
    "lib.exp(x)": REAL, "x.exp()": REAL,
    "lib.log(x)": POSITIVE, "x.log()": POSITIVE,
    "lib.sigmoid(x)": REAL, "x.sigmoid()": REAL,
    "lib.tanh(x)": REAL, "x.tanh()": REAL,
    "lib.relu(x)": REAL, "x.relu()": REAL,
    "lib.clamp(x, -0.5, 0.75)": REAL, "x.clamp(min=-0.5)": REAL, "x.clamp(max=0.25)": REAL,
    "lib.clamp(x, min=0, max=2)": REAL, "lib.clamp(x, 1e-8, 1 - 1e-8)": REAL,
    "x ** 2": REAL, "x ** 3": REAL, "x ** 1": REAL, "x ** 0": NONZERO, "x.pow(2)": REAL,
    "x ** -1": NONZERO, "x ** -2": NONZERO, "x ** 0.5": POSITIVE, "x ** 1.5": POSITIVE,
    "x + 1.5": REAL, "1.5 + x": REAL, "x + 2": REAL, "2 + x": REAL,
    "x - 2": REAL, "2 - x": REAL, "1 - x": REAL, "0.25 - x": REAL,
    "x * 3": REAL, "0.5 * x": REAL, "x * -1": REAL,
    "x / 4": REAL, "x / 0.3": REAL, "2 / x": NONZERO, "1 / x": NONZERO,
    "2 ** x": REAL, "0.5 ** x": REAL,
    "x.sum()": REAL, "lib.sum(x)": REAL, "x.mean()": REAL, "lib.mean(x)": REAL,
    "x.reshape(-1)": REAL, "x.view(-1)": REAL, "lib.reshape(x, (-1,))": REAL,
    "x.sin().exp()": REAL, "(x * x).mean()": REAL,
}

# -- two inputs, broadcast against each other ------------------------------------------------

BINARY = {
    "a + b": (REAL, REAL),
    "a - b": (REAL, REAL),
    "a * b": (REAL, REAL),
    "a / b": (REAL, NONZERO),
    "a ** b": (POSITIVE, REAL),
    "b * a + a": (REAL, REAL),
    "(a - b) * (a + b)": (REAL, REAL),
}

MATMUL = ("a @ b", "lib.matmul(a, b)", "a.matmul(b)")


@st.composite
def broadcast_pair(draw, domains):
    """Two arrays whose shapes broadcast together (numpy's rules, which torch follows)."""
    shapes_ = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    return [draw(arrays(shape, domain)) for shape, domain in zip(shapes_.input_shapes, domains)]


@st.composite
def matmul_pair(draw):
    """Operands of a 1-D/2-D matmul: vector.vector, matrix@vector, vector@matrix, matrix@matrix."""
    m, n, p = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    left, right = draw(st.sampled_from([((n,), (n,)), ((m, n), (n,)), ((n,), (n, p)), ((m, n), (n, p))]))
    return [draw(arrays(left)), draw(arrays(right))]


@st.composite
def reductions(draw):
    """``(array, expression)`` for sum/mean over one or several dims, with and without keepdim."""
    x = draw(arrays(nonscalar_shapes))
    ndim = x.ndim
    dim = draw(st.one_of(
        st.integers(-ndim, ndim - 1),
        st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple),
        st.lists(st.integers(-ndim, -1), min_size=1, max_size=ndim, unique=True)))
    keepdim = draw(st.booleans())
    template = draw(st.sampled_from([
        "x.{op}(dim={dim!r}, keepdim={keepdim})", "lib.{op}(x, {dim!r}, {keepdim})", "x.{op}({dim!r})"]))
    op = draw(st.sampled_from(["sum", "mean"]))
    return x, template.format(op=op, dim=dim, keepdim=keepdim)


@st.composite
def reshapes(draw):
    """``(array, expression)``: a reshape/view to another shape of the same size, maybe with -1."""
    x = draw(arrays(shapes))
    size = x.size
    target = draw(st.sampled_from([(size,), (1, size), (size, 1), x.shape[::-1], (1, *x.shape), (*x.shape, 1)]))
    if target and draw(st.booleans()):
        i = draw(st.integers(0, len(target) - 1))
        target = target[:i] + (-1,) + target[i + 1:]
    form = draw(st.sampled_from(["x.reshape({t!r})", "x.view({t!r})", "x.reshape({args})", "lib.reshape(x, {t!r})"]))
    args = ", ".join(map(str, target)) if target else "()"
    return x, form.format(t=tuple(target), args=args)


# -- random composite graphs ----------------------------------------------------------------

# Each step combines values computed so far (``u``, ``v``; leaves included).  Picking operands
# among all earlier values reuses nodes, so diamonds and shared leaves come up all the time.
# Every step keeps values bounded and inside its functions' domains, whatever the inputs.
STEPS = (
    "lib.tanh(u + v)", "lib.sin(u - v)", "lib.tanh(u * v)", "lib.sigmoid(u) * v",
    "u / (lib.sigmoid(v) + 0.5)", "lib.cos(u) * v", "-u + v", "u.relu() - v.clamp(-1, 1)",
    "lib.exp(lib.tanh(u))", "lib.log(lib.sigmoid(u) + 0.1)", "lib.tanh(u) ** 2", "2 ** lib.tanh(u)",
    "1 - lib.sigmoid(u)", "u * u", "(u + 1) * (u - v)", "(lib.sigmoid(u) + 0.5) ** lib.tanh(v)",
)


@st.composite
def programs(draw, max_leaves=3, max_steps=6):
    """``(leaf arrays, steps)``; step ``(expression, i, j)`` binds ``u, v`` to values ``i, j``."""
    count = draw(st.integers(1, max_leaves))
    shapes_ = draw(hnp.mutually_broadcastable_shapes(num_shapes=count, min_dims=0, max_dims=2, max_side=3))
    leaves = [draw(arrays(shape)) for shape in shapes_.input_shapes]
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        known = count + len(steps)
        steps.append((draw(st.sampled_from(STEPS)), draw(st.integers(0, known - 1)),
                      draw(st.integers(0, known - 1))))
    return leaves, steps


def run_program(lib, leaves, steps):
    """All values of a program (leaves first), computed with ``lib``."""
    values = list(leaves)
    for expression, i, j in steps:
        values.append(eval(expression, {"lib": lib, "u": values[i], "v": values[j]}))
    return values


# -- tensors to print ------------------------------------------------------------------------

PRINT_DTYPES = (np.float32, np.float64, np.float16, np.int64, np.int32, np.int16, np.uint8, np.bool_)


@st.composite
def printable_arrays(draw):
    """Arrays that exercise torch's printing: every dtype, tiny/huge/mixed magnitudes (sci mode),
    integral floats, nan/inf, wide rows that wrap, and sizes past the 1000-value summary."""
    dtype = np.dtype(draw(st.sampled_from(PRINT_DTYPES)))
    big = draw(st.integers(0, 9)) == 0
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=14 if big else 6)) if big \
        else draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=9))
    if dtype.kind == "b":
        return draw(hnp.arrays(dtype, shape))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        limit = draw(st.sampled_from([9, 999, int(info.max)]))
        low = max(int(info.min), -limit)
        return draw(hnp.arrays(dtype, shape, elements=st.integers(low, min(int(info.max), limit))))
    scale = draw(st.sampled_from([1.0, 1e-6, 1e-3, 1e3, 1e9, 1e20]))
    kind = draw(st.sampled_from(["any", "integral", "small", "special"]))
    if kind == "integral":
        values = st.integers(-1000, 1000).map(float)
    elif kind == "small":
        values = st.floats(-10, 10).map(lambda v: v * scale)
    elif kind == "special":
        values = st.one_of(st.floats(-10, 10), st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0]))
    else:
        values = st.floats(-1e4, 1e4) if dtype != np.float16 else st.floats(-100, 100)
    array = draw(hnp.arrays(np.float64, shape, elements=values))
    with np.errstate(over="ignore"):
        return array.astype(dtype)
