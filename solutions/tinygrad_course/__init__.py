"""tinygrad_course: ``import tinygrad_course as torch`` and the autograd tutorial runs unchanged.

engine.py is the course: autograd itself. The other files give it torch's everyday surface:
compat.py (torch's error texts, dims, dtypes), functions.py (``torch.tensor``, ``torch.sin``, ...),
more_ops.py (views, max/min, stack/cat/where, conversions, more reductions, ...), nn/ (``Module``, ``Linear``,
``Sequential``; functional.py: activations, losses), optim.py (``Adam``) and autograd.py
(``torch.autograd.grad``).
"""

import math as _math

import numpy as _np

from . import autograd, more_ops, nn, optim  # noqa: F401  (more_ops adds its methods to Tensor)
from .compat import accept_numpy_keywords as _accept_numpy_keywords
from .compat import dtype_name as _dtype_name
from .engine import (  # noqa: F401
    EXERCISES,
    AccumulateGrad,
    Function,
    Node,
    Tensor,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    run_backward,
    set_grad_enabled,
    topological_order,
)
from .functions import (  # noqa: F401
    abs,
    arange,
    argmax,
    argmin,
    as_tensor,
    clamp,
    cos,
    exp,
    eye,
    flatten,
    from_numpy,
    full,
    full_like,
    is_tensor,
    linspace,
    log,
    manual_seed,
    matmul,
    max,
    mean,
    min,
    ones,
    ones_like,
    pow,
    rand,
    rand_like,
    randn,
    randn_like,
    relu,
    reshape,
    sigmoid,
    sin,
    sqrt,
    squeeze,
    sum,
    t,
    tanh,
    tensor,
    transpose,
    unsqueeze,
    zeros,
    zeros_like,
)
from .more_ops import (  # noqa: F401  (the tensor methods of more_ops, as torch's functions too)
    add,
    all,
    allclose,
    amax,
    amin,
    any,
    bmm,
    cat,
    chunk,
    clone,
    cumsum,
    div,
    dot,
    equal,
    flip,
    isclose,
    isnan,
    log_softmax,
    masked_fill,
    maximum,
    minimum,
    mm,
    mul,
    mv,
    neg,
    norm,
    prod,
    sign,
    softmax,
    sort,
    split,
    square,
    stack,
    std,
    sub,
    unbind,
    var,
    where,
)

# torch's parser takes numpy's axis= and keepdims= wherever it takes dim= and keepdim=: so do these
for _name, _function in _accept_numpy_keywords(vars(Tensor)).items():
    setattr(Tensor, _name, _function)
globals().update(_accept_numpy_keywords(dict(globals())))
del _name, _function

# torch's constants
pi, e, inf, nan = _math.pi, _math.e, _math.inf, _math.nan

# dtypes, shown and compared as torch shows its dtypes: `x.dtype == tinygrad_course.float32`
float32 = float = _dtype_name(_np.float32)
float64 = double = _dtype_name(_np.float64)
float16 = half = _dtype_name(_np.float16)
int64 = long = _dtype_name(_np.int64)
int32 = int = _dtype_name(_np.int32)
int16 = short = _dtype_name(_np.int16)
int8 = _dtype_name(_np.int8)
uint8 = _dtype_name(_np.uint8)
bool = _dtype_name(_np.bool_)
