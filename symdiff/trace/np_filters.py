"""Differences, filters and scans: np.diff, np.gradient, np.convolve, np.correlate,
sliding_window_view, ufunc.reduce / ufunc.accumulate, cumulative_sum/prod.

All but convolution lower to slices, sums and existing scans. Full-mode
convolution is one primitive (`convolve`, ir/decompositions.py), printed as
`np.convolve`; its adjoints are convolutions too (correlations: a convolution with
one operand reversed), so derivatives of any order stay convolutions. The 'same' and
'valid' modes, and np.correlate, are slices of it.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ShapeError, UnsupportedOpError, user_location
from ..ir.elementwise import IsNan
from .numpy_api import implements
from .structured import concatenate, reshape
from .subscript import index_node
from .tracer import (
    FUNCTIONS,
    UFUNC_METHODS,
    UFUNCS,
    Tracer,
    _graph_of,
    as_tracer,
    bind,
    elementwise,
)

__all__ = []


def _tracer(*values) -> list[Tracer]:
    graph = _graph_of(list(values))
    return [as_tracer(graph, v) for v in values]


def _axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"axis {axis} is out of bounds for an array of {ndim} dimensions",
                         user_location())
    return axis % ndim


def _slice_along(x: Tracer, axis: int, start: int, stop: int, step: int = 1) -> Tracer:
    index = tuple(slice(start, stop, step) if i == axis else slice(0, n, 1)
                  for i, n in enumerate(x.shape))
    return index_node(x, index)


# -- np.diff, np.gradient ----------------------------------------------------------------------
@implements(np.diff, group="differences and filters")
def _diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    (a,) = _tracer(a)
    if a.ndim == 0:
        raise ShapeError("np.diff of a 0-d array: it needs at least one dimension",
                         user_location())
    axis = _axis(axis, a.ndim)
    parts = [_edge(a, v, axis) for v in (prepend,) if v is not np._NoValue] + [a] + \
        [_edge(a, v, axis) for v in (append,) if v is not np._NoValue]
    a = concatenate(parts, axis) if len(parts) > 1 else a
    for _ in range(int(n)):
        length = a.shape[axis]
        a = _slice_along(a, axis, 1, length) - _slice_along(a, axis, 0, max(length - 1, 0))
    return a


def _edge(a: Tracer, value, axis: int) -> Tracer:
    """prepend/append: a scalar is broadcast to one slice along `axis`."""
    v = as_tracer(a.graph, value)
    if v.ndim == 0:
        shape = a.shape[:axis] + (1,) + a.shape[axis + 1:]
        v = FUNCTIONS[np.broadcast_to](v, shape)
    return v


@implements(np.gradient, group="differences and filters")
def _gradient(f, *varargs, axis=None, edge_order=1):
    (f,) = _tracer(f)
    axes = tuple(range(f.ndim)) if axis is None else \
        tuple(_axis(a, f.ndim) for a in np.atleast_1d(axis))
    spacings = _spacings(varargs, len(axes))
    out = [_gradient_axis(f, ax, h, int(edge_order)) for ax, h in zip(axes, spacings)]
    return out[0] if len(out) == 1 else tuple(out)


def _spacings(varargs, count: int) -> list:
    """One spacing per axis: a number, or the coordinates along that axis (a 1-d
    array, constant or traced)."""
    if not varargs:
        return [1.0] * count
    if len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        return [varargs[0]] * count
    if len(varargs) != count:
        raise ShapeError(f"np.gradient: {len(varargs)} spacings for {count} axes",
                         user_location())
    return [v if np.ndim(v) == 0 else _coordinates(v) for v in varargs]


def _coordinates(x):
    if isinstance(x, Tracer):
        return x
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ShapeError("np.gradient: coordinates must be 1-d arrays", user_location())
    return x


def _gradient_axis(f: Tracer, axis: int, h, edge_order: int) -> Tracer:
    """NumPy's second-order differences inside (on a uniform or a coordinate grid),
    first- or second-order one-sided ones at the ends."""
    n = f.shape[axis]
    if n < edge_order + 1:
        raise ShapeError(f"np.gradient needs at least {edge_order + 1} points along axis "
                         f"{axis}, got {n}", user_location())
    if np.ndim(h) == 0:
        return _uniform_gradient(f, axis, h, edge_order)
    if h.shape != (n,):
        raise ShapeError(f"np.gradient: {h.shape[0]} coordinates for an axis of {n}",
                         user_location())
    dx = h[1:] - h[:-1]
    line = [1] * f.ndim
    line[axis] = -1

    def along(c):  # a coefficient per position, spread along `axis`
        return c.reshape(line) if not isinstance(c, Tracer) else reshape(c, tuple(
            d if i == axis else 1 for i, d in enumerate(f.shape[:axis] + (c.shape[0],)
                                                        + f.shape[axis + 1:])))

    def at(i, j=None):
        return _slice_along(f, axis, i, j if j is not None else i + 1)

    parts = [_edge_difference(at, dx, n, edge_order, first=True)]
    if n > 2:
        hd, hs = dx[:-1], dx[1:]
        parts.append(along(-hs / (hd * (hd + hs))) * at(0, n - 2)
                     + along((hs - hd) / (hd * hs)) * at(1, n - 1)
                     + along(hd / (hs * (hd + hs))) * at(2, n))
    parts.append(_edge_difference(at, dx, n, edge_order, first=False))
    return concatenate(parts, axis)


def _uniform_gradient(f: Tracer, axis: int, h, edge_order: int) -> Tracer:
    n = f.shape[axis]

    def at(i, j=None):
        return _slice_along(f, axis, i, j if j is not None else i + 1)

    if edge_order == 1:
        first, last = (at(1) - at(0)) / h, (at(n - 1) - at(n - 2)) / h
    else:
        first = (-1.5 * at(0) + 2.0 * at(1) - 0.5 * at(2)) / h
        last = (0.5 * at(n - 3) - 2.0 * at(n - 2) + 1.5 * at(n - 1)) / h
    inner = [(at(2, n) - at(0, n - 2)) / (2.0 * h)] if n > 2 else []
    return concatenate([first, *inner, last], axis)


def _edge_difference(at, dx, n: int, edge_order: int, first: bool):
    """NumPy's one-sided difference at the first or the last point."""
    if edge_order == 1:
        return (at(1) - at(0)) / dx[0] if first else (at(n - 1) - at(n - 2)) / dx[-1]
    if first:
        d1, d2 = dx[0], dx[1]
        return (-(2.0 * d1 + d2) / (d1 * (d1 + d2)) * at(0) + (d1 + d2) / (d1 * d2) * at(1)
                - d1 / (d2 * (d1 + d2)) * at(2))
    d1, d2 = dx[-2], dx[-1]
    return (d2 / (d1 * (d1 + d2)) * at(n - 3) - (d2 + d1) / (d1 * d2) * at(n - 2)
            + (2.0 * d2 + d1) / (d2 * (d1 + d2)) * at(n - 1))


