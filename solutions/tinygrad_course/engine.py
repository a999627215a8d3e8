"""A small reverse-mode autograd engine on numpy, with torch's surface.

Read it top to bottom:
  1. grad mode       -- the switch behind ``no_grad`` and ``detach``, and ``inference_mode``
  2. graph nodes     -- what ``y.grad_fn`` is, ``AccumulateGrad`` at the leaves, the version
                        counts that tell backward a saved value was changed in place, and the
                        hooks (``register_hook``) that see or change a gradient on its way
  3. Function        -- one operation: ``forward`` computes, ``backward`` applies the chain rule
  4. the operations  -- one small Function per op, named like torch's ``grad_fn`` nodes
  5. Tensor          -- its array + grad + grad_fn, operators, and ``backward()``
  6. the backward pass

Everything works on numpy arrays: a tensor keeps its numbers in one, ``t._array`` (``t.data`` is,
as in torch, another tensor on the same numbers); ``forward`` receives arrays and returns one,
``backward`` receives the gradient of the output (an array) and returns one
gradient per input.  ``EXERCISES`` lists the pieces learners write and the notebook
that asks for each; until one is written it raises ``NotImplementedError`` naming it.

The files beside this one are torch's surface, not the course: compat.py (torch's error
texts, dims, dtypes), functions.py (``torch.tensor``, ``torch.sin``, ``torch.randn``, ...),
more_ops.py (views, max/min, stack/cat/where, softmax, cross-entropy, more reductions, ...), nn/ (layers,
activations, losses), optim.py and autograd.py.
"""

import itertools
import math
import operator
import warnings
import weakref

import numpy as np

# exercise id -> (notebook that asks for it, what to write): the course's one list of exercises,
# which the checks that grade them read too
from autograder.worker.exercises import ENGINE_TABLE as EXERCISES

from . import compat
from .compat import Size, check_broadcast, check_matmul, dtype_name, reduced_dims, reduction_name, result_dtype
from .printing import format_tensor


def todo(exercise):
    """The message an open exercise raises in the learner's engine."""
    notebook, what = EXERCISES[exercise]
    return (f"Exercise '{exercise}' is not written yet: {what}. "
            f"Notebook {notebook} walks you through it (tinygrad_course/engine.py).")


# --------------------------------------------------------------------------
# 1. Grad mode: is the graph being recorded right now?
# --------------------------------------------------------------------------

_grad_enabled = True


def is_grad_enabled():
    return _grad_enabled


class set_grad_enabled:
    """``set_grad_enabled(False)`` switches recording off; as a context manager
    or decorator it restores the previous mode afterwards."""

    def __init__(self, mode):
        global _grad_enabled
        self.prev, _grad_enabled = _grad_enabled, bool(mode)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev

    def __call__(self, func):
        mode = _grad_enabled
        self.__exit__()  # applied as a decorator: the mode applies inside calls only

        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)
        return _wraps(wrapper, func)


class _GradModeContext:
    """Base of ``no_grad`` and ``enable_grad``: a context manager and a decorator."""
    mode = True

    def __new__(cls, func=None):
        """``@no_grad`` without parentheses (torch allows it too): the function, decorated."""
        made = super().__new__(cls)
        return made if func is None else made(func)

    def __enter__(self):
        global _grad_enabled
        ### BEGIN SOLUTION grad_mode
        self.prev, _grad_enabled = _grad_enabled, self.mode
        ### END SOLUTION

    def __exit__(self, *exc):
        global _grad_enabled
        ### BEGIN SOLUTION grad_mode
        _grad_enabled = self.prev
        ### END SOLUTION

    def __call__(self, func):
        def wrapper(*args, **kwargs):
            with type(self)():
                return func(*args, **kwargs)
        return _wraps(wrapper, func)


class no_grad(_GradModeContext):
    mode = False


class enable_grad(_GradModeContext):
    mode = True


_inference_enabled = False
_inference_made = False  # has any inference tensor been made? (until then no op looks for one)


def is_inference_mode_enabled():
    return _inference_enabled


class inference_mode:
    """Recording off, like ``no_grad``, and every tensor made inside is an *inference tensor*: it can
    never join a graph later (an op that would save it for backward refuses), nor be changed in
    place outside inference mode. torch skips the bookkeeping (version counts) for such tensors,
    which is what makes it faster than ``no_grad``; here only the rules are kept."""

    def __new__(cls, mode=True):
        """``@inference_mode`` without parentheses (torch allows it too): the function, decorated."""
        made = super().__new__(cls)
        if not callable(mode):
            return made
        made.mode = True
        return made(mode)

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        global _grad_enabled, _inference_enabled
        self.prev = (_grad_enabled, _inference_enabled)
        if self.mode:
            _grad_enabled, _inference_enabled = False, True
        else:
            _inference_enabled = False

    def __exit__(self, *exc):
        global _grad_enabled, _inference_enabled
        _grad_enabled, _inference_enabled = self.prev

    def __call__(self, func):
        mode = self.mode

        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return func(*args, **kwargs)
        return _wraps(wrapper, func)


def _made_in_inference(t):
    """Mark ``t`` an inference tensor if it is made inside inference mode."""
    global _inference_made
    if _inference_enabled:
        t._inference = _inference_made = True
    return t


def _wraps(wrapper, func):
    wrapper.__name__, wrapper.__doc__ = func.__name__, func.__doc__
    wrapper.__wrapped__ = func
    return wrapper


def should_record(inputs):
    """Does an op on these input tensors join the graph?"""
    if _grad_enabled:
        for t in inputs:
            if t._requires_grad:
                return True
    return False


# --------------------------------------------------------------------------
# 2. Graph nodes: what ``grad_fn`` is
# --------------------------------------------------------------------------

# How many times each array's memory has been changed in place: torch's ``x._version``. The count
# belongs to the memory, so a tensor's views and its ``detach()`` share it, as in torch. ``x.data`` is
# a tensor on the same memory with a count of its own (``own_count``), so changing it in place is not
# seen by x's count, just as changing torch's ``x.data`` is not.
_versions = {}  # id(the array that owns the memory) -> changes so far (absent: none)
_changes = 0  # in-place changes so far, to any array: if a node saw this same number, nothing changed since


def _memory_owner(array):
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def version_of(array):
    return _versions.get(id(_memory_owner(array)), 0) if _versions else 0


def count_change(array):
    """Count one in-place change of ``array``'s memory."""
    global _changes
    _changes += 1
    owner = _memory_owner(array)
    if not isinstance(owner, np.ndarray):
        return  # (a numpy scalar put in ._array: memory no one else shares)
    key = id(owner)
    if key not in _versions:
        weakref.finalize(owner, _versions.pop, key, None)  # forgotten with the memory (ids are reused)
    _versions[key] = _versions.get(key, 0) + 1


def own_count(array, version=0):
    """A view of ``array``'s memory whose in-place changes are counted apart from ``array``'s own (its
    base is numpy's stand-in for the memory, not an ndarray, so ``_memory_owner`` stops at the view),
    starting from ``version``."""
    view = np.lib.stride_tricks.as_strided(array)
    if version:
        key = id(view)
        weakref.finalize(view, _versions.pop, key, None)
        _versions[key] = version
    return view


_creation_order = itertools.count()
_creation_time = operator.attrgetter("sequence_nr")


