"""The checks for the 17 notebook exercises: a function the learner writes in a solution cell.

``t.answer`` is that function. Eight need no engine (no engine, no torch allowed while they run):
calculus on paper turned into Python, notebook 09's numerical gradient, notebook 10's dual numbers
and notebook 12's gradient clipping on numpy arrays; seven drive the learner's engine -- the
``tinygrad_course`` module their function uses -- with stand-ins for every engine unit
meanwhile, so only the function itself is graded: in the kernel torch-backed ones
(``autograder.learner.torch_standins``), in the judge the instructor's own, sent to its worker.
Torch computes every expected answer on the same inputs. Notebook 11's two (``hvp``,
``gradient_penalty``) are torch code themselves: ``exercises.NEEDS_TORCH``, run by the judge in its
torch worker on functions ``autograder.worker.torch_cases`` builds from the inputs drawn here.
"""

import re

import numpy as np
import torch

from autograder.checking import slips
from autograder.checking.engine_checks import EPS, F64, SEED_NEURON, neuron_steps, random_neuron, random_shape
from autograder.checking.slips import agrees, show
from autograder.worker import smooth, torch_cases

F32_RTOL, F32_ATOL = 1e-4, 1e-5  # the engine computes in float32, in its own order


def derivative(function, *values):
    """Torch's derivative of ``function`` at ``values`` (float64), one number per argument."""
    tensors = [torch.tensor(float(v), dtype=F64, requires_grad=True) for v in values]
    return [float(g) for g in torch.autograd.grad(function(*tensors), tensors)]


