"""Everyday torch beyond the tutorial: sqrt, abs, max/min, argmax, views (T, transpose, view,
flatten, squeeze, unsqueeze, reshape), stack, cat, where; softmax and the cross-entropy loss.

Each operation is a ``Function`` in the same shape as those in engine.py: ``forward`` on arrays,
``backward`` from the output's gradient to one gradient per input. The end of the file adds
them to ``Tensor`` as methods.
"""

import itertools
import math
import warnings
from collections import namedtuple

import numpy as np

from . import compat
from .compat import check_broadcast, check_reshape, one_dim, result_dtype, shape_arguments
from .engine import (
    Function,
    Index,
    LogSoftmax,
    MatMul,
    Node,
    Reshape,
    Tensor,
    _as_dtype,
    _log_softmax,
    _node_type,
    _node_types,
    _pair,
    accurately,
    add_scaled,
    enable_grad,
    is_grad_enabled,
    refuse_division,
)

# --------------------------------------------------------------------------
# Elementwise
# --------------------------------------------------------------------------


class Sqrt(Function):
    node_name = "SqrtBackward0"

    @staticmethod
    def forward(ctx, x):
        out = accurately(np.sqrt, x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad / (2 * out)


class Abs(Function):
    node_name = "AbsBackward0"

    @staticmethod
    def forward(ctx, x):
        if x.dtype == np.bool_:
            raise compat.not_implemented("abs_cpu", x.dtype)
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * np.sign(x)


class Where(Function):
    """``where(condition, a, b)``: the condition is an option, not an input (it has no gradient)."""
    node_name = "WhereBackward0"

    @staticmethod
    def forward(ctx, a, b, condition):
        ctx.condition = condition
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        zero = np.zeros((), grad.dtype)
        return np.where(ctx.condition, grad, zero), np.where(ctx.condition, zero, grad)


# --------------------------------------------------------------------------
# max and min
# --------------------------------------------------------------------------


class Extreme(Function):
    """``x.max()`` / ``x.min()`` over everything: torch shares the gradient evenly among ties."""

    @staticmethod
    def forward(ctx, x, pick):
        out = pick(x)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        hits = np.isnan(x) if np.isnan(out) else x == out
        return np.where(hits, grad / np.count_nonzero(hits), np.zeros((), grad.dtype))


class ExtremeAlong(Function):
    """``x.max(dim)`` / ``x.min(dim)``: the gradient goes to the index each value came from."""

    @staticmethod
    def forward(ctx, x, indices, dim, keepdim):
        ctx.shape, ctx.dim = x.shape, dim
        if x.ndim == 0:
            ctx.indices = indices
            return x.copy()
        ctx.indices = indices if keepdim else np.expand_dims(indices, dim)  # with the reduced axis
        out = np.take_along_axis(x, ctx.indices, dim)
        return out if keepdim else np.squeeze(out, dim)

    @staticmethod
    def backward(ctx, grad):
        if len(ctx.shape) == 0:
            return grad
        full = np.zeros(ctx.shape, grad.dtype)
        np.put_along_axis(full, ctx.indices, grad.reshape(ctx.indices.shape), ctx.dim)
        return full


class Elementwise(Function):
    """``maximum(a, b)`` / ``minimum(a, b)``: the gradient goes to the side that won, and at a tie half to
    each, as torch's ``MaximumBackward0`` (a nan goes to both sides whole, as there)."""

    @staticmethod
    def forward(ctx, a, b, largest):
        ctx.save_for_backward(a, b)
        ctx.largest = largest
        return np.maximum(a, b) if largest else np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        shared = np.where(a == b, grad / 2, grad)
        a_loses, b_loses = (a < b, a > b) if ctx.largest else (a > b, a < b)
        zero = np.zeros((), grad.dtype)
        return np.where(a_loses, zero, shared), np.where(b_loses, zero, shared)


def _elementwise(a, b, name, position):
    if not isinstance(b, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position {position}) must be Tensor, not {type(b).__name__}")
    a, b = _pair(a, b)
    return Elementwise.apply(a, b, largest=name == "maximum", node_name=f"{name.title()}Backward0")


def maximum(input, other):  # noqa: A002 - torch's name
    return _elementwise(input, other, "maximum", 2)


def minimum(input, other):  # noqa: A002 - torch's name
    return _elementwise(input, other, "minimum", 2)


def _return_type(name):
    fields = namedtuple(name, ["values", "indices"])
    fields.__repr__ = lambda self: f"torch.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    return fields


_RETURN_TYPES = {"max": _return_type("max"), "min": _return_type("min")}


def _extreme(x, dim, keepdim, name):
    data = x._array
    if dim is None:
        if data.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        return Extreme.apply(x, pick=np.max if name == "max" else np.min, node_name=f"{name.title()}Backward1")
    axis = one_dim(dim, data.ndim)
    if data.ndim and data.shape[axis] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    indices = _arg(data, axis, keepdim, name)
    values = ExtremeAlong.apply(x, indices=indices, dim=axis, keepdim=keepdim,
                                node_name=f"{name.title()}Backward0")
    return _RETURN_TYPES[name](values, Tensor._make(np.asarray(indices, np.int64)))


def _arg(data, axis, keepdim, name):
    """argmax/argmin along ``axis``: the first of ties, a nan counting as the extreme (as in torch)."""
    if data.ndim == 0:
        return np.zeros((), np.int64)
    pick = np.argmax if name == "max" else np.argmin
    return pick(data, axis=axis, keepdims=keepdim).astype(np.int64)


def _arg_tensor(x, dim, keepdim, name):
    data = x._array
    if dim is None:
        if data.size == 0:
            raise RuntimeError(f"arg{name}(): Expected reduction dim to be specified for input.numel() == 0.")
        found = _arg(data.reshape(-1), 0, False, name)
        return Tensor._make(np.asarray(found).reshape((1,) * data.ndim if keepdim else ()))
    axis = one_dim(dim, data.ndim)
    return Tensor._make(np.asarray(_arg(data, axis, keepdim, name)))


# --------------------------------------------------------------------------
# Views: the same numbers in another shape or order
# --------------------------------------------------------------------------


class Permute(Function):
    """``x.T``, ``x.t()``, ``x.transpose(d0, d1)``: axes reordered; the gradient goes back through
    the inverse order."""
    node_name = "PermuteBackward0"

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx, grad):
        return np.transpose(grad, np.argsort(ctx.axes))


class Clone(Function):
    node_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, x, order="K"):
        return x.copy(order=order)  # "K": the layout kept (a transposed tensor's clone is transposed, as in torch)

    @staticmethod
    def backward(ctx, grad):
        return grad


_T_DEPRECATED = ("The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated and "
                 "it will throw an error in a future release. Consider `x.mT` to transpose batches of matrices "
                 "or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.")


def T(x):
    if x.ndim == 0:
        warnings.warn("Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases.",
                      UserWarning, stacklevel=2)
    elif x.ndim != 2:
        warnings.warn(_T_DEPRECATED, UserWarning, stacklevel=2)
    return Permute.apply(x, axes=tuple(reversed(range(x.ndim))))


def t(x):
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return Permute.apply(x, axes=tuple(reversed(range(x.ndim))), node_name="TBackward0")


