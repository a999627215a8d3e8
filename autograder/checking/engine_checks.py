"""The checks for the 18 engine units, one function per exercise id.

Each check gets a ``Trial`` (see ``autograder.learner.checks``): ``t.rng`` is the case generator (a
fixed seed for the visible check; for the hidden one a fresh seed in a notebook, a seed derived
from the submission when a class is graded), ``t.run(driver, ...)`` hands inputs to a driver
(``autograder.worker.drivers``) that runs the learner's code and reports plain data,
``t.case`` starts a case and ``t.fail`` explains a disagreement. Torch computes every expected
answer here, on the same inputs; no learner object ever reaches this module.

A unit is exercised on its own: an op's ``forward``/``backward`` are called directly with a
``ctx`` built as ``Function.apply`` builds it; the backward pass runs on graphs of checker-made
Functions; no other unit of the learner's engine is involved (stand-ins are for the notebook
answers that use the engine: ``answer_checks``).
"""

import numpy as np
import torch

from autograder.checking import slips
from autograder.checking.slips import agrees, show

F64 = torch.float64
EPS = 1e-8  # the notebook's clamp in binary_cross_entropy_loss
SEED_NEURON = {"x": 6.7, "y": 0.0, "w": 1.0, "b": 0.0}


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

def random_shape(rng, min_ndim=0, max_ndim=3, largest=4):
    return tuple(int(n) for n in rng.integers(1, largest + 1, size=int(rng.integers(min_ndim, max_ndim + 1))))


def shape_for(t, min_ndim=0):
    """A random shape: any up to 4 x 4 x 4 for a hidden check, small enough to read in a visible one."""
    return random_shape(t.rng, min_ndim, 3, 4) if t.hidden else random_shape(t.rng, min_ndim, 2, 3)


def broadcast_pair(t):
    """Two shapes that broadcast together, each maybe missing leading axes or stretched from 1."""
    rng, out = t.rng, shape_for(t, 1)

    def shrink():
        shape = [1 if rng.random() < 0.3 else n for n in out]
        return tuple(shape[int(rng.integers(0, len(shape) + 1)) if rng.random() < 0.3 else 0:])
    return shrink(), shrink()


def uniform(rng, shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)


def away_from_zero(rng, shape, low=0.3, high=2.0):
    return uniform(rng, shape, low, high) * rng.choice([-1.0, 1.0], size=shape)


def torch_grads(function, arrays, grad, **options):
    """d(function)/d(each array), with ``grad`` as the gradient of the output: torch's answer."""
    tensors = [torch.tensor(a, dtype=F64, requires_grad=True) for a in arrays]
    out = function(*tensors, **options)
    grads = torch.autograd.grad(out, tensors, torch.tensor(np.broadcast_to(grad, out.shape), dtype=F64),
                                allow_unused=True)
    return [np.zeros(a.shape) if g is None else g.numpy() for a, g in zip(arrays, grads)]


def reduce_to(array, shape):
    """What Node.apply does with a gradient of a broadcast shape, computed by torch."""
    return torch.as_tensor(np.asarray(array, np.float64)).sum_to_size(shape).numpy()


def neuron_steps(x, y, w, b):
    """The tutorial's neuron and loss in torch, one entry per op: (op, inputs, options, grad arriving).

    z = w*x + b, p = sigmoid(z), L = -(y log(clamp p) + (1 - y) log(1 - clamp p)): the numbers
    each op's backward meets when the notebook calls ``loss.backward()``.
    """
    steps = []

    def step(op, inputs, options, output):
        output.retain_grad()
        steps.append((op, inputs, options, output))
        return output
    xt, yt, wt, bt = (torch.tensor(v, dtype=F64, requires_grad=True) for v in (x, y, w, b))
    one = torch.tensor(1.0, dtype=F64)
    wx = step("Mul", [wt, xt], {}, wt * xt)
    z = step("Add", [wx, bt], {}, wx + bt)
    s = step("Sigmoid", [z], {}, torch.sigmoid(z))
    p = step("Clamp", [s], {"min": EPS, "max": 1 - EPS}, torch.clamp(s, EPS, 1 - EPS))
    log_p = step("Log", [p], {}, torch.log(p))
    first = step("Mul", [yt, log_p], {}, yt * log_p)
    rest = step("Sub", [one, p], {}, one - p)
    log_rest = step("Log", [rest], {}, torch.log(rest))
    not_y = 1 - yt
    second = step("Mul", [not_y, log_rest], {}, not_y * log_rest)
    total = step("Add", [first, second], {}, first + second)
    loss = step("Neg", [total], {}, -total)
    loss.backward()
    return [(op, [i.detach().numpy().copy() for i in inputs], options, out.grad.numpy().copy())
            for op, inputs, options, out in steps]


def random_neuron(rng, soft_label=False):
    """Random numbers for the neuron; a soft label y in (0, 1) sends a gradient down both log terms."""
    y = round(float(rng.uniform(0.1, 0.9)), 2) if soft_label else float(rng.integers(0, 2))
    return {"x": float(rng.uniform(-3, 3)), "y": y, "w": float(rng.uniform(-2, 2)), "b": float(rng.uniform(-1, 1))}


def neuron_cases(t, op):
    """This op's steps in the notebook's neuron: at the notebook's numbers (visible) or random ones (hidden).
    Steps that receive no gradient (the log term y = 0 switches off) test nothing and are left out."""
    numbers = random_neuron(t.rng, soft_label=True) if t.hidden else SEED_NEURON
    label = ", ".join(f"{k}={v:g}" for k, v in numbers.items())
    return [(inputs, options, grad, f"the neuron at {label}")
            for name, inputs, options, grad in neuron_steps(**numbers) if name == op and np.any(grad)]


# --------------------------------------------------------------------------
# Op backward rules: Op.forward/Op.backward called directly, compared with torch
# --------------------------------------------------------------------------

PROBE = ("the same inputs again, with an incoming gradient that cannot hide the slip (an incoming gradient of "
         "0 or ±1, or one that sums to 0 or ±1, makes some different slips give the same numbers)")


