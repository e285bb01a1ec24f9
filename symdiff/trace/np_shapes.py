"""The NumPy surface, shapes: transposes, reshapes, joining, splitting, tiling, padding."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ShapeError, TraceError, UnsupportedOpError, user_location
from ..ir import dims
from .numpy_api import _axes, _axis, _no_out, _tracers, implements
from .registry import _no_kwargs
from .structured import concatenate, reshape
from .subscript import getitem
from .tracer import Tracer, bind, broadcast_to, power, transpose


# -- shapes -------------------------------------------------------------------------------
@implements(np.transpose, group="shapes")
def _transpose(a, axes=None):
    return transpose(_tracers(a)[0], axes)


@implements(np.reshape, group="shapes")
def _reshape(a, shape=None, order="C", **kwargs):
    shape = kwargs.pop("newshape", shape)
    _no_kwargs("np.reshape", kwargs)
    if order != "C":
        raise TraceError(f"np.reshape(..., order={order!r}): only C order is traced",
                         user_location())
    return reshape(_tracers(a)[0], shape)


@implements(np.ravel, group="shapes")
def _ravel(a, order="C"):
    return _reshape(a, (-1,), order=order)


@implements(np.broadcast_to, group="shapes")
def _broadcast_to(a, shape, subok=False):
    return broadcast_to(_tracers(a)[0], tuple(shape) if not isinstance(shape, int) else (shape,))


@implements(np.swapaxes, group="shapes")
def _swapaxes(a, axis1, axis2):
    a = _tracers(a)[0]
    perm = list(range(a.ndim))
    i, j = _axis(axis1, a.ndim), _axis(axis2, a.ndim)
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, tuple(perm))


@implements(np.moveaxis, group="shapes")
def _moveaxis(a, source, destination):
    a = _tracers(a)[0]
    src = [_axis(s, a.ndim) for s in np.atleast_1d(source)]
    dst = [_axis(d, a.ndim) for d in np.atleast_1d(destination)]
    order = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, tuple(order))


@implements(np.expand_dims, group="shapes")
def _expand_dims(a, axis):
    a = _tracers(a)[0]
    axes = _axes(axis, a.ndim + len(np.atleast_1d(axis)))
    shape = iter(a.shape)
    return reshape(a, tuple(1 if i in axes else next(shape) for i in range(a.ndim + len(axes))))


@implements(np.squeeze, group="shapes")
def _squeeze(a, axis=None):
    a = _tracers(a)[0]
    axes = tuple(i for i, d in enumerate(a.shape) if d == 1) if axis is None \
        else _axes(axis, a.ndim)
    if axis is None:  # at size 1, NumPy would drop a symbolic axis too: require >= 2
        for d in a.shape:
            if dims.is_symbolic(d):
                dims.require_nonnegative(d - 2, "np.squeeze without an axis (which drops "
                                         "every axis of size 1)")
    if any(a.shape[i] != 1 for i in axes):
        raise ShapeError(f"cannot squeeze axis {axis} of shape {a.shape}: its size is not 1",
                         user_location())
    return reshape(a, tuple(d for i, d in enumerate(a.shape) if i not in axes))


@implements(np.atleast_1d, group="shapes")
def _atleast_1d(*arys):
    out = [reshape(a, (1,)) if a.ndim == 0 else a for a in _tracers(*arys)]
    return out[0] if len(out) == 1 else out


@implements(np.atleast_2d, group="shapes")
def _atleast_2d(*arys):
    out = [reshape(a, (1,) * (2 - a.ndim) + a.shape) if a.ndim < 2 else a
           for a in _tracers(*arys)]
    return out[0] if len(out) == 1 else out


@implements(np.concatenate, group="shapes")
def _concatenate(arrays, axis=0, out=None, **kwargs):
    _no_out("concatenate", out)
    _no_kwargs("np.concatenate", kwargs)
    arrays = _tracers(*arrays)
    if axis is None:
        return concatenate([reshape(a, (-1,)) for a in arrays], 0)
    return concatenate(arrays, axis)


@implements(np.stack, group="shapes")
def _stack(arrays, axis=0, out=None, **kwargs):
    _no_out("stack", out)
    _no_kwargs("np.stack", kwargs)
    arrays = _tracers(*arrays)
    if len({a.shape for a in arrays}) != 1:
        raise ShapeError("np.stack needs arrays of one shape, got "
                         + ", ".join(str(a.shape) for a in arrays), user_location())
    return concatenate([_expand_dims(a, axis) for a in arrays], axis)


@implements(np.hstack, group="shapes")
def _hstack(tup, **kwargs):
    _no_kwargs("np.hstack", kwargs)
    arrays = [_atleast_1d(a) for a in _tracers(*tup)]
    return concatenate(arrays, 0 if arrays[0].ndim == 1 else 1)


@implements(np.vstack, group="shapes")
def _vstack(tup, **kwargs):
    _no_kwargs("np.vstack", kwargs)
    return concatenate([_atleast_2d(a) for a in _tracers(*tup)], 0)


@implements(np.column_stack, group="shapes")
def _column_stack(tup):
    arrays = [reshape(a, (a.size, 1)) if a.ndim < 2 else a for a in _tracers(*tup)]
    return concatenate(arrays, 1)


def _split_points(n: int, sections, equal: bool) -> list[int]:
    if isinstance(sections, (int, np.integer)) and dims.is_symbolic(n):
        return _equal_sections(n, int(sections), equal)
    if dims.is_symbolic(n):  # split points: within the axis (the module checks it)
        points = [int(i) for i in sections]
        for lo, hi in zip([0] + points, points):
            if hi < lo:
                raise ShapeError(f"np.split: split points {points} are not increasing",
                                 user_location())
        if points:
            dims.require_nonnegative(n - points[-1], f"np.split at {points}")
        return [0] + points + [n]
    if isinstance(sections, (int, np.integer)):
        if equal and n % sections:
            raise ShapeError(f"np.split: {n} elements do not divide into {sections} equal "
                             "sections; use np.array_split", user_location())
        size, extra = divmod(n, sections)
        sizes = [size + 1] * extra + [size] * (sections - extra)
        return list(np.cumsum([0] + sizes))
    return [0] + [min(int(i), n) for i in sections] + [n]


def _equal_sections(n, k: int, equal: bool) -> list:
    """Split points of np.split(x, k) along an axis of symbolic length n: multiples of
    n//k, k dividing n (the module checks it). np.array_split's section lengths depend
    on n % k: that needs n as a number."""
    if not equal:
        dims.concrete(n, f"splits it into {k} sections with np.array_split, whose lengths "
                      "depend on it")
    if k < 1:
        raise ShapeError(f"np.split: number sections must be larger than 0, got {k}",
                         user_location())
    dims.require_divisible(n, k, f"np.split into {k} equal sections")
    size = dims.canon(sp.floor(dims.canon(n) / k))
    return [dims.canon(i * size) for i in range(k + 1)]  # (the last ends at k*(n//k) = n)


def _split_impl(equal: bool):
    def impl(ary, indices_or_sections, axis=0):
        a = _tracers(ary)[0]
        axis = _axis(axis, a.ndim)
        points = _split_points(a.shape[axis], indices_or_sections, equal)
        lead = (slice(None),) * axis
        return [getitem(a, lead + (slice(lo, hi if dims.is_symbolic(hi) else max(lo, hi)),))
                for lo, hi in zip(points[:-1], points[1:])]
    return impl


implements(np.split, group="shapes")(_split_impl(True))
implements(np.array_split, group="shapes")(_split_impl(False))


@implements(np.tile, group="shapes")
def _tile(A, reps):
    a = _tracers(A)[0]
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    d = max(a.ndim, len(reps))
    shape = (1,) * (d - a.ndim) + a.shape
    reps = (1,) * (d - len(reps)) + reps
    # (r0, s0, r1, s1, ...) in C order: element j of block r lands at r * s + j.
    spread = reshape(a, tuple(x for s in shape for x in (1, s)))
    spread = broadcast_to(spread, tuple(x for r, s in zip(reps, shape) for x in (r, s)))
    return reshape(spread, tuple(r * s for r, s in zip(reps, shape)))


@implements(np.repeat, group="shapes")
def _repeat(a, repeats, axis=None):
    a = _tracers(a)[0]
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis = _axis(axis, a.ndim)
    counts = np.asarray(repeats)
    if counts.ndim == 0:  # each element followed by its copies: a new axis after `axis`
        r = int(counts)
        wide = reshape(a, a.shape[:axis + 1] + (1,) + a.shape[axis + 1:])
        wide = broadcast_to(wide, a.shape[:axis + 1] + (r,) + a.shape[axis + 1:])
        return reshape(wide, a.shape[:axis] + (a.shape[axis] * r,) + a.shape[axis + 1:])
    picks = np.repeat(np.arange(a.shape[axis]), counts)
    return getitem(a, (slice(None),) * axis + (picks,))


@implements(np.flip, group="shapes")
def _flip(m, axis=None):
    m = _tracers(m)[0]
    axes = _axes(axis, m.ndim)
    return getitem(m, tuple(slice(None, None, -1) if i in axes else slice(None)
                            for i in range(m.ndim)))


@implements(np.fliplr, group="shapes")
def _fliplr(m):
    return _flip(m, 1)


@implements(np.flipud, group="shapes")
def _flipud(m):
    return _flip(m, 0)


@implements(np.roll, group="shapes")
def _roll(a, shift, axis=None):
    a = _tracers(a)[0]
    if axis is None:
        return reshape(_roll(reshape(a, (-1,)), shift, 0), a.shape)
    shifts, axes = np.broadcast_arrays(np.atleast_1d(shift), np.atleast_1d(axis))
    for s, ax in zip(shifts, axes):
        ax = _axis(ax, a.ndim)
        n = a.shape[ax]  # (a symbolic length: np.roll reduces the shift when it runs)
        s = int(s) if dims.is_symbolic(n) else int(s) % n if n else 0
        if s:
            a = bind("roll", a, shift=s, axis=ax)
    return a


@implements(np.pad, group="shapes")
def _pad(array, pad_width, mode="constant", **kwargs):
    a = _tracers(array)[0]
    if mode != "constant":
        raise UnsupportedOpError(f"np.pad(mode={mode!r}); only mode='constant' is traced",
                                 user_location())
    value = kwargs.pop("constant_values", 0)
    _no_kwargs("np.pad", kwargs)
    values = np.unique(np.asarray(value))
    if isinstance(value, Tracer) or values.size != 1:
        raise UnsupportedOpError("np.pad with a traced or per-axis constant_values; pad "
                                 "with one number", user_location())
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (a.ndim, 2))
    widths = tuple((int(lo), int(hi)) for lo, hi in widths)
    if not any(lo or hi for lo, hi in widths):
        return a
    return bind("pad", a, widths=widths, value=values.item())


@implements(np.vander, group="shapes")
def _vander(x, N=None, increasing=False):
    x = _tracers(x)[0]
    if x.ndim != 1:
        raise ShapeError(f"np.vander: x must be 1-d, got shape {x.shape}", user_location())
    n = x.shape[0] if N is None else int(N)
    exponents = np.arange(n) if increasing else np.arange(n - 1, -1, -1)
    return power(reshape(x, (x.shape[0], 1)), exponents)
