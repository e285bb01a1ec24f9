"""Folded loops, symbolic sizes and branches under the fused backend: the gradient of
every loop program agrees with central differences at two sizes from one module; an
elementwise loop runs element by element inside a kernel; other loops stay NumPy
loops; each block of an if/else has kernels of its own.

Skipped without numba (CI installs the `numba` extra).
"""

import os
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

from test_golden import central_difference  # noqa: E402

import symdiff  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "programs"))
from programs import euler, kalman, leapfrog, p6, rnn  # noqa: E402


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory, monkeypatch):
    """Generated fused modules and numba's cache of their kernels in a scratch place."""
    path = tmp_path_factory.getbasetemp() / "symdiff-cache"
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(path))
    return path


def _kernels(source: str) -> list[str]:
    """The kernels of a module: the text from each `@njit(` to the next blank line."""
    return [block for block in source.split("\n\n\n") if block.lstrip().startswith("@njit(")]


def iterated(x):
    for _ in range(4):
        x = np.sin(x) * x + np.cos(x)
    return np.sum(x)


def iterated_matrix(X, a):
    for _ in range(3):
        X = np.cos(X) * X + a * X
    return np.sum(X * X) / X.shape[0]


def test_an_elementwise_loop_runs_element_by_element_in_one_kernel():
    """P6 as a loop: one kernel per function, each step one pass over the elements
    reading and storing the carried values; one module serves two sizes."""
    fn = symdiff.grad(iterated, backend="numba")
    rng = np.random.default_rng(3)
    for n in (5, 12):
        x = rng.normal(size=n)
        np.testing.assert_allclose(fn(x), central_difference(iterated, [x], 0),
                                   rtol=1e-6, atol=1e-8)
    source = fn.source
    kernel = next(k for k in _kernels(source) if "def _grad_iterated_k0(" in k)
    assert "    for i in range(n):\n        x = x_in[i]\n" in kernel
    assert "    for _ in range(4):\n        for i in range(n):\n            x = x_all[i]\n" in kernel
    assert "            wide += _beyond(x)\n            _t0 = _cos(x, libm)\n" in kernel
    assert "            diterated_dx_all[i] = diterated_dx\n    return diterated_dx_all, wide" \
        in kernel
    assert "for _ in range(4):" not in source.split("def grad_iterated(")[1].split("\n\n\n")[0]
    assert fn.cache_info().compiles == 1  # (symbolic n: one module for both sizes)


def test_a_two_dimensional_loop_with_a_number_read_from_outside():
    fn = symdiff.grad(iterated_matrix, argnums=(0, 1), backend="numba")
    rng = np.random.default_rng(4)
    for shape in ((3, 2), (6, 5)):
        X, a = rng.normal(size=shape), 0.3
        gX, ga = fn(X, a)
        np.testing.assert_allclose(gX, central_difference(iterated_matrix, [X, a], 0),
                                   rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(ga, central_difference(iterated_matrix, [X, a], 1),
                                   rtol=1e-6, atol=1e-8)
    assert "for j in range(n1):" in fn.source  # (the forward loop, in a kernel)


def test_the_loop_kernel_under_the_parallel_variant_and_float32():
    par = symdiff.grad(iterated, backend="numba-parallel")
    x = np.random.default_rng(5).normal(size=9)
    np.testing.assert_allclose(par(x), central_difference(iterated, [x], 0), rtol=1e-6,
                               atol=1e-8)
    assert "        for i in prange(n):" in par.source
    x32 = x.astype(np.float32)
    g32 = symdiff.grad(iterated, backend="numba")(x32)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, central_difference(iterated, [x], 0), rtol=2e-3, atol=1e-4)


LOOP_PROGRAMS = {  # name -> (function, make_inputs at a size, argnums, sizes)
    "p6": (p6.p6, lambda n: (np.random.default_rng(n).normal(size=n), 5), (0,), (4, 11)),
    "leapfrog": (leapfrog.leapfrog_loss, lambda n: leapfrog.make_inputs(steps=6, n=n),
                 (0, 1, 2), (3, 7)),
    "euler": (euler.euler_loss, lambda n: euler.make_inputs(steps=5 * n), (0, 1), (2, 4)),
    "rnn": (rnn.rnn_loss, lambda n: rnn.make_inputs(steps=4, hidden=n), (0, 1, 2), (3, 5)),
    "kalman": (kalman.kalman_loglik, lambda n: kalman.make_inputs(steps=n), (0,), (3, 6)),
}


@pytest.mark.parametrize("name", sorted(LOOP_PROGRAMS))
def test_loop_programs_under_numba_match_central_differences_at_two_sizes(name):
    """The loop programs of benchmarks/loops.py: folded loops (fused when elementwise,
    NumPy loops otherwise) give the gradient central differences give, at two sizes."""
    fn, make, argnums, sizes = LOOP_PROGRAMS[name]
    fused = symdiff.grad(fn, argnums=argnums, backend="numba")
    for size in sizes:
        args = list(make(size))
        got = fused(*args)
        for i, g in zip(argnums, got if isinstance(got, tuple) else (got,)):
            np.testing.assert_allclose(g, central_difference(fn, args, i), rtol=1e-5,
                                       atol=1e-7, err_msg=f"{name} size {size} arg {i}")
    assert "for " in fused.source  # (the loop stays folded)


def branching(x):
    if np.sum(x) > 0:
        return np.sum((2 * x + 1) ** 2 * x)
    return np.sum(np.sin(x) * x + x * x)


def test_each_block_of_a_branching_module_has_its_own_kernels():
    fn = symdiff.grad(branching, backend="numba")
    rng = np.random.default_rng(6)
    for sign in (1, -1):
        x = sign * np.abs(rng.normal(size=6))
        np.testing.assert_allclose(fn(x), central_difference(branching, [x], 0),
                                   rtol=1e-6, atol=1e-8)
    kernels = "\n".join(_kernels(fn.source))
    assert "def _grad_branching_b1_k0(x):" in kernels
    assert "dbranching_dx[i] = x[i]*(_cos(x[i], libm) + 2) + _sin(x[i], libm)" in kernels
    grad = fn.source.split("def grad_branching(")[1].split("\n\n\n")[0]
    assert "    if x.sum() > 0:\n        dbranching_dx = _grad_branching_b1_k0(x)\n" in grad


def axis_sums(X):
    return np.sum(np.sum(X * X, axis=1) ** 2) + np.sum(np.mean(np.sin(X) * X, axis=0))


def test_sums_over_an_axis_are_accumulated_in_the_kernel():
    """The row sums and column means of elementwise values, in the loop that makes the
    values (a pass over memory fewer than NumPy); gradients at two shapes."""
    fn = symdiff.value_and_grad(axis_sums, backend="numba")
    rng = np.random.default_rng(8)
    for shape in ((4, 3), (7, 5)):
        X = rng.normal(size=shape)
        value, g = fn(X)
        np.testing.assert_allclose(value, axis_sums(X), rtol=1e-12)
        np.testing.assert_allclose(g, central_difference(axis_sums, [X], 0), rtol=1e-6,
                                   atol=1e-8)
    kernels = "\n".join(_kernels(fn.source))
    assert "[i] += X[i, j]**2" in kernels  # (the row sums)
    assert "[j] += X[i, j]*_sin(X[i, j], libm)" in kernels  # (the column sums of the mean)
