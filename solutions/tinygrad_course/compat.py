"""torch's words and rules, so the engine answers exactly as torch does: error texts, dim
handling, shape checks, dtype names and dtype promotion.

Not part of the course: engine.py imports these so that its own code stays about autograd.
"""

import functools
import inspect
import math
import re
import warnings

import numpy as np

# -- error texts, word for word torch's --

SAVED_FREED = ("Trying to backward through the graph a second time (or directly access saved "
               "tensors after they have already been freed). Saved intermediate values of the "
               "graph are freed when you call .backward() or autograd.grad(). Specify "
               "retain_graph=True if you need to backward through the graph a second time or "
               "if you need to access saved tensors after calling backward.")
NOT_LEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
    "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you "
    "access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead. See "
    "github.com/pytorch/pytorch/pull/30531 for more information.")
LEAF_IN_PLACE = "a leaf Variable that requires grad is being used in an in-place operation."
NO_GRAD_HOOK = "cannot register a hook on a tensor that doesn't require gradient"
INFERENCE_SAVED = ("Inference tensors cannot be saved for backward. Please do not use Tensors created in inference "
                   "mode in computation tracked by autograd. To work around this, you can make a clone to get a "
                   "normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
                   "`torch.inference_mode()`.")
INFERENCE_IN_PLACE = ("Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone "
                      "to get a normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 "
                      "for more details.")
COPY_CONSTRUCT = ("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() "
                  "or sourceTensor.detach().clone().requires_grad_(True), rather than torch.tensor(sourceTensor).")
BOOL_SUBTRACTION = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
                    "invert a mask, use the `~` or `logical_not()` operator instead.")
