"""A tanh recurrent network read over a sequence, with a linear read-out of the last
hidden state and a squared-error loss."""

import numpy as np

STEPS = 50


def rnn_loss(W, U, b, V, xs, y):
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(W @ h + U @ x + b)
    pred = V @ h
    return 0.5 * np.sum((pred - y) ** 2)


def make_inputs(steps=STEPS, hidden=8, features=3, outputs=2, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(hidden, hidden)) / np.sqrt(hidden)
    U = rng.normal(size=(hidden, features)) / np.sqrt(features)
    b = 0.1 * rng.normal(size=hidden)
    V = rng.normal(size=(outputs, hidden)) / np.sqrt(hidden)
    xs = rng.normal(size=(steps, features))
    y = rng.normal(size=outputs)
    return W, U, b, V, xs, y
