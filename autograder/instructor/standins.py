"""The grader's stand-ins for the engine's units, so that a check exercises one learner answer at a time.

While a notebook answer that uses the engine is judged (``train_step``, ``sgd_step``, ...), every
unit of the learner's engine is swapped for the version here; a bug in ``Pow.backward`` then costs
the ``pow_backward`` exercise and nothing else. These are torch-free working implementations of
every unit, in plain numpy, deliberately unlike the course's reference answers (a test keeps any
line of a reference solution out of them) -- so they are an answer key, and live on the
instructor's side only: the judge sends this file's text over the pipe to its answers worker
(``autograder.instructor.judge``), whose sandbox holds no copy on disk, and nothing a learner receives holds
them (the notebook's own checks use ``autograder.learner.torch_standins``, which need torch).

``SITES`` is where each exercise lives in an engine (``exercises.UNITS``): ``(class name or None,
attribute)``.
"""

import math

import numpy as np

from autograder.worker import swap

SITES = swap.SITES


def _first_saved(ctx):
    return ctx.saved_tensors[0]


def _in_float64(function, x):
    """``function`` evaluated in float64, rounded once to ``x``'s float type."""
    wide = np.asarray(x, dtype=np.float64)
    return function(wide).astype(np.result_type(x, np.float32))


def make(engine):
    """``{(class name or None, attribute): stand-in}`` for the engine module ``engine``."""

    def grad_mode_enter(self):
        self.prev = engine.is_grad_enabled()
        engine._grad_enabled = self.mode

    def grad_mode_exit(self, *exc):
        engine._grad_enabled = self.prev

    def accumulate(self, grad):
        target = self.variable
        incoming = np.asarray(grad)
        if target.grad is not None:
            np.add(swap.storage(target.grad), incoming, out=swap.storage(target.grad), casting="unsafe")
        else:
            target.grad = type(target)._make(incoming.astype(swap.storage(target).dtype, copy=True))
        return tuple()

    def sum_to_shape(grad, shape):
        shape = tuple(shape)
        if np.shape(grad) == shape:
            return grad
        extra = grad.ndim - len(shape)
        stretched = [extra + i for i, size in enumerate(shape) if size == 1 and grad.shape[extra + i] != 1]
        return np.sum(grad, axis=tuple(range(extra)) + tuple(stretched)).reshape(shape)

    def mean_backward(ctx, grad):
        grad = np.asarray(grad)
        averaged = math.prod(ctx.shape) // max(1, grad.size)
        if ctx.dim is None:
            grad = grad.reshape((1,) * len(ctx.shape))
        elif not ctx.keepdim:
            grad = np.expand_dims(grad, ctx.dim)
        return np.broadcast_to(np.divide(grad, averaged), ctx.shape)

    def clamp_backward(ctx, grad):
        saved = _first_saved(ctx)
        passes = np.ones(np.shape(saved), dtype=bool)
        if ctx.min is not None:
            passes &= saved >= ctx.min
        if ctx.max is not None:
            passes &= saved <= ctx.max
        return np.where(passes, grad, np.zeros_like(grad))

    def log_softmax_backward(ctx, grad):
        probabilities = np.exp(_first_saved(ctx))
        return np.subtract(grad, np.multiply(probabilities, np.sum(grad, axis=ctx.dim, keepdims=True)))

    def softplus_backward(ctx, grad):  # sigmoid(z) = exp(-log(1 + exp(-z))), with nothing to overflow
        z = np.multiply(_first_saved(ctx), ctx.beta)
        return np.where(z > ctx.threshold, grad, np.multiply(grad, np.exp(-np.logaddexp(0, -z))))

    def zero_(self):
        self._check_in_place()
        np.copyto(swap.storage(self), 0)
        return self

    def detach(self):
        return type(self)._make(swap.storage(self))

    def topological_order(start):
        order, seen, stack = [], set(), [(start, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child, _ in node.next_functions
                         if child is not None and id(child) not in seen)
        return order[::-1]

    def run_backward(root, grad, retain_graph=False):
        arrived = {id(root.grad_fn): grad}
        keep_saved = bool(retain_graph)
        for current in topological_order(root.grad_fn):
            total = arrived.pop(id(current), None)
            if total is not None:
                outgoing = current.apply(total)
                for (child, _), part in zip(current.next_functions, outgoing):
                    if child is not None and part is not None:
                        arrived[id(child)] = part if id(child) not in arrived else np.add(arrived[id(child)], part)
                if not keep_saved:
                    current.release()

    return {
        ("_GradModeContext", "__enter__"): grad_mode_enter,
        ("_GradModeContext", "__exit__"): grad_mode_exit,
        ("AccumulateGrad", "apply"): accumulate,
        (None, "sum_to_shape"): sum_to_shape,
        ("Add", "backward"): staticmethod(lambda ctx, grad: (grad, grad)),
        ("Sub", "backward"): staticmethod(lambda ctx, grad: (grad, np.negative(grad))),
        ("Mul", "backward"): staticmethod(lambda ctx, grad: (np.multiply(grad, ctx.saved_tensors[1]),
                                                             np.multiply(grad, ctx.saved_tensors[0]))),
        ("Neg", "backward"): staticmethod(lambda ctx, grad: np.negative(grad)),
        ("Pow", "backward"): staticmethod(lambda ctx, grad: np.multiply(
            grad, ctx.exponent * np.power(_first_saved(ctx), ctx.exponent - 1))),
        ("Sin", "backward"): staticmethod(lambda ctx, grad: np.multiply(grad, _in_float64(np.cos, _first_saved(ctx)))),
        ("Log", "backward"): staticmethod(lambda ctx, grad: np.divide(grad, _first_saved(ctx))),
        ("Sigmoid", "backward"): staticmethod(lambda ctx, grad: np.multiply(
            grad, _first_saved(ctx) - np.square(_first_saved(ctx)))),
        ("Clamp", "backward"): staticmethod(clamp_backward),
        ("Mean", "backward"): staticmethod(mean_backward),
        ("LogSoftmax", "backward"): staticmethod(log_softmax_backward),
        ("Softplus", "backward"): staticmethod(softplus_backward),
        ("Tensor", "zero_"): zero_,
        ("Tensor", "detach"): detach,
        (None, "run_backward"): run_backward,
        (None, "topological_order"): topological_order,
    }


def installed(engine, keep=None):
    """Inside the block, ``engine`` runs the stand-ins for every unit except exercise ``keep``."""
    return swap.swapped(engine, make(engine), keep)
