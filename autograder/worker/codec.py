"""The wire format between the judge and a worker: JSON, with numpy arrays as typed records.

Only plain data crosses: ``None``, booleans, 64-bit integers, finite or non-finite floats,
strings, lists and string-keyed dicts, and arrays of a few numeric dtypes. No pickle, no learner
object. Nothing is ever cut: a value crosses whole, or ``encode`` refuses it with a
``CodecError`` saying what and how big. ``decode`` trusts nothing: every array's dtype is on the
list and its byte count matches its shape, nesting and size are bounded, and anything else
(malformed, oversized, or not JSON as ``encode`` writes it) is a ``CodecError``, never another
exception. What ``encode`` writes, ``decode`` accepts.
"""

import base64
import binascii
import json
import math

import numpy as np

DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64",
          "complex64", "complex128")
MAX_DEPTH = 40
MAX_DIMS = 32              # numpy 1's own limit; numpy 2 allows 64
MAX_ITEMS = 1_000_000      # array elements in one message
MAX_LINE = 64 * 2 ** 20    # bytes of one encoded message: the bound on the whole
MAX_TEXT = 16 * 2 ** 20    # characters of one string: a notebook cell of any honest size fits
INT_RANGE = (-2 ** 63, 2 ** 63)
NON_FINITE = ("nan", "inf", "-inf")


class CodecError(ValueError):
    """A message that is not plain data in this format, or too big to send whole."""


def encode(value):
    """``value`` as one line of text (no newline inside); ``CodecError`` if it cannot cross whole."""
    try:
        plain = _plain(value, (), [MAX_ITEMS])
    except CodecError:
        raise
    except Exception as error:  # noqa: BLE001 - an object (a learner's subclass) that fails while read
        raise CodecError(f"the value could not be read as plain data ({type(error).__name__})") from None
    line = json.dumps(plain, allow_nan=False, separators=(",", ":"))
    if len(line) > MAX_LINE:
        raise CodecError(f"the message would be {len(line):,} bytes, over the limit of {MAX_LINE:,}; "
                         "refused rather than cut")
    return line


def decode(text):
    """The plain data in ``text``, checked; ``CodecError`` if anything is off."""
    if not isinstance(text, str):
        raise CodecError(f"a message must be text, not {type(text).__name__}")
    if len(text) > MAX_LINE:
        raise CodecError(f"the message is {len(text):,} characters, over the limit of {MAX_LINE:,}")
    try:
        raw = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_int,
                         object_pairs_hook=_object)
    except CodecError:
        raise
    except (ValueError, RecursionError) as error:
        raise CodecError(f"not JSON: {str(error)[:200]}") from None
    return _value(raw, (), [MAX_ITEMS])


def roundtrip(value):
    """What the other side of a pipe would receive: the same check in one process."""
    return decode(encode(value))


def _where(path):
    return "the message" if not path else "at " + "".join(f"[{key!r}]" for key in path)


# ---------------------------------------------------------------- encoding


def _plain(value, path, budget):
    if len(path) > MAX_DEPTH:
        raise CodecError(f"{_where(path[:MAX_DEPTH])}: nested more than {MAX_DEPTH} deep")
    if isinstance(value, np.generic):  # a numpy scalar keeps its dtype, as a 0-d array
        return _plain(np.asarray(value), path, budget)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        value = str.__str__(value)  # an exact str: a subclass's methods do not run past here
        if len(value) > MAX_TEXT:
            raise CodecError(f"{_where(path)}: a string of {len(value):,} characters, over the limit of "
                             f"{MAX_TEXT:,}; refused rather than cut")
        return value
    if isinstance(value, int):
        value = int.__index__(value)
        if not INT_RANGE[0] <= value < INT_RANGE[1]:
            raise CodecError(f"{_where(path)}: an integer of {value.bit_length()} bits; only 64-bit "
                             "integers cross")
        return value
    if isinstance(value, float):
        value = float.__float__(value)
        return value if math.isfinite(value) else {"~float": repr(value)}
    if isinstance(value, np.ndarray):
        return _plain_array(value, path, budget)
    if isinstance(value, list | tuple):
        return [_plain(v, (*path, k), budget) for k, v in enumerate(value)]
    if isinstance(value, dict):
        for key in value:
            if type(key) is not str:
                raise CodecError(f"{_where(path)}: dict keys must be strings, not {type(key).__name__}")
            if key.startswith("~"):
                raise CodecError(f"{_where(path)}: dict keys may not start with '~' ({key[:40]!r})")
        return {k: _plain(v, (*path, k), budget) for k, v in value.items()}
    raise CodecError(f"{_where(path)}: {type(value).__name__} is not plain data")