class Node:
    """One step of the backward graph, and the ``ctx`` its Function sees.

    ``next_functions`` holds one ``(node, 0)`` pair per tensor input, as torch's
    does: the input's own ``grad_fn``, its ``AccumulateGrad`` if it is a leaf that
    requires grad, or ``None``.
    """

    # each node starts with these (class attributes: cheaper than setting them per node)
    next_functions = ()
    _saved = ()
    _saved_from = None  # (input tensors, _changes then, the saved values' versions then, or None: all 0)
    _freed = False
    _moved_output = None  # the slot of a saved output that an in-place op wrote into its tensor (x.exp_())
    _retained = None  # the output tensor, if it called retain_grad()
    _hooks = ()  # ((handle, hook), ...): its output tensor's register_hook calls, in order
    dtype = None  # its output's dtype: the gradient it is given is cast to it (None: as it comes)

    def __init__(self, function, input_shapes):
        self.function = function
        self.input_shapes = input_shapes
        self.sequence_nr = next(_creation_order)  # see topological_order

    def name(self):
        name = type(self).__name__
        return f"torch::autograd::{name}" if name in _NODES_IN_CPP else name

    def __repr__(self):
        return f"<{type(self).__name__} object at {id(self):#x}>"

    # -- the ctx side, used inside forward/backward --
    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def needs_input_grad(self):
        """One flag per input, as on torch's ctx: does a gradient for it go anywhere?"""
        return tuple(node is not None for node, _ in self.next_functions)

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(compat.SAVED_FREED)
        if self._saved_from is not None and self._saved_from[1] != _changes:  # (else nothing changed since)
            self._check_versions()
        return self._saved

    def saved_versions(self):
        return [version_of(v) if isinstance(v, np.ndarray) else 0 for v in self._saved]

    def _kept(self):
        """The slots of the saved values that torch keeps (a wanted gradient uses them), in the order it
        checks them."""
        serves = self.function.saved_for
        if serves is None:
            return range(len(self._saved))
        return [slot for slot, users in serves.items()
                if slot < len(self._saved) and any(self.next_functions[i][0] is not None for i in users)]

    def _check_versions(self):
        """Refuse, as torch does, a value backward needs that has changed in place since it was saved."""
        inputs, _, versions = self._saved_from
        for slot in self._kept():
            array = self._saved[slot]
            saved = versions[slot] if versions else 0
            if not isinstance(array, np.ndarray) or version_of(array) == saved:
                continue
            # torch names the node that made the tensor: this one for its output, else the input's as it is now
            maker = self if slot == self._moved_output else next((t.grad_fn for t in inputs if t._array is array), self)
            raise RuntimeError(compat.modified_in_place(array, maker and maker.name(), saved, version_of(array)))

    def keep_own_copy(self, array):
        """An in-place op is about to overwrite ``array``, its first input: keep the old numbers for
        backward, as torch does, rather than refuse them later."""
        if self._saved_from is None:
            return
        for slot in sorted(self._kept()):
            if self._saved[slot] is array:
                self._saved = self._saved[:slot] + (array.copy(),) + self._saved[slot + 1:]
                versions = self._saved_from[2]
                if versions:
                    versions[slot] = 0  # the copy's memory, changed by no one
                return

    def output_now_in(self, output, memory):
        """An in-place op wrote this node's ``output`` into ``memory`` (its tensor's): what backward saved of the
        output is read from there, and refused once that memory changes again, as torch's saved result is."""
        slot = next((i for i, array in enumerate(self._saved) if array is output), None)
        if slot is None or self._saved_from is None:
            return
        self._saved = self._saved[:slot] + (memory,) + self._saved[slot + 1:]
        inputs, _, versions = self._saved_from
        versions = list(versions) if versions else [0] * len(self._saved)
        versions[slot] = version_of(memory)
        self._saved_from, self._moved_output = (inputs, None, versions), slot  # (None: check on every read)

    def release(self):
        """Free what forward saved; a later backward through here is an error."""
        if self._saved:
            self._saved, self._saved_from, self._freed = (), None, True

    # -- the graph side, used by the backward pass --
    def run_hooks(self, grad):
        """The gradient after each hook of the output tensor saw it (a hook returning a tensor replaces it)."""
        for _, hook in self._hooks:
            returned = hook(Tensor._make(grad))
            if returned is None:
                continue
            new = returned._array if isinstance(returned, Tensor) else None
            name = getattr(hook, "__name__", type(hook).__name__)
            if new is None or new.dtype != grad.dtype:
                raise RuntimeError(f"hook '{name}' has changed the type of value (was {dtype_name(grad.dtype)} "
                                   f"got {type(returned).__name__ if new is None else dtype_name(new.dtype)})")
            if new.shape != grad.shape:
                raise RuntimeError(f"hook '{name}' has changed the size of value")
            grad = new
        return grad

    def apply(self, grad):
        """Gradients for each input, each summed back to that input's shape."""
        if self.dtype is not None and grad.dtype != self.dtype:
            # as torch does at every edge: y = float32, y * float64 sends a float64 gradient, y's node gets float32
            grad = grad.astype(self.dtype)
        if self._hooks:  # register_hook: the output's hooks see its whole gradient first
            grad = self.run_hooks(grad)
        if self._retained is not None:  # retain_grad(): keep this node's gradient on its tensor
            t = self._retained
            t.grad = Tensor._make(np.array(grad) if t._grad is None else np.asarray(t._grad._array + grad))
        grads = self.function.backward(self, grad)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) < len(self.input_shapes):
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {len(self.input_shapes)}, got {len(grads)})")
        dtype, shaped = grad.dtype, []
        for g, shape in zip(grads, self.input_shapes):
            if g is not None:
                # (numpy shares dtype objects: `is` settles the usual case without a comparison)
                if not isinstance(g, _ARRAY_TYPES) or (g.dtype is not dtype and g.dtype != dtype):
                    g = np.asarray(g, dtype=dtype)  # a Python number, or another float type
                if g.shape != shape:
                    g = sum_to_shape(g, shape)
            shaped.append(g)
        return tuple(shaped)


_node_types = {}
_NODES_IN_CPP = {"AccumulateGrad", "CopySlices"}  # torch's name() gives these their C++ namespace
_ARRAY_TYPES = (np.ndarray, np.generic)  # (a tuple: isinstance checks it faster than a union)


def _node_type(name):
    """A Node subclass per torch name, so ``type(y.grad_fn).__name__`` is ``PowBackward0``."""
    if name not in _node_types:
        _node_types[name] = type(name, (Node,), {})
    return _node_types[name]


class AccumulateGrad(Node):
    """The node at a leaf: where gradients stop and are added into ``leaf.grad``."""

    def __init__(self, variable):
        super().__init__(None, ())
        self.variable = variable
        self.sequence_nr = -1  # it has no children, so it can always come last

    def hooked(self):
        """A leaf got a hook: from now on its gradient passes the hooks before it is added into .grad.
        The class's ``apply`` is looked up at each call, so whichever version is in place does the adding."""
        def apply(grad):
            return type(self).apply(self, self.run_hooks(grad))
        self.apply = apply

    def apply(self, grad):
        leaf = self.variable
        ### BEGIN SOLUTION accumulate_grad
        if leaf.grad is None:
            # a copy: `grad` may be the very array another node also received
            leaf.grad = Tensor._make(np.array(grad, dtype=leaf._array.dtype))
        else:
            leaf.grad._array += grad  # in place, as torch does: views of .grad see the sum
        return ()
        ### END SOLUTION


def sum_to_shape(grad, shape):
    """Undo broadcasting: sum ``grad`` over the axes that broadcasting added or stretched."""
    if grad.shape == shape:
        return grad
    ### BEGIN SOLUTION sum_to_shape
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape)))) if grad.ndim > len(shape) else grad
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad
    ### END SOLUTION


