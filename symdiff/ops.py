"""Structured primitives: what a node can be besides an elementwise SymPy expression.

Each primitive has a shape rule and a NumPy reference implementation (used to
evaluate graphs directly, in tests and for constant folding). Its derivative rule
lives in `rules.py` and its printer in `emit.py`; a test checks that every
primitive has all three. Elementwise math needs no entry here: it is SymPy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Primitive", "PRIMITIVES", "primitive", "normalize_axes"]


@dataclass(frozen=True)
class Primitive:
    """A structured op: ``shape_rule(*input_shapes, **params) -> shape``."""

    name: str
    impl: Callable[..., Any]
    shape_rule: Callable[..., tuple]
    dtype_rule: Callable[..., Any] | None = None
    doc: str = ""

    def out_dtype(self, *dtypes, **params) -> np.dtype:
        if self.dtype_rule is not None:
            return np.dtype(self.dtype_rule(*dtypes, **params))
        return np.result_type(*dtypes)


PRIMITIVES: dict[str, Primitive] = {}


def primitive(name: str, impl, shape_rule, dtype_rule=None, doc: str = "") -> Primitive:
    """Register a structured primitive (the extension point for new structured ops)."""
    prim = Primitive(name, impl, shape_rule, dtype_rule, doc)
    PRIMITIVES[name] = prim
    return prim


def normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    """`axis` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    out = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim)
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


# -- shape rules ------------------------------------------------------------------
def _reduce_shape(shape, *, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _matmul_shape(a, b):
    if not a or not b:
        raise ValueError("matmul: operands must be at least 1-d (use * for scalars)")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ValueError(f"matmul: inner dimensions differ: {a} @ {b}")
    batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    out = batch + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def _transpose_shape(shape, *, axes):
    return tuple(shape[i] for i in axes)


primitive(
    "sum",
    lambda x, *, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims),
    _reduce_shape,
    doc="sum over `axes` (a tuple), keeping them as size 1 when `keepdims`",
)
primitive("matmul", np.matmul, _matmul_shape, doc="NumPy's matmul / `@`")
primitive(
    "reshape",
    lambda x, *, shape: np.reshape(x, shape),
    lambda s, *, shape: tuple(shape),
    lambda dt, **_: dt,
    doc="reshape to `shape`",
)
primitive(
    "transpose",
    lambda x, *, axes: np.transpose(x, axes),
    _transpose_shape,
    lambda dt, **_: dt,
    doc="permute axes",
)
primitive(
    "broadcast_to",
    lambda x, *, shape: np.broadcast_to(x, shape),
    lambda s, *, shape: tuple(shape),
    lambda dt, **_: dt,
    doc="broadcast to `shape` (NumPy rules)",
)
primitive(
    "stop_gradient",
    lambda x: x,
    lambda s: tuple(s),
    lambda dt: dt,
    doc="identity whose derivative is zero (jax.lax.stop_gradient, torch detach)",
)
