"""The notebook checks' stand-ins for the engine's units: each one is torch doing that unit's work.

While a notebook answer that uses the engine is checked in the kernel (``train_step``,
``sgd_step``, ...), every unit of the learner's engine is swapped for the version here, so a bug
in ``Pow.backward`` costs the ``pow_backward`` exercise and not ``train_step`` too. Every stand-in
hands its unit to torch -- a backward to ``torch.autograd`` on the saved arrays, the backward pass
to torch's own autograd engine over a mirror of the learner's graph, ``zero_`` and
``AccumulateGrad`` to torch's in-place ops on the same memory -- so none runs without torch: in
the judge's torch-free worker, or pasted into an engine there, they earn nothing (the judge uses
the instructor's own stand-ins, which learners never receive). They take numpy arrays and give
numpy arrays back: no torch object reaches learner code.

The checks' delegation guard (``guards.Watch``) names any call into torch; ``Watch`` below lets
these stand-ins call torch (and torch its own code), and nothing else, and the checks use it only
while stand-ins are installed: a learner's unit that calls one of them is still caught.

``make(engine)`` and ``installed(engine)`` are what ``autograder.worker.drivers.Session`` uses.
"""

import warnings

import numpy as np
import torch

from autograder.learner import guards
from autograder.worker import swap

SITES = swap.SITES


def _tensor(array):
    """A torch tensor holding a copy of ``array`` (saved arrays and gradients stay the engine's)."""
    return torch.from_numpy(np.array(array, copy=True))


def _shared(array):
    """A torch tensor on ``array``'s own memory (what an in-place op must change)."""
    with warnings.catch_warnings():  # a read-only array: torch only reads it here
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(array)


def _through_torch(forward, arrays, grad):
    """The gradients torch.autograd gives each of ``arrays`` for ``forward(*tensors)`` and ``grad``:
    one array per input (a single one for one input), each of that input's shape."""
    with torch.enable_grad():
        inputs = [_tensor(a).requires_grad_() for a in arrays]
        out = forward(*inputs)
        grads = torch.autograd.grad(out, inputs, _tensor(grad).to(out.dtype), allow_unused=True)
    found = tuple(torch.zeros_like(i) if g is None else g for g, i in zip(grads, inputs))
    arrays = tuple(g.detach().numpy() for g in found)
    return arrays if len(arrays) > 1 else arrays[0]


def _shapes_in(ctx, grad, count):
    """The shapes of an op's inputs (``ctx.input_shapes``; an input that is a number: ``grad``'s)."""
    shapes = list(getattr(ctx, "input_shapes", ()))[:count]
    return shapes + [np.shape(grad)] * (count - len(shapes))


def _zeros(shapes, grad):
    return [np.zeros(shape, dtype=np.result_type(grad, np.float32)) for shape in shapes]


def _saved(ctx):
    return ctx.saved_tensors[0]


