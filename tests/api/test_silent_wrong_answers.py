"""Silent wrong answers: each of these used to return a wrong gradient or refuse a
program NumPy accepts."""

import inspect

import numpy as np
import pytest

import symdiff
from symdiff import TraceError
from symdiff.trace.captured import CapturedArrayWarning


def test_trace_error_caught_by_the_user_still_fails_the_compile():
    def f(x):
        y = 4.0 * x
        try:
            if x > 0:  # truth of a two-element traced array: a TraceError
                y = 12.0 * x
        except Exception:  # noqa: BLE001 - the user's catch-all
            pass
        return np.sum(y)

    with pytest.raises(TraceError) as info:
        symdiff.grad(f)(np.array([1.0, 2.0]))
    lines, start = inspect.getsourcelines(f)
    line = start + next(i for i, text in enumerate(lines) if "if x > 0" in text)
    assert f"{__file__}:{line}" in str(info.value)  # the original error, where it arose


BUFFER = np.zeros(3)


@pytest.mark.filterwarnings("ignore::symdiff.CapturedArrayWarning")
def test_trace_error_turned_into_another_error_by_numpy_keeps_its_message():
    def f(x):
        y = BUFFER.copy()  # a concrete NumPy array
        y[0] = x[1]  # NumPy catches our TraceError and raises its own ValueError
        return np.sum(y)

    with pytest.raises(TraceError, match="np.zeros_like"):
        symdiff.grad(f)(np.ones(3))


def test_bound_method_reading_an_array_attribute_warns():
    class Model:
        def __init__(self):
            self.w = np.array([1.0, 2.0])

        def loss(self, x):
            return np.sum(self.w * x)

    m = Model()
    with pytest.warns(CapturedArrayWarning, match="self.w"):
        symdiff.grad(m.loss)(np.ones(2))


def test_closure_over_a_mutable_object_warns():
    params = {"w": np.array([1.0, 2.0])}

    def loss(x):
        return np.sum(params["w"] * x)

    with pytest.warns(CapturedArrayWarning, match="params"):
        symdiff.grad(loss)(np.ones(2))


def test_setitem_of_a_broadcastable_value_works_as_numpy():
    def f(x):
        y = x * 1.0
        y[-1] = np.array([[2.0]])
        return np.sum(y * x)

    x = np.array([[1.0], [2.0], [3.0]])
    np.testing.assert_allclose(symdiff.grad(f)(x), [[2.0], [4.0], [2.0]])


class ArrayLike:
    """Not an ndarray, but NumPy converts it through __array__."""

    def __init__(self, v):
        self.v = v

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.v, dtype=dtype)


def test_object_with_dunder_array_is_converted_before_the_generated_code():
    def f(x, a):
        return np.sum(x * a[0])

    g = symdiff.grad(f)(np.ones(2), ArrayLike([[1.0, 2.0]]))
    np.testing.assert_allclose(g, [1.0, 2.0])
