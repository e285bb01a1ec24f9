"""Stage 6: numerical checks of derivatives (central differences in float64)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["numerical_gradient", "step_for"]


def step_for(dtype) -> float:
    """Central-difference step: about the cube root of the float64 machine epsilon,
    the step that balances truncation and rounding error."""
    return float(np.finfo(np.float64).eps ** (1 / 3))


def numerical_gradient(f: Callable, args: Sequence[Any], argnum: int = 0,
                       step: float | None = None) -> np.ndarray | float:
    """d f / d args[argnum] by central differences, every element, in float64."""
    args = list(args)
    x0 = np.array(args[argnum], dtype=np.float64)
    scalar_input = np.ndim(args[argnum]) == 0 and not isinstance(args[argnum], np.ndarray)
    out = np.zeros_like(x0)
    flat = out.reshape(-1)
    for i in range(x0.size):
        h = (step or step_for(np.float64)) * max(1.0, abs(x0.flat[i]))
        values = []
        for sign in (1, -1):
            x = x0.copy()
            x.flat[i] += sign * h
            args[argnum] = float(x) if scalar_input else x
            values.append(float(np.asarray(f(*args), dtype=np.float64)))
        flat[i] = (values[0] - values[1]) / (2 * h)
    return float(out) if scalar_input else out