def check_op(t, op_name, arrays, grad, torch_fn, *, names, options=None, known=None, where="", hint=None,
             again=None, sums_along=None):
    """One case: the learner's ``<op>.backward`` against torch, each gradient reduced to its input's
    shape as Node.apply reduces it. ``known(i)`` lists slips for input i as (slip id, words, wrong value);
    ``hint(message)`` gives words for an error the learner's backward raised, or None; ``again(grad)``
    runs this case with another incoming gradient: when this one could hide which slip it is (its entries,
    or its sums along ``sums_along``), the slip is named from a run with one that cannot (``clear_grad``)."""
    options = options or {}
    described = ", ".join(f"{n} = {show(a)}" for n, a in zip(names, arrays))
    described += "".join(f", {k} = {v!r}" for k, v in options.items()) + f", incoming grad = {show(grad)}"
    t.case(described + (f"  ({where})" if where else ""))
    seen = t.run("op_backward", op=op_name, arrays=[np.asarray(a) for a in arrays], grad=np.asarray(grad),
                 options=options, what=f"{op_name}.backward", hint=hint)
    if seen["kind"] == "list" and len(arrays) > 1:
        t.fail(f"{op_name}.backward returned a list; return a tuple, one gradient per input: "
               f"`return grad_{names[0]}, grad_{names[1]}`")
    returned = seen["grads"]
    if seen["count"] < len(arrays):
        t.fail(f"{op_name}.backward returned {seen['count']} gradient(s) but {op_name} has "
               f"{len(arrays)} inputs ({', '.join(names)}): return one per input, in order")
    # values read after backward: another node may hold the very incoming array (Add hands one array to
    # both its inputs), and an input's array holds that tensor's numbers; both must be as they were
    if not _unchanged(seen["incoming_after"], grad):
        t.fail(f"{op_name}.backward changed the incoming gradient array in place; another node may hold the "
               "very same array (Add hands one array to both its inputs), so compute a new one "
               "(`grad - ...`, not `grad -= ...`)", torch_value=np.asarray(grad), mine=seen["incoming_after"])
    for name, array, after in zip(names, arrays, seen["inputs_after"]):
        if not _unchanged(after, array):
            t.fail(f"{op_name} changed the array of its input {name} in place (in forward or backward); that "
                   f"array holds {name}'s numbers, so compute a new one instead", torch_value=np.asarray(array),
                   mine=after)
    expected = torch_grads(torch_fn, arrays, grad, **options)
    local = torch_grads(torch_fn, arrays, np.ones(np.shape(grad)), **options)
    mine = []
    for name, array, g in zip(names, arrays, returned):
        if g is None:
            t.fail(f"{op_name}.backward returned None as the gradient for {name}")
        if isinstance(g, dict):
            t.fail(f"{op_name}.backward returned {g['repr']} as the gradient for {name}; return a numpy array "
                   "(or a number)")
        g = fitted(g, np.shape(array))
        if g is None:
            t.fail(f"the gradient for {name} has shape {np.shape(returned[len(mine)])}, which does not fit "
                   f"{name}'s shape {np.shape(array)} ({slips.words(slips.WRONG_SHAPE)}): a gradient has its "
                   "input's shape (or the output's broadcast shape)", slip=slips.Slip(slips.WRONG_SHAPE))
        mine.append(g)
    if all(agrees(m, e) for m, e in zip(mine, expected)):
        return
    if again is not None and where != PROBE and hides_slips(grad, sums_along):
        current, cases = t.current, t.cases
        again(clear_grad(t, np.shape(grad), sums_along))  # fails, naming the slip, if it can
        t.current, t.cases = current, cases
        first = next(i for i, (m, e) in enumerate(zip(mine, expected)) if not agrees(m, e))
        t.fail(f"your gradient for {names[first]}", torch_value=expected[first], mine=mine[first])
    swapped = slips.explain_pair(mine, expected)
    for i, (name, array) in enumerate(zip(names, arrays)):
        if agrees(mine[i], expected[i]):
            continue
        shape = np.shape(array)
        candidates = [(slip, words, fitted(value, shape)) for slip, words, value in (known(i) if known else [])]
        known_here = [entry for entry in candidates if entry[2] is not None]
        # exact slips first (this op's own, a dropped or unused incoming gradient, swapped inputs),
        # then the guesses (sign, factor): with grad = -1, `1 / x` is a dropped grad, not a sign slip
        slip = (slips.explain(mine[i], expected[i], known=known_here, incoming=fitted(grad, shape),
                              local=local[i], general=False) or swapped
                or slips.explain(mine[i], expected[i]))
        t.fail(f"your gradient for {name}", torch_value=expected[i], mine=mine[i], slip=slip)


def hides_slips(grad, dim=None):
    """Whether this incoming gradient can make different slips give the same numbers: an entry of 0 or
    ±1 (`-grad / x` is then `1 / x`, a dropped grad), or, along ``dim``, sums of 0 or ±1."""
    grad = np.abs(np.asarray(grad, np.float64))
    close = np.isclose(grad, 1, atol=1e-3) | (grad < 1e-3)
    if dim is not None and np.ndim(grad):
        sums = np.abs(np.asarray(grad, np.float64).sum(axis=dim))
        close = np.append(close.ravel(), (np.isclose(sums, 1, atol=1e-3) | (sums < 1e-3)).ravel())
    return bool(np.any(close))


def clear_grad(t, shape, dim=None):
    """An incoming gradient that hides no slip: entries of 1.2 to 2.5 in size, of either sign."""
    while True:
        grad = t.rng.uniform(1.2, 2.5, size=shape) * t.rng.choice([-1.0, 1.0], size=shape)
        if not hides_slips(grad, dim):
            return grad


def _unchanged(after, before):
    """An array read back after the learner's call holds exactly what was handed in (NaN where NaN)."""
    return not isinstance(after, dict) and np.shape(after) == np.shape(before) and bool(
        np.array_equal(np.asarray(after, np.float64), np.asarray(before, np.float64), equal_nan=True))


def _described(value):
    """What a driver said came back (``plain``), in words."""
    if isinstance(value, dict) and "sequence" in value:
        return f"a {value['kind']} of {len(value['sequence'])} item(s)"
    if isinstance(value, dict) and "tensor" in value:
        return "a tensor"
    if isinstance(value, dict):
        return str(value.get("repr", value.get("object", "?")))
    return repr(value)


def fitted(gradient, shape):
    """``gradient`` summed down to ``shape`` as the engine does after backward, or None if it cannot be."""
    try:
        array = np.asarray(gradient, dtype=np.float64)
        return array if array.shape == tuple(shape) else reduce_to(array, shape)
    except (RuntimeError, ValueError, TypeError):
        return None


def random_grad(t, shape):
    return t.rng.normal(size=shape)


