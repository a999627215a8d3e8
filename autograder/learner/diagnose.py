"""Find the first place where your engine's graph parts ways with torch's.

    from autograder.learner.diagnose import diagnose

    def build(lib):                       # lib is torch, then your tinygrad_course
        x = lib.tensor(4.0, requires_grad=True)
        return lib.sin(x ** 2), {"x": x}  # the output, and names for the tensors you care about

    diagnose(build)

``diagnose`` builds the computation twice, walks both graphs in step from the output (torch's
``grad_fn.next_functions`` next to your ``Node.next_functions``), runs ``backward`` on both --
torch's ``Node.register_hook`` shows what each node received and sent, and your nodes are
watched the same way -- and names the first node whose name, forward value or gradient
disagrees, e.g. "at MulBackward0 (w * x) your gradient for w is 6.7, torch's is 6.69".
"""

import re
import sys
import types
from pathlib import Path

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from autograder.checking.slips import agrees, show
from autograder.learner import torch_standins
from autograder.learner.engines import load_engine
from autograder.worker.swap import storage

RTOL, ATOL = 1e-4, 1e-6  # engines compute in float32, in their own order

TEMPLATES = {
    "Add": "{0} + {1}", "Sub": "{0} - {1}", "Rsub": "{1} - {0}", "Mul": "{0} * {1}", "Div": "{0} / {1}",
    "Neg": "-{0}", "Pow": "{0} ** {1}", "Mm": "{0} @ {1}", "Mv": "{0} @ {1}", "Dot": "{0} @ {1}",
    "Sin": "sin({0})", "Cos": "cos({0})", "Exp": "exp({0})", "Log": "log({0})", "Sigmoid": "sigmoid({0})",
    "Tanh": "tanh({0})", "Relu": "relu({0})", "Clamp": "clamp({0}, ...)", "ClampMin": "clamp({0}, ...)",
    "ClampMax": "clamp({0}, ...)", "Mean": "{0}.mean()", "Sum": "{0}.sum()", "View": "{0}.reshape(...)",
    "Reciprocal": "1 / {0}", "Softplus": "softplus({0})",
}


class Diagnosis:
    """The verdict: ``ok``, and a message naming the node where the two graphs part ways."""

    def __init__(self, ok, message):
        self.ok, self.message = ok, message

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return self.message


def diagnose(build, *, engine=None, gradient=None):
    """Compare ``build(torch)`` with ``build(engine)`` node by node; returns a ``Diagnosis``.

    ``build(lib)`` returns the output tensor, or ``(output, {name: tensor})`` to name tensors in
    the report. ``engine`` defaults to the ``tinygrad_course`` your notebook imported (else the one
    in the current folder). ``gradient`` is passed to ``backward`` (needed for non-scalar outputs).
    """
    lib = engine if engine is not None else _default_engine()
    core = lib.engine if isinstance(getattr(lib, "engine", None), types.ModuleType) else lib
    torch_out, torch_names, records = _build_with_torch(build)
    try:
        values = {}
        with _recording_values(core, values):
            engine_out, engine_names = _split(build(lib))
    except Exception as error:  # noqa: BLE001 - any failure of the learner's engine is the finding
        return Diagnosis(False, f"your engine raised {type(error).__name__} while building the "
                                f"computation: {error}")
    walk = _Walk(torch_out, engine_out, torch_names, records, values)
    for step in (walk.structure, walk.forward, lambda: walk.backward(gradient)):
        found = step()  # a Diagnosis is falsy when it reports a problem: test for None, not truth
        if found is not None:
            return found
    return Diagnosis(True, f"your engine agrees with torch.autograd at all {len(walk.order)} nodes: "
                           "names, values and gradients")


def _default_engine():
    if "tinygrad_course" in sys.modules:
        return sys.modules["tinygrad_course"]
    return load_engine(Path.cwd(), "_tinygrad_course_diagnosed")


def _split(result):
    return (result[0], dict(result[1])) if isinstance(result, tuple) else (result, {})


class _Records(TorchFunctionMode):
    """Every torch op's inputs and output, by the node it put in the graph."""

    def __init__(self):
        super().__init__()
        self.by_node = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor) and out.grad_fn is not None:
            self.by_node[out.grad_fn] = (out, args)
        return out


def _build_with_torch(build):
    records = _Records()
    with records:
        out, names = _split(build(torch))
    return out, names, records.by_node


class _recording_values:
    """While building with the engine, keep each op's output by its node (Function.apply wrapped)."""

    def __init__(self, core, values):
        self.function, self.values = core.Function, values

    def __enter__(self):
        self.original = vars(self.function)["apply"]
        values, original = self.values, self.original

        def apply(cls, *inputs, **options):
            out = original.__func__(cls, *inputs, **options)
            if getattr(out, "grad_fn", None) is not None:
                values[out.grad_fn] = np.array(storage(out))
            return out
        self.function.apply = classmethod(apply)

    def __exit__(self, *exc):
        self.function.apply = self.original


