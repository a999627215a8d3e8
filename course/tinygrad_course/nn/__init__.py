"""``torch.nn``: the layers (``Module``, ``Parameter``, ``Linear``, ``Sequential``, activations) and
``functional``."""

from . import functional  # noqa: F401
from .modules import Linear, Module, Parameter, ReLU, Sequential, Sigmoid, Tanh  # noqa: F401