def pow_backward(t):
    def known(x, n, grad):
        return lambda i: ([(slips.WRONG_RULE, "you used the derivative of x ** 2 (2 * x) for every exponent; "
                            "use ctx.exponent: d/dx x ** n = n * x ** (n - 1)", grad * 2 * x)] if n != 2 else []) + [
            (slips.WRONG_RULE, "the power must drop by one: d/dx x ** n = n * x ** (n - 1), not n * x ** n",
             grad * n * x ** n),
            (slips.FACTOR, f"the factor n is missing ({slips.words(slips.FACTOR)} {n:g}): "
             "d/dx x ** n = n * x ** (n - 1)", grad * x ** (n - 1))]

    def case(x, n, grad, where=""):
        check_op(t, "Pow", [x], grad, lambda a, exponent: a ** exponent, names=["x"],
                 options={"exponent": n}, known=known(x, n, grad), where=where, again=lambda g: case(x, n, g, PROBE))
    if not t.hidden:
        case(np.array(3.0), 2, np.array(1.0), "the notebook's example: y = x ** 2 at x = 3")
        x = torch.tensor(16.0, dtype=F64)  # sin(x ** 2) at x = 4 sends cos(16) back to x ** 2
        case(np.array(4.0), 2, np.array(float(torch.cos(x))), "the notebook's example: z = sin(x ** 2) at x = 4")
        case(np.array([1.0, 2.0, 3.0]), 2, np.full(3, 1 / 3), "the notebook's example: y = (x ** 2).mean()")
    for _ in range(4 if not t.hidden else 12):
        n = float(t.rng.choice([3, -1, 0.5, 1.5, 1, 0, -2, 2.5, 2, 4]))
        shape = shape_for(t) if t.hidden else (3,)
        x = uniform(t.rng, shape, 0.3, 2.0) if n != int(n) else away_from_zero(t.rng, shape)
        case(x, n, random_grad(t, shape))


def sin_backward(t):
    def known(x, grad):
        return lambda i: [(slips.WRONG_RULE, "you used sin(x): the derivative of sin is cos", grad * np.sin(x)),
                          (slips.WRONG_RULE, "-sin(x) is the derivative of cos, not of sin", -grad * np.sin(x))]

    def case(x, grad, where=""):
        check_op(t, "Sin", [x], grad, torch.sin, names=["x"], known=known(x, grad), where=where,
                 again=lambda g: case(x, g, PROBE))
    if not t.hidden:
        case(np.array(16.0), np.array(1.0), "the notebook's example: z = sin(y) with y = x ** 2 = 16")
    for _ in range(4 if not t.hidden else 12):
        shape = shape_for(t) if t.hidden else (4,)
        case(uniform(t.rng, shape, -4, 4), random_grad(t, shape))


def binary_op_check(op_name, torch_fn, known):
    def check(t):
        def case(a, b, grad, where=""):
            check_op(t, op_name, [a, b], grad, torch_fn, names=["a", "b"], known=known(a, b, grad), where=where,
                     again=lambda g: case(a, b, g, PROBE))
        for (a, b), _, grad, where in neuron_cases(t, op_name):
            case(a, b, grad, where)
        if t.hidden:  # broadcasting both ways, on every run: b stretched into a, then a into b
            big = shape_for(t, 2)
            small = tuple(1 if t.rng.random() < 0.5 else n for n in big[1:])
            for shape_a, shape_b in ((big, small), (small, big)):
                a, b = uniform(t.rng, shape_a), uniform(t.rng, shape_b)
                case(a, b, random_grad(t, np.broadcast_shapes(shape_a, shape_b)), "broadcasting")
        for number in range(3 if not t.hidden else 8):
            shape_a, shape_b = ((2, 3), (3,)) if number == 0 and not t.hidden else broadcast_pair(t)
            a, b = uniform(t.rng, shape_a), uniform(t.rng, shape_b)
            case(a, b, random_grad(t, np.broadcast_shapes(shape_a, shape_b)))
    return check


add_backward = binary_op_check(
    "Add", lambda a, b: a + b,
    lambda a, b, grad: lambda i: [(slips.WRONG_RULE, "-grad is subtraction's rule for b; for a + b both "
                                   "gradients are grad", -grad)] if i == 1 else [])
sub_backward = binary_op_check(
    "Sub", lambda a, b: a - b,
    lambda a, b, grad: lambda i: [(slips.SIGN, f"{slips.words(slips.SIGN)} for b: d(a - b)/db = -1, so b's "
                                   "gradient is -grad", grad)] if i == 1 else [
        (slips.SIGN, f"{slips.words(slips.SIGN)} for a: d(a - b)/da = +1", -grad)])
mul_backward = binary_op_check(
    "Mul", lambda a, b: a * b,
    lambda a, b, grad: lambda i: [(
        slips.WRONG_SAVED, f"{slips.words(slips.WRONG_SAVED)}: the gradient for {'ab'[i]} uses {'ab'[i]} itself; "
        f"d(a * b)/d{'ab'[i]} is the *other* input, {'ba'[i]}", grad * (a, b)[i])])


def neg_backward(t):
    def case(x, grad, where=""):
        check_op(t, "Neg", [x], grad, torch.neg, names=["x"], where=where, again=lambda g: case(x, g, PROBE),
                 known=lambda i: [(slips.SIGN, f"{slips.words(slips.SIGN)}: you returned grad; the local "
                                   "derivative of -x is -1, so return -grad", grad)])
    for (x,), _, grad, where in neuron_cases(t, "Neg"):
        case(x, grad, where)
    for _ in range(3 if not t.hidden else 10):
        shape = shape_for(t)
        case(uniform(t.rng, shape), random_grad(t, shape))


def sigmoid_backward(t):
    def known(z, grad):
        s = 1 / (1 + np.exp(-z))
        again = 1 / (1 + np.exp(-s))
        return lambda i: [
            (slips.MISSING_TERM, "the factor (1 - s) is missing: d sigmoid(z)/dz = s * (1 - s), with "
             "s = sigmoid(z)", grad * s),
            (slips.MISSING_TERM, "the factor s is missing: d sigmoid(z)/dz = s * (1 - s), with s = sigmoid(z)",
             grad * (1 - s)),
            (slips.WRONG_SAVED, f"{slips.words(slips.WRONG_SAVED)}: ctx.saved_tensors already holds s = sigmoid(z) "
             "(forward saved its output); applying sigmoid to it again is one time too many",
             grad * again * (1 - again)),
            (slips.WRONG_RULE, "1 - s ** 2 is tanh's derivative; sigmoid's is s * (1 - s)", grad * (1 - s * s))]

    def case(z, grad, where=""):
        check_op(t, "Sigmoid", [z], grad, torch.sigmoid, names=["z"], known=known(z, grad), where=where,
                 again=lambda g: case(z, g, PROBE))
    for (z,), _, grad, where in neuron_cases(t, "Sigmoid"):
        case(z, grad, where)
    for _ in range(3 if not t.hidden else 10):
        shape = shape_for(t)
        case(uniform(t.rng, shape, -4, 4), random_grad(t, shape))


