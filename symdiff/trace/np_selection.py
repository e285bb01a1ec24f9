"""The NumPy surface, selection: take, where, clip, rounding, constants and queries."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ShapeError, TraceError, UnsupportedOpError, user_location
from ..ir import dims
from ..ir import elementwise as F
from ..ir.elementwise import number
from .numpy_api import BOOL, FLOAT, _axis, _graph, _no_out, _tracers, implements
from .registry import _no_kwargs
from .structured import diagonal_mask, reshape
from .subscript import getitem
from .tracer import Tracer, as_tracer, astype, broadcast_to, const, elementwise, expression


# -- picking elements by index ------------------------------------------------------------
@implements(np.take, group="picking by index")
def _take(a, indices, axis=None, out=None, mode=None):
    _no_out("take", out)
    if mode not in (None, "raise"):
        raise UnsupportedOpError(f"np.take(mode={mode!r}); index in range instead",
                                 user_location())
    a = _tracers(a)[0]
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    return getitem(a, (slice(None),) * _axis(axis, a.ndim) + (indices,))


@implements(np.take_along_axis, group="picking by index")
def _take_along_axis(arr, indices, axis=-1):
    """arr[i, j, indices[i, j, k], ...]: ranges over the other axes, shaped to broadcast
    against `indices` (NumPy's own construction)."""
    a = _tracers(arr)[0]
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis = _axis(axis, a.ndim)
    if np.ndim(indices) != a.ndim:
        raise ShapeError(f"np.take_along_axis: indices of {np.ndim(indices)} dimensions for "
                         f"an array of {a.ndim}", user_location())
    key = tuple(indices if i == axis else
                np.arange(n).reshape((1,) * i + (n,) + (1,) * (a.ndim - i - 1))
                for i, n in enumerate(a.shape))
    return getitem(a, key)


# -- choosing and rounding ------------------------------------------------------------------
@implements(np.where, group="choosing and rounding")
def _where(condition, x=None, y=None):
    if x is None or y is None:
        raise TraceError("np.where(condition) with one argument gives data-dependent "
                         "indices; use np.where(condition, a, b)", user_location())
    cond = condition if isinstance(condition, Tracer) else np.asarray(condition, dtype=bool)
    if isinstance(cond, Tracer) and cond.dtype != bool:
        cond = elementwise(lambda c: sp.Ne(c, 0), cond, kind=BOOL)

    def choose(c, a, b):
        return sp.Piecewise((a, c), (b, True))

    if not isinstance(cond, Tracer):
        cond = as_tracer(_graph(x, y), cond)
    return elementwise(choose, cond, x, y, conditions=1)


@implements(np.clip, group="choosing and rounding")
def _clip(a, a_min=None, a_max=None, out=None, **kwargs):
    _no_out("clip", out)
    a_min, a_max = kwargs.pop("min", a_min), kwargs.pop("max", a_max)
    _no_kwargs("np.clip", kwargs)

    def clip(x, *given):  # a missing bound is an infinity (printed as None)
        given = iter(given)
        lo = -sp.oo if a_min is None else next(given)
        hi = sp.oo if a_max is None else next(given)
        return F.Clip(x, lo, hi)

    return elementwise(clip, a, *(b for b in (a_min, a_max) if b is not None))


@implements(np.round, np.around, group="choosing and rounding")
def _round(a, decimals=0, out=None):
    _no_out("round", out)
    if decimals == 0:
        return elementwise(F.Round, a)
    scale = sp.Integer(10) ** int(decimals)
    return elementwise(lambda x: F.Round(x * scale) / scale, a, kind=FLOAT)


@implements(np.fix, group="choosing and rounding")
def _fix(x, out=None):
    _no_out("fix", out)
    return elementwise(F.Trunc, x, kind=FLOAT)


# -- constants and queries -----------------------------------------------------------------
#: `np.zeros_like` of more elements than this (or of a symbolic size) is a broadcast
#: number in the trace, not a constant array.
MAX_CONSTANT_ELEMENTS = 1 << 20


def _like(fill):
    def impl(a, dtype=None, order="K", subok=True, shape=None, **kwargs):
        a = _tracers(a)[0]
        shape = a.shape if shape is None else tuple(np.atleast_1d(shape))
        dtype = np.dtype(dtype or a.dtype)
        value = fill(kwargs) if fill is not None else 0
        if isinstance(value, Tracer):
            return astype(broadcast_to(value, shape), dtype)
        if dims.at_least(dims.prod(shape), MAX_CONSTANT_ELEMENTS + 1):
            # symbolic or huge: the value broadcast, never an array of that size
            return expression(a.graph, number(value), shape, dtype)
        return const(a.graph, np.full(shape, value, dtype=dtype))
    return impl


implements(np.zeros_like, np.empty_like, group="constants")(_like(None))
implements(np.ones_like, group="constants")(_like(lambda kw: 1))


@implements(np.full_like, group="constants")
def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return _like(lambda kw: fill_value)(a, dtype=dtype, shape=shape)


@implements(np.shape, group="constants")
def _shape(a):
    return tuple(dims.user_size(d) for d in a._var.shape)  # (np.shape is the user's call)


@implements(np.ndim, group="constants")
def _ndim(a):
    return a.ndim


@implements(np.size, group="constants")
def _size(a, axis=None):
    return dims.user_size(a._var.size if axis is None else a._var.shape[axis])


@implements(np.copy, group="constants")
def _copy(a, order="K", subok=False):
    return a


# -- tril and triu: listed under shapes, built on np.where -------------------------------
def _triangle(lower: bool):
    def impl(m, k=0):
        a = _tracers(m)[0]
        if a.ndim < 1:
            raise ShapeError("np.tril/np.triu of a 0-d array", user_location())
        if a.ndim == 1:  # NumPy reads a vector as the rows of a square matrix
            a = broadcast_to(a, a.shape * 2)
        rows, cols = a.shape[-2:]
        if dims.is_symbolic((rows, cols)):  # np.arange(n)[:, None] + k >= np.arange(m)
            if lower:
                return _where(diagonal_mask(a.graph, rows, cols, k, lower=True), a, 0)
            return _where(diagonal_mask(a.graph, rows, cols, k - 1, lower=True), 0, a)
        keep = np.tri(rows, cols, k, dtype=bool) if lower else \
            ~np.tri(rows, cols, k - 1, dtype=bool)
        return _where(keep, a, 0)
    return impl


implements(np.tril, group="shapes")(_triangle(True))
implements(np.triu, group="shapes")(_triangle(False))
