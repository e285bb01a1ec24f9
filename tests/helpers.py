import numpy as np

from conftest import assert_matches_fd  # noqa: F401  (re-export for test modules)


def central_difference(f, args, i, h=1e-6):
    """d f / d args[i] by central differences, element by element, in float64."""
    x0 = np.asarray(args[i], dtype=np.float64)
    grad = np.zeros_like(x0)
    for k in range(x0.size):
        values = []
        for sign in (1, -1):
            x = x0.copy()
            x.flat[k] += sign * h
            values.append(f(*args[:i], x if x0.ndim else float(x), *args[i + 1:]))
        grad.flat[k] = (values[0] - values[1]) / (2 * h)
    return grad
