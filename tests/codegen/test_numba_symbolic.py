"""The fused backend with symbolic sizes: one emitted numba module, right at several
sizes (kernels take their lengths from the arguments, sizes such as n and n//2 are
bound by the NumPy code around them).

Expected values: central differences of the user's function at each size
(`symdiff.verify.numerical_gradient`). Skipped without numba.
"""

import importlib.util
import os
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

import symdiff  # noqa: E402
from symdiff.cli import main  # noqa: E402
from symdiff.verify import numerical_gradient  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory, monkeypatch):
    """Generated fused modules and numba's cache of their kernels in a scratch place."""
    path = tmp_path_factory.getbasetemp() / "symdiff-cache"
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(path))
    return path


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # numba's cache looks modules up by name
    spec.loader.exec_module(module)
    return module


def _example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_emitted_numba_module_with_symbolic_shapes_is_right_at_several_sizes(tmp_path):
    out = tmp_path / "fused_logistic_n.py"
    assert main(["emit", os.path.join(EXAMPLES, "logistic_regression.py:loss"), "--wrt", "w,b",
                 "--shape", "w=d", "--shape", "b=", "--shape", "X=n,d", "--shape", "y=n",
                 "--backend", "numba", "-o", str(out)]) == 0
    source = out.read_text()
    assert "@numba.njit" in source or "@njit" in source
    assert "n, d = np.shape(X)" in source
    module = _load(str(out), "fused_logistic_n")
    loss = _example("logistic_regression").loss
    rng = np.random.default_rng(0)
    for n, d in ((5, 2), (37, 3), (400, 6)):
        w, b = rng.normal(size=d), 0.3
        X, y = rng.normal(size=(n, d)), (rng.random(n) < 0.5) * 1.0
        dw, db = module.grad_loss(w, b, X, y)
        np.testing.assert_allclose(dw, numerical_gradient(loss, [w, b, X, y], 0), rtol=1e-6,
                                   atol=1e-9)
        np.testing.assert_allclose(db, numerical_gradient(loss, [w, b, X, y], 1), rtol=1e-6,
                                   atol=1e-9)
    with pytest.raises(ValueError, match="w must have shape"):
        module.grad_loss(np.ones(4), 0.0, np.ones((5, 3)), np.ones(5))


def test_numba_decorator_compiles_once_for_every_batch_size():
    mlp = _example("mlp")
    grad = symdiff.grad(mlp.loss, argnums=(0, 1, 2, 3), backend="numba")
    rng = np.random.default_rng(1)
    W1, b1, W2, b2 = rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=5), 0.1
    for n in (10, 11, 300):
        X, y = rng.normal(size=(n, 3)), rng.normal(size=n)
        args = [W1, b1, W2, b2, X, y]
        for g, i in zip(grad(*args), range(4)):
            np.testing.assert_allclose(g, numerical_gradient(mlp.loss, args, i), rtol=1e-6,
                                       atol=1e-9)
    assert grad.cache_info().compiles == 1


SIZED = {
    "step_and_half": lambda x: np.sum(np.sin(x[::2]) ** 2) + np.sum(x[: x.shape[0] // 2] ** 3),
    "mean_var": lambda x: np.mean(np.exp(x)) + np.var(x),
    "split": lambda x: np.sum(np.split(x, 2)[0] * np.split(x, 2)[1] ** 2),
    "cumprod_tril": lambda x: np.sum(np.cumprod(x)) + np.sum(np.tril(np.outer(x, x))),
}


@pytest.mark.parametrize("name", sorted(SIZED))
def test_sizes_from_the_arguments_in_fused_modules(name):
    f = SIZED[name]
    grad = symdiff.grad(f, dims={"x": ("n",)}, backend="numba")
    for n in (4, 6, 30):
        x = np.random.default_rng(n).uniform(0.2, 0.9, n)
        np.testing.assert_allclose(grad(x), numerical_gradient(f, [x], 0), rtol=1e-6,
                                   atol=1e-9)
    assert grad.cache_info().compiles == 1


def test_float32_std_in_a_fused_module_stays_float32():
    grad = symdiff.grad(lambda x: np.std(x) * np.sum(x**2), backend="numba")
    for n in (5, 12):
        x = np.random.default_rng(n).uniform(0.5, 2.0, n)
        g = grad(x.astype(np.float32))
        assert g.dtype == np.float32
        np.testing.assert_allclose(
            g, numerical_gradient(lambda v: np.std(v) * np.sum(v**2), [x], 0), rtol=1e-4)
    assert grad.cache_info().compiles == 1