def _plain_array(value, path, budget):
    if value.dtype.name not in DTYPES:
        raise CodecError(f"{_where(path)}: arrays of dtype {value.dtype} are not plain data")
    _check_shape(list(value.shape), path, budget)
    native = np.asarray(value, dtype=np.dtype(value.dtype.name))  # native byte order, as decode reads it
    return {"~array": value.dtype.name, "shape": list(value.shape),
            "data": base64.b64encode(native.tobytes(order="C")).decode("ascii")}


def _check_shape(shape, path, budget):
    """The same bounds on both sides: dimensions, and elements counted against the message's budget."""
    if len(shape) > MAX_DIMS:
        raise CodecError(f"{_where(path)}: an array of {len(shape)} dimensions, over the limit of {MAX_DIMS}")
    extent = math.prod(n for n in shape if n)  # bounded even when a zero makes the array empty
    if extent > MAX_ITEMS:
        raise CodecError(f"{_where(path)}: an array of shape {tuple(shape)}, over the limit of {MAX_ITEMS:,} "
                         "elements")
    budget[0] -= math.prod(shape)
    if budget[0] < 0:
        raise CodecError(f"{_where(path)}: more than {MAX_ITEMS:,} array elements in one message")


# ---------------------------------------------------------------- decoding


def _no_constant(name):
    raise CodecError(f"not JSON as encoded here: the literal {name} (non-finite floats are tagged)")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise CodecError(f"not JSON as encoded here: {text[:40]} overflows a float")
    return value


def _int(text):
    if len(text) > 20:
        raise CodecError(f"an integer of {len(text):,} digits; only 64-bit integers cross")
    value = int(text)
    if not INT_RANGE[0] <= value < INT_RANGE[1]:
        raise CodecError(f"the integer {text} is outside 64 bits")
    return value


def _object(pairs):
    found = dict(pairs)
    if len(found) != len(pairs):
        raise CodecError("an object with a duplicated key")
    return found


def _value(raw, path, budget):
    if len(path) > MAX_DEPTH:
        raise CodecError(f"{_where(path[:MAX_DEPTH])}: nested more than {MAX_DEPTH} deep")
    if raw is None or type(raw) in (bool, int, float):
        return raw
    if type(raw) is str:
        if len(raw) > MAX_TEXT:
            raise CodecError(f"{_where(path)}: a string of {len(raw):,} characters, over the limit of "
                             f"{MAX_TEXT:,}")
        return raw
    if type(raw) is list:
        return [_value(v, (*path, k), budget) for k, v in enumerate(raw)]
    if type(raw) is not dict:
        raise CodecError(f"{_where(path)}: unexpected {type(raw).__name__}")
    if "~float" in raw:
        if set(raw) != {"~float"} or raw["~float"] not in NON_FINITE:
            raise CodecError(f"{_where(path)}: a malformed non-finite float")
        return float(raw["~float"])
    if "~array" in raw:
        return _array(raw, path, budget)
    if any(k.startswith("~") for k in raw):
        raise CodecError(f"{_where(path)}: an unknown tagged value")
    return {k: _value(v, (*path, k), budget) for k, v in raw.items()}


def _array(raw, path, budget):
    where = _where(path)
    if set(raw) != {"~array", "shape", "data"}:
        raise CodecError(f"{where}: an array record with keys {sorted(raw)[:6]}")
    name, shape, data = raw["~array"], raw["shape"], raw["data"]
    if type(name) is not str or name not in DTYPES:
        raise CodecError(f"{where}: an array of dtype {str(name)[:40]!r}, not one of {', '.join(DTYPES)}")
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise CodecError(f"{where}: an array shape that is not a list of non-negative integers")
    _check_shape(shape, path, budget)
    if type(data) is not str:
        raise CodecError(f"{where}: array data that is not a string")
    try:
        data = base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise CodecError(f"{where}: array data that is not base64") from None
    dtype = np.dtype(name)
    needed = math.prod(shape) * dtype.itemsize
    if len(data) != needed:
        raise CodecError(f"{where}: array data of {len(data):,} bytes; its shape {tuple(shape)} needs {needed:,}")
    try:
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    except (ValueError, MemoryError) as error:  # a backstop: the bounds above should leave nothing here
        raise CodecError(f"{where}: numpy refused the array ({error})") from None