def _name(node):
    return type(node).__name__


def _infix(node):
    """Is the node written with an operator (w * x), so it needs brackets inside another one?"""
    template = TEMPLATES.get(re.sub(r"Backward\d+$", "", _name(node)))
    return template is not None and not template.endswith(")")


class _Walk:
    def __init__(self, torch_out, engine_out, names, records, values):
        self.torch_out, self.engine_out = torch_out, engine_out
        self.names = {id(tensor): name for name, tensor in names.items()}
        self.records, self.values = records, values
        self.pairs, self.order, self.edges = {}, [], []  # edges: (torch parent, i, engine j, torch child)

    # -- labels: what a node computes, in the learner's names --
    def label(self, node, depth=0, levels=4):
        """What ``node`` computes, as an expression; a long one shows fewer levels (``...`` for the
        rest) rather than being cut mid-way, so its brackets always pair up."""
        if _name(node) == "AccumulateGrad":
            return self.names.get(id(node.variable), "a leaf")
        out, args = self.records.get(node, (None, ()))
        if out is not None and id(out) in self.names and depth > 0:
            return self.names[id(out)]
        base = re.sub(r"Backward\d+$", "", _name(node))
        template = TEMPLATES.get(base)
        parts = [self._argument(a, depth, _infix(node), levels) for a in args
                 if isinstance(a, torch.Tensor | int | float)]
        try:
            text = template.format(*parts) if template and out is not None else f"{base.lower()}(...)"
        except IndexError:
            text = f"{base.lower()}({', '.join(parts)})"
        if depth == 0 and out is not None and id(out) in self.names:
            text = f"{self.names[id(out)]} = {text}"
        if depth == 0 and len(text) > 70:
            return self.label(node, 0, levels - 1) if levels > 0 else f"{base.lower()}(...)"
        return text

    def _argument(self, value, depth, infix, levels):
        if isinstance(value, torch.Tensor):
            if id(value) in self.names:
                return self.names[id(value)]
            if value.grad_fn is not None and depth < levels:
                inner = self.label(value.grad_fn, depth + 1, levels)
                return f"({inner})" if infix and _infix(value.grad_fn) and " " in inner else inner
            return show(value.detach().numpy()) if value.numel() <= 3 else "a tensor"
        return f"{value:g}"

    def where(self, node):
        return f"{_name(node)} ({self.label(node)})"

    # -- 1. the same nodes, in the same places --
    def structure(self):
        start_t = getattr(self.torch_out, "grad_fn", None)
        start_e = getattr(self.engine_out, "grad_fn", None)
        if start_t is None or start_e is None:
            return Diagnosis(False, f"the output has grad_fn {start_t!r} in torch and {start_e!r} in your "
                                    "engine; diagnose needs an output that requires grad in both") \
                if (start_t is None) != (start_e is None) else Diagnosis(
                    False, "the output does not require grad: nothing to compare")
        queue = [(start_t, start_e)]
        while queue:
            tnode, enode = queue.pop(0)
            if tnode in self.pairs:
                if self.pairs[tnode] is not enode:
                    return Diagnosis(False, f"at {self.where(tnode)}: torch's graph reaches one node here "
                                            "along two paths, yours reaches two different nodes")
                continue
            self.pairs[tnode] = enode
            ename = _name(enode)
            if ename != _name(tnode):
                return Diagnosis(False, f"at {self.where(tnode)}: torch's graph has {_name(tnode)}, yours has "
                                        f"{ename}")
            torch_kids = [(i, c) for i, (c, _) in enumerate(tnode.next_functions) if c is not None]
            engine_kids = [(j, c) for j, (c, _) in enumerate(enode.next_functions) if c is not None]
            if len(torch_kids) != len(engine_kids):
                return Diagnosis(False, f"at {self.where(tnode)}: torch's node passes gradients to "
                                        f"{len(torch_kids)} input(s), yours to {len(engine_kids)}")
            for (i, tchild), (j, echild) in zip(torch_kids, engine_kids):
                self.edges.append((tnode, i, j, tchild))
                queue.append((tchild, echild))
        self.order = torch_standins.topological_order(start_t)
        return None

    # -- 2. forward values, from the leaves up: the first wrong value whose inputs are right --
    def forward(self):
        for tnode in reversed(self.order):
            if _name(tnode) == "AccumulateGrad":
                expected, mine = tnode.variable.detach().numpy(), storage(self.pairs[tnode].variable)
            else:
                out = self.records.get(tnode, (None,))[0]
                if out is None or self.pairs[tnode] not in self.values:
                    continue
                expected, mine = out.detach().numpy(), self.values[self.pairs[tnode]]
            if not agrees(mine, expected, RTOL, ATOL):
                return Diagnosis(False, f"at {self.where(tnode)} your forward value is {show(mine)}, "
                                        f"torch's is {show(expected)}")
        return None

    # -- 3. gradients, from the output down: the first node that receives right and sends wrong --
    def backward(self, gradient):
        torch_seen, engine_seen, state = {}, {}, {"current": None, "order": []}
        handles = [tnode.register_hook(_torch_hook(torch_seen, tnode)) for tnode in self.order]
        for tnode in self.order:
            _watch(self.pairs[tnode], engine_seen, state)
        try:
            self.torch_out.backward(None if gradient is None else torch.as_tensor(
                np.asarray(gradient), dtype=self.torch_out.dtype))
        finally:
            for handle in handles:
                handle.remove()
        try:
            self.engine_out.backward(None if gradient is None else np.asarray(gradient))
        except Exception as error:  # noqa: BLE001 - the learner's failure is the finding
            at = state["current"]
            place = f"at {self.where(self._torch_of(at))} " if at is not None else ""
            return Diagnosis(False, f"{place}your engine raised {type(error).__name__} during backward: {error}")
        for tnode in self.order:
            enode = self.pairs[tnode]
            if tnode not in torch_seen:
                continue
            t_in, t_out = torch_seen[tnode]
            if enode not in engine_seen:
                return Diagnosis(False, f"your backward pass never reached {self.where(tnode)}; torch sends it "
                                        f"{show(t_in)}")
            e_in, e_out = engine_seen[enode]
            if not agrees(e_in, t_in, RTOL, ATOL):
                senders = [(p, i, j) for p, i, j, child in self.edges if child is tnode]
                ran = state["order"]
                late = [p for p, _, _ in senders
                        if self.pairs[p] in ran and ran.index(self.pairs[p]) > ran.index(enode)]
                if late:
                    return Diagnosis(False, (
                        f"your backward pass ran {self.where(tnode)} before {self.where(late[0])}, which uses "
                        f"its output, had sent its gradient; so {_name(tnode)} got {show(e_in)} instead of "
                        f"{show(t_in)}. Visit the nodes in topological order: a node only after every node "
                        "that uses it"))
                if all(self._sent_right(p, i, j, torch_seen, engine_seen) for p, i, j in senders):
                    users = ", ".join(self.where(p) for p, _, _ in senders) or "backward()"
                    return Diagnosis(False, (
                        f"the gradient arriving at {self.where(tnode)} is {show(e_in)}, torch's is "
                        f"{show(t_in)}. What its users sent was right ({users}), so the backward pass "
                        "did not add up the gradients arriving along different paths" if senders else
                        f"the backward pass started {self.where(tnode)} with {show(e_in)}, not with the "
                        f"gradient given to backward(), {show(t_in)}"))
                continue
            for p, i, j, child in self.edges:
                if p is tnode and not self._sent_right(p, i, j, torch_seen, engine_seen):
                    mine = e_out[j] if j < len(e_out) else None
                    return Diagnosis(False, f"at {self.where(tnode)} your gradient for input {j} "
                                            f"({self.label(child)}) is {show(mine)}, torch's is {show(t_out[i])}")
            if _name(tnode) == "AccumulateGrad":
                expected, grad = tnode.variable.grad, enode.variable.grad
                mine = None if grad is None else storage(grad)
                if expected is not None and (mine is None or not agrees(mine, expected.numpy(), RTOL, ATOL)):
                    return Diagnosis(False, f"at AccumulateGrad ({self.label(tnode)}) the gradient arriving is "
                                            f"right ({show(t_in)}), but .grad is {show(mine)}, torch's is "
                                            f"{show(expected.numpy())}")
        return None

    def _sent_right(self, tparent, i, j, torch_seen, engine_seen):
        if tparent not in torch_seen or self.pairs[tparent] not in engine_seen:
            return False
        expected, sent = torch_seen[tparent][1][i], engine_seen[self.pairs[tparent]][1]
        return expected is None or (j < len(sent) and agrees(sent[j], expected, RTOL, ATOL))

    def _torch_of(self, enode):
        return next((t for t, e in self.pairs.items() if e is enode), None) or enode


def _torch_hook(seen, node):
    def hook(grad_inputs, grad_outputs):
        seen[node] = (grad_outputs[0].detach().numpy().copy(),
                      [None if g is None else g.detach().numpy().copy() for g in grad_inputs])
    return hook


def _watch(node, seen, state):
    """Note what ``node.apply`` receives and returns (an instance attribute shadows the method)."""
    inner = node.apply

    def apply(grad):
        state["current"] = node
        out = inner(grad)
        sent = [None if g is None else np.array(g) for g in (out if isinstance(out, tuple | list) else (out,))]
        seen[node] = (np.array(grad), sent)
        state["current"] = None
        state["order"].append(node)
        return out
    node.apply = apply