# --------------------------------------------------------------------------
# 3. Function: one operation, in the shape of torch.autograd.Function
# --------------------------------------------------------------------------

class Function:
    """Subclasses write ``forward(ctx, *arrays, **options)`` and
    ``backward(ctx, grad) -> one gradient per input array`` (or ``None``).
    ``node_name`` is the torch name of the node a call puts in the graph."""

    node_name = None
    # {slot in save_for_backward: the inputs whose gradient uses that saved value}, in the order torch
    # checks them for in-place changes; None: each saved value serves every input. torch keeps only
    # what a wanted gradient needs: ``x * c`` with a constant ``c`` keeps ``c``, not ``x``.
    saved_for = None

    @staticmethod
    def forward(ctx, *arrays, **options):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, node_name=None, **options):
        arrays = [t._array for t in inputs]
        name = node_name or cls.node_name or f"{cls.__name__}Backward"  # (torch's name for a Function of one's own)
        ctx = (_node_types.get(name) or _node_type(name))(cls, [a.shape for a in arrays])
        data = returned = cls.forward(ctx, *arrays, **options)
        if type(data) is not np.ndarray:  # numpy gives 0-d results as scalars
            data = np.asarray(data)
        if not should_record(inputs):
            out = Tensor._make(data) if not _inference_enabled else _made_in_inference(Tensor._make(data))
            if data.base is not None and inputs:
                _note_view(out, inputs[0])
            return out
        # (a non-leaf's edge is its grad_fn: looked up here, the common case, without a call)
        ctx.next_functions = tuple([(t.grad_fn or t._gradient_edge(), 0) for t in inputs])
        if ctx._saved and _inference_made:
            _refuse_inference_tensors(ctx, inputs)
        if ctx._saved:
            if data is not returned and ctx._saved[-1] is returned:  # (ops that keep their output save it last)
                ctx._saved = ctx._saved[:-1] + (data,)  # numpy made the 0-d output a scalar: keep the output itself
            # what saved_tensors needs to tell whether a saved value changes in place later
            ctx._saved_from = (inputs, _changes, ctx.saved_versions() if _versions else None)
        ctx.dtype = data.dtype
        out = Tensor._make(data, True, ctx)
        if data.base is not None:  # x[1:], x.t(), x.view(...): numpy gave a view of x's memory
            _note_view(out, inputs[0])
        return out


def _note_view(view, of):
    """Remember that ``view`` shares the memory of ``of`` (as torch's views do), by the tensor that owns that
    memory, its base: an in-place change of the view then rewrites the base's history, and one of the base
    rewrites its views' (``more_ops.write_through_view``). Only a base that owns its memory in C order, of the
    same dtype: the views whose places in it ``more_ops`` can work out."""
    base = of if of._view_base is None else of._view_base
    array = base._array
    if _memory_owner(view._array) is not array or view._array.dtype != array.dtype or not array.flags.c_contiguous:
        return
    view._view_base = base
    if base._views is None:  # (by id: a WeakSet would compare tensors with ==, which is elementwise)
        base._views = weakref.WeakValueDictionary()
    base._views[id(view)] = view


def _refuse_inference_tensors(ctx, inputs):
    """torch never saves an inference tensor for backward: the op refuses as it records."""
    kept = [ctx._saved[slot] for slot in ctx._kept()]
    if any(t._inference and any(t._array is array for array in kept) for t in inputs):
        raise RuntimeError(compat.INFERENCE_SAVED)


# --------------------------------------------------------------------------
# 4. The operations
# --------------------------------------------------------------------------

def accurately(function, x):
    """``function(x)`` (np.sin, np.exp, ...) worked out in float64 and rounded once to float32 (or
    float16). numpy's own float32 loops are often an ulp off the correctly rounded value, which
    torch's results nearly always are; notebooks print gradients in full, so the ulp shows (and
    numpy's float16 loops round twice, through float32). Like torch, it gives nan/inf without a
    warning (log(0), sin(inf), exp(100) in float32)."""
    if x.dtype in _ROUNDED_ONCE:
        if x.ndim == 0 and function in _SCALAR_MATH:
            # a 0-d tensor (every op of a scalar graph): Python's math in float64 costs a fraction of a
            # numpy call inside np.errstate. Where it raises or the result does not fit, numpy below.
            try:
                exact = _SCALAR_MATH[function](float(x))
            except (ValueError, OverflowError):
                exact = math.inf
            if abs(exact) <= _ROUNDED_ONCE[x.dtype]:
                return x.dtype.type(exact)
        with np.errstate(all="ignore"):
            return function(x, dtype=np.float64).astype(x.dtype)
    if x.dtype.kind in "biu":  # torch's sin, exp, log, ... of integers and bools are float32
        return accurately(function, x.astype(np.float32))
    with np.errstate(all="ignore"):
        return function(x)


# (Python floats: comparing a float past float32's range with np.float32 warns of an overflow)
_ROUNDED_ONCE = {np.dtype(np.float32): float(np.finfo(np.float32).max),
                 np.dtype(np.float16): float(np.finfo(np.float16).max)}
_SCALAR_MATH = {np.sin: math.sin, np.cos: math.cos, np.exp: math.exp, np.log: math.log, np.log1p: math.log1p,
                np.tanh: math.tanh, np.sqrt: math.sqrt}


def power(x, exponent):
    """``x ** exponent`` for a number ``exponent``, as torch works it out: 2, 3 and -2 multiplied
    out, other exponents in float64 rounded once (numpy's own float32 power drifts off torch's
    along a long chain of powers). Like torch, 0 ** -1 is inf without a warning."""
    with np.errstate(all="ignore"):
        if x.dtype.kind != "f":
            return (x ** exponent).astype(x.dtype, copy=False)  # (numpy makes bool ** bool int8)
        if exponent in (2, 3, -2):
            square = x * x
            return square if exponent == 2 else square * x if exponent == 3 else 1 / square
        return accurately(lambda x, dtype=None: np.power(x, exponent, dtype=dtype), x)


class Add(Function):
    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION add_backward
        return grad, grad
        ### END SOLUTION


class Sub(Function):
    node_name = "SubBackward0"

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION sub_backward
        return grad, -grad
        ### END SOLUTION


class Mul(Function):
    node_name = "MulBackward0"
    saved_for = {1: (0,), 0: (1,)}  # b for a's gradient, a for b's

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION mul_backward
        a, b = ctx.saved_tensors
        return grad * b, grad * a
        ### END SOLUTION


class Rsub(Function):
    """``number - x``: torch records only the tensor as an input, so the node has one edge,
    and its gradient is the second of the two that Sub.backward returns."""
    node_name = "RsubBackward1"

    @staticmethod
    def forward(ctx, x, other):
        return Sub.forward(ctx, other, x)

    @staticmethod
    def backward(ctx, grad):
        return Sub.backward(ctx, grad)[1]


class Div(Function):
    node_name = "DivBackward0"
    saved_for = {1: (0, 1), 0: (1,)}

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):  # x / 0 is inf, silently, as in torch
            return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad / b, -grad * (a / b / b)


class FloorDivide(Function):
    """``a // b``: torch has no derivative for it, and says so only when backward reaches it."""
    node_name = "NotImplemented"

    @staticmethod
    def forward(ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):  # x // 0 is inf or nan, silently, as in torch
            return np.floor_divide(a, b)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::floor_divide is not implemented")


