"""Lotka-Volterra predator-prey dynamics integrated by explicit Euler steps; the
loss is the squared mismatch of the final populations with an observation.
Differentiate with respect to the four rate constants and the initial state."""

import numpy as np

STEPS = 200


def lotka_volterra(z, theta):
    alpha, beta, gamma, delta = theta[0], theta[1], theta[2], theta[3]
    prey, predator = z[0], z[1]
    return np.stack([alpha * prey - beta * prey * predator,
                     delta * prey * predator - gamma * predator])


def euler_loss(theta, z0, observed, dt=0.01, steps=STEPS):
    z = z0
    for _ in range(steps):
        z = z + dt * lotka_volterra(z, theta)
    return np.sum((z - observed) ** 2)


def make_inputs(steps=STEPS, seed=0):
    rng = np.random.default_rng(seed)
    theta = np.array([1.1, 0.4, 0.4, 0.1]) * (1 + 0.05 * rng.normal(size=4))
    z0 = np.array([10.0, 5.0]) * (1 + 0.05 * rng.normal(size=2))
    observed = np.array([8.0, 7.0])
    return theta, z0, observed, 0.01, steps


def euler_fit_loss(theta, z0, observed, dt=0.01):
    """The same dynamics fitted to a series of observed populations, one row per
    Euler step: the number of steps is the length of `observed`."""
    z = z0
    loss = 0.0
    for z_obs in observed:
        z = z + dt * lotka_volterra(z, theta)
        loss = loss + np.sum((z - z_obs) ** 2)
    return loss


def make_fit_inputs(steps=STEPS, seed=0):
    theta, z0, _, dt, _ = make_inputs(steps, seed)
    rng = np.random.default_rng(seed + 1)
    observed = z0 * (1 + 0.1 * rng.normal(size=(steps, 2)))
    return theta, z0, observed, dt