def _numbers(t, value, count, what):
    """The answer (as the driver described it) as ``count`` floats, or a failure saying what came back."""
    def unwrap(v):  # an engine Tensor, as the driver described it: its numbers
        if isinstance(v, dict) and "tensor" in v:
            return v["tensor"]
        if isinstance(v, dict):
            raise TypeError("not a number")
        return v
    try:
        items = [unwrap(v) for v in value["sequence"]] if isinstance(value, dict) and "sequence" in value \
            else unwrap(value)
        array = np.asarray(items, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        array = None
    if array is None or (count is not None and array.size != count):
        wanted = "a number" if count == 1 else f"{count} numbers" if count else "one number per value"
        t.fail(f"{what} should return {wanted}; it returned {described(value)}")
    return array


def described(value):
    """Plain data from a driver, in words close to the learner's own repr."""
    if isinstance(value, dict):
        if "sequence" in value:
            items = ", ".join(described(v) for v in value["sequence"][:8])
            more = ", ..." if len(value["sequence"]) > 8 else ""
            return f"({items}{more})" if value["kind"] == "tuple" else f"[{items}{more}]"
        if "tensor" in value:
            return f"tensor({show(value['tensor'])})" if not isinstance(value["tensor"], dict) else "a tensor"
        return value.get("repr", "?")
    return show(value) if isinstance(value, np.ndarray) else repr(value)


def _visible_then_random(t, seed_inputs, draw, visible_random, hidden_random):
    inputs = list(seed_inputs) if not t.hidden else []
    return inputs + [draw() for _ in range(visible_random if not t.hidden else hidden_random)]


# --------------------------------------------------------------------------
# The manual derivatives
# --------------------------------------------------------------------------

def manual_dy_dx(t):
    for x, where in _visible_then_random(
            t, [(3, "the notebook's x"), (2, "the Clearing Gradients section's x")],
            lambda: (round(float(t.rng.uniform(-5, 5)), 3), ""), 3, 10):
        t.case(f"dy_dx({x!r})" + (f"  ({where})" if where else ""))
        mine = _numbers(t, t.run("call", args=[x], what="dy_dx")["result"], 1, f"dy_dx({x!r})")[0]
        expected, = derivative(lambda v: v ** 2, x)
        if not agrees(mine, expected):
            t.fail(f"dy_dx({x!r})", torch_value=expected, mine=mine, slip=slips.explain(mine, expected, known=[
                (slips.WRONG_RULE, "you returned x ** 2, the function itself; its derivative is 2 * x", x ** 2),
                (slips.ONE_EXAMPLE, "that is the answer at the notebook's x = 3; it must hold for any x", 6.0),
                (slips.WRONG_RULE, "the derivative of x ** 2 depends on x: 2 * x", 2.0)]))


def manual_dz_dx(t):
    import math
    for x, where in _visible_then_random(t, [(4, "the notebook's x")],
                                         lambda: (round(float(t.rng.uniform(-3, 3)), 3), ""), 3, 10):
        t.case(f"dz_dx({x!r})" + (f"  ({where})" if where else ""))
        mine = _numbers(t, t.run("call", args=[x], what="dz_dx")["result"], 1, f"dz_dx({x!r})")[0]
        expected, = derivative(lambda v: torch.sin(v ** 2), x)
        if not agrees(mine, expected):
            t.fail(f"dz_dx({x!r})", torch_value=expected, mine=mine, slip=slips.explain(mine, expected, known=[
                (slips.MISSING_TERM, "the chain rule's inner factor is missing: d/dx sin(x ** 2) = cos(x ** 2) * 2 * x",
                 math.cos(x ** 2)),
                (slips.WRONG_RULE, "cos must be taken of the inner value x ** 2, not of x: cos(x ** 2) * 2 * x",
                 2 * x * math.cos(x)),
                (slips.WRONG_RULE, "the derivative of sin is cos, not sin", 2 * x * math.sin(x ** 2)),
                (slips.ONE_EXAMPLE, "that is the answer at the notebook's x = 4; it must hold for any x",
                 -7.661275842587077)]))


def _bce(x, y, w, b):
    p = torch.clamp(torch.sigmoid(w * x + b), EPS, 1 - EPS)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


def manual_bce_grads(t):
    def draw():
        numbers = random_neuron(t.rng)
        return {k: round(v, 3) for k, v in numbers.items()}, ""

    def saturated():
        """A neuron so sure of itself (|z| >= 20) that p lies beyond [EPS, 1 - EPS] and the clamp is flat.
        In float64 -- Python's floats, and torch's reference here -- the clamp works at both ends."""
        sign = float(t.rng.choice([-1.0, 1.0]))
        return {"x": round(sign * float(t.rng.uniform(6, 10)), 3), "y": float(t.rng.integers(0, 2)),
                "w": round(float(t.rng.uniform(3.5, 5)), 3), "b": round(float(t.rng.uniform(-1, 1)), 3)}
    seeds = [(SEED_NEURON, "the notebook's numbers"),
             ({"x": 20.0, "y": 0.0, "w": 1.0, "b": 0.0}, "so sure of itself that the clamp is flat")]
    cases = _visible_then_random(t, seeds, draw, 3, 10)
    if t.hidden:  # the clamp's flat region on every run, not only when the draw happens to land there
        cases.insert(int(t.rng.integers(len(cases) + 1)), (saturated(), "so sure of itself that the clamp is flat"))
    for numbers, where in cases:
        x, y, w, b = (numbers[k] for k in "xywb")
        call = f"manual_gradients(x={x!r}, y={y!r}, w={w!r}, b={b!r})"
        t.case(call + (f"  ({where})" if where else ""))
        mine = _numbers(t, t.run("call", args=[x, y, w, b], what="manual_gradients")["result"], 2,
                        f"{call} (a pair: dL_dw, dL_db)")
        _, _, dw, db = derivative(_bce, x, y, w, b)
        expected = np.array([dw, db])
        if agrees(mine, expected):
            continue
        pair = slips.explain_pair(mine, expected)
        for i, name in enumerate(("dL_dw", "dL_db")):
            if not agrees(mine[i], expected[i]):
                known = [(slips.MISSING_TERM, "dL_dw is missing the factor x: dz/dw = x", db)] if i == 0 else [
                    (slips.WRONG_RULE, "dL_db has no factor x: dz/db = 1", dw)]
                p = 1 / (1 + np.exp(-(w * x + b)))
                if not EPS <= p <= 1 - EPS:
                    known.insert(0, (slips.WRONG_MASK, f"mind the clamp: here p = {p:.10g} lies outside [1e-8, 1 - "
                     "1e-8], where clamp's output stays put whatever p does, so no gradient reaches w or b: "
                                     "both are 0", ((p - y) * x, p - y)[i]))
                known.append((slips.ONE_EXAMPLE, "those are the gradients at the notebook's numbers (x = 6.7, y = 0, "
                              "w = 1, b = 0); they must hold for any x, y, w, b",
                              (6.691762447357178, 0.998770534992218)[i]))
                t.fail(f"{name} from {call}", torch_value=expected[i], mine=mine[i],
                       slip=pair or slips.explain(mine[i], expected[i], known=known))


def manual_mean_square_grad(t):
    def draw():
        return [round(float(v), 3) for v in t.rng.uniform(-4, 4, size=int(t.rng.integers(1, 9)))], ""
    for values, where in _visible_then_random(t, [([1.0, 2.0, 3.0], "the notebook's vector")], draw, 2, 10):
        t.case(f"mean_square_grad({values!r})" + (f"  ({where})" if where else ""))
        mine = _numbers(t, t.run("call", args=[list(values)], what="mean_square_grad")["result"], len(values),
                        f"mean_square_grad({values!r})")
        x = torch.tensor(values, dtype=F64, requires_grad=True)
        expected = torch.autograd.grad((x ** 2).mean(), x)[0].numpy()
        n, array = len(values), np.array(values)
        if not agrees(mine, expected):
            t.fail(f"mean_square_grad({values!r})", torch_value=expected, mine=mine,
                   slip=slips.explain(mine, expected, known=[
                       (slips.FACTOR, f"you did not divide by the number of values ({n}): the mean is the "
                        f"sum / {n}", 2 * array),
                       (slips.WRONG_RULE, "you returned x ** 2 / n, the terms of Y; the derivative of x_i ** 2 / n "
                        "is 2 * x_i / n", array ** 2 / n)] if n > 1 else [
                       (slips.WRONG_RULE, "you returned x ** 2 / n, the terms of Y; the derivative of x_i ** 2 / n "
                        "is 2 * x_i / n", array ** 2 / n)]))


def predict_accumulated_grad(t):
    def draw():
        return (round(float(t.rng.uniform(-3, 3)), 2), int(t.rng.integers(1, 7)), bool(t.rng.integers(2))), ""
    seeds = [((2.0, 1, False), "the notebook's example: one backward"), ((2.0, 2, False), "two backward calls"),
             ((2.0, 2, True), "zeroing between them")]
    cases = _visible_then_random(t, seeds, draw, 2, 10)
    if t.hidden:  # on every run, several calls without zeroing, and with: where accumulation shows
        accumulating = (round(float(t.rng.uniform(0.5, 3)), 2), int(t.rng.integers(2, 7)), False), ""
        zeroing = (round(float(t.rng.uniform(-3, -0.5)), 2), int(t.rng.integers(2, 7)), True), ""
        for family in (accumulating, zeroing):
            cases.insert(int(t.rng.integers(len(cases) + 1)), family)
    for (x0, calls, zero_between), where in cases:
        call = f"predict_grad({x0!r}, {calls}, {zero_between})"
        t.case(call + (f"  ({where})" if where else ""))
        mine = _numbers(t, t.run("call", args=[x0, calls, zero_between], what="predict_grad")["result"], 1, call)[0]
        x = torch.tensor(x0, dtype=F64, requires_grad=True)
        for k in range(calls):
            if k and zero_between:
                x.grad.zero_()
            (x ** 2).backward()
        expected = float(x.grad)
        if not agrees(mine, expected):
            if zero_between:
                known = [(slips.NOT_ACCUMULATED, "zeroing between calls clears x.grad, so only the last call's "
                          "2 * x0 is left", calls * 2 * x0),
                         (slips.NOT_ACCUMULATED, "x.grad is zeroed between rounds, not after the last one", 0.0)]
            else:
                known = [(slips.NOT_ACCUMULATED, f"{slips.words(slips.NOT_ACCUMULATED)}: each backward() adds 2 * x0 "
                          f"to x.grad, so after {calls} calls without zeroing it is {calls} * 2 * x0", 2 * x0)
                         ] if calls > 1 else []
            slip = None if zero_between else _miscounted(t, x0)
            t.fail(call, torch_value=expected, mine=mine, slip=slip or slips.explain(mine, expected, known=known))


def _miscounted(t, x0):
    """The slip of a prediction that counts the backward calls one off, or None. One case cannot tell
    ``(calls - 1) * 2 * x0`` at two calls from a gradient not accumulated (both are 2 * x0), so the
    learner's function is asked for 1 to 4 calls without zeroing and the pattern decides."""
    if x0 == 0:
        return None
    counts = range(1, 5)
    said = [_numbers(t, t.run("call", args=[x0, k, False], what="predict_grad")["result"], 1,
                     f"predict_grad({x0!r}, {k}, False)")[0] for k in counts]
    for off in (1, -1):
        if all(agrees(value, (k + off) * 2 * x0) for value, k in zip(said, counts)):
            return slips.Slip(slips.COUNTED, (
                f"{slips.words(slips.COUNTED)}: for 1, 2, 3, 4 calls without zeroing you predict "
                f"{', '.join(show(v) for v in said)}, which is {'one more' if off > 0 else 'one less'} "
                "than the number of calls times 2 * x0. The first backward() sets x.grad to 2 * x0 "
                "and each further call adds 2 * x0, so after n calls it holds n * 2 * x0"))
    return None


# --------------------------------------------------------------------------
# Using the learner's engine
# --------------------------------------------------------------------------

def no_grad_inference(t):
    def draw():
        xs = [round(float(v), 3) for v in t.rng.uniform(-4, 4, size=int(t.rng.integers(1, 7)))]
        return (round(float(t.rng.uniform(-2, 2)), 3), round(float(t.rng.uniform(-1, 1)), 3), xs,
                bool(t.rng.integers(2))), ""
    seeds = [((1.0, 0.0, [6.7], False), "the notebook's neuron"), ((0.5, -1.0, [-2.0, 0.0, 1.5, 3.0], True), "")]
    for (w0, b0, xs, as_tensor), where in _visible_then_random(t, seeds, draw, 1, 8):
        given = f"tensor({xs})" if as_tensor else repr(xs)
        call = f"predict(w, b, {given}) with w = tensor({w0}, requires_grad=True), b = tensor({b0}, requires_grad=True)"
        t.case(call + (f"  ({where})" if where else ""))
        seen = t.run("no_grad_inference", w0=w0, b0=b0, xs=list(xs), as_tensor=as_tensor, what="predict")
        with torch.no_grad():
            expected = torch.sigmoid(torch.tensor(w0) * torch.tensor(xs) + torch.tensor(b0)).numpy()
        if seen["values"] is None:
            t.fail(f"predict should return the probabilities (a Tensor, or a list of numbers); it returned "
                   f"{seen['repr']}")
        # torch's answer under no_grad: nothing recorded, the mode back on, w and b untouched
        if any(item["grad_fn"] != "None" or item["requires_grad"] is not False for item in seen["items"]):
            t.fail("predict's result is part of a graph (it has a grad_fn or requires grad): compute it "
                   "inside `with no_grad():` so nothing is recorded")
        if seen["enabled_after"] is not True:
            t.fail("after predict, recording is still switched off: use `with no_grad():`, which switches "
                   "it back on at the end of the block")
        if any(flag is not True for flag in seen["params_requires_grad"]):
            t.fail("predict turned off requires_grad on w or b; they are still being trained -- use "
                   "`with no_grad():` instead")
        if any(grad is not None for grad in seen["params_grad"]):
            t.fail("predict changed w.grad or b.grad; predicting needs no backward pass")
        mine = seen["values"]
        if not agrees(mine, expected, F32_RTOL, F32_ATOL):
            t.fail("the probabilities", torch_value=expected, mine=mine,
                   slip=slips.explain(mine, expected, rtol=F32_RTOL, atol=F32_ATOL, known=[
                       (slips.WRONG_RULE, "you returned w * x + b; the probability is sigmoid(w * x + b)",
                        w0 * np.array(xs) + b0)]))


def sgd_step(t):
    def draw():
        params = []
        for _ in range(int(t.rng.integers(1, 4))):
            shape = random_shape(t.rng, 0, 2)
            params.append((t.rng.uniform(-2, 2, size=shape).astype(np.float32),
                           t.rng.normal(size=shape).astype(np.float32)))
        return (params, round(float(t.rng.uniform(0.01, 1.0)), 3)), ""
    steps = neuron_steps(**SEED_NEURON)
    grads = {"w": float(steps[0][3] * SEED_NEURON["x"]), "b": float(steps[1][3])}
    seed = [([(np.array(1.0, np.float32), np.array(grads["w"], np.float32)),
              (np.array(0.0, np.float32), np.array(grads["b"], np.float32))], 0.1)]
    for (params, lr), where in _visible_then_random(t, [(seed[0], "the notebook's w and b after loss.backward()")],
                                                    draw, 2, 6):
        t.case(f"sgd_step(params, lr={lr}) with params " + ", ".join(
            f"tensor({show(v)}, requires_grad=True) whose .grad is {show(g)}" for v, g in params)
            + (f"  ({where})" if where else ""))
        seen = t.run("sgd_step", params=[[v, g] for v, g in params], lr=lr, what="sgd_step", hint=lambda message: (
            "the update changes a leaf that requires grad in place: do it inside `with no_grad():`"
            if "in-place" in message else None))
        theirs = []
        for value, grad in params:
            p = torch.tensor(value.copy(), requires_grad=True)
            p.grad = torch.tensor(grad.copy())
            theirs.append(p)
        with torch.no_grad():
            for p in theirs:
                p -= lr * p.grad
                p.grad.zero_()
        for k, (p, reference, (value, grad)) in enumerate(zip(seen["params"], theirs, params)):
            data = p["data"]
            if isinstance(data, dict):
                t.fail(f"parameter {k}'s data is {data['repr']} after the step; it must stay a numpy array")
            if not agrees(data, reference.detach().numpy(), F32_RTOL, F32_ATOL):
                t.fail(f"parameter {k} after the step", torch_value=reference.detach().numpy(), mine=data,
                       slip=slips.explain(data, reference.detach().numpy(), rtol=F32_RTOL, atol=F32_ATOL, known=[
                           (*_unmoved(_cleared(p["grad"])), value),
                           (slips.SIGN, f"{slips.words(slips.SIGN)}: the step went uphill; gradient descent subtracts "
                            "lr * p.grad",
                            value + lr * grad)]))
            if not agrees(p["kept"], reference.detach().numpy(), F32_RTOL, F32_ATOL):
                t.fail(f"parameter {k}'s array from before the step, read after it,",
                       torch_value=reference.detach().numpy(), mine=p["kept"],
                       slip=slips.Slip(slips.NOT_IN_PLACE, "the step put a new array in the parameter; update it "
                                       "in place (`p -= lr * p.grad`) so everything holding the parameter's data "
                                       "sees the step"))
            # cleared: zeros, or None (what torch's zero_grad() leaves); either way the next backward starts from 0
            if p["grad"] is not None and (isinstance(p["grad"], dict) or not agrees(p["grad"], np.zeros_like(grad))):
                shown = None if isinstance(p["grad"], dict) else p["grad"]
                t.fail(f"parameter {k}'s grad after the step is {show(shown)}; "
                       "zero it (p.grad.zero_(), or p.grad = None) so the next backward starts from 0")
            if p["grad_fn"] is not None or p["requires_grad"] is not True:
                t.fail(f"parameter {k} is no longer a leaf that requires grad (grad_fn {p['grad_fn']}, "
                       f"requires_grad {slips.exactly(p['requires_grad'])}); do the update inside `with no_grad():`")
        if seen["enabled_after"] is not True:
            t.fail("after sgd_step recording is still switched off: use `with no_grad():`")


def _cleared(grad):
    """Is a gradient as the driver reported it cleared (None, or zeros)?"""
    return grad is None or (not isinstance(grad, dict) and agrees(grad, np.zeros_like(grad)))


def _unmoved(cleared):
    """``(slip id, words)`` for parameters the step left where they were. Their gradients as they are
    after the step tell the usual reasons apart as far as values can: still there, the update went to a new tensor;
    cleared, either the step used them after clearing them (a zero gradient moves nothing), or the
    update went to a new tensor and the clearing came after it -- the same values, so both are named."""
    rebound = ("`p = p - lr * p.grad` makes a new tensor and leaves the one in the list alone; update in place: "
               "`p -= lr * p.grad`")
    if cleared:
        return slips.CLEARED_FIRST, (
            f"the parameters did not change, and their .grad is cleared. Two slips do this: the "
            f"{slips.words(slips.CLEARED_FIRST)} (a zero gradient moves nothing; clear .grad after the step, not "
            f"before), or {rebound}")
    return slips.NOT_IN_PLACE, f"the parameters did not change: {rebound}"


def torch_training(xs, ys, epochs, lr, *, zero=True, mean=True, sign=1.0):
    """Full-batch gradient descent on the notebook's neuron and loss, in torch (float32, as the engine)."""
    x, y = torch.tensor(xs), torch.tensor(ys)
    w, b = torch.tensor(0.0, requires_grad=True), torch.tensor(0.0, requires_grad=True)
    losses = []
    for _ in range(epochs):
        p = torch.clamp(torch.sigmoid(w * x + b), EPS, 1 - EPS)
        per_sample = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
        loss = per_sample.mean() if mean else per_sample.sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w -= sign * lr * w.grad
            b -= sign * lr * b.grad
            if zero:
                w.grad.zero_()
                b.grad.zero_()
    return np.array([w.item(), b.item()] + losses)


def train_neuron(t):
    def draw():
        while True:  # no run that saturates: in float32, clamp(p, 1e-8, 1 - 1e-8) cannot stop log(0)
            n = int(t.rng.integers(4, 11))
            xs = [round(float(v), 2) for v in t.rng.uniform(-3, 3, size=n)]
            ys = [float(x + t.rng.normal(0, 1) > 0) for x in xs]
            case = (xs, ys, int(t.rng.integers(5, 26)), round(float(t.rng.uniform(0.05, 0.8)), 2))
            w, b, *_ = trained = torch_training(*case)
            if np.all(np.isfinite(trained)) and abs(w) * 3 + abs(b) < 12:
                return case, ""
    seeds = [(([6.7], [0.0], 3, 0.1), "the notebook's single example")]
    for (xs, ys, epochs, lr), where in _visible_then_random(t, seeds, draw, 1, 3):
        call = f"train_neuron(xs={xs}, ys={ys}, epochs={epochs}, lr={lr})"
        t.case(call + (f"  ({where})" if where else ""))
        result = t.run("train_neuron", xs=list(xs), ys=list(ys), epochs=epochs, lr=lr, what="train_neuron")["result"]
        if not isinstance(result, dict) or "sequence" not in result or len(result["sequence"]) != 3:
            t.fail(f"train_neuron should return (w, b, losses); it returned {described(result)}")
        w, b, losses = result["sequence"]
        count = len(losses["sequence"]) if isinstance(losses, dict) and "sequence" in losses else \
            losses.size if isinstance(losses, np.ndarray) and losses.ndim == 1 else None
        if count != epochs:
            t.fail(f"losses should hold one loss per epoch ({epochs}); it is {described(losses)}")
        mine = np.concatenate([_numbers(t, w, 1, "w (a number or a one-number tensor)"),
                               _numbers(t, b, 1, "b (a number or a one-number tensor)"),
                               _numbers(t, losses, epochs, "losses (one number per epoch)")])
        expected = torch_training(xs, ys, epochs, lr)
        if agrees(mine, expected, F32_RTOL, F32_ATOL):
            continue
        variants = [
            (slips.CLEARED_FIRST, f"{slips.words(slips.CLEARED_FIRST)}: w and b never moved, as if every step "
             "used a zero gradient; clear the gradients after the update, not before it",
             torch_training(xs, ys, epochs, 0.0)),
            (slips.NOT_CLEARED, "the gradients were not cleared between epochs: backward() adds to .grad, so each "
             "step used the sum of all gradients so far; zero w.grad and b.grad after each update",
             torch_training(xs, ys, epochs, lr, zero=False)),
            (slips.WRONG_LOSS, "the loss is the mean of the per-example losses, not their sum",
             torch_training(xs, ys, epochs, lr, mean=False)),
            (slips.SIGN, f"{slips.words(slips.SIGN)}: the steps went uphill; subtract lr * grad",
             torch_training(xs, ys, epochs, lr, sign=-1.0))]
        slip = next((slips.Slip(slip_id, said) for slip_id, said, wrong in variants
                     if agrees(mine, wrong, F32_RTOL, F32_ATOL)), None)
        if slip is None and epochs > 1 and agrees(mine[2:-1], expected[3:], F32_RTOL, F32_ATOL):
            slip = slips.Slip(slips.WRONG_ORDER, "each loss was recorded after the update; record the loss of each "
                              "epoch before stepping")
        names = ["w", "b"] + [f"losses[{k}]" for k in range(epochs)]
        first = next(k for k in range(len(names)) if not agrees(mine[k], expected[k], F32_RTOL, F32_ATOL))
        t.fail(f"{names[first]} after training", torch_value=expected[first], mine=mine[first], slip=slip)


# --------------------------------------------------------------------------
# Notebook 08: a two-layer network and one mini-batch training step
# --------------------------------------------------------------------------

def _iris_batch(rows):
    """A few flowers of the notebook's data set (all four measurements), standardised as the notebook does
    it: with the mean and standard deviation of its 120 training flowers, chosen by the same shuffle."""
    from autograder.checking.datasets import load_iris
    features, species = load_iris()
    training = np.random.default_rng(0).permutation(len(features))[:120]
    scaled = (features - features[training].mean(axis=0)) / features[training].std(axis=0)
    return scaled[rows].astype(np.float32), species[rows]


def _mlp_params(rng, inputs, hidden, classes, scale=1.0):
    shapes = [(inputs, hidden), (hidden,), (hidden, classes), (classes,)]
    return [(rng.normal(size=shape) * scale / np.sqrt(shape[0] if len(shape) == 2 else 4)).astype(np.float32)
            for shape in shapes]


def _relu(a):
    return np.maximum(a, 0)


def mlp_forward(t):
    def draw(batch=None, classes=None, square=None, where=""):
        batch = int(t.rng.integers(2, 9)) if batch is None else batch
        inputs, hidden = int(t.rng.integers(1, 6)), int(t.rng.integers(2, 9))
        classes = int(t.rng.integers(2, 6)) if classes is None else classes
        if square is not None:
            inputs = hidden = classes = square
        x = t.rng.normal(size=(batch, inputs)).astype(np.float32)
        return (_mlp_params(t.rng, inputs, hidden, classes), x), where
    seeds = []
    if not t.hidden:
        x, _ = _iris_batch([0, 50, 100])
        seeds = [((_mlp_params(np.random.default_rng(8), 4, 5, 3), x), "three flowers, one of each species")]
    # square weights: the one shape where a transposed weight (x @ W1.T) still multiplies, and the values tell
    families = [draw(1, where="a batch of one"), draw(classes=int(t.rng.integers(20, 41)), where="many classes"),
                draw(square=int(t.rng.integers(2, 6)), where="square weights")] if t.hidden else []
    for (params, x), where in _visible_then_random(t, seeds, draw, 1, 5) + families:
        w1, b1, w2, b2 = (p.astype(np.float64) for p in params)
        t.case(f"mlp_forward(params, x) with x of shape {x.shape}, W1 {w1.shape}, W2 {w2.shape}"
               + (f"  ({where})" if where else ""))
        hidden_in = x @ w1 + b1
        grad = t.rng.normal(size=(x.shape[0], w2.shape[1]))
        seen = t.run("mlp_forward", params=params, x=x, grad=grad, what="mlp_forward",
                     hint=lambda message, shapes=(w1.shape, w2.shape): _transposed_hint(message, shapes))
        tensors = [torch.tensor(p, dtype=F64, requires_grad=True) for p in params]
        logits = torch.relu(torch.tensor(x, dtype=F64) @ tensors[0] + tensors[1]) @ tensors[2] + tensors[3]
        expected = logits.detach().numpy()
        result = seen["result"]
        if not isinstance(result, dict) or "tensor" not in result or isinstance(result["tensor"], dict):
            t.fail(f"mlp_forward should return a tensor of logits; it returned {described(result)}")
        mine = result["tensor"]
        if mine.shape != expected.shape:
            t.fail(f"the logits have shape {mine.shape}; they should have one row per sample and one column "
                   f"per class, {expected.shape}")
        if not agrees(mine, expected, F32_RTOL, F32_ATOL):
            t.fail("the logits tensor", torch_value=expected, mine=mine,
                   slip=slips.explain(mine, expected, rtol=F32_RTOL, atol=F32_ATOL, known=[
                       (slips.MISSING_TERM, "the ReLU between the layers is missing: relu(x @ W1 + b1) @ W2 + b2; "
                        "without it two layers are one linear map", hidden_in @ w2 + b2),
                       (slips.WRONG_RULE, "ReLU on the output too: the logits are the second layer's output as it "
                        "is (they may be negative); only the hidden layer goes through "
                        "relu", _relu(_relu(hidden_in) @ w2 + b2)),
                       (slips.MISSING_TERM, "the first layer's bias b1 is missing", _relu(x @ w1) @ w2 + b2),
                       (slips.MISSING_TERM, "the second layer's bias b2 is missing", _relu(hidden_in) @ w2),
                       (slips.WRONG_RULE, "you returned probabilities (softmax of the logits); return the logits, "
                        "cross_entropy applies log_softmax itself", logits.softmax(-1).detach().numpy()),
                       (slips.WRONG_RULE, "sigmoid in place of relu between the layers",
                        1 / (1 + np.exp(-hidden_in)) @ w2 + b2),
                       *_transposed_values(x, w1, b1, w2, b2)]))
        if not result["requires_grad"] or "grads" not in seen:
            t.fail("the logits are not part of a graph (requires_grad is False): build them from the "
                   "parameters with tensor operations, not from their .data or numpy arrays")
        logits.backward(torch.tensor(grad))
        for name, tensor, mine_grad in zip(["W1", "b1", "W2", "b2"], tensors, seen["grads"]):
            want = tensor.grad.numpy()
            if mine_grad is None or isinstance(mine_grad, dict) or not agrees(mine_grad, want, F32_RTOL, F32_ATOL):
                t.fail(f"after logits.backward(grad), {name}.grad", torch_value=want,
                       mine=None if isinstance(mine_grad, dict) else mine_grad,
                       slip=slips.Slip(slips.GRAPH_CUT, "no gradient reached it: the logits must be computed from "
                                       "this parameter with tensor operations") if mine_grad is None else None)


TRANSPOSED_WORDS = (f"{slips.words(slips.TRANSPOSED)}: W1 has shape (inputs, hidden) and W2 (hidden, classes), "
                    "so the layers are x @ W1 and h @ W2 as they are. `.T` is for torch's nn.Linear, which stores "
                    "its weight the other way round, (outputs, inputs)")


def _transposed_hint(message, weight_shapes):
    """The transposed-weights slip when a matrix product failed on the transpose of a weight's shape."""
    if "cannot be multiplied" not in message:
        return None
    named = {(int(a), int(b)) for a, b in re.findall(r"(\d+)x(\d+)", message)}
    if any(shape[::-1] in named and shape[::-1] != shape for shape in weight_shapes):
        return TRANSPOSED_WORDS
    return None


def _transposed_values(x, w1, b1, w2, b2):
    """The logits with both weights transposed, where the shapes let that run (square weights)."""
    if w1.shape[0] != w1.shape[1] or w2.shape[0] != w2.shape[1]:
        return []
    return [(slips.TRANSPOSED, TRANSPOSED_WORDS, _relu(x @ w1.T + b1) @ w2.T + b2)]


def torch_train_steps(weights, batches, lr, *, zero=True, sign=1.0, reduction="mean", softmax_first=False):
    """The notebook's train_step on the grader's linear model, in torch (float32, as the engine):
    the loss of each step (before its update), the parameters after it, and the step's own
    gradients (what ``.grad`` holds after it when the gradients are cleared at the start of each
    step instead, as in ``optimizer.zero_grad(); loss.backward(); optimizer.step()``)."""
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    losses, states, grads = [], [], []
    for x, y in batches:
        logits = torch.tensor(x) @ params[0] + params[1]
        if softmax_first:
            logits = logits.softmax(1)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction=reduction)
        losses.append(loss.item())
        loss.backward()
        grads.append([p.grad.numpy().copy() for p in params])
        with torch.no_grad():
            for p in params:
                p -= sign * lr * p.grad
                if zero:
                    p.grad.zero_()
        states.append([p.detach().numpy().copy() for p in params])
    return np.array(losses), states, grads


