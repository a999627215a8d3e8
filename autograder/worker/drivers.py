"""Drivers: run one piece of learner code on inputs chosen by the checks, describe what came back.

A ``Session`` holds the learner's engine module (``engine.py`` of their ``tinygrad_course``),
or the function a notebook exercise asked for, and the exercise under test. ``run(name, args)``
calls the driver ``name`` with stand-ins (``standins``) in place of every other engine unit and
returns ``{"value": plain data}``, or ``{"raised": {...}}`` when the learner's code raised.
Nothing here knows the right answer: the checks compute it with torch and compare.
"""

import contextlib
import io
import os
import traceback

import numpy as np

from autograder.worker import codec, standins

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
    data = getattr(value, "data", None)
    if isinstance(data, np.ndarray | np.generic):
        return {"tensor": array_of(data), "grad_fn": getattr(value, "grad_fn", None) is not None,
                "requires_grad": bool(getattr(value, "requires_grad", False))}
    return {"object": type(value).__name__, "repr": short_repr(value)}


def describe_error(error):
    """An exception raised by learner code, as the checks report it."""
    try:
        message = str(error)
    except Exception:  # noqa: BLE001
        message = "(its message could not be read)"
    return {"type": type(error).__name__, "message": message[:4000], "place": place(error),
            "not_written": isinstance(error, NotImplementedError)}


def place(error):
    """``  (engine.py, line 212: return grad * x)``: the last line of learner code in the traceback."""
    try:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith(HERE)]
    except Exception:  # noqa: BLE001
        return ""
    frames = [f for f in frames if "/autograder/" not in f.filename.replace(os.sep, "/")]
    if not frames:
        return ""
    frame = frames[-1]
    name = os.path.basename(frame.filename) if frame.filename.endswith(".py") else "your cell"
    return f"  ({name}, line {frame.lineno}: {frame.line})" if frame.line else f"  ({name}, line {frame.lineno})"


def _gradient(tensor):
    grad = tensor.grad
    return None if grad is None else array_of(getattr(grad, "data", grad))


# --------------------------------------------------------------------------
# The graphs of the backward-pass exercise: Functions written for the grader
# --------------------------------------------------------------------------

def graph_functions(engine):
    """Subclasses of the learner's ``Function`` (whose ``apply`` builds the nodes) with forward and
    backward written here, saving what torch's nodes save, so no learner op rule is involved."""
    base = engine.Function

    def saved(ctx, k=0):
        return ctx.saved_tensors[k]

    def wanted(ctx):
        return [node is not None for node, _ in ctx.next_functions]

    class Add(base):
        node_name = "AddBackward0"
        forward = staticmethod(lambda ctx, a, b: a + b)
        backward = staticmethod(lambda ctx, grad: (grad, grad))  # one array for both, as an engine's Add

    class Mul(base):
        node_name = "MulBackward0"

        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):  # None for an input that is a constant, as torch's nodes do
            flags = wanted(ctx)
            return (grad * saved(ctx, 1) if flags[0] else None), (grad * saved(ctx, 0) if flags[1] else None)

    class AddCut(base):
        """``a + b.detach()`` in torch: b is an input of the node, but the gradient sent to it is None."""
        node_name = "AddBackward0"
        forward = staticmethod(lambda ctx, a, b: a + b)
        backward = staticmethod(lambda ctx, grad: (grad, None))

    class Sin(base):
        node_name = "SinBackward0"

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.sin(x)

        @staticmethod
        def backward(ctx, grad):
            return grad * np.cos(saved(ctx))

    class Square(base):
        node_name = "PowBackward0"

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            return grad * 2 * saved(ctx)

    class Sigmoid(base):
        node_name = "SigmoidBackward0"

        @staticmethod
        def forward(ctx, x):
            out = 1 / (1 + np.exp(-x))
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, grad):
            return grad * saved(ctx) * (1 - saved(ctx))

    class Sum(base):
        node_name = "SumBackward0"

        @staticmethod
        def forward(ctx, x):
            ctx.input_shape = x.shape
            return np.asarray(x.sum())

        @staticmethod
        def backward(ctx, grad):
            return np.broadcast_to(grad, ctx.input_shape)  # a read-only view, as an engine's Sum may give

    return {"add": Add, "mul": Mul, "add_cut": AddCut, "sin": Sin, "square": Square, "sigmoid": Sigmoid,
            "sum": Sum}


class Boom(Exception):
    """Thrown through a ``with`` block by a grad-mode program, caught just outside it."""


# --------------------------------------------------------------------------
# The session and its drivers
# --------------------------------------------------------------------------

