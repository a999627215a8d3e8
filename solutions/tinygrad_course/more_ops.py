"""Everyday torch beyond the tutorial: sqrt, abs, max/min, argmax, views (T, transpose, view,
flatten, squeeze, unsqueeze, reshape), stack, cat, where; softmax and the cross-entropy loss.

Each operation is a ``Function`` in the same shape as those in engine.py: ``forward`` on arrays,
``backward`` from the output's gradient to one gradient per input. The end of the file adds
them to ``Tensor`` as methods.
"""

import warnings
from collections import namedtuple

import numpy as np

from . import compat
from .compat import check_broadcast, check_reshape, one_dim, result_dtype, shape_arguments
from .engine import Function, LogSoftmax, Reshape, Tensor, _as_dtype, _log_softmax, accurately

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


def _return_type(name):
    fields = namedtuple(name, ["values", "indices"])
    fields.__repr__ = lambda self: f"torch.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    return fields


_RETURN_TYPES = {"max": _return_type("max"), "min": _return_type("min")}


def _extreme(x, dim, keepdim, name):
    data = x.data
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
    data = x.data
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
    def forward(ctx, x):
        return x.copy()

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
    check_reshape(shape, x.data.size)
    if not _viewable(x.data, _resolved(shape, x.data.size)):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one dimension "
                           "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return Reshape.apply(x, shape=shape)


def reshape(x, *shape):
    shape = shape_arguments(shape)
    check_reshape(shape, x.data.size)
    if x.data.flags.c_contiguous:
        return Reshape.apply(x, shape=shape)
    if _viewable(x.data, _resolved(shape, x.data.size)):  # torch's names for the same step, by memory layout
        return Reshape.apply(x, shape=shape, node_name="ReshapeAliasBackward0")
    return Reshape.apply(Clone.apply(x), shape=shape, node_name="UnsafeViewBackward0")  # torch copies first


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = one_dim(start_dim, x.ndim), one_dim(end_dim, x.ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return x  # torch returns the tensor itself
    shape = x.data.shape
    return reshape(x, shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:])


def unsqueeze(x, dim):
    axis = one_dim(dim, x.ndim + 1)
    return Reshape.apply(x, shape=x.data.shape[:axis] + (1,) + x.data.shape[axis:], node_name="UnsqueezeBackward0")


def squeeze(x, dim=None):
    shape = x.data.shape
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
    dtype = result_dtype(*(t.data for t in tensors))
    return [_as_dtype(t, dtype) for t in tensors]


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    first = tensors[0].data.shape
    axis = one_dim(dim, len(first))
    for i, t in enumerate(tensors[1:], 1):
        shape = t.data.shape
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
    first = tensors[0].data.shape
    axis = one_dim(dim, len(first) + 1)
    for i, t in enumerate(tensors[1:], 1):
        if t.data.shape != first:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(first)} at entry 0 "
                               f"and {list(t.data.shape)} at entry {i}")
    return Stack.apply(*_same_dtype(tensors), dim=axis)


def where(condition, a, b):
    if condition.data.dtype != np.bool_:
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{compat.TORCH_TYPE_NAMES[condition.data.dtype.name]}")
    dtype = result_dtype(*(v.data if isinstance(v, Tensor) else v for v in (a, b)))
    a, b = (_as_dtype(v, dtype) if isinstance(v, Tensor) else Tensor._make(np.array(v, dtype)) for v in (a, b))
    check_broadcast(condition.data.shape, a.data.shape)
    check_broadcast(np.broadcast_shapes(condition.data.shape, a.data.shape), b.data.shape)
    return Where.apply(a, b, condition=condition.data)


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

def softmax(x, dim):
    return Softmax.apply(x, dim=_class_dim(x, dim))


def log_softmax(x, dim):
    return LogSoftmax.apply(x, dim=_class_dim(x, dim))


def nll_loss(input, target, reduction="mean"):  # noqa: A002 - torch's name
    """``input``: log-probabilities, (N, C) or (C,); ``target``: class indices, (N,) or ()."""
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    if target.dtype.kind not in "iu":
        found = compat.TORCH_TYPE_NAMES.get(target.dtype.name, "Float")
        raise RuntimeError(f"expected scalar type Long but found {found}")
    if input.ndim not in (1, 2) or target.ndim != input.ndim - 1 or (input.ndim == 2 and
                                                                     len(target) != input.shape[0]):
        raise ValueError(f"Expected input batch_size ({input.shape[0] if input.ndim == 2 else 1}) to match "
                         f"target batch_size ({target.shape[0] if target.ndim else 1}).")
    bad = target[(target < 0) | (target >= input.shape[-1])]
    if bad.size:
        raise IndexError(f"Target {int(bad.flat[0])} is out of bounds.")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return NllLoss.apply(input, target=target, reduction=reduction)


def cross_entropy(input, target, reduction="mean"):  # noqa: A002 - torch's name
    """log_softmax over the classes (dim 1, or 0 for a single sample), then nll_loss."""
    return nll_loss(log_softmax(input, 1 if input.ndim == 2 else 0), target, reduction=reduction)


def _class_dim(x, dim):
    if dim is None:
        raise TypeError("softmax() missing 1 required positional argument: 'dim'")
    return compat.dims(dim, x.ndim)[0] if x.ndim else None  # a 0-d tensor: its one number is its own class


Tensor.softmax = softmax  # as methods too: x.softmax(dim), x.log_softmax(dim)
Tensor.log_softmax = log_softmax


# --------------------------------------------------------------------------
# The methods on Tensor
# --------------------------------------------------------------------------

def _max(self, dim=None, keepdim=False):
    return _extreme(self, dim, keepdim, "max")


def _min(self, dim=None, keepdim=False):
    return _extreme(self, dim, keepdim, "min")


def _argmax(self, dim=None, keepdim=False):
    return _arg_tensor(self, dim, keepdim, "max")


def _argmin(self, dim=None, keepdim=False):
    return _arg_tensor(self, dim, keepdim, "min")


Tensor.sqrt = lambda self: Sqrt.apply(self)
Tensor.abs = lambda self: Abs.apply(self)
Tensor.__abs__ = Tensor.abs
Tensor.max, Tensor.min, Tensor.argmax, Tensor.argmin = _max, _min, _argmax, _argmin
Tensor.T = property(T)
Tensor.t, Tensor.transpose, Tensor.permute = t, transpose, permute
Tensor.view, Tensor.reshape, Tensor.flatten = view, reshape, flatten
Tensor.unsqueeze, Tensor.squeeze = unsqueeze, squeeze