TWO_BOOL_SUBTRACTION = ("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                        "`logical_xor()` operator instead.")
ONLY_FLOAT_GRAD = "Only Tensors of floating point and complex dtype can require gradients"


ONE_ELEMENT_SCALAR = "only one element tensors can be converted to Python scalars"
NOT_AN_INDEX = "only integer tensors of a single element can be converted to an index"
SCALAR_OF_GRAPH = ("Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.\n"
                   "Consider using tensor.detach() first.")
NON_LEAF_REQUIRES_GRAD = "you can only change requires_grad flags of leaf variables."
DETACH_INSTEAD = (" If you want to use a computed variable in a subgraph that doesn't require differentiation use "
                  "var_no_grad = var.detach().")
NEGATE_BOOL = ("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a "
               "mask, use the `~` or `logical_not()` operator instead.")


def modified_in_place(array, node_name, saved_version, version):
    """torch's error when backward finds that a value it saved has changed in place since. torch names
    the node that made the tensor (``MulBackward0`` as "Mul", ``ClampBackward1`` as "Clamp1"), if any."""
    short = node_name and node_name.replace("Backward0", "").replace("Backward", "")
    made_by = f", which is output 0 of {short}," if node_name else ""
    return ("one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"[torch.{TORCH_TYPE_NAMES[array.dtype.name]}Tensor [{', '.join(str(n) for n in array.shape)}]]"
            f"{made_by} is at version {version}; expected version {saved_version} instead. Hint: enable anomaly "
            "detection to find the operation that failed to compute its gradient, with "
            "torch.autograd.set_detect_anomaly(True, check_nan=False).")


def check_subtraction(a, b):
    """torch refuses ``-`` with bools (tensors or Python's True/False)."""
    a_bool, b_bool = _is_bool(a), _is_bool(b)
    if a_bool or b_bool:
        both_tensors = a_bool and b_bool and not isinstance(a, bool) and not isinstance(b, bool)
        raise RuntimeError(TWO_BOOL_SUBTRACTION if both_tensors else BOOL_SUBTRACTION)


def _is_bool(x):
    return isinstance(x, bool) or getattr(getattr(x, "_array", x), "dtype", None) == np.bool_


# -- dims and shapes --

def reduction_name(op, dim):
    """torch names a reduction over everything ``<Op>Backward0``, one over given dims ``<Op>Backward1``."""
    return f"{op}Backward{0 if dim is None else 1}"


def dim_range_error(d, ndim):
    low, high = -max(ndim, 1), max(ndim, 1) - 1  # a 0-d tensor takes dim 0 or -1, as torch's do
    return IndexError(f"Dimension out of range (expected to be in range of [{low}, {high}], but got {d})")


def one_dim(d, ndim):
    """One ``dim`` counted from 0, for a tensor of ``ndim`` dims (torch's error if out of range)."""
    if not -max(ndim, 1) <= d <= max(ndim, 1) - 1:
        raise dim_range_error(d, ndim)
    return d % ndim if ndim else 0


def dims(dim, ndim):
    """``dim`` (None, an int, or a list/tuple of them) as a tuple of axes counted from 0."""
    if dim is None:
        return None
    given = (dim,) if isinstance(dim, int) else tuple(dim)
    axes = tuple(one_dim(d, ndim) for d in given)
    if len(set(axes)) < len(axes):
        raise RuntimeError(f"dim {next(a for a in axes if axes.count(a) > 1)} appears multiple times in "
                           "the list of dims")
    return axes if ndim else ()  # a 0-d tensor has no axes: dim 0 or -1 means its one value


def reduced_dims(dim, ndim):
    """``dims`` for sum and mean, where an empty list of dims means all of them, as torch reads it."""
    axes = dims(dim, ndim)
    return tuple(range(ndim)) if axes == () else axes


_NUMPY_NAMES = {"axis": "dim", "keepdims": "keepdim"}


def numpy_keywords(function):
    """torch also takes numpy's names for two arguments: ``x.sum(axis=1, keepdims=True)``."""
    @functools.wraps(function)
    def call(*args, **kwargs):
        for numpy_name, name in _NUMPY_NAMES.items():
            if numpy_name in kwargs:
                if name in kwargs:  # both names: torch's parser knows only one of them
                    raise TypeError(f"{function.__name__}() got an unexpected keyword argument '{numpy_name}'")
                kwargs[name] = kwargs.pop(numpy_name)
        return function(*args, **kwargs)
    return call


def accept_numpy_keywords(names):
    """Give every function with a ``dim`` argument in ``names`` (a module's or a class's namespace, as a
    dict of name -> value) numpy's names too; returns the wrapped ones, by name."""
    wrapped = {}
    for name, value in names.items():
        if inspect.isfunction(value) and "dim" in inspect.signature(value).parameters:
            wrapped[name] = numpy_keywords(value)
    return wrapped


def check_reshape(shape, size):
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(n for n in shape if n != -1)
    if (-1 in shape and (known == 0 or size % known)) or (-1 not in shape and known != size):
        raise RuntimeError(f"shape '[{', '.join(map(str, shape))}]' is invalid for input of size {size}")


def shape_arguments(shape):
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean the shape (2, 3), as in torch."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list) else tuple(shape)


def check_broadcast(a, b):
    """torch's error for shapes that do not broadcast, naming the (rightmost) dimension at fault."""
    ndim = max(len(a), len(b))
    a, b = (1,) * (ndim - len(a)) + tuple(a), (1,) * (ndim - len(b)) + tuple(b)
    for d in reversed(range(ndim)):
        if a[d] != b[d] and 1 not in (a[d], b[d]):
            raise RuntimeError(f"The size of tensor a ({a[d]}) must match the size of tensor b ({b[d]}) "
                               f"at non-singleton dimension {d}")


def not_implemented(kernel, dtype):
    """torch's refusal of a kernel that has no version for ``dtype``."""
    return NotImplementedError(f'"{kernel}" not implemented for \'{TORCH_TYPE_NAMES[dtype.name]}\'')


def check_softmax_dtype(name, x, dim):
    """softmax and log_softmax take only floats; torch names the kernel, which differs for the last dim."""
    if x.dtype.kind != "f":
        last = "_lastdim" if dim is None or dim == x.ndim - 1 else ""
        raise not_implemented(f"{name}{last}_kernel_impl", x.dtype)


def check_grad_assignment(tensor, grad):
    """``t.grad = g``: torch's errors for a g that is not a tensor, or of another dtype or shape than t."""
    new, mine = getattr(grad, "_array", None), tensor._array
    if new is None:
        raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(grad).__name__}")
    if grad is tensor:
        raise RuntimeError("can't assign Variable as its own grad")
    if new.dtype != mine.dtype:
        raise RuntimeError(
            f"attempting to assign a gradient with dtype '{C_TYPE_NAMES[new.dtype.name]}' to a tensor with grad_dtype "
            f"'{TORCH_TYPE_NAMES[mine.dtype.name]}'. The gradient must match the tensor's grad_dtype (defaults to the "
            "tensor's dtype). You can set the tensor's grad_dtype attribute with a specific dtype, or None to allow "
            "any dtype. Set grad_dtype with caution. Diverging the dtypes of a tensor and its gradient may break "
            "downstream systems that assume they match.")
    if new.shape != mine.shape:
        raise RuntimeError(f"attempting to assign a gradient of size '[{', '.join(map(str, new.shape))}]' to a tensor "
                           f"of size '[{', '.join(map(str, mine.shape))}]'. Please ensure that the gradient and the "
                           "tensor are the same size")


