"""Structured builders that the Tracer class itself does not need: sums, reshapes,
zeros and concatenation, used by the NumPy surface and the derivative rules."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ShapeError, user_location
from ..ir import dims
from ..ir.graph import Graph, Node
from ..ir.primitives import normalize_axes
from .tracer import Tracer, _graph_of, as_tracer, astype, bind, const, expression


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



def index_range(graph: Graph, n) -> Tracer:
    """0, 1, ..., n - 1 (int64): a constant for a fixed n, an `arange` node (printed
    `np.arange(n)`) for a symbolic one."""
    n = dims.canon(n)
    if isinstance(n, int):
        return const(graph, np.arange(n))
    var = graph.new_var((n,), np.dtype(np.int64))
    graph.add(Node(var, "arange", params=(("dtype", np.dtype(np.int64).str), ("shape", (n,))),
                   loc=user_location()))
    return Tracer(graph, var)


def diagonal_mask(graph: Graph, rows, cols, k: int = 0, lower: bool = False) -> Tracer:
    """Booleans of a rows x cols matrix: True on the k-th diagonal (`np.eye`), or on and
    below it with `lower` (`np.tri`); built from `index_range`, for symbolic sizes."""
    i = reshape(index_range(graph, rows), (rows, 1))
    j = index_range(graph, cols)
    return (i + k >= j) if lower else (i + k == j)


def identity(graph: Graph, n, dtype) -> Tracer:
    """The n x n identity of a float `dtype`: `np.eye(n)` as a constant for a fixed n,
    the cast `diagonal_mask` for a symbolic one."""
    if not dims.is_symbolic(n):
        return const(graph, np.eye(dims.canon(n), dtype=dtype))
    return astype(diagonal_mask(graph, n, n), dtype)


def concatenate(xs, axis: int = 0) -> Tracer:
    graph = _graph_of(xs)
    xs = [as_tracer(graph, x) for x in xs]
    if not xs[0].ndim:
        raise ShapeError("zero-dimensional arrays cannot be concatenated", user_location())
    axis = normalize_axes(axis, xs[0].ndim)[0]
    if len(xs) == 1:
        return xs[0]
    return bind("concatenate", *xs, axis=axis)

