"""The emitted code reads as an expert would write it: textbook forms of the
derivatives, checked by reading the generated functions (and their values against
central differences)."""

import ast

import numpy as np

import symdiff


def logistic_loss(w, b, X, y):
    logits = X @ w + b
    p = 1 / (1 + np.exp(-logits))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def logistic_inputs():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 4))
    return rng.normal(size=4), 0.3, X, (rng.random(30) < 0.5).astype(np.float64)


def function_source(source: str, name: str) -> str:
    """The text of one function of a generated module."""
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.get_source_segment(source, node)


def test_logistic_gradient_has_one_exp_per_element():
    args = logistic_inputs()
    g = symdiff.grad(logistic_loss, argnums=(0, 1))
    source = g.compile(*args).source
    for name in ("grad_logistic_loss", "value_and_grad_logistic_loss"):
        body = function_source(source, name)
        assert body.count("np.exp(") == 1, body  # sigma(-z) folded into 1 - sigma(z)
        assert "np.minimum" not in body
    dw, db = g(*args)
    w, b, X, y = args
    p = 1 / (1 + np.exp(-(X @ w + b)))
    np.testing.assert_allclose(dw, X.T @ (p - y) / len(y), rtol=1e-12)  # the textbook form
    np.testing.assert_allclose(db, np.mean(p - y), rtol=1e-12)


def test_logistic_gradient_is_exact_in_the_tails():
    w, X, y = np.array([1.0]), np.array([[-800.0], [800.0], [-40.0], [40.0]]), \
        np.array([0.0, 1.0, 1.0, 0.0])
    dw = symdiff.grad(logistic_loss)(w, 0.0, X, y)
    p = np.array([0.0, 1.0, np.exp(-40.0) / (1 + np.exp(-40.0)), 1 / (1 + np.exp(-40.0))])
    np.testing.assert_allclose(dw, X.T @ (p - y) / 4, rtol=1e-14)
    assert np.isfinite(dw).all()