class FloorDivideByNumber(FloorDivide):
    """``x // number`` or ``number // x``: torch records only the tensor."""

    @staticmethod
    def forward(ctx, x, other, reflected):
        return FloorDivide.forward(ctx, other, x) if reflected else FloorDivide.forward(ctx, x, other)


class Remainder(Function):
    """``a % b`` with tensor ``b``: the remainder with b's sign, as Python's ``%`` (and torch's)."""
    node_name = "RemainderBackward1"
    saved_for = {0: (1,), 1: (1,)}  # only b's gradient, -grad * floor(a / b), needs them

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return remainder(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad, -grad * FloorDivide.forward(ctx, a, b)


class RemainderByNumber(Function):
    """``x % number`` (its gradient passes unchanged), or ``number % x`` (torch has no derivative for it)."""
    node_name = "RemainderBackward0"

    @staticmethod
    def forward(ctx, x, other, reflected):
        ctx.reflected = reflected
        return remainder(other, x) if reflected else remainder(x, other)

    @staticmethod
    def backward(ctx, grad):
        if ctx.reflected:
            raise RuntimeError("derivative for aten::remainder is not implemented")
        return grad


def remainder(a, b):
    """torch's ``%``: for floats C's fmod, moved into b's sign (so -3. % 0.5 is -0., as in torch)."""
    if a.dtype.kind != "f":
        return np.remainder(a, b)
    with np.errstate(invalid="ignore"):
        mod = np.fmod(a, b)
        return np.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)


class Neg(Function):
    node_name = "NegBackward0"

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION neg_backward
        return -grad
        ### END SOLUTION


class Reciprocal(Function):
    node_name = "ReciprocalBackward0"

    @staticmethod
    def forward(ctx, a):
        with np.errstate(divide="ignore"):
            out = 1 / a
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, = ctx.saved_tensors
        return -grad * (out * out)


class Pow(Function):
    """``x ** n`` for a number ``n``."""
    node_name = "PowBackward0"

    @staticmethod
    def forward(ctx, x, exponent):
        ctx.save_for_backward(x)
        ctx.exponent = exponent
        return power(x, exponent)  # x ** exponent, rounded as torch rounds it

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION pow_backward
        x, = ctx.saved_tensors
        n = ctx.exponent
        return grad * (n * x ** (n - 1))
        ### END SOLUTION


class PowTensor(Function):
    """``a ** b`` where the exponent is a tensor too."""
    node_name = "PowBackward1"
    saved_for = {0: (0, 1), 1: (0, 1), 2: (1,)}

    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):  # torch's rules at a == 0 and b == 0
            da = np.where(b == 0, 0, b * a ** (b - 1))
            db = np.where((a == 0) & (b >= 0), 0, out * accurately(np.log, a))
        return grad * da, grad * db


class RPow(Function):
    """``number ** x``: one input, the exponent; d/dx base ** x = base ** x * log(base)."""
    node_name = "PowBackward2"

    @staticmethod
    def forward(ctx, x, base):
        out = base ** x
        ctx.save_for_backward(x, out)
        ctx.base = base
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        with np.errstate(divide="ignore"):
            local = np.where((ctx.base == 0) & (x >= 0), 0, out * accurately(np.log, ctx.base))
        return grad * local


class Sin(Function):
    node_name = "SinBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return accurately(np.sin, x)

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION sin_backward
        x, = ctx.saved_tensors
        return grad * accurately(np.cos, x)
        ### END SOLUTION


class Cos(Function):
    node_name = "CosBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return accurately(np.cos, x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * -accurately(np.sin, x)


