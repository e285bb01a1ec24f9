"""Hostile edge cases: empty arrays, non-finite values, singular points, odd callables.

Expected values are closed forms worked out by hand (or NumPy's own value of the
function); none comes from another differentiation engine."""

import functools
import warnings

import numpy as np
import pytest

import symdiff
from symdiff.errors import InputError, ShapeError, TraceError


def _grad(f, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return symdiff.grad(f, **kw)(*args)


def _value_and_grad(f, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return symdiff.value_and_grad(f, **kw)(*args)


# -- empty arrays and reductions over no elements ------------------------------------------
def test_mean_of_empty_slice_is_nan_and_its_input_gets_no_gradient():
    value, g = _value_and_grad(lambda x: np.mean(x[5:]) + x[0], np.arange(5.0))
    assert np.isnan(value)  # NumPy: 0/0
    np.testing.assert_array_equal(g, [1.0, 0.0, 0.0, 0.0, 0.0])


def test_mean_over_an_empty_axis_keeps_numpy_shape():
    f = lambda x: np.mean(x, axis=1)  # noqa: E731
    out = symdiff.jacobian(f)(np.zeros((3, 0)))
    assert out.shape == (3, 3, 0)
    value = symdiff.compile_gradient(lambda x: np.sum(f(x)), (np.zeros((3, 0)),)).forward
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(value(np.zeros((3, 0))))


def test_prod_of_empty_is_one():
    value, g = _value_and_grad(lambda x: np.prod(x[3:]) * x[0], np.array([2.0, 3.0, 4.0]))
    assert value == 2.0  # prod of nothing is 1
    np.testing.assert_array_equal(g, [1.0, 0.0, 0.0])


@pytest.mark.parametrize("reduce", [np.max, np.min])
def test_extremum_of_empty_is_a_shape_error_naming_the_line(reduce):
    with pytest.raises(ShapeError, match=r"test_edge_cases\.py:\d+: np\.(max|min) over an empty"):
        symdiff.grad(lambda x: reduce(x[5:]) + x[0])(np.arange(5.0))


def test_extremum_over_a_nonempty_axis_of_an_empty_array_is_fine():
    g = _grad(lambda x: np.sum(np.max(x, axis=0)), np.zeros((3, 0)))
    assert g.shape == (3, 0)


# -- power at a zero base ------------------------------------------------------------------
@pytest.mark.parametrize("y, dx, dy", [
    (2.0, 0.0, 0.0),     # 0**y = 0 for y > 0: flat in both
    (1.0, 1.0, 0.0),     # d/dx x = 1
    (0.0, 0.0, 0.0),     # x**0 = 1 everywhere (0**0 = 1 in NumPy); d/dy from the right is 0
    (3.0, 0.0, 0.0),
])
def test_traced_power_at_zero_base(y, dx, dy):
    got = _grad(lambda x, y: x**y, 0.0, y, argnums=(0, 1))
    assert (float(got[0]), float(got[1])) == (dx, dy)


def test_traced_power_derivative_is_still_right_elsewhere():
    x, y = np.array([0.5, 1.5, 2.0]), np.array([0.3, 2.0, -1.5])
    dx, dy = _grad(lambda x, y: np.sum(x**y), x, y, argnums=(0, 1))
    np.testing.assert_allclose(dx, y * x ** (y - 1), rtol=1e-14)
    np.testing.assert_allclose(dy, x**y * np.log(x), rtol=1e-14)


def test_traced_power_with_negative_exponent_at_zero_is_not_finite():
    dx, dy = _grad(lambda x, y: x**y, 0.0, -1.0, argnums=(0, 1))
    assert np.isinf(dx) and np.isnan(dy)  # -x**-2 and inf*log(1): no silent 0


def test_second_derivatives_of_traced_power_at_zero_base():
    h = symdiff.hessian(lambda x, y: x**y, argnums=(0, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        (hxx, hxy), (hyx, hyy) = h(0.0, 2.0)
    # x**2 at x = 0: d2/dx2 = 2; mixed x**(y-1)(1 + y log x) -> 0; x**y log(x)**2 -> 0
    assert [float(v) for v in (hxx, hxy, hyx, hyy)] == [2.0, 0.0, 0.0, 0.0]


def test_constant_base_power_of_traced_exponent():
    g = _grad(lambda x: np.sum(2.0**x), np.array([0.0, 1.0]))
    np.testing.assert_allclose(g, np.log(2.0) * 2.0 ** np.array([0.0, 1.0]), rtol=1e-15)


# -- NaN and inf propagate -------------------------------------------------------------------
def test_clip_propagates_nan_to_the_gradient():
    x = np.array([np.nan, -1.0, 0.0, 0.5, 1.0, 2.0])
    np.testing.assert_array_equal(_grad(lambda x: np.sum(np.clip(x, 0, 1)), x),
                                  [np.nan, 0.0, 0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(_grad(lambda x: np.sum(np.clip(x, 0, None)), x),
                                  [np.nan, 0.0, 0.0, 1.0, 1.0, 1.0])
    g32 = _grad(lambda x: np.sum(np.clip(x, 0, 1)), x.astype(np.float32))
    assert g32.dtype == np.float32 and np.isnan(g32[0])


def test_clip_bounds_get_nan_from_a_nan_bound():
    g = _grad(lambda x, lo: np.sum(np.clip(x, lo, 1.0)), np.array([0.5, 2.0]), np.nan,
              argnums=(0, 1))
    assert np.isnan(g[0]).all() and np.isnan(g[1])


@pytest.mark.parametrize("f, x, expected", [
    (lambda x: x * np.nan, 1.0, np.nan),         # d/dx (x c) = c
    (lambda x: x + np.nan, 1.0, 1.0),            # d/dx (x + c) = 1
    (lambda x: x * np.inf, 2.0, np.inf),
    (lambda x: np.sin(x) * -np.inf, 0.0, -np.inf),
    (lambda x: x / np.inf, 2.0, 0.0),
])
def test_nonfinite_constants_are_not_folded_into_a_zero_derivative(f, x, expected):
    np.testing.assert_array_equal(_grad(f, x), expected)


def test_nonfinite_constant_keeps_float32():
    g = _grad(lambda x: np.sum(x * np.nan), np.ones(2, dtype=np.float32))
    assert g.dtype == np.float32 and np.isnan(g).all()


# -- division by a traced zero ---------------------------------------------------------------
def test_division_by_an_identically_zero_expression_is_a_trace_error():
    with pytest.raises(TraceError, match=r"test_edge_cases\.py:\d+: division by zero"):
        symdiff.grad(lambda x: x / (x - x))(2.0)
    with pytest.raises(TraceError, match="division by zero"):
        symdiff.grad(lambda x: np.var(x, ddof=3))(np.ones(3))


# -- Python floats ---------------------------------------------------------------------------
def test_python_float_power_of_negative_base_is_nan_not_complex():
    value, g = _value_and_grad(lambda x: x**0.5, -2.0)
    assert np.isnan(value) and np.isnan(g)
    assert not isinstance(g, complex)


# -- calling conventions ---------------------------------------------------------------------
def test_keyword_arguments_at_the_call_are_an_input_error():
    def f(x, *, scale=3.0):
        return scale * x * x

    assert symdiff.grad(f)(2.0) == 12.0
    with pytest.raises(InputError, match="functools.partial"):
        symdiff.grad(f)(2.0, scale=1.0)
    assert symdiff.grad(functools.partial(f, scale=1.0))(2.0) == 4.0


def test_non_integer_argnums_is_an_input_error():
    with pytest.raises(InputError, match="argnums must be an int"):
        symdiff.grad(lambda x: x, argnums=1.0)


def test_bound_methods_and_callable_objects():
    class Model:
        w = np.array([1.0, 2.0])

        def loss(self, x):
            return np.sum(self.w * x**2)

        def __call__(self, x):
            return x**3

    m = Model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", symdiff.CapturedArrayWarning)
        np.testing.assert_array_equal(symdiff.grad(m.loss)(np.ones(2)), [2.0, 4.0])
    assert symdiff.grad(m)(2.0) == 12.0


def test_function_from_exec_names_its_string_source():
    ns = {"np": np, "symdiff": symdiff}
    exec("def h(x):\n    if x > 0:\n        return x\n    return -x\n", ns)
    with pytest.raises(TraceError, match=r"<string>:2: Python control flow"):
        symdiff.grad(ns["h"])(1.0)
