"""Least squares: the mean squared error of a linear model.

    symdiff emit examples/linear_regression.py:mse --wrt w,b --shape w=3 --shape X=50,3 \
        --shape y=50

The gradient is the textbook one: d/dw = 2 X^T (X w + b - y) / n, d/db = 2 mean(X w + b - y).
"""

import numpy as np


def mse(w, b, X, y):
    prediction = X @ w + b
    residual = prediction - y
    return np.mean(residual**2)