def transpose(x, dim0, dim1):
    axes = list(range(x.ndim))
    a, b = one_dim(dim0, x.ndim), one_dim(dim1, x.ndim)
    if x.ndim:
        axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(x, axes=tuple(axes), node_name="TransposeBackward0")


def permute(x, *dims):
    dims = shape_arguments(dims)
    if len(dims) != x.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {x.ndim} is not "
                           f"equal to len(dims) = {len(dims)}")
    axes = tuple(one_dim(d, x.ndim) for d in dims)
    if len(set(axes)) < len(axes):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(x, axes=axes)


def _viewable(array, shape):
    """Can torch give ``array`` this shape as a view (without copying)? Its rule (``computeStride``):
    every run of the new shape must fall inside one contiguous run of the old layout."""
    if array.size == 0 or array.ndim == 0:
        return True
    old, strides = array.shape, [s // array.itemsize for s in array.strides]
    view_d, chunk_stride, tensor_numel, view_numel = len(shape) - 1, strides[-1], 1, 1
    for d in reversed(range(len(old))):
        tensor_numel *= old[d]
        if d == 0 or (old[d - 1] != 1 and strides[d - 1] != tensor_numel * chunk_stride):
            while view_d >= 0 and (view_numel < tensor_numel or shape[view_d] == 1):
                view_numel *= shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return False
            if d > 0:
                chunk_stride, tensor_numel, view_numel = strides[d - 1], 1, 1
    return view_d == -1


def _resolved(shape, size):
    """The shape with its -1 (if any) worked out."""
    if -1 not in shape:
        return tuple(shape)
    known = int(np.prod([n for n in shape if n != -1]))
    return tuple(size // known if n == -1 else n for n in shape)


def view(x, *shape):
    shape = shape_arguments(shape)
    check_reshape(shape, x._array.size)
    if not _viewable(x._array, _resolved(shape, x._array.size)):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one dimension "
                           "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return Reshape.apply(x, shape=shape)


def reshape(x, *shape):
    shape = shape_arguments(shape)
    check_reshape(shape, x._array.size)
    if x._array.flags.c_contiguous:
        return Reshape.apply(x, shape=shape)
    if _viewable(x._array, _resolved(shape, x._array.size)):  # torch's names for the same step, by memory layout
        return Reshape.apply(x, shape=shape, node_name="ReshapeAliasBackward0")
    return Reshape.apply(Clone.apply(x), shape=shape, node_name="UnsafeViewBackward0")  # torch copies first


def flatten(x, start_dim=0, end_dim=-1):
    start, end = one_dim(start_dim, x.ndim), one_dim(end_dim, x.ndim)  # (a 0-d tensor takes 0 and -1)
    if x.ndim == 0:
        return reshape(x, 1)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return x  # torch returns the tensor itself
    shape = x._array.shape
    return reshape(x, shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:])


def unsqueeze(x, dim):
    axis = one_dim(dim, x.ndim + 1)
    return Reshape.apply(x, shape=x._array.shape[:axis] + (1,) + x._array.shape[axis:], node_name="UnsqueezeBackward0")


def squeeze(x, dim=None):
    shape = x._array.shape
    if dim is None:
        axes, name = [i for i, n in enumerate(shape) if n == 1], "SqueezeBackward0"
    elif isinstance(dim, int):
        axes, name = [one_dim(dim, x.ndim)], "SqueezeBackward1"
    else:
        axes, name = list(compat.dims(dim, x.ndim)), "SqueezeBackward2"
    kept = tuple(n for i, n in enumerate(shape) if not (i in axes and n == 1))
    return Reshape.apply(x, shape=kept, node_name=name)


# --------------------------------------------------------------------------
# Joining tensors
# --------------------------------------------------------------------------


class Cat(Function):
    """``cat(tensors, dim)``: the gradient is cut back into each input's piece."""
    node_name = "CatBackward0"

    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim, ctx.sizes = dim, [a.shape[dim] for a in arrays]
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.split(grad, np.cumsum(ctx.sizes)[:-1], axis=ctx.dim))


class Stack(Function):
    """``stack(tensors, dim)``: each input gets its slice of the gradient along the new axis."""
    node_name = "StackBackward0"

    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        return np.stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.moveaxis(grad, ctx.dim, 0))


def _same_dtype(tensors):
    dtype = result_dtype(*(t._array for t in tensors))
    return [_as_dtype(t, dtype) for t in tensors]


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    first = tensors[0]._array.shape
    axis = one_dim(dim, len(first))
    for i, t in enumerate(tensors[1:], 1):
        shape = t._array.shape
        if len(shape) != len(first):
            raise RuntimeError(f"Tensors must have same number of dimensions: got {len(first)} and {len(shape)}")
        for d, (n, m) in enumerate(zip(first, shape)):
            if d != axis and n != m:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {axis}. Expected size {n} "
                                   f"but got size {m} for tensor number {i} in the list.")
    return Cat.apply(*_same_dtype(tensors), dim=axis)


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    first = tensors[0]._array.shape
    axis = one_dim(dim, len(first) + 1)
    for i, t in enumerate(tensors[1:], 1):
        if t._array.shape != first:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(first)} at entry 0 "
                               f"and {list(t._array.shape)} at entry {i}")
    return Stack.apply(*_same_dtype(tensors), dim=axis)


def where(condition, a, b):
    if condition._array.dtype != np.bool_:
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{compat.TORCH_TYPE_NAMES[condition._array.dtype.name]}")
    dtype = result_dtype(*(v._array if isinstance(v, Tensor) else v for v in (a, b)))
    a, b = (_as_dtype(v, dtype) if isinstance(v, Tensor) else Tensor._make(np.array(v, dtype)) for v in (a, b))
    check_broadcast(condition._array.shape, a._array.shape)
    check_broadcast(np.broadcast_shapes(condition._array.shape, a._array.shape), b._array.shape)
    return Where.apply(a, b, condition=condition._array)


# --------------------------------------------------------------------------
# softmax, log_softmax and the cross-entropy loss (notebook 08; LogSoftmax is in engine.py)
# --------------------------------------------------------------------------

class Softmax(Function):
    """``out = exp(x) / sum(exp(x))`` along ``dim``: probabilities from logits."""
    node_name = "SoftmaxBackward0"

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        out = np.exp(_log_softmax(x, dim))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, = ctx.saved_tensors
        return out * (grad - (grad * out).sum(axis=ctx.dim, keepdims=True))


class NllLoss(Function):
    """The negative log-likelihood: minus the log-probability of each sample's target class,
    averaged (``reduction="mean"``), summed, or one per sample (``"none"``). ``target`` holds
    class indices; it is not an input of the graph."""
    node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, log_probs, target, reduction):
        rows = np.arange(len(target)) if log_probs.ndim == 2 else ()
        ctx.picked, ctx.shape, ctx.reduction = (rows, target), log_probs.shape, reduction
        losses = -log_probs[rows, target] if log_probs.ndim == 2 else -log_probs[target]
        if reduction == "none":
            return losses
        return losses.sum() if reduction == "sum" else losses.mean()

    @staticmethod
    def backward(ctx, grad):
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        count = len(ctx.picked[1]) if ctx.reduction == "mean" and len(ctx.shape) == 2 else 1
        rows, target = ctx.picked
        if len(ctx.shape) == 2:
            full[rows, target] = -grad / count
        else:
            full[target] = -grad
        return full