def log_backward(t):
    def known(x, grad):
        return lambda i: [(slips.WRONG_RULE, "you multiplied by x: d/dx log(x) = 1 / x, so divide grad by x",
                           grad * x),
                          (slips.WRONG_RULE, "you used log(x) itself; its derivative is 1 / x", grad * np.log(x)),
                          (slips.WRONG_RULE, "d/dx log(x) is 1 / x, not 1 / x ** 2", grad / x ** 2)]

    def case(x, grad, where=""):
        check_op(t, "Log", [x], grad, torch.log, names=["x"], known=known(x, grad), where=where,
                 again=lambda g: case(x, g, PROBE))
    for (x,), _, grad, where in neuron_cases(t, "Log"):
        case(x, grad, where)
    for _ in range(3 if not t.hidden else 10):
        shape = shape_for(t)
        case(uniform(t.rng, shape, 0.1, 5.0), random_grad(t, shape))


def clamp_backward(t):
    def known(x, low, high, grad):
        inside = (x >= (-np.inf if low is None else low)) & (x <= (np.inf if high is None else high))
        strictly = (x > (-np.inf if low is None else low)) & (x < (np.inf if high is None else high))
        return lambda i: [
            (slips.PASSED_THROUGH, "where clamp cut x off (x below min or above max) its output does not change "
             "with x, so the gradient there is 0; you passed grad through everywhere", grad),
            (slips.WRONG_MASK, "the mask is the wrong way round: the gradient flows where x is inside [min, max] "
             "and is 0 where clamp cut it off", grad * ~inside),
            (slips.WRONG_MASK, "at x exactly equal to a bound torch lets the gradient through: test x >= min and "
             "x <= max", grad * strictly)]

    def case(x, low, high, grad, where=""):
        check_op(t, "Clamp", [x], grad, lambda a, min, max: torch.clamp(a, min, max), names=["x"],
                 options={"min": low, "max": high}, known=known(x, low, high, grad), where=where,
                 again=lambda g: case(x, low, high, g, PROBE))
    for (x,), options, grad, where in neuron_cases(t, "Clamp"):
        case(x, options["min"], options["max"], grad, where)
    for number in range(3 if not t.hidden else 10):
        low, high = [(-0.5, 0.75), (-0.25, None), (None, 0.5)][number % 3]
        shape = shape_for(t, 1)[:-1] + (3,)
        x = uniform(t.rng, shape, -1.5, 1.5)
        bounds = [b for b in (low, high) if b is not None]
        x.flat[:len(bounds)] = bounds  # exactly on a bound: torch's >= / <= matter here
        case(x, low, high, random_grad(t, shape))


def mean_backward(t):
    def case(x, dim, keepdim, grad=None, where=""):
        out = torch.tensor(x).mean(dim=dim, keepdim=keepdim)
        grad = random_grad(t, tuple(out.shape)) if grad is None else grad
        count = x.size // max(1, out.numel())
        full = np.broadcast_to(np.expand_dims(grad, _axes(dim, x.ndim)) if dim is not None and not keepdim
                               else grad, x.shape)

        def known(i):
            found = [(slips.FACTOR, f"you did not divide by the number of elements averaged ({count}): each one "
                      f"gets grad / {count}", full)]
            if count != x.size:
                found.append((slips.WRONG_AXES, f"divide by the number of elements averaged along dim ({count}), "
                              f"not by all {x.size} elements of x", full / x.size))
            if dim is not None and not keepdim and grad.ndim:
                try:
                    found.append((slips.WRONG_AXES, "with keepdim=False the averaged axis is gone from grad; "
                                  "put it back (np.expand_dims) before broadcasting, or the values land on the "
                                  "wrong axis", np.broadcast_to(grad, x.shape) / count))
                except ValueError:
                    pass
            return found
        check_op(t, "Mean", [x], grad, lambda a, dim, keepdim: a.mean(dim=dim, keepdim=keepdim), names=["x"],
                 options={"dim": dim, "keepdim": keepdim}, known=known, where=where,
                 again=lambda g: case(x, dim, keepdim, g, PROBE), hint=lambda message: (
                     MEAN_DIMS_GONE if "broadcast" in message and dim is not None and not keepdim else None))
    if not t.hidden:
        case(np.array([1.0, 4.0, 9.0]), None, False, np.array(1.0),
             "the notebook's example: (x ** 2).mean(), x = [1, 2, 3]")
        case(uniform(t.rng, (2, 3)), 1, False)
        case(uniform(t.rng, (2, 3)), 0, True)
        case(uniform(t.rng, (3, 2, 2)), (0, 2), False)
        case(uniform(t.rng, (2, 4)), -1, False)
    if t.hidden:  # averaging an empty axis away: no value, and a gradient of x's shape
        case(uniform(t.rng, (int(t.rng.integers(1, 4)), 0)), 0, bool(t.rng.integers(2)))
    for _ in range(0 if not t.hidden else 12):
        shape = random_shape(t.rng, 1)
        dims = [None, int(t.rng.integers(-len(shape), len(shape)))]
        if len(shape) > 1:
            dims.append(tuple(sorted(int(d) for d in t.rng.choice(len(shape), size=2, replace=False))))
        case(uniform(t.rng, shape), dims[int(t.rng.integers(len(dims)))], bool(t.rng.integers(2)))


MEAN_DIMS_GONE = (
    "numpy could not line grad up with x's shape. With keepdim=False the mean removed the averaged "
    "axes, so grad has fewer dimensions than x and broadcasting matches them from the right, against "
    "the wrong axes. Put the reduced dimensions back first, as size-1 axes where dim says "
    "(np.expand_dims(grad, ctx.dim): grad then has the shape keepdim=True would have given), and only "
    "then broadcast to x's shape")


def _axes(dim, ndim):
    return tuple(d % ndim for d in ((dim,) if isinstance(dim, int) else dim))


# --------------------------------------------------------------------------
# sum_to_shape: against the backward of torch's expand
# --------------------------------------------------------------------------

