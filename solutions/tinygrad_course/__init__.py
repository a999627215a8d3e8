"""tinygrad_course: ``import tinygrad_course as torch`` and the autograd tutorial runs unchanged."""

import numpy as _np

from . import nn  # noqa: F401  (torch.nn.functional.cross_entropy, ...)
from .engine import (  # noqa: F401
    EXERCISES,
    AccumulateGrad,
    Function,
    Node,
    Tensor,
    _dtype_name,
    clamp,
    cos,
    enable_grad,
    exp,
    is_grad_enabled,
    log,
    log_softmax,
    matmul,
    mean,
    no_grad,
    ones,
    relu,
    reshape,
    run_backward,
    set_grad_enabled,
    sigmoid,
    sin,
    softmax,
    sum,
    tanh,
    tensor,
    topological_order,
    zeros,
)

# shown and compared as torch shows its dtypes: `x.dtype == tinygrad_course.float32`
float32 = _dtype_name(_np.dtype("float32"))