# -- softmax, log_softmax and the cross-entropy loss (notebook 08); also in nn.functional --

_NO_DIM = object()  # (torch.softmax(x) and torch.softmax(x, None) are different errors)


def softmax(x, dim=_NO_DIM):
    return Softmax.apply(x, dim=_class_dim(x, dim, "softmax"))


def log_softmax(x, dim=_NO_DIM):
    return LogSoftmax.apply(x, dim=_class_dim(x, dim, "log_softmax"))


def nll_loss(input, target, reduction="mean"):  # noqa: A002 - torch's name
    """``input``: log-probabilities, (N, C) or (C,); ``target``: class indices, (N,) or () (or (1,) for a
    (C,) input)."""
    _refuse_non_tensor(target, "nll_loss_nd")
    _check_class_target(input, target._array)
    target = target._array
    if input.ndim == 1 and target.ndim == 1:
        target = target.reshape(())  # its one class index (checked: it has size 1)
    bad = target[(target < 0) | (target >= input.shape[-1])]
    if bad.size:
        raise IndexError(f"Target {int(bad.flat[0])} is out of bounds.")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return NllLoss.apply(input, target=target.astype(np.int64), reduction=reduction)


def _refuse_non_tensor(target, torch_function):
    if not isinstance(target, Tensor):
        raise TypeError(f"{torch_function}(): argument 'target' (position 2) must be Tensor, not "
                        f"{type(target).__name__}")


def _check_class_target(input, target):
    """torch's checks of class indices against (N, C) or (C,) log-probabilities, in its order."""
    if input.ndim == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    if input.ndim != 1 and input.shape[0] != (target.shape[0] if target.ndim else 0):
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0] if target.ndim else 0}).")
    if input.ndim > 2:
        raise NotImplementedError("tinygrad_course's nll_loss takes (N, C) or (C,) inputs only")
    if target.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target.dtype not in (np.int64, np.uint8):
        raise RuntimeError("expected target dtype to be Long or Byte, but got "
                           f"{compat.TORCH_TYPE_NAMES[target.dtype.name]}")
    if input.ndim == 1 and target.ndim == 1 and target.shape[0] != 1:
        raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}")


def _cross_entropy_with_probabilities(input, target, reduction):  # noqa: A002 - torch's name
    """torch's formula: -(log_softmax(input) * target) summed over the classes, the mean taken over the samples."""
    if target._array.dtype.kind != "f":  # (checked before the input is)
        raise RuntimeError("Expected floating point type for target with class probabilities, got "
                           f"{compat.TORCH_TYPE_NAMES[target._array.dtype.name]}")
    log_probs = log_softmax(input, 1 if input.ndim >= 2 else 0)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    terms = log_probs * target
    if reduction == "none":
        return -terms.sum(1 if log_probs.ndim >= 2 else 0)
    total = -terms.sum()
    if reduction == "sum":
        return total
    samples = log_probs._array.size // log_probs.shape[1 if log_probs.ndim >= 2 else 0]
    # torch divides by a number here: its node is DivBackward1 (the number is no input of the graph)
    return _DivideByNumber.apply(total, number=total._array.dtype.type(samples))


class _DivideByNumber(Function):
    node_name = "DivBackward1"

    @staticmethod
    def forward(ctx, x, number):
        ctx.number = number
        return x / number

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.number


def cross_entropy(input, target, reduction="mean"):  # noqa: A002 - torch's name
    """log_softmax over the classes (dim 1, or 0 for a single sample), then nll_loss; a target of the
    input's shape holds class probabilities instead of class indices."""
    _refuse_non_tensor(target, "cross_entropy_loss")
    if target.shape == input.shape:
        return _cross_entropy_with_probabilities(input, target, reduction)
    return nll_loss(log_softmax(input, 1 if input.ndim == 2 else 0), target, reduction=reduction)


def _class_dim(x, dim, name, position=2):
    if dim is _NO_DIM:
        raise TypeError(f'{name}() missing 1 required positional arguments: "dim"')
    if dim is None:
        raise TypeError(f"{name}(): argument 'dim' (position {position}) must be int, not NoneType")
    axis = compat.dims(dim, x.ndim)[0] if x.ndim else None  # a 0-d tensor: its one number is its own class
    if x._array.dtype.kind not in "fc":  # torch has no integer or bool kernel (and names the one it looked for)
        kernel = f"{name}_lastdim_kernel_impl" if axis is None or axis == x.ndim - 1 else f"{name}_kernel_impl"
        raise NotImplementedError(f'"{kernel}" not implemented for \'{compat.TORCH_TYPE_NAMES[x._array.dtype.name]}\'')
    return axis


# as methods too: x.softmax(dim), x.log_softmax(dim) (where torch counts dim as argument 1)
Tensor.softmax = lambda self, dim=_NO_DIM: Softmax.apply(self, dim=_class_dim(self, dim, "softmax", 1))
Tensor.log_softmax = lambda self, dim=_NO_DIM: LogSoftmax.apply(self, dim=_class_dim(self, dim, "log_softmax", 1))


# --------------------------------------------------------------------------
# The methods on Tensor
# --------------------------------------------------------------------------

def _max(self, dim=None, keepdim=False, *, other=None):
    if isinstance(dim, Tensor) or other is not None:  # x.max(y): the elementwise maximum
        return _elementwise(self, dim if other is None else other, "maximum", 1)
    return _extreme(self, dim, keepdim, "max")


def _min(self, dim=None, keepdim=False, *, other=None):
    if isinstance(dim, Tensor) or other is not None:
        return _elementwise(self, dim if other is None else other, "minimum", 1)
    return _extreme(self, dim, keepdim, "min")


def _argmax(self, dim=None, keepdim=False):
    return _arg_tensor(self, dim, keepdim, "max")


def _argmin(self, dim=None, keepdim=False):
    return _arg_tensor(self, dim, keepdim, "min")


Tensor.sqrt = lambda self: Sqrt.apply(self)
Tensor.abs = lambda self: Abs.apply(self)
Tensor.__abs__ = Tensor.abs
Tensor.max, Tensor.min, Tensor.argmax, Tensor.argmin = _max, _min, _argmax, _argmin
Tensor.maximum = lambda self, other: _elementwise(self, other, "maximum", 1)
Tensor.minimum = lambda self, other: _elementwise(self, other, "minimum", 1)
Tensor.T = property(T)
Tensor.t, Tensor.transpose, Tensor.permute = t, transpose, permute
Tensor.view, Tensor.reshape, Tensor.flatten = view, reshape, flatten
Tensor.unsqueeze, Tensor.squeeze = unsqueeze, squeeze


# --------------------------------------------------------------------------
# The torch a learner meets right after the course: conversions, expand/repeat, more
# reductions, masked_fill, clone, closeness tests and item assignment
# --------------------------------------------------------------------------

_C_TYPE_NAMES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
                 "uint8": "unsigned char", "float32": "float", "float64": "double", "float16": "c10::Half"}


def _tensor_type(array):
    """torch's ``torch.FloatTensor{[2, 2]}`` as some of its errors name a tensor."""
    return f"torch.{compat.TORCH_TYPE_NAMES[array.dtype.name]}Tensor{{[{', '.join(map(str, array.shape))}]}}"