class Exp(Function):
    node_name = "ExpBackward0"

    @staticmethod
    def forward(ctx, x):
        out = accurately(np.exp, x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, = ctx.saved_tensors
        return grad * out


class Log(Function):
    node_name = "LogBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return accurately(np.log, x)

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION log_backward
        x, = ctx.saved_tensors
        return grad / x
        ### END SOLUTION


class Sigmoid(Function):
    node_name = "SigmoidBackward0"

    @staticmethod
    def forward(ctx, x):
        if x.dtype.kind != "f":
            x = x.astype(np.float32)  # torch's sigmoid of integers and bools is float32
        wide = x.astype(np.float32) if x.dtype == np.float16 else x  # torch works half in float32, then rounds
        out = (1 / (1 + accurately(np.exp, -wide))).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION sigmoid_backward
        out, = ctx.saved_tensors
        return grad * (1 - out) * out  # in the order torch evaluates it, bit for bit
        ### END SOLUTION


class Tanh(Function):
    node_name = "TanhBackward0"

    @staticmethod
    def forward(ctx, x):
        out = accurately(np.tanh, x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, = ctx.saved_tensors
        return grad * (1 - out * out)


class Softplus(Function):
    """``softplus(x) = log(1 + exp(beta * x)) / beta``, as torch's: written as
    ``max(z, 0) + log1p(exp(-|z|))`` with ``z = beta * x``, whose exponent is never positive, so it
    cannot overflow; where ``z > threshold`` the result is ``x`` itself (torch's shortcut)."""
    node_name = "SoftplusBackward0"

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        if x.dtype.kind != "f":
            raise compat.not_implemented("softplus_cpu", x.dtype)
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        z = x * x.dtype.type(beta)
        soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / x.dtype.type(beta)
        return np.where(z > threshold, x, soft)

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION softplus_backward
        x, = ctx.saved_tensors
        z = x * x.dtype.type(ctx.beta)
        # sigmoid(z), from exp(-|z|) <= 1 only: exp(z) / (1 + exp(z)) is inf / inf = nan for large z
        e = np.exp(-np.abs(z))
        slope = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        return np.where(z > ctx.threshold, grad, grad * slope)  # above threshold forward returned x itself
        ### END SOLUTION


class Relu(Function):
    node_name = "ReluBackward0"

    @staticmethod
    def forward(ctx, x):
        if x.dtype == np.bool_:
            raise RuntimeError("Boolean inputs not supported for relu")
        out = np.where(x < 0, x.dtype.type(0), x)  # (np.maximum(x, 0) would turn -0.0 into 0.0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, = ctx.saved_tensors
        return np.where(out > 0, grad, 0)


class Clamp(Function):
    """``clamp(x, min, max)`` with number bounds (either may be ``None``)."""
    node_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, x, min=None, max=None):
        ctx.save_for_backward(x)
        ctx.min, ctx.max = min, max
        out = x if min is None else np.maximum(x, min)  # (np.clip does the same, 3x slower)
        return out if max is None else np.minimum(out, max)

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION clamp_backward
        x, = ctx.saved_tensors
        low = -np.inf if ctx.min is None else ctx.min
        high = np.inf if ctx.max is None else ctx.max
        return np.where((low <= x) & (x <= high), grad, 0)
        ### END SOLUTION


class Sum(Function):
    node_name = "SumBackward0"

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        return x.sum(axis=dim, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return np.broadcast_to(_restore_reduced_dims(grad, ctx), ctx.shape)


class Mean(Function):
    node_name = "MeanBackward0"

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        return x.mean(axis=dim, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION mean_backward
        count = int(np.prod(ctx.shape)) // max(1, int(np.prod(grad.shape)))
        grad = _restore_reduced_dims(grad, ctx)
        return np.broadcast_to(grad / count, ctx.shape)
        ### END SOLUTION


def _restore_reduced_dims(grad, ctx):
    """Put back, as size-1 axes, the axes a reduction without ``keepdim`` removed."""
    if ctx.dim is None:
        return grad.reshape([1] * len(ctx.shape))
    return grad if ctx.keepdim else np.expand_dims(grad, ctx.dim)


class MatMul(Function):
    node_name = "MmBackward0"
    saved_for = {1: (0,), 0: (1,)}

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        if a.ndim == 1 and b.ndim == 1:
            return grad * b, grad * a
        # each product costs as much as the forward one: skip one nobody needs, as torch does
        need_a, need_b = ctx.needs_input_grad
        if b.ndim == 1:  # (..., n, k) @ (k,): torch folds the batch into one matrix-vector product
            return (np.multiply.outer(grad, b) if need_a else None,
                    a.reshape(-1, a.shape[-1]).T @ grad.reshape(-1) if need_b else None)
        if a.ndim == 1:  # (k,) @ (..., k, m): a's gradient per batch entry, summed over the batch by apply
            return ((b @ grad[..., None])[..., 0] if need_a else None,
                    a[:, None] * grad[..., None, :] if need_b else None)
        return (grad @ np.swapaxes(b, -1, -2) if need_a else None,
                np.swapaxes(a, -1, -2) @ grad if need_b else None)


class Reshape(Function):
    node_name = "ViewBackward0"

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


class Index(Function):
    """``x[index]``: the gradient goes back to the picked positions (summed where picked twice)."""
    node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, compat.bytes_as_masks(index)
        ctx.bytes = ctx.index is not index  # torch warns of a uint8 mask again in backward
        out = x[ctx.index]
        if type(out) is not np.ndarray:  # numpy gives one number as a copy; torch's x[0] is a view, as this is
            out = x[(*index, ...) if isinstance(index, tuple) else (index, ...)]
        ctx.view = out.base is not None  # slices and single positions: each element picked once
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.bytes:
            warnings.warn(compat.BYTE_INDEX, UserWarning, stacklevel=2)
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        if ctx.view:
            full[ctx.index] = grad  # copied, as torch's SliceBackward0 does (0 + -0 would lose the sign)
        else:
            np.add.at(full, ctx.index, grad)  # a position picked twice gets both gradients
        return full


# -- softmax, log_softmax and the cross-entropy loss (notebook 08) --

def _log_softmax(x, dim):
    """log(exp(x) / sum(exp(x))) along ``dim``, stable for any logits: shift by the largest first,
    so the biggest exp is exp(0) = 1 (exp(1000) would overflow). In float64, rounded once."""
    wide = x.astype(np.float64) if x.dtype == np.float32 else x
    shifted = wide - wide.max(axis=dim, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return out.astype(x.dtype) if x.dtype == np.float32 else out


class LogSoftmax(Function):
    """``out = x - log(sum(exp(x)))`` along ``dim``: log-probabilities from logits."""
    node_name = "LogSoftmaxBackward0"

    @staticmethod
    def forward(ctx, x, dim):
        compat.check_softmax_dtype("log_softmax", x, dim)
        ctx.dim = dim
        out = _log_softmax(x, dim)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION log_softmax_backward
        out, = ctx.saved_tensors
        return grad - np.exp(out) * grad.sum(axis=ctx.dim, keepdims=True)
        ### END SOLUTION


class Fill(Function):
    """Where ``zero_``/``fill_`` overwrite a tensor the graph records: its old values no longer
    matter, so the gradient sent back through them is 0."""

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, grad):
        return np.zeros_like(grad)


class AddScaled(Function):
    """``a + alpha * b`` rounded once, as torch's ``add(..., alpha=)`` kernel (a fused multiply-add)
    rounds it; ``a + b * alpha`` in two steps can end one ulp away. ``sub`` passes ``-alpha`` and its
    own node name. (float16: torch's half kernel rounds by position, once in its vector lanes, as here,
    but after each step in the loop's tail; a short tensor is all tail, and which elements of a long one
    fall there depends on the machine's vector width, so there an ulp can differ.)"""
    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, a, b, alpha):
        ctx.alpha = alpha
        if a.dtype.kind != "f":
            return a + a.dtype.type(alpha) * b  # exact
        # worked out wider, rounded once (longdouble: 80 bits on x86, only float64 on some machines)
        wide = np.longdouble if a.dtype.itemsize == 8 else np.float64
        alpha = wide(a.dtype.type(alpha))  # torch rounds alpha to the tensor's dtype first
        return (a.astype(wide) + alpha * b.astype(wide)).astype(a.dtype)

    @staticmethod
    def backward(ctx, grad):
        grad_a, grad_b = Add.backward(ctx, grad)  # your Add.backward, then b's share scaled by alpha
        return grad_a, grad_b * ctx.alpha


def _check_alpha(dtype, alpha):
    """torch's refusals of an ``alpha`` that the result's dtype cannot hold."""
    if isinstance(alpha, bool) and dtype.kind != "b":
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if isinstance(alpha, float) and dtype.kind in "biu":
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")


def add_scaled(a, other, alpha, subtract=False):
    """``a + alpha * other`` (``a - alpha * other`` if ``subtract``), as ``torch.add``/``torch.sub`` with ``alpha``."""
    if subtract:
        compat.check_subtraction(a, other)
    if alpha == 1 and not isinstance(alpha, bool):
        return a - other if subtract else a + other
    a, other = _pair(a, other)
    _check_alpha(a._array.dtype, alpha)
    if subtract:
        return AddScaled.apply(a, other, alpha=-alpha, node_name="SubBackward0")
    return AddScaled.apply(a, other, alpha=alpha)


class Copy(Function):
    """``x.copy_(src)``: x's old values no longer matter (gradient 0), ``src`` gets the gradient (summed
    back to its shape where it was broadcast)."""
    node_name = "CopyBackwards"

    @staticmethod
    def forward(ctx, x, src):
        return np.broadcast_to(src, x.shape).astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return np.zeros_like(grad), grad


# --------------------------------------------------------------------------
# 5. Tensor
# --------------------------------------------------------------------------

def _as_array(data):
    """torch.tensor's dtype rules: Python floats become float32, ints int64, bools bool."""
    if type(data) is float:  # the commonest case (tensor(6.7)), without the checks below
        return np.array(data, np.float32)
    if isinstance(data, Tensor):
        warnings.warn(compat.COPY_CONSTRUCT, UserWarning, stacklevel=3)
        return data._array.copy()
    array = np.array(data)  # a list of tensors works too, through Tensor.__array__
    if array.dtype.kind not in "biuf":
        raise TypeError(f"tensor() takes numbers, or (nested) lists or arrays of numbers; got {data!r}")
    if array.dtype == np.float64 and not isinstance(data, np.ndarray | np.generic):
        array = array.astype(np.float32)
    elif array.dtype.kind in "iu" and not isinstance(data, np.ndarray | np.generic):
        array = array.astype(np.int64)
    return array


class RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook off again."""

    def __init__(self, node):
        self.node = node

    def remove(self):
        self.node._hooks = tuple(pair for pair in self.node._hooks if pair[0] is not self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Tensor:
    """An array (``_array``), its ``grad``, and the ``grad_fn`` that made it. The methods here are the ones the
    tutorial uses; more_ops.py adds the rest of torch's everyday ones (view, max, T, ...)."""
    __array_ufunc__ = None  # `ndarray * Tensor` defers to Tensor.__rmul__
    _inference = False  # made inside inference_mode (set on the few that are)
    _view_of_leaf = False  # x[...] of a leaf that requires grad, sharing its memory
    _view_base = None  # the tensor whose memory this one is a view of (x[1:], x.t(), x.view(...))
    _views = None  # on such a base: its views that are still alive, by id
    _multi_view = None  # one of several views an op returned together (split, chunk, unbind): "Output 1 of Split"

    def __init__(self, data, requires_grad=False):
        self._array = _as_array(data)
        self._grad = None
        self.grad_fn = None
        self._accumulator = None
        self._requires_grad = False
        if _inference_enabled:
            _made_in_inference(self)
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, requires_grad=False, grad_fn=None):
        """Wrap an array without copying or checks: how ops build their outputs."""
        t = cls.__new__(cls)
        t._array, t._grad, t.grad_fn, t._accumulator, t._requires_grad = data, None, grad_fn, None, requires_grad
        return t

    # -- autograd attributes --
    @property
    def data(self):
        """A tensor on this one's memory, as torch's ``x.data``: off the graph (``requires_grad=False``, no
        ``grad_fn``) and with a version count of its own, so backward never learns that it was changed
        in place (``detach()`` shares the count, and backward refuses a saved value changed through it)."""
        return Tensor._make(own_count(self._array))

    @data.setter
    def data(self, value):
        """``x.data = other``: x now holds ``other``'s memory (any shape) and keeps its own graph and count."""
        if not isinstance(value, Tensor):
            kind = type(value)
            name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
            raise TypeError(f"Variable data has to be a tensor, but got {name}")
        if self.requires_grad and value._array.dtype.kind not in "fc":
            raise RuntimeError("data set to a tensor that requires gradients must be floating point or complex dtype")
        self._array = own_count(value._array, self._version)

    @property
    def grad(self):
        if not self.is_leaf and self.grad_fn._retained is not self:
            warnings.warn(compat.NOT_LEAF_GRAD, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            new, mine = getattr(value, "_array", None), self._array
            if new is None or new.dtype != mine.dtype or new.shape != mine.shape or value is self:
                compat.check_grad_assignment(self, value)  # torch's error for each of these
        self._grad = value

    @property
    def requires_grad(self):
        return self._requires_grad  # (the engine's own hot paths read _requires_grad directly)

    @requires_grad.setter
    def requires_grad(self, value):
        """``x.requires_grad = flag``: torch's rules, as for ``requires_grad_``; a leaf that stops requiring grad
        gets no gradient from graphs already built on it, as in torch."""
        if not isinstance(value, bool):
            raise RuntimeError("requires_grad must be a bool")
        if self.grad_fn is not None:
            raise RuntimeError(compat.NON_LEAF_REQUIRES_GRAD + ("" if value else compat.DETACH_INSTEAD))
        if value and self._array.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        self.requires_grad_(value)

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def _version(self):
        """In-place changes so far to this tensor's memory (shared with its views and detach())."""
        return version_of(self._array)

    def _gradient_edge(self):
        """Where a gradient for this tensor goes: its grad_fn, or its leaf accumulator."""
        if not self._requires_grad:
            return None
        if self.grad_fn is not None:
            return self.grad_fn
        if self._accumulator is None:
            self._accumulator = AccumulateGrad(self)
        return self._accumulator

    def requires_grad_(self, requires_grad=True):
        if not self.is_leaf:
            if requires_grad:
                return self
            raise RuntimeError(compat.NON_LEAF_REQUIRES_GRAD + compat.DETACH_INSTEAD)
        if requires_grad and self._array.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if self._accumulator is not None:
            # graphs built on this leaf hold its accumulator: torch's adds into .grad only while the leaf
            # requires grad, so while it does not, this one adds into a stand-in
            self._accumulator.variable = self if requires_grad else Tensor._make(self._array)
        self._requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        self.grad_fn._retained = self

    @property
    def retains_grad(self):
        return self.grad_fn is not None and self.grad_fn._retained is self

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient is known, before it goes on (or into .grad, at a
        leaf); if it returns a tensor, that is the gradient from then on."""
        if not self.requires_grad:
            raise RuntimeError(compat.NO_GRAD_HOOK)
        node = self._gradient_edge()
        if node is self._accumulator and "apply" not in vars(node):
            node.hooked()
        handle = RemovableHandle(node)
        node._hooks = (*node._hooks, (handle, hook))
        return handle

    def is_inference(self):
        return self._inference

    def detach(self):
        ### BEGIN SOLUTION detach
        return Tensor._make(self._array)
        ### END SOLUTION

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        if create_graph:
            raise NotImplementedError(compat.CREATE_GRAPH)
        if inputs is not None:
            _backward_into(self, gradient, inputs, retain_graph)
            return
        if not self._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if gradient is None:
            if self._array.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            gradient = np.ones_like(self._array)
        else:
            gradient = gradient._array if isinstance(gradient, Tensor) else np.asarray(gradient, self._array.dtype)
            if gradient.shape != self._array.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[0] has a shape of {compat.size_text(gradient.shape)} and "
                    f"output[0] has a shape of {compat.size_text(self._array.shape)}.")
        # torch's backward is silent where a gradient is inf or nan (log at 0, the where(x > 0, log(x), 0) trick)
        with np.errstate(all="ignore"):
            if self.grad_fn is None:  # a leaf: the gradient goes straight into its .grad
                self._gradient_edge().apply(gradient)
                return
            run_backward(self, gradient, retain_graph=bool(retain_graph))

    # -- plain data access --
    @property
    def shape(self):
        return Size(self._array.shape)

    def size(self, dim=None):
        return self.shape if dim is None else self._array.shape[dim]

    @property
    def ndim(self):
        return self._array.ndim

    def dim(self):
        return self._array.ndim

    def numel(self):
        return self._array.size

    @property
    def dtype(self):
        return dtype_name(self._array.dtype)

    def item(self):
        if self._array.size != 1:
            raise RuntimeError(f"a Tensor with {self._array.size} elements cannot be converted to Scalar")
        return self._array.item()

    def numpy(self):
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._array

    def tolist(self):
        return self._array.tolist()

    def __repr__(self):
        return format_tensor(self)

    def __format__(self, spec):
        # like torch: a 0-d tensor in an f-string formats as its Python number
        return self.item().__format__(spec) if self._array.ndim == 0 else repr(self).__format__(spec)

    def __len__(self):
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._array)

    def __float__(self):
        if self._array.size != 1:
            raise ValueError(compat.ONE_ELEMENT_SCALAR)
        if self._requires_grad and _grad_enabled:
            _warn_scalar_of_graph()
        return float(self._array.item())

    def __int__(self):
        if self._array.size != 1:
            raise ValueError(compat.ONE_ELEMENT_SCALAR)
        return int(self._array.item())

    def __index__(self):  # ['a', 'b'][t.argmax()], range(t)
        if self._array.size != 1 or self._array.dtype.kind not in "biu":
            raise TypeError(compat.NOT_AN_INDEX)
        return int(self._array.item())

    def __bool__(self):
        if self._array.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __array__(self, dtype=None, copy=None):  # np.asarray(t) and np.array([t1, t2]), as in torch
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def __getitem__(self, index):
        index = compat.plain_index(index)
        compat.check_index(index)
        try:
            picked = Index.apply(self, index=index, node_name=compat.index_node_name(index))
        except IndexError as error:
            raise compat.torch_index_error(error) from None
        if self._requires_grad and self.grad_fn is None and picked._array.base is not None:
            picked._view_of_leaf = True  # changing it in place would change the leaf: refused, as in torch
        return picked

    __hash__ = object.__hash__

    # -- in-place operations --
    def _check_in_place(self, filled_by="ZeroBackward0", views_now=True):
        """Every in-place change starts here: refuse it where torch does, count it (``_version``),
        and if the graph records this tensor and ``zero_`` or ``fill_`` overwrites it, end its
        history in a node named ``filled_by``."""
        if self._inference and not _inference_enabled:
            raise RuntimeError(compat.INFERENCE_IN_PLACE)
        if self._requires_grad and _grad_enabled:
            if self._multi_view is not None:
                raise RuntimeError(compat.multi_view_in_place(self._multi_view))
            if self.is_leaf:
                raise RuntimeError(compat.LEAF_IN_PLACE)
            base = self._view_base
            if self._view_of_leaf or (base is not None and base._requires_grad and base.grad_fn is None):
                raise RuntimeError(compat.LEAF_VIEW_IN_PLACE)
        if not self._array.flags.writeable:  # numpy's views that repeat elements (expand) are read-only
            raise RuntimeError(compat.OVERLAPPING_WRITE)
        if filled_by and self._requires_grad and _grad_enabled:
            self._rewrite_history(Fill.apply(self, node_name=filled_by))
        count_change(self._array)
        if views_now:
            self._views_changed()

    def _views_changed(self):
        """This memory changed in place: as torch does, the views of it that the graph records now read their
        values from their base's history as it is now (``AsStridedBackward0``), whatever the grad mode."""
        base = self if self._view_base is None else self._view_base
        if base._views and base._requires_grad:
            self._refresh_views(base)  # more_ops

    def _rewrite_history(self, result):
        """This tensor, changed in place, now holds ``result``, which the graph records: its history (and,
        for a view, its base's; and the base's other views') ends in ``result``'s node."""
        if self._view_base is not None:
            self._write_through_view(result)  # more_ops: torch's CopySlices
            return
        self.grad_fn, self._requires_grad = result.grad_fn, True

    def zero_(self):
        self._check_in_place()
        ### BEGIN SOLUTION zero_
        self._array[...] = 0
        return self
        ### END SOLUTION

    def fill_(self, value):
        self._check_in_place("FillBackward2")
        self._array[...] = value
        return self

    def _in_place(self, result, *others):
        """Write ``result`` (an op of this tensor and ``others``) into this tensor's memory, as torch's in-place ops."""
        mine, new = self._array, result._array
        for other in others:
            if isinstance(other, Tensor):
                compat.refuse_partial_overlap(mine, other._array)
        if new.shape != mine.shape:
            raise RuntimeError(compat.wider_than_output(mine.shape, new.shape))
        if new.dtype != mine.dtype and not np.can_cast(new.dtype, mine.dtype, "same_kind"):
            names = compat.TORCH_TYPE_NAMES
            raise RuntimeError(f"result type {names[new.dtype.name]} can't be cast to the desired output type "
                               f"{names[mine.dtype.name]}")
        self._check_in_place(filled_by=None, views_now=False)
        if result.requires_grad:  # a non-leaf: its history now ends in the new op
            result.grad_fn.keep_own_copy(self._array)
            result.grad_fn.output_now_in(new, self._array)
            self._rewrite_history(result)
        self._array[...] = result._array
        self._views_changed()
        return self

    def __iadd__(self, other):
        return self._in_place(self + other, other)

    def __isub__(self, other):
        return self._in_place(self - other, other)

    def __imul__(self, other):
        return self._in_place(self * other, other)

    def __itruediv__(self, other):
        return self._in_place(self / other, other)

    def add_(self, other, alpha=1):
        return self._in_place(add_scaled(self, other, alpha), other)

    def sub_(self, other, alpha=1):
        return self._in_place(add_scaled(self, other, alpha, subtract=True), other)

    def mul_(self, other):
        return self._in_place(self * other, other)

    def copy_(self, src):
        """``src``'s values (broadcast to this shape, cast to this dtype) written into this tensor's memory."""
        src = src if isinstance(src, Tensor) else Tensor._make(np.asarray(src, self._array.dtype))
        if src._array.shape != self._array.shape:
            check_broadcast(self._array.shape, src._array.shape)
            shape = np.broadcast_shapes(self._array.shape, src._array.shape)
            if shape != self._array.shape:
                raise RuntimeError(compat.wider_than_output(self._array.shape, shape))
        return self._in_place(Copy.apply(self, src), src)

    # -- operators (Python numbers work on either side; dtypes promote as torch's do) --
    def __add__(self, other):
        return Add.apply(*_pair(self, other))

    def __radd__(self, other):  # torch computes `2 + x` as x + 2: the tensor is the first input
        return Add.apply(*_pair(self, other))

    def __sub__(self, other):
        compat.check_subtraction(self, other)
        return Sub.apply(*_pair(self, other))

    def __rsub__(self, other):
        compat.check_subtraction(other, self)
        x, other = _pair(self, other)
        return Rsub.apply(x, other=other._array)

    def __mul__(self, other):
        return Mul.apply(*_pair(self, other))

    def __rmul__(self, other):
        return Mul.apply(*_pair(self, other))

    def __truediv__(self, other):
        return Div.apply(*_pair(self, other, floating=True))

    def __rtruediv__(self, other):
        x, _ = _pair(self, other, floating=True)
        return Reciprocal.apply(x) * other  # what torch does, hence its graph shape

    def __neg__(self):
        if self._array.dtype == np.bool_:
            raise RuntimeError(compat.NEGATE_BOOL)
        return Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            x, exponent = _pair(self, exponent)
            if x._array.dtype == np.bool_:
                raise NotImplementedError('"pow" not implemented for \'Bool\'')
            return PowTensor.apply(x, exponent)
        x, _ = _pair(self, exponent)
        return Pow.apply(x, exponent=exponent)

    def __rpow__(self, base):
        x, base = _pair(self, base)
        return RPow.apply(x, base=base._array)

    def __floordiv__(self, other):
        return _integer_division(self, other)

    def __rfloordiv__(self, other):
        return _integer_division(self, other, reflected=True)

    def __mod__(self, other):
        return _integer_division(self, other, modulo=True)

    def __rmod__(self, other):
        return _integer_division(self, other, reflected=True, modulo=True)

    # bitwise operators: on bool and integer tensors (masks), never on the graph
    def __and__(self, other):
        return _bitwise(np.bitwise_and, "bitwise_and_cpu", self, other)

    def __or__(self, other):
        return _bitwise(np.bitwise_or, "bitwise_or_cpu", self, other)

    def __xor__(self, other):
        return _bitwise(np.bitwise_xor, "bitwise_xor_cpu", self, other)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        if self._array.dtype.kind not in "biu":
            raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
        return Tensor._make(np.asarray(np.invert(self._array)))

    def __matmul__(self, other):
        return self.matmul(other)

    def __rmatmul__(self, other):
        return _pair(self, other)[1].matmul(self)

    def __eq__(self, other):  # a bool tensor, off the graph
        return _compare(np.equal, self, other)

    def __ne__(self, other):
        return _compare(np.not_equal, self, other)

    def __lt__(self, other):
        return _compare(np.less, self, other)

    def __le__(self, other):
        return _compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(np.greater, self, other)

    def __ge__(self, other):
        return _compare(np.greater_equal, self, other)

    # -- the same functions as methods --
    def sin(self):
        return Sin.apply(self)

    def cos(self):
        return Cos.apply(self)

    def exp(self):
        return Exp.apply(self)

    def log(self):
        return Log.apply(self)

    def sigmoid(self):
        return Sigmoid.apply(self)

    def tanh(self):
        return Tanh.apply(self)

    def relu(self):
        return Relu.apply(self)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        x = self
        if x._array.dtype.kind != "f":  # integers clamped to a float bound become floats, as in torch
            x = _as_dtype(x, result_dtype(x._array, *[b for b in (min, max) if isinstance(b, int | float)]))
        return Clamp.apply(x, min=min, max=max)

    def sum(self, dim=None, keepdim=False):
        dim = reduced_dims(dim, self._array.ndim)
        return Sum.apply(self, dim=dim, keepdim=keepdim, node_name=reduction_name("Sum", dim))

    def mean(self, dim=None, keepdim=False):
        if self._array.dtype.kind not in "fc":
            raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating "
                               f"point or complex dtype. Got: {compat.TORCH_TYPE_NAMES[self._array.dtype.name]}")
        dim = reduced_dims(dim, self._array.ndim)
        return Mean.apply(self, dim=dim, keepdim=keepdim, node_name=reduction_name("Mean", dim))

    def matmul(self, other):
        a, b = self, other
        if a._array.ndim == b._array.ndim == 1:  # dot: torch checks the dtypes first, else the shapes first
            compat.check_matmul_dtypes(a._array, b._array)
        check_matmul(a._array.shape, b._array.shape)
        compat.check_matmul_dtypes(a._array, b._array)
        if a.ndim == 1 and b.ndim == 2:  # as torch does it: a row matrix times b, then back to 1-D
            row = Reshape.apply(a, shape=(1, a.shape[0]), node_name="UnsqueezeBackward0")
            return Reshape.apply(row.matmul(b), shape=(b.shape[1],), node_name="SqueezeBackward4")
        name = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (2, 2): "MmBackward0"}.get((a.ndim, b.ndim))
        if name is None:  # a batch: torch's outermost step is a copy (2-D @ batch) or a reshape (the others)
            name = "CloneBackward0" if a.ndim == 2 else "UnsafeViewBackward0"
        return MatMul.apply(a, b, node_name=name)

    def pow(self, exponent):
        return self ** exponent