class _Step(torch.autograd.Function):
    """One node of the learner's graph inside torch's: torch's engine orders the nodes and sums what
    arrives along several paths; the node's ``apply`` (the learner's graph code, the stand-ins for the
    units) turns what arrived into its inputs' gradients, which torch carries on."""

    @staticmethod
    def forward(ctx, node, shape, dtype, visit, anchor, *children):
        ctx.node, ctx.visit, ctx.count = node, visit, len(children)
        ctx.set_materialize_grads(False)  # a node no gradient reaches is not applied
        return torch.zeros(shape, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        sent = [None] * ctx.count if grad is None else ctx.visit(ctx.node, grad.detach().numpy().copy())
        return (None,) * 5 + tuple(None if g is None else _tensor(g) for g in sent)


def _mirror(start, shape, dtype, visit, shaped=True):
    """``start``'s graph as torch nodes (``_Step``), the children first. With ``shaped`` each node's
    tensor has the shape its gradient has (the shape its users recorded for that input), else ()."""
    made, anchor = {}, torch.zeros((), dtype=dtype, requires_grad=True)  # so every node is on torch's graph

    def build(node, node_shape):
        if id(node) not in made:
            shapes = list(getattr(node, "input_shapes", ())) if shaped else []
            edges = [(slot, child) for slot, (child, _) in enumerate(node.next_functions) if child is not None]
            # the last input first: torch runs the newest ready node first, so the first input's branch
            # is run first (the order a depth-first walk lists them in)
            built = {slot: build(child, shapes[slot] if slot < len(shapes) else ()) for slot, child in edges[::-1]}
            made[id(node)] = _Step.apply(node, tuple(node_shape), dtype, visit, anchor, *(built[s] for s, _ in edges))
        return made[id(node)]
    return build(start, shape)


def make(engine):
    """``{(class name or None, attribute): stand-in}`` for the engine module ``engine``."""

    def backward_of(forward, count=1, from_saved=True):
        def backward(ctx, grad):
            arrays = list(ctx.saved_tensors)[:count] if from_saved else _zeros(_shapes_in(ctx, grad, count), grad)
            return _through_torch(lambda *t: forward(ctx, *t), arrays, grad)
        return staticmethod(backward)

    def sigmoid_backward(ctx, grad):
        out = _tensor(_saved(ctx))
        return torch.ops.aten.sigmoid_backward(_tensor(grad).to(out.dtype), out).numpy()

    def log_softmax_backward(ctx, grad):
        out = _tensor(_saved(ctx))
        return torch.ops.aten._log_softmax_backward_data(_tensor(grad).to(out.dtype), out, ctx.dim, out.dtype).numpy()

    def softplus_backward(ctx, grad):
        x = _tensor(_saved(ctx))
        return torch.ops.aten.softplus_backward(_tensor(grad).to(x.dtype), x, ctx.beta, ctx.threshold).numpy()

    def mean(ctx, x):
        return x.mean() if ctx.dim is None else x.mean(dim=ctx.dim, keepdim=bool(ctx.keepdim))

    def mean_backward(ctx, grad):
        return _through_torch(lambda x: mean(ctx, x), _zeros([ctx.shape], grad), grad)

    def sum_to_shape(grad, shape):
        shape = tuple(shape)
        if np.shape(grad) == shape:
            return grad
        return _tensor(grad).sum_to_size(shape).numpy()

    def accumulate(self, grad):
        target = self.variable
        incoming = _tensor(grad)
        if target.grad is None:
            target.grad = type(target)._make(incoming.to(_shared(swap.storage(target)).dtype).numpy())
        else:
            if not swap.storage(target.grad).flags.writeable:
                raise ValueError("the leaf's .grad array is read-only")
            _shared(swap.storage(target.grad)).add_(incoming)  # in place, as torch's AccumulateGrad
        return ()

    def zero_(self):
        self._check_in_place()
        if not swap.storage(self).flags.writeable:
            raise ValueError("assignment destination is read-only")
        _shared(swap.storage(self)).zero_()
        return self

    def detach(self):
        return type(self)._make(_shared(swap.storage(self)).detach().numpy())

    # grad mode: the engine's switch is kept by one of torch's own grad-mode switches, which records the
    # mode it replaced; torch's real mode is put back before each stand-in returns
    def grad_mode_enter(self):
        with torch.set_grad_enabled(engine.is_grad_enabled()):
            self._torch_switch = torch.set_grad_enabled(self.mode)
            engine._grad_enabled = torch.is_grad_enabled()

    def grad_mode_exit(self, *exc):
        with torch.set_grad_enabled(engine.is_grad_enabled()):
            self._torch_switch.__exit__(None, None, None)
            engine._grad_enabled = torch.is_grad_enabled()

    def run_backward(root, grad, retain_graph=False):
        keep_saved = bool(retain_graph)

        def visit(node, arrived):
            sent = node.apply(arrived)
            if not keep_saved:
                node.release()
            return [part for (child, _), part in zip(node.next_functions, sent) if child is not None]
        grad = np.asarray(grad)
        top = _mirror(root.grad_fn, np.shape(grad), _tensor(grad).dtype, visit)
        torch.autograd.backward(top, _tensor(grad))

    return {
        ("_GradModeContext", "__enter__"): grad_mode_enter,
        ("_GradModeContext", "__exit__"): grad_mode_exit,
        ("AccumulateGrad", "apply"): accumulate,
        (None, "sum_to_shape"): sum_to_shape,
        ("Add", "backward"): backward_of(lambda ctx, a, b: torch.add(a, b), 2, from_saved=False),
        ("Sub", "backward"): backward_of(lambda ctx, a, b: torch.sub(a, b), 2, from_saved=False),
        ("Mul", "backward"): backward_of(lambda ctx, a, b: torch.mul(a, b), 2),
        ("Neg", "backward"): backward_of(lambda ctx, x: torch.neg(x), from_saved=False),
        ("Pow", "backward"): backward_of(lambda ctx, x: torch.pow(x, ctx.exponent)),
        ("Sin", "backward"): backward_of(lambda ctx, x: torch.sin(x)),
        ("Log", "backward"): backward_of(lambda ctx, x: torch.log(x)),
        ("Sigmoid", "backward"): staticmethod(sigmoid_backward),
        ("Clamp", "backward"): backward_of(lambda ctx, x: torch.clamp(x, ctx.min, ctx.max)),
        ("Mean", "backward"): staticmethod(mean_backward),
        ("LogSoftmax", "backward"): staticmethod(log_softmax_backward),
        ("Softplus", "backward"): staticmethod(softplus_backward),
        ("Tensor", "zero_"): zero_,
        ("Tensor", "detach"): detach,
        (None, "run_backward"): run_backward,
        (None, "topological_order"): topological_order,
    }


def topological_order(start):
    """The nodes reachable from ``start`` (the learner's, or torch's own) in the order torch's autograd
    engine runs a mirror of them: each before every node it sends gradients to."""
    order = []

    def visit(node, grad):
        order.append(node)
        return [np.ones(()) for child, _ in node.next_functions if child is not None]
    top = _mirror(start, (), torch.float64, visit, shaped=False)
    torch.autograd.backward(top, torch.ones((), dtype=torch.float64))
    return order


def installed(engine, keep=None):
    """Inside the block, ``engine`` runs the stand-ins for every unit except exercise ``keep``."""
    return swap.swapped(engine, make(engine), keep)


_HERE = guards._real(_tensor.__code__.co_filename, {})
# code between a stand-in and torch: torch's own, the import machinery (torch imports modules of its own
# on first use), installed libraries (sympy, which those modules use)
_LIBRARIES = (guards._TORCH_DIR, "<frozen ", *guards._TRUSTED_ROOTS)


class Watch(guards.Watch):
    """``guards.Watch`` that lets these stand-ins use torch: a call into torch passes when the nearest
    code that led to it, libraries aside, is this module's, and is an offence as before when it is
    anyone else's -- learner code that a stand-in called back (a node's ``apply``) included."""

    def _event(self, frame, event, arg):
        if self.offence is None and _stand_in_uses_torch(frame, event, arg, self._real):
            return
        super()._event(frame, event, arg)


def _stand_in_uses_torch(frame, event, arg, known):
    """Whether this call into torch was made by a stand-in. Files are compared where their bytes live
    (``guards._real``, caching in ``known``), as ``guards.Watch`` compares them: a venv reached
    through a symlink is still torch's."""
    if event == "call":
        caller, into_torch = frame.f_back, guards._real(frame.f_code.co_filename, known).startswith(guards._TORCH_DIR)
    elif event == "c_call":
        caller, into_torch = frame, guards._is_torch_builtin(arg)
    else:
        return False
    while into_torch and caller is not None:
        filename = guards._real(caller.f_code.co_filename, known)
        if filename == _HERE:
            return True
        if not filename.startswith(_LIBRARIES):
            return False  # learner code (an engine, a notebook cell) made or led to this call
        caller = caller.f_back
    return False
