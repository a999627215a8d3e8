"""Print tensors the way torch does (precision 4, line width 80, summarised past 1000 values).

Not part of the course: it only makes the engine's output match torch's character for
character, so that notebooks read the same with either library.
"""

import math

import numpy as np

PRECISION, THRESHOLD, EDGE_ITEMS, LINE_WIDTH = 4, 1000, 3, 80


def format_tensor(t):
    """``repr(t)``: ``tensor(<values>[, size=...][, dtype=...][, grad_fn=<...> | requires_grad=True])``."""
    data, prefix = t._array, "tensor("
    suffixes = []
    if data.size == 0:
        body = "[]"
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        shows_dtype = data.dtype != np.float32  # no values to tell an int tensor by
    else:
        summarize = data.size > THRESHOLD
        number = _NumberFormat(_edges(data) if summarize else data)
        body = _format_array(data, number, indent=len(prefix), summarize=summarize)
        shows_dtype = data.dtype not in (np.float32, np.int64, np.bool_)
    if shows_dtype:
        suffixes.append(f"dtype=torch.{data.dtype.name}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, indent=len(prefix))


def _with_suffixes(text, suffixes, indent):
    """Add ``, suffix`` after the values, on a new line when it would run past the line width."""
    used = len(text) - text.rfind("\n") + 1  # torch's measure: the last line's length plus 2
    for suffix in suffixes:
        if used + len(suffix) + 2 > LINE_WIDTH:
            text += ",\n" + " " * indent + suffix
            used = indent + len(suffix)
        else:
            text += ", " + suffix
            used += len(suffix) + 2
    return text + ")"


class _NumberFormat:
    """One width and style for every number in a tensor, chosen from all of them."""

    def __init__(self, data):
        self.floating = data.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        if not self.floating:
            self.width = max((len(str(v)) for v in data.ravel().tolist()), default=1)
            return
        values = data[np.isfinite(data) & (data != 0)]
        if values.size == 0:
            return
        magnitudes = np.abs(values).astype(np.float64)
        low, high = magnitudes.min(), magnitudes.max()
        self.int_mode = bool(np.all(values == np.ceil(values)))
        with np.errstate(over="ignore"):  # a ratio past float64's range is just "large"
            self.sci_mode = bool(high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4)
        self.width = max(len(self._text(v)) for v in values.tolist())

    def _text(self, value):
        if self.sci_mode:
            return f"{value:.{PRECISION}e}"
        if self.int_mode:
            return f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        return f"{value:.{PRECISION}f}"

    def __call__(self, value):
        text = self._text(value) if self.floating else str(value)
        return text.rjust(self.width)


def _edges(data):
    """The values that show when a big tensor is summarised (first and last few of each axis)."""
    if data.ndim == 0:
        return data
    if data.shape[0] > 2 * EDGE_ITEMS:
        data = np.concatenate([data[:EDGE_ITEMS], data[-EDGE_ITEMS:]])
    return np.stack([_edges(row) for row in data]) if data.ndim > 1 else data


def _format_array(data, number, indent, summarize):
    if data.ndim == 0:
        return number(data.item())
    long = summarize and data.shape[0] > 2 * EDGE_ITEMS
    if data.ndim == 1:
        values = data.tolist()
        items = ([number(v) for v in values[:EDGE_ITEMS]] + [" ..."] +
                 [number(v) for v in values[-EDGE_ITEMS:]]) if long else [number(v) for v in values]
        per_line = max(1, (LINE_WIDTH - indent) // (number.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(data.shape[0])
    if long:
        rows = [*range(EDGE_ITEMS), None, *range(data.shape[0] - EDGE_ITEMS, data.shape[0])]
    parts = ["..." if i is None else _format_array(data[i], number, indent + 1, summarize) for i in rows]
    return "[" + ("," + "\n" * (data.ndim - 1) + " " * (indent + 1)).join(parts) + "]"
