"""Symbolic dimensions: one module for every size.

Expected values come from central differences of the user's function at each size
(`symdiff.verify.numerical_gradient`), or from NumPy itself.
"""

import importlib.util
import os
import re

import numpy as np
import pytest

import symdiff
from symdiff.cli import main
from symdiff.errors import ShapeError, SymbolicDimError
from symdiff.verify import numerical_gradient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")


def _emit(tmp_path, target, *options):
    out = tmp_path / "module.py"
    assert main(["emit", os.path.join(EXAMPLES, target), *options, "-o", str(out)]) == 0
    spec = importlib.util.spec_from_file_location(f"m{abs(hash(str(out)))}", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, out.read_text()


def _example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assert_gradients(grad, fn, args, wrt):
    grads = grad(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for g, i in zip(grads, wrt):
        np.testing.assert_allclose(g, numerical_gradient(fn, args, i), rtol=1e-6, atol=1e-8)


# -- one emitted module, gradients right at several sizes ----------------------------------
def _linear_args(rng, n, d):
    return [rng.normal(size=d), 0.3, rng.normal(size=(n, d)), rng.normal(size=n)]


def _logistic_args(rng, n, d):
    return [rng.normal(size=d), -0.2, rng.normal(size=(n, d)), (rng.random(n) < .5) * 1.0]


def _mlp_args(rng, n, d, k=5):
    return [rng.normal(size=(d, k)), rng.normal(size=k), rng.normal(size=k), 0.1,
            rng.normal(size=(n, d)), rng.normal(size=n)]


def _softmax_args(rng, n, d, k=4):
    return [rng.normal(size=(d, k)), rng.normal(size=k), rng.normal(size=(n, d)),
            np.eye(k)[rng.integers(0, k, size=n)]]


BATCH_EXAMPLES = {
    "linear": ("linear_regression.py:mse", ["--wrt", "w,b", "--shape", "w=d",
                                            "--shape", "X=n,d", "--shape", "y=n"],
               "linear_regression", "mse", _linear_args, (0, 1)),
    "logistic": ("logistic_regression.py:loss", ["--wrt", "w,b", "--dims", "auto"],
                 "logistic_regression", "loss", _logistic_args, (0, 1)),
    "mlp": ("mlp.py:loss", ["--wrt", "W1,b1,W2,b2", "--example", "make_inputs",
                            "--dims", "auto"], "mlp", "loss", _mlp_args, (0, 1, 2, 3)),
    "softmax": ("softmax_regression.py:loss", ["--wrt", "W,b", "--dims", "auto"],
                "softmax_regression", "loss", _softmax_args, (0, 1)),
}


@pytest.mark.parametrize("case", sorted(BATCH_EXAMPLES))
def test_one_emitted_module_is_right_at_several_sizes(case, tmp_path):
    target, options, example, func, make, wrt = BATCH_EXAMPLES[case]
    module, source = _emit(tmp_path, target, *options)
    fn = getattr(_example(example), func)
    assert re.search(r"\n    n(, _)* = np\.shape\(X\)\n", source)  # the batch size is bound
    rng = np.random.default_rng(7)
    for n, d in ((1, 2), (5, 3), (37, 6)):
        args = make(rng, n, d)
        value, _ = getattr(module, f"value_and_grad_{func}")(*args)
        assert value == pytest.approx(fn(*args), rel=1e-12)
        _assert_gradients(getattr(module, f"grad_{func}"), fn, args, wrt)


def test_mean_prints_as_a_division_by_the_bound_size(tmp_path):
    _, source = _emit(tmp_path, "logistic_regression.py:loss", "--wrt", "w,b",
                      "--shape", "X=n,3", "--shape", "w=3", "--shape", "y=n")
    assert "    n, _ = np.shape(X)\n" in source
    assert "/n" in source and "1/100" not in source
    assert "X: float64[n, 3]" in source and "y: float64[n]" in source


# -- the decorator: once per rank, dtype and pattern of size-1 dimensions ------------------
def test_decorator_compiles_once_for_batch_sizes_10_11_and_1000():
    logistic = _example("logistic_regression").loss
    grad = symdiff.grad(logistic, argnums=(0, 1))
    rng = np.random.default_rng(3)
    for n in (10, 11, 1000):
        _assert_gradients(grad, logistic, _logistic_args(rng, n, 3), (0, 1))
    info = grad.cache_info()
    assert info.compiles == 1 and info.hits == 2 and info.modules == 1
    assert "    n, _ = np.shape(X)\n" in grad.source


def test_a_size_one_dimension_is_its_own_pattern():
    grad = symdiff.grad(lambda x, y: np.sum((x - y) ** 2))
    x = np.arange(4.0)
    np.testing.assert_allclose(grad(x, np.ones(4)), 2 * (x - 1))
    np.testing.assert_allclose(grad(x, np.ones(1)), 2 * (x - 1))  # broadcast: another module
    assert grad.cache_info().compiles == 2


def test_dims_fixed_compiles_per_shape():
    grad = symdiff.grad(lambda x: np.mean(x**2), dims="fixed")
    grad(np.ones(3)), grad(np.ones(4))
    assert grad.cache_info().compiles == 2
    assert "1/4" in grad.source and "1/3" in grad.compile(np.ones(3)).source


def test_declared_dims_in_the_python_api():
    mse = _example("linear_regression").mse
    grad = symdiff.grad(mse, argnums=0, dims={"X": ("n", "d"), "w": ("d",), "y": ("n",)})
    rng = np.random.default_rng(0)
    for n in (4, 9):
        args = _linear_args(rng, n, 2)
        np.testing.assert_allclose(grad(*args), numerical_gradient(mse, args, 0), rtol=1e-6)
    assert grad.cache_info().compiles == 1


def test_a_loop_over_a_symbolic_size_folds_into_one_module_for_every_size():
    def total(x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + x[i] ** 2
        return s

    grad = symdiff.grad(total)
    for n in (3, 4, 11, 2):  # (a size of 1 is another module: it broadcasts)
        np.testing.assert_allclose(grad(np.arange(float(n))), 2 * np.arange(float(n)))
    assert grad.cache_info().compiles == 1  # `for i in range(n):` with n = np.shape(x)
    assert "for i in range(n):" in grad.compile(np.ones(3)).source


def _alternating(x):
    s = 0.0
    for i in range(x.shape[0]):
        if i % 2:  # the iterations differ: the loop unrolls, and needs the size
            s = s + x[i] ** 2
    return s


def test_a_loop_that_unrolls_keeps_its_size_under_auto():
    grad = symdiff.grad(_alternating)
    np.testing.assert_allclose(grad(np.arange(3.0)), [0, 2, 0])
    np.testing.assert_allclose(grad(np.arange(4.0)), [0, 2, 0, 6])
    assert grad.cache_info().compiles == 2  # one module per size


def test_a_loop_that_unrolls_over_a_declared_symbolic_size_names_dimension_line_and_fix():
    with pytest.raises(SymbolicDimError, match=r"test_symbolic_dims\.py:\d+: the size n \(axis "
                       r"0 of x, of shape \(n,\)\) is symbolic.*needs its concrete value"
                       r".*--shape x=<size>"):
        symdiff.grad(_alternating, dims={"x": ("n",)})(np.ones(3))


# -- bad input to a symbolic module -------------------------------------------------------
@pytest.fixture(scope="module")
def logistic_module():
    logistic = _example("logistic_regression").loss
    return symdiff.grad(logistic, argnums=(0, 1)).compile(
        np.zeros(3), 0.0, np.zeros((10, 3)), np.zeros(10)).module


def test_relation_between_arguments_is_checked(logistic_module):
    with pytest.raises(ValueError, match=re.escape(
            "w must have shape (d,) = (3,) where X has shape (n, d) = (5, 3), got (4,)")):
        logistic_module.grad_loss(np.zeros(4), 0.0, np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match=re.escape(
            "y must have shape (n,) = (5,) where X has shape (n, d) = (5, 3), got (6,)")):
        logistic_module.grad_loss(np.zeros(3), 0.0, np.zeros((5, 3)), np.zeros(6))


def test_zero_sizes_and_wrong_ranks_are_rejected(logistic_module):
    with pytest.raises(ValueError, match=r"X must have shape \(n, d\) with n and d at least 1, "
                       r"got \(0, 3\)"):
        logistic_module.grad_loss(np.zeros(3), 0.0, np.zeros((0, 3)), np.zeros(0))
    with pytest.raises(ValueError, match=r"X must have shape \(n, d\) \(2 dimensions\), got"):
        logistic_module.grad_loss(np.zeros(3), 0.0, np.zeros(5), np.zeros(5))


def test_a_dimension_bound_to_two_sizes_is_rejected():
    square = symdiff.grad(lambda A: np.sum(A * A.T), dims={"A": ("n", "n")})
    np.testing.assert_allclose(square(np.eye(3)), 2 * np.eye(3))
    with pytest.raises(ValueError, match=re.escape("A must have shape (n, n) = (3, 3)")):
        square.compile(np.eye(3)).grad(np.ones((3, 4)))


def test_a_fixed_size_rejects_size_one():
    grad = symdiff.grad(lambda W, x: np.sum(np.tanh(x @ W)), dims={"x": ("n", 3)})
    module = grad.compile(np.ones((3, 2)), np.ones((5, 3))).module
    with pytest.raises(ValueError, match=r"W must have shape \(3, 2\), got \(1, 2\)"):
        module.grad_f(np.ones((1, 2)), np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 3\) = \(5, 3\)"):
        module.grad_f(np.ones((3, 2)), np.ones((5, 1)))


def test_a_size_one_where_the_program_relied_on_more_is_rejected():
    # np.squeeze without an axis drops every axis of size 1: at n = 1 NumPy would drop
    # the rows too, so the module traced for n rows refuses n = 1 instead of computing
    # something else than the function
    grad = symdiff.grad(lambda x: np.sum(np.squeeze(x) ** 2), dims={"x": ("n", 1)})
    np.testing.assert_allclose(grad(np.full((3, 1), 2.0)), np.full((3, 1), 4.0))
    with pytest.raises(ValueError, match=r"np\.squeeze without an axis .* needs n >= 2, but "
                       r"n = 1 \(x has shape \(n, 1\)\)"):
        grad.compile(np.ones((3, 1))).grad(np.ones((1, 1)))
    auto = symdiff.grad(lambda x: np.sum(np.squeeze(x) ** 2))  # n = 1: its own module
    np.testing.assert_allclose(auto(np.full((1, 1), 2.0)), [[4.0]])
    np.testing.assert_allclose(auto(np.full((3, 1), 2.0)), np.full((3, 1), 4.0))
    assert auto.cache_info().compiles == 2


def test_two_declared_dimensions_never_broadcast_silently():
    with pytest.raises(ShapeError, match="could not be broadcast"):
        symdiff.grad(lambda x, y: np.sum(x * y), dims={"x": ("n",), "y": ("m",)})(
            np.ones(3), np.ones(3))


# -- shapes that depend on the sizes --------------------------------------------------------
def test_slices_have_symbolic_lengths_and_their_needs_are_checked():
    def smooth(x):
        d = x[1:] - x[:-1]
        return np.sum(d**2) + np.mean(x[2:])

    grad = symdiff.grad(smooth, dims={"x": ("n",)})
    for n in (3, 8):
        x = np.random.default_rng(n).normal(size=n)
        np.testing.assert_allclose(grad(x), numerical_gradient(smooth, [x], 0), rtol=1e-6)
    source = grad.source
    assert "x[1:] - x[:-1]" in source and "n - 2" in source
    with pytest.raises(ValueError, match=r"np\.mean over n - 2 elements needs n >= 3, but n = 2"):
        grad(np.ones(2))


def test_reshape_determined_by_the_sizes():
    def f(X):
        return np.sum(np.reshape(X, -1) ** 3)

    grad = symdiff.grad(f, dims={"X": ("n", "d")})
    X = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(grad(X), 3 * X**2, rtol=1e-12)
    assert "(d*n,)" in grad.source or "(n*d,)" in grad.source or "-1" in grad.source

    def halves(x):
        return np.sum(np.reshape(x, (-1, 2)) ** 2)

    with pytest.raises(SymbolicDimError, match=r"the size n \(axis 0 of x.* reshapes n "
                       r"elements to \(-1, 2\), which is only determined for some sizes"):
        symdiff.grad(halves, dims={"x": ("n",)})(np.ones(4))


def test_concatenate_stack_pad_and_constant_indices_with_symbolic_sizes():
    def f(x, y):
        z = np.concatenate([x, 2 * y])
        s = np.stack([x, x**2])
        p = np.pad(x, (1, 2))
        return np.sum(z**2) + np.sum(s * s) + np.sum(p[[0, 1, 2]] ** 3)

    grad = symdiff.grad(f, argnums=(0, 1), dims={"x": ("n",), "y": ("m",)})
    for n, m in ((3, 2), (6, 5)):
        rng = np.random.default_rng(n)
        args = [rng.normal(size=n), rng.normal(size=m)]
        _assert_gradients(grad, f, args, (0, 1))
    assert grad.cache_info().compiles == 1


def test_item_assignment_with_symbolic_sizes():
    def f(x):
        y = np.zeros_like(x)
        y[1:] = x[:-1] ** 2
        y[0] = x[-1]
        return np.sum(y * x)

    grad = symdiff.grad(f, dims={"x": ("n",)})
    for n in (2, 7):
        x = np.random.default_rng(n).normal(size=n)
        np.testing.assert_allclose(grad(x), numerical_gradient(f, [x], 0), rtol=1e-6)


def test_sizes_in_user_arithmetic_and_numpy_functions():
    def attention_scale(q, k):
        return np.sum(np.tanh(q @ k.T / np.sqrt(q.shape[-1]))) / q.shape[0]

    grad = symdiff.grad(attention_scale, dims={"q": ("n", "d"), "k": ("m", "d")})
    rng = np.random.default_rng(1)
    for n, m, d in ((2, 3, 4), (5, 2, 3)):
        args = [rng.normal(size=(n, d)), rng.normal(size=(m, d))]
        np.testing.assert_allclose(grad(*args), numerical_gradient(attention_scale, args, 0),
                                   rtol=1e-6)
    assert "np.sqrt(d)" in grad.source


def test_float32_code_stays_float32_with_sizes_in_functions():
    f = symdiff.value_and_grad(lambda x: np.std(x))
    x = np.array([[1.0, -2.0, 0.5], [0.3, 1.2, -0.7]], dtype=np.float32)
    value, g = f(x)
    assert np.asarray(value).dtype == np.float32 and g.dtype == np.float32
    assert value == pytest.approx(np.std(x), rel=1e-6)


def test_a_user_variable_named_like_a_dimension_is_renamed():
    def f(w, X):
        n = X @ w  # the user's own `n`
        return np.mean(n**2)

    grad = symdiff.grad(f, dims={"X": ("n", "d"), "w": ("d",)})
    rng = np.random.default_rng(2)
    args = [rng.normal(size=3), rng.normal(size=(6, 3))]
    np.testing.assert_allclose(grad(*args), numerical_gradient(f, args, 0), rtol=1e-6)


@pytest.mark.parametrize("name", ["np", "class", "_n", "w", "1n", "n-1"])
def test_dimension_names_are_validated(name):
    with pytest.raises(symdiff.errors.InputError, match="cannot name a dimension"):
        symdiff.grad(lambda w, X: np.sum(X @ w), dims={"X": (name, 3)})(
            np.ones(3), np.ones((2, 3)))


# -- derivatives beyond the gradient -------------------------------------------------------
def test_logistic_hessian_in_closed_form_for_every_n():
    logistic = _example("logistic_regression").loss
    hess = symdiff.hessian(logistic)
    grad = symdiff.grad(logistic)
    rng = np.random.default_rng(5)
    for n in (4, 30):
        w, b, X, y = _logistic_args(rng, n, 3)
        H = hess(w, b, X, y)
        numeric = np.stack([numerical_gradient(lambda w_, b=b, X=X, y=y, i=i: grad(w_, b, X, y)[i], [w], 0)
                            for i in range(3)])
        np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-8)
    assert hess.cache_info().compiles == 1
    assert re.search(r"= X\.T @ \(X\*\(\(?-?1/n\)?\*\(.*\)\[:, None\]\)\n", hess.source)


def test_vjp_and_jvp_modules_with_symbolic_sizes():
    def f(X, w):
        return np.tanh(X @ w)

    compiled = symdiff.compile_gradient(
        f, [symdiff.ShapeDtype((symdiff.dim("n"), 3)), symdiff.ShapeDtype((3,))],
        argnums=(0, 1), kinds=("vjp", "jvp"))
    rng = np.random.default_rng(0)
    for n in (2, 6):
        X, w, ct = rng.normal(size=(n, 3)), rng.normal(size=3), rng.normal(size=n)
        dX, dw = compiled.function("vjp")(X, w, ct)
        np.testing.assert_allclose(dw, numerical_gradient(lambda w_, ct=ct, X=X: ct @ f(X, w_), [w], 0),
                                   rtol=1e-6)
        tX, tw = rng.normal(size=(n, 3)), rng.normal(size=3)
        _, tangent = compiled.function("jvp")(X, w, tX, tw)
        h = 1e-6
        numeric = (f(X + h * tX, w + h * tw) - f(X - h * tX, w - h * tw)) / (2 * h)
        np.testing.assert_allclose(tangent, numeric, rtol=1e-6)


# -- the NumPy surface with a symbolic length: exact for every n, or a typed error -------
SYMBOLIC_OK = {
    "tile": lambda x: np.sum(np.tile(x, 2) ** 2),
    "repeat": lambda x: np.sum(np.repeat(x, 2) ** 2),
    "roll": lambda x: np.sum(np.roll(x, 1) * x**2),
    "cumsum": lambda x: np.sum(np.cumsum(x) ** 2),
    "outer": lambda x: np.sum(np.outer(x, x) ** 2),
    "stack": lambda x: np.sum(np.stack([x, 2 * x], axis=1) ** 2),
    "max_min": lambda x: np.max(x**2) + np.min(x),
    "var_std": lambda x: np.var(x) + np.std(x, ddof=1),
    "flip": lambda x: np.sum(np.flip(x) * x**2),
    "take": lambda x: np.sum(np.take(x, [0, 2]) ** 2),
    "last_by_size": lambda x: x[x.shape[0] - 1] ** 3,
    "take_along_axis": lambda x: np.sum(np.take_along_axis(x[None, :], np.array([[1]]), 1)),
    "logsumexp": lambda x: np.log(np.sum(np.exp(x - np.max(x)))) + np.max(x),
    "vander": lambda x: np.sum(np.vander(x, 3)),
    "norm": lambda x: np.linalg.norm(x),
    "interior_mean": lambda x: np.mean(x[1:-1] ** 2),
    "split_at": lambda x: np.sum(np.split(x, [1, 3])[2] ** 2) + np.sum(np.split(x, [1])[0]),
    "step_2": lambda x: np.sum(x[::2] ** 2),
    "cumprod": lambda x: np.sum(np.cumprod(x)),
    "diag": lambda x: np.sum(np.diag(x) ** 2),
    "tril": lambda x: np.sum(np.tril(np.outer(x, x))),
    "arange_shape": lambda x: np.sum(x * np.arange(x.shape[0])),
}
NEEDS_A_SIZE = {
    "array_split_in_2": lambda x: np.sum(np.array_split(x, 2)[1] ** 2),
    "step_minus_2": lambda x: np.sum(x[::-2] ** 2),
    "arange_len": lambda x: np.sum(x * np.arange(len(x))),
    "arange_from_1": lambda x: np.sum(x[1:] * np.arange(1, x.shape[0])),
    "size_mod_2": lambda x: np.sum(x[: x.shape[0] % 2 + 1]),
}


@pytest.mark.parametrize("name", sorted(SYMBOLIC_OK))
def test_numpy_functions_stay_symbolic_and_exact(name):
    f = SYMBOLIC_OK[name]
    grad = symdiff.grad(f, dims={"x": ("n",)})
    for n in (4, 7):
        x = np.random.default_rng(n).uniform(0.2, 0.9, n)
        np.testing.assert_allclose(grad(x), numerical_gradient(f, [x], 0), rtol=1e-6,
                                   atol=1e-9)
    assert grad.cache_info().compiles == 1


@pytest.mark.parametrize("name", sorted(NEEDS_A_SIZE))
def test_functions_that_need_a_size_say_so_and_auto_keeps_it(name):
    f = NEEDS_A_SIZE[name]
    with pytest.raises(SymbolicDimError, match=r"test_symbolic_dims\.py:\d+: the size n"):
        symdiff.grad(f, dims={"x": ("n",)})(np.ones(4))
    grad = symdiff.grad(f)  # dims="auto": that size stays a number, one module per size
    for n in (4, 7):
        x = np.random.default_rng(n).uniform(0.2, 0.9, n)
        np.testing.assert_allclose(grad(x), numerical_gradient(f, [x], 0), rtol=1e-6,
                                   atol=1e-9)
    assert grad.cache_info().compiles == 2


def test_comparisons_of_sizes_that_depend_on_them_are_never_answered_silently():
    def square_aware(A):
        if A.shape[0] == A.shape[1]:  # structurally, n == d would be False
            return np.sum(A * A.T)
        return np.sum(A**2)

    with pytest.raises(SymbolicDimError, match=r"the sizes d, n .* compares sizes \(n == d\)"):
        symdiff.grad(square_aware, dims={"A": ("n", "d")})(np.eye(3))
    grad = symdiff.grad(square_aware)  # auto: the comparison keeps these sizes fixed
    A = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(grad(A), numerical_gradient(square_aware, [A], 0), rtol=1e-6)
    B = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(grad(B), 2 * B)


def test_sizes_in_user_code_index_slice_and_reshape():
    def f(x):
        n = x.shape[0]
        return np.sum(x.reshape(n, 1) * x) / n + np.sum(x[: n - 1] ** 2) + x[n - 1]

    grad = symdiff.grad(f)
    for n in (3, 4, 8):
        x = np.arange(1.0, n + 1)
        np.testing.assert_allclose(grad(x), numerical_gradient(f, [x], 0), rtol=1e-6)
    assert grad.cache_info().compiles == 1 and "x[:-1]" in grad.source


def test_a_sum_of_sizes_times_an_array_keeps_its_parentheses():
    # found by tests/api/test_fuzz_sizes.py: sum + mean gives (1 + 1/n) times the
    # derivative, which printed as 1 + 1/n*(...) (a silently wrong gradient)
    def f(x0):
        t0 = np.tan(x0 / (1 + x0 * x0))
        return np.sum(t0) + np.mean(t0)

    grad = symdiff.grad(f)
    x = np.array([0.55, -0.92, -1.84])
    for args in ([x], [np.resize(x, 6)]):
        np.testing.assert_allclose(grad(*args), numerical_gradient(f, args, 0), rtol=1e-6)
    assert "(1 + 1/n)*(" in grad.source


def test_sizes_mix_with_python_and_numpy_numbers():
    def f(x):
        return np.sum(x * (-2.0 / x.shape[0])) + np.sum(x**2) / np.int64(2) / x.T.shape[0]

    grad = symdiff.grad(f)
    for n in (3, 5):
        x = np.arange(1.0, n + 1)
        np.testing.assert_allclose(grad(x), numerical_gradient(f, [x], 0), rtol=1e-6,
                                   atol=1e-8)
    assert grad.cache_info().compiles == 1
