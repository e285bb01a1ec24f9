"""Nested loops (both fold, unless the inner loop ends the outer body) and what stays
unrolled, and is right: list comprehensions and generator expressions over time
steps, and loops whose iterations differ (`if t % 2`). Gradients against central
differences; module sizes show which loop folded (docs/loops.md)."""

import numpy as np
import pytest

import symdiff
from symdiff.verify.numerical import numerical_gradient


def _lines(fn, args, argnums, dims="fixed") -> int:
    return len(symdiff.grad(fn, argnums=argnums, dims=dims).compile(*args).source.splitlines())


def _check(fn, args, argnums, dims="fixed"):
    grads = symdiff.grad(fn, argnums=argnums, dims=dims)(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for i, g in zip(argnums, grads):
        np.testing.assert_allclose(g, numerical_gradient(fn, list(args), i), rtol=1e-6,
                                   atol=1e-9, err_msg=f"{fn.__name__}: argument {i}")


# -- nested loops: both fold, unless the inner loop ends the outer body -------------------
def _nested(x, W, outer, inner):
    for i in range(outer):
        for _ in range(inner):
            x = np.tanh(W @ x) * 0.9 + 0.1 * x
        x = x + 0.01 * i
    return np.sum(x**2)


def _substeps(x, W, inner):
    for _ in range(inner):
        x = np.tanh(W @ x) * 0.9 + 0.1 * x
    return x


def _nested_in_a_helper(x, W, outer, inner):
    for i in range(outer):
        x = _substeps(x, W, inner) + 0.01 * i
    return np.sum(x**2)


def _nested_last(x, W, outer, inner):
    for i in range(outer):
        x = x + 0.01 * i
        for _ in range(inner):  # (nothing follows it in the outer body: it unrolls)
            x = np.tanh(W @ x) * 0.9 + 0.1 * x
    return np.sum(x**2)


@pytest.mark.parametrize("fn", [_nested, _nested_in_a_helper])
def test_nested_loops_both_fold(fn):
    rng = np.random.default_rng(0)
    x, W = rng.normal(size=3), 0.5 * rng.normal(size=(3, 3))
    _check(fn, (x, W, 6, 4), (0, 1))
    _check(fn, (x, W, 5, 7), (0, 1))
    lines = _lines(fn, (x, W, 6, 4), (0, 1))
    assert lines == _lines(fn, (x, W, 9, 4), (0, 1)) == _lines(fn, (x, W, 6, 8), (0, 1))
    source = symdiff.grad(fn, argnums=(0, 1)).compile(x, W, 6, 4).source
    assert "for i in range(outer):" in source and "reversed(range(outer))" in source
    assert "    for _ in reversed(range(" in source  # (a helper's count prints as 4)


@pytest.mark.parametrize("fn", [_nested, _nested_in_a_helper])
def test_hessian_and_jvp_through_nested_loops(fn):
    rng = np.random.default_rng(4)
    x, W = rng.normal(size=3), 0.5 * rng.normal(size=(3, 3))
    gradient = symdiff.grad(fn, dims="fixed")
    columns = [numerical_gradient(lambda v, j=j: gradient(v, W, 6, 4)[j], [x], 0)
               for j in range(3)]
    np.testing.assert_allclose(symdiff.hessian(fn, dims="fixed")(x, W, 6, 4),
                               np.stack(columns), rtol=1e-5, atol=1e-8)
    tangent = np.array([0.3, -0.2, 0.5])
    _, derivative = symdiff.jvp(lambda v, M: fn(v, M, 6, 4), (x, W),
                                (tangent, np.zeros((3, 3))))
    np.testing.assert_allclose(derivative, numerical_gradient(fn, [x, W, 6, 4], 0) @ tangent,
                               rtol=1e-6)


def test_an_inner_loop_that_ends_the_outer_body_unrolls_in_it():
    rng = np.random.default_rng(0)
    x, W = rng.normal(size=3), 0.5 * rng.normal(size=(3, 3))
    _check(_nested_last, (x, W, 6, 4), (0, 1))
    assert _lines(_nested_last, (x, W, 6, 4), (0, 1)) == _lines(_nested_last, (x, W, 9, 4),
                                                                (0, 1))
    assert _lines(_nested_last, (x, W, 6, 8), (0, 1)) > _lines(_nested_last, (x, W, 6, 4),
                                                               (0, 1))


def _grid(U):
    total = 0.0
    for i in range(U.shape[0]):
        row = 0.0
        for j in range(U.shape[1]):
            row = row + np.sin(U[i, j]) * j
        total = total + row**2
    return total


def test_a_sweep_over_both_symbolic_axes_folds_both_loops():
    grad = symdiff.grad(_grid)
    rng = np.random.default_rng(2)
    for shape in ((5, 6), (3, 9)):
        U = rng.normal(size=shape)
        np.testing.assert_allclose(grad(U), numerical_gradient(_grid, [U], 0), rtol=1e-6,
                                   atol=1e-9)
    assert grad.cache_info().compiles == 1
    source = grad.compile(U).source
    assert "for i in reversed(range(n)):" in source and "for j in reversed(range(d)):" in source


# -- comprehensions over time steps: unrolled ----------------------------------------------
def _stacked(W, xs):
    hs = np.stack([np.tanh(W @ x) for x in xs])
    return np.sum(hs**2)


def _summed(W, xs):
    return sum(np.sum(np.tanh(W @ x_t)) ** 2 for x_t in xs)


@pytest.mark.parametrize("fn", [_stacked, _summed])
def test_comprehensions_over_steps_unroll_and_are_right(fn):
    rng = np.random.default_rng(1)
    W = 0.5 * rng.normal(size=(3, 2))
    short, long = rng.normal(size=(5, 2)), rng.normal(size=(15, 2))
    _check(fn, (W, short), (0, 1))
    _check(fn, (W, long), (0, 1), dims="auto")  # (the step count stays fixed under auto)
    assert _lines(fn, (W, long), (0, 1)) > _lines(fn, (W, short), (0, 1))
    grad = symdiff.grad(fn, argnums=(0, 1))
    grad(W, short)
    grad(W, long)
    assert grad.cache_info().compiles == 2  # one module per step count


# -- iterations that differ: unrolled ----------------------------------------------------
def _alternating(x, w):
    for t in range(10):
        if t % 2:
            x = np.sin(w * x)
        else:
            x = x * w + 0.1
    return np.sum(x**2)


def test_a_loop_whose_iterations_differ_unrolls_and_is_right():
    x, w = np.array([0.3, -0.7, 1.1]), 0.9
    _check(_alternating, (x, w), (0, 1))
    source = symdiff.grad(_alternating, argnums=(0, 1)).compile(x, w).source
    assert "for t in" not in source  # ten steps written out
    assert source.count("np.sin(") >= 5
