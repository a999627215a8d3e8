"""The wire format: what crosses is whole, what decode cannot take is a CodecError (never another
exception), and what encode writes decode accepts."""

import base64
import json

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.worker import codec


def array_record(dtype="float64", shape=(2,), data=None, **extra):
    if data is None:
        data = base64.b64encode(np.zeros(shape, dtype=dtype).tobytes()).decode()
    return {"~array": dtype, "shape": list(shape), "data": data, **extra}


def line(value):
    """A message as a hostile sender could write it: any JSON, no checks."""
    return json.dumps(value)


MALFORMED = {
    "not JSON": "{",
    "not text": b"{}",
    "a NaN literal": "NaN",
    "an Infinity literal inside a list": "[1, -Infinity]",
    "a float literal that overflows": "1e400",
    "an integer beyond 64 bits": str(2 ** 63),
    "a negative integer beyond 64 bits": str(-2 ** 63 - 1),
    "an integer of thousands of digits": "9" * 5000,
    "a duplicated key": '{"value": 1, "value": 2}',
    "nesting deeper than the limit": "[" * (codec.MAX_DEPTH + 2) + "]" * (codec.MAX_DEPTH + 2),
    "nesting deeper than json's recursion": "[" * 100_000 + "]" * 100_000,
    "dicts nested deeper than the limit": '{"a":' * (codec.MAX_DEPTH + 2) + "1" + "}" * (codec.MAX_DEPTH + 2),
    "a string over the limit": line("x" * (codec.MAX_TEXT + 1)),
    "a line over the limit": " " * (codec.MAX_LINE + 1),
    "an unknown tag": line({"~pickle": "gASVAAAAAAAAAAA="}),
    "a tag beside plain keys": line({"~float": "nan", "other": 1}),
    "a non-finite float tag with a number in it": line({"~float": "1e5"}),
    "a non-finite float tag that is a list": line({"~float": ["nan"]}),
    "an array of an unknown dtype": line(array_record(dtype="object")),
    "an array whose dtype is not a string": line({**array_record(), "~array": ["float64"]}),
    "an array with an extra key": line(array_record(strides=[8])),
    "an array without data": line({"~array": "float64", "shape": [2]}),
    "array data that is not base64": line(array_record(data="not base64!")),
    "array data with bad padding": line(array_record(data="AAA")),
    "array data that is not a string": line(array_record(data=[0, 0])),
    "array data one byte short": line(array_record(data=base64.b64encode(bytes(15)).decode())),
    "array data one element long": line(array_record(data=base64.b64encode(bytes(24)).decode())),
    "a negative dimension": line(array_record(shape=(-2,), data="")),
    "a boolean dimension": line(array_record(shape=(True,), data=base64.b64encode(bytes(8)).decode())),
    "a float dimension": line({**array_record(), "shape": [2.0]}),
    "a shape that is not a list": line({**array_record(), "shape": 2}),
    "too many dimensions": line(array_record(shape=(1,) * (codec.MAX_DIMS + 1))),
    "a shape whose element count overflows": line(array_record(shape=(2 ** 40, 2 ** 40), data="")),
    "an empty array whose other dimensions overflow numpy": line(array_record(shape=(0, 2 ** 40, 2 ** 40), data="")),
    "an empty array with a dimension beyond 64 bits": line(array_record(shape=(0, 2 ** 63), data="")),
    "one array over the element limit": line(array_record(dtype="bool", shape=(codec.MAX_ITEMS + 1,))),
    "arrays together over the element limit": line([array_record(dtype="bool", shape=(codec.MAX_ITEMS // 2 + 1,))] * 2),
}


@pytest.mark.parametrize("what", MALFORMED)
def test_decode_refuses_with_a_codec_error(what):
    with pytest.raises(codec.CodecError):
        codec.decode(MALFORMED[what])


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_decode_raises_nothing_but_codec_errors_on_any_text(text):
    try:
        codec.decode(text)
    except codec.CodecError:
        pass


@given(st.dictionaries(st.sampled_from(["~array", "shape", "data", "x"]),
                       st.one_of(st.sampled_from(codec.DTYPES), st.text(max_size=8), st.just(""),
                                 st.lists(st.one_of(st.sampled_from([0, 1, 3, 2 ** 31, 2 ** 40, 2 ** 63, -1]),
                                                    st.integers(min_value=-2 ** 70, max_value=2 ** 70)), max_size=6),
                                 st.integers(), st.booleans(), st.none())))
@settings(max_examples=500, deadline=None)
def test_decode_raises_nothing_but_codec_errors_on_any_array_record(record):
    try:
        codec.decode(json.dumps({"~array": "float64", **record}))
    except codec.CodecError:
        pass


def _equal(a, b):
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and a.tobytes() == np.asarray(b, dtype=a.dtype).tobytes())
    if isinstance(a, float):
        return type(b) is float and (a == b or (a != a and b != b))
    if isinstance(a, list | tuple):
        return type(b) is list and len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


arrays = st.sampled_from(codec.DTYPES).flatmap(
    lambda name: hnp.arrays(np.dtype(name), hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)))
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2 ** 63, max_value=2 ** 63 - 1),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=50), arrays)
plain = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5).filter(lambda k: not k.startswith("~")),
                                                 inner, max_size=4)), max_leaves=20)