# -- convolution -------------------------------------------------------------------------------
def _flip(x: Tracer) -> Tracer:
    return index_node(x, (slice(x.shape[0] - 1, None, -1),))


def _window(full: Tracer, start: int, length: int) -> Tracer:
    if start == 0 and length == full.shape[0]:
        return full
    return index_node(full, (slice(start, start + length, 1),))


def _mode_window(n: int, k: int, mode: str) -> tuple[int, int]:
    small, large = min(n, k), max(n, k)
    if mode == "full":
        return 0, n + k - 1
    if mode == "same":
        return (small - 1) // 2, large
    if mode == "valid":
        return small - 1, large - small + 1
    raise ShapeError(f"mode {mode!r}: use 'full', 'same' or 'valid'", user_location())


@implements(np.convolve, group="differences and filters")
def _convolve(a, v, mode="full"):
    a, v = _tracer(a, v)
    _check_1d("convolve", a, v)
    start, length = _mode_window(a.shape[0], v.shape[0], mode)
    return _window(bind("convolve", a, v), start, length)


@implements(np.correlate, group="differences and filters")
def _correlate(a, v, mode="valid"):
    """c[k] = sum_n a[n + k] v[n]: a convolution with v reversed (NumPy swaps and
    reverses when v is the longer one, which moves the 'same' window)."""
    a, v = _tracer(a, v)
    _check_1d("correlate", a, v)
    n, k = a.shape[0], v.shape[0]
    start, length = _mode_window(n, k, mode)
    if mode == "same" and n < k:
        start = n + k - 1 - length - (n - 1) // 2
    return _window(bind("convolve", a, _flip(v)), start, length)


def _check_1d(name: str, a: Tracer, v: Tracer) -> None:
    if a.ndim != 1 or v.ndim != 1 or not a.size or not v.size:
        raise ShapeError(f"np.{name} needs two non-empty 1-d arrays, got shapes {a.shape} "
                         f"and {v.shape}; for n-d filters use np.einsum over "
                         "sliding_window_view", user_location())


@implements(np.lib.stride_tricks.sliding_window_view, group="differences and filters")
def _sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    """Windows as an index with a constant integer array per windowed axis."""
    (x,) = _tracer(x)
    shapes = tuple(np.atleast_1d(window_shape).tolist())
    axes = tuple(range(x.ndim)) if axis is None else tuple(np.atleast_1d(axis).tolist())
    if len(shapes) != len(axes):
        raise ShapeError("sliding_window_view: window_shape and axis differ in length",
                         user_location())
    probe = np.lib.stride_tricks.sliding_window_view(
        np.arange(x.size).reshape(x.shape), window_shape, axis)
    flat = reshape(x, (x.size,))
    return FUNCTIONS[np.take](flat, probe)


