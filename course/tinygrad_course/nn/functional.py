"""``torch.nn.functional``: activations and losses, each a ``Function`` (or a tensor method).

Add a function here as a module-level ``def`` with torch's name and signature; losses share
``_reduce`` (torch's ``reduction=`` argument) and ``_check_target_size``.
"""

import math
import numbers
import warnings

import numpy as np

from .. import more_ops
from ..compat import TORCH_TYPE_NAMES, TWO_BOOL_SUBTRACTION, _promote, check_broadcast, size_text
from ..engine import Function, Softplus, _pair, accurately
from ..more_ops import cross_entropy, nll_loss  # noqa: F401

# -- activations --


def relu(input):
    return input.relu()


def sigmoid(input):
    return input.sigmoid()


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return more_ops.softmax(_as(input, dtype), _implicit_dim("softmax", input) if dim is None else dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return more_ops.log_softmax(_as(input, dtype), _implicit_dim("log_softmax", input) if dim is None else dim)


def _as(input, dtype):
    return input if dtype is None else input.to(dtype)


def _implicit_dim(name, input):
    """torch's old guess at the class dim (0 for 0-, 1- and 3-d inputs, else 1), with its warning."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as "
                  "an argument.", UserWarning, stacklevel=3)
    return 0 if input.ndim in (0, 1, 3) else 1


def tanh(input):
    return input.tanh()


_NEGATIVE_SLOPE_IN_PLACE = (
    "In-place leakyReLu backward calculation is triggered with a negative slope which is not supported. This is "
    "caused by calling in-place forward function with a negative slope, please call out-of-place version instead. "
    "File an issue at https://github.com/pytorch/pytorch if you do require supporting in-place leakRelu backward "
    "calculation with negative slope")


class LeakyRelu(Function):
    """``x`` where ``x > 0``, else ``negative_slope * x``; the gradient at 0 is ``negative_slope``, as torch's.
    The slope is taken in the input's dtype (float16 is worked in float32, as torch's kernel does). In place
    (``LeakyReluBackward1``) the gradient is read off the output, which a negative slope would not allow."""
    node_name = "LeakyReluBackward0"

    @staticmethod
    def forward(ctx, x, negative_slope, in_place):
        if x.dtype.kind != "f":
            raise NotImplementedError(f'"leaky_relu_cpu" not implemented for \'{_type_name(x)}\'')
        work = np.float32 if x.dtype == np.float16 else x.dtype.type
        ctx.slope, ctx.in_place, ctx.work = work(negative_slope), in_place, work
        out = np.where(x > 0, x, (x.astype(work) * ctx.slope).astype(x.dtype))
        ctx.save_for_backward(out if in_place else x)
        return out

    @staticmethod
    def backward(ctx, grad):
        kept, = ctx.saved_tensors
        if ctx.in_place and ctx.slope < 0:
            raise RuntimeError(_NEGATIVE_SLOPE_IN_PLACE)
        return np.where(kept > 0, grad, (grad.astype(ctx.work) * ctx.slope).astype(grad.dtype))


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002 - torch's name
    if not isinstance(negative_slope, numbers.Number):
        raise TypeError(f"leaky_relu(): argument 'negative_slope' (position 2) must be Number, not "
                        f"{type(negative_slope).__name__}")
    if not inplace:
        return LeakyRelu.apply(input, negative_slope=negative_slope, in_place=False)
    return input._in_place(LeakyRelu.apply(input, negative_slope=negative_slope, in_place=True,
                                           node_name="LeakyReluBackward1"))


def softplus(input, beta=1.0, threshold=20.0):
    return Softplus.apply(input, beta=beta, threshold=threshold)


# -- losses --

_REDUCTIONS = ("mean", "sum", "none")


def _reduction(reduction):
    """torch's ``_Reduction.get_enum``: the reduction's name (``elementwise_mean``, old, is ``mean`` with a warning)."""
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                      UserWarning, stacklevel=3)
        return "mean"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def legacy_reduction(size_average, reduce):
    """torch's ``_Reduction.legacy_get_string``: the reduction the old ``size_average=``/``reduce=`` flags meant."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
                  UserWarning, stacklevel=3)
    return reduction


