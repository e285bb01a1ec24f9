"""A chain of masses joined by springs, fixed to a wall at one end, integrated with
the leapfrog (velocity Verlet) scheme; the loss is the squared distance of the
final positions from a target. Differentiate with respect to the spring constants
and the initial state."""

import numpy as np

STEPS = 100
DT = 0.01


def forces(q, k):
    """-dV/dq for V = sum_i k_i (q_i - q_{i-1})**2 / 2, with q_{-1} = 0 (the wall)."""
    stretch = q - np.concatenate([np.zeros(1), q[:-1]])
    tension = k * stretch
    return np.concatenate([tension[1:], np.zeros(1)]) - tension


def leapfrog_loss(k, q, p, target, steps=STEPS):
    m = 1.0
    for _ in range(steps):
        p = p + 0.5 * DT * forces(q, k)
        q = q + DT * p / m
        p = p + 0.5 * DT * forces(q, k)
    return np.sum((q - target) ** 2)


def make_inputs(steps=STEPS, n=6, seed=0):
    rng = np.random.default_rng(seed)
    k = 1.0 + rng.uniform(size=n)
    q = 0.1 * rng.normal(size=n)
    p = 0.1 * rng.normal(size=n)
    target = 0.05 * rng.normal(size=n)
    return k, q, p, target, steps
