"""``torch.<name>(...)``: the module-level functions, each a thin call into a tensor method or
an operation, and the functions that make new tensors (``tensor``, ``zeros``, ``randn``, ...)."""

import builtins

import numpy as np

from . import compat, more_ops
from .compat import numpy_dtype, shape_arguments
from .engine import Tensor, _made_in_inference, _warn_scalar_of_graph

# -- making tensors --


def tensor(data, requires_grad=False, dtype=None):
    if isinstance(data, list | tuple) and _holds_tensors(data):
        data = _from_tensors(data)
    t = Tensor(data)
    if dtype is not None:  # a numpy dtype, or a name such as tinygrad_course.float32
        t._array = t._array.astype(numpy_dtype(dtype))
    return _requiring_grad(t, requires_grad)


def _holds_tensors(sequence):
    return any(isinstance(e, Tensor) or (isinstance(e, list | tuple) and _holds_tensors(e)) for e in sequence)


_PYTHON_TYPES = {bool: np.dtype(np.bool_), int: np.dtype(np.int64), float: np.dtype(np.float32)}


def _from_tensors(sequence):
    """``torch.tensor([t1, t2, ...])``: each tensor one number, read as torch reads it (a tensor that
    requires grad warns, once), in the dtype torch infers: the tensors' and numbers' dtypes promoted."""
    found = [None]

    def scalars(items):
        values = []
        for e in items:
            if isinstance(e, list | tuple):
                values.append(scalars(e))
                continue
            kind = e._array.dtype if isinstance(e, Tensor) else _PYTHON_TYPES.get(type(e), np.dtype(np.float32))
            found[0] = compat._promote(found[0], kind)
            values.append(_one_number(e) if isinstance(e, Tensor) else e)
        return values
    values = scalars(sequence)
    return np.array(values, dtype=found[0])


def _one_number(t):
    if t._array.size != 1:
        raise ValueError(compat.ONE_ELEMENT_SCALAR)
    if t.requires_grad:
        _warn_scalar_of_graph()  # the warning float(t) gives, once per process for both (as torch's)
    return t._array.reshape(()).item()


def from_numpy(array):
    """A tensor on the array's own memory, in its dtype (a float64 array stays float64)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return Tensor._make(array)


def as_tensor(data, dtype=None):
    """``data`` itself if it already is a tensor of that dtype; an array's memory where it can; else a copy."""
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == numpy_dtype(dtype)):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def _requiring_grad(t, requires_grad):
    if requires_grad and t._array.dtype.kind not in "fc":
        raise RuntimeError(compat.ONLY_FLOAT_GRAD)
    return t.requires_grad_(requires_grad) if requires_grad else t


def _new(array, dtype, requires_grad):
    made = _made_in_inference(Tensor._make(array if dtype is None else array.astype(numpy_dtype(dtype))))
    return _requiring_grad(made, requires_grad)


