"""More of NumPy, lowered to what is already traced: shapes (rot90, append, insert,
delete, rollaxis, hsplit/vsplit/dsplit, atleast_3d, row_stack, block, einsum's
interleaved operands), choices (select, piecewise) and elementwise functions
(radians, degrees, fabs, sinc, heaviside, copysign, ldexp as x * 2**e, conj/conjugate
and real of real values, nan_to_num; frexp is not traced: its exponent is an integer
array NumPy computes from the values).

Where NumPy's result is a rearrangement decided by constants (insert, delete,
rollaxis), NumPy itself is run on positions to find it, and the traced array is
gathered with that constant index: the same elements in the same places by
construction.
"""

from __future__ import annotations

import string

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import exp2

from ..errors import ShapeError, TraceError, UnsupportedOpError, user_location
from ..ir import elementwise as F
from . import rebind
from .numpy_api import FUNCTION_GROUPS, implements
from .structured import concatenate, reshape
from .subscript import getitem
from .tracer import FUNCTIONS, UFUNCS, Tracer, _graph_of, as_tracer, elementwise

__all__ = []


def _tracer(a, *others) -> Tracer:
    return as_tracer(_graph_of([a, *others]), a)


def _axis(axis, ndim: int) -> int:
    if not -ndim <= int(axis) < ndim:
        raise ShapeError(f"axis {axis} is out of bounds for an array of {ndim} dimensions",
                         user_location())
    return int(axis) % ndim


def _gather(a: Tracer, axis: int, index) -> Tracer:
    return getitem(a, (slice(None),) * axis + (np.asarray(index, dtype=np.intp),))


