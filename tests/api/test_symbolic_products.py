"""vjp, jvp, hvp, Jacobians and Hessians with symbolic dimensions: one module for every
batch size, right at each.

Expected values: central differences of the user's function at each size
(`symdiff.verify.numerical_gradient`, or a directional difference written out), and
the hand-worked Hessian of logistic regression, X.T @ diag(p (1 - p)) @ X / n.
"""

import numpy as np
import pytest

import symdiff
from symdiff.verify import numerical_gradient

SIZES = (3, 8, 41)


def model(X, w):
    return np.tanh(X @ w) * np.exp(-0.1 * (X @ w) ** 2)


def logistic(w, X, y):
    p = 1 / (1 + np.exp(-(X @ w)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def _directional(f, args, tangents, h=1e-6):
    plus = f(*(a + h * t for a, t in zip(args, tangents)))
    minus = f(*(a - h * t for a, t in zip(args, tangents)))
    return (plus - minus) / (2 * h)


def _batch(rng, n, d=3):
    return rng.normal(size=(n, d)), rng.normal(size=d)


def test_vjp_compiles_once_for_every_batch_size():
    rng = np.random.default_rng(1)
    for n in SIZES:
        X, w = _batch(rng, n)
        ct = rng.normal(size=n)
        out, vjp_fn = symdiff.vjp(model, X, w)
        np.testing.assert_allclose(out, model(X, w), rtol=1e-12)
        dX, dw = vjp_fn(ct)
        np.testing.assert_allclose(dw, numerical_gradient(
            lambda w_, X=X, ct=ct: ct @ model(X, w_), [w], 0), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(dX, numerical_gradient(
            lambda X_, w=w, ct=ct: ct @ model(X_, w), [X], 0), rtol=1e-6, atol=1e-9)
    assert symdiff.vjp.cache_info(model) == (1, len(SIZES) - 1, 1)


def test_jvp_compiles_once_for_every_batch_size():
    rng = np.random.default_rng(2)
    for n in SIZES:
        X, w = _batch(rng, n)
        tX, tw = _batch(rng, n)
        out, tangent = symdiff.jvp(model, (X, w), (tX, tw))
        np.testing.assert_allclose(out, model(X, w), rtol=1e-12)
        np.testing.assert_allclose(tangent, _directional(model, (X, w), (tX, tw)),
                                   rtol=1e-6, atol=1e-9)
        assert tangent.shape == (n,)
    assert symdiff.jvp.cache_info(model) == (1, len(SIZES) - 1, 1)


def test_hvp_of_logistic_regression_is_its_closed_form_hessian_at_every_size():
    def loss(w, X, y):
        return logistic(w, X, y)

    grad_X = symdiff.grad(loss, argnums=1)
    rng = np.random.default_rng(4)
    for n in SIZES:
        X, w = _batch(rng, n)
        y = (rng.random(n) < 0.5) * 1.0
        v = rng.normal(size=3)
        p = 1 / (1 + np.exp(-(X @ w)))
        H = X.T @ ((p * (1 - p))[:, None] * X) / n  # by hand
        hw, hX, hy = symdiff.hvp(loss, (w, X, y), (v, np.zeros_like(X), np.zeros_like(y)))
        np.testing.assert_allclose(hw, H @ v, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            hX, _directional(lambda w_, X=X, y=y: grad_X(w_, X, y), (w,), (v,)),
            rtol=1e-5, atol=1e-8)
        assert hy.shape == (n,)
    assert symdiff.hvp.cache_info(loss) == (1, len(SIZES) - 1, 1)


def test_logistic_hessian_decorator_is_the_closed_form_at_every_size():
    hess = symdiff.hessian(logistic)
    rng = np.random.default_rng(5)
    for n in SIZES:
        X, w = _batch(rng, n)
        y = (rng.random(n) < 0.5) * 1.0
        p = 1 / (1 + np.exp(-(X @ w)))
        np.testing.assert_allclose(hess(w, X, y), X.T @ ((p * (1 - p))[:, None] * X) / n,
                                   rtol=1e-10, atol=1e-12)
    assert hess.cache_info().compiles == 1
    # d stays 3 (one Hessian column per entry of w), n is bound from X
    assert "n, _ = np.shape(X)" in hess.source
    assert "= X.T @ (X*(-1/n*(" in hess.source


@pytest.mark.parametrize("mode", ["auto", "forward"])
def test_jacobian_of_a_batch_output_compiles_once(mode):
    jac = symdiff.jacobian(model, argnums=1, mode=mode)
    rng = np.random.default_rng(6)
    for n in SIZES:
        X, w = _batch(rng, n)
        J = jac(X, w)
        numeric = np.stack([_directional(lambda w_, X=X: model(X, w_), (w,), (e,))
                            for e in np.eye(3)], axis=1)
        np.testing.assert_allclose(J, numeric, rtol=1e-6, atol=1e-9)
    assert jac.cache_info().compiles == 1


@pytest.mark.parametrize("mode", ["auto", "reverse"])
def test_jacobian_of_a_small_output_of_a_batch_compiles_once(mode):
    def stats(x):
        return np.array([np.mean(x**2), np.sum(np.sin(x)), np.max(x)])

    jac = symdiff.jacobian(stats, mode=mode)
    for n in SIZES:
        x = np.random.default_rng(n).uniform(0.1, 1.0, n)
        expected = np.stack([2 * x / n, np.cos(x), (x == x.max()) * 1.0])
        np.testing.assert_allclose(jac(x), expected, rtol=1e-12)
    assert jac.cache_info().compiles == 1


def test_vjp_cotangent_of_another_size_is_still_refused():
    X, w = _batch(np.random.default_rng(7), 5)
    _, vjp_fn = symdiff.vjp(model, X, w)
    with pytest.raises(symdiff.ShapeError, match=r"cotangent must have shape \(5,\), got \(4,\)"):
        vjp_fn(np.ones(4))
