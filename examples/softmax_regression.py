"""Softmax regression: the mean cross-entropy of a linear model's softmax.

    symdiff emit examples/softmax_regression.py:loss --wrt W,b --dims auto

With `--dims auto` the module holds for every batch size, number of features and
number of classes (`n, d = np.shape(X)`, `k` from `W`); the gradient is the textbook
one, d/dW = X^T (softmax(X W + b) - Y) / n.
"""

import numpy as np


def loss(W, b, X, Y):
    logits = X @ W + b
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * log_probs, axis=1))


def example_inputs_loss():
    """4 features, 3 classes, a batch of 20 one-hot labelled rows."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4))
    Y = np.eye(3)[rng.integers(0, 3, size=20)]
    return rng.normal(size=(4, 3)) * 0.1, np.zeros(3), X, Y
