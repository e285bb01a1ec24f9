"""dims="auto" traces the function to find its shapes; the module is compiled from that
same trace, not from a second one: the function runs once per shape search attempt,
and the module is the one declared shapes give (traced afresh)."""

import numpy as np

from symdiff.compile import compile_gradient
from symdiff.verify import numerical_gradient

CALLS: list[str] = []


def _chain(x):
    CALLS.append("chain")
    for _ in range(3):
        x = np.sin(x) * x + np.cos(x)
    return np.sum(x)


def _shifted(x, y):
    CALLS.append("shifted")
    return np.sum(x[1:] * np.tanh(y[2:]))  # y is one longer than x: a unification


def test_a_straight_line_function_runs_once_and_compiles_as_declared_shapes_do():
    x = np.linspace(-1.0, 1.0, 7)
    CALLS.clear()
    auto = compile_gradient(_chain, (x,), dims="auto")
    assert CALLS == ["chain"]  # the shape search's trace is the module's
    declared = compile_gradient(_chain, (x,), dims={"x": ("n",)})
    assert CALLS == ["chain", "chain"]
    assert auto.source == declared.source
    np.testing.assert_allclose(auto.grad(x), numerical_gradient(_chain, (x,)), rtol=1e-7)


def test_a_unified_size_traces_once_per_attempt_and_the_gradient_holds():
    x, y = np.linspace(0.1, 0.9, 5), np.linspace(-1.0, 1.0, 6)
    CALLS.clear()
    compiled = compile_gradient(_shifted, (x, y), argnums=(0, 1), dims="auto")
    assert CALLS == ["shifted", "shifted"]  # unify the sizes, then the trace compiled
    assert [str(s.shape) for s in compiled.specs] == ["(n,)", "(n + 1,)"]
    for size in (5, 9):  # one module for every size n
        x, y = np.linspace(0.1, 0.9, size), np.linspace(-1.0, 1.0, size + 1)
        gx, gy = compiled.grad(x, y)
        np.testing.assert_allclose(gx, numerical_gradient(_shifted, (x, y), 0), rtol=1e-7)
        np.testing.assert_allclose(gy, numerical_gradient(_shifted, (x, y), 1), rtol=1e-7)