def check_matmul_dtypes(a, b):
    """torch's errors for ``a @ b`` with a 0-d operand or operands of two dtypes: each kernel words it its own way."""
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D")
    if a.dtype == b.dtype:
        return
    names, c_names = TORCH_TYPE_NAMES, C_TYPE_NAMES
    if a.ndim == 1 and b.ndim == 1:
        message = (f"dot : expected both vectors to have same dtype, but found {names[a.dtype.name]} and "
                   f"{names[b.dtype.name]}")
    elif b.ndim == 1:
        vec, mat = names[b.dtype.name], names[a.dtype.name]
        message = f"addmv input tensors must have the same dtype, but got {vec}, {mat}, and {vec}"
    elif b.ndim == 2:
        message = (f"expected m1 and m2 to have the same dtype, but got: {c_names[a.dtype.name]} != "
                   f"{c_names[b.dtype.name]}")
    else:
        message = f"expected scalar type {names[a.dtype.name]} but found {names[b.dtype.name]}"
    raise RuntimeError(message)


def check_matmul(a, b):
    """torch's errors for 1-D/2-D operands whose inner sizes differ."""
    if len(a) == 1 and len(b) == 1 and a != b:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a[0]}] and src [{b[0]}] to have the "
                           f"same number of elements, but got {a[0]} and {b[0]} elements respectively")
    if len(a) == 2 and len(b) == 1 and a[1] != b[0]:
        raise RuntimeError(f"size mismatch, got input ({a[0]}), mat ({a[0]}x{a[1]}), vec ({b[0]})")
    if len(b) == 2 and len(a) in (1, 2) and a[-1] != b[0]:
        rows, inner = (1, a[0]) if len(a) == 1 else a
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{inner} and {b[0]}x{b[1]})")


LEAF_VIEW_IN_PLACE = "a view of a leaf Variable that requires grad is being used in an in-place operation."
PARTIAL_OVERLAP = ("unsupported operation: some elements of the input tensor and the written-to tensor refer to a "
                   "single memory location. Please clone() the tensor before performing the operation.")
OVERLAPPING_WRITE = ("unsupported operation: more than one element of the written-to tensor refers to a single "
                     "memory location. Please clone() the tensor before performing the operation.")


