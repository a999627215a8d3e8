"""``torch.nn``: the layers (``Module``, ``Parameter``, ``Linear``, ``Sequential``, ``ModuleList``, activations,
``Flatten``, ``Identity``), the losses and ``functional``."""

from . import functional  # noqa: F401
from .modules import (  # noqa: F401
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Flatten,
    Identity,
    L1Loss,
    LeakyReLU,
    Linear,
    LogSoftmax,
    Module,
    ModuleList,
    MSELoss,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