def train_step(t):
    def draw(batch=None, classes=None, scale=1.0, lr=None, where=""):
        inputs, classes = int(t.rng.integers(1, 6)), int(t.rng.integers(2, 6)) if classes is None else classes
        weights = [(t.rng.normal(size=(inputs, classes)) * 0.5).astype(np.float32),
                   (t.rng.normal(size=classes) * 0.1).astype(np.float32)]
        batches = []
        for _ in range(int(t.rng.integers(2, 5))):
            size = int(t.rng.integers(2, 17)) if batch is None else batch
            batches.append(((t.rng.normal(size=(size, inputs)) * scale).astype(np.float32),
                            t.rng.integers(0, classes, size=size)))
        return (weights, batches, round(float(t.rng.uniform(0.05, 1.0)), 2) if lr is None else lr), where
    seeds = []
    if not t.hidden:
        x, y = _iris_batch([0, 1, 50, 51, 100, 101])
        rng = np.random.default_rng(8)
        weights = [(rng.normal(size=(4, 3)) * 0.5).astype(np.float32), np.zeros(3, np.float32)]
        seeds = [((weights, [(x[:3], y[:3]), (x[3:], y[3:])], 0.5), "two mini-batches of iris flowers"),
                 ((weights, [(x[:3] * 100, y[:3])], 1e-4), "the same flowers times 100: large logits")]
    families = [draw(batch=1, where="batches of one sample"),
                draw(classes=int(t.rng.integers(20, 41)), where="many classes"),
                draw(scale=3000.0, lr=1e-5, where="large logits (thousands): exp(logits) overflows, in float32 "
                                                   "and in float64")] if t.hidden else []
    for (weights, batches, lr), where in _visible_then_random(t, seeds, draw, 1, 4) + families:
        t.case(f"train_step(model, params, x, y, lr={lr}) on {len(batches)} mini-batches of sizes "
               f"{[len(y) for _, y in batches]}, model(x) = x @ W + b with W of shape {weights[0].shape}"
               + (f"  ({where})" if where else ""))
        seen = t.run("train_step", weights=weights, batches=[[x, y] for x, y in batches], lr=lr, what="train_step",
                     hint=lambda message: ("the update changes a leaf that requires grad in place: do it inside "
                                           "`with no_grad():`" if "in-place" in message else None))
        expected, states, grads = torch_train_steps(weights, batches, lr)
        for k, step in enumerate(seen["steps"]):
            mine = _numbers(t, step["loss"], 1, "train_step (the batch's loss, a number)")[0]
            if not np.isfinite(mine) and np.isfinite(expected[k]):
                t.fail(f"the loss of step {k}", torch_value=expected[k], mine=mine,
                       slip=slips.Slip(slips.OVERFLOW, "the loss overflowed: exp of large logits is inf in float32 "
                                       "(exp(89) already is). Use cross_entropy (or log_softmax), which subtracts "
                                       "the largest logit first"))
            if not agrees(mine, expected[k], F32_RTOL, F32_ATOL):
                variants = [
                    (slips.NOT_CLEARED, "the gradients were not cleared after the step: backward() adds to .grad, "
                     "so each step used the sum of all gradients so far; zero every parameter's .grad after updating",
                     torch_train_steps(weights, batches, lr, zero=False)[0]),
                    (slips.SIGN, f"{slips.words(slips.SIGN)}: the steps went uphill; subtract lr * p.grad",
                     torch_train_steps(weights, batches, lr, sign=-1.0)[0]),
                    (slips.WRONG_LOSS, "the loss is the mean over the batch (cross_entropy's default), not the sum",
                     torch_train_steps(weights, batches, lr, reduction="sum")[0]),
                    (slips.WRONG_LOSS, "softmax before cross_entropy: cross_entropy takes the logits and applies "
                     "log_softmax itself, so the model's output goes in as it is",
                     torch_train_steps(weights, batches, lr, softmax_first=True)[0])]
                slip = next((slips.Slip(slip_id, said) for slip_id, said, wrong in variants
                             if agrees(mine, wrong[k], F32_RTOL, F32_ATOL)), None)
                t.fail(f"the loss train_step returned at step {k}", torch_value=expected[k], mine=mine, slip=slip)
            # cleared: zeros, or None (torch's zero_grad() sets .grad to None); or, cleared at the start of
            # each step instead (zero_grad(); backward(); step()), this step's own gradient. Checked before
            # the parameters, so gradients summed over steps are named as such
            for name, g, own in zip(["W", "b"], step["grads"], grads[k]):
                if g is None:
                    continue
                if isinstance(g, dict) or not (agrees(g, np.zeros_like(own)) or agrees(g, own, F32_RTOL, F32_ATOL)):
                    t.fail(f"the gradients were not cleared after the step: {name}.grad after step {k} is "
                           f"{show(None if isinstance(g, dict) else g)}; zero it (p.grad.zero_(), or p.grad = None) "
                           "so the next backward starts from 0")
            for name, p, want, before in zip(["W", "b"], step["params"], states[k], weights):
                if isinstance(p, dict):
                    t.fail(f"{name}'s data is {p['repr']} after step {k}; it must stay a numpy array")
                if not agrees(p, want, F32_RTOL, F32_ATOL):
                    unchanged = k == 0 and agrees(p, before)
                    t.fail(f"{name} after step {k}", torch_value=want, mine=p, slip=slips.Slip(*_unmoved(
                        all(_cleared(g) for g in step["grads"]))) if unchanged else None)
            for name, kept, want in zip(["W", "b"], step["kept"], states[k]):
                if not agrees(kept, want, F32_RTOL, F32_ATOL):
                    t.fail(f"{name}'s array from before the first step, read after step {k},", torch_value=want,
                           mine=kept, slip=slips.Slip(slips.NOT_IN_PLACE, "a parameter's data is a new array after "
                                                      "the step; update in place (`p -= lr * p.grad`) so everything "
                                                      "holding its data sees the step"))
            if any(g is not None for g in step["grad_fn"]) or any(r is not True for r in step["requires_grad"]):
                t.fail("a parameter is no longer a leaf that requires grad after the step; do the update inside "
                       "`with no_grad():`")
            if step["enabled_after"] is not True:
                t.fail("after train_step recording is still switched off: use `with no_grad():` around the "
                       "update only")


