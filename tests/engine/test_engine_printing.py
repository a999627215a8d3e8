"""Tensors print character for character as torch prints them (repr and str)."""

import numpy as np
import pytest
import strategies as s
import torch
from hypothesis import given, settings
from hypothesis import strategies as st


def torch_tensor(array):
    return torch.from_numpy(np.array(array, copy=True))


@settings(max_examples=300, deadline=None)
@given(array=s.printable_arrays())
def test_repr_and_str_match_torch(reference, array):
    """Every dtype, 0-d to 3-d, empty, integral floats, sci mode, nan/inf, wrapped and summarised."""
    ours, theirs = reference.tensor(array.copy()), torch_tensor(array)
    assert repr(ours) == repr(theirs), f"array {array!r} (dtype {array.dtype})"
    assert str(ours) == str(theirs)


@settings(max_examples=60, deadline=None)
@given(array=s.printable_arrays().filter(lambda a: a.dtype.kind == "f"),
       how=st.sampled_from(["leaf", "x * 2", "lib.sin(x)", "x.reshape(-1)", "-x", "x.detach()", "x ** 2"]))
def test_requires_grad_and_grad_fn_suffixes(reference, array, how):
    shown = []
    for lib, wrap in ((torch, torch_tensor), (reference, lambda a: reference.tensor(a.copy()))):
        x = wrap(array).requires_grad_()
        shown.append(repr(x if how == "leaf" else eval(how, {"lib": lib, "x": x})))
    assert shown[1] == shown[0], f"{how} on {array!r} (dtype {array.dtype})"


@pytest.mark.parametrize("expression", [
    "x.shape", "x.size()", "x.sum(0).shape", "x.dtype", "x.tolist()", "x[0].sum().item()", "x.ndim", "x.dim()",
    "x.numel()", "len(x)", "x.size(1)", "x.grad", "x.requires_grad", "x.is_leaf", "(x * 2).is_leaf",
    # sums of up to 4 values: longer float32 sums are added up in another order than torch's
    "f'{x[0].sum()}'", "f'{x[2].sum():.3f}'", "float(x[1].sum())", "x[0].mean().item()", "x.sum() > 0",
    "x[0]", "x == x",
])
def test_attributes_display_like_torch(reference, expression, rng):
    array = rng.normal(size=(3, 4)).astype(np.float32)
    shown = [repr(eval(expression, {"x": lib.tensor(array.copy())})) for lib in (torch, reference)]
    assert shown[1] == shown[0]