def _dense(array):
    """torch's ``is_non_overlapping_and_dense``: the elements fill one block of memory, in some order of the axes."""
    expected = array.itemsize
    for stride, size in sorted((stride, size) for stride, size in zip(array.strides, array.shape) if size != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def refuse_partial_overlap(written, read):
    """torch refuses an in-place op one of whose inputs shares part of the written-to memory (``y[1:] *= y[:3]``,
    ``y.add_(y[0])``, ``y.add_(y.t())``): the result would depend on the order elements are written in. The same
    memory read as it is written (``y.add_(y)``) is fine, and so, as in torch, is any pair it cannot easily tell
    apart, where either is not one dense block (``y[:, 0]``)."""
    if written is read or written.size == 0 or read.size == 0 or not np.may_share_memory(written, read):
        return
    if not (_dense(written) and _dense(read)):
        return
    same_block = (written.__array_interface__["data"][0] == read.__array_interface__["data"][0]
                  and written.nbytes == read.nbytes)
    if not same_block or written.strides != read.strides:
        raise RuntimeError(PARTIAL_OVERLAP)
CREATE_GRAPH = ("tinygrad_course's backward pass works on arrays, so create_graph=True (gradients that are "
                "themselves differentiable) is not supported")


def plain_index(index):
    """An index as numpy takes it, read as torch reads it: a tensor's array, and a one-number integer tensor (or
    numpy integer) as a plain int, so ``x[x.argmax()]`` is a view (``SelectBackward0``) as in torch."""
    parts = index if isinstance(index, tuple) else (index,)
    plain = tuple(_plain_part(part) for part in parts)
    return plain if isinstance(index, tuple) else plain[0]


def _plain_part(part):
    array = getattr(part, "_array", part)
    if isinstance(array, np.ndarray | np.generic) and array.ndim == 0 and array.dtype.kind in "iu":
        return int(array)
    return array


def multi_view_in_place(which):
    """torch's refusal to change in place one of several views one op returned (``which``: "Output 1 of Split")."""
    return (f"{which} is a view and is being modified inplace. This view is the output of a function that returns "
            "multiple views. Such functions do not allow the output views to be modified inplace. You should replace "
            "the inplace operation by an out-of-place one.")


def clamp_arguments_error(low, high):
    """torch's refusal of a tensor and a number as clamp's two bounds (it has one clamp for each)."""
    got = ", ".join(f"{name}={type(b).__name__}" for name, b in (("max", high), ("min", low)) if b is not None)
    return (f"clamp() received an invalid combination of arguments - got ({got}, ), but expected one of:\n"
            " * (Tensor min = None, Tensor max = None)\n"
            "      didn't match because some of the keywords were incorrect: max, min\n"
            " * (Number min = None, Number max = None)\n"
            "      didn't match because some of the keywords were incorrect: max, min\n")


def check_index(index):
    """torch's refusals of indices numpy takes or words differently: steps below 1 and float numbers."""
    for part in index if isinstance(index, tuple) else (index,):
        if isinstance(part, slice) and part.step is not None and part.step < 0:
            raise ValueError("step must be greater than zero")
        if isinstance(part, float):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                             "valid indices (got float)")
        if isinstance(part, np.ndarray) and part.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")


BYTE_INDEX = "indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool instead."


def bytes_as_masks(index, fill=False):
    """torch takes a uint8 tensor in an index as a bool mask (numpy would take its 0s and 1s as positions),
    and warns that this is deprecated; ``fill``: for ``t[index] = number``, which torch does with
    ``masked_fill_``, and which refuses it."""
    parts = [getattr(part, "_array", part) for part in (index if isinstance(index, tuple) else (index,))]
    if not any(isinstance(part, np.ndarray) and part.dtype == np.uint8 for part in parts):
        return index
    if fill:
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype unsigned char")
    warnings.warn(BYTE_INDEX, UserWarning, stacklevel=4)
    parts = tuple(part.astype(bool) if isinstance(part, np.ndarray) and part.dtype == np.uint8 else part
                  for part in parts)
    return parts if isinstance(index, tuple) else parts[0]


_NUMPY_INDEX_ERRORS = [  # numpy's IndexError texts, and torch's for the same mistakes
    (re.compile(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)"),
     r"index \1 is out of bounds for dimension \2 with size \3"),
    (re.compile(r"too many indices for array: array is (\d+)-dimensional, but \d+ were indexed"),
     r"too many indices for tensor of dimension \1"),
    (re.compile(r"boolean index did not match indexed array along (?:axis|dimension) (\d+); size of (?:axis|dimension) "
                r"is (\d+) but size of corresponding boolean (?:axis|dimension) is (\d+)"),
     r"The shape of the mask [\3] at index \1 does not match the shape of the indexed tensor [\2] at index \1"),
]


