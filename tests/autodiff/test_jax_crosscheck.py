"""The op-table rows of issue 17 (tests/ops_table_more.py) against JAX, where JAX is
installed (`pip install '.[crosscheck]'`; skipped otherwise): the same functions run
with `np` bound to jax.numpy and `special` to jax.scipy.special, differentiated by
jax.grad, compared with symdiff's gradients.

JAX differentiates op by op here, about a second and a half per row, so by default a
sample of rows (one per family: linear algebra, filters, special functions, sorting,
shapes) is compared; SYMDIFF_CROSSCHECK=full compares every row (about five minutes).

A row JAX cannot run (item assignment into an array, the math module on a tracer,
np.r_, sliding_window_view ...) or computes differently (another sign convention for
QR, a different function) is counted as not comparable; the test fails if any
comparable row disagrees, or if fewer rows than a floor could be compared (so that it
cannot pass by skipping everything)."""

import contextlib
import os

import numpy as np
import ops_table
import ops_table_more
import pytest

from symdiff.compile import compile_gradient

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = pytest.importorskip("jax.numpy")

#: rows of NumPy functions that read one triangle (cholesky, eigh): JAX symmetrizes the
#: input, NumPy reads the lower triangle; the two agree on symmetric directions
LOWER = ("cholesky", "eigh", "eigvalsh")
MIN_COMPARED = {"full": 110, "sample": 10}
#: the default sample: rows whose names start so
SAMPLE = ("np.linalg.cholesky batched", "np.linalg.eigh: expm", "np.linalg.svd U**2, Vh**2 tall",
          "np.linalg.norm(ord='nuc')", "np.convolve(mode='same') 3 5",
          "np.correlate(mode='valid') 7 3", "np.diff(prepend", "scipy.special.logsumexp(b)",
          "np.median(axis=0", "np.block")


@contextlib.contextmanager
def numpy_is_jax():
    import jax.scipy.special as jsp

    saved = (ops_table_more.np, ops_table_more.special, ops_table_more.wsum)
    ops_table_more.np, ops_table_more.special = jnp, jsp
    # (the weights are NumPy constants of the value's shape, as in ops_table.wsum)
    ops_table_more.wsum = lambda y: jnp.sum(y * ops_table.weights(jnp.shape(y)))
    try:
        yield
    finally:
        ops_table_more.np, ops_table_more.special, ops_table_more.wsum = saved


def _symmetric(g):
    return (g + np.swapaxes(g, -1, -2)) / 2


def _jax_rows(mode: str):
    first = ops_table.CASES.index(next(c for c in ops_table.CASES
                                       if c.name == "np.array([scalars])"))
    rows = ops_table.CASES[first:]
    return rows if mode == "full" else [c for c in rows if c.name.startswith(SAMPLE)]


def test_gradients_agree_with_jax():
    mode = "full" if os.environ.get("SYMDIFF_CROSSCHECK") == "full" else "sample"
    compared, skipped, failures = 0, {}, []
    for case in _jax_rows(mode):
        args = case.sample()
        wrt = case.wrt(args)
        try:
            with numpy_is_jax():
                value = case.fn(*[jnp.asarray(a) for a in args])
                theirs = jax.grad(case.fn, argnums=wrt)(*[jnp.asarray(a) for a in args])
        except Exception as e:  # noqa: BLE001 - JAX does not run this row as written
            skipped[case.name] = type(e).__name__
            continue
        if not np.allclose(np.asarray(value), case.fn(*args), rtol=1e-9, atol=1e-9):
            skipped[case.name] = "a different value"
            continue
        ours = compile_gradient(case.fn, args, wrt, kinds=("grad",)).grad(*args)
        for i, g, h in zip(wrt, ours, theirs):
            g, h = np.asarray(g), np.asarray(h)
            if any(word in case.name for word in LOWER) and g.ndim >= 2:
                g, h = _symmetric(g), _symmetric(h)
            if not np.allclose(g, h, rtol=1e-6, atol=1e-8):
                failures.append(f"{case.name}: d/d arg {i}: max |diff| "
                                f"{np.max(np.abs(g - h)):.3g}")
        compared += 1
    print(f"compared {compared} rows with JAX; not comparable: {len(skipped)} "
          f"({', '.join(sorted(set(skipped.values())))})")
    assert not failures, "\n".join(failures)
    assert compared >= MIN_COMPARED[mode], (compared, skipped)