# --------------------------------------------------------------------------
# Notebook 12: clipping and measuring gradients
# --------------------------------------------------------------------------

def _norm(arrays):
    return float(np.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays)))


def clip_grad_norm(t):
    def draw(count=None, over=None, where=""):
        count = int(t.rng.integers(1, 5)) if count is None else count
        grads = [(t.rng.normal(size=random_shape(t.rng)) * float(t.rng.uniform(0.1, 3))).astype(np.float32)
                 for _ in range(count)]
        total = _norm(grads)
        over = bool(t.rng.integers(2)) if over is None else over
        # max_norm well away from the total, on the side asked for
        max_norm = round(total * float(t.rng.uniform(0.1, 0.7) if over else t.rng.uniform(1.5, 4)), 3)
        return (grads, max(max_norm, 0.001)), where
    seeds = []
    if not t.hidden:
        seeds = [(([np.array([3.0, 4.0], np.float32)], 1.0), "one gradient of norm 5, clipped to 1"),
                 (([np.array([0.3, -0.4], np.float32), np.array([[0.1]], np.float32)], 2.0),
                  "two small gradients: nothing to clip"),
                 (([np.array([0.6, 0.8], np.float32), np.array([0.0, -1.0], np.float32)], 1.2),
                  "each gradient is under max_norm, together they are over")]
    families = [draw(1, True, "a single tensor"), draw(4, False, "under max_norm: left alone"),
                draw(4, True, "several tensors, over max_norm")] if t.hidden else []
    for (grads, max_norm), where in _visible_then_random(t, seeds, draw, 1, 6) + families:
        call = (f"clip_grad_norm(grads, max_norm={max_norm!r}) with grads of shapes "
                f"{[g.shape for g in grads]}")
        t.case(call + (f"  ({where})" if where else ""))
        seen = t.run("clip_grad_norm", grads=[g.copy() for g in grads], max_norm=max_norm, what="clip_grad_norm")
        params = [torch.zeros(g.shape, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g.copy())
        expected_total = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        expected = [p.grad.numpy() for p in params]
        squares = sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)
        total = np.sqrt(squares)
        if seen["result"] is None:
            t.fail("clip_grad_norm returned None; like torch.nn.utils.clip_grad_norm_ it returns the total norm "
                   "of all the gradients together, measured before clipping")
        mine = _numbers(t, seen["result"], 1, "clip_grad_norm (the total norm, before clipping)")[0]
        if not agrees(mine, expected_total, F32_RTOL, F32_ATOL):
            t.fail(f"the total norm {call} returned", torch_value=expected_total, mine=mine,
                   slip=slips.explain(mine, expected_total, rtol=F32_RTOL, atol=F32_ATOL, known=[
                       (slips.NO_SQRT, "you forgot the square root: the norm is sqrt(sum of every entry squared)",
                        squares),
                       (slips.NORM_AFTER,
                        "you returned the norm after clipping; clip_grad_norm_ returns the norm the gradients "
                        "had before it scaled them (that is what you log to watch for explosions)",
                        min(total, max_norm)),
                       (slips.NORMS_ADDED,
                        "you added up each tensor's own norm; the total norm is the norm of all the entries "
                        "together: sqrt(sum over tensors of each norm squared)",
                        sum(float(np.linalg.norm(g.astype(np.float64))) for g in grads))]))
        for k, after in enumerate(seen["grads_after"]):
            if isinstance(after, dict):
                t.fail(f"grads[{k}] after clip_grad_norm is {after['repr']}; it must stay a numpy array")
        wrong = _clipping_slips(grads, max_norm, total, squares)
        for k, (after, want) in enumerate(zip(seen["grads_after"], expected)):
            if agrees(after, want, F32_RTOL, F32_ATOL):
                continue
            # the slip is named from all the tensors together: one tensor alone can fit two of them
            mine_all = np.concatenate([np.ravel(a) for a in seen["grads_after"]]).astype(np.float64)
            want_all = np.concatenate([np.ravel(w) for w in expected]).astype(np.float64)
            t.fail(f"grads[{k}] after clip_grad_norm", torch_value=want, mine=after,
                   slip=slips.explain(mine_all, want_all, rtol=F32_RTOL, atol=F32_ATOL, known=wrong))


