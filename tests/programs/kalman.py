"""Log-likelihood of a local linear trend model, by the Kalman filter.

State x = (level, slope); the level is observed with noise. The parameters are the
log-variances of the level and slope innovations and of the observation noise.
The number of steps is the length of the series `y`.
"""

import numpy as np

STEPS = 40

F = np.array([[1.0, 1.0], [0.0, 1.0]])  # level += slope


def kalman_loglik(theta, y):
    q = np.exp(theta[:2])
    r = np.exp(theta[2])
    Q = np.diag(q)
    x = np.zeros(2)
    P = 10.0 * np.eye(2)
    ll = 0.0
    for t in range(y.shape[0]):
        # predict
        x = F @ x
        P = F @ P @ F.T + Q
        # update with the observed level y[t]
        v = y[t] - x[0]
        S = P[0, 0] + r
        K = P[:, 0] / S
        x = x + K * v
        P = P - np.outer(K, P[0, :])
        ll = ll - 0.5 * (np.log(2 * np.pi * S) + v**2 / S)
    return ll


def make_inputs(steps=STEPS, seed=0):
    rng = np.random.default_rng(seed)
    slope = 0.1 + np.cumsum(0.05 * rng.normal(size=steps))
    level = np.cumsum(slope) + 0.3 * rng.normal(size=steps)
    y = level + 0.5 * rng.normal(size=steps)
    theta = np.log(np.array([0.1, 0.01, 0.25]))
    return theta, y
