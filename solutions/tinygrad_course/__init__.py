"""tinygrad_course: ``import tinygrad_course as torch`` and the autograd tutorial runs unchanged."""

from .engine import (  # noqa: F401
    EXERCISES,
    AccumulateGrad,
    Function,
    Node,
    Tensor,
    clamp,
    cos,
    enable_grad,
    exp,
    is_grad_enabled,
    log,
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
    sum,
    tanh,
    tensor,
    topological_order,
    zeros,
)

float32 = "torch.float32"
