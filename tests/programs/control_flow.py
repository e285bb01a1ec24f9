"""Functions that branch on the values they compute, written the way people write them.

Plain NumPy (no symdiff): `if`/`elif`/`else`, conditional expressions, early returns,
the builtins `abs`, `max` and `min`, `and`/`or`/`not`, the truth of `.all()`/`.any()`,
and `while` loops (Newton's method, fixed-point iteration, halving). Each entry of
`CASES` gives points on both sides of every branch (and, for loops, points that take
different numbers of iterations), away from the kinks where the sides meet.
"""

import numpy as np


# -- if / elif / else ---------------------------------------------------------------------
def scaled_by_sign(a):
    if a > 0:
        a = a * 3.0
    else:
        a = a * 2.0
    return a


def piecewise_cubic(x):
    if x > 1.0:
        return x**3
    elif x > -1.0:
        return 3.0 * x - 2.0
    else:
        return -(x**2) - 4.0


def nested_square(a):
    if a > 0:
        if a < 10:
            a = a * a
    else:
        a = 3.0 * a
    return a


def huber(r, delta=1.0):
    if abs(r) <= delta:
        return 0.5 * r**2
    return delta * (abs(r) - 0.5 * delta)


def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def larger_times(a, b):
    if a > b:
        out = a * a
    else:
        out = a * b
    return out


def two_ifs_in_a_row(a):
    if a > 0:
        a = a * a
    a = a + a
    if a < 3.0:
        a = 3.0 * a
    return np.sin(a)


# -- conditional expressions, builtins ------------------------------------------------------
def leaky_relu(x):
    return x if x > 0 else 0.01 * x


def hinge_loss(w, x, y):
    margin = y * np.dot(w, x)
    return max(0.0, 1.0 - margin) + 0.1 * np.sum(w**2)


def capped_square(x):
    return min(x**2, 4.0) + abs(np.sin(x))


# -- and / or / not -------------------------------------------------------------------------
def quadrant_product(x, y):
    if x > 0 and y > 0:
        return x * y
    elif x > 0 or y > 0:
        return x + y
    return np.exp(x + y)


def signed_sqrt(x):
    if not x < 0:
        return np.sqrt(x)
    return -np.sqrt(-x)


def _relu(z):
    return z if z > 0 else 0.0 * z


def relu_products(x, y):
    return _relu(x - 1.0) * _relu(y + 1.0) + _relu(x * y)


def cubic_inside_unit_interval(x):
    if 0.0 < x < 1.0:
        return x**3
    return x


# -- truth of reductions of arrays ----------------------------------------------------------
def log_barrier(x):
    if np.all(x > 0):
        return -np.sum(np.log(x))
    return np.sum(x**2) * 1e3


def penalty_if_any_negative(x):
    total = np.sum(x**2)
    if (x < 0).any():
        total = total + 10.0 * np.sum(np.minimum(x, 0.0) ** 2)
    return total


# -- early return in a longer function ----------------------------------------------------
def softplus_regularised(w, X, y):
    z = X @ w
    loss = np.mean(np.logaddexp(0.0, -y * z))
    norm = np.sqrt(np.sum(w**2))
    if norm < 1.0:
        return loss
    return loss + 0.5 * (norm - 1.0) ** 2


# -- while loops --------------------------------------------------------------------------
def newton_sqrt(a):
    y = a
    while abs(y * y - a) > 1e-12 * a:
        y = 0.5 * (y + a / y)
    return y


def kepler_eccentric_anomaly(M, e):
    E = M
    while abs(E - e * np.sin(E) - M) > 1e-13:
        E = E - (E - e * np.sin(E) - M) / (1.0 - e * np.cos(E))
    return E


def fixed_point_cosine(a):
    x = a
    change = 1.0
    while change > 1e-13:
        x_new = 0.5 * np.cos(x) + a
        change = abs(x_new - x)
        x = x_new
    return x


def halve_until_small(x):
    while x > 1.0:
        x = x / 2.0
    return x * x


def bisection_sqrt(a):
    """sqrt(a) by bisection on [0, a + 1]: its iterates are multiples of a + 1 fixed by
    the comparisons, so the derivative of the iterates is result / (a + 1), not the
    derivative of the root (which is 1 / (2 sqrt(a)))."""
    lo, hi = 0.0 * a, a + 1.0
    while hi - lo > 1e-9:
        mid = 0.5 * (lo + hi)
        if mid * mid > a:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def bisection_sqrt_where(a):
    """The same bisection with the halving chosen by np.where: every iteration runs the
    same body, so the loop folds into one `while` loop (the `if` above does not)."""
    lo, hi = 0.0 * a, a + 1.0
    while hi - lo > 1e-9:
        mid = 0.5 * (lo + hi)
        above = mid * mid > a
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return 0.5 * (lo + hi)


_W = np.array([0.5, -1.0, 2.0])
_X = np.array([[1.0, 2.0, 0.5], [-1.0, 0.3, 1.0], [0.2, -0.7, -1.5], [1.5, 1.0, 0.0]])
_Y = np.array([1.0, -1.0, 1.0, -1.0])

#: (function, argnums, points): each point is a tuple of arguments.
CASES = [
    (scaled_by_sign, 0, [(-1.3,), (0.7,)]),
    (piecewise_cubic, 0, [(-2.5,), (0.3,), (1.7,)]),
    (nested_square, 0, [(-2.0,), (3.0,), (12.0,)]),
    (huber, 0, [(-2.5,), (0.4,), (1.8,)]),
    (clamp, (0, 1, 2), [(-2.0, -1.0, 1.0), (0.25, -1.0, 1.0), (3.0, -1.0, 1.0)]),
    (larger_times, (0, 1), [(2.0, 0.5), (0.5, 2.0)]),
    (two_ifs_in_a_row, 0, [(-2.0,), (-0.5,), (0.5,), (1.5,)]),
    (leaky_relu, 0, [(-1.5,), (2.0,)]),
    (hinge_loss, 0, [(_W, _X[0], 1.0), (_W, _X[0], -1.0), (_W, _X[2], -1.0)]),
    (capped_square, 0, [(-3.0,), (0.7,), (1.5,), (2.5,)]),
    (quadrant_product, (0, 1), [(1.0, 2.0), (1.0, -2.0), (-1.0, 2.0), (-1.0, -2.0)]),
    (signed_sqrt, 0, [(-2.0,), (3.0,)]),
    (relu_products, (0, 1), [(2.0, 0.5), (0.5, -2.0), (-1.0, 3.0), (2.0, -3.0), (0.5, 2.0)]),
    (cubic_inside_unit_interval, 0, [(-0.5,), (0.5,), (1.5,)]),
    (log_barrier, 0, [(np.array([0.5, 1.5, 2.0]),), (np.array([0.5, -1.5, 2.0]),)]),
    (penalty_if_any_negative, 0, [(np.array([0.5, 1.5, 2.0]),),
                                  (np.array([-0.5, 1.5, -2.0]),)]),
    (softplus_regularised, 0, [(0.3 * _W, _X, _Y), (_W, _X, _Y)]),
    (newton_sqrt, 0, [(0.5,), (2.0,), (30.0,), (1e4,)]),
    (kepler_eccentric_anomaly, (0, 1), [(0.3, 0.1), (2.0, 0.5), (4.0, 0.9)]),
    (fixed_point_cosine, 0, [(0.2,), (1.0,)]),
    (halve_until_small, 0, [(0.7,), (3.3,), (13.0,)]),
]
