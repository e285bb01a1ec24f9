"""Logistic regression: the mean cross-entropy of a linear model's sigmoid.

    symdiff emit examples/logistic_regression.py:loss --wrt w,b -o grad_logreg.py

The argument shapes come from `example_inputs_loss` below (symdiff's convention for
`FUNC`: a function `example_inputs_FUNC` in the same file). The gradient is the
textbook one: d/dw = X^T (p - y) / n, d/db = mean(p - y).
"""

import numpy as np


def loss(w, b, X, y):
    logits = X @ w + b
    p = 1 / (1 + np.exp(-logits))
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return loss


def example_inputs_loss():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = (rng.random(100) < 0.5).astype(np.float64)
    return np.zeros(3), 0.0, X, y