def torch_index_error(error):
    """numpy's IndexError in torch's words (unchanged if torch's are not known)."""
    text = str(error)
    for pattern, torch_text in _NUMPY_INDEX_ERRORS:
        if pattern.fullmatch(text):
            return IndexError(pattern.sub(torch_text, text))
    return error


def index_node_name(index):
    """torch's name for the (last) step of an indexing: x[0], x[1:], x[:, 2], x[[0, 0]]."""
    if isinstance(index, tuple) and all(isinstance(i, int | slice) and not isinstance(i, bool) for i in index):
        steps = [i for i in index if i != slice(None)]
        index = steps[-1] if steps else slice(None)
    if isinstance(index, int) and not isinstance(index, bool):  # x[True] is a mask
        return "SelectBackward0"
    return "SliceBackward0" if isinstance(index, slice) else "IndexBackward0"


class Size(tuple):
    """``x.shape``: a tuple shown as torch shows it, ``torch.Size([2, 3])``."""

    def __repr__(self):
        return size_text(self)

    def __getitem__(self, index):  # a slice of a Size is a Size, as in torch
        part = super().__getitem__(index)
        return Size(part) if isinstance(index, slice) else part

    def __add__(self, other):
        if not isinstance(other, tuple):
            raise TypeError(f"can only concatenate tuple (not {type(other).__name__}) to torch.Size")
        return Size(super().__add__(other))

    def __radd__(self, other):  # (4,) + x.shape; a list's + refuses a tuple itself
        return Size(other + tuple(self)) if isinstance(other, tuple) else NotImplemented

    def __mul__(self, times):
        return Size(super().__mul__(times))

    __rmul__ = __mul__

    def numel(self):
        return math.prod(self)


def size_text(shape):
    return f"torch.Size([{', '.join(str(n) for n in shape)}])"


def wider_than_output(output_shape, broadcast_shape):
    """torch's refusal of an in-place result that would not fit the tensor it is written into."""
    return (f"output with shape [{', '.join(map(str, output_shape))}] doesn't match the broadcast shape "
            f"[{', '.join(map(str, broadcast_shape))}]")


# -- dtypes --

TORCH_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                    "bool": "Bool", "float32": "Float", "float64": "Double", "float16": "Half"}


# the C++ names some of torch's messages use
C_TYPE_NAMES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
                "uint8": "unsigned char", "bool": "bool", "float32": "float", "float64": "double",
                "float16": "c10::Half"}


class DType(str):
    """A dtype's name, shown bare as torch shows its dtypes: ``torch.float32``."""
    __repr__ = str.__str__


def dtype_name(dtype):
    return DType(f"torch.{np.dtype(dtype).name}")


def numpy_dtype(dtype):
    """A numpy dtype from a numpy dtype or a torch-style name such as ``tinygrad_course.float32``."""
    return np.dtype(str(dtype).removeprefix("torch."))


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _promote(a, b):
    """torch.promote_types on numpy dtypes: like numpy's, except that an integer and a float
    give the float (numpy widens int64 + float32 to float64)."""
    if a is None or b is None:
        return a if b is None else b
    ka, kb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ka != kb and 2 in (ka, kb):
        return a if ka == 2 else b
    return np.promote_types(a, b)


def result_dtype(*operands):
    """The dtype torch gives ``a <op> b``: tensors with dims decide; 0-d tensors, then Python
    numbers, count only where they are of a higher category (bool < integer < float), and a
    Python number then brings its category's default (int64, float32) rather than its width."""
    dimensioned = zero_dim = number = None
    for x in operands:
        if isinstance(x, bool | int | float):
            kind = np.dtype(np.bool_ if isinstance(x, bool) else np.int64 if isinstance(x, int) else np.float32)
            number = _promote(number, kind)
        elif x.ndim == 0:
            zero_dim = _promote(zero_dim, x.dtype)
        else:
            dimensioned = _promote(dimensioned, x.dtype)
    return _combine(dimensioned, _combine(zero_dim, number))


def _combine(higher, lower):
    if higher is None:
        return lower
    if lower is None or _CATEGORY[higher.kind] >= _CATEGORY[lower.kind]:
        return higher
    return _promote(higher, lower)