@given(plain)
@settings(max_examples=300, deadline=None)
def test_what_encode_writes_decode_returns_whole(value):
    assert _equal(value, codec.roundtrip(value))


@pytest.mark.parametrize("name", codec.DTYPES)
def test_every_dtype_roundtrips_with_its_non_finite_values(name):
    dtype = np.dtype(name)
    if dtype.kind in "fc":
        values = np.array([0, -0.0, 1.5, np.nan, np.inf, -np.inf, np.finfo(dtype).max, np.finfo(dtype).tiny],
                          dtype=dtype.type(0).real.dtype)
        if dtype.kind == "c":
            values, real = np.empty(len(values), dtype=dtype), values
            values.real, values.imag = real, real[::-1]
    elif dtype.kind == "b":
        values = np.array([True, False])
    else:
        values = np.array([np.iinfo(dtype).min, 0, 1, np.iinfo(dtype).max], dtype=dtype)
    back = codec.roundtrip({"a": values, "scalar": values[-1], "grid": values.reshape(1, -1, 1)})
    for key, sent in (("a", values), ("scalar", np.asarray(values[-1])), ("grid", values.reshape(1, -1, 1))):
        assert back[key].dtype == dtype and back[key].shape == sent.shape
        assert back[key].tobytes() == sent.tobytes()


def test_non_finite_python_floats_roundtrip():
    back = codec.roundtrip([float("nan"), float("inf"), float("-inf")])
    assert np.isnan(back[0]) and back[1:] == [float("inf"), float("-inf")]


def test_a_big_endian_array_arrives_with_its_values():
    values = (np.arange(6).reshape(2, 3) / 7).astype(">f8")
    assert values.dtype.name == "float64" and not values.dtype.isnative
    assert np.array_equal(codec.roundtrip(values), values)


def test_a_long_string_is_refused_not_cut():
    cell = "def answer(x):\n    return x\n" + "#" * codec.MAX_TEXT + "\ndef answer(x):\n    return -x\n"
    with pytest.raises(codec.CodecError, match=f"{len(cell):,} characters.*refused rather than cut"):
        codec.encode({"cells": [["answer", cell]]})


def test_a_long_honest_cell_crosses_whole():
    cell = "def answer(x):\n" + "".join(f"    x = x + {i}  # step {i}\n" for i in range(5000)) + "    return x\n"
    assert len(cell) > 100_000
    assert codec.roundtrip({"cells": [["answer", cell]]}) == {"cells": [["answer", cell]]}


def test_a_message_over_the_line_limit_is_refused_by_encode():
    pieces = ["é" * (codec.MAX_TEXT // 2)] * 3  # each string fits; escaped they do not fit one line
    with pytest.raises(codec.CodecError, match="over the limit"):
        codec.encode(pieces)


@pytest.mark.parametrize("value, words", [
    ({1: "a"}, "keys must be strings"),
    ({"~float": "nan"}, "may not start with '~'"),
    (2 ** 64, "only 64-bit integers"),
    (object(), "not plain data"),
    (np.array(["text"]), "dtype"),
    (np.zeros(codec.MAX_ITEMS + 1, dtype=bool), "limit"),
    (np.zeros((1,) * (codec.MAX_DIMS + 1)), "dimensions"),
])
def test_encode_refuses_what_cannot_cross(value, words):
    with pytest.raises(codec.CodecError, match=words):
        codec.encode(value)


def test_encode_refuses_deep_nesting():
    value = []
    for _ in range(codec.MAX_DEPTH + 2):
        value = [value]
    with pytest.raises(codec.CodecError, match="nested"):
        codec.encode(value)


def test_an_object_that_fails_while_read_is_a_codec_error():
    class Hostile(list):
        def __iter__(self):
            raise RuntimeError("no")

    class Recursive(list):
        def __iter__(self):
            return iter([self])

    for value in (Hostile([1]), Recursive()):
        with pytest.raises(codec.CodecError):
            codec.encode({"value": value})
