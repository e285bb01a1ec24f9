"""dims="auto" compiles at the example sizes only where the program needs them: an
error symdiff raises about the program, or an exception the user's code raises on a
symbolic size. An exception raised in symdiff's own code while tracing or compiling
at symbolic sizes is a bug and surfaces (it is not hidden by a retry at fixed sizes)."""

import operator

import numpy as np
import pytest

import symdiff
from symdiff import compile as compile_module
from symdiff.ir import dims
from symdiff.trace import symbolic

WEIGHTS = {3: 2.0, 4: 5.0}


def _weighted(x):
    return WEIGHTS[x.shape[0]] * np.sum(x**2)  # KeyError on a symbolic size


def _in_symdiff(source: str, **names):
    """The function `broken` of `source`, its code placed in a symdiff module, as an
    internal error of symdiff's would be."""
    namespace = dict(names)
    exec(compile(source, symbolic.__file__, "exec"), namespace)
    return namespace["broken"]


def test_a_size_the_users_code_looks_up_compiles_one_module_per_size():
    grad = symdiff.grad(_weighted)
    x3, x4 = np.arange(3.0), np.arange(4.0)
    np.testing.assert_array_equal(grad(x3), 2 * 2.0 * x3)  # hand-worked: w * 2x
    np.testing.assert_array_equal(grad(x4), 2 * 5.0 * x4)
    np.testing.assert_array_equal(grad(x3 + 1), 2 * 2.0 * (x3 + 1))
    assert grad.cache_info() == (2, 1, 2)  # one module per size, the second 3 served
    assert grad.compile(x3).specs[0].shape == (3,)


def test_a_branch_on_a_size_compiles_per_size_under_auto():
    def f(x):
        if x.shape[0] > 3:  # SymbolicDimError at a symbolic size
            return np.sum(x**2)
        return np.sum(x**3)

    grad = symdiff.grad(f)
    x3, x5 = np.linspace(-1.0, 2.0, 3), np.linspace(-1.0, 2.0, 5)
    np.testing.assert_allclose(grad(x3), 3 * x3**2, rtol=1e-15)  # hand-worked
    np.testing.assert_allclose(grad(x5), 2 * x5, rtol=1e-15)
    assert grad.cache_info().modules == 2


def test_an_internal_error_in_the_symbolic_trace_surfaces(monkeypatch):
    # operator.index stands in for a broken unifier: a TypeError raised in auto_specs
    broken = _in_symdiff("def broken(example, names=None):\n    return index(example)\n",
                         index=operator.index)
    monkeypatch.setattr(dims, "unifying", broken)
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        symdiff.grad(lambda x: np.sum(x**2))(np.arange(3.0))


def test_an_internal_error_at_symbolic_sizes_in_a_trace_of_symdiffs_surfaces(monkeypatch):
    broken = _in_symdiff("def broken(*args):\n    raise RuntimeError('internal: unifier')\n")
    monkeypatch.setattr(symbolic, "trace_paths", broken)
    with pytest.raises(RuntimeError, match="internal: unifier"):
        symdiff.value_and_grad(lambda x: np.sum(np.sin(x)))(np.arange(3.0))


def test_an_internal_error_while_compiling_at_symbolic_sizes_surfaces(monkeypatch):
    compiled = _in_symdiff(
        "def broken(fn, specs, *rest):\n"
        "    if any(is_symbolic(s.shape) for s in specs if s.traced):\n"
        "        raise KeyError('internal: only at symbolic sizes')\n"
        "    return original(fn, specs, *rest)\n",
        is_symbolic=dims.is_symbolic, original=compile_module._compile)
    monkeypatch.setattr(compile_module, "_compile", compiled)
    with pytest.raises(KeyError, match="only at symbolic sizes"):
        symdiff.grad(lambda x: np.sum(x**3))(np.arange(3.0))
    # at fixed sizes the same program compiles: the error was the symbolic attempt's
    np.testing.assert_array_equal(symdiff.grad(lambda x: np.sum(x**3), dims="fixed")(
        np.arange(3.0)), 3 * np.arange(3.0) ** 2)


def test_an_error_the_users_code_raises_at_every_size_is_its_own():
    def f(x):
        raise ZeroDivisionError("the user's own")

    with pytest.raises(ZeroDivisionError, match="the user's own"):
        symdiff.grad(f)(np.arange(3.0))