def _broadcast_axes(shape, target):
    """The axes of ``target`` that broadcasting ``shape`` to it added or stretched: where a gradient is summed back."""
    lead = len(target) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and target[lead + i] != 1)


# -- conversions: to, double, float, long, int, ... --

class ToCopy(Function):
    """A copy in another dtype; the gradient goes back in the input's own dtype."""
    node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


class ToCopyBackward0(Node):
    def apply(self, grad):
        # (Node.apply hands each gradient on in the dtype that arrived; this one must change it back)
        return (Node.apply(self, grad)[0].astype(self.dtype, copy=False),)


_node_types["ToCopyBackward0"] = ToCopyBackward0


def _to_dtype(x, dtype, copy=False):
    dtype = compat.numpy_dtype(dtype) if isinstance(dtype, str) else np.dtype(dtype)
    if dtype == x._array.dtype and not copy:
        return x  # torch returns the tensor itself
    if dtype.kind not in "fc":  # not differentiable: off the graph
        return Tensor._make(x._array.astype(dtype))
    return ToCopy.apply(x, dtype=dtype)


def _check_device(device):
    name = str(device).split(":")[0]
    if name == "cuda":
        raise AssertionError("Torch not compiled with CUDA enabled")
    if name != "cpu":
        raise RuntimeError(f"PyTorch is not linked with support for {name} devices")


def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
    """``x.to(dtype)``, ``x.to(device)``, ``x.to(device, dtype)``, ``x.to(other)``; the one device is the CPU."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif isinstance(arg, compat.DType | np.dtype | type):
            dtype = arg
        else:
            device = arg
    if device is not None:
        _check_device(device)
    return self if dtype is None and not copy else _to_dtype(self, self.dtype if dtype is None else dtype, copy)


# -- expand and repeat --

class Expand(Function):
    node_name = "ExpandBackward0"

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape, ctx.axes = x.shape, _broadcast_axes(x.shape, shape)
        if math.prod(shape) == x.size:  # repeats nothing: a plain view, writable
            return x.reshape(shape)
        return np.broadcast_to(x, shape)  # read-only where it repeats elements: torch refuses to write there

    @staticmethod
    def backward(ctx, grad):
        return grad.sum(axis=ctx.axes).reshape(ctx.shape)


def expand(x, *sizes):
    sizes, shape = shape_arguments(sizes), x._array.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand({_tensor_type(x._array)}, size=[{', '.join(map(str, sizes))}]): the number of "
                           f"sizes provided ({len(sizes)}) must be greater or equal to the number of dimensions in "
                           f"the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = []
    for d in reversed(range(len(sizes))):  # from the last dim, as torch checks them
        n = sizes[d]
        if d < lead:
            if n < 0:
                raise RuntimeError(f"The expanded size of the tensor ({n}) isn't allowed in a leading, "
                                   f"non-existing dimension {d}")
            target.append(n)
            continue
        have = shape[d - lead]
        if have == 1 and n < -1:  # (torch finds out only when it counts the elements)
            raise RuntimeError("numel: integer multiplication overflow")
        if n != -1 and n != have and (have != 1 or n < 0):
            raise RuntimeError(f"The expanded size of the tensor ({n}) must match the existing size ({have}) at "
                               f"non-singleton dimension {d}.  Target sizes: [{', '.join(map(str, sizes))}].  "
                               f"Tensor sizes: [{', '.join(map(str, shape))}]")
        target.append(have if n == -1 else n)
    return Expand.apply(x, shape=tuple(reversed(target)))


class Repeat(Function):
    """``x.repeat(r0, r1, ...)``: tiles of ``x``; each tile's gradient is added back into ``x``'s."""
    node_name = "RepeatBackward0"

    @staticmethod
    def forward(ctx, x, repeats):
        ctx.shape, ctx.repeats = x.shape, repeats
        return np.tile(x.reshape((1,) * (len(repeats) - x.ndim) + x.shape), repeats)

    @staticmethod
    def backward(ctx, grad):
        padded = (1,) * (len(ctx.repeats) - len(ctx.shape)) + ctx.shape
        split = [n for pair in zip(ctx.repeats, padded) for n in pair]  # (r0, s0, r1, s1, ...)
        return grad.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(ctx.shape)


def repeat(x, *repeats):
    repeats = shape_arguments(repeats)
    if len(repeats) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    padded = (1,) * (len(repeats) - x.ndim) + x._array.shape
    result = [r * n for r, n in zip(repeats, padded)]
    bad = next((n for n in result if n < 0), None)
    if bad is not None:
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: [{', '.join(map(str, result))}]")
    return Repeat.apply(x, repeats=repeats)


# -- reductions beyond sum and mean --

def _floating(x, message):
    if x._array.dtype.kind not in "fc":
        raise RuntimeError(message)


class Var(Function):
    """The variance over ``dim``, divided by ``N - correction``; ``std=True``: its square root."""
    node_name = "VarBackward0"

    @staticmethod
    def forward(ctx, x, dim, correction, keepdim, std):
        wide = x.astype(np.float64)
        ctx.centered = wide - wide.mean(axis=dim, keepdims=True)
        ctx.dim, ctx.keepdim, ctx.std = dim, keepdim, std
        count = x.size if dim is None else int(np.prod([x.shape[d] for d in dim]))  # values per result
        ctx.divisor, ctx.dof = max(0, count - correction), count - correction
        if count - correction <= 0:
            warnings.warn("var(): degrees of freedom is <= 0. Correction should be strictly less than the "
                          "reduction factor (input numel divided by output numel).", UserWarning, stacklevel=5)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = (ctx.centered ** 2).sum(axis=dim, keepdims=True) / ctx.divisor
        ctx.result = np.sqrt(var) if std else var  # with the reduced axes kept, for backward
        out = ctx.result if keepdim else ctx.result.squeeze(axis=dim)
        return out.astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        grad = grad if ctx.keepdim else np.expand_dims(grad, ctx.dim if ctx.dim is not None else
                                                       tuple(range(ctx.centered.ndim)))
        with np.errstate(divide="ignore", invalid="ignore"):
            if ctx.std:  # d sqrt(v) = dv / (2 sqrt(v)); torch sends 0 on where the std is 0
                grad = np.where(ctx.result == 0, 0, grad / (2 * ctx.result))
            if ctx.dim is None and ctx.dof <= 0:  # torch's rule: 2 / 0 is inf, and inf * 0 is nan
                local = np.where(ctx.centered == 0, np.nan, np.inf)
            else:
                local = np.float64(2) / ctx.dof * ctx.centered
            return (grad * local).astype(grad.dtype)


def _var_arguments(dim, unbiased, correction):
    if isinstance(dim, bool):  # x.var(False): the one positional argument is `unbiased`
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


def _var(x, dim, unbiased, keepdim, correction, std):
    _floating(x, "std and var only support floating point and complex dtypes")
    dim, correction = _var_arguments(dim, unbiased, correction)
    axes = compat.dims(dim, x._array.ndim)
    if axes == ():
        axes = None
    name = "StdBackward0" if std else "VarBackward0"
    return Var.apply(x, dim=axes, correction=correction, keepdim=keepdim, std=std, node_name=name)


def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _var(self, dim, unbiased, keepdim, correction, std=False)


def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _var(self, dim, unbiased, keepdim, correction, std=True)


class Prod(Function):
    """The product; each input's gradient is the product of all the others (so zeros are exact)."""

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        ctx.save_for_backward(x)
        return x.prod(axis=dim, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        axis = 0 if ctx.dim is None else ctx.dim
        flat = x.reshape(-1) if ctx.dim is None else x
        ones = np.ones_like(np.take(flat, [0], axis=axis))
        before = np.cumprod(np.concatenate([ones, np.delete(flat, -1, axis=axis)], axis=axis), axis=axis)
        after = np.flip(np.cumprod(np.concatenate([ones, np.delete(np.flip(flat, axis), -1, axis=axis)],
                                                  axis=axis), axis=axis), axis)
        others = (before * after).reshape(ctx.shape)
        if ctx.dim is None:
            return grad * others
        return (grad if ctx.keepdim else np.expand_dims(grad, ctx.dim)) * others


def prod(self, dim=None, keepdim=False, dtype=None):
    x = self if dtype is None else _to_dtype(self, dtype)
    if x._array.dtype.kind in "biu":  # integers multiply as int64, off the graph
        data = x._array.astype(np.int64)
        if dim is None:
            return Tensor._make(np.asarray(data.prod()))
        return Tensor._make(np.asarray(data.prod(axis=one_dim(dim, x.ndim) if x.ndim else None, keepdims=keepdim)))
    if dim is None:
        return Prod.apply(x, dim=None, keepdim=False, node_name="ProdBackward0")
    axis = one_dim(dim, x.ndim) if x.ndim else None
    return Prod.apply(x, dim=axis, keepdim=keepdim, node_name="ProdBackward1")


class Cumsum(Function):
    node_name = "CumsumBackward0"

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return np.cumsum(x, axis=dim, dtype=x.dtype).reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):  # each input counts in every sum from its place on: a sum from the end
        return np.flip(np.cumsum(np.flip(grad, ctx.dim), axis=ctx.dim), ctx.dim).reshape(grad.shape)