def sum_to_shape(t):
    def case(grad, shape, where=""):
        t.case(f"grad of shape {grad.shape} = {show(grad)}, shape = {shape}" + (f"  ({where})" if where else ""))
        seen = t.run("sum_to_shape", grad=grad, shape=list(shape), what="sum_to_shape")
        leaf = torch.zeros(shape, dtype=torch.from_numpy(grad).dtype, requires_grad=True)
        expected = torch.autograd.grad(leaf.expand(grad.shape), leaf, torch.tensor(grad))[0].numpy()
        rtol, atol = (slips.RTOL, slips.ATOL) if grad.dtype == np.float64 else (2e-5, 1e-5)
        if not _unchanged(seen["grad_after"], grad):
            t.fail("sum_to_shape changed the gradient array it was given; compute a new one instead",
                   torch_value=grad, mine=seen["grad_after"])
        array = seen["result"]
        if isinstance(array, dict) or array.dtype.kind not in "fc":
            returned = array["unreadable"] if isinstance(array, dict) else f"an array of {array.dtype}"
            t.fail(f"sum_to_shape returned {returned}; it must return a numpy array of numbers")
        if agrees(array, expected, rtol, atol) and array.shape == tuple(shape):
            if array.dtype != grad.dtype:
                t.fail(f"sum_to_shape changed the dtype from {grad.dtype} to {array.dtype}; keep grad's dtype")
            return
        added = grad.ndim - len(shape)
        leading = grad.sum(axis=tuple(range(added)))
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and leading.shape[i] != 1)
        known = [
            (slips.NOT_REDUCED, f"{slips.words(slips.NOT_REDUCED)}: your result still has the broadcast shape "
             f"{grad.shape}, but the input had shape {tuple(shape)}; sum over the axes broadcasting added or "
             "stretched", grad),
            (slips.NOT_REDUCED, "you summed the leading axes broadcasting added, but not the size-1 axes it "
             f"stretched ({slips.words(slips.NOT_REDUCED)})", leading),
            (slips.WRONG_SHAPE, "keep the stretched size-1 axes: sum them with keepdims=True "
             f"({slips.words(slips.WRONG_SHAPE)})", leading.sum(axis=stretched)),
            (slips.FACTOR, "you averaged; broadcasting reused each value several times, so their gradients add "
             "up: sum", expected * shape_size(shape) / max(1, grad.size)),
            (slips.WRONG_AXES, "you summed over every axis; only the axes broadcasting added or stretched get "
             "summed", np.asarray(grad.sum()))]
        slip = slips.explain(array, expected, known=known, rtol=rtol, atol=atol)
        if slip is None and array.shape != tuple(shape):
            slip = slips.Slip(slips.WRONG_SHAPE, f"{slips.words(slips.WRONG_SHAPE)}: yours has shape {array.shape}, "
                              f"the input had shape {tuple(shape)}")
        t.fail("the reduced gradient", torch_value=expected, mine=array, slip=slip)
    if not t.hidden:
        case(np.array([0.5, 1.5, -2.0]), (), "w * xs with a number w and a vector xs")
        case(uniform(t.rng, (2, 3)), (3,))
        case(uniform(t.rng, (2, 3)), (2, 1))
        case(uniform(t.rng, (4, 2, 3)).astype(np.float32), (1, 3))
    if t.hidden:  # an empty axis that broadcasting stretched from 1: it sums to zeros, not to nothing
        rows = int(t.rng.integers(1, 4))
        case(uniform(t.rng, (rows, 0)), (rows, 1))
        case(uniform(t.rng, (rows, 0)), (1, 1))
    for _ in range(0 if not t.hidden else 12):
        shape = random_shape(t.rng)
        full = tuple(int(t.rng.integers(1, 4)) for _ in range(int(t.rng.integers(0, 3)))) + tuple(
            int(t.rng.integers(2, 5)) if n == 1 and t.rng.random() < 0.6 else n for n in shape)
        if full == shape:
            full = (2,) + full
        dtype = np.float32 if t.rng.random() < 0.3 else np.float64
        case(uniform(t.rng, full).astype(dtype), shape)


def shape_size(shape):
    return int(np.prod(shape, dtype=np.int64))


# --------------------------------------------------------------------------
# AccumulateGrad.apply: the running sum in leaf.grad
# --------------------------------------------------------------------------

def accumulate_grad(t):
    def sequence(leaf_values, rounds, where=""):
        """``rounds``: a list of [(leaf index, gradient array), ...] applied in order; the same array
        object may go to two leaves, as Add sends it. After each round the driver overwrites the array it
        handed in with fresh numbers (``scribbles``), as the backward pass may reuse it; torch replays
        the same rounds here. A leaf whose .grad is that very array shows the new numbers."""
        t.case(", ".join(f"leaf {k} = tensor({show(v)}, requires_grad=True)" for k, v in enumerate(leaf_values))
               + "; AccumulateGrad(leaf).apply(gradient), in order: "
               + "; ".join(f"leaf {i} gets {show(g)}" for i, g in rounds) + (f"  ({where})" if where else "")
               + "; a reference g = leaf.grad is kept once it is set")
        gradients = []
        for _, g in rounds:
            if not any(g is known for known in gradients):
                gradients.append(g)
        order = [[i, next(k for k, known in enumerate(gradients) if known is g)] for i, g in rounds]
        scribbles = [(uniform(t.rng, np.shape(g), 50, 100)).astype(g.dtype) for _, g in rounds]
        seen = t.run("accumulate_grad", leaf_values=list(leaf_values), gradients=gradients, rounds=order,
                     scribbles=scribbles, what="AccumulateGrad.apply")
        arrays = [np.array(g) for g in gradients]  # the handed-in arrays, as the driver leaves them
        torch_leaves = [torch.tensor(v, requires_grad=True) for v in leaf_values]
        torch_kept = [None] * len(torch_leaves)
        sent = [[] for _ in torch_leaves]
        for step, ((i, index), scribble, mine) in enumerate(zip(order, scribbles, seen["steps"]), 1):
            given = arrays[index].copy()
            sent[i].append(given)
            torch_leaves[i].backward(torch.tensor(given))
            after = f"after gradient {step} of {len(rounds)}"
            if not _unchanged(mine["given_after"], given):
                t.fail(f"{after}: AccumulateGrad.apply changed the gradient array it was given; "
                       "add it into leaf.grad, leave `grad` alone", torch_value=given, mine=mine["given_after"])
            returned = mine["returned"]
            if not (isinstance(returned, dict) and returned.get("sequence") == []):
                t.fail(f"AccumulateGrad.apply returned {_described(returned)}; a leaf has no inputs to pass "
                       "gradients on to, so it returns an empty tuple: `return ()`")
            arrays[index][...] = scribble
            for k, (reference, grad, kept) in enumerate(zip(torch_leaves, mine["leaves"], mine["kept"])):
                if reference.grad is not None and torch_kept[k] is None:
                    torch_kept[k] = reference.grad
                expected = None if reference.grad is None else reference.grad.numpy()
                if expected is None:
                    if grad is not None:
                        t.fail(f"{after}: leaf {k} got a .grad although no gradient was sent to it")
                    continue
                if grad is None:
                    t.fail(f"{after}: leaf {k}.grad is None, but a gradient was sent to it", torch_value=expected,
                           mine=None)
                if not grad["tensor"]:
                    t.fail(f"{after}: leaf {k}.grad is {grad['type']}; it must be a Tensor, as "
                           "torch's x.grad is (wrap the array: Tensor._make(...))")
                data = grad["data"]
                if isinstance(data, dict):
                    t.fail(f"{after}: the array in leaf {k}.grad is {data['repr']}; it must be a numpy array")
                if not agrees(data, expected):
                    known = [(slips.SHARED, f"leaf {k}.grad {slips.words(slips.SHARED)}: it holds the very array "
                              "it was given, which the backward pass reuses (and Add sends to another node too) -- "
                              "here it was overwritten after the call; store a copy the first time (np.array(grad))",
                              a) for a in arrays]
                    if len(sent[k]) > 1:
                        known.append((slips.NOT_ACCUMULATED, f"{slips.words(slips.NOT_ACCUMULATED)}: leaf.grad holds "
                                      "only the latest gradient; it was overwritten instead of added to (gradients "
                                      "add up over backward calls)", sent[k][-1]))
                    t.fail(f"{after}: leaf {k}.grad", torch_value=expected, mine=data,
                           slip=slips.explain(data, expected, known=known))
                leaf_array = reference.detach().numpy()
                if data.dtype != leaf_array.dtype or data.shape != leaf_array.shape:
                    t.fail(f"{after}: leaf {k}.grad has dtype {data.dtype} and shape {data.shape}; "
                           f"torch keeps the leaf's: {leaf_array.dtype}, {leaf_array.shape}")
                held = torch_kept[k].numpy()
                if not agrees(kept["tensor"], held):
                    t.fail(f"{after}: g = leaf {k}.grad, kept from when it was first set,", torch_value=held,
                           mine=kept["tensor"], slip=slips.Slip(slips.NEW_GRAD,
                               f"{slips.words(slips.NEW_GRAD)}: torch adds into the existing .grad in place, so a "
                               "reference kept before a second backward sees the sum; yours made a new tensor "
                               "(`leaf.grad = leaf.grad + grad` or `Tensor(...)`). Add into it: "
                               "`leaf.grad._array += grad`"))
                if not agrees(kept["array"], held):
                    t.fail(f"{after}: the array of leaf {k}.grad, kept from when it was first set,", torch_value=held,
                           mine=kept["array"], slip=slips.Slip(slips.NEW_GRAD,
                               f"{slips.words(slips.NEW_GRAD)}: `leaf.grad._array = leaf.grad._array + grad` puts a "
                               "new array in .grad; add in place, as torch does, so everything holding it sees the "
                               "sum: "
                               "`leaf.grad._array += grad`"))
    if not t.hidden:
        four = np.array(4.0, np.float32)
        sequence([2.0], [(0, four), (0, four.copy())], "the notebook's example: x = 2, y = x ** 2, backward twice")
        sequence([3.0], [(0, np.array(6.0, np.float32))], "the notebook's example: x = 3, one backward")
    for _ in range(2 if not t.hidden else 8):
        shape = random_shape(t.rng, 0, 2)
        dtype = np.float64 if t.rng.random() < 0.5 else np.float32
        n_leaves = int(t.rng.integers(1, 4))
        values = [uniform(t.rng, shape).astype(dtype) for _ in range(n_leaves)]
        rounds = []
        for _ in range(int(t.rng.integers(2, 5))):
            g = uniform(t.rng, shape).astype(dtype)
            rounds.append((int(t.rng.integers(n_leaves)), g))
            if n_leaves > 1 and t.rng.random() < 0.5:  # one array sent to two leaves, as Add sends it
                rounds.append(((rounds[-1][0] + 1) % n_leaves, g))
        sequence(values, rounds)


