"""A max shift the value does not depend on has no derivative term: the gradient of a
softmax cross-entropy written with ``z - np.max(z, axis=1, keepdims=True)`` is the
textbook ``(softmax(z) - Y)/n``, and a shift that does change the value keeps its
derivative."""

import numpy as np
import pytest

import symdiff
from symdiff.verify.numerical import gradcheck


def xent_shifted(W, X, Y):
    z = X @ W
    z = z - np.max(z, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * (z - lse), axis=1))


def softmax_shifted(W, X, Y):
    z = X @ W
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    return np.sum((p - Y) ** 2)


def shift_matters(W, X, Y):
    z = X @ W
    z = z - np.max(z, axis=1, keepdims=True)
    return np.sum(Y * z**2)


def inputs(ties=False):
    rng = np.random.default_rng(5)
    W, X = rng.normal(size=(4, 3)), rng.normal(size=(6, 4))
    if ties:  # two equal logits in every row: the max's derivative splits there
        W[:, 1] = W[:, 0]
    return W, X, np.eye(3)[rng.integers(3, size=6)]


@pytest.mark.parametrize("fn", [xent_shifted, softmax_shifted])
@pytest.mark.parametrize("ties", [False, True])
def test_a_cancelling_shift_has_no_derivative_term(fn, ties):
    args = inputs(ties)
    g = symdiff.grad(fn)
    source = g.compile(*args).source
    grad = source[source.index(f"def grad_{fn.__name__}"):
                  source.index(f"def value_and_grad_{fn.__name__}")]
    assert "np.max" not in grad.split("# gradient of line", 1)[1]  # only the forward's
    assert "==" not in grad and "np.asarray" not in grad  # no tie indicator
    report = gradcheck(fn, *args, grad_fn=g)
    assert report.passed, report


def test_the_cross_entropy_gradient_is_softmax_minus_y_over_n():
    W, X, Y = inputs()
    z = X @ W
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(symdiff.grad(xent_shifted)(W, X, Y), X.T @ (p - Y) / 6,
                               rtol=1e-12, atol=1e-15)


def test_a_shift_that_changes_the_value_keeps_its_derivative():
    args = inputs()
    g = symdiff.grad(shift_matters)
    assert gradcheck(shift_matters, *args, grad_fn=g).passed
    source = g.compile(*args).source
    assert "==" in source[source.index("def grad_shift_matters"):]  # the max's own term