def _backward_into(root, gradient, inputs, retain_graph):
    """``root.backward(inputs=[...])``: gradients added into the ``.grad`` of these tensors only."""
    from .autograd import grad as gradients  # (autograd.py builds on this module)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    for t in inputs:
        if not t._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if gradient is not None and not isinstance(gradient, Tensor):
        gradient = Tensor._make(np.asarray(gradient, root._array.dtype))
    with np.errstate(all="ignore"):
        found = gradients(root, inputs, grad_outputs=gradient, retain_graph=retain_graph, allow_unused=True)
    for t, g in zip(inputs, found):
        if t.grad_fn is not None:
            t.retain_grad()  # as torch does for a non-leaf input: its .grad is kept from now on
        if g is not None:
            if t._grad is None:
                t._grad = g
            else:
                t._grad._array += g._array


def _integer_division(x, other, reflected=False, modulo=False):
    """``x // other`` (``modulo``: ``x % other``), or with the operands swapped (``reflected``)."""
    if not isinstance(other, Tensor | bool | int | float):
        return NotImplemented
    a, b = _pair(x, other)
    top, bottom = (b, a) if reflected else (a, b)
    refuse_division(top, bottom, "remainder_cpu" if modulo else "div_floor_cpu")
    if isinstance(other, Tensor):
        return (Remainder if modulo else FloorDivide).apply(top, bottom)
    name = "RemainderBackward0" if modulo and not reflected else "NotImplemented"
    return (RemainderByNumber if modulo else FloorDivideByNumber).apply(
        a, other=b._array, reflected=reflected, node_name=name)