def cumsum(self, dim, dtype=None):
    x = self if dtype is None else _to_dtype(self, dtype)
    axis = one_dim(dim, x.ndim) if x.ndim else None
    if x._array.dtype.kind in "biu":
        return Tensor._make(np.cumsum(x._array, axis=axis, dtype=np.int64).reshape(x._array.shape))
    return Cumsum.apply(x, dim=axis)


class Sort(Function):
    """Sorted values; each one's gradient goes back to where it came from."""
    node_name = "SortBackward0"

    @staticmethod
    def forward(ctx, x, indices, dim):
        ctx.shape, ctx.indices, ctx.dim = x.shape, indices, dim
        return np.take_along_axis(x, indices, dim) if x.ndim else x.copy()

    @staticmethod
    def backward(ctx, grad):
        if not ctx.shape:
            return grad
        full = np.zeros(ctx.shape, grad.dtype)
        np.put_along_axis(full, ctx.indices, grad, ctx.dim)
        return full


_RETURN_TYPES["sort"] = _return_type("sort")


def sort(self, dim=-1, descending=False, stable=False):
    data = self._array
    axis = one_dim(dim, data.ndim)
    if data.ndim == 0:
        indices = np.zeros((), np.int64)
    elif descending:  # stable among equals, as torch's: sort the reversed order, then flip back
        flipped = np.flip(data, axis)
        indices = data.shape[axis] - 1 - np.flip(np.argsort(flipped, axis=axis, kind="stable"), axis)
    else:
        indices = np.argsort(data, axis=axis, kind="stable")
    values = Sort.apply(self, indices=indices, dim=axis)
    return _RETURN_TYPES["sort"](values, Tensor._make(np.asarray(indices, np.int64)))


class Norm(Function):
    """``torch.linalg.vector_norm``: ``(sum |x|^p) ^ (1/p)`` over ``dim``; p = inf, -inf and 0 as torch
    defines them (the largest, the smallest |x|, the count of nonzeros)."""
    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, x, p, dim, keepdim):
        ctx.dim, ctx.keepdim, ctx.p = dim, keepdim, p
        size = np.abs(x.astype(np.float64))
        if p == np.inf or p == -np.inf:
            out = (size.max if p > 0 else size.min)(axis=dim, keepdims=True)
        elif p == 0:
            out = (size != 0).sum(axis=dim, keepdims=True).astype(np.float64)
        else:
            out = (size ** p).sum(axis=dim, keepdims=True) ** (1 / p)
        ctx.save_for_backward(x)
        ctx.result = out
        return (out if keepdim else out.squeeze(axis=dim)).astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        grad = grad if ctx.keepdim else np.expand_dims(grad, ctx.dim if ctx.dim is not None else
                                                       tuple(range(x.ndim)))
        wide, norm, p = x.astype(np.float64), ctx.result, ctx.p
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:  # a count of nonzeros: flat (torch sends no gradient at all; the backward pass here
                local = np.zeros_like(wide)  # expects one from every edge, so it sends zeros)
            elif p == np.inf or p == -np.inf:  # shared among the entries that reach the extreme
                hits = np.abs(wide) == norm
                local = np.sign(wide) * hits / hits.sum(axis=ctx.dim, keepdims=True)
            elif p == 1:
                local = np.sign(wide)
            else:  # x |x|^(p-2) / norm^(p-1); torch gives 0 where the norm is 0
                local = np.where(norm == 0, 0, wide * np.abs(wide) ** (p - 2) / norm ** (p - 1))
            return (grad * local).astype(grad.dtype)


def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
    x = self if dtype is None else _to_dtype(self, dtype)
    if x._array.dtype.kind not in "fc":
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{compat.TORCH_TYPE_NAMES[x._array.dtype.name]}")
    if p == "fro":
        p = 2
    elif isinstance(p, str):
        raise NotImplementedError(f"torch.norm with p={p!r} (a matrix norm): tinygrad_course has vector norms only")
    axes = compat.dims(dim, x._array.ndim)
    return Norm.apply(x, p=float(p), dim=axes or None, keepdim=keepdim)


# -- masked_fill and clone --

class MaskedFill(Function):
    node_name = "MaskedFillBackward0"

    @staticmethod
    def forward(ctx, x, mask, value):
        out = np.where(mask, x.dtype.type(value), x)
        ctx.mask, ctx.shape, ctx.axes = mask, x.shape, _broadcast_axes(x.shape, out.shape)
        return out

    @staticmethod
    def backward(ctx, grad):
        return np.where(ctx.mask, np.zeros((), grad.dtype), grad).sum(axis=ctx.axes).reshape(ctx.shape)


class MaskedFillTensor(Function):
    """``masked_fill`` with a 0-d tensor as the value: the value gets the gradient of every place it filled."""
    node_name = "MaskedFillBackward1"

    @staticmethod
    def forward(ctx, x, value, mask):
        out = np.where(mask, value, x)
        ctx.mask, ctx.shape, ctx.axes = mask, x.shape, _broadcast_axes(x.shape, out.shape)
        return out

    @staticmethod
    def backward(ctx, grad):
        zero = np.zeros((), grad.dtype)
        into_x = np.where(ctx.mask, zero, grad).sum(axis=ctx.axes).reshape(ctx.shape)
        return into_x, np.where(ctx.mask, grad, zero).sum()


