"""Benchmark problem P6 written as a loop: `depth` nested x = sin(x)*x + cos(x),
summed. The derivative of one step is x*cos(x)."""

import numpy as np

DEPTH = 50


def p6(x, depth=DEPTH):
    for _ in range(depth):
        x = np.sin(x) * x + np.cos(x)
    return np.sum(x)


def grad_p6_by_hand(x, depth=DEPTH):
    """The gradient an expert writes: store the iterates, multiply back."""
    xs = np.empty((depth,) + np.shape(x))
    for i in range(depth):
        xs[i] = x
        x = np.sin(x) * x + np.cos(x)
    g = np.ones_like(x)
    for i in reversed(range(depth)):
        g = g * xs[i] * np.cos(xs[i])
    return g
