"""Four programs as scientists write them, which symdiff used to refuse (issue 17):
a Gaussian process marginal likelihood with np.linalg.cholesky, a 1-D convolution
with np.convolve, the Rosenbrock function and a bead chain with np.diff, and
Black-Scholes with math.erf (and again with scipy.special.ndtr). Each gradient is
checked against central differences of the same function run by NumPy, and the
Black-Scholes greeks against their closed forms."""

import math

import numpy as np
import pytest

import symdiff
from symdiff.verify import numerical_gradient


# -- a Gaussian process: negative log marginal likelihood of an RBF kernel --------------
def gp_neg_log_likelihood(log_params, X, y):
    lengthscale, signal, noise = np.exp(log_params)
    sqdist = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = signal**2 * np.exp(-0.5 * sqdist / lengthscale**2) + noise**2 * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * len(X) * np.log(2 * np.pi)


# -- a 1-D convolution: fit a smoothing kernel to a noisy signal ------------------------
def smoothing_loss(kernel, signal, target):
    smoothed = np.convolve(signal, kernel, mode="same")
    return np.mean((smoothed - target) ** 2)


# -- Rosenbrock with np.diff, and a chain of beads joined by springs ----------------------
def rosenbrock(x):
    """sum 100 (x[i+1] - x[i]**2)**2 + (1 - x[i])**2, with x[i+1] = x[i] + diff[i]."""
    head = x[:-1]
    return np.sum(100.0 * (np.diff(x) + head - head**2) ** 2 + (1.0 - head) ** 2)


def chain_energy(positions, rest_length):
    bonds = np.linalg.norm(np.diff(positions, axis=0), axis=1)
    bends = np.diff(positions, n=2, axis=0)
    return np.sum((bonds - rest_length) ** 2) + 0.1 * np.sum(bends**2)


# -- Black-Scholes, with the math module, and with scipy.special over many strikes --------
def black_scholes_call(S, sigma, r, T, K):
    d1 = (math.log(S / K) + (r + 0.5 * sigma**2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)

    def N(z):
        return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))

    return S * N(d1) - K * math.exp(-r * T) * N(d2)


def black_scholes_book(S, sigma, r, T, strikes):
    from scipy.special import ndtr

    d1 = (np.log(S / strikes) + (r + 0.5 * sigma**2) * T) / (sigma * np.sqrt(T))
    d2 = d1 - sigma * np.sqrt(T)
    return np.sum(S * ndtr(d1) - strikes * np.exp(-r * T) * ndtr(d2))


def _check(fn, args, argnums, rtol=1e-6, atol=1e-8):
    grads = symdiff.grad(fn, argnums=argnums)(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for i, g in zip(argnums, grads):
        np.testing.assert_allclose(g, numerical_gradient(fn, args, i), rtol=rtol, atol=atol)
    return grads


def test_gaussian_process_with_cholesky():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(12, 2))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=12)
    _check(gp_neg_log_likelihood, [np.log(np.array([0.8, 1.2, 0.3])), X, y], (0,), rtol=1e-5)


def test_convolution_with_np_convolve():
    rng = np.random.default_rng(1)
    signal = np.cumsum(rng.normal(size=40))
    target = np.convolve(signal, np.ones(5) / 5, mode="same")
    _check(smoothing_loss, [rng.uniform(0, 0.4, size=5), signal, target], (0, 1))


def test_rosenbrock_and_a_chain_with_np_diff():
    rng = np.random.default_rng(2)
    (g,) = _check(rosenbrock, [rng.normal(size=6)], (0,))
    x = np.ones(6)  # the minimum: the gradient is exactly zero there
    np.testing.assert_array_equal(symdiff.grad(rosenbrock)(x), np.zeros(6))
    _check(chain_energy, [rng.normal(size=(7, 3)), 1.0], (0,))


def _greeks(S, sigma, r, T, K):
    """Closed forms: delta, vega, rho and theta (d/dT) of a European call."""
    d1 = (math.log(S / K) + (r + 0.5 * sigma**2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    N = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    pdf = math.exp(-0.5 * d1**2) / math.sqrt(2 * math.pi)
    return (N(d1), S * pdf * math.sqrt(T), K * T * math.exp(-r * T) * N(d2),
            S * pdf * sigma / (2 * math.sqrt(T)) + r * K * math.exp(-r * T) * N(d2))


def test_black_scholes_with_math_erf():
    args = [100.0, 0.2, 0.03, 1.5, 95.0]
    grads = _check(black_scholes_call, args, (0, 1, 2, 3))
    np.testing.assert_allclose(grads, _greeks(*args), rtol=1e-10)
    grad = symdiff.grad(black_scholes_call, argnums=(0, 1, 2, 3))
    grad(*args)
    source = grad.source
    assert "math.erf(" in source and "import math" in source


def test_black_scholes_with_scipy_ndtr():
    pytest.importorskip("scipy")
    strikes = np.array([80.0, 95.0, 100.0, 120.0])
    args = [100.0, 0.2, 0.03, 1.5, strikes]
    grads = _check(black_scholes_book, args, (0, 1, 2, 3, 4))
    want = np.sum([_greeks(100.0, 0.2, 0.03, 1.5, k) for k in strikes], axis=0)
    np.testing.assert_allclose(grads[:4], want, rtol=1e-10)
    grad = symdiff.grad(black_scholes_book, argnums=(0, 1))
    grad(*args)
    source = grad.source
    assert "Needs SciPy at run time" in source
    assert "import scipy.special" in source and "scipy.special.ndtr(" in source


def test_the_gaussian_process_hessian_through_cholesky():
    """Second derivatives pass through the Cholesky rules (forward over reverse)."""
    rng = np.random.default_rng(3)
    X, y = rng.uniform(-2, 2, size=(8, 2)), rng.normal(size=8)
    theta = np.log(np.array([0.8, 1.2, 0.3]))
    H = symdiff.hessian(gp_neg_log_likelihood)(theta, X, y)
    grad = symdiff.grad(gp_neg_log_likelihood)
    fd = np.array([numerical_gradient(lambda t, i=i: grad(t, X, y)[i], [theta], 0)
                   for i in range(3)])
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7)


def test_generated_modules_that_import_math_and_scipy_lint_clean(tmp_path):
    """`import math` / `import scipy.special` sorted as isort wants, nothing unused."""
    pytest.importorskip("scipy")
    import subprocess
    import sys

    for fn, args in ((black_scholes_call, [100.0, 0.2, 0.03, 1.5, 95.0]),
                     (black_scholes_book, [100.0, 0.2, 0.03, 1.5, np.array([90.0, 110.0])])):
        grad = symdiff.grad(fn, argnums=(0, 1))
        grad(*args)
        path = tmp_path / f"{fn.__name__}.py"
        path.write_text(grad.source)
        result = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select",
                                 "E,F,W,I,UP,B", "--line-length", "88", str(path)],
                                capture_output=True, text=True)
        if "No module named ruff" in result.stderr:
            pytest.skip("ruff is not installed")
        assert result.returncode == 0, result.stdout