# --------------------------------------------------------------------------
# Tensor.zero_: cleared in place, returns itself
# --------------------------------------------------------------------------

def zero_(t):
    def case(values, where=""):
        t.case(f"a tensor holding {show(values)} (dtype {values.dtype}); an array and a view of its data kept "
               "from before zero_()" + (f"  ({where})" if where else ""))
        marker = (np.arange(values.size).reshape(values.shape) + 7).astype(values.dtype)
        seen = t.run("zero_", values=values, marker=marker, what="Tensor.zero_")
        reference = torch.tensor(values)
        kept, torch_view = reference.numpy(), reference.reshape(-1)[::2]
        torch_returned = reference.zero_()
        zeros = reference.numpy().copy()
        data, view = seen["data"], seen["view"]
        if isinstance(data, dict) or isinstance(view, dict):
            t.fail(f"after zero_ the tensor's array is {data['repr'] if isinstance(data, dict) else 'an array'}; "
                   "it must stay a numpy array")
        if not agrees(data, zeros):
            finite = np.isfinite(np.asarray(values, np.float64))
            slip = slips.Slip(slips.NAN_TIMES_ZERO, "multiplying by 0 leaves nan where the tensor held nan or inf "
                              "(nan * 0 and inf * 0 are nan): assign the zeros, self._array[...] = 0") \
                if not finite.all() and agrees(data, np.where(finite, 0.0, np.nan)) else None
            t.fail("the values after zero_()", torch_value=zeros, mine=data, slip=slip)
        if data.dtype != values.dtype or data.shape != values.shape:
            t.fail(f"zero_ changed dtype/shape to {data.dtype}/{data.shape}; keep {values.dtype}/{values.shape}")
        if not agrees(seen["kept"], kept) or not agrees(view, torch_view.numpy()):
            t.fail("an array (and a view of it) taken from the tensor before zero_()", torch_value=kept,
                   mine=seen["kept"], slip=slips.Slip(slips.NOT_IN_PLACE, "zero_ put a new array in the tensor; "
                   "clear the one that is there, in place (self._array[...] = 0), so every view of it (like x.grad "
                   "held elsewhere) sees the zeros"))
        reference.data = torch.tensor(marker)  # what zero_ returned follows only if it is the tensor itself
        expected = torch_returned.numpy()
        after = seen["returned_after"]
        if not (isinstance(after, dict) and "tensor" in after and agrees(after["tensor"], expected)):
            t.fail(f"zero_ returned {_described(seen['returned'])}, not the tensor itself; like torch's, it "
                   "returns the tensor (that is why `x.grad.zero_()` shows tensor(0.)): `return self`")
    if not t.hidden:
        case(np.array(4.0, np.float32), "the notebook's example: x.grad = tensor(4.), then x.grad.zero_()")
        case(np.array([0.6667, 1.3333, 2.0], np.float32), "the notebook's vector x.grad")
    if t.hidden:  # on every run: a gradient that overflowed or went undefined is cleared too
        dtype = t.rng.choice([np.float32, np.float64])
        values = (uniform(t.rng, shape_for(t, 1)) * 10).astype(dtype)
        values.flat[:3] = [np.nan, np.inf, -np.inf][:values.size]
        t.rng.shuffle(values.reshape(-1))
        case(values, "nan and inf")
    for _ in range(2 if not t.hidden else 8):
        dtype = t.rng.choice([np.float32, np.float64, np.int64])
        case((uniform(t.rng, shape_for(t)) * 10).astype(dtype))


