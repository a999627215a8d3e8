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
        raise NotImplementedError("tinygrad_course's backward pass works on arrays, so create_graph=True "
                                  "(gradients that are themselves differentiable) is not supported")
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