def refuse_division(top, bottom, kernel):
    """torch's refusals of ``top`` divided by ``bottom`` when the result is to be whole: a bool
    dividend (its ``kernel`` has no bool version), an integer divisor holding 0."""
    if top._array.dtype == np.bool_:
        raise compat.not_implemented(kernel, top._array.dtype)
    if bottom._array.dtype.kind != "f" and not bottom._array.all():
        raise RuntimeError("ZeroDivisionError")


def _bitwise(op, kernel, a, b):
    if not isinstance(b, Tensor | bool | int | float):
        return NotImplemented
    a, b = _pair(a, b)
    if a._array.dtype.kind == "f":
        raise compat.not_implemented(kernel, a._array.dtype)
    return Tensor._make(np.asarray(op(a._array, b._array)))


_scalar_warned = False


def _warn_scalar_of_graph():
    """float() of a tensor that requires grad: torch warns the first time only (TORCH_WARN_ONCE)."""
    global _scalar_warned
    if not _scalar_warned:
        _scalar_warned = True
        warnings.warn(compat.SCALAR_OF_GRAPH, UserWarning, stacklevel=3)


def _compare(op, a, b):
    if not isinstance(b, Tensor | int | float | np.ndarray | np.generic):
        return NotImplemented  # `x == None` is False, as in torch
    a, b = _pair(a, b)
    return Tensor._make(np.asarray(op(a._array, b._array)))


