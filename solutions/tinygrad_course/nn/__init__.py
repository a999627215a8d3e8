"""``torch.nn``'s names: so far only ``nn.functional``."""

from . import functional  # noqa: F401
