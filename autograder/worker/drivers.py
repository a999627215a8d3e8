"""Drivers: run one piece of learner code on inputs chosen by the checks, describe what came back.

A ``Session`` holds the learner's engine module (``engine.py`` of their ``tinygrad_course``),
or the function a notebook exercise asked for, and the exercise under test. ``run(name, args)``
calls the driver ``name`` and returns ``{"value": plain data}``, or ``{"raised": {...}}`` when
the learner's code raised.
Nothing here knows the right answer: the checks compute it with torch and compare. Nothing here
judges either: a driver reports values (arrays as they are after the call, what came back and its
type), never a flag it worked out about the learner's objects (a learner's engine can replace
anything this process looks up), and the checks compare those values with torch's on the same
composition. An in-place or aliasing slip is caught by a step whose result it corrupts.
"""

import ast
import contextlib
import io
import os
import traceback
import types

import numpy as np

from autograder.worker import codec, smooth
from autograder.worker.swap import rebind, storage

HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep


# --------------------------------------------------------------------------
# Describing learner values as plain data
# --------------------------------------------------------------------------

def short_repr(value, limit=200):
    try:
        text = repr(value)
    except Exception as error:  # noqa: BLE001 - a learner object's __repr__ may raise anything
        text = f"<{type(value).__name__} whose repr raised {type(error).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def array_of(value):
    """A numeric ndarray for ``value``, or ``{"unreadable": ...}`` saying what it was instead."""
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001
        array = None
    if array is None or array.dtype.name not in codec.DTYPES:
        return {"unreadable": type(value).__name__, "repr": short_repr(value)}
    return np.array(array, copy=True, subok=False)


def exact(value):
    """A flag as it is: a real bool stays a bool; anything else is described (torch's are bools)."""
    if type(value) is bool:
        return value
    return {"not_bool": type(value).__name__, "repr": short_repr(value, 80)}


def plain(value, depth=0):
    """Whatever a learner's function returned, as plain data."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if depth > 20:
        return {"object": type(value).__name__, "repr": "(nested too deeply)"}
    if isinstance(value, np.generic):
        return plain(value.item(), depth)
    if isinstance(value, np.ndarray):
        return array_of(value)
    if isinstance(value, list | tuple):
        return {"sequence": [plain(v, depth + 1) for v in list(value)[:10_000]],
                "kind": "tuple" if isinstance(value, tuple) else "list"}
    data = storage(value)
    if isinstance(data, np.ndarray | np.generic):
        return {"tensor": array_of(data), "grad_fn": getattr(value, "grad_fn", None) is not None,
                "requires_grad": bool(getattr(value, "requires_grad", False))}
    return {"object": type(value).__name__, "repr": short_repr(value)}


def _or_itself(array, value):
    return value if array is None else array


def describe_error(error):
    """An exception raised by learner code, as the checks report it."""
    try:
        message = str(error)
    except Exception:  # noqa: BLE001
        message = "(its message could not be read)"
    frame, function = learner_frame(error)
    return {"type": type(error).__name__, "message": message[:4000], "place": place(frame),
            "function": function[:200],  # a stub's raise may sit in a helper (Dual.__mul__), not the function checked
            "not_written": isinstance(error, NotImplementedError)}


def learner_frame(error):
    """The traceback's last frame in learner code (not the grader's, nor a library's: torch's frames,
    when an answer calls torch) and its function's qualified name; ``(None, "")`` if there is none."""
    try:
        tb = error.__traceback__
        frames = [(summary, frame.f_code.co_qualname)
                  for summary, (frame, _) in zip(traceback.extract_tb(tb), traceback.walk_tb(tb), strict=True)]
    except Exception:  # noqa: BLE001
        return None, ""
    frames = [(f, name) for f, name in frames if not f.filename.startswith(HERE) and not any(
        part in f.filename.replace(os.sep, "/") for part in ("/autograder/", "/site-packages/", "/dist-packages/"))]
    return frames[-1] if frames else (None, "")