def zeros(*shape, dtype=None, requires_grad=False):
    return _new(np.zeros(shape_arguments(shape), np.float32), dtype, requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return _new(np.ones(shape_arguments(shape), np.float32), dtype, requires_grad)


def zeros_like(x, dtype=None, requires_grad=False):
    return _new(np.zeros_like(x._array), dtype, requires_grad)


def ones_like(x, dtype=None, requires_grad=False):
    return _new(np.ones_like(x._array), dtype, requires_grad)


def full_like(x, fill_value, dtype=None, requires_grad=False):
    return _new(np.full_like(x._array, fill_value), dtype, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    for name, size in (("n", n), ("m", m)):
        if size is not None and size < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {size}")
    return _new(np.eye(n, m, dtype=np.float32), dtype, requires_grad)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def full(shape, fill_value, dtype=None, requires_grad=False):
    return _new(np.full(shape_arguments((shape,)), fill_value, compat.result_dtype(fill_value)), dtype, requires_grad)


# Random tensors come from one generator that manual_seed resets: the same seed, the same
# numbers (not torch's numbers: its generator is its own).
_generator = np.random.default_rng()


def manual_seed(seed):
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def randn(*shape, dtype=None, requires_grad=False):
    return _new(_generator.standard_normal(shape_arguments(shape), np.float32), dtype, requires_grad)


def rand(*shape, dtype=None, requires_grad=False):
    return _new(_generator.random(shape_arguments(shape), np.float32), dtype, requires_grad)


def randn_like(x, dtype=None, requires_grad=False):
    return randn(*x._array.shape, dtype=x.dtype if dtype is None else dtype, requires_grad=requires_grad)


def rand_like(x, dtype=None, requires_grad=False):
    return rand(*x._array.shape, dtype=x.dtype if dtype is None else dtype, requires_grad=requires_grad)


def _fill_randomly(t, draw, node_name):
    """``t``'s memory filled with ``draw(shape)`` from the same generator, as torch's ``normal_``/``uniform_``
    (which weight initialisations call under ``no_grad``)."""
    t._check_in_place(node_name)
    t._array[...] = draw(t._array.shape)
    return t


def normal_(self, mean=0, std=1):
    return _fill_randomly(self, lambda shape: _generator.normal(mean, std, shape), "NormalBackward0")


def uniform_(self, a=0, b=1):
    return _fill_randomly(self, lambda shape: _generator.uniform(a, b, shape), "UniformBackward0")


Tensor.normal_, Tensor.uniform_ = normal_, uniform_


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    kind = compat.result_dtype(start, end, step)  # int64 for whole numbers, float32 if any is a float
    count = builtins.max(0, int(np.ceil((end - start) / step)))
    return _new((start + step * np.arange(count, dtype=np.float64)).astype(kind), dtype, requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    # torch's float32 recipe: from the start for the first half, back from the end for the rest
    start, end, i = np.float32(start), np.float32(end), np.arange(steps)
    step = (end - start) / np.float32(builtins.max(steps - 1, 1))
    half = steps // 2 if steps > 1 else steps  # (one step: just the start)
    values = np.where(i < half, start + step * i.astype(np.float32),
                      end - step * (steps - i - 1).astype(np.float32)).astype(np.float32)
    return _new(values, dtype, requires_grad)


# -- the tensor methods as functions, as in ``torch.sin(x)`` --

def sin(x):
    return x.sin()


def cos(x):
    return x.cos()


def exp(x):
    return x.exp()


def log(x):
    return x.log()


def pow(input, exponent):  # noqa: A001, A002 - torch's names
    return input ** exponent  # (a number as the base: 2 ** x, torch's PowBackward2)


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def relu(x):
    return x.relu()


def clamp(x, min=None, max=None):
    return x.clamp(min, max)


def mean(x, dim=None, keepdim=False):
    return x.mean(dim, keepdim)


def sum(x, dim=None, keepdim=False):  # noqa: A001 - torch's name
    return x.sum(dim, keepdim)


def matmul(a, b):
    return a.matmul(b)


def reshape(x, shape):
    return x.reshape(shape)


def sqrt(x):
    return x.sqrt()


def abs(x):  # noqa: A001 - torch's name
    return x.abs()


def max(x, dim=None, keepdim=False, *, other=None):  # noqa: A001 - torch's name
    if isinstance(dim, Tensor) or other is not None:  # torch.max(x, y): the elementwise maximum
        return more_ops.maximum(x, dim if other is None else other)
    return x.max() if dim is None else x.max(dim, keepdim)


def min(x, dim=None, keepdim=False, *, other=None):  # noqa: A001 - torch's name
    if isinstance(dim, Tensor) or other is not None:
        return more_ops.minimum(x, dim if other is None else other)
    return x.min() if dim is None else x.min(dim, keepdim)


def argmax(x, dim=None, keepdim=False):
    return x.argmax(dim, keepdim)


def argmin(x, dim=None, keepdim=False):
    return x.argmin(dim, keepdim)


def transpose(x, dim0, dim1):
    return x.transpose(dim0, dim1)


def t(x):
    return x.t()


def flatten(x, start_dim=0, end_dim=-1):
    return x.flatten(start_dim, end_dim)


def unsqueeze(x, dim):
    return x.unsqueeze(dim)


def squeeze(x, dim=None):
    return x.squeeze(dim)
