"""``torch.nn``: the layers (``Module``, ``Parameter``, ``Linear``, ``Sequential``, activations) and
``functional``."""

from . import functional  # noqa: F401
from .modules import (  # noqa: F401
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Linear,
    Module,
    MSELoss,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