class Session:
    """One exercise's learner code: ``engine`` (an engine.py module) and/or ``answer`` (a function)."""

    def __init__(self, exercise, engine=None, answer=None):
        self.exercise, self.engine, self.answer = exercise, engine, answer

    def run(self, driver, args):
        """``{"value": ...}`` or ``{"raised": ...}``; the value is plain data, encodable by ``codec``."""
        function = getattr(self, f"drive_{driver}", None)
        if function is None:
            raise ValueError(f"no driver {driver!r}")
        isolate = standins.installed(self.engine, keep=self.exercise) if self.engine is not None \
            else contextlib.nullcontext()
        try:
            with isolate, contextlib.redirect_stdout(io.StringIO()):
                value = function(**args)
        except Exception as error:  # noqa: BLE001 - the learner's exception is the finding
            return {"raised": describe_error(error)}
        return {"value": value}

    # -- engine units --
    def drive_op_backward(self, op, arrays, grad, options):
        engine = self.engine
        function = getattr(engine, op)
        options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
        shapes = tuple(np.shape(a) for a in arrays)
        node_type = getattr(engine, "_node_type", None)
        ctx = node_type(function.node_name)(function, shapes) if node_type else engine.Node(function, shapes)
        function.forward(ctx, *(np.array(a) for a in arrays), **options)
        returned = function.backward(ctx, np.array(grad))
        kind = "list" if isinstance(returned, list) else "tuple" if isinstance(returned, tuple) else "single"
        items = list(returned)[:16] if kind != "single" else [returned]
        return {"kind": kind, "count": len(returned) if kind != "single" else 1,
                "grads": [None if g is None else array_of(g) for g in items]}

    def drive_sum_to_shape(self, grad, shape):
        before = grad.copy()
        result = self.engine.sum_to_shape(grad, tuple(shape))
        return {"result": array_of(result), "mutated": not np.array_equal(grad, before, equal_nan=True)}

    def drive_accumulate_grad(self, leaf_values, gradients, rounds):
        engine = self.engine
        leaves = [engine.tensor(v, requires_grad=True) for v in leaf_values]
        nodes = [engine.AccumulateGrad(leaf) for leaf in leaves]
        steps = []
        for leaf_index, gradient_index in rounds:
            g = gradients[gradient_index]
            before = g.copy()
            returned = nodes[leaf_index].apply(g)
            try:
                empty = len(tuple(returned)) == 0
            except TypeError:
                empty = False
            step = {"mutated": not np.array_equal(g, before), "empty": empty, "returned": short_repr(returned),
                    "leaves": []}
            for leaf in leaves:
                grad = leaf.grad
                if grad is None:
                    step["leaves"].append(None)
                elif not isinstance(grad, engine.Tensor):
                    step["leaves"].append({"tensor": False, "type": type(grad).__name__})
                else:
                    data = array_of(grad.data)
                    shares = isinstance(grad.data, np.ndarray) and any(
                        np.shares_memory(grad.data, other) for other in gradients)
                    step["leaves"].append({"tensor": True, "data": data, "shares": shares})
            steps.append(step)
        return {"steps": steps}

    def drive_zero_(self, values):
        tensor = self.engine.tensor(values)
        array = tensor.data
        view = array.reshape(-1)[::2]
        returned = tensor.zero_()
        return {"same_array": tensor.data is array, "data": array_of(tensor.data), "view": array_of(view),
                "returned_self": returned is tensor}

    def drive_detach(self, values, kind):
        engine = self.engine
        x = engine.tensor(values, requires_grad=True)
        makers = {"x": lambda: x, "x * 3": lambda: x * 3, "a tensor without grad": lambda: engine.tensor(values)}
        source = makers[kind]()
        grad_fn_before, requires_before = source.grad_fn, source.requires_grad
        detached = source.detach()
        seen = {"is_tensor": isinstance(detached, engine.Tensor), "is_source": detached is source,
                "type": type(detached).__name__,
                "original_changed": source.grad_fn is not grad_fn_before or source.requires_grad != requires_before}
        if not seen["is_tensor"] or seen["is_source"]:
            return seen
        seen.update(data=array_of(detached.data), shares=bool(np.shares_memory(detached.data, source.data)),
                    requires_grad=exact(detached.requires_grad), is_leaf=exact(detached.is_leaf),
                    grad_fn=None if detached.grad_fn is None else short_repr(detached.grad_fn))
        try:
            (detached ** 2).backward()
            seen["backward_error"] = None
        except RuntimeError as error:
            seen["backward_error"] = str(error).splitlines()[0] if str(error) else ""
        return seen

    def drive_backward_pass(self, leaves, steps, gradient):
        """Two backward calls (retain_graph=True, then False) and a third that must fail; during the
        first, each node's ``apply`` is watched: what gradient it received, in which order it ran."""
        engine = self.engine
        functions = graph_functions(engine)
        values = [engine.tensor(np.array(v, dtype=np.float64), requires_grad=g) for v, g in leaves]
        for op, inputs in steps:
            values.append(functions[op].apply(*(values[i] for i in inputs)))
        trace = {"received": [None] * len(values), "order": []}
        watched = self._watch_nodes(values, steps, len(leaves), trace)
        root = values[-1]
        calls = []
        for retain in (True, False):
            try:
                root.backward(None if gradient is None else np.array(gradient), retain_graph=retain)
            except Exception as error:  # noqa: BLE001 - reported with the call it happened in
                return {"calls": calls, "raised": describe_error(error), "trace": trace}
            finally:
                for node in watched:
                    vars(node).pop("apply", None)
                watched = []
            calls.append([_gradient(leaf) if requires else None
                          for leaf, (_, requires) in zip(values, leaves)])
        try:
            root.backward(None if gradient is None else np.array(gradient))
            third = None
        except RuntimeError as error:
            third = str(error).splitlines()[0] if str(error) else ""
        return {"calls": calls, "third": third, "trace": trace}

    @staticmethod
    def _watch_nodes(values, steps, n_leaves, trace):
        """Shadow ``apply`` on each node of the graph (value k's grad_fn, or a leaf's AccumulateGrad)."""
        nodes = {}
        for k, (_, inputs) in enumerate(steps):
            node = values[n_leaves + k].grad_fn
            if node is None:
                continue
            nodes.setdefault(id(node), (n_leaves + k, node))
            for (child, _), i in zip(node.next_functions, inputs):
                if child is not None and i < n_leaves:
                    nodes.setdefault(id(child), (i, child))
        for index, node in nodes.values():
            inner = node.apply

            def apply(grad, index=index, inner=inner):
                if trace["received"][index] is None:
                    trace["received"][index] = array_of(grad)
                trace["order"].append(index)
                return inner(grad)
            node.apply = apply
        return [node for _, node in nodes.values()]

    def drive_grad_mode(self, source):
        engine = self.engine
        log = []
        x = engine.tensor([1.0, 2.0], requires_grad=True)

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
        w, b = engine.tensor(w0, requires_grad=True), engine.tensor(b0, requires_grad=True)
        result = self.answer(w, b, engine.tensor(xs) if as_tensor else list(xs))
        items = list(result) if isinstance(result, list | tuple) else [result]
        recorded = any(getattr(item, "grad_fn", None) is not None or getattr(item, "requires_grad", False) is True
                       for item in items)
        try:
            values = np.concatenate([np.ravel(np.asarray(getattr(item, "data", item), dtype=np.float64))
                                     for item in items])
        except (TypeError, ValueError):
            values = None
        return {"values": values, "repr": short_repr(result), "recorded": recorded,
                "enabled_after": exact(engine.is_grad_enabled()),
                "params_require_grad": w.requires_grad is True and b.requires_grad is True,
                "grads_untouched": w.grad is None and b.grad is None}

    def drive_sgd_step(self, params, lr):
        engine = self.engine
        mine = []
        for value, grad in params:
            p = engine.tensor(value.copy(), requires_grad=True)
            p.grad = engine.tensor(grad.copy())
            mine.append(p)
        arrays = [p.data for p in mine]
        self.answer(list(mine), lr)
        return {"params": [{"data": array_of(p.data), "same_array": p.data is array,
                            "grad": _gradient(p), "leaf": p.grad_fn is None and p.requires_grad is True,
                            "grad_fn": short_repr(p.grad_fn), "requires_grad": short_repr(p.requires_grad)}
                           for p, array in zip(mine, arrays)],
                "enabled_after": exact(engine.is_grad_enabled())}

    def drive_train_neuron(self, xs, ys, epochs, lr):
        return {"result": plain(self.answer(list(xs), list(ys), epochs, lr))}


# --------------------------------------------------------------------------
# Notebook answers: the function a solution cell defines
# --------------------------------------------------------------------------

def answer_from_cells(cells, grade_id, function_name):
    """Run a notebook's code cells in order (test cells already left out by the caller) and return
    ``(function, problem)``: the function the cell ``grade_id`` defined, or why there is none."""
    namespace = {"__name__": "__main__"}
    errors, found, problem = [], None, None
    for cell_id, source in cells:
        source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(source, f"<cell {cell_id}>", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - recorded: the answer may still be usable
            errors.append(f"{type(error).__name__}: {short_repr(error, 300)}")
        if cell_id == grade_id:
            value = namespace.get(function_name)
            if callable(value):
                found = value
            else:
                problem = f"the cell {grade_id} did not define {function_name}" + (
                    f" ({errors[-1]})" if errors else "")
            break
    if found is None and problem is None:
        problem = f"no cell with grade_id {grade_id} in the notebook"
    return found, problem
