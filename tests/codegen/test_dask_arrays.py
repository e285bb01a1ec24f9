"""Generated modules run unchanged on Dask arrays (NumPy dispatches every call of
the module to Dask): each gradient below is compiled once from small NumPy examples
with symbolic sizes, then called with Dask arrays; the result must stay a Dask
array (nothing was pulled to the client) and equal the module's result on the same
data as NumPy arrays. docs/dask.md lists these programs."""

from __future__ import annotations

import numpy as np
import pytest
from array_programs import PROGRAMS, make_data, ridge_least_squares

from symdiff.compile import compile_gradient

da = pytest.importorskip("dask.array")
import dask  # noqa: E402  (after the skip: dask is an optional extra)


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
    X, y = make_data()
    fn, args, nums = PROGRAMS["logistic_regression.loss"]
    compiled = compile_gradient(fn, args, nums, dims="auto")
    Xd = _lazy(X)
    unknown = Xd[Xd[:, 0] > -10]  # boolean selection: Dask does not know the row count
    with pytest.raises(ValueError, match=r"X\.compute_chunk_sizes\(\)"):
        compiled.grad(args[0], args[1], unknown, _lazy(y))


def test_the_fixed_size_check_does_not_pull_the_array():
    """`np.asarray(X)` in the check would compute X; reading X.dtype does not."""
    X, y = make_data()
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

    X, y = make_data()
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

    X, y = make_data()
    Xd = _lazy(X)
    unknown = Xd[Xd[:, 0] > -10]
    with pytest.raises(symdiff.errors.InputError, match=r"X\.compute_chunk_sizes\(\)"):
        symdiff.grad(ridge_least_squares)(np.zeros(3), unknown, _lazy(y))
