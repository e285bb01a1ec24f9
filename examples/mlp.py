"""A small multilayer perceptron: one tanh hidden layer, squared error.

    symdiff emit examples/mlp.py:loss --wrt W1,b1,W2,b2 --example make_inputs
"""

import numpy as np


def loss(W1, b1, W2, b2, X, y):
    hidden = np.tanh(X @ W1 + b1)
    prediction = hidden @ W2 + b2
    return np.mean((prediction - y) ** 2)


def make_inputs():
    """Weights for 2 inputs, 4 hidden units and 1 output; a batch of 8 examples."""
    rng = np.random.default_rng(1)
    return (rng.normal(size=(2, 4)), rng.normal(size=4), rng.normal(size=4), 0.1,
            rng.normal(size=(8, 2)), rng.normal(size=8))