def place(frame):
    """``  (engine.py, line 212: return grad * x)``: where a learner frame is."""
    if frame is None:
        return ""
    name = os.path.basename(frame.filename) if frame.filename.endswith(".py") else "your cell"
    return f"  ({name}, line {frame.lineno}: {frame.line})" if frame.line else f"  ({name}, line {frame.lineno})"


def _gradient(tensor):
    grad = tensor.grad
    return None if grad is None else array_of(_or_itself(storage(grad), grad))


# --------------------------------------------------------------------------
# The graphs of the backward-pass exercise: Functions that know no derivative
# --------------------------------------------------------------------------

FORWARD = {"add": np.add, "add_cut": np.add, "mul": np.multiply, "sin": np.sin, "cos": np.cos, "square": np.square,
           "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "sum": lambda x: np.asarray(x.sum())}


def step_function(engine, step):
    """A subclass of the learner's ``Function`` (whose ``apply`` builds the node) for one step of a graph.

    Its backward knows no calculus: the judge sends each input's local derivative at this step's
    values (computed by torch), and backward multiplies the incoming gradient by it -- so nothing
    here is an answer to any exercise. Like torch's node it saves tensors only where torch's does
    (``step["saves"]``), so a second backward fails exactly where torch's fails; it sends None to a
    constant input where torch's node does (``step["none_for_constants"]``), and always for an input
    the step cuts (``b.detach()``). An add step hands the very array it received to every input of
    that shape, one object on two edges, as an engine's addition may: a backward pass that sums
    arriving gradients in place (``+=``) changes what another edge holds, and the leaves show it."""
    forward_op, local = FORWARD[step["op"]], step["local"]

    def forward(ctx, *arrays):
        if step["saves"]:
            ctx.save_for_backward(*arrays)
        ctx.input_shapes_ = [np.shape(a) for a in arrays]
        return forward_op(*arrays)

    def backward(ctx, grad):
        if step["saves"]:
            ctx.saved_tensors  # noqa: B018 - raises, as torch does, once backward has freed them
        wanted = [node is not None for node, _ in ctx.next_functions]
        grads = []
        for slot, (derivative, shape) in enumerate(zip(local, ctx.input_shapes_)):
            if derivative is None or (step["none_for_constants"] and not wanted[slot]):
                grads.append(None)
            elif step["op"] in ("add", "add_cut") and np.shape(grad) == shape:
                grads.append(grad)
            else:
                grads.append(np.broadcast_to(grad, shape) * derivative if step["op"] != "sum"
                             else np.broadcast_to(grad, shape))  # a read-only view, as an engine's Sum may give
        return tuple(grads) if len(grads) > 1 else grads[0]

    return type(f"Step{step['op'].title()}", (engine.Function,), {
        "node_name": step["node_name"], "forward": staticmethod(forward), "backward": staticmethod(backward)})


class Boom(Exception):
    """Thrown through a ``with`` block by a grad-mode program, caught just outside it."""


# --------------------------------------------------------------------------
# The session and its drivers
# --------------------------------------------------------------------------

class Session:
    """One exercise's learner code: ``engine`` (an engine.py module) and/or ``answer`` (a function).

    Engine units are driven directly, with nothing else of the engine involved. A notebook answer
    that uses the engine runs with ``standins`` (a module whose ``make(engine)`` / ``installed(engine)``
    put a version of every unit in place of the learner's: ``autograder.learner.torch_standins`` in the
    kernel, the instructor's own, sent over the pipe, in the judge), so only the answer is graded;
    stand-ins are given only to such a session, never to one that judges a unit."""

    def __init__(self, exercise, engine=None, answer=None, standins=None):
        self.exercise, self.engine, self.answer = exercise, engine, answer
        self.standins = standins if engine is not None and answer is not None else None

    def run(self, driver, args, table=None):
        """``{"value": ...}`` or ``{"raised": ...}``; the value is plain data, encodable by ``codec``.
        The driver comes from ``DRIVERS``, made when this module was imported (before any learner code),
        so replacing ``Session.drive_<name>`` later changes nothing (the worker passes its own copy)."""
        function = (DRIVERS if table is None else table).get(driver)
        if function is None:
            raise ValueError(f"no driver {driver!r}")
        isolate = self.standins.installed(self.engine) if self.standins else contextlib.nullcontext()
        try:
            # numpy's floating-point warnings off: a learner's rule dividing by 0 where torch is silent
            # (torch never warns there) would print RuntimeWarnings under the check; the values tell
            with isolate, contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
                value = function(self, **args)
        except Exception as error:  # noqa: BLE001 - the learner's exception is the finding
            return {"raised": describe_error(error)}
        return {"value": value}

    # -- engine units --
    def drive_op_backward(self, op, arrays, grad, options):
        """The op's forward, then its backward; and the incoming gradient array and the inputs' arrays as
        they are afterwards. In an engine the incoming gradient may be the very array another node also
        received (Add hands one array to both inputs), and an input's array is that tensor's own."""
        engine = self.engine
        function = getattr(engine, op)
        options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
        shapes = tuple(np.shape(a) for a in arrays)
        node_type = getattr(engine, "_node_type", None)
        ctx = node_type(function.node_name)(function, shapes) if node_type else engine.Node(function, shapes)
        given = [np.array(a) for a in arrays]
        function.forward(ctx, *given, **options)
        incoming = np.array(grad)
        returned = function.backward(ctx, incoming)
        kind = "list" if isinstance(returned, list) else "tuple" if isinstance(returned, tuple) else "single"
        items = list(returned)[:16] if kind != "single" else [returned]
        return {"kind": kind, "count": len(returned) if kind != "single" else 1,
                "grads": [None if g is None else array_of(g) for g in items],
                "incoming_after": array_of(incoming), "inputs_after": [array_of(a) for a in given]}

    def drive_sum_to_shape(self, grad, shape):
        result = self.engine.sum_to_shape(grad, tuple(shape))
        return {"result": array_of(result), "grad_after": array_of(grad)}

    def drive_accumulate_grad(self, leaf_values, gradients, rounds, scribbles):
        """Each round hands ``gradients[g]`` to leaf ``i``'s AccumulateGrad; then the handed-in array is
        overwritten with ``scribbles[round]`` (the judge replays that with torch). Reported per round:
        what apply returned, the handed-in array right after apply, each leaf's .grad, and the .grad
        tensor and array each leaf had when its .grad was first set, as they are now (torch adds into
        the existing x.grad in place, so a reference kept before a second backward sees the sum)."""
        engine = self.engine
        leaves = [engine.Tensor(v, requires_grad=True) for v in leaf_values]
        nodes = [engine.AccumulateGrad(leaf) for leaf in leaves]
        kept = [None] * len(leaves)
        steps = []
        for (leaf_index, gradient_index), scribble in zip(rounds, scribbles):
            g = gradients[gradient_index]
            returned = nodes[leaf_index].apply(g)
            step = {"returned": plain(returned), "given_after": array_of(g), "leaves": [], "kept": []}
            g[...] = scribble
            for k, leaf in enumerate(leaves):
                grad = leaf.grad
                if grad is not None and kept[k] is None:
                    kept[k] = (grad, storage(grad))
                step["leaves"].append(None if grad is None else {
                    "tensor": isinstance(grad, engine.Tensor), "type": type(grad).__name__,
                    "data": array_of(storage(grad))})
                step["kept"].append(None if kept[k] is None else {
                    "tensor": array_of(storage(kept[k][0])), "array": array_of(kept[k][1])})
            steps.append(step)
        return {"steps": steps}

    def drive_zero_(self, values, marker):
        """zero_ on a tensor, with an array and a view of it kept from before; then the tensor's array is
        rebound to ``marker`` and what zero_ returned is read again (it follows only if it is the tensor)."""
        tensor = self.engine.Tensor(values)
        array = storage(tensor)
        view = array.reshape(-1)[::2]
        returned = tensor.zero_()
        seen = {"data": array_of(storage(tensor)), "kept": array_of(array), "view": array_of(view),
                "returned": plain(returned)}
        rebind(tensor, np.array(marker))
        seen["returned_after"] = plain(returned)
        return seen

    def drive_detach(self, values, kind, marker, other):
        """detach, described; then a write into the detached tensor's array (``marker``) and a new array
        bound to it (``other``), with the source's values read after each."""
        engine = self.engine
        x = engine.Tensor(values, requires_grad=True)
        makers = {"x": lambda: x, "x * 3": lambda: x * 3, "a tensor without grad": lambda: engine.Tensor(values)}
        source = makers[kind]()
        detached = source.detach()
        seen = {"is_tensor": isinstance(detached, engine.Tensor), "type": type(detached).__name__}
        if not seen["is_tensor"]:
            return seen
        seen.update(data=array_of(storage(detached)), requires_grad=exact(detached.requires_grad),
                    is_leaf=exact(detached.is_leaf),
                    grad_fn=None if detached.grad_fn is None else short_repr(detached.grad_fn),
                    source_requires_grad=exact(source.requires_grad),
                    source_grad_fn=None if source.grad_fn is None else short_repr(source.grad_fn))
        try:
            (detached ** 2).backward()
            seen["backward_error"] = None
        except Exception as error:  # noqa: BLE001 - compared with torch's error text
            seen["backward_error"] = str(error).splitlines()[0] if str(error) else type(error).__name__
        for name, change in (("source_after_write", lambda: storage(detached).__setitem__(Ellipsis, marker)),
                             ("source_after_rebind", lambda: rebind(detached, np.array(other)))):
            try:
                change()
            except Exception as error:  # noqa: BLE001 - a detached tensor whose data cannot take the marker
                seen[name] = {"unreadable": type(error).__name__, "repr": short_repr(error)}
                return seen
            seen[name] = array_of(storage(source))
        return seen

    def drive_backward_pass(self, leaves, steps, gradient):
        """Two backward calls (retain_graph=True, then False) and a third that must fail. Each node's
        ``apply`` is watched (what gradient it received in the first call, in which order nodes ran);
        at the leaves the arriving gradients are summed here, so no other unit is involved."""
        engine = self.engine
        values = [engine.Tensor(np.array(v, dtype=np.float64), requires_grad=g) for v, g in leaves]
        for step in steps:
            values.append(step_function(engine, step).apply(*(values[i] for i in step["inputs"])))
        trace = {"received": [None] * len(values), "order": []}
        totals = [None] * len(leaves)
        self._watch_nodes(values, steps, len(leaves), trace, totals)
        root = values[-1]
        calls = []
        for retain in (True, False):
            try:
                root.backward(None if gradient is None else np.array(gradient), retain_graph=retain)
            except Exception as error:  # noqa: BLE001 - reported with the call it happened in
                return {"calls": calls, "raised": describe_error(error), "trace": trace}
            trace["first_call_done"] = True
            calls.append([None if total is None else array_of(total) for total in totals])
        try:
            root.backward(None if gradient is None else np.array(gradient))
            third = None
        except RuntimeError as error:
            third = str(error).splitlines()[0] if str(error) else ""
        return {"calls": calls, "third": third, "trace": trace}

    @staticmethod
    def _watch_nodes(values, steps, n_leaves, trace, totals):
        """Shadow ``apply`` on each node of the graph: a step's node is watched during the first call;
        a leaf's AccumulateGrad node only adds what arrives into ``totals`` (its learner's unit is
        another exercise)."""
        nodes = {}
        for k, step in enumerate(steps):
            node = values[n_leaves + k].grad_fn
            if node is None:
                continue
            nodes.setdefault(id(node), (n_leaves + k, node))
            for (child, _), i in zip(node.next_functions, step["inputs"]):
                if child is not None and i < n_leaves:
                    nodes.setdefault(id(child), (i, child))
        for index, node in nodes.values():
            inner = node.apply

            def apply(grad, index=index, inner=inner):
                if not trace.get("first_call_done"):
                    if trace["received"][index] is None:
                        trace["received"][index] = array_of(grad)
                    trace["order"].append(index)
                if index >= n_leaves:
                    return inner(grad)
                arrived = np.array(grad, dtype=np.float64)
                totals[index] = arrived if totals[index] is None else totals[index] + arrived
                return ()
            node.apply = apply

    def drive_grad_mode(self, source):
        engine = self.engine
        log = []
        x = engine.Tensor([1.0, 2.0], requires_grad=True)

        def see(k):
            y = x * 2
            log.append([k, exact(engine.is_grad_enabled()), y.grad_fn is not None, exact(y.requires_grad)])
        try:
            exec(compile(source, "<grad mode program>", "exec"), {"lib": engine, "see": see, "Boom": Boom})
        finally:
            engine._grad_enabled = True
        return {"log": log}

    # -- notebook exercises --
    def drive_call(self, args):
        return {"result": plain(self.answer(*args))}

    def drive_no_grad_inference(self, w0, b0, xs, as_tensor):
        engine = self.engine
        w, b = engine.Tensor(w0, requires_grad=True), engine.Tensor(b0, requires_grad=True)
        result = self.answer(w, b, engine.Tensor(xs) if as_tensor else list(xs))
        items = list(result) if isinstance(result, list | tuple) else [result]
        try:
            values = np.concatenate([np.ravel(np.asarray(_or_itself(storage(item), item), dtype=np.float64))
                                     for item in items])
        except (TypeError, ValueError):
            values = None
        return {"values": values, "repr": short_repr(result),
                "items": [{"grad_fn": short_repr(getattr(item, "grad_fn", None)),
                           "requires_grad": exact(getattr(item, "requires_grad", False))} for item in items[:64]],
                "enabled_after": exact(engine.is_grad_enabled()),
                "params_requires_grad": [exact(w.requires_grad), exact(b.requires_grad)],
                "params_grad": [_gradient(w), _gradient(b)]}

    def drive_sgd_step(self, params, lr):
        """The learner's step; each parameter's array from before the step is read again after it."""
        engine = self.engine
        mine = []
        for value, grad in params:
            p = engine.Tensor(value.copy(), requires_grad=True)
            p.grad = engine.Tensor(grad.copy())
            mine.append(p)
        arrays = [storage(p) for p in mine]
        self.answer(list(mine), lr)
        return {"params": [{"data": array_of(storage(p)), "kept": array_of(array), "grad": _gradient(p),
                            "grad_fn": None if p.grad_fn is None else short_repr(p.grad_fn),
                            "requires_grad": exact(p.requires_grad)}
                           for p, array in zip(mine, arrays)],
                "enabled_after": exact(engine.is_grad_enabled())}

    def drive_train_neuron(self, xs, ys, epochs, lr):
        return {"result": plain(self.answer(list(xs), list(ys), epochs, lr))}

    def drive_mlp_forward(self, params, x, grad):
        """The learner's network on these parameters; then backward from ``grad`` into them."""
        engine = self.engine
        tensors = [engine.Tensor(p.copy(), requires_grad=True) for p in params]
        result = self.answer(list(tensors), engine.Tensor(x.copy()))
        seen = {"result": plain(result)}
        if isinstance(result, engine.Tensor) and result.requires_grad is True and result.shape == grad.shape:
            result.backward(grad.astype(storage(result).dtype))
            seen["grads"] = [_gradient(p) for p in tensors]
        return seen

    def drive_train_step(self, weights, batches, lr):
        """The learner's step on the grader's model, ``x @ W + b``, one mini-batch after another; the
        parameters' arrays from before the first step are read again after each."""
        engine = self.engine
        params = [engine.Tensor(w.copy(), requires_grad=True) for w in weights]
        arrays = [storage(p) for p in params]

        def model(x):
            return x @ params[0] + params[1]
        steps = []
        for x, y in batches:
            loss = self.answer(model, list(params), engine.Tensor(x), engine.Tensor(y), lr)
            steps.append({"loss": plain(loss), "params": [array_of(storage(p)) for p in params],
                          "kept": [array_of(a) for a in arrays], "grads": [_gradient(p) for p in params],
                          "grad_fn": [None if p.grad_fn is None else short_repr(p.grad_fn) for p in params],
                          "requires_grad": [exact(p.requires_grad) for p in params],
                          "enabled_after": exact(engine.is_grad_enabled())})
        return {"steps": steps}

    def drive_clip_grad_norm(self, grads, max_norm):
        """The learner's clipping on these arrays; what it returned, and the arrays as they are after it."""
        arrays = [g.copy() for g in grads]
        result = self.answer(list(arrays), max_norm)
        return {"result": plain(result), "grads_after": [array_of(a) for a in arrays]}

    def drive_layer_grad_norms(self, weights, x):
        """The learner's measurement on a tanh network with these weights (leaves that require grad)."""
        engine = self.engine
        tensors = [engine.Tensor(w.copy(), requires_grad=True) for w in weights]
        return {"result": plain(self.answer(list(tensors), engine.Tensor(x.copy())))}

    def drive_jacobian_rows(self, kind, a, b, x):
        """The learner's Jacobian of one of the judge's functions (``jacobian_function``) at ``x``."""
        engine = self.engine
        f = jacobian_function(kind, engine.Tensor(a.copy()), engine.Tensor(b.copy()))
        return {"result": plain(self.answer(f, engine.Tensor(x.copy(), requires_grad=True)))}

    def drive_dual_jvp(self, expression, x, v):
        """The learner's forward-mode product on the judge's expression (``evaluate``), numpy in and out."""
        result = self.answer(lambda value: evaluate(expression, value), x.copy(), v.copy())
        return {"result": plain(result)}

    def drive_numerical_gradient(self, function, coefficients, x, eps):
        """The learner's numerical gradient of the named smooth function (numpy, float64) at ``x``; what it
        returned, ``x`` as it is after the call, and how many times the function was evaluated."""
        rule, calls = smooth.FUNCTIONS[function], [0]

        def f(values):
            calls[0] += 1
            return float(rule(np, np.asarray(values), coefficients))
        given = x.copy()
        result = self.answer(f, given, eps)
        return {"result": plain(result), "x_after": array_of(given), "calls": calls[0]}

    # -- notebook 11: answers written in torch, run only in the judge's torch worker (or the kernel) --
    def drive_hvp(self, params, x, v):
        """The learner's ``hvp(f, x, v)`` on ``torch_cases.scalar_function(params)``, x requiring grad.
        An exception is reported as a value (``error``): the check names the slip from its text."""
        import torch

        from autograder.worker import torch_cases
        f = torch_cases.scalar_function(params)
        x_t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        try:
            result = self.answer(f, x_t, torch.tensor(v, dtype=torch.float64))
        except Exception as error:  # noqa: BLE001 - the learner's exception is the finding
            return {"error": describe_error(error)}
        return {"error": None, "result": plain(torch_cases.untorch(result))}

    def drive_gradient_penalty(self, weights, x):
        """The learner's ``gradient_penalty(critic, x)`` on the critic with these weights and a batch that
        does not require grad; then backward from what it returned into the critic's weights (cleared
        first: a backward inside the answer must not count), and the weights' gradients as they are."""
        import torch

        from autograder.worker import torch_cases
        critic = torch_cases.critic(weights)
        try:
            penalty = self.answer(critic, torch.tensor(x, dtype=torch.float64))
        except Exception as error:  # noqa: BLE001
            return {"error": describe_error(error)}
        seen = {"error": None, "result": plain(torch_cases.untorch(penalty)), "grads": None, "backward_error": None}
        if isinstance(penalty, torch.Tensor):
            for parameter in critic.parameters():
                parameter.grad = None
            try:
                penalty.backward()
                seen["grads"] = [None if p.grad is None else array_of(torch_cases.untorch(p.grad))
                                 for p in critic.parameters()]
            except Exception as error:  # noqa: BLE001 - compared with what torch's penalty allows
                seen["backward_error"] = describe_error(error)
        return seen


# --------------------------------------------------------------------------
# Notebook 10's functions: built the same way on torch tensors (the checks) and on the learner's
# values (here), from operators and methods both have
# --------------------------------------------------------------------------

def jacobian_function(kind, a, b):
    """``x -> y``, a vector of ``a.shape[0]`` outputs from a vector ``x``; ``a`` and ``b`` are tensors."""
    if kind == "tanh_affine":
        return lambda x: (a @ x + b).tanh()
    if kind == "sin_times_linear":
        return lambda x: (a @ x).sin() * (b @ x)
    if kind == "exp_of_squares":
        return lambda x: (a @ (x * x)).exp() * b
    raise ValueError(f"no function {kind!r}")


def evaluate(expression, x, ops=None):
    """The expression tree (nested lists: ``["x"]``, ``["const", c]``, ``["add"|"mul", left, right]``,
    ``["sin"|"exp", inner]``) at ``x``, with ``+``, ``*`` and the methods ``.sin()``/``.exp()`` of
    whatever ``x`` is. ``ops`` replaces some of them (the checks' wrong rules)."""
    ops = ops or {}
    kind = expression[0]
    if kind == "x":
        return x
    if kind == "const":
        return float(expression[1])
    if kind in ("sin", "exp"):
        inner = evaluate(expression[1], x, ops)
        return ops[kind](inner) if kind in ops else getattr(inner, kind)()
    left, right = evaluate(expression[1], x, ops), evaluate(expression[2], x, ops)
    if kind in ops:
        return ops[kind](left, right)
    if kind == "add":
        return left + right
    if kind == "mul":
        return left * right
    raise ValueError(f"no operation {kind!r}")


# name -> driver, made once when this module is imported, before any learner code runs
DRIVERS = types.MappingProxyType({name.removeprefix("drive_"): function for name, function in vars(Session).items()
                                  if name.startswith("drive_")})


# --------------------------------------------------------------------------
# Notebook answers: the function a solution cell defines
# --------------------------------------------------------------------------

def answer_from_cells(cells, grade_id, function_name):
    """Run a notebook's code cells in order (test cells already left out by the caller) up to the
    *last* cell ``grade_id`` (nbgrader grades the last of duplicated ids too) and return
    ``(function, problem)``: the function that cell left defined, or why there is none.

    A cell runs statement by statement, past one that fails: this process has no torch (nor
    matplotlib), so a setup cell's ``import torch`` fails here though it works in the notebook, and
    the names defined after it (the data a notebook loads) must still be defined."""
    last = max((k for k, (cell_id, _) in enumerate(cells) if cell_id == grade_id), default=None)
    if last is None:
        return None, f"no cell with grade_id {grade_id} in the notebook"
    namespace = {"__name__": "__main__"}
    errors = []
    for cell_id, source in cells[:last + 1]:
        source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            statements = ast.parse(source, f"<cell {cell_id}>").body
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            errors.append(f"{type(error).__name__}: {short_repr(error, 300)}")
            continue
        for statement in statements:
            try:
                code = compile(ast.Module([statement], type_ignores=[]), f"<cell {cell_id}>", "exec")
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(code, namespace)
            except Exception as error:  # noqa: BLE001 - recorded: the answer may still be usable
                errors.append(f"{type(error).__name__}: {short_repr(error, 300)}")
    value = namespace.get(function_name)
    if callable(value):
        return value, None
    return None, f"the cell {grade_id} did not define {function_name}" + (f" ({errors[-1]})" if errors else "")