# -- ufunc.reduce and ufunc.accumulate ----------------------------------------------------------
_REDUCERS = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max, np.minimum: np.min,
             np.fmax: np.max, np.fmin: np.min}


def _reduce(ufunc):
    def impl(array, axis=0, dtype=None, out=None, keepdims=False, initial=np._NoValue,
             where=True):
        if out is not None or initial is not np._NoValue or where is not True:
            raise UnsupportedOpError(f"np.{ufunc.__name__}.reduce with out/initial/where; "
                                     "leave them out", user_location())
        (a,) = _tracer(array)
        if ufunc in _REDUCERS:
            result = FUNCTIONS[_REDUCERS[ufunc]](a, axis=axis, keepdims=keepdims)
        else:
            result = _fold(ufunc, a, axis, keepdims)
        return result.astype(dtype) if dtype is not None else result
    return impl


def _fold(ufunc, a: Tracer, axis, keepdims: bool) -> Tracer:
    """Any binary ufunc, applied pairwise along `axis` (logaddexp.reduce: a tree of
    logaddexp, as exact as NumPy's left-to-right order)."""
    if axis is None:
        a, axis = reshape(a, (a.size,)), 0
    if isinstance(axis, tuple):
        raise UnsupportedOpError(f"np.{ufunc.__name__}.reduce over several axes; reduce one "
                                 "axis at a time", user_location())
    axis = _axis(axis, a.ndim)
    items = [_slice_along(a, axis, i, i + 1) for i in range(a.shape[axis])]
    if not items:
        raise ShapeError(f"np.{ufunc.__name__}.reduce over an empty axis", user_location())
    result = items[0]
    for item in items[1:]:
        result = UFUNCS[ufunc](result, item)
    return result if keepdims else FUNCTIONS[np.squeeze](result, axis=axis)


def _accumulate(ufunc):
    def impl(array, axis=0, dtype=None, out=None):
        if out is not None:
            raise UnsupportedOpError(f"np.{ufunc.__name__}.accumulate(out=...); assign the "
                                     "result instead", user_location())
        (a,) = _tracer(array)
        axis = _axis(axis, a.ndim)
        if ufunc is np.add:
            return FUNCTIONS[np.cumsum](a, axis=axis, dtype=dtype)
        if ufunc is np.multiply:
            return FUNCTIONS[np.cumprod](a, axis=axis, dtype=dtype)
        running = [_slice_along(a, axis, 0, 1)]
        for i in range(1, a.shape[axis]):
            running.append(UFUNCS[ufunc](running[-1], _slice_along(a, axis, i, i + 1)))
        return concatenate(running, axis)
    return impl


def register_ufunc_methods() -> None:
    """reduce and accumulate for every traced binary ufunc with an identity-free fold."""
    for ufunc in (np.add, np.multiply, np.maximum, np.minimum, np.fmax, np.fmin,
                  np.logaddexp, np.logaddexp2, np.hypot, np.subtract, np.true_divide,
                  np.power):
        if ufunc in UFUNCS:
            UFUNC_METHODS[(ufunc, "reduce")] = _reduce(ufunc)
            UFUNC_METHODS[(ufunc, "accumulate")] = _accumulate(ufunc)


register_ufunc_methods()

if hasattr(np, "cumulative_sum"):  # NumPy 2.1+
    @implements(np.cumulative_sum, group="differences and filters")
    def _cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        return _cumulative(x, axis, dtype, include_initial, np.cumsum, 0.0)

    @implements(np.cumulative_prod, group="differences and filters")
    def _cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        return _cumulative(x, axis, dtype, include_initial, np.cumprod, 1.0)


def _cumulative(x, axis, dtype, include_initial, scan, initial):
    (x,) = _tracer(x)
    if axis is None:
        if x.ndim > 1:
            raise ShapeError("np.cumulative_sum/prod of an n-d array needs axis (NumPy "
                             "raises too)", user_location())
        axis = 0
    axis = _axis(axis, x.ndim)
    result = FUNCTIONS[scan](x, axis=axis, dtype=dtype)
    if not include_initial:
        return result
    shape = x.shape[:axis] + (1,) + x.shape[axis + 1:]
    start = as_tracer(x.graph, np.full(shape, initial, dtype=result.dtype))
    return concatenate([start, result], axis)


def _nan_scan(scan, identity: float):
    """nancumsum/nancumprod: nan counts as the identity (its derivative is then 0:
    the caller asked for nan to be ignored); elsewhere the scan itself."""
    def impl(a, axis=None, dtype=None, out=None):
        (a,) = _tracer(a)
        cleaned = elementwise(lambda v: sp.Piecewise((identity, IsNan(v)), (v, True)), a)
        return FUNCTIONS[scan](cleaned, axis=axis, dtype=dtype, out=out)
    return impl


implements(np.nancumsum, group="differences and filters")(_nan_scan(np.cumsum, 0.0))
implements(np.nancumprod, group="differences and filters")(_nan_scan(np.cumprod, 1.0))
