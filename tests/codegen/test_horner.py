"""Polynomials in one value print in Horner's form where it takes fewer operations:
the emitted code is read, and its values are checked against hand-worked derivatives."""

import re

import numpy as np
import sympy as sp

import symdiff
from symdiff.codegen.horner import horner_form


def assignment(source: str, name: str) -> str:
    """The right-hand side of `name = ...` in the gradient function of `source`."""
    grad = source[source.index("\ndef grad_"):]
    return re.search(rf"^    {name} = (.*)$", grad, re.M).group(1)


def test_the_scalar_polynomial_gradient_is_nested_without_a_power():
    def f(x):
        return 2 * x**4 + x**3 + 3 * x**2 + 5 * x + 1

    g = symdiff.grad(f)
    line = assignment(g.compile(2.0).source, "df_dx")
    assert line == "x*(x*(8*x + 3) + 6) + 5" and "**" not in line
    for x in (2.0, -1.5, 0.0, 1e3):
        assert g(x) == 8 * x**3 + 3 * x**2 + 6 * x + 5  # by hand; exact at these points


def test_an_elementwise_polynomial_of_an_array_is_nested_too():
    def f(x):
        return np.sum(x**4 + 2 * x**3)

    x = np.array([0.5, -2.0, 3.0])
    g = symdiff.grad(f)
    np.testing.assert_allclose(g(x), 4 * x**3 + 6 * x**2, rtol=1e-15)
    assert assignment(g.source, "df_dx") == "x**2*(4*x + 6)"


def test_horners_form_is_left_out_where_it_costs_as_much():
    def cubic_plus_line(x):
        return x**4 / 4 + x**2 / 2  # gradient x**3 + x: x*x*x + x beats x*(x**2 + 1)

    g = symdiff.grad(cubic_plus_line)
    assert g(2.0) == 10.0
    assert assignment(g.source, "dcubic_plus_line_dx") == "x*x*x + x"


def test_inexact_float_coefficients_and_sizes_are_left_alone():
    x, n = sp.Symbol("x"), sp.Symbol("n")
    assert horner_form(sp.Float(0.1) * x**3 + 3 * x**2 + x) is None  # would round 3 to 3.0
    assert horner_form(n**3 + 2 * n**2 + n, sizes={n}) is None
    assert horner_form(n**3 + 2 * n**2 + n) == n * (n * (n + 2) + 1)
    assert horner_form(x**2 * sp.Symbol("y") + x) is None  # two symbols


def test_exact_float_coefficients_are_numbers_like_any_other():
    def f(x):
        return 0.5 * x**3 + 0.25 * x**2  # gradient 1.5 x^2 + 0.5 x

    g = symdiff.grad(f)
    assert g(2.0) == 7.0
    assert assignment(g.source, "df_dx") == "x*(1.5*x + 0.5)"