def _clipping_slips(grads, max_norm, total, squares):
    """``(slip id, words, every tensor after that slip, flattened)`` for the usual wrong ways to clip."""
    wide = [g.astype(np.float64) for g in grads]

    def flat(arrays):
        return np.concatenate([np.ravel(a) for a in arrays])
    per_tensor = [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in wide]
    unchanged = ("the gradients were not changed: scale the arrays you were given in place (`g *= coef`), as "
                 "clip_grad_norm_ does; a new array or list leaves the caller's gradients as they were")
    unchanged_alone = not agrees(flat(per_tensor), flat(wide))
    if not unchanged_alone:  # each is under max_norm alone: either slip leaves them as they were
        unchanged = ("the gradients were not changed, though together they are over max_norm. Either the arrays "
                     "you were given were not scaled in place (`g *= coef`; a new array leaves the caller's as "
                     "they were), or you clipped each tensor by its own norm (each one here is under max_norm on "
                     "its own); clip_grad_norm_ scales all of them by one factor, min(1, max_norm / total_norm)")
    return [
        (slips.NOT_IN_PLACE if unchanged_alone else slips.PER_TENSOR, unchanged, flat(wide)),
        (slips.PER_TENSOR,
         "you clipped each tensor by its own norm; clip_grad_norm_ measures one norm over all the gradients "
         "together and scales every tensor by the same factor", flat(per_tensor)),
        (slips.CLIPPED_UNDER, "you scaled gradients whose total norm is already below max_norm; the factor is "
         "min(1, max_norm / total_norm): clipping only ever shrinks", flat(wide) * max_norm / (total + 1e-6)),
        (slips.BY_VALUE,
         "you clipped each entry to [-max_norm, max_norm]; that is clip_grad_value_. clip_grad_norm_ scales the "
         "whole gradient, keeping its direction", np.clip(flat(wide), -max_norm, max_norm)),
        (slips.FACTOR_INVERTED,
         "the factor is upside down: it is max_norm / total_norm", flat(wide) * min(1.0, total / max_norm)),
        (slips.NO_SQRT, "the factor used the sum of squares, not the norm: take the square root first",
         flat(wide) * min(1.0, max_norm / (squares + 1e-6)))]


def torch_layer_norms(weights, x):
    """Torch's answer and its usual wrong cousins, from one run of the notebook's tanh network."""
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    h, outputs, pre = torch.tensor(x), [], []
    for w in params:
        z = h @ w
        z.retain_grad()
        h = z.tanh()
        h.retain_grad()
        pre.append(z)
        outputs.append(h)
    torch.sum(h * h).backward()  # the notebook's loss: the sum of h squared
    norms = np.array([float(o.grad.norm()) for o in outputs])
    return norms, {
        "reversed": norms[::-1].copy(),
        "squared": norms ** 2,
        "weights": np.array([float(p.grad.norm()) for p in params]),
        "pre": np.array([float(z.grad.norm()) for z in pre]),
        "values": np.array([float(o.detach().norm()) for o in outputs]),
    }


# a vanished gradient's norm is tiny but still measured in float32 to a few digits: compare relatively
NORM_RTOL, NORM_ATOL = 1e-3, 1e-20


def layer_grad_norms(t):
    def draw(depth=None, width=None, scale=None, where=""):
        depth = int(t.rng.integers(2, 7)) if depth is None else depth
        width = int(t.rng.integers(2, 7)) if width is None else width
        scale = float(t.rng.uniform(0.3, 2.5)) if scale is None else scale
        weights = [(t.rng.normal(size=(width, width)) * scale / np.sqrt(width)).astype(np.float32)
                   for _ in range(depth)]
        x = t.rng.normal(size=(int(t.rng.integers(1, 5)), width)).astype(np.float32)
        return (weights, x), where
    seeds = []
    if not t.hidden:
        rng = np.random.default_rng(12)
        seeds = [(([(rng.normal(size=(4, 4)) * 0.5).astype(np.float32) for _ in range(5)],
                   rng.normal(size=(3, 4)).astype(np.float32)), "five layers of small weights: the gradient fades")]
    families = [draw(depth=1, where="a single layer"), draw(depth=8, scale=0.4, where="deep, small weights"),
                draw(width=12, where="wide layers")] if t.hidden else []
    for (weights, x), where in _visible_then_random(t, seeds, draw, 1, 5) + families:
        call = f"layer_grad_norms(weights, x) with {len(weights)} weights of shape {weights[0].shape}, x {x.shape}"
        t.case(call + (f"  ({where})" if where else ""))
        seen = t.run("layer_grad_norms", weights=[w.copy() for w in weights], x=x.copy(), what="layer_grad_norms")
        items = seen["result"].get("sequence") if isinstance(seen["result"], dict) else None
        if items and len(weights) > 1 and any(v is None for v in items) and any(v is not None for v in items):
            t.fail(f"layer_grad_norms returned {described(seen['result'])}: some layers got no norm. If the hooks "
                   "are lambdas made in a loop, each one reads the loop variable when it runs, after the loop has "
                   "ended, so they all write to the last slot; bind it as a default argument "
                   "(`lambda g, k=k: ...`)", slip=slips.Slip(slips.LATE_BINDING))
        mine = _numbers(t, seen["result"], len(weights), "layer_grad_norms (one norm per layer)")
        expected, wrong = torch_layer_norms(weights, x)
        if agrees(mine, expected, NORM_RTOL, NORM_ATOL):
            continue
        t.fail(f"the norms {call} returned", torch_value=expected, mine=mine,
               slip=slips.explain(mine, expected, rtol=NORM_RTOL, atol=NORM_ATOL, known=[
                   (slips.LAYERS_REVERSED,
                    "the norms are in backward's order, last layer first: hooks fire from the loss back "
                    "towards the input. Return them first layer first (store each at its layer's index, or "
                    "reverse the list)", wrong["reversed"]),
                   (slips.NO_SQRT, "you forgot the square root: these are the sums of squares", wrong["squared"]),
                   (slips.WRONG_TENSOR,
                    "these are the norms of the weights' gradients (W.grad); the exercise asks for the "
                    "gradient arriving at each layer's output h, which a hook on h sees", wrong["weights"]),
                   (slips.WRONG_TENSOR,
                    "the hooks sit on h @ W, before tanh; put them on each layer's output, after tanh",
                    wrong["pre"]),
                   (slips.VALUES_NOT_GRADS,
                    "these are the norms of the layers' outputs themselves, not of their gradients: a hook "
                    "receives the gradient, measure that", wrong["values"])]))


# --------------------------------------------------------------------------
# Notebook 10: Jacobians row by row, and forward mode with dual numbers
# --------------------------------------------------------------------------

JACOBIAN_KINDS = ("tanh_affine", "sin_times_linear", "exp_of_squares")


def _jacobian_inputs(rng, kind, m, n):
    a = (rng.normal(size=(m, n)) / np.sqrt(n)).astype(np.float32)
    b = (rng.normal(size=(m,) if kind != "sin_times_linear" else (m, n)) * 0.7).astype(np.float32)
    x = rng.uniform(-1.5, 1.5, size=n).astype(np.float32)
    return kind, a, b, x


