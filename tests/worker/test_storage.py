"""The drivers read a tensor's numbers in either kind of engine: the current one, whose ``x.data`` is a
tensor as in torch (the numbers live in ``_array``), and a learner's engine from before that, whose
``x.data`` is the numpy array itself. The worker never sees torch, so what crosses must be arrays."""

import numpy as np
import pytest

from autograder.worker import drivers
from autograder.worker.swap import rebind, storage


class OldTensor:
    """The shape of a tensor in an engine released before ``.data`` became a tensor."""

    def __init__(self, data, requires_grad=False):
        self.data = np.array(data, dtype=np.float32)
        self.requires_grad, self.grad_fn, self.grad = requires_grad, None, None

    def _check_in_place(self):
        pass

    def zero_(self):
        self.data[...] = 0
        return self


class OldEngine:
    Tensor = OldTensor


def test_storage_and_rebind_in_an_old_engine():
    t = OldTensor([1.0, 2.0])
    assert storage(t) is t.data
    new = np.array([5.0, 6.0], np.float32)
    rebind(t, new)
    assert t.data is new


def test_storage_and_rebind_in_the_reference(reference):
    t = reference.tensor([1.0, 2.0], requires_grad=True)
    array = storage(t)
    assert type(array) is np.ndarray and array is t._array
    assert type(t.data) is reference.Tensor  # so the helper is needed: .data is not the array
    new = np.array([5.0, 6.0], np.float32)
    rebind(t, new)
    assert t._array is new and t.tolist() == [5.0, 6.0]


@pytest.mark.parametrize("kind", ["old", "reference"])
def test_zero_driver_reports_arrays(reference, kind):
    engine = OldEngine if kind == "old" else reference
    values = np.array([[1.0, -2.0], [np.nan, 4.0]], np.float32)
    seen = drivers.Session("zero_", engine=engine).run("zero_", {"values": values, "marker": np.float32(9)})
    value = seen["value"]
    for key in ("data", "kept", "view"):
        assert type(value[key]) is np.ndarray and not value[key].any(), key
    assert value["returned_after"]["tensor"].tolist() == 9.0  # the tensor followed the rebinding


def test_plain_describes_a_tensor_of_either_engine(reference):
    for t in (OldTensor([1.0, 2.0]), reference.tensor([1.0, 2.0], requires_grad=True) * 1):
        described = drivers.plain(t)
        assert type(described["tensor"]) is np.ndarray and described["tensor"].tolist() == [1.0, 2.0]


def test_detach_driver_on_the_reference(reference):
    values = np.array([0.5, -1.0], np.float32)
    seen = drivers.Session("detach", engine=reference).run(
        "detach", {"values": values, "kind": "x * 3", "marker": np.full(2, 7, np.float32),
                   "other": np.full(2, -5, np.float32)})["value"]
    assert seen["data"].tolist() == (values * 3).tolist()
    assert seen["source_after_write"].tolist() == [7.0, 7.0]  # shared memory
    assert seen["source_after_rebind"].tolist() == [7.0, 7.0]  # a new array in d leaves the source alone
