"""Generated modules run unchanged on Dask arrays (NumPy dispatches every call of
the module to Dask): each gradient below is compiled once from small NumPy examples
with symbolic sizes, then called with Dask arrays; the result must stay a Dask
array (nothing was pulled to the client) and equal the module's result on the same
data as NumPy arrays. docs/dask.md lists these programs."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

from symdiff.compile import compile_gradient

da = pytest.importorskip("dask.array")
import dask  # noqa: E402  (after the skip: dask is an optional extra)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"dask_example_{name}",
                                                  ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rng = np.random.default_rng(0)


def _data(n=40, d=3):
    X = rng.normal(size=(n, d))
    return X, (rng.random(n) < 0.5).astype(np.float64)


# -- programs a user writes (the examples, and the shapes of the failures) -------
def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def padded_smoothness(x):
    p = np.pad(x, 1)
    return np.sum((p[2:] - 2 * p[1:-1] + p[:-2]) ** 2)


IDX = np.array([0, 2, 2, 5, 0, 0])


def embedding_lookup(E, y):
    return np.sum((E[IDX] @ np.ones(3) - y) ** 2)


def softmax_cross_entropy(W, X, labels):
    z = X @ W
    z = z - np.max(z, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    onehot = labels[:, None] == np.arange(4)
    return -np.mean(np.sum(onehot.astype(np.float64) * logp, axis=1))


def ridge_least_squares(w, X, y):
    r = X @ w - y
    return 0.5 * np.mean(r ** 2) + 0.01 * np.sum(w ** 2)


def relu_layer(W, X):
    return np.sum(np.maximum(X @ W, 0.0) ** 2) / X.shape[0]


def huber(w, X, y):
    r = X @ w - y
    return np.mean(np.where(np.abs(r) < 1.0, 0.5 * r ** 2, np.abs(r) - 0.5))


def _programs():
    X, y = _data()
    logreg, linreg = _example("logistic_regression"), _example("linear_regression")
    mlp, softmax = _example("mlp"), _example("softmax_regression")
    newton, chain = _example("logistic_newton"), _example("chain_rule")
    moons = _example("two_moons_mlp")
    Xn, yn = newton.make_data(40)
    return {
        "logistic_regression.loss": (logreg.loss, (rng.normal(size=3), 0.1, X, y), (0, 1)),
        "linear_regression.mse": (linreg.mse, (rng.normal(size=3), 0.2, X, X @ [1, 2, 3.]),
                                  (0, 1)),
        "mlp.loss": (mlp.loss, mlp.make_inputs(), (0, 1, 2, 3)),
        "softmax_regression.loss": (softmax.loss, softmax.example_inputs_loss(), (0, 1)),
        "logistic_newton.bce_with_logits": (newton.bce_with_logits,
                                            (rng.normal(size=Xn.shape[1]), Xn, yn), 0),
        "chain_rule.out": (chain.out, (rng.normal(size=7),), 0),
        "two_moons_mlp.loss": (moons.loss, (*moons.init_params(), *moons.make_moons(40)),
                               (0, 1, 2, 3)),
        "rosenbrock": (rosenbrock, (rng.normal(size=9),), 0),
        "padded_smoothness": (padded_smoothness, (rng.normal(size=9),), 0),
        "embedding_lookup": (embedding_lookup, (rng.normal(size=(6, 3)), rng.normal(size=6)),
                             0),
        "softmax_cross_entropy": (softmax_cross_entropy,
                                  (rng.normal(size=(3, 4)), X, rng.integers(0, 4, 40)), 0),
        "ridge_least_squares": (ridge_least_squares, (rng.normal(size=3), X, y), 0),
        "relu_layer": (relu_layer, (rng.normal(size=(3, 5)), X), 0),
        "huber": (huber, (rng.normal(size=3), X, 3 * y), 0),
    }


PROGRAMS = _programs()


def _lazy(value):
    """The argument as a Dask array of two or more chunks (Python floats stay)."""
    if isinstance(value, np.ndarray) and value.ndim:
        return da.from_array(value, chunks=tuple(max(1, s // 2) for s in value.shape))
    return value


def _results(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_the_emitted_gradient_runs_on_dask_arrays(name):
    fn, args, argnums = PROGRAMS[name]
    compiled = compile_gradient(fn, args, argnums, dims="auto")
    expected = _results(compiled.grad(*args))
    with dask.config.set(scheduler="synchronous"):
        lazy = _results(compiled.grad(*map(_lazy, args)))
        got = dask.compute(*lazy)
    assert any(isinstance(v, da.Array) for v in lazy), "no Dask array came back"
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)


def test_at_least_twelve_programs_are_checked():
    assert len(PROGRAMS) >= 12


def test_a_dask_array_of_unknown_chunk_sizes_is_a_clear_error():
    X, y = _data()
    fn, args, nums = PROGRAMS["logistic_regression.loss"]
    compiled = compile_gradient(fn, args, nums, dims="auto")
    Xd = _lazy(X)
    unknown = Xd[Xd[:, 0] > -10]  # boolean selection: Dask does not know the row count
    with pytest.raises(ValueError, match=r"X\.compute_chunk_sizes\(\)"):
        compiled.grad(args[0], args[1], unknown, _lazy(y))


def test_the_fixed_size_check_does_not_pull_the_array():
    """`np.asarray(X)` in the check would compute X; reading X.dtype does not."""
    X, y = _data()
    compiled = compile_gradient(ridge_least_squares,
                                (np.zeros(3), X, y), 0)
    calls = []
    Xd = _lazy(X).map_blocks(lambda b: calls.append(b.shape) or b, dtype=X.dtype)
    calls.clear()  # (map_blocks ran it once on an empty block to learn its type)
    compiled.grad(np.zeros(3), Xd, y)
    assert calls == []


def _poisoned(value: np.ndarray):
    """`value` as a Dask array whose every chunk raises when computed."""
    def refuse(block):
        raise AssertionError("a chunk of the argument was computed")

    good = _lazy(value)
    return good.map_blocks(refuse, dtype=value.dtype, meta=np.empty((0,) * value.ndim,
                                                                     value.dtype))


def test_the_decorator_reads_only_shape_and_dtype_of_a_dask_argument():
    """The cache key (and the description of the arguments for compiling) read a Dask
    array's shape and dtype; computing it would pull it to the client."""
    import symdiff
    from symdiff.api import _cache_key

    X, y = _data()
    Xp, yp = _poisoned(X), _poisoned(y)
    assert _cache_key((np.zeros(3), Xp, yp)) == (
        ((3,), np.dtype(np.float64)), ((40, 3), "<f8", type(Xp)), ((40,), "<f8", type(yp)))
    grad = symdiff.grad(ridge_least_squares)
    lazy = grad(np.zeros(3), Xp, yp)  # compiles from the metadata alone
    assert isinstance(lazy, da.Array)
    lazy = grad(np.ones(3), Xp, yp)  # the cached module
    assert isinstance(lazy, da.Array) and grad.cache_info().compiles == 1
    with dask.config.set(scheduler="synchronous"):
        got = grad(np.ones(3), _lazy(X), _lazy(y)).compute()
    np.testing.assert_allclose(got, X.T @ (X @ np.ones(3) - y) / 40 + 0.02, rtol=1e-12)


def test_the_decorator_names_a_dask_argument_of_unknown_chunk_sizes():
    import symdiff

    X, y = _data()
    Xd = _lazy(X)
    unknown = Xd[Xd[:, 0] > -10]
    with pytest.raises(symdiff.errors.InputError, match=r"X\.compute_chunk_sizes\(\)"):
        symdiff.grad(ridge_least_squares)(np.zeros(3), unknown, _lazy(y))