def _matrix(t, value, what):
    """The learner's Jacobian as a 2-D float array (rows may come as a list of tensors or arrays)."""
    def unwrap(v):
        if isinstance(v, dict) and "sequence" in v:
            return [unwrap(item) for item in v["sequence"]]
        if isinstance(v, dict) and "tensor" in v:
            return unwrap(v["tensor"])
        if isinstance(v, dict):
            raise TypeError("not a number")
        return v
    try:
        array = np.asarray(unwrap(value), dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 2:
        t.fail(f"{what} should return the Jacobian, a 2-D array or tensor (or a list of rows); it returned "
               f"{described(value)}")
    return array


def jacobian_rows(t):
    from autograder.worker.drivers import jacobian_function

    def draw(kind=None, m=None, n=None, where=""):
        kind = JACOBIAN_KINDS[int(t.rng.integers(len(JACOBIAN_KINDS)))] if kind is None else kind
        m = int(t.rng.integers(2, 6)) if m is None else m
        n = int(t.rng.integers(2, 6)) if n is None else n
        return _jacobian_inputs(t.rng, kind, m, n), where
    seeds = []
    if not t.hidden:
        rng = np.random.default_rng(10)
        seeds = [(_jacobian_inputs(rng, "tanh_affine", 2, 3), "the notebook's tanh(A @ x + b), 2 outputs, 3 inputs"),
                 (_jacobian_inputs(rng, "sin_times_linear", 3, 2), "3 outputs, 2 inputs")]
    families = [draw(kind, where=f"{kind}, judge-drawn") for kind in JACOBIAN_KINDS] + [
        draw(m=1, where="one output: the Jacobian is the gradient as a row"),
        draw(m=4, n=4, where="square")] if t.hidden else []
    for (kind, a, b, x), where in _visible_then_random(t, seeds, draw, 1, 4) + families:
        m, n = a.shape
        call = f"jacobian_rows(f, x) for f = {kind} with {m} outputs and {n} inputs"
        t.case(call + (f"  ({where})" if where else ""))
        seen = t.run("jacobian_rows", kind=kind, a=a.copy(), b=b.copy(), x=x.copy(), what="jacobian_rows")
        mine = _matrix(t, seen["result"], "jacobian_rows")
        f = jacobian_function(kind, torch.tensor(a), torch.tensor(b))
        expected = torch.autograd.functional.jacobian(f, torch.tensor(x)).numpy().astype(np.float64)
        if agrees(mine, expected, F32_RTOL, F32_ATOL):
            continue
        total = np.repeat(expected.sum(0, keepdims=True), m, axis=0)
        known = [
            (slips.JACOBIAN_TRANSPOSED,
             f"{slips.words(slips.JACOBIAN_TRANSPOSED)}: row i of the Jacobian is the gradient of output y[i], "
             f"so it has one entry per input; yours has shape {mine.shape}, torch's {expected.shape}", expected.T),
            (slips.ROWS_ACCUMULATED,
             f"{slips.words(slips.ROWS_ACCUMULATED)}: each of your rows is the sum of that row and every row "
             "before it. backward adds into x.grad; set x.grad = None (or use autograd.grad) before each row, "
             "and v must be zero everywhere except at i", np.cumsum(expected, axis=0)),
            (slips.NOT_ONE_HOT,
             f"{slips.words(slips.NOT_ONE_HOT)}: every row is the sum of all the rows, the gradient of y.sum(). "
             "Either v was all ones, or every row is the same x.grad array, still accumulating: v = e_i (a 1 at "
             "i, zeros elsewhere) and a fresh gradient for each row", total),
            (slips.ROW_REPEATED,
             f"{slips.words(slips.ROW_REPEATED)}: every row is the last one. If you stored x.grad and then "
             "zeroed it in place, all your rows are one array; keep a copy, or set x.grad = None instead",
             np.repeat(expected[-1:], m, axis=0)),
            (slips.ROW_REPEATED,
             f"{slips.words(slips.ROW_REPEATED)}: every row is the first one; the one-hot v must move to the "
             "next output for each row", np.repeat(expected[:1], m, axis=0))]
        if mine.shape != expected.shape and mine.shape != expected.T.shape:
            t.fail(f"the Jacobian {call} has shape {mine.shape}; torch's has shape {expected.shape}: one row per "
                   "output, one column per input", slip=slips.Slip(slips.WRONG_SHAPE))
        t.fail(f"the Jacobian {call}", torch_value=expected, mine=mine,
               slip=slips.explain(mine, expected, rtol=F32_RTOL, atol=F32_ATOL, known=known))


def _has_x(expression):
    return expression[0] == "x" or any(isinstance(e, list) and _has_x(e) for e in expression[1:])


def random_expression(rng, depth, top=True):
    """A random tree of +, *, sin and exp on x and constants (``drivers.evaluate`` reads it); x is in
    every sin and exp (a plain number has no .sin()) and in the whole."""
    if depth == 0 or rng.random() < 0.2:
        return ["x"] if top or rng.random() < 0.75 else ["const", round(float(rng.uniform(-2, 2)), 2)]
    kind = ["add", "mul", "sin", "exp"][int(rng.integers(4))]
    if kind in ("sin", "exp"):
        inner = random_expression(rng, depth - 1, False)
        inner = inner if _has_x(inner) else ["x"]
        return [kind, ["mul", ["const", 0.5], inner] if kind == "exp" else inner]  # keeps exp's values small
    tree = [kind, random_expression(rng, depth - 1, False), random_expression(rng, depth - 1, False)]
    return tree if _has_x(tree) or not top else [kind, tree[1], ["x"]]


def expression_text(expression):
    kind = expression[0]
    if kind == "x":
        return "x"
    if kind == "const":
        return repr(expression[1])
    if kind in ("sin", "exp"):
        return f"{kind}({expression_text(expression[1])})"
    return f"({expression_text(expression[1])} {'+' if kind == 'add' else '*'} {expression_text(expression[2])})"


def _sided(value, derivative):
    """``value`` forward, with ``derivative`` (a detached tensor) as its local derivative backward."""
    return lambda a: value(a).detach() + derivative(a).detach() * (a - a.detach())


def _jvp_slips(expression, x, v):
    """The tangents the usual wrong dual numbers give. The functions are elementwise in x, so the
    Jacobian is diagonal: J v is the gradient of the sum, times v."""
    from autograder.worker.drivers import evaluate

    def tangent(ops=None, seed=v):
        xt = torch.tensor(x, dtype=F64, requires_grad=True)
        out = evaluate(expression, xt, ops)
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            return np.zeros_like(x)
        grad, = torch.autograd.grad(out.sum(), xt, allow_unused=True)
        return (np.zeros_like(x) if grad is None else grad.numpy()) * seed

    def tensor(a):
        return isinstance(a, torch.Tensor)

    # as the notebook's Dual sees a * b: self is the left operand, or the right one when the left is a
    # plain number (__rmul__); a plain number's tangent is 0
    def first_only(a, b):  # self.tangent * other.value
        return a * b.detach() if tensor(a) and tensor(b) else a * b

    def second_only(a, b):  # self.value * other.tangent, a plain number scaling as it should
        return a.detach() * b if tensor(a) and tensor(b) else a * b

    def second_only_everywhere(a, b):  # ... and a plain number made a Dual with tangent 0 first
        if tensor(a) and tensor(b):
            return a.detach() * b
        return (a.detach() if tensor(a) else a) * (b.detach() if tensor(b) else b)
    second_words = (f"{slips.words(slips.PRODUCT_RULE)}: the tangent of a * b is a.tangent * b.value + "
                    "a.value * b.tangent; yours keeps only the second term")
    return [
        (slips.PRODUCT_RULE, f"{slips.words(slips.PRODUCT_RULE)}: the tangent of a * b is "
         "a.tangent * b.value + a.value * b.tangent; yours keeps only the first term", tangent({"mul": first_only})),
        (slips.PRODUCT_RULE, second_words, tangent({"mul": second_only})),
        (slips.PRODUCT_RULE, second_words, tangent({"mul": second_only_everywhere})),
        (slips.SIN_TANGENT, f"{slips.words(slips.SIN_TANGENT)}: the derivative of sin is cos, so sin(d) has "
         "tangent cos(d.value) * d.tangent", tangent({"sin": _sided(torch.sin, torch.sin)})),
        (slips.TANGENT_IGNORED, f"{slips.words(slips.TANGENT_IGNORED)}: your tangent is J @ ones, not J @ v. "
         "Seed the input with v: Dual(x, v)", tangent(seed=np.ones_like(x))),
        (slips.TANGENT_IGNORED, f"{slips.words(slips.TANGENT_IGNORED)}: you returned v unchanged; the "
         "tangent of f's output is what the dual numbers carried through f", v)]


def dual_jvp(t):
    from autograder.worker.drivers import evaluate

    def draw(depth=3, n=None, where=""):
        n = int(t.rng.integers(1, 6)) if n is None else n
        x = t.rng.uniform(-1.5, 1.5, size=n)
        v = t.rng.normal(size=n)
        return (random_expression(t.rng, depth), x, v), where
    seeds = []
    if not t.hidden:
        seeds = [((["add", ["sin", ["mul", ["x"], ["x"]]], ["mul", ["const", 3.0], ["x"]]],
                   np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, 0.0])), "the notebook's f, v = e_0"),
                 ((["mul", ["exp", ["x"]], ["sin", ["x"]]], np.array([0.3, 1.2]), np.array([0.5, -2.0])),
                  "a product of exp and sin")]
    families = [((["mul", ["x"], ["x"]], t.rng.uniform(-2, 2, 4), t.rng.normal(size=4)), "x * x"),
                ((["sin", ["add", ["x"], ["const", 1.0]]], t.rng.uniform(-2, 2, 3), t.rng.normal(size=3)),
                 "sin(x + 1.0)"),
                draw(depth=4, where="deeper")] if t.hidden else []
    for (expression, x, v), where in _visible_then_random(t, seeds, draw, 1, 6) + families:
        text = expression_text(expression)
        call = f"jvp(f, x, v) for f(x) = {text}, x = {show(x)}, v = {show(v)}"
        t.case(call + (f"  ({where})" if where else ""))
        seen = t.run("dual_jvp", expression=expression, x=x.copy(), v=v.copy(), what="jvp")
        items = seen["result"].get("sequence") if isinstance(seen["result"], dict) else None
        if items is None or len(items) != 2:
            t.fail(f"jvp should return two arrays, (f(x), J @ v), as torch.func.jvp does; it returned "
                   f"{described(seen['result'])}")
        value = _numbers(t, items[0], None, "jvp's first result, f(x)")
        mine = _numbers(t, items[1], None, "jvp's second result, the tangent J @ v")

        def f(xt, expression=expression):
            out = evaluate(expression, xt)
            return out if isinstance(out, torch.Tensor) else torch.full_like(xt, out)
        want_value, want_tangent = (r.numpy() for r in torch.func.jvp(f, (torch.tensor(x),), (torch.tensor(v),)))
        want_value = np.broadcast_to(want_value, x.shape)
        # a constant f: a number stands for the whole array, as numpy broadcasts it
        if not agrees(np.broadcast_to(value, x.shape) if value.size == 1 else value, want_value):
            t.fail(f"the value f(x) {call}", torch_value=want_value, mine=value)
        shown = np.broadcast_to(mine, x.shape) if mine.size == 1 else mine
        if agrees(shown, want_tangent):
            continue
        t.fail(f"the tangent J @ v {call}", torch_value=want_tangent, mine=mine,
               slip=slips.explain(shown, want_tangent, known=_jvp_slips(expression, x, v)))
