"""The wire format between the judge and a worker: JSON, with numpy arrays as typed records.

Only plain data crosses: ``None``, booleans, integers, finite or non-finite floats, strings,
lists and string-keyed dicts, and arrays of a few numeric dtypes. No pickle, no learner
object. ``decode`` trusts nothing: every array's dtype is on the list and its byte count
matches its shape, nesting and size are bounded, and anything else is a ``CodecError``.
"""

import base64
import json
import math

import numpy as np

DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64",
          "complex64", "complex128")
MAX_DEPTH = 40
MAX_ITEMS = 1_000_000      # array elements in one message
MAX_TEXT = 20_000          # characters of one string (error texts, reprs)
MAX_LINE = 64 * 2 ** 20    # bytes of one encoded message


class CodecError(ValueError):
    """A message that is not plain data in this format."""


def encode(value):
    """``value`` as one line of text (no newline inside)."""
    return json.dumps(_plain(value, 0), allow_nan=False, separators=(",", ":"))


def decode(text):
    """The plain data in ``text``, checked; ``CodecError`` if anything is off."""
    if len(text) > MAX_LINE:
        raise CodecError(f"message too long ({len(text)} bytes)")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise CodecError(f"not JSON: {str(error)[:200]}") from None
    budget = [MAX_ITEMS]
    return _value(raw, 0, budget)


def _plain(value, depth):
    if depth > MAX_DEPTH:
        raise CodecError("nested too deeply")
    if isinstance(value, np.generic):  # a numpy scalar keeps its dtype, as a 0-d array
        return _plain(np.asarray(value), depth)
    if value is None or isinstance(value, bool | str):
        return value[:MAX_TEXT] if isinstance(value, str) else value
    if isinstance(value, int):
        return value if -2 ** 63 <= value < 2 ** 63 else {"~float": repr(float(value))}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"~float": repr(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.name not in DTYPES:
            raise CodecError(f"arrays of dtype {value.dtype} are not plain data")
        return {"~array": value.dtype.name, "shape": list(value.shape),
                "data": base64.b64encode(value.tobytes(order="C")).decode("ascii")}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if not all(type(k) is str for k in value):
            raise CodecError("dict keys must be strings")
        if any(k.startswith("~") for k in value):
            raise CodecError("dict keys may not start with '~'")
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    raise CodecError(f"{type(value).__name__} is not plain data")


def _value(raw, depth, budget):
    if depth > MAX_DEPTH:
        raise CodecError("nested too deeply")
    if raw is None or type(raw) in (bool, int, float):
        return raw
    if type(raw) is str:
        if len(raw) > MAX_TEXT:
            raise CodecError("string too long")
        return raw
    if type(raw) is list:
        return [_value(v, depth + 1, budget) for v in raw]
    if type(raw) is not dict:
        raise CodecError(f"unexpected {type(raw).__name__}")
    if "~float" in raw:
        if set(raw) != {"~float"} or raw["~float"] not in ("nan", "inf", "-inf"):
            raise CodecError("a malformed non-finite float")
        return float(raw["~float"])
    if "~array" in raw:
        return _array(raw, budget)
    if any(k.startswith("~") for k in raw):
        raise CodecError("unknown tagged value")
    return {k: _value(v, depth + 1, budget) for k, v in raw.items()}


def _array(raw, budget):
    if set(raw) != {"~array", "shape", "data"} or raw["~array"] not in DTYPES:
        raise CodecError("a malformed array")
    shape = raw["shape"]
    if type(shape) is not list or len(shape) > 32 or not all(type(n) is int and 0 <= n for n in shape):
        raise CodecError("a malformed array shape")
    count = math.prod(shape)
    budget[0] -= count
    if budget[0] < 0:
        raise CodecError("too many array elements in one message")
    dtype = np.dtype(raw["~array"])
    if type(raw["data"]) is not str:
        raise CodecError("a malformed array")
    try:
        data = base64.b64decode(raw["data"].encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise CodecError("array data is not base64") from None
    if len(data) != count * dtype.itemsize:
        raise CodecError(f"array data holds {len(data)} bytes, its shape {tuple(shape)} needs "
                         f"{count * dtype.itemsize}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def roundtrip(value):
    """What the other side of a pipe would receive: the same check in one process."""
    return decode(encode(value))