# --------------------------------------------------------------------------
# Tensor.detach: same data, no graph
# --------------------------------------------------------------------------

def _backward_error(function):
    try:
        function()
    except RuntimeError as error:
        return str(error).splitlines()[0]
    return None


def detach(t):
    def case(values, kind, where=""):
        t.case(f"x = tensor({show(values)}, requires_grad=True); detaching {kind}; then writing into the "
               "detached tensor's array, and binding a new array to it" + (f"  ({where})" if where else ""))
        x = torch.tensor(values, requires_grad=True)
        reference = {"x": x, "x * 3": x * 3, "a tensor without grad": torch.tensor(values)}[kind]
        expected = reference.detach()
        shape = tuple(expected.shape)
        marker, other = np.full(shape, 7.0, np.float32), np.full(shape, -5.0, np.float32)
        seen = t.run("detach", values=values, kind=kind, marker=marker, other=other, what="Tensor.detach")
        if not seen["is_tensor"]:
            t.fail(f"detach returned {seen['type']}; it must return a Tensor")
        data = seen["data"]
        if isinstance(data, dict) or not agrees(data, expected.numpy()) or data.dtype != expected.numpy().dtype:
            t.fail("the detached values", torch_value=expected.numpy(), mine=data)
        theirs = _backward_error(lambda: (expected ** 2).backward())
        expected.data[...] = torch.tensor(marker)  # the same composition in torch
        after_write = reference.detach().numpy().copy()
        expected.data = torch.tensor(other)
        after_rebind = reference.detach().numpy().copy()
        if not agrees(seen["source_after_write"], after_write):
            t.fail("after `d = source.detach(); d._array[...] = 7` the source's values", torch_value=after_write,
                   mine=seen["source_after_write"], slip=slips.Slip(slips.DETACH_COPIED, "your detached tensor has "
                   "a copy of the data; torch's shares it with the original (changing one changes the other): reuse "
                   "self._array, do not copy it"))
        if not agrees(seen.get("source_after_rebind"), after_rebind):
            t.fail("after `d = source.detach(); d._array = <a new array>` the source's values",
                   torch_value=after_rebind,
                   mine=seen["source_after_rebind"], slip=slips.Slip(slips.DETACH_SAME, "detach returned the tensor "
                   "itself; torch returns a *new* tensor (sharing the data) and leaves the original in the graph"))
        for attribute, name in (("requires_grad", "source_requires_grad"), ("grad_fn", "source_grad_fn")):
            want = getattr(reference, attribute)
            if (seen[name] is None) != (want is None) or (attribute == "requires_grad" and seen[name] is not want):
                t.fail(f"after detach the original's {attribute} is {slips.exactly(seen[name])}, torch's is "
                       f"{want}: detach must only make a new tensor, not change the original")
        for attribute in ("requires_grad", "is_leaf"):
            if seen[attribute] is not getattr(expected, attribute):
                t.fail(f"detached.{attribute} is {slips.exactly(seen[attribute])}, torch's is "
                       f"{getattr(expected, attribute)}: a detached tensor is outside the graph")
        if seen["grad_fn"] is not None:
            t.fail(f"detached.grad_fn is {seen['grad_fn']}; a detached tensor has no history (None)")
        if seen["backward_error"] != theirs:
            t.fail(f"(detached ** 2).backward() should fail as torch's does, with {theirs!r}; "
                   f"yours gave {seen['backward_error']!r}")
    if not t.hidden:
        case(2.0, "x", "the notebook's example: z = x.detach(), then (z ** 2).backward() fails")
        case([1.0, 2.0, 3.0], "x * 3")
    for number in range(1 if not t.hidden else 6):
        kind = ["x", "x * 3", "a tensor without grad"][number % 3]
        case(uniform(t.rng, shape_for(t)).tolist(), kind)


# --------------------------------------------------------------------------
# log_softmax: the backward of the classifier's last step (notebook 08)
# --------------------------------------------------------------------------

def log_softmax_backward(t):
    def known(x, dim, grad):
        out = torch.log_softmax(torch.tensor(x, dtype=F64), dim).numpy()
        s, total = np.exp(out), grad.sum(axis=dim, keepdims=True)
        found = [
            (slips.SIGN, f"{slips.words(slips.SIGN)} on the sum term: d out_i/dx_j = [i == j] - softmax_j, so "
             "the gradient is grad - softmax * grad.sum(dim), with a minus", grad + s * total),
            (slips.MISSING_TERM, "the term softmax * grad.sum(dim) is missing: every log-probability depends on "
             "every logit through log(sum(exp(x))), so the gradient is grad - softmax * grad.sum(dim, "
             "keepdims=True)", grad),
            (slips.WRONG_SAVED, f"{slips.words(slips.WRONG_SAVED)}: ctx.saved_tensors holds out = log_softmax(x), "
             "the log-probabilities; the rule needs softmax = exp(out)", grad - out * total),
            (slips.MISSING_TERM, "only the diagonal of the Jacobian (grad * (1 - softmax)): every other logit j "
             "also gets -softmax_j * grad_i, and those add up to grad - softmax * grad.sum(dim)", grad * (1 - s)),
            (slips.WRONG_RULE, "that is softmax's backward rule, softmax * (grad - (grad * softmax).sum(dim)); "
             "log_softmax's is grad - softmax * grad.sum(dim)", s * (grad - (grad * s).sum(axis=dim, keepdims=True))),
            (slips.WRONG_AXES, "the sum must run along dim only (the classes of each sample), not over every element: "
             "grad.sum(axis=ctx.dim, keepdims=True)", grad - s * grad.sum()),
            (slips.MISSING_TERM, "the sum term is softmax * grad.sum(dim), not softmax alone: grad - softmax is "
             "right only where the incoming gradients along dim sum to 1", grad - s),
            (slips.WRONG_RULE, "grad + softmax is right only where the incoming gradients along dim sum to -1 (as "
             "cross_entropy's do); the rule is grad - softmax * grad.sum(dim, keepdims=True)", grad + s)]
        try:
            found.append((slips.WRONG_AXES, "keep the summed axis (keepdims=True): without it the sums broadcast "
             "against the wrong axis", grad - s * grad.sum(axis=dim)))
        except ValueError:
            pass
        return lambda i: found

    def case(x, dim, grad=None, where=""):
        grad = random_grad(t, x.shape) if grad is None else grad
        dim %= x.ndim  # counted from 0, as the engine's log_softmax hands it to LogSoftmax.forward
        check_op(t, "LogSoftmax", [x], grad, lambda a, dim: torch.log_softmax(a, dim), names=["x"],
                 options={"dim": dim}, known=known(x, dim, grad), where=where, sums_along=dim,
                 again=lambda g: case(x, dim, g, PROBE), hint=lambda message: (
                     "keep the summed axis, `grad.sum(axis=ctx.dim, keepdims=True)`, so the sums broadcast "
                     "back along dim" if "broadcast" in message else None))

    def cross_entropy_grad(batch, classes):
        """What nll_loss sends back: -1 / batch at each sample's target class, 0 elsewhere."""
        grad = np.zeros((batch, classes))
        grad[np.arange(batch), t.rng.integers(0, classes, size=batch)] = -1 / batch
        return grad
    if not t.hidden:
        case(np.array([2.0, 1.0, 0.1]), 0, np.array([0.0, -1.0, 0.0]),
             "one sample's logits; cross_entropy with target 1 sends back -1 at class 1")
        case(uniform(t.rng, (4, 3)), 1, cross_entropy_grad(4, 3), "a batch of 4 under cross_entropy")
        case(uniform(t.rng, (2, 3)), 1)
        case(uniform(t.rng, (3, 2)), 0)
    if t.hidden:  # on every run: a batch of one, many classes, logits where a naive exp overflows
        classes = int(t.rng.integers(2, 6))
        case(uniform(t.rng, (1, classes), -3, 3), 1, cross_entropy_grad(1, classes), "a batch of one")
        classes = int(t.rng.integers(30, 101))
        case(uniform(t.rng, (3, classes), -3, 3), 1, where="many classes")
        big = uniform(t.rng, (3, 4), -1, 1) * 1000 + 5000
        case(big, 1, cross_entropy_grad(3, 4), "large logits, around 5000: exp(x) overflows")
        case(uniform(t.rng, (2, 3, 4)), int(t.rng.integers(-3, 3)), where="three axes")
    for _ in range(0 if not t.hidden else 10):
        shape = random_shape(t.rng, 1)
        case(uniform(t.rng, shape, -4, 4), int(t.rng.integers(-len(shape), len(shape))))


