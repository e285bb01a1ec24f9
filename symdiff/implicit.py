"""Fixed points with the derivative of the solution, not of the iterations that found it.

`fixed_point(f, x0, *params)` iterates ``x = f(x, *params)`` to convergence. Differentiated
(inside `symdiff.grad` and the other transforms), its derivative with respect to
`params` is the implicit-function-theorem derivative of the fixed point,
``dx/dp = (I - df/dx)^-1 df/dp`` at the solution, as `jax.lax.custom_root` gives; the
derivative with respect to `x0` is zero. A `while` loop written out by hand is
differentiated through its iterates instead (see docs/api.md, "Branches and loops").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .api import grad, jacobian, stop_gradient
from .errors import SymdiffError, user_location
from .trace.tracer import Tracer

__all__ = ["fixed_point"]


def fixed_point(f: Callable, x0, *params, tol: float = 1e-12, max_iter: int = 1000):
    """The x with ``x == f(x, *params)``, by iteration from `x0` until every element
    changes by at most ``tol * (1 + |x|)``.

    Under a transform, the iterations are traced (and specialised to their count, as a
    `while` loop is) for the value, and the derivative is the implicit one: one linear
    solve with the Jacobian of `f` at the solution (a division for a scalar x)."""
    x = x0
    for _ in range(max_iter):
        x_new = f(x, *params)
        if np.all(np.abs(x_new - x) <= tol * (1 + np.abs(x))):
            x = x_new
            break
        x = x_new
    else:
        raise SymdiffError(f"fixed_point: {getattr(f, '__qualname__', f)} did not converge "
                           f"to tol={tol} in {max_iter} iterations; raise max_iter, loosen "
                           "tol, or check that f is a contraction near the solution",
                           user_location())
    if not any(isinstance(v, Tracer) for v in (x, *params)):
        return x
    return _implicit(f, stop_gradient(x), params)


def _implicit(f: Callable, x, params):
    """`x` (the converged iterate, its gradient stopped) plus a term whose value is zero
    and whose derivative is the implicit one: (I - df/dx)^-1 (d/dp of f(x, p))."""
    argnums = 0
    residual = f(x, *params) - x  # depends on params only through f's explicit arguments
    change = residual - stop_gradient(residual)  # value 0, derivative df/dp
    if np.ndim(x) == 0:
        slope = stop_gradient(grad(f, argnums)(x, *params))
        return x + change / (1.0 - slope)
    n = int(np.size(x))
    jac = stop_gradient(jacobian(f, argnums)(x, *params)).reshape(n, n)
    step = np.linalg.solve(np.eye(n) - jac, change.reshape(n))
    return x + step.reshape(np.shape(x))
