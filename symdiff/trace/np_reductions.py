"""The NumPy surface, reductions: sum, mean, average, max/min, prod, var, std, scans."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ShapeError, UnsupportedOpError, user_location
from ..ir import dims
from .numpy_api import FLOAT, _axes, _axis, _cast, _no_out, _tracers, implements
from .registry import _no_kwargs
from .structured import reduce_sum, reshape
from .tracer import Tracer, as_tracer, bind, broadcast_to, elementwise, materialized


# -- reductions ---------------------------------------------------------------------------
def _reduction_operand(name: str, a, axis, out, kwargs) -> tuple[Tracer, tuple[int, ...]]:
    """The array a reduction `np.<name>` reads and its axes; `out` and unknown keyword
    arguments are refused."""
    _no_out(name, out)
    _no_kwargs(f"np.{name}", kwargs)
    a = _tracers(a)[0]
    return a, _axes(axis, a.ndim)


@implements(np.sum, group="reductions")
def _sum(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    a, axes = _reduction_operand("sum", a, axis, out, kwargs)
    return _cast(reduce_sum(a, axes, keepdims), dtype)


def _count(a: Tracer, axes):
    """The number of elements over `axes`: an int, or an expression of dimensions."""
    return dims.prod([a.shape[i] for i in axes])


@implements(np.mean, group="reductions")
def _mean(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    a, axes = _reduction_operand("mean", a, axis, out, kwargs)
    total = reduce_sum(a, axes, keepdims)
    count = _count(a, axes)
    if count == 0:  # NumPy's 0/0 (with "Mean of empty slice"); nothing to differentiate
        return _cast(_empty_reduction(total, np.nan), dtype)
    _require_elements(count, "np.mean")
    return _cast(elementwise(lambda s, n: s / n, total, count, kind=FLOAT), dtype)


def _require_elements(count, what: str) -> None:
    """A reduction over a symbolic number of elements needs at least one (NumPy's mean
    of none is nan, its max an error): the module checks it."""
    if dims.is_symbolic(count):
        try:
            dims.require_nonnegative(count - 1, f"{what} over {count} elements")
        except ValueError as e:
            raise ShapeError(str(e), user_location()) from None


def _empty_reduction(total: Tracer, value: float) -> Tracer:
    """A reduction over no elements: `value` in every place of `total`, as a constant
    (its input has no elements, so no derivative flows through it)."""
    dtype = total.dtype if total.dtype.kind == "f" else np.dtype(np.float64)
    return as_tracer(total.graph, np.full(total.shape, value, dtype=dtype))


@implements(np.average, group="reductions")
def _average(a, axis=None, weights=None, returned=False, keepdims=False):
    if returned:
        raise UnsupportedOpError("np.average(..., returned=True) returns two values; "
                                 "compute the sum of weights separately", user_location())
    if weights is None:
        return _mean(a, axis=axis, keepdims=keepdims)
    a, w = _tracers(a, weights)
    return _sum(a * w, axis, keepdims=keepdims) / _sum(broadcast_to(w, a.shape), axis,
                                                       keepdims=keepdims)


def _extremum(name: str):
    def impl(a, axis=None, out=None, keepdims=False, **kwargs):
        a, axes = _reduction_operand(name, a, axis, out, kwargs)
        if not axes:
            return a
        _require_elements(_count(a, axes), f"np.{name}")
        if _count(a, axes) == 0:
            raise ShapeError(f"np.{name} over an empty axis (shape {a.shape}, axis={axis}): "
                             "a zero-size reduction has no identity (NumPy raises "
                             "ValueError); check the shape before reducing, or reduce a "
                             "non-empty slice", user_location())
        return bind(name, a, axes=axes, keepdims=bool(keepdims))
    return impl


implements(np.max, np.amax, group="reductions")(_extremum("max"))
implements(np.min, np.amin, group="reductions")(_extremum("min"))


@implements(np.prod, group="reductions")
def _prod(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    a, axes = _reduction_operand("prod", a, axis, out, kwargs)
    if not axes:
        return _cast(a, dtype)
    if a.size == 0:  # the empty product is 1; the input has no elements to differentiate
        return _cast(_empty_reduction(reduce_sum(a, axes, keepdims), 1.0), dtype)
    return _cast(bind("prod", a, axes=axes, keepdims=bool(keepdims)), dtype)


@implements(np.var, group="reductions")
def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
    a, axes = _reduction_operand("var", a, axis, out, kwargs)
    centered = materialized(a - _mean(a, axes, keepdims=True))  # gradients stay centred
    n = _count(a, axes) - ddof
    _require_elements(n, "np.var (or std) with ddof")
    squares = reduce_sum(centered * centered, axes, keepdims)
    return _cast(elementwise(lambda s, m: s / m, squares, n, kind=FLOAT), dtype)


@implements(np.std, group="reductions")
def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
    return elementwise(sp.sqrt, _var(a, axis, dtype, out, ddof, keepdims, **kwargs),
                       kind=FLOAT)


def _scan(name: str):
    def impl(a, axis=None, dtype=None, out=None):
        _no_out(name, out)
        a = _tracers(a)[0]
        if axis is None:
            a, axis = reshape(a, (-1,)), 0
        return _cast(bind(name, a, axis=_axis(axis, a.ndim)), dtype)
    return impl


implements(np.cumsum, group="reductions")(_scan("cumsum"))
implements(np.cumprod, group="reductions")(_scan("cumprod"))