# -- shapes --------------------------------------------------------------------------------------
@implements(np.rot90, group="shapes")
def _rot90(m, k=1, axes=(0, 1)):
    m = _tracer(m)
    a0, a1 = (_axis(a, m.ndim) for a in axes)
    if a0 == a1:
        raise ShapeError("np.rot90: the two axes must differ", user_location())
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return FUNCTIONS[np.flip](FUNCTIONS[np.flip](m, a0), a1)
    perm = list(range(m.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return FUNCTIONS[np.transpose](FUNCTIONS[np.flip](m, a1), perm)
    return FUNCTIONS[np.flip](FUNCTIONS[np.transpose](m, perm), a1)


@implements(np.append, group="shapes")
def _append(arr, values, axis=None):
    arr = _tracer(arr, values)
    values = as_tracer(arr.graph, values)
    if axis is None:
        return concatenate([reshape(arr, (arr.size,)), reshape(values, (values.size,))], 0)
    return concatenate([arr, values], _axis(axis, arr.ndim))


def _static_positions(arr: Tracer, obj, axis, name: str, kinds: str):
    """(`arr`, flattened where `axis` is None, and the axis) for np.delete/np.insert,
    whose positions `obj` must be known when tracing."""
    if isinstance(obj, Tracer):
        raise TraceError(f"{name} with traced positions; give them as {kinds}",
                         user_location())
    if axis is None:
        arr, axis = reshape(arr, (arr.size,)), 0
    return arr, _axis(axis, arr.ndim)


@implements(np.delete, group="shapes")
def _delete(arr, obj, axis=None):
    arr, axis = _static_positions(_tracer(arr), obj, axis, "np.delete", "ints or a slice")
    return _gather(arr, axis, np.delete(np.arange(arr.shape[axis]), obj))


@implements(np.insert, group="shapes")
def _insert(arr, obj, values, axis=None):
    """Positions from NumPy's own insert of markers: original k -> k, inserted j ->
    n + j, gathered from arr joined with the inserted block."""
    arr, axis = _static_positions(_tracer(arr, values), obj, axis, "np.insert", "ints")
    n = arr.shape[axis]
    probe = np.insert(np.arange(n), obj, -1)
    count = int(np.sum(probe < 0))
    if np.ndim(obj) == 0 and arr.ndim == 1:
        probe = np.insert(np.arange(n), obj, np.full(np.size(values), -1))
        count = int(np.size(values))
    block_shape = arr.shape[:axis] + (count,) + arr.shape[axis + 1:]
    block = as_tracer(arr.graph, values)
    if arr.ndim == 1 and np.ndim(obj) == 0:
        block = reshape(block, (count,))
    try:
        block = FUNCTIONS[np.broadcast_to](block, block_shape)
    except ShapeError:
        raise UnsupportedOpError(f"np.insert of values of shape {block.shape} into axis "
                                 f"{axis} of {arr.shape}: give values that broadcast to "
                                 f"{block_shape}", user_location()) from None
    index = np.where(probe >= 0, probe, n + np.cumsum(probe < 0) - 1)
    return _gather(concatenate([arr, block], axis), axis, index)


@implements(np.rollaxis, group="shapes")
def _rollaxis(a, axis, start=0):
    a = _tracer(a)
    probe = np.broadcast_to(0, tuple(range(1, a.ndim + 1)))  # axis i has length i + 1
    order = [d - 1 for d in np.rollaxis(probe, axis, start).shape]
    return FUNCTIONS[np.transpose](a, order)


def _split_along(axis_for):
    def impl(ary, indices_or_sections):
        a = _tracer(ary)
        axis = axis_for(a)
        if a.ndim <= axis:
            raise ShapeError(f"split along axis {axis} needs an array of at least "
                             f"{axis + 1} dimensions, got shape {a.shape}", user_location())
        return FUNCTIONS[np.split](a, indices_or_sections, axis=axis)
    return impl


implements(np.hsplit, group="shapes")(_split_along(lambda a: 0 if a.ndim == 1 else 1))
implements(np.vsplit, group="shapes")(_split_along(lambda a: 0))
implements(np.dsplit, group="shapes")(_split_along(lambda a: 2))


@implements(np.atleast_3d, group="shapes")
def _atleast_3d(*arys):
    out = []
    for a in (as_tracer(_graph_of(list(arys)), x) for x in arys):
        shape = {0: (1, 1, 1), 1: (1,) + a.shape + (1,), 2: a.shape + (1,)}.get(a.ndim, a.shape)
        out.append(reshape(a, shape))
    return out[0] if len(out) == 1 else out


def _row_stack(tup, *, dtype=None, casting="same_kind"):
    """np.row_stack (deprecated by NumPy 2 for np.vstack), whose keywords are left at
    their defaults; NumPy does not dispatch it, so `rebind` routes it here."""
    if dtype is not None:
        raise UnsupportedOpError("np.row_stack(dtype=...): cast the result with "
                                 ".astype(float) instead", user_location())
    return FUNCTIONS[np.vstack](tup)


if hasattr(np, "row_stack"):
    implements(np.row_stack, group="shapes")(_row_stack)
    rebind.override(np.row_stack, rebind.pass_through(
        np.row_stack, lambda tup, **k: FUNCTIONS[np.row_stack](tup, **k),
        lambda tup, **k: rebind.holds_tracer(list(tup))))


@implements(np.block, group="shapes")
def _block(arrays):
    depth = _depth(arrays)
    leaves = list(_leaves(arrays))
    graph = _graph_of([x for x in leaves if isinstance(x, Tracer)])
    ndim = max([depth] + [np.ndim(x) for x in leaves])
    return _join(arrays, graph, depth, ndim, 0)


def _depth(x) -> int:
    return 1 + _depth(x[0]) if isinstance(x, list) and x else 0


def _leaves(x):
    if isinstance(x, list):
        for item in x:
            yield from _leaves(item)
    else:
        yield x


def _join(x, graph, depth: int, ndim: int, level: int) -> Tracer:
    if not isinstance(x, list):
        t = as_tracer(graph, x)
        return reshape(t, (1,) * (ndim - t.ndim) + t.shape)
    if isinstance(x, list) and _depth(x) != depth - level:
        raise ShapeError("np.block: lists nested to different depths", user_location())
    parts = [_join(item, graph, depth, ndim, level + 1) for item in x]
    return concatenate(parts, ndim - (depth - level))


_EINSUM = FUNCTIONS[np.einsum]


def _einsum_interleaved(*operands, **kwargs):
    """np.einsum(a, [0, 1], b, [1, 2], [0, 2]): the subscripts written as a string."""
    if operands and isinstance(operands[0], str):
        return _EINSUM(*operands, **kwargs)
    out = operands[-1] if len(operands) % 2 else None
    pairs = operands[:-1] if len(operands) % 2 else operands
    arrays, lists = list(pairs[0::2]), list(pairs[1::2])
    letters = {}

    def spell(sub) -> str:
        return "".join("..." if s is Ellipsis else
                       letters.setdefault(s, string.ascii_letters[len(letters)]) for s in sub)

    subscripts = ",".join(spell(s) for s in lists)
    if out is not None:
        subscripts += "->" + spell(out)
    return _EINSUM(subscripts, *arrays, **kwargs)


FUNCTIONS[np.einsum] = _einsum_interleaved


# -- choices ---------------------------------------------------------------------------------------
@implements(np.select, group="choosing and rounding")
def _select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ShapeError("np.select: condlist and choicelist differ in length",
                         user_location())
    result = default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        result = FUNCTIONS[np.where](cond, choice, result)
    return result


@implements(np.piecewise, group="choosing and rounding")
def _piecewise(x, condlist, funclist, *args, **kw):
    """Later conditions win, as in NumPy (which fills y[cond] = f(x[cond]) in order)."""
    x = _tracer(x)
    conds = list(condlist) if isinstance(condlist, (list, tuple)) else [condlist]
    if len(funclist) not in (len(conds), len(conds) + 1):
        raise ShapeError("np.piecewise: one function per condition (and an optional "
                         "otherwise)", user_location())
    result = _value(funclist[-1], x, args, kw) if len(funclist) > len(conds) else 0.0
    for cond, f in zip(conds, funclist):
        result = FUNCTIONS[np.where](cond, _value(f, x, args, kw), result)
    return result * 1.0 if not isinstance(result, Tracer) else result


def _value(f, x, args, kw):
    return f(x, *args, **kw) if callable(f) else f


# -- elementwise -------------------------------------------------------------------------------------
Sinc = F.numpy_function("np_sinc", "np.sinc({0})", [
    lambda x: sp.Piecewise((0, sp.Eq(x, 0)), ((sp.cos(sp.pi * x) - Sinc(x)) / x, True))],
    np.sinc)
Copysign = F.numpy_function("np_copysign", "np.copysign({0}, {1})", [
    lambda a, b: Copysign(1, a) * Copysign(1, b), lambda a, b: sp.S.Zero], np.copysign)
Heaviside = F.numpy_function("np_heaviside", "np.heaviside({0}, {1})", [
    lambda a, b: sp.S.Zero, lambda a, b: sp.Piecewise((1, sp.Eq(a, 0)), (0, True))],
    np.heaviside)

#: ufunc -> (SymPy function, result kind): registered like numpy_api's table
MORE_UFUNCS = {
    np.radians: (lambda a: a * sp.pi / 180, "float"),
    np.degrees: (lambda a: a * 180 / sp.pi, "float"),
    np.fabs: (F.Absolute, "float"),
    np.copysign: (Copysign, "float"),
    np.ldexp: (lambda a, e: a * exp2(e), "float"),  # exact: e is an integer
    np.heaviside: (Heaviside, "float"),
    np.conjugate: (lambda a: a, "arith"),
}
for _uf, (_fn, _kind) in MORE_UFUNCS.items():
    UFUNCS[_uf] = lambda *args, fn=_fn, kind=_kind: elementwise(fn, *args, kind=kind)
FUNCTION_GROUPS.setdefault("elementwise (more ufuncs)", []).extend(MORE_UFUNCS)


@implements(np.sinc, group="elementwise (more ufuncs)")
def _sinc(x):
    return elementwise(Sinc, x, kind="float")


@implements(np.real, group="elementwise (more ufuncs)")
def _real(val):
    return _tracer(val)


@implements(np.nan_to_num, group="elementwise (more ufuncs)")
def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """nan, inf and -inf replaced by numbers (their derivative is then 0: the caller
    asked for constants there); elsewhere the identity."""
    x = _tracer(x)
    info = np.finfo(x.dtype if x.dtype.kind == "f" else np.float64)
    hi = float(info.max) if posinf is None else float(posinf)
    lo = float(-info.max) if neginf is None else float(neginf)

    def replace(v):
        return sp.Piecewise((float(nan), F.IsNan(v)), (hi, sp.Eq(v, sp.oo)),
                            (lo, sp.Eq(v, -sp.oo)), (v, True))

    return elementwise(replace, x, kind="float")