def _pair(a, b, floating=False):
    """Tensor ``a`` and ``b`` (a tensor or a Python number) as two tensors of the dtype torch
    gives ``a <op> b`` (``floating``: a float one, as for ``/``)."""
    if isinstance(b, Tensor):
        if b._array.shape != a._array.shape:
            check_broadcast(a._array.shape, b._array.shape)
        if b._array.dtype == a._array.dtype and (a._array.dtype.kind == "f" or not floating):
            return a, b
        dtype = result_dtype(a._array, b._array)
    elif a._array.dtype.kind == "f":  # a float tensor and a Python number: the tensor's dtype
        return a, Tensor._make(np.array(b, a._array.dtype))
    else:
        dtype = result_dtype(a._array, b)
        b = Tensor._make(np.array(b, dtype))
    if floating and dtype.kind != "f":
        dtype = np.dtype(np.float32)  # 1 / 2 is 0.5 for integer tensors too
    return _as_dtype(a, dtype), _as_dtype(b, dtype)


def _as_dtype(t, dtype):
    """``t`` in another dtype, on the same graph edge: its gradient still reaches ``t``'s node."""
    if t._array.dtype == dtype:
        return t
    same_edge = Tensor._make(t._array.astype(dtype), t._requires_grad, t.grad_fn)
    same_edge._accumulator = t._gradient_edge() if t.grad_fn is None else None
    return same_edge


# --------------------------------------------------------------------------
# 6. The backward pass
# --------------------------------------------------------------------------

def run_backward(root, grad, retain_graph=False):
    """Send ``grad`` (d root / d root) back through the graph that made ``root``.

    Visit the nodes so that each one comes after every node that uses its
    output, add up the gradients arriving along different paths before using
    them, hand each node its total (``node.apply``), and free what forward saved
    unless ``retain_graph``.
    """
    ### BEGIN SOLUTION backward_pass
    pending = {root.grad_fn: grad}
    for node in topological_order(root.grad_fn):
        input_grads = node.apply(pending.pop(node))
        for (next_node, _), g in zip(node.next_functions, input_grads):
            if next_node is None or g is None:
                continue
            pending[next_node] = pending[next_node] + g if next_node in pending else g
        if not retain_graph:
            node.release()
    ### END SOLUTION


def topological_order(start):
    """Nodes reachable from ``start``, each before all the nodes it points to."""
    ### BEGIN SOLUTION backward_pass
    reachable, stack = {start}, [start]
    while stack:
        for child, _ in stack.pop().next_functions:
            if child is not None and child not in reachable:
                reachable.add(child)
                stack.append(child)
    # A node is always created after the nodes of its inputs, so newest first is such an
    # order. It is also the order torch runs them in: gradients arriving along several paths
    # are added up in the same order, which gives the same float32 bits.
    return sorted(reachable, key=_creation_time, reverse=True)
    ### END SOLUTION