# Notebook 11: gradients of gradients (answers written in torch, run in the judge's torch worker)
# --------------------------------------------------------------------------

# In float64 two exact routes to H v (double backward, torch's hvp, forward-over-reverse) differ by
# rounding only, ~1e-15 of the largest entry; the best difference of gradients is ~1e-10 off. One in
# 1e12 of the largest entry tells the two apart with a margin of a thousand either way.
HVP_RTOL = 1e-12
NEAR_RTOL = 1e-4  # a finite difference lands this close
GRAPHLESS = ("does not require grad", "does not have a grad_fn", "appears to not have been used in the graph")


def _close(mine, expected, rtol):
    """Same shape, and every entry within ``rtol`` of its own size plus the largest entry's size."""
    mine, expected = np.asarray(mine, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if mine.shape != expected.shape:
        return False
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return bool(np.all(np.abs(mine - expected) <= rtol * (np.abs(expected) + scale)))


def _hvp_function(rng, n=None, m=None):
    n = int(rng.integers(2, 6)) if n is None else n
    m = int(rng.integers(1, 5)) if m is None else m
    params = (rng.normal(size=(m, n)), rng.uniform(-1, 1, size=n), rng.normal(size=m))
    return params, rng.uniform(-1.5, 1.5, size=n)


def torch_hvp(params, x, v):
    """Torch's H v (``torch.autograd.functional.hvp``) and the gradient itself, at ``x``."""
    f = torch_cases.scalar_function(params)
    x_t = torch.tensor(x, dtype=F64, requires_grad=True)
    gradient, = torch.autograd.grad(f(x_t), x_t)
    _, product = torch.autograd.functional.hvp(f, x_t.detach(), torch.tensor(v, dtype=F64))
    return product.numpy(), gradient.numpy()


def _learner_error(t, error, what, hint):
    """An exception the learner's function raised (reported as a value by the torch drivers): the
    stub's NotImplementedError as "not written yet", a missing graph by its slip, anything else as raised."""
    if error.get("not_written"):
        t.report_raised(error, what=what)
    said = f"your {what} raised {error['type']}: {error['message']}{error.get('place', '')}"
    if hint is not None and any(text in error["message"] for text in GRAPHLESS):
        t.fail(f"{said}\n  Hint: {hint[1]}", slip=slips.Slip(hint[0]))
    t.report_raised(error, what=what)


NO_GRAPH_WORDS = (f"{slips.words(slips.NO_CREATE_GRAPH)}: torch.autograd.grad without create_graph=True returns "
                  "a gradient with no graph behind it (no grad_fn), so differentiating it again finds nothing to "
                  "follow. Take the first gradient with create_graph=True")


def hvp(t):
    seeds = []
    if not t.hidden:
        rng = np.random.default_rng(11)
        params, x = _hvp_function(rng, 3, 2)
        seeds = [((params, x, np.array([1.0, 0.0, 0.0])), "v = e0: the first column of the Hessian"),
                 ((params, x, rng.normal(size=3)), "a random direction v")]

    def draw(n=None, where=""):
        params, x = _hvp_function(t.rng, n)
        return (params, x, t.rng.normal(size=x.size) * float(t.rng.uniform(0.2, 3))), where
    families = [draw(1, "x has one entry: H v is f''(x) v"), draw(7, "seven entries")] if t.hidden else []
    for (params, x, v), where in _visible_then_random(t, seeds, draw, 1, 6) + families:
        call = f"hvp(f, x, v) with x of shape {x.shape}, f(x) = c . tanh(W x) + sum(a * exp(x)) / 3"
        t.case(call + (f"  ({where})" if where else ""))
        seen = t.run("hvp", params=[np.array(p) for p in params], x=x.copy(), v=v.copy(), what="hvp")
        if seen["error"] is not None:
            _learner_error(t, seen["error"], "hvp", (slips.NO_CREATE_GRAPH, NO_GRAPH_WORDS))
        expected, gradient = torch_hvp(params, x, v)
        result = seen["result"]
        if result is None:
            t.fail("hvp returned None. torch.autograd.grad(..., allow_unused=True) gives None for an input the "
                   "graph never reached: " + NO_GRAPH_WORDS, slip=slips.Slip(slips.NO_CREATE_GRAPH))
        mine = _numbers(t, result, None, "hvp (H v: one number per entry of x)")
        if mine.size == x.size ** 2 and x.size > 1:
            t.fail(f"hvp returned {x.size * x.size} numbers: that is the whole Hessian H. Return the product H v, "
                   "a vector shaped like x, without ever building H")
        if mine.size != x.size:
            t.fail(f"hvp should return one number per entry of x ({x.size}); it returned {described(result)}")
        if _close(mine, expected, HVP_RTOL):
            continue
        slip = None
        if not np.any(mine) and np.any(expected):
            slip = slips.Slip(slips.NO_CREATE_GRAPH, "every entry is 0: " + NO_GRAPH_WORDS
                              + " (allow_unused or materialize_grads only hide that nothing was found)")
        elif _close(mine, gradient, 1e-9) and not _close(expected, gradient, 1e-9):
            slip = slips.Slip(slips.GRADIENT_NOT_HVP, f"{slips.words(slips.GRADIENT_NOT_HVP)}: this is the "
                              "gradient g of f at x. H v is the gradient of g . v, a second differentiation")
        elif _close(mine, expected, NEAR_RTOL):
            slip = slips.Slip(slips.FINITE_DIFFERENCE, f"{slips.words(slips.FINITE_DIFFERENCE)}: yours is close "
                              "to torch's, not equal, as a difference of gradients at x + eps v is. Differentiate "
                              "the gradient itself (first gradient with create_graph=True, then the gradient "
                              "of g . v): that is exact")
        t.fail(f"H v for {call}", torch_value=expected, mine=mine, slip=slip)


PENALTY_RTOL, PENALTY_ATOL = 1e-9, 1e-12


def _critic_weights(rng, d=None, h=None):
    d = int(rng.integers(2, 6)) if d is None else d
    h = int(rng.integers(2, 7)) if h is None else h
    return [rng.normal(size=(h, d)) / np.sqrt(d), rng.normal(size=h) * 0.1, rng.normal(size=(1, h)),
            rng.normal(size=1) * 0.1]


def torch_penalty(weights, x):
    """Torch's penalty on this critic and batch, the critic's weight gradients from it, and the
    penalty as the usual slips compute it."""
    critic = torch_cases.critic(weights)
    x_t = torch.tensor(x, dtype=F64, requires_grad=True)
    g, = torch.autograd.grad(critic(x_t).sum(), x_t, create_graph=True)
    norms = g.norm(2, dim=1)
    penalty = ((norms - 1) ** 2).mean()
    penalty.backward()
    with torch.no_grad():
        wrong = {"no_square": float((norms - 1).mean()), "abs": float((norms - 1).abs().mean()),
                 "no_one": float((norms ** 2).mean()), "batch": float((g.norm() - 1) ** 2),
                 "features": float(((g.norm(2, dim=0) - 1) ** 2).mean()),
                 "mean_output": float(((norms / len(x) - 1) ** 2).mean())}
    # the output bias b2 moves no input gradient: torch leaves its .grad None
    grads = [None if p.grad is None else p.grad.numpy().copy() for p in critic.parameters()]
    return float(penalty.detach()), grads, wrong


def gradient_penalty(t):
    seeds = []
    if not t.hidden:
        rng = np.random.default_rng(111)
        seeds = [((_critic_weights(rng, 2, 3), rng.normal(size=(4, 2))), "a batch of 4 points in 2-D")]

    def draw(n=None, d=None, where=""):
        weights = _critic_weights(t.rng, d)
        n = int(t.rng.integers(2, 7)) if n is None else n
        return (weights, t.rng.normal(size=(n, weights[0].shape[1])) * float(t.rng.uniform(0.5, 2))), where
    families = [draw(1, where="a batch of one"), draw(9, 6, "nine points in 6-D")] if t.hidden else []
    for (weights, x), where in _visible_then_random(t, seeds, draw, 1, 5) + families:
        call = (f"gradient_penalty(critic, x) with x of shape {x.shape}, a critic with {weights[0].shape[0]} "
                "hidden units")
        t.case(call + (f"  ({where})" if where else ""))
        seen = t.run("gradient_penalty", weights=[w.copy() for w in weights], x=x.copy(), what="gradient_penalty")
        if seen["error"] is not None:
            _learner_error(t, seen["error"], "gradient_penalty", (slips.RAISED, (
                "the batch x you are given does not require grad (data never does); before the critic sees it, "
                "make a copy of x that does (clone, then requires_grad_) and differentiate with respect to "
                "that copy")))
        expected, expected_grads, wrong = torch_penalty(weights, x)
        mine = _numbers(t, seen["result"], 1, "gradient_penalty (one number: the penalty averaged over the batch)")[0]
        if not agrees(mine, expected, PENALTY_RTOL, PENALTY_ATOL):
            t.fail(f"the penalty {call} returned", torch_value=expected, mine=mine,
                   slip=slips.explain(mine, expected, rtol=PENALTY_RTOL, atol=PENALTY_ATOL, general=False, known=[
                       (slips.PENALTY_NOT_SQUARED, f"{slips.words(slips.PENALTY_NOT_SQUARED)}: this is the mean of "
                        "(norm - 1) itself; the penalty is the mean of (norm - 1) ** 2, zero only at norm 1 and "
                        "growing on both sides", wrong["no_square"]),
                       (slips.PENALTY_NOT_SQUARED, f"{slips.words(slips.PENALTY_NOT_SQUARED)}: this is the mean of "
                        "|norm - 1|; the penalty squares it: (norm - 1) ** 2", wrong["abs"]),
                       (slips.PENALTY_WITHOUT_ONE, f"{slips.words(slips.PENALTY_WITHOUT_ONE)}: this is the mean of "
                        "norm ** 2, which pushes every gradient to 0; the penalty pulls each norm to 1: "
                        "(norm - 1) ** 2", wrong["no_one"]),
                       (slips.NORM_OVER_BATCH, f"{slips.words(slips.NORM_OVER_BATCH)}: you took one norm of the "
                        "whole (N, d) gradient. Each example gets its own: g.norm(2, dim=1), then the mean of "
                        "(norm - 1) ** 2 over the batch", wrong["batch"]),
                       (slips.WRONG_AXES, f"{slips.words(slips.WRONG_AXES)}: these norms run down the batch, one "
                        "per input feature (dim=0); each example's gradient is a row: g.norm(2, dim=1)",
                        wrong["features"]),
                       (slips.FACTOR, "you differentiated critic(x).mean(), which divides each example's gradient "
                        "by the batch size; differentiate critic(x).sum(): each example's output depends on its "
                        "own input only", wrong["mean_output"])]))
        if seen["grads"] is None:
            error = seen["backward_error"]
            if error is None:
                t.fail(f"gradient_penalty returned {described(seen['result'])}, a plain number: the penalty is a "
                       "loss the critic is trained on, so return the tensor (its graph reaches the critic's weights)",
                       slip=slips.Slip(slips.GRAPH_CUT))
            said = f"backward from your penalty raised {error['type']}: {error['message']}"
            if any(text in error["message"] for text in GRAPHLESS):
                t.fail(f"the penalty's value is right, but {said}\n  Hint: " + NO_GRAPH_WORDS
                       + ", or the penalty cannot train the critic", slip=slips.Slip(slips.NO_CREATE_GRAPH))
            t.fail(said, slip=slips.Slip(slips.RAISED))
        names = ("W1 (first layer's weight)", "b1", "W2 (second layer's weight)", "b2")
        for name, mine_grad, want in zip(names, seen["grads"], expected_grads):
            if want is None:
                if mine_grad is not None and np.any(mine_grad):
                    t.fail(f"the critic's {name} gradient from your penalty", torch_value=None, mine=mine_grad)
                continue
            if mine_grad is None:
                t.fail(f"after backward from your penalty the critic's {name} has no gradient: "
                       + NO_GRAPH_WORDS, slip=slips.Slip(slips.GRAPH_CUT))
            if not agrees(mine_grad, want, PENALTY_RTOL, PENALTY_ATOL):
                t.fail(f"the critic's {name} gradient from your penalty", torch_value=want, mine=mine_grad,
                       slip=slips.explain(mine_grad, want, rtol=PENALTY_RTOL, atol=PENALTY_ATOL))
# Notebook 09: a numerical gradient, against autograd
# --------------------------------------------------------------------------

# the central difference's own error with eps <= 1e-4 is ~eps**2 * f''' / 6 <= 1e-8 here; a one-sided one is
# off by ~eps * f'' / 2, and float32's rounding of x + eps by ~1e-7 / eps: both far outside
NUMERIC_RTOL, NUMERIC_ATOL = 1e-6, 1e-7


def _differences(rule, x, a, eps, *, dtype=np.float64, forward=False, divide=2.0, together=False):
    """A finite-difference gradient of ``rule`` at ``x``, computed here as the usual slips compute it."""
    def f(v):
        return float(rule(np, np.asarray(v), a))
    x = np.asarray(x, dtype)
    step = dtype(eps)
    grad = np.zeros(x.shape)
    for i in ([None] if together else list(np.ndindex(x.shape))):
        shift = np.full(x.shape, step, dtype) if together else np.zeros(x.shape, dtype)
        if not together:
            shift[i] = step
        high = f(x + shift)
        low = f(x) if forward else f(x - shift)
        value = (high - low) / (eps if forward else divide * eps)
        if together:
            grad[...] = value
        else:
            grad[i] = value
    return grad


def numerical_gradient(t):
    names = list(smooth.FUNCTIONS)

    def draw(name=None, shape=None, eps=None, where=""):
        name = names[int(t.rng.integers(len(names)))] if name is None else name
        shape = random_shape(t.rng, 1, 2, 4) if shape is None else shape
        x = np.round(t.rng.uniform(-1.5, 1.5, size=shape), 3)
        a = np.round(t.rng.uniform(0.5, 1.5, size=shape) * t.rng.choice([-1.0, 1.0], size=shape), 2)
        eps = float(10 ** t.rng.uniform(-5, -4)) if eps is None else eps
        return (name, x, a, eps), where
    seeds = []
    if not t.hidden:
        seeds = [(("sum(a * sin(x))", np.array([0.5, -1.0, 2.0]), np.array([1.0, 1.0, 1.0]), 1e-5),
                  "f(x) = sum(sin(x)), whose gradient is cos(x)"),
                 draw("sum(a * x ** 3) / 3 + sum(x) ** 2", (2, 2), 1e-4, "coordinates that interact"),
                 draw("log(1 + sum(exp(a * x)))", (4,), 1e-5)]
    families = [draw(name) for name in names] if t.hidden else []
    for (name, x, a, eps), where in _visible_then_random(t, seeds, draw, 1, 4) + families:
        call = f"numerical_gradient(f, x, eps={eps:.3g}) with f(x) = {name}, a = {show(a)}, x = {show(x)}"
        t.case(call + (f"  ({where})" if where else ""))
        seen = t.run("numerical_gradient", function=name, coefficients=a, x=x.copy(), eps=eps,
                     what="numerical_gradient")
        rule = smooth.FUNCTIONS[name]
        tensor = torch.tensor(x, dtype=F64, requires_grad=True)
        rule(torch, tensor, torch.tensor(a, dtype=F64)).backward()
        expected = tensor.grad.numpy()
        after = seen["x_after"]
        if isinstance(after, dict) or not agrees(after, x, 1e-12, 1e-15):
            t.fail("x after numerical_gradient returned", torch_value=x, mine=after, slip=slips.Slip(
                slips.NOT_RESTORED, f"{slips.words(slips.NOT_RESTORED)}: your function changed the array it was "
                "given and did not put every entry back. Perturb a copy (`x.copy()`), or restore x[i] right after "
                "the two evaluations"))
        result = seen["result"]
        if isinstance(result, dict) and "sequence" in result:
            result = _numbers(t, result, x.size, "numerical_gradient").reshape(x.shape)
        if result is None or isinstance(result, dict) or np.shape(result) != x.shape:
            t.fail(f"numerical_gradient should return an array of x's shape {x.shape}, one partial derivative "
                   f"per entry; it returned {described(seen['result'])}")
        if agrees(result, expected, NUMERIC_RTOL, NUMERIC_ATOL):
            continue
        known = [
            (slips.FORWARD_DIFFERENCE, f"{slips.words(slips.FORWARD_DIFFERENCE)}: (f(x + eps) - f(x)) / eps is "
             "off by about eps * f''(x) / 2; the central difference (f(x + eps) - f(x - eps)) / (2 * eps) is off by "
             "only eps ** 2 * f'''(x) / 6", _differences(rule, x, a, eps, forward=True)),
            (slips.STEP_NOT_HALVED, f"{slips.words(slips.STEP_NOT_HALVED)}: f(x + eps) and f(x - eps) are 2 * eps "
             "apart, so their difference is divided by 2 * eps (yours is twice autograd's gradient)",
             _differences(rule, x, a, eps, divide=1.0)),
            (slips.ALL_AT_ONCE, f"{slips.words(slips.ALL_AT_ONCE)}: x + eps moves every entry together, which "
             "measures the sum of all the partial derivatives. Move one entry at a time: a copy of x with "
             "eps added at index i only", _differences(rule, x, a, eps, together=True)),
            (slips.LOW_PRECISION, f"{slips.words(slips.LOW_PRECISION)}: in float32, x + eps is rounded to a "
             "spacing of about 1e-7, a large part of eps itself. Work in float64", _differences(
                 rule, x, a, eps, dtype=np.float32))]
        slip = slips.explain(result, expected, known=known, rtol=NUMERIC_RTOL, atol=NUMERIC_ATOL)
        if slip is None and np.asarray(result).dtype == np.float32:
            slip = slips.Slip(slips.LOW_PRECISION, f"{slips.words(slips.LOW_PRECISION)}: your function returned "
                              "float32 numbers; differences of nearby values need float64")
        if slip is None and agrees(result, expected, 1e-2, 1e-3):
            slip = slips.Slip(slips.LOW_PRECISION, f"close to autograd's, but not to the 6 digits a float64 central "
                              f"difference reaches ({slips.words(slips.LOW_PRECISION)}, or a one-sided difference "
                              "written another way?)")
        t.fail("your numerical gradient", torch_value=expected, mine=result, slip=slip)
