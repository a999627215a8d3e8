"""``torch.autograd.grad``: gradients of outputs with respect to chosen inputs, returned rather
than added into ``.grad``.

It reuses the engine's backward pass (``run_backward``) unchanged: for the length of the call,
each leaf's ``AccumulateGrad`` node collects what arrives instead of writing ``leaf.grad``, and
each non-leaf input's node notes the gradient arriving at it before passing it on.
"""

import numpy as np

from . import compat, engine
from .engine import AccumulateGrad, Tensor


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one gradient per output: got {len(grad_outputs)} gradients "
                           f"and {len(outputs)} outputs")
    if create_graph:
        raise NotImplementedError(compat.CREATE_GRAPH)
    retain_graph = create_graph if retain_graph is None else retain_graph
    seeds = [_seed(out, g, i) for i, (out, g) in enumerate(zip(outputs, grad_outputs))]
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")

    arrived = {}  # id(input's node) -> the gradient summed there
    nodes = {id(t._gradient_edge()): t._gradient_edge() for t in inputs}
    touched = {}
    for out in outputs:
        waiting = [out._gradient_edge()]
        while waiting:  # every AccumulateGrad this backward reaches must collect, not write .grad
            node = waiting.pop()
            if node is None or id(node) in touched:
                continue
            touched[id(node)] = node
            waiting.extend(child for child, _ in node.next_functions)
    touched = list(touched.values())
    for node in touched:
        node.apply = _collector(node, arrived, id(node) in nodes)
    try:
        for i, (out, seed) in enumerate(zip(outputs, seeds)):
            keep = retain_graph or i < len(outputs) - 1
            if out.grad_fn is None:
                out._gradient_edge().apply(seed)
            else:
                # looked up on the module at each call, so a replacement of the engine's pass reaches here too
                engine.run_backward(out, seed, retain_graph=keep)
    finally:
        for node in touched:
            del node.apply
    result = []
    for i, t in enumerate(inputs):
        found = arrived.get(id(t._gradient_edge()))
        if found is None and not allow_unused:
            raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in the graph. "
                               "Set allow_unused=True if this is the desired behavior.")
        result.append(None if found is None else Tensor._make(np.array(found, dtype=t._array.dtype)))
    return tuple(result)


def _seed(out, gradient, i):
    if not out.requires_grad:
        raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if out._array.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return np.ones_like(out._array)
    gradient = gradient._array if isinstance(gradient, Tensor) else np.asarray(gradient, out._array.dtype)
    if gradient.shape != out._array.shape:
        raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {compat.size_text(gradient.shape)} "
                           f"and output[{i}] has a shape of {compat.size_text(out._array.shape)}.")
    return gradient


def _collector(node, arrived, wanted):
    """``node.apply`` for the length of one grad() call."""
    passes_on = type(node).apply  # the node's own step (AccumulateGrad's would write leaf.grad)
    is_leaf = isinstance(node, AccumulateGrad)

    def apply(grad):
        if wanted:
            key = id(node)
            arrived[key] = grad if key not in arrived else arrived[key] + grad
        return () if is_leaf else passes_on(node, grad)
    return apply


# --------------------------------------------------------------------------
# torch.autograd.Function: an op written by the user on tensors
# --------------------------------------------------------------------------

class Function:
    """torch's ``autograd.Function``: a subclass writes ``@staticmethod forward(ctx, *args)`` and
    ``@staticmethod backward(ctx, *grad_outputs)`` on *tensors*, and is called as ``MyFn.apply(...)``.

    It runs on the engine's own (array) ``Function``: ``_OnTensors`` hands the user's methods tensors
    and takes arrays back, so the node it records is an ordinary one, named as torch names it
    (``MyFnBackward``)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    @classmethod
    def apply(cls, *args):
        tensors = [a for a in args if isinstance(a, Tensor)]
        out = _OnTensors.apply(*tensors, user=cls, args=args, node_name=f"{cls.__name__}Backward")
        if out.grad_fn is not None and out.grad_fn.user_ctx.non_differentiable:
            return Tensor._make(out._array)  # ctx.mark_non_differentiable(out): no gradient flows from it
        return out


class FunctionCtx:
    """The ``ctx`` the user's forward and backward share (attributes set on it are kept)."""

    def __init__(self, node, args):
        self._node = node
        self._saved = ()
        self.non_differentiable = False
        self.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)

    def save_for_backward(self, *tensors):
        self._saved = tensors
        # the arrays go to the engine's node too: it refuses them once freed, or changed in place since
        self._node.save_for_backward(*(t._array if isinstance(t, Tensor) else t for t in tensors))

    @property
    def saved_tensors(self):
        self._node.saved_tensors  # noqa: B018 - (the engine's checks)
        return self._saved

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = True  # (a single output here: marking it makes it a plain tensor)


class _OnTensors(engine.Function):
    """The engine's array ``Function`` around a user's tensor one; the engine's node keeps the user's ctx."""

    @staticmethod
    def forward(node, *arrays, user, args):
        ctx = node.user_ctx = FunctionCtx(node, args)
        node.user = user
        with engine.set_grad_enabled(False):  # torch runs forward without recording
            out = user.forward(ctx, *args)
        if not isinstance(out, Tensor):
            raise NotImplementedError("tinygrad_course's autograd.Function: forward must return one tensor")
        node.tensor_slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        node.argument_count = len(args)
        return out._array

    @staticmethod
    def backward(node, grad):
        with engine.set_grad_enabled(False):
            grads = node.user.backward(node.user_ctx, Tensor._make(grad))
        grads = grads if isinstance(grads, tuple) else (grads,)
        name, count = node.name(), node.argument_count
        if len(grads) < count or any(g is not None for g in grads[count:]):
            raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                               f"(expected {count}, got {len(grads)})")
        for i, g in enumerate(grads[:count]):
            if g is not None and i not in node.tensor_slots:
                raise RuntimeError(f"function {name} returned a gradient different than None at position {i + 1}, "
                                   "but the corresponding forward input was not a Variable")
        return tuple(None if grads[i] is None else _array_of(grads[i]) for i in node.tensor_slots)


def _array_of(gradient):
    return gradient._array if isinstance(gradient, Tensor) else gradient
