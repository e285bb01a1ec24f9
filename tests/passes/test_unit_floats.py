"""A derivative's unit float coefficient (SymPy's 1.0*r from 0.5*r**2) is not printed:
the code reads as written by hand and computes exactly the same numbers."""

import numpy as np
import pytest

import symdiff


def _grad_body(compiled, name="f") -> str:
    return compiled.source.split(f"def grad_{name}(")[1].split("\ndef ")[0]


def test_half_square_gradient_prints_the_value_itself():
    compiled = symdiff.grad(lambda r: 0.5 * r**2).compile(2.0)
    body = _grad_body(compiled)
    assert "1.0*" not in body and "1.0 *" not in body
    assert compiled.grad(3.0) == 3.0 and compiled.grad(-0.25) == -0.25  # d/dr r^2/2 = r


def test_negated_unit_coefficient_prints_a_minus_sign():
    def f(r, delta):
        return delta * (np.abs(r) - 0.5 * delta)

    compiled = symdiff.grad(f, argnums=(0, 1)).compile(2.0, 0.5)
    body = _grad_body(compiled)
    assert "-1.0*" not in body and "df_ddelta = -delta " in body
    assert compiled.grad(2.0, 0.5) == pytest.approx((0.5, 1.5))  # (delta sign r, |r| - delta)


def test_an_integer_value_keeps_the_float_coefficient_that_makes_it_float():
    def f(x, n):
        return np.sum(0.5 * n * x**2)  # d/dx = 1.0*n*x: x is float, so n*x is too

    compiled = symdiff.grad(f).compile(np.array([1.0, 2.0]), np.array([3, 4]))
    g = compiled.grad(np.array([1.0, 2.0]), np.array([3, 4]))
    np.testing.assert_array_equal(g, [3.0, 8.0])
    assert g.dtype == np.float64


def test_the_gradient_of_a_half_sum_of_squares_is_a_copy_not_the_input():
    g = symdiff.grad(lambda x: 0.5 * np.sum(x**2))
    x = np.array([1.0, -2.0, 3.0])
    out = g(x)
    np.testing.assert_array_equal(out, x)
    assert out is not x and not np.shares_memory(out, x)
