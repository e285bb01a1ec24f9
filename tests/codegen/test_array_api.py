"""The Array-API mode (`xp=True`, `symdiff emit --xp`): each program of the shared
table is compiled once with symbolic sizes into a module that takes its namespace from
its arguments and calls only standard functions; the module runs on NumPy arrays
(checked against central differences), and on array-api-strict (the standard 2023.12
itself), Dask and jax.numpy arrays (checked against the same module on NumPy). JAX
runs the modules without writes in place (its arrays are immutable)."""

from __future__ import annotations

import functools
import io
import re
import subprocess
import sys
import tokenize

import numpy as np
import pytest
from array_programs import PROGRAMS, ROOT, STEPPING, make_data

from symdiff.compile import compile_gradient
from symdiff.errors import ArrayAPIError, InputError
from symdiff.verify import numerical_gradient

ALL = {**PROGRAMS, **STEPPING}
LIBRARIES = ("numpy", "array_api_strict", "dask", "jax")


def _results(result):
    return result if isinstance(result, tuple) else (result,)


@functools.cache
def _module(name: str):
    fn, args, argnums = ALL[name]
    return compile_gradient(fn, args, argnums, dims="auto", xp=True)


def _nums(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _code_names(source: str) -> set[str]:
    """The names the module's code uses (comments and strings left out)."""
    return {tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.NAME}


def _writes_in_place(source: str) -> bool:
    return re.search(r"^\s*\w+\[[^\]]*\] = ", source, re.M) is not None


# -- each library: arrays of it, and a context to compute in --------------------------
def _convert(library: str, value):
    if not isinstance(value, np.ndarray):
        return value
    if library == "numpy":
        return value
    if library == "array_api_strict":
        import array_api_strict

        return array_api_strict.asarray(value)
    if library == "dask":
        import dask.array as da

        return da.from_array(value, chunks=tuple(max(1, s // 2) for s in value.shape))
    import jax.numpy as jnp

    return jnp.asarray(value)


def _run(library: str, compiled, args) -> list[np.ndarray]:
    """The gradient computed on `library`'s arrays, back as NumPy arrays."""
    if library == "array_api_strict":
        import array_api_strict

        with array_api_strict.ArrayAPIStrictFlags(api_version="2023.12"):
            got = _results(compiled.grad(*(_convert(library, a) for a in args)))
            assert all(type(g).__module__.startswith("array_api_strict") for g in got)
            return [np.asarray(g) for g in got]
    if library == "dask":
        import dask

        with dask.config.set(scheduler="synchronous"):
            lazy = _results(compiled.grad(*(_convert(library, a) for a in args)))
            assert all(type(g).__module__.startswith("dask") for g in lazy)
            return list(dask.compute(*lazy))
    if library == "jax":
        import jax

        with jax.enable_x64(True):
            got = _results(compiled.grad(*(_convert(library, a) for a in args)))
            assert all(type(g).__module__.startswith("jax") for g in got)
            return [np.asarray(g) for g in got]
    return [np.asarray(g) for g in _results(compiled.grad(*args))]


@pytest.mark.parametrize("name", sorted(ALL))
def test_the_module_has_no_numpy_and_matches_central_differences(name):
    fn, args, argnums = ALL[name]
    compiled = _module(name)
    names = _code_names(compiled.source)
    assert "np" not in names and "numpy" not in names
    assert "from array_api_compat import array_namespace" in compiled.source
    got = _run("numpy", compiled, args)
    for g, i in zip(got, _nums(argnums)):
        np.testing.assert_allclose(g, numerical_gradient(fn, args, i), rtol=1e-6,
                                   atol=1e-7, err_msg=f"d/d arg {i}")


@pytest.mark.parametrize("library", LIBRARIES[1:])
@pytest.mark.parametrize("name", sorted(ALL))
def test_the_module_runs_on_other_array_libraries(name, library):
    pytest.importorskip(library)
    compiled = _module(name)
    if library == "jax" and _writes_in_place(compiled.source):
        pytest.skip("the module writes into arrays in place; JAX arrays are immutable")
    args = ALL[name][1]
    expected = _run("numpy", compiled, args)
    for g, e in zip(_run(library, compiled, args), expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_no_module_of_the_table_writes_in_place():
    """Scatters at slices and ints print as padding, loop stacks as appended lists:
    so JAX runs every program of the table."""
    assert [n for n in sorted(ALL) if _writes_in_place(_module(n).source)] == []


# -- lowerings of what the standard lacks ---------------------------------------------
def bilinear(A, x, y):
    return np.einsum("ij,i,j->", A, x, y) + np.sum(np.einsum("ij,jk->ki", A, A))


def running_total(x):
    return np.sum(np.cumsum(x) ** 2) + np.sum(np.where(x > 0, 1.0, 2.0) * x)


@pytest.mark.parametrize("fn, shapes", [(bilinear, [(3, 3), (3,), (3,)]),
                                        (running_total, [(7,)])])
def test_lowered_einsum_cumsum_and_where_of_numbers(fn, shapes):
    array_api_strict = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(1)
    args = [rng.normal(size=s) for s in shapes]
    compiled = compile_gradient(fn, args, tuple(range(len(args))), xp=True)
    assert "einsum" not in _code_names(compiled.source)
    assert "cumsum" not in _code_names(compiled.source)
    with array_api_strict.ArrayAPIStrictFlags(api_version="2023.12"):
        got = compiled.grad(*map(array_api_strict.asarray, args))
    for i, g in enumerate(got):
        np.testing.assert_allclose(np.asarray(g), numerical_gradient(fn, args, i),
                                   rtol=1e-6, atol=1e-7)


# -- bad input ----------------------------------------------------------------------------
def cumulative_product(x):
    return np.sum(np.cumprod(x))


def test_an_op_outside_the_standard_is_a_typed_error_naming_op_and_line():
    with pytest.raises(ArrayAPIError) as info:
        compile_gradient(cumulative_product, (np.ones(4) * 0.5,), 0, xp=True)
    message = str(info.value)
    assert "cumprod" in message and "drop --xp" in message
    assert re.search(r"test_array_api\.py:\d+", message)


def test_arrays_of_two_libraries_are_a_clear_error():
    array_api_strict = pytest.importorskip("array_api_strict")
    fn, args, argnums = PROGRAMS["ridge_least_squares"]
    compiled = _module("ridge_least_squares")
    w, X, y = args
    with pytest.raises(TypeError, match=r"different libraries .*X: array_api_strict"):
        compiled.grad(w, array_api_strict.asarray(X), y)


def test_a_dask_array_of_unknown_chunk_sizes_is_a_clear_error():
    pytest.importorskip("dask")
    X, y = make_data()
    compiled = _module("ridge_least_squares")
    Xd = _convert("dask", X)
    unknown = Xd[Xd[:, 0] > -10]
    with pytest.raises(ValueError, match=r"X\.compute_chunk_sizes\(\)"):
        compiled.grad(_convert("dask", np.zeros(3)), unknown, _convert("dask", y))


def test_xp_does_not_combine_with_the_numba_backend():
    with pytest.raises(InputError, match="does not combine"):
        compile_gradient(cumulative_product, (np.ones(4),), 0, xp=True, backend="numba")


@pytest.mark.parametrize("library", ["numpy", "array_api_strict"])
def test_the_decorators_pass_xp_on(library):
    import symdiff

    pytest.importorskip(library)
    X, y = make_data()
    fn = PROGRAMS["ridge_least_squares"][0]
    grad = symdiff.grad(fn, xp=True)
    got = grad(*(_convert(library, a) for a in (np.ones(3), X, y)))
    assert "array_namespace" in grad.source
    assert type(got).__module__.startswith(library)
    np.testing.assert_allclose(np.asarray(got), X.T @ (X @ np.ones(3) - y) / len(y) + 0.02,
                               rtol=1e-12)


def hinge(w, x):
    margin = np.sum(w * x)
    if margin < 1.0:
        return 1.0 - margin
    return 0.0 * margin


def test_a_branch_on_a_traced_value_is_a_typed_error_in_xp_mode():
    with pytest.raises(ArrayAPIError, match=r"test_array_api\.py:\d+: a Python if/while .*np\.where"):
        compile_gradient(hinge, (np.ones(3), np.ones(3) * 0.1), 0, xp=True)


# -- the command line ---------------------------------------------------------------------
def test_symdiff_emit_xp_writes_a_module_without_numpy(tmp_path):
    out = tmp_path / "grad_logistic_xp.py"
    subprocess.run([sys.executable, "-m", "symdiff", "emit",
                    "examples/logistic_regression.py:loss", "--wrt", "w,b", "--xp",
                    "--format", "none", "-o", str(out)], cwd=ROOT, check=True,
                   capture_output=True, text=True)
    text = out.read_text()
    assert "np." not in "\n".join(line for line in text.splitlines()
                                  if not line.lstrip().startswith("#"))
    assert "import numpy" not in text and "--xp" in text
    names = _code_names(text)
    assert "np" not in names and "numpy" not in names