# --------------------------------------------------------------------------
# softplus: an op whose naive formula overflows (notebook 09)
# --------------------------------------------------------------------------

def softplus_backward(t):
    def known(x, beta, grad, threshold=20.0):
        z = beta * x
        with np.errstate(all="ignore"):
            e = np.exp(z)
            s = torch.sigmoid(torch.tensor(z)).numpy()
            plain = torch.sigmoid(torch.tensor(x)).numpy()
            found = [] if threshold == 20.0 else [  # (at 20, sigmoid's slope above it rounds to 1 anyway)
                (slips.WRONG_MASK, f"where beta * x > threshold (here {threshold!r}) forward returned x itself, so "
                 "the slope there is 1 and grad passes unchanged; you used sigmoid's slope everywhere. Use "
                 "ctx.threshold as forward does", grad * s)]
            found += [
                (slips.EXP_OVERFLOW, f"{slips.words(slips.EXP_OVERFLOW)}: exp(beta * x) / (1 + exp(beta * x)) is "
                 "sigmoid on paper, but for a large x both exps are inf and the ratio is nan. Write sigmoid so that "
                 "no exponent is positive: 1 / (1 + exp(-z)) where z >= 0, exp(z) / (1 + exp(z)) where z < 0",
                 grad * (e / (1 + e))),
                (slips.WRONG_RULE, "you used exp(beta * x) alone: softplus is log(1 + exp(z)), and the log's "
                 "derivative divides by 1 + exp(z); the result is sigmoid(beta * x)", grad * e),
                (slips.SIGN, f"{slips.words(slips.SIGN)} in the exponent: 1 / (1 + exp(z)) is sigmoid(-z); "
                 "softplus' derivative is sigmoid(+beta * x)", grad * (1 - s)),
                (slips.WRONG_RULE, "s * (1 - s) is sigmoid's derivative; softplus' derivative is sigmoid itself",
                 grad * s * (1 - s)),
                (slips.WRONG_RULE, "you returned softplus itself (times grad); its derivative is sigmoid(beta * x)",
                 grad * torch.nn.functional.softplus(torch.tensor(x), beta).numpy())]
            if beta != 1:
                found.append((slips.MISSING_TERM, f"beta is left out: with z = beta * x, d softplus/dx is "
                              f"sigmoid(beta * x) (the 1 / beta outside and the beta of the chain rule cancel); "
                              f"here ctx.beta = {beta!r}", grad * plain))
        return lambda i: found

    def case(x, grad, beta=1.0, where="", threshold=20.0):
        options = ({} if beta == 1.0 else {"beta": beta}) | ({} if threshold == 20.0 else {"threshold": threshold})
        check_op(t, "Softplus", [x], grad,
                 lambda a, beta=1.0, threshold=20.0: torch.nn.functional.softplus(a, beta, threshold), names=["x"],
                 options=options, known=known(x, beta, grad, threshold), where=where,
                 again=lambda g: case(x, g, beta, PROBE, threshold))
    if not t.hidden:
        case(np.array([-2.0, 0.0, 3.0]), np.array([1.5, -2.0, 1.25]), where="small x: any formula for sigmoid works")
        case(np.array([-800.0, -40.0, 40.0, 800.0]), np.array([1.5, 1.5, -2.0, 2.0]),
             where="large |x|: exp(800) is inf in float64")
        case(uniform(t.rng, (2, 3), -3, 3), clear_grad(t, (2, 3)), beta=2.0, where="beta = 2")
    for _ in range(0 if not t.hidden else 6):
        shape = shape_for(t)
        case(uniform(t.rng, shape, -5, 5), random_grad(t, shape))
    if t.hidden:
        big = uniform(t.rng, (5,), 710, 900) * t.rng.permutation([-1.0, 1.0, -1.0, 1.0, 1.0])  # both signs, always
        case(big, clear_grad(t, (5,)), where="|x| beyond exp's range")
        # beta * x exactly at the threshold still takes sigmoid's slope: only above it is the slope 1
        threshold = float(t.rng.choice([1.0, 2.0, 3.0]))
        case(np.array([threshold / 2, threshold, threshold + 0.5, -threshold]), clear_grad(t, (4,)), beta=2.0,
             threshold=threshold, where=f"threshold = {threshold}: x * beta at, below and above it")
        for beta in (0.5, 3.0):
            shape = shape_for(t, 1)
            case(uniform(t.rng, shape, -4, 4), clear_grad(t, shape), beta=beta, where=f"beta = {beta}")
        x = np.concatenate([uniform(t.rng, (3,), -3, 3), [-300.0, 300.0]]).astype(np.float32) * np.float32(0.3)
        case(x, clear_grad(t, (5,)).astype(np.float32), where="float32, where exp(90) is already inf")