def masked_fill(self, mask, value):
    if mask._array.dtype != np.bool_:
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{_C_TYPE_NAMES[mask._array.dtype.name]}")
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value.ndim} dimension(s).")
    check_broadcast(self._array.shape, mask._array.shape)
    if isinstance(value, Tensor):
        return MaskedFillTensor.apply(self, _as_dtype(value, self._array.dtype), mask=mask._array)
    return MaskedFill.apply(self, mask=mask._array, value=value)


def masked_fill_(self, mask, value):
    shape = np.broadcast_shapes(self._array.shape, mask._array.shape)
    if shape != self._array.shape:
        raise RuntimeError(compat.wider_than_output(self._array.shape, shape))
    return self._in_place(masked_fill(self, mask, value))


def clone(self, memory_format=None):
    return Clone.apply(self)


def iterate(self):
    """``for row in x``: ``x.unbind()``, as in torch."""
    if self._array.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return iter(unbind(self))


def contiguous(self, memory_format=None):
    """This tensor if its memory is in row-major order already, else a row-major copy (``CloneBackward0``),
    which ``view`` can then reshape."""
    return self if self._array.flags.c_contiguous else Clone.apply(self, order="C")


# -- closeness: isclose, allclose, equal --

def _check_same_dtype(a, b):
    if a._array.dtype != b._array.dtype:
        names = compat.TORCH_TYPE_NAMES
        raise RuntimeError(f"{names[a._array.dtype.name]} did not match {names[b._array.dtype.name]}")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002 - torch's name
    """``|input - other| <= atol + rtol * |other|``, elementwise, as a bool tensor."""
    _check_same_dtype(input, other)
    check_broadcast(input._array.shape, other._array.shape)
    return Tensor._make(np.asarray(np.isclose(input._array, other._array, rtol=rtol, atol=atol, equal_nan=equal_nan)))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002 - torch's name
    return bool(isclose(input, other, rtol, atol, equal_nan)._array.all())


def equal(input, other):  # noqa: A002 - torch's name
    """The same shape and the same values (of any dtypes)."""
    return input._array.shape == other._array.shape and bool((input._array == other._array).all())


# -- item assignment: t[i] = v --

def _broadcasts_to(shape, target):
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


class CopySlices(Function):
    """``t[index] = value`` on a tensor the graph records (``IndexPutBackward0`` for an index of tensors,
    lists or a mask): ``t``'s old values at ``index`` no longer matter (gradient 0 there), and ``value``
    gets the gradient of the places it went to."""
    node_name = "CopySlices"

    @staticmethod
    def forward(ctx, x, value, index):
        ctx.index, ctx.value_shape = index, value.shape
        ctx.axes = _broadcast_axes(value.shape, x[index].shape)
        out = x.copy()
        out[index] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        into = grad.copy()
        into[ctx.index] = 0
        picked = grad[ctx.index]  # (summed only where the value was broadcast: a sum turns -0 into 0)
        return into, (picked.sum(axis=ctx.axes) if ctx.axes else picked).reshape(ctx.value_shape)


