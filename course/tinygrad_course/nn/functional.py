"""``torch.nn.functional``'s names for the engine's functions: ``F.cross_entropy(logits, target)``."""

from ..engine import cross_entropy, log_softmax, nll_loss, softmax  # noqa: F401