def _reduce(loss, reduction):
    """The elementwise ``loss`` array reduced as ``reduction`` says."""
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


class MseLoss(Function):
    node_name = "MseLossBackward0"

    @staticmethod
    def forward(ctx, input, target, reduction):
        ctx.save_for_backward(input, target)
        ctx.reduction = reduction
        difference = input - target
        return _reduce(difference * difference, reduction)

    @staticmethod
    def backward(ctx, grad):
        input, target = ctx.saved_tensors
        # as torch: norm * (input - target) * grad, norm = 2 (2 / n for the mean) in the input's dtype
        count = math.prod(np.broadcast_shapes(input.shape, target.shape))
        norm = input.dtype.type(2 / count if ctx.reduction == "mean" else 2)
        return norm * (input - target) * grad, norm * (target - input) * grad


def _check_target_size(input, target, error):
    if target.shape == input.shape:
        return
    words = (f"Using a target size ({size_text(target.shape)}) that is different to the input size "
             f"({size_text(input.shape)})")
    if error:
        raise ValueError(f"{words} is deprecated. Please ensure they have the same size.")
    warnings.warn(f"{words}. This will likely lead to incorrect results due to broadcasting. Please ensure they "
                  "have the same size.", UserWarning, stacklevel=3)


def _type_name(array):
    return TORCH_TYPE_NAMES[array.dtype.name]


def mse_loss(input, target, reduction="mean"):
    _check_target_size(input, target, error=False)
    common = _promote(input._array.dtype, target._array.dtype)
    if common.kind not in "fc":  # torch has no integer kernel for it
        raise NotImplementedError(f'"mse_cpu" not implemented for \'{TORCH_TYPE_NAMES[common.name]}\'')
    input, target = _pair(input, target)
    return MseLoss.apply(input, target, reduction=_reduction(reduction))


def _broadcast_tensors(*tensors):
    """torch's ``broadcast_tensors``: each tensor not of the common shape expanded to it (``ExpandBackward0``)."""
    shapes = [t._array.shape for t in tensors]
    for shape in shapes[1:]:
        check_broadcast(shapes[0], shape)
    common = np.broadcast_shapes(*shapes)
    return [t if t._array.shape == common else t.expand(*common) for t in tensors]


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):  # noqa: A002
    """``|input - target|``, reduced: torch composes it of its ops (``AbsBackward0`` of ``SubBackward0``, then
    ``MeanBackward0`` or ``SumBackward0``), so the gradient where input == target is 0, as abs's is."""
    if target.size() != input.size():
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input size ({input.size()})"
                      ". This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      "same size.", UserWarning, stacklevel=2)
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    expanded_input, expanded_target = _broadcast_tensors(input, target)
    if weight is None:
        return _reduce((expanded_input - expanded_target).abs(), _reduction(reduction))
    if weight.size() != input.size():
        raise ValueError("Weights and input must have the same size.")
    weighted = (expanded_input - expanded_target).abs() * weight
    if reduction not in _REDUCTIONS:
        raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")
    return weighted if reduction == "none" else weighted.sum() if reduction == "sum" else (
        weighted.sum() / weight.sum())


