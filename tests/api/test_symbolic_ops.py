"""Operations whose sizes are expressions of the arguments' sizes: step slices
(`x[::2]` has (n + 1)//2 elements), `n // 2`, np.split into equal sections (n must
divide), cumprod's derivative, diag, trace, inv, tril/triu, eye/arange of a size.

Each is one module for every size: gradients equal central differences of the
user's function (`symdiff.verify.numerical_gradient`) at several sizes, odd and
even, from one compilation.
"""

import re

import numpy as np
import pytest

import symdiff
from symdiff.errors import SymbolicDimError
from symdiff.verify import numerical_gradient


def _square(rng, n):
    return rng.uniform(-1, 1, (n, n)) + 4 * np.eye(n)  # well conditioned


VECTOR = {
    "step_2": lambda x: np.sum(x[::2] ** 2 * np.sin(x[::2])),
    "step_3_from_1": lambda x: np.sum(np.exp(x[1::3]) * x[1::3]),
    "step_2_stop": lambda x: np.sum(x[: x.shape[0] - 1 : 2] ** 3),
    "halves": lambda x: np.sum(x[: x.shape[0] // 2] ** 2) - np.sum(np.cos(x[x.shape[0] // 2 :])),
    "mean_of_half": lambda x: np.sum(x[: x.shape[0] // 2]) / (x.shape[0] // 2 + 1),
    "cumprod": lambda x: np.sum(np.cumprod(x) * x),
    "diag_of_vector": lambda x: np.sum(np.diag(x) @ np.sin(x)),
    "eye_of_size": lambda x: np.sum((np.eye(x.shape[0]) + np.outer(x, x)) ** 2),
    "tri_of_outer": lambda x: np.sum(np.triu(np.outer(x, x), 1) * np.outer(x, x**2)),
    "arange_weights": lambda x: np.sum(x**2 * np.arange(x.shape[0])),
}
MATRIX = {
    "trace": lambda A: np.trace(A @ A) + np.trace(A, 1),
    "diag_of_matrix": lambda A: np.sum(np.diag(A) ** 3) + np.sum(np.diag(A, -1)),
    "inv": lambda A: np.sum(np.linalg.inv(A) ** 2),
    "inv_shifted": lambda A: np.sum(np.linalg.inv(A + np.identity(A.shape[0]))),
    "trace_of_inv": lambda A: np.trace(np.linalg.inv(A)),
    "tril": lambda A: np.sum(np.tril(A) ** 2),
    "triu_k": lambda A: np.sum(np.triu(A, 1) * A),
    "rows_step": lambda A: np.sum(A[::2, 1::2] ** 2),
}


@pytest.mark.parametrize("name", sorted(VECTOR))
def test_vector_ops_one_module_every_size(name):
    f = VECTOR[name]
    grad = symdiff.grad(f, dims={"x": ("n",)})
    for n in (4, 5, 7, 10):
        x = np.random.default_rng(n).uniform(0.2, 0.9, n)
        np.testing.assert_allclose(grad(x), numerical_gradient(f, [x], 0), rtol=1e-6,
                                   atol=1e-9)
    assert grad.cache_info().compiles == 1


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_matrix_ops_one_module_every_size(name):
    f = MATRIX[name]
    grad = symdiff.grad(f, dims={"A": ("n", "n")})
    for n in (2, 3, 6):
        A = _square(np.random.default_rng(n), n)
        np.testing.assert_allclose(grad(A), numerical_gradient(f, [A], 0), rtol=1e-6,
                                   atol=1e-9)
    assert grad.cache_info().compiles == 1


def test_inverse_gradient_reads_as_minus_inv_t_g_inv_t():
    grad = symdiff.grad(MATRIX["inv"], dims={"A": ("n", "n")})
    A = _square(np.random.default_rng(0), 3)
    inv = np.linalg.inv(A)
    np.testing.assert_allclose(grad(A), -inv.T @ (2 * inv) @ inv.T, rtol=1e-10)  # by hand
    assert "np.linalg.inv(A)" in grad.source and "n, _ = np.shape(A)" in grad.source


def test_step_slices_and_floor_sizes_print_as_python_writes_them():
    source = symdiff.grad(VECTOR["step_3_from_1"], dims={"x": ("n",)}).compile(
        np.ones(4)).source
    assert "x[1::3]" in source and "[1::3] = " in source
    source = symdiff.grad(VECTOR["halves"], dims={"x": ("n",)}).compile(np.ones(4)).source
    assert "x[:n//2]" in source and "x[n//2:]" in source and "floor" not in source
    source = symdiff.grad(VECTOR["arange_weights"], dims={"x": ("n",)}).compile(
        np.ones(4)).source
    assert "np.arange(n)" in source


def test_a_step_slice_length_is_ceil_n_over_step_at_every_size():
    def f(x):
        y = x[1::3]
        return np.sum(y * np.arange(y.shape[0]))  # reads the length (n + 1)//3

    grad = symdiff.grad(f, dims={"x": ("n",)})
    for n in range(2, 12):  # (n = 1 is a pattern of its own: a size-1 axis broadcasts)
        x = np.linspace(0.1, 1.0, n)
        expected = np.zeros(n)
        expected[1::3] = np.arange(len(range(1, n, 3)))
        np.testing.assert_allclose(grad(x), expected)
    assert grad.cache_info().compiles == 1
    assert "(n + 1)//3" in grad.source


def test_split_into_equal_sections_checks_divisibility():
    def f(x):
        a, b = np.split(x, 2)
        return np.sum(a * b**2)

    grad = symdiff.grad(f, dims={"x": ("n",)})
    for n in (2, 6, 10):
        x = np.random.default_rng(n).normal(size=n)
        np.testing.assert_allclose(grad(x), numerical_gradient(f, [x], 0), rtol=1e-6,
                                   atol=1e-9)
    assert grad.cache_info().compiles == 1
    module = grad.compile(np.ones(4))
    with pytest.raises(ValueError, match=r"np\.split into 2 equal sections needs n divisible "
                       r"by 2, but n = 5 \(x has shape \(n,\)\)"):
        module.grad(np.ones(5))


def test_split_of_a_column_axis_into_three():
    def f(X):
        a, _, c = np.split(X, 3, axis=1)
        return np.sum(np.sin(c) * a)

    grad = symdiff.grad(f)  # dims="auto": both sizes symbolic, 3 divides d
    for n, d in ((2, 3), (4, 9), (3, 12)):
        X = np.random.default_rng(d).normal(size=(n, d))
        np.testing.assert_allclose(grad(X), numerical_gradient(f, [X], 0), rtol=1e-6,
                                   atol=1e-9)
    assert grad.cache_info().compiles == 1
    assert re.search(r"if d % 3 != 0:", grad.source)


def test_what_still_needs_a_number_names_it_and_the_fix():
    with pytest.raises(SymbolicDimError, match=r"test_symbolic_ops\.py:\d+: the size n .*"
                       r"slices it with step -2.*--shape"):
        symdiff.grad(lambda x: np.sum(x[::-2]), dims={"x": ("n",)})(np.ones(4))
    with pytest.raises(SymbolicDimError, match=r"the size n .*np\.array_split"):
        symdiff.grad(lambda x: np.sum(np.array_split(x, 3)[0]), dims={"x": ("n",)})(np.ones(4))
    with pytest.raises(SymbolicDimError, match=r"the sizes d, n .*diagonal of a matrix whose "
                       r"sides differ by a symbolic size"):
        symdiff.grad(lambda A: np.trace(A), dims={"A": ("n", "d")})(np.ones((3, 4)))


def test_split_at_a_size_that_does_not_divide_keeps_it_fixed_under_auto():
    def f(x):
        return np.sum(np.split(x, 2)[0] ** 2)

    grad = symdiff.grad(f)
    x = np.arange(6.0)
    np.testing.assert_allclose(grad(x), numerical_gradient(f, [x], 0), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="equal division"):  # NumPy's own error, as NumPy
        f(np.arange(5.0))


# -- control flow ------------------------------------------------------------------------
def _branching(x):
    if np.sum(x) > 0:
        return np.sum(x**2) / x.shape[0]
    return np.sum(np.sin(x))


def _newton_sqrt(x):
    y = x
    while np.max(np.abs(y * y - x)) > 1e-3:  # a loop on values: specialised, with guards
        y = 0.5 * (y + x / y)
    return np.sum(y)


def test_if_else_on_values_is_one_module_for_every_size():
    grad = symdiff.grad(_branching)
    for n in (3, 5, 8):
        for sign in (1, -1):
            x = sign * np.random.default_rng(n).uniform(0.5, 2.0, n)
            np.testing.assert_allclose(grad(x), numerical_gradient(_branching, [x], 0),
                                       rtol=1e-6, atol=1e-9)
    assert grad.cache_info().compiles == 1
    assert "n = np.shape(x)[0]" in grad.source


def test_guards_keep_fixed_sizes_and_say_so_when_sizes_are_declared():
    grad = symdiff.grad(_newton_sqrt)  # auto: the guarded path holds at its own size
    for n in (3, 5):
        x = np.random.default_rng(n).uniform(0.5, 2.0, n)
        np.testing.assert_allclose(grad(x), numerical_gradient(_newton_sqrt, [x], 0),
                                   rtol=1e-5)
    with pytest.raises(symdiff.BranchError, match=r"test_symbolic_ops\.py:\d+: _newton_sqrt "
                       r"branches .*with symbolic sizes the path taken at one size does not "
                       r"hold for the others: give the sizes as numbers"):
        symdiff.grad(_newton_sqrt, dims={"x": ("n",)})(np.ones(3) + 1)


# -- symdiff emit: checked at sizes that meet the program's requirements -------------------
PROGRAM = '''import numpy as np


def thirds(X):
    a, _, c = np.split(X, 3, axis=1)
    return np.sum(a * np.sin(c)) + np.trace(X[:, :X.shape[0]] @ X[:, :X.shape[0]].T)
'''


def test_emit_checks_at_sizes_where_split_and_slices_are_defined(tmp_path):
    """np.split into 3 needs d % 3 == 0, X[:, :n] needs d >= n: the emit-time gradcheck
    picks two such instantiations of (n, d) instead of failing at 3 x 4."""
    from symdiff.cli import main

    source, out = tmp_path / "thirds.py", tmp_path / "grad_thirds.py"
    source.write_text(PROGRAM)
    assert main(["emit", f"{source}:thirds", "--shape", "X=n,d", "-o", str(out)]) == 0
    namespace: dict = {}
    exec(compile(out.read_text(), str(out), "exec"), namespace)
    ns: dict = {}
    exec(PROGRAM, ns)
    for n, d in ((2, 3), (4, 9), (5, 6)):
        X = np.random.default_rng(d).normal(size=(n, d))
        np.testing.assert_allclose(namespace["grad_thirds"](X),
                                   numerical_gradient(ns["thirds"], [X], 0), rtol=1e-6,
                                   atol=1e-9)
    with pytest.raises(ValueError, match="divisible by 3"):
        namespace["grad_thirds"](np.ones((2, 4)))