def _places(base, view):
    """Where each element of ``view`` (a numpy view of ``base``'s memory) sits in ``base`` (which owns that
    memory, in C order): an index into ``base``, as torch's ``as_strided`` describes a view."""
    step = base.itemsize
    start = (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // step
    flat = np.arange(base.size)
    strides = [stride // step * flat.itemsize for stride in view.strides]
    places = np.lib.stride_tricks.as_strided(flat[start:], view.shape, strides)
    return np.unravel_index(places, base.shape)


class ThroughView(Function):
    """torch's ``CopySlices`` around an in-place op on a view (``ctx.inner``, that op's node): the base's gradient
    passes unchanged, except at the view's places (``ctx.index``), where the op's node turns it into the
    gradient of the view's old values; the op's other inputs get theirs from it too."""

    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors  # noqa: B018 - refused once freed, as any node's: a second backward needs retain_graph
        into = grad.copy()
        old, *others = ctx.inner.apply(grad[ctx.index])
        into[ctx.index] = 0 if old is None else old
        return (into, *others)


def write_through_view(view, value):
    """``view`` is changed in place to ``value``, which the graph records (its node's first input is the view's
    old value). As in torch, its base's history now ends in ``CopySlices`` around that node, and every view
    of the base, this one included, reads its values from there (``AsStridedBackward0``)."""
    base, inner = view._view_base, value.grad_fn
    node = _node_type("CopySlices")(ThroughView, [base._array.shape, *inner.input_shapes[1:]])
    node.inner, node.index = inner, _places(base._array, view._array)
    node.next_functions = ((base._gradient_edge(), 0), *inner.next_functions[1:])
    node.save_for_backward(base._array)
    base.grad_fn, base._requires_grad = node, True


def refresh_views(base):
    """``base``'s memory changed in place: its views now come from its history as it is now, as torch regenerates
    them."""
    with enable_grad():
        for view in list(base._views.values()):
            places = _places(base._array, view._array)
            view.grad_fn = node = Index.apply(base, index=places, node_name="AsStridedBackward0").grad_fn
            # each place once (a view that repeats one, expand's, is read-only): backward copies the gradient
            # back, as torch's does, rather than adding it to zeros (0 + -0 would lose the sign)
            node.view = view._array.flags.writeable
            view._requires_grad = True


def setitem(self, index, value):
    """Writes into this tensor's own memory (so its views and its ``detach()`` see the change), and
    counts as an in-place change of that memory (``_version``)."""
    index = compat.plain_index(index)
    index = compat.bytes_as_masks(index, fill=not isinstance(value, Tensor) or value._array.size == 1)
    if self.requires_grad and self.is_leaf and is_grad_enabled():
        raise RuntimeError(compat.LEAF_VIEW_IN_PLACE)
    value = value if isinstance(value, Tensor) else Tensor._make(np.asarray(value, self._array.dtype))
    value = _as_dtype(value, self._array.dtype)
    written = self._array[index]
    target = written.shape
    if written.base is not None:  # a slice, not a copy picked by tensors or masks
        compat.refuse_partial_overlap(written, value._array)
    advanced = compat.index_node_name(index) == "IndexBackward0"  # by tensors, lists or masks: torch's index_put
    if getattr(self, "_multi_view", None) and not advanced and self.requires_grad and is_grad_enabled():
        # torch writes through a view of it (x[0] = v is x.select(0, 0).copy_(v)): that view is refused
        raise RuntimeError(compat.multi_view_in_place(f"Output 0 of {compat.index_node_name(index)[:-9]}"))
    if not advanced:
        expand(Tensor._make(value._array), *target)  # torch copies the value in by expanding it: its errors
    elif not _broadcasts_to(value._array.shape, target):
        raise RuntimeError(f"shape mismatch: value tensor of shape [{', '.join(map(str, value._array.shape))}] cannot "
                           f"be broadcast to indexing result of shape [{', '.join(map(str, target))}]")
    if is_grad_enabled() and (self.requires_grad or value.requires_grad):
        self._in_place(CopySlices.apply(self, value, index=index,
                                        node_name="IndexPutBackward0" if advanced else "CopySlices"))
        return
    self._check_in_place(filled_by=None)
    self._array[index] = value._array


Tensor.to = to
Tensor.double = lambda self: _to_dtype(self, np.float64)
Tensor.float = lambda self: _to_dtype(self, np.float32)
Tensor.half = lambda self: _to_dtype(self, np.float16)
Tensor.long = lambda self: _to_dtype(self, np.int64)
Tensor.int = lambda self: _to_dtype(self, np.int32)
Tensor.bool = lambda self: _to_dtype(self, np.bool_)
Tensor.expand, Tensor.repeat = expand, repeat
Tensor.var, Tensor.std, Tensor.prod, Tensor.cumsum, Tensor.sort, Tensor.norm = var, std, prod, cumsum, sort, norm
Tensor.masked_fill, Tensor.masked_fill_, Tensor.clone = masked_fill, masked_fill_, clone
Tensor.isclose, Tensor.allclose, Tensor.equal = isclose, allclose, equal
Tensor.__setitem__ = setitem
# engine.py cannot import this module (it imports engine.py): it finds these two on Tensor
Tensor._write_through_view, Tensor._refresh_views = write_through_view, staticmethod(refresh_views)


_clamp_by_numbers = Tensor.clamp


def clamp(self, min=None, max=None):  # noqa: A002 - torch's names
    """Clamp by numbers (engine.py's). A one-number tensor that records no gradient passes for a number beside a
    number, as torch's argument parser lets it."""
    bounds = (min, max)
    tensors = [b for b in bounds if isinstance(b, Tensor)]
    if not tensors:
        return _clamp_by_numbers(self, min, max)
    if len(tensors) < len([b for b in bounds if b is not None]):  # a tensor and a number
        if [t for t in tensors if t._array.ndim or t.requires_grad]:  # (any() here is torch's)
            raise TypeError(compat.clamp_arguments_error(min, max))
        return _clamp_by_numbers(self, *[b.item() if isinstance(b, Tensor) else b for b in bounds])
    # torch's clamp by tensors is left out on purpose: its gradient rule would be notebook 03's clamp_backward
    raise NotImplementedError("clamp with tensors for bounds: tinygrad_course's clamp takes numbers (its gradient is "
                              "notebook 03's exercise clamp_backward); torch.maximum(x, low) and torch.minimum(x, "
                              "high) give the same values")


Tensor.clamp = clamp


def _in_place_version(name):
    """``x.exp_()`` and the like: ``x.exp()`` written into x's own memory (torch's node is the same, ExpBackward0)."""
    def method(self, *args, **kwargs):
        for other in (*args, *kwargs.values()):  # (here, not in _in_place: an engine.py of an earlier release
            if isinstance(other, Tensor):        # takes the result alone)
                compat.refuse_partial_overlap(self._array, other._array)
        return self._in_place(getattr(self, name)(*args, **kwargs))
    method.__name__ = method.__qualname__ = f"{name}_"
    return method


for _name in ("abs", "clamp", "cos", "exp", "log", "neg", "pow", "relu", "sigmoid", "sign", "sin", "sqrt", "square",
              "tanh"):
    setattr(Tensor, f"{_name}_", _in_place_version(_name))
Tensor.clip, Tensor.clip_ = Tensor.clamp, Tensor.clamp_


# --------------------------------------------------------------------------
# The products by name (mm, mv, dot, bmm), amax/amin, flip, and pieces of a tensor (chunk, split, unbind)
# --------------------------------------------------------------------------

def _product(a, b, name, node_name):
    """``a @ b`` where the rank is part of the name: torch's refusals of any other rank, in its words."""
    (x, y), (m, n) = (a._array.shape, b._array.shape), (a._array.ndim, b._array.ndim)
    if name == "mm":
        if m != 2 or n != 2:
            raise RuntimeError("self must be a matrix" if m != 2 else "mat2 must be a matrix")
        if x[1] != y[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({x[0]}x{x[1]} and {y[0]}x{y[1]})")
    elif name == "mv":
        if m != 2 or n != 1:
            raise RuntimeError(f"vector + matrix @ vector expected, got 1, {m}, {n}")
        if x[1] != y[0]:
            raise RuntimeError(f"size mismatch, got input ({x[0]}), mat ({x[0]}x{x[1]}), vec ({y[0]})")
    elif name == "dot":
        if m != 1 or n != 1:
            raise RuntimeError(f"1D tensors expected, but got {m}D and {n}D tensors")
        compat.check_matmul_dtypes(a._array, b._array)
        compat.check_matmul(x, y)
    else:  # bmm
        for which, rank in (("batch1", m), ("batch2", n)):
            if rank != 3:
                raise RuntimeError(f"{which} must be a 3D tensor")
        if y[:2] != (x[0], x[2]):
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{x[0]}, {x[2]}] "
                               f"but got: [{y[0]}, {y[1]}].")
    compat.check_matmul_dtypes(a._array, b._array)
    return MatMul.apply(a, b, node_name=node_name)


def mm(input, mat2):  # noqa: A002 - torch's names
    return _product(input, mat2, "mm", "MmBackward0")


def mv(input, vec):  # noqa: A002
    return _product(input, vec, "mv", "MvBackward0")


def dot(input, tensor):  # noqa: A002
    return _product(input, tensor, "dot", "DotBackward0")


def bmm(input, mat2):  # noqa: A002
    return _product(input, mat2, "bmm", "BmmBackward0")


class ExtremeOver(Function):
    """``x.amax(dim)`` / ``x.amin(dim)``: unlike ``max(dim)``, which picks one index, the gradient is shared
    evenly among the ties of each reduced slice (torch's ``AmaxBackward0``)."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, largest):
        kept = x.max(axis=dim, keepdims=True) if largest else x.min(axis=dim, keepdims=True)
        ctx.save_for_backward(x, kept)
        ctx.dim, ctx.keepdim = dim, keepdim
        return kept if keepdim else np.squeeze(kept, dim)

    @staticmethod
    def backward(ctx, grad):
        x, kept = ctx.saved_tensors
        hits = x == kept
        grad = grad if ctx.keepdim else np.expand_dims(grad, ctx.dim)
        with np.errstate(divide="ignore", invalid="ignore"):  # a slice holding nan has no hits: nan, as torch
            return grad / hits.sum(axis=ctx.dim, keepdims=True) * hits  # (torch's product: -0 where grad < 0)


def _extreme_over(x, dim, keepdim, largest):
    axes = compat.reduced_dims(dim, x._array.ndim)
    if x._array.size == 0:
        raise RuntimeError(f"{'amax' if largest else 'amin'}(): Expected reduction dim to be specified for "
                         "input.numel() == 0. Specify the reduction dim with the 'dim' argument.")
    return ExtremeOver.apply(x, dim=axes, keepdim=keepdim, largest=largest,
                             node_name="AmaxBackward0" if largest else "AminBackward0")


def amax(input, dim=(), keepdim=False):  # noqa: A002 - torch's name
    return _extreme_over(input, dim, keepdim, True)


def amin(input, dim=(), keepdim=False):  # noqa: A002
    return _extreme_over(input, dim, keepdim, False)


class Flip(Function):
    node_name = "FlipBackward0"

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return np.flip(x, dims).copy()  # torch's flip is a copy (numpy's, a view with negative steps)

    @staticmethod
    def backward(ctx, grad):
        return np.flip(grad, ctx.dims)


def flip(input, *dims):  # noqa: A002 - torch's name
    return Flip.apply(input, dims=compat.dims(shape_arguments(dims), input._array.ndim))


def _pieces(x, dim, bounds, node_name):
    """Views of ``x`` between consecutive ``bounds`` along ``dim``, each its own node ``node_name`` (torch's
    pieces share one)."""
    axis = one_dim(dim, x._array.ndim)
    of_leaf = x._requires_grad and x.grad_fn is None
    pieces = []
    for start, stop in zip(bounds, bounds[1:]):
        pieces.append(Index.apply(x, index=(slice(None),) * axis + (slice(start, stop),), node_name=node_name))
    return _several_views(pieces, of_leaf)


def _several_views(pieces, of_leaf):
    """Views one op returns together: torch refuses to change a recorded one in place."""
    for i, piece in enumerate(pieces):
        if of_leaf:
            piece._view_of_leaf = True  # changing it in place would change the leaf: refused, as in torch
        if piece.grad_fn is not None:
            piece._multi_view = f"Output {i} of {piece.grad_fn.name().removesuffix('Backward0')}"
    return tuple(pieces)


def split(tensor, split_size_or_sections, dim=0):
    size = tensor._array.shape[one_dim(dim, tensor._array.ndim)]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step == 0 and size:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}")
        return _pieces(tensor, dim, [*range(0, size, step or 1), size], "SplitBackward0")
    sections = list(split_size_or_sections)
    if sum(sections) != size:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at "
                           f"dimension {one_dim(dim, tensor._array.ndim)}), but got split_sizes={sections}")
    return _pieces(tensor, dim, [0, *itertools.accumulate(sections)], "SplitWithSizesBackward0")


def chunk(input, chunks, dim=0):  # noqa: A002 - torch's name
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = input._array.shape[one_dim(dim, input._array.ndim)]
    return split(input, -(-size // chunks), dim)  # torch's chunk: pieces of ceil(size / chunks)


def unbind(input, dim=0):  # noqa: A002 - torch's name
    axis = one_dim(dim, input._array.ndim)
    of_leaf = input._requires_grad and input.grad_fn is None
    pieces = [Index.apply(input, index=(slice(None),) * axis + (i,), node_name="UnbindBackward0")
              for i in range(input._array.shape[axis])]
    return _several_views(pieces, of_leaf)


Tensor.mm, Tensor.mv, Tensor.dot, Tensor.bmm, Tensor.amax, Tensor.amin = mm, mv, dot, bmm, amax, amin
Tensor.flip, Tensor.split, Tensor.chunk, Tensor.unbind = flip, split, chunk, unbind
Tensor.expand_as = lambda self, other: self.expand(*other.shape)


# --------------------------------------------------------------------------
# Everyday names learners type: arithmetic as methods, sign, nan and truth tests, no-op conversions
# --------------------------------------------------------------------------

class Sign(Function):
    """-1, 0 or 1: flat everywhere, so its gradient is zero (torch's ``SignBackward0``)."""
    node_name = "SignBackward0"

    @staticmethod
    def forward(ctx, x):
        return x.copy() if x.dtype == np.bool_ else np.sign(x)  # (a bool is its own sign)

    @staticmethod
    def backward(ctx, grad):
        return np.zeros_like(grad)


def add(input, other, *, alpha=1):  # noqa: A002 - torch's name
    if not isinstance(input, Tensor):  # torch.add(2, x): a number first
        return input + other * alpha if alpha != 1 else input + other
    return add_scaled(input, other, alpha)  # (with alpha: rounded once, as torch's fused kernel)


def sub(input, other, *, alpha=1):  # noqa: A002 - torch's name
    if not isinstance(input, Tensor):
        return input - other * alpha if alpha != 1 else input - other
    return add_scaled(input, other, alpha, subtract=True)


def mul(input, other):  # noqa: A002 - torch's name
    return input * other


class DivRounded(Function):
    """``div(a, b, rounding_mode='trunc' | 'floor')``: a step function, so torch's derivative is 0 (for
    both inputs, wherever it is defined)."""
    node_name = "DivBackward2"

    @staticmethod
    def forward(ctx, a, b, mode):
        ctx.shapes = a.shape, b.shape
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # x / 0 is inf or nan, as in torch
            if mode == "floor":
                return np.floor_divide(a, b)  # numpy's rounding is torch's (a floored fmod quotient)
            if a.dtype.kind == "f" or b.dtype.kind == "f":
                return np.trunc(a / b).astype(np.result_type(a, b))
            quotient = np.floor_divide(a, b)  # integers: floor, then one up where it rounded away from 0
            return quotient + ((np.remainder(a, b) != 0) & ((a < 0) != (b < 0)))

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.zeros(shape, grad.dtype) for shape in ctx.shapes)


def div(input, other, *, rounding_mode=None):  # noqa: A002 - torch's name
    if rounding_mode is None:
        return input / other
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")
    reflected = not isinstance(input, Tensor)  # torch.div(7, x, ...): a number first
    x, number = (other, input) if reflected else (input, other)
    if not isinstance(x, Tensor) or not isinstance(number, Tensor | bool | int | float):
        raise TypeError(_DIV_ARGUMENTS.format(*(type(arg).__name__ for arg in (input, other))))
    a, b = _pair(x, number)
    top, bottom = (b, a) if reflected else (a, b)
    refuse_division(top, bottom, f"div_{rounding_mode}_cpu")
    return DivRounded.apply(top, bottom, mode=rounding_mode)


_DIV_ARGUMENTS = ("div() received an invalid combination of arguments - got ({}, {}, rounding_mode=str), but "
                  "expected one of:\n * (Tensor input, Tensor other, *, Tensor out = None)\n * (Tensor input, "
                  "Tensor other, *, str rounding_mode, Tensor out = None)\n * (Tensor input, Number other, *, "
                  "str rounding_mode)\n")


def div_(self, other, *, rounding_mode=None):
    if isinstance(other, Tensor):
        compat.refuse_partial_overlap(self._array, other._array)
    return self._in_place(div(self, other, rounding_mode=rounding_mode))


def neg(input):  # noqa: A002 - torch's name
    return -input


def square(input):  # noqa: A002 - torch's name
    return input ** 2  # torch's node is PowBackward0 too


def sign(input):  # noqa: A002 - torch's name
    return Sign.apply(input)


def isnan(input):  # noqa: A002 - torch's name
    return Tensor._make(np.isnan(input._array))


def _truth(reduce):
    def test(input, dim=None, keepdim=False):  # noqa: A002 - torch's name
        axis = None if dim is None else one_dim(dim, input.ndim)
        return Tensor._make(np.asarray(reduce(input._array, axis=axis, keepdims=keepdim and dim is not None)))
    return test


any, all = _truth(np.any), _truth(np.all)  # noqa: A001 - torch's names


Tensor.add, Tensor.sub, Tensor.mul, Tensor.div, Tensor.neg, Tensor.square = add, sub, mul, div, neg, square
Tensor.div_ = div_
Tensor.sign, Tensor.isnan, Tensor.any, Tensor.all = sign, isnan, any, all
Tensor.cpu = lambda self: self  # (the only device here)
Tensor.contiguous, Tensor.__iter__ = contiguous, iterate
Tensor.is_contiguous = lambda self, memory_format=None: bool(self._array.flags.c_contiguous)
Tensor.is_floating_point = lambda self: self._array.dtype.kind == "f"
Tensor.view_as = lambda self, other: view(self, *other.shape)