class BinaryCrossEntropy(Function):
    """-(t log(x) + (1 - t) log(1 - x)), each log clamped to >= -100 as torch does (so x = 0 or 1
    gives a finite loss)."""
    node_name = "BinaryCrossEntropyBackward0"

    @staticmethod
    def forward(ctx, input, target, weight, reduction):
        if not ((input >= 0) & (input <= 1)).all():
            raise RuntimeError("all elements of input should be between 0 and 1")
        if not ((target >= 0) & (target <= 1)).all():
            raise RuntimeError("all elements of target should be between 0 and 1")
        ctx.save_for_backward(input, target)
        ctx.weight, ctx.reduction = weight, reduction
        one = input.dtype.type(1)
        log_x = np.maximum(accurately(np.log, input), -100)
        log_1mx = np.maximum(accurately(np.log1p, -input), -100)
        loss = (target - one) * log_1mx - target * log_x
        return _reduce(loss if weight is None else loss * weight, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        one = x.dtype.type(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_input = grad * (x - t) / np.maximum((one - x) * x, x.dtype.type(1e-12))
            d_target = grad * (np.maximum(accurately(np.log1p, -x), -100) - np.maximum(accurately(np.log, x), -100))
        if ctx.weight is not None:
            d_input, d_target = d_input * ctx.weight, d_target * ctx.weight
        if ctx.reduction == "mean":
            d_input, d_target = d_input / x.size, d_target / x.size
        return d_input, d_target


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    _check_target_size(input, target, error=True)
    if target._array.dtype != input._array.dtype:  # torch converts neither (an int 0/1 target is refused)
        raise RuntimeError(f"Found dtype {_type_name(target._array)} but expected {_type_name(input._array)}")
    weight = None if weight is None else np.broadcast_to(weight._array, input.shape).astype(input._array.dtype)
    return BinaryCrossEntropy.apply(input, target, weight=weight, reduction=_reduction(reduction))


def _log_sigmoid(x):
    """log(sigmoid(x)) without overflow at large |x|, worked out in float64."""
    x = x.astype(np.float64)
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


class BinaryCrossEntropyWithLogits(Function):
    """(1 - t) x - w log(sigmoid(x)), w = 1 + (pos_weight - 1) t (1 without a pos_weight): the loss of
    ``sigmoid(x)`` against ``t``, stable for any x. As in torch, the result has the target's dtype
    (torch writes it into ``1 - target`` in place)."""
    node_name = "BinaryCrossEntropyWithLogitsBackward0"

    @staticmethod
    def forward(ctx, input, target, weight, pos_weight, reduction):
        ctx.save_for_backward(input, target)
        ctx.weight, ctx.pos_weight, ctx.reduction = weight, pos_weight, reduction
        out = target.dtype
        log_weight = 1 if pos_weight is None else (pos_weight - 1) * target.astype(np.float64) + 1
        loss = ((1 - target).astype(np.float64) * input - log_weight * _log_sigmoid(input)).astype(out)
        return _reduce(loss if weight is None else (loss * weight).astype(out), reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        wide_x, wide_t = x.astype(np.float64), t.astype(np.float64)
        sigmoid = 1 / (1 + np.exp(-wide_x))
        if ctx.pos_weight is None:
            d_input, d_target = sigmoid - wide_t, -wide_x
        else:
            weighted = ctx.pos_weight * wide_t
            d_input = (1 + weighted - wide_t) * sigmoid - weighted
            d_target = -wide_x - (ctx.pos_weight - 1) * _log_sigmoid(x)
        d_input, d_target = d_input * grad, d_target * grad
        if ctx.weight is not None:
            d_input, d_target = d_input * ctx.weight, d_target * ctx.weight
        if ctx.reduction == "mean":
            d_input, d_target = d_input / x.size, d_target / x.size
        return d_input.astype(x.dtype), d_target.astype(t.dtype)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    if target.shape != input.shape:
        raise ValueError(f"Target size ({size_text(target.shape)}) must be the same as input size "
                         f"({size_text(input.shape)})")
    kind = target._array.dtype.kind
    if kind == "b":
        raise RuntimeError(TWO_BOOL_SUBTRACTION)
    if kind != "f":  # torch computes in place in (1 - target): a float can't go back into an int tensor
        common = _promote(input._array.dtype, target._array.dtype)
        raise RuntimeError(f"result type {TORCH_TYPE_NAMES[common.name]} can't be cast to the desired output "
                           f"type {_type_name(target._array)}")
    weight, pos_weight = (None if w is None else np.broadcast_to(w._array, input.shape) for w in (weight, pos_weight))
    return BinaryCrossEntropyWithLogits.apply(input, target, weight=weight, pos_weight=pos_weight,
                                              reduction=_reduction(reduction))


from .modules import linear  # noqa: E402, F401  (with nn.Linear, whose forward it is)
