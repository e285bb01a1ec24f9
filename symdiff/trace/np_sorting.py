"""Sorting and order statistics: sort, argsort, partition, argpartition, median,
quantile and percentile (linear interpolation).

Sorting is a gather: `argsort` (a primitive without derivative, run by the generated
code) gives the order, and the sorted values are `take_along_axis` of it, whose
adjoint scatters the cotangent back. The order is piecewise constant in the values,
so this is the derivative wherever the values are distinct; at ties each position's
gradient goes to the element NumPy's stable sort puts there.
"""

from __future__ import annotations

import numpy as np

from ..errors import TraceError, UnsupportedOpError, user_location
from .array_methods import method_of
from .numpy_api import implements
from .structured import reshape
from .tracer import FUNCTIONS, Tracer, _graph_of, as_tracer, bind

__all__ = []

_KINDS = (None, "quicksort", "mergesort", "heapsort", "stable")


def _tracer(a) -> Tracer:
    return as_tracer(_graph_of([a]), a)


def _axis(a: Tracer, axis):
    """(array, axis): a flattened when axis is None, as NumPy does."""
    if axis is None:
        return reshape(a, (a.size,)), 0
    if not -a.ndim <= int(axis) < a.ndim:
        raise TraceError(f"axis {axis} is out of bounds for an array of {a.ndim} dimensions",
                         user_location())
    return a, int(axis) % a.ndim


def _check(name: str, kind, order) -> None:
    if kind not in _KINDS:
        raise TraceError(f"np.{name}(kind={kind!r}): kind is one of 'quicksort', "
                         "'mergesort', 'heapsort', 'stable' (or left out); every kind gives "
                         "the same sorted values, so the derivative does not depend on it",
                         user_location())
    if order is not None:
        raise UnsupportedOpError(f"np.{name}(order=...) sorts structured arrays by field; "
                                 "traced arrays are plain numbers: sort by a key with "
                                 "np.argsort(key) and take_along_axis", user_location())


@implements(np.argsort, group="sorting and order statistics")
def _argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    _check("argsort", kind, order)
    a, axis = _axis(_tracer(a), axis)
    return bind("argsort", a, axis=axis, kth=None)


@implements(np.sort, group="sorting and order statistics")
def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    _check("sort", kind, order)
    a, axis = _axis(_tracer(a), axis)
    return FUNCTIONS[np.take_along_axis](a, bind("argsort", a, axis=axis, kth=None), axis)


def _kth(kth) -> int | tuple:
    if isinstance(kth, Tracer):
        raise TraceError("np.partition with a traced kth; kth must be a Python int",
                         user_location())
    return int(kth) if np.ndim(kth) == 0 else tuple(int(k) for k in np.ravel(kth))


@implements(np.argpartition, group="sorting and order statistics")
def _argpartition(a, kth, axis=-1, kind="introselect", order=None):
    _check("argpartition", None, order)
    a, axis = _axis(_tracer(a), axis)
    return bind("argsort", a, axis=axis, kth=_kth(kth))


@implements(np.partition, group="sorting and order statistics")
def _partition(a, kth, axis=-1, kind="introselect", order=None):
    _check("partition", None, order)
    a, axis = _axis(_tracer(a), axis)
    order_ = bind("argsort", a, axis=axis, kth=_kth(kth))
    return FUNCTIONS[np.take_along_axis](a, order_, axis)


# -- order statistics ------------------------------------------------------------------------------
def _at(sorted_: Tracer, axis: int, i: int) -> Tracer:
    return sorted_[(slice(None),) * axis + (i,)]


def _quantiles(a, q, axis, keepdims: bool, name: str, method: str) -> Tracer:
    if method != "linear":
        raise UnsupportedOpError(f"np.{name}(method={method!r}); symdiff traces the "
                                 "default, method='linear'", user_location())
    if isinstance(q, Tracer):
        raise TraceError(f"np.{name} with a traced q; give the levels as numbers",
                         user_location())
    a = _tracer(a)
    flat, ax = _axis(a, axis)
    sorted_ = _sort(flat, ax)
    n = flat.shape[ax]
    levels = np.asarray(q, dtype=float)
    if np.any((levels < 0) | (levels > 1)):
        raise TraceError(f"np.{name}: levels must lie in [0, 1] (percentiles in [0, 100])",
                         user_location())
    values = []
    for level in levels.ravel():
        pos = level * (n - 1)
        lo = int(np.floor(pos))
        hi, frac = min(lo + 1, n - 1), pos - lo
        v = _at(sorted_, ax, lo)
        values.append(v if frac == 0 else v + (_at(sorted_, ax, hi) - v) * frac)
    result = FUNCTIONS[np.stack](values) if levels.ndim else values[0]
    result = reshape(result, levels.shape + values[0].shape)
    if keepdims:
        axes = range(a.ndim) if axis is None else [ax]
        for i in axes:
            result = FUNCTIONS[np.expand_dims](result, levels.ndim + i)
    return result


@implements(np.quantile, group="sorting and order statistics")
def _quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
              keepdims=False, *, weights=None, interpolation=None):
    return _quantiles(a, q, axis, keepdims, "quantile", method)


@implements(np.percentile, group="sorting and order statistics")
def _percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, weights=None, interpolation=None):
    return _quantiles(a, np.asarray(q, dtype=float) / 100, axis, keepdims, "percentile",
                      method)


@implements(np.median, group="sorting and order statistics")
def _median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return _quantiles(a, 0.5, axis, keepdims, "median", "linear")


for _func in (np.argsort, np.argpartition):  # (x.sort() sorts in place: not traced)
    setattr(Tracer, _func.__name__, method_of(_func))
