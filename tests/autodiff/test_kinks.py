"""Derivatives where they are not defined follow one convention (JAX's), stated in
every generated header. Expected values are worked out by hand."""

import warnings

import numpy as np
import pytest

import symdiff
from symdiff.ir.elementwise import KINK_CONVENTIONS


def grads(fn, *args, argnums=0):
    return symdiff.grad(fn, argnums=argnums)(*args)


@pytest.mark.parametrize("op", [np.maximum, np.minimum, np.fmax, np.fmin])
def test_elementwise_extrema_share_ties_equally(op):
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([1.0, 0.0, 5.0])  # tie, x wins / loses, loses / wins
    dx, dy = grads(lambda x, y: np.sum(op(x, y)), x, y, argnums=(0, 1))
    wins = [1.0, 0.0] if op in (np.maximum, np.fmax) else [0.0, 1.0]
    np.testing.assert_array_equal(dx, [0.5, wins[0], wins[1]])
    np.testing.assert_array_equal(dy, [0.5, wins[1], wins[0]])


def test_relu_at_zero_is_one_half():
    g = grads(lambda x: np.sum(np.maximum(x, 0.0)), np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.5, 1.0])


def test_abs_has_zero_derivative_at_zero():
    g = grads(lambda x: np.sum(np.abs(x) + abs(x)), np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(g, [-2.0, 0.0, 2.0])


@pytest.mark.parametrize("op, x, want", [
    (np.max, [1.0, 3.0, 3.0, 2.0], [0.0, 0.5, 0.5, 0.0]),
    (np.min, [1.0, 3.0, 1.0, 1.0], [1 / 3, 0.0, 1 / 3, 1 / 3]),
    (np.amax, [4.0, 4.0, 4.0, 4.0], [0.25, 0.25, 0.25, 0.25]),
])
def test_reductions_split_the_gradient_among_tied_extrema(op, x, want):
    np.testing.assert_allclose(grads(lambda x: op(x), np.array(x)), want)


def test_ties_are_counted_per_reduced_slice():
    x = np.array([[1.0, 1.0], [0.0, 2.0]])
    g = grads(lambda x: np.sum(np.max(x, axis=1, keepdims=True) * np.array([[1.0], [10.0]])), x)
    np.testing.assert_allclose(g, [[0.5, 0.5], [0.0, 10.0]])


def test_infinity_norm_splits_ties():
    g = grads(lambda x: np.linalg.norm(x, ord=np.inf), np.array([-2.0, 1.0, 2.0]))
    np.testing.assert_allclose(g, [-0.5, 0.0, 0.5])


def test_clip_passes_the_gradient_strictly_inside():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    g = grads(lambda x: np.sum(np.clip(x, -0.5, 0.5)), x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0, 0.0, 0.0])


def test_clip_gives_the_gradient_to_a_bound_at_or_past_it():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    dx, dlo, dhi = grads(lambda x, lo, hi: np.sum(np.clip(x, lo, hi)), x, -0.5, 0.5,
                         argnums=(0, 1, 2))
    np.testing.assert_array_equal(dx, [0.0, 0.0, 1.0, 0.0, 0.0])
    assert (dlo, dhi) == (2.0, 2.0)


@pytest.mark.parametrize("op", [np.sign, np.floor, np.ceil, np.trunc, np.rint, np.round])
def test_piecewise_constant_functions_have_zero_derivative_even_at_jumps(op):
    x = np.array([-1.0, 0.0, 2.0, 2.5])
    g = grads(lambda x: np.sum(op(x) * 3.0 + x), x)
    np.testing.assert_array_equal(g, [1.0, 1.0, 1.0, 1.0])


def test_comparisons_carry_no_derivative():
    g = grads(lambda x: np.sum((x > 0) * 1.0 + np.where(x >= 1.0, x, 0.0)),
              np.array([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0])  # the branch chosen at x == 1


def test_prod_is_exact_at_zeros():
    # d/dx_i prod(x) is the product of the others: no 0/0
    np.testing.assert_array_equal(grads(np.prod, np.array([0.0, 2.0, 3.0])), [6.0, 0.0, 0.0])
    np.testing.assert_array_equal(grads(np.prod, np.array([0.0, 0.0, 3.0])), [0.0, 0.0, 0.0])


def test_cumprod_is_exact_at_zeros():
    # sum(cumprod(x)) = x0 + x0 x1 + x0 x1 x2; at (2, 0, 3): (1 + x1 + x1 x2, x0 + x0 x2, x0 x1)
    g = grads(lambda x: np.sum(np.cumprod(x)), np.array([2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(g, [1.0, 8.0, 0.0])


def test_logaddexp_derivative_never_overflows():
    x = np.array([-1000.0, 0.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        g = grads(lambda x: np.sum(np.logaddexp(x, 0.0)), x)
    np.testing.assert_allclose(g, [0.0, 0.5, 1.0])


def test_header_states_every_convention_the_function_meets():
    def every_kink(x):
        return np.sum(np.abs(x) + np.maximum(x, 0.0) + np.clip(x, -1, 1) + np.floor(x) * x)

    source = symdiff.grad(every_kink).compile(np.ones(3)).source
    header = "\n".join(line for line in source.splitlines() if line.startswith("#"))
    for convention in KINK_CONVENTIONS:
        assert convention in header
    relu = symdiff.grad(lambda x: np.sum(np.maximum(x, 0.0))).compile(np.ones(3)).source
    assert KINK_CONVENTIONS[1] in relu and KINK_CONVENTIONS[0] not in relu


def test_kinks_print_as_the_numpy_call():
    def relu_loss(x):
        return np.sum(np.maximum(x, 0.0) + np.abs(x) + np.clip(x, None, 1.0))

    source = symdiff.grad(relu_loss).compile(np.ones(3)).source
    assert "np.maximum(x, 0)" in source and "np.abs(x)" in source
    assert "np.clip(x, None, 1)" in source
    assert "np.sign(x)" in source  # the derivatives of abs and maximum
