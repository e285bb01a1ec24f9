"""The functions whose generated modules are pinned byte for byte in this directory.

Regenerate the modules after an intended change to the output with

    SYMDIFF_REGENERATE_GOLDEN=1 python -m pytest tests/test_golden.py
"""

import numpy as np


def polynomial(x):
    return 2 * x**4 + x**3 + 3 * x**2 + 5 * x + 1


def chain(x):
    y = 2 * x + 3
    z = y**2
    out = np.mean(z)
    return out


def example_inputs_chain():
    return np.array([1.0, 2.0, 3.0])


def J(a, b, c):
    u = b * c
    v = a + u
    J = 3 * v
    return J


def mse(w, b, X, y):
    prediction = X @ w + b
    residual = prediction - y
    return np.mean(residual**2)


def logistic(w, b, X, y):
    logits = X @ w + b
    p = 1 / (1 + np.exp(-logits))
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return loss


def example_inputs_logistic():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = (rng.random(20) < 0.5).astype(np.float64)
    return np.zeros(3), 0.0, X, y


def mlp(W1, b1, W2, b2, X, y):
    hidden = np.tanh(X @ W1 + b1)
    prediction = hidden @ W2 + b2
    return np.mean((prediction - y) ** 2)


def mlp_inputs():
    """Weights for 2 inputs, 4 hidden units and 1 output; a batch of 8 examples."""
    rng = np.random.default_rng(1)
    return (rng.normal(size=(2, 4)), rng.normal(size=4), rng.normal(size=4), 0.1,
            rng.normal(size=(8, 2)), rng.normal(size=8))


def rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rnn_loop(W, U, b, xs):
    """A tanh recurrent network over the rows of xs: the loop stays a loop."""
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(W @ h + U @ x + b)
    return np.sum(h**2)


def rnn_loop_inputs():
    rng = np.random.default_rng(2)
    return (0.5 * rng.normal(size=(4, 4)), rng.normal(size=(4, 2)), 0.1 * rng.normal(size=4),
            rng.normal(size=(12, 2)))


def nested_loop(x, depth):
    """Benchmark problem P6 as a loop; `depth` is a static argument."""
    for _ in range(depth):
        x = np.sin(x) * x + np.cos(x)
    return np.sum(x)


def nested_loop_inputs():
    return np.linspace(-1.0, 1.0, 5), 30


def huber(r):
    """The Huber loss of a residual: quadratic within 1 of zero, linear in the tails."""
    if abs(r) <= 1.0:
        return 0.5 * r**2
    return abs(r) - 0.5


def newton_hypot(a):
    """sqrt(1 + a**2) by Newton's method: a while loop whose iteration count depends on a."""
    s = 1.0 + a * a
    y = s
    while abs(y * y - s) > 1e-12 * s:
        y = 0.5 * (y + s / y)
    return y
