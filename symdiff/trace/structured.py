"""Structured builders that the Tracer class itself does not need: sums, reshapes,
zeros and concatenation, used by the NumPy surface and the derivative rules."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ShapeError, user_location
from ..ir import dims
from ..ir.graph import Graph
from ..ir.primitives import normalize_axes
from .tracer import Tracer, _graph_of, as_tracer, bind, expression


def reduce_sum(x: Tracer, axis=None, keepdims: bool = False) -> Tracer:
    axes = normalize_axes(axis, x.ndim)
    if not axes:
        return x
    return bind("sum", x, axes=axes, keepdims=bool(keepdims))



def reshape(x: Tracer, shape) -> Tracer:
    shape = (shape,) if isinstance(shape, (int, np.integer, sp.Basic, dims.Size)) \
        else tuple(shape)
    try:
        shape = dims.reshape_shape(x.shape, shape)
    except ValueError as e:
        raise ShapeError(f"cannot reshape {dims.shape_text(x.shape)} to "
                         f"{dims.shape_text(shape)}: {e}", user_location()) from None
    if shape == x.shape:
        return x
    return bind("reshape", x, shape=shape)



def zeros(graph: Graph, shape, dtype) -> Tracer:
    """A zero array (a scalar 0 broadcast: it costs nothing until used)."""
    return expression(graph, sp.Integer(0), tuple(shape), np.dtype(dtype))



def concatenate(xs, axis: int = 0) -> Tracer:
    graph = _graph_of(xs)
    xs = [as_tracer(graph, x) for x in xs]
    if not xs[0].ndim:
        raise ShapeError("zero-dimensional arrays cannot be concatenated", user_location())
    axis = normalize_axes(axis, xs[0].ndim)[0]
    if len(xs) == 1:
        return xs[0]
    return bind("concatenate", *xs, axis=axis)

