"""Every supported NumPy op: forward value against NumPy, gradient and forward-mode
derivative against central differences (rows in ops_table.py)."""

import numpy as np
import pytest
from ops_table import CASES

from symdiff.compile import compile_gradient
from symdiff.verify import numerical_gradient


def directional_fd(fn, args, wrt, tangents, h=1e-6):
    """d/dt fn(args + t * tangents) at 0, by central differences."""
    def at(t):
        moved = list(args)
        for i, v in zip(wrt, tangents):
            moved[i] = np.asarray(args[i], dtype=float) + t * v
        return fn(*moved)

    return (at(h) - at(-h)) / (2 * h)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_op(case):
    args = case.sample()
    wrt = case.wrt(args)
    kinds = ("grad", "jvp") if case.jvp else ("grad",)
    compiled = compile_gradient(case.fn, args, wrt, kinds=kinds)
    np.testing.assert_allclose(compiled.forward(*args), case.fn(*args), rtol=1e-12, atol=1e-12,
                               err_msg=f"{case.name}: value")
    grads = compiled.grad(*args)
    for i, g in zip(wrt, grads):
        want = numerical_gradient(case.fn, args, i)
        assert np.shape(g) == np.shape(args[i])
        np.testing.assert_allclose(g, want, rtol=case.rtol, atol=case.atol,
                                   err_msg=f"{case.name}: d/d arg {i}")
    if case.jvp:
        rng = np.random.default_rng(1)
        tangents = [rng.normal(size=np.shape(args[i])) for i in wrt]
        value, tangent_out = compiled.function("jvp")(*args, *tangents)
        want = directional_fd(case.fn, args, wrt, tangents)
        np.testing.assert_allclose(tangent_out, want, rtol=case.rtol, atol=case.atol,
                                   err_msg=f"{case.name}: jvp")


FLOAT32 = {
    "max": lambda x: np.sum(np.max(x, axis=0)),
    "prod": lambda x: np.sum(np.prod(x, axis=1)),
    "cumprod": lambda x: np.sum(np.cumprod(x, axis=1)),
    "index": lambda x: np.sum(x[[0, 0, 2], 1:]),
    "einsum": lambda x: np.einsum("ij,ij->", x, x),
    "norm": lambda x: np.linalg.norm(x),
    "pad": lambda x: np.sum(np.pad(x, 1) ** 2),
    "logaddexp": lambda x: np.sum(np.logaddexp(x, 0)),
    "maximum": lambda x: np.sum(np.maximum(x, 0)),
    "inv": lambda x: np.sum(np.linalg.inv(x[:, :3] + 3 * np.eye(3, dtype=np.float32))),
    "cholesky": lambda x: np.sum(np.linalg.cholesky(x[:, :3] @ x[:, :3].T
                                                    + 3 * np.eye(3, dtype=np.float32))),
    "eigvalsh": lambda x: np.sum(np.linalg.eigvalsh(x[:, :3] @ x[:, :3].T) ** 2),
    "convolve": lambda x: np.sum(np.convolve(x[0], x[1], "same") ** 2),
    "sort": lambda x: np.sum(np.sort(x, axis=1) * np.arange(4, dtype=np.float32)),
    "np.array of traced values": lambda x: np.sum(np.array([x[0, 0], x[1, 1]]) ** 2),
}


@pytest.mark.parametrize("name", sorted(FLOAT32))
def test_float32_stays_float32(name):
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    g = compile_gradient(FLOAT32[name], [x]).grad(x)
    assert g.dtype == np.float32
    # against central differences of the same function run in float64
    np.testing.assert_allclose(g, numerical_gradient(FLOAT32[name], [x.astype(np.float64)]),
                               rtol=2e-3, atol=1e-3)
