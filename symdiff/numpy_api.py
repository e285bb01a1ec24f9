"""The NumPy surface: which ufuncs and functions trace, and what they lower to.

Elementwise functions map to SymPy functions in `ELEMENTWISE_UFUNCS` (their
derivatives come from `sympy.diff`); everything else lowers to the structured
primitives of `ops.py`, preferring few primitives: `mean` is `sum / n`, `var` and
`std` are built from `mean`, `stack` is `reshape` + `concatenate`, `tensordot`,
`inner`, `trace` and `diagonal` are `einsum`, `flip` is a slice, `tile` and
`repeat` are `reshape` + `broadcast_to`, `take` and `take_along_axis` are indexing,
`tril` and `triu` a `where` on a constant mask, `vander` a power.

`symdiff.docs_gen` renders these tables as docs/supported-numpy.md.
"""

from __future__ import annotations

import string
from collections import namedtuple

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import exp2, expm1, hypot, log1p, log2, log10

from . import functions as F
from .errors import ShapeError, TraceError, UnsupportedOpError, user_location
from .ops import normalize_axes
from .tracer import (
    FUNCTIONS,
    UFUNCS,
    Tracer,
    _graph_of,
    _no_kwargs,
    as_tracer,
    astype,
    bind,
    broadcast_to,
    concatenate,
    const,
    elementwise,
    getitem,
    matmul,
    power,
    reduce_sum,
    reshape,
    transpose,
)

__all__ = ["ELEMENTWISE_UFUNCS", "FUNCTION_GROUPS", "implements"]


def implements(*funcs, group: str):
    """Register an implementation on tracers for the NumPy functions `funcs`, listed
    under `group` in the reference."""
    def register(impl):
        for f in funcs:
            FUNCTIONS[f] = impl
            FUNCTION_GROUPS.setdefault(group, []).append(f)
        return impl
    return register


#: Reference section -> NumPy functions, in registration order.
FUNCTION_GROUPS: dict[str, list] = {}


# -- elementwise: NumPy ufunc -> (SymPy function, result kind, reference group) --------------
def _sub(a, b):
    return a - b


def _div(a, b):
    return a / b


def _deg2rad(a):
    return a * sp.pi / 180


def _rad2deg(a):
    return a * 180 / sp.pi


ARITH, FLOAT, BOOL = "arith", "float", "bool"

ELEMENTWISE_UFUNCS = {
    # arithmetic
    np.add: (sp.Add, ARITH, "arithmetic"),
    np.subtract: (_sub, ARITH, "arithmetic"),
    np.multiply: (sp.Mul, ARITH, "arithmetic"),
    np.true_divide: (_div, FLOAT, "arithmetic"),
    np.negative: (lambda a: -a, ARITH, "arithmetic"),
    np.positive: (lambda a: a, ARITH, "arithmetic"),
    np.float_power: (F.Power, FLOAT, "arithmetic"),
    np.square: (lambda a: a**2, ARITH, "arithmetic"),
    np.reciprocal: (lambda a: 1 / a, FLOAT, "arithmetic"),
    np.remainder: (F.Mod, ARITH, "arithmetic"),
    np.absolute: (F.Absolute, ARITH, "arithmetic"),
    np.maximum: (F.Maximum, ARITH, "arithmetic"),
    np.minimum: (F.Minimum, ARITH, "arithmetic"),
    np.fmax: (F.Fmax, ARITH, "arithmetic"),
    np.fmin: (F.Fmin, ARITH, "arithmetic"),
    # exponents, logarithms, roots
    np.exp: (sp.exp, FLOAT, "exponents and logarithms"),
    np.exp2: (exp2, FLOAT, "exponents and logarithms"),
    np.expm1: (expm1, FLOAT, "exponents and logarithms"),
    np.log: (sp.log, FLOAT, "exponents and logarithms"),
    np.log2: (log2, FLOAT, "exponents and logarithms"),
    np.log10: (log10, FLOAT, "exponents and logarithms"),
    np.log1p: (log1p, FLOAT, "exponents and logarithms"),
    np.logaddexp: (F.LogAddExp, FLOAT, "exponents and logarithms"),
    np.logaddexp2: (F.LogAddExp2, FLOAT, "exponents and logarithms"),
    np.sqrt: (sp.sqrt, FLOAT, "exponents and logarithms"),
    np.cbrt: (F.Cbrt, FLOAT, "exponents and logarithms"),
    # trigonometric and hyperbolic
    np.sin: (sp.sin, FLOAT, "trigonometric and hyperbolic"),
    np.cos: (sp.cos, FLOAT, "trigonometric and hyperbolic"),
    np.tan: (sp.tan, FLOAT, "trigonometric and hyperbolic"),
    np.arcsin: (sp.asin, FLOAT, "trigonometric and hyperbolic"),
    np.arccos: (sp.acos, FLOAT, "trigonometric and hyperbolic"),
    np.arctan: (sp.atan, FLOAT, "trigonometric and hyperbolic"),
    np.arctan2: (sp.atan2, FLOAT, "trigonometric and hyperbolic"),
    np.hypot: (hypot, FLOAT, "trigonometric and hyperbolic"),
    np.sinh: (sp.sinh, FLOAT, "trigonometric and hyperbolic"),
    np.cosh: (sp.cosh, FLOAT, "trigonometric and hyperbolic"),
    np.tanh: (sp.tanh, FLOAT, "trigonometric and hyperbolic"),
    np.arcsinh: (sp.asinh, FLOAT, "trigonometric and hyperbolic"),
    np.arccosh: (sp.acosh, FLOAT, "trigonometric and hyperbolic"),
    np.arctanh: (sp.atanh, FLOAT, "trigonometric and hyperbolic"),
    np.deg2rad: (_deg2rad, FLOAT, "trigonometric and hyperbolic"),
    np.rad2deg: (_rad2deg, FLOAT, "trigonometric and hyperbolic"),
    # piecewise constant: zero derivative
    np.sign: (F.Sign, ARITH, "piecewise constant (zero derivative)"),
    np.floor: (F.Floor, FLOAT, "piecewise constant (zero derivative)"),
    np.ceil: (F.Ceil, FLOAT, "piecewise constant (zero derivative)"),
    np.trunc: (F.Trunc, FLOAT, "piecewise constant (zero derivative)"),
    np.rint: (F.Rint, FLOAT, "piecewise constant (zero derivative)"),
    np.floor_divide: (F.FloorDivide, ARITH, "piecewise constant (zero derivative)"),
    # comparisons and logic: boolean masks for np.where
    np.greater: (sp.StrictGreaterThan, BOOL, "comparisons and logic (masks)"),
    np.greater_equal: (sp.GreaterThan, BOOL, "comparisons and logic (masks)"),
    np.less: (sp.StrictLessThan, BOOL, "comparisons and logic (masks)"),
    np.less_equal: (sp.LessThan, BOOL, "comparisons and logic (masks)"),
    np.equal: (sp.Eq, BOOL, "comparisons and logic (masks)"),
    np.not_equal: (sp.Ne, BOOL, "comparisons and logic (masks)"),
    np.logical_and: (sp.And, BOOL, "comparisons and logic (masks)"),
    np.logical_or: (sp.Or, BOOL, "comparisons and logic (masks)"),
    np.logical_xor: (sp.Xor, BOOL, "comparisons and logic (masks)"),
    np.logical_not: (sp.Not, BOOL, "comparisons and logic (masks)"),
}
_LOGICAL = (np.logical_and, np.logical_or, np.logical_xor, np.logical_not)


def _ufunc(ufunc, fn, kind):
    if ufunc in _LOGICAL:
        return lambda *args: elementwise(fn, *(_as_mask(a) for a in args), kind=kind)
    return lambda *args: elementwise(fn, *args, kind=kind)


def _as_mask(a):
    """Logical functions read any array as `!= 0`, as NumPy does."""
    if isinstance(a, Tracer) and a.dtype != bool:
        return elementwise(lambda c: sp.Ne(c, 0), a, kind=BOOL)
    return a if isinstance(a, Tracer) else np.asarray(a, dtype=bool)


for _uf, (_fn, _kind, _group) in ELEMENTWISE_UFUNCS.items():
    UFUNCS[_uf] = _ufunc(_uf, _fn, _kind)
UFUNCS[np.power] = power
UFUNCS[np.matmul] = matmul


# -- helpers ------------------------------------------------------------------------------
def _graph(*args):
    return _graph_of([a for a in args if isinstance(a, Tracer)])


def _tracers(*args) -> list[Tracer]:
    graph = _graph(*args)
    return [as_tracer(graph, a) for a in args]


def _axes(axis, ndim: int) -> tuple[int, ...]:
    try:
        return normalize_axes(axis, ndim)
    except (ValueError, np.exceptions.AxisError) as e:
        raise ShapeError(f"axis {axis!r} for an array of {ndim} dimensions: {e}",
                         user_location()) from None


def _axis(axis, ndim: int) -> int:
    return _axes(int(axis), ndim)[0]


def _no_out(name: str, out) -> None:
    if out is not None:
        raise TraceError(f"np.{name}(..., out=...) writes in place; assign the result "
                         "instead", user_location())


def _cast(result, dtype):
    return astype(result, dtype) if dtype is not None else result


# -- reductions ---------------------------------------------------------------------------
@implements(np.sum, group="reductions")
def _sum(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    _no_out("sum", out)
    _no_kwargs("np.sum", kwargs)
    a = _tracers(a)[0]
    return _cast(reduce_sum(a, _axes(axis, a.ndim), keepdims), dtype)


def _count(a: Tracer, axes) -> int:
    return int(np.prod([a.shape[i] for i in axes], dtype=np.int64))


@implements(np.mean, group="reductions")
def _mean(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    _no_out("mean", out)
    _no_kwargs("np.mean", kwargs)
    a = _tracers(a)[0]
    axes = _axes(axis, a.ndim)
    total = reduce_sum(a, axes, keepdims)
    count = _count(a, axes)
    if count == 0:  # NumPy's 0/0 (with "Mean of empty slice"); nothing to differentiate
        return _cast(_empty_reduction(total, np.nan), dtype)
    return _cast(elementwise(lambda s: s / count, total, kind=FLOAT), dtype)


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
        _no_out(name, out)
        _no_kwargs(f"np.{name}", kwargs)
        a = _tracers(a)[0]
        axes = _axes(axis, a.ndim)
        if not axes:
            return a
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
    _no_out("prod", out)
    _no_kwargs("np.prod", kwargs)
    a = _tracers(a)[0]
    axes = _axes(axis, a.ndim)
    if not axes:
        return _cast(a, dtype)
    if a.size == 0:  # the empty product is 1; the input has no elements to differentiate
        return _cast(_empty_reduction(reduce_sum(a, axes, keepdims), 1.0), dtype)
    return _cast(bind("prod", a, axes=axes, keepdims=bool(keepdims)), dtype)


@implements(np.var, group="reductions")
def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
    _no_out("var", out)
    _no_kwargs("np.var", kwargs)
    a = _tracers(a)[0]
    axes = _axes(axis, a.ndim)
    centered = a - _mean(a, axes, keepdims=True)
    n = _count(a, axes) - ddof
    squares = reduce_sum(centered * centered, axes, keepdims)
    return _cast(elementwise(lambda s: s / n, squares, kind=FLOAT), dtype)


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


# -- linear algebra -------------------------------------------------------------------------
@implements(np.matmul, group="linear algebra")
def _matmul(a, b, **kwargs):
    _no_kwargs("np.matmul", kwargs)
    return matmul(a, b)


@implements(np.dot, group="linear algebra")
def _dot(a, b, out=None):
    _no_out("dot", out)
    a, b = _tracers(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim > 2:  # dot sums over a's last axis and b's second-to-last
        return _tensordot(a, b, ([-1], [-2]))
    return matmul(a, b)


@implements(np.vdot, group="linear algebra")
def _vdot(a, b):
    a, b = _tracers(a, b)
    return matmul(reshape(a, (-1,)), reshape(b, (-1,)))


@implements(np.inner, group="linear algebra")
def _inner(a, b):
    a, b = _tracers(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim == 1 and b.ndim == 1:
        return matmul(a, b)
    return _tensordot(a, b, ([-1], [-1]))


@implements(np.outer, group="linear algebra")
def _outer(a, b, out=None):
    _no_out("outer", out)
    a, b = _tracers(a, b)
    a, b = reshape(a, (-1,)), reshape(b, (-1,))
    return reshape(a, (a.size, 1)) * b


@implements(np.tensordot, group="linear algebra")
def _tensordot(a, b, axes=2):
    a, b = _tracers(a, b)
    if isinstance(axes, (int, np.integer)):
        axes = (list(range(a.ndim - axes, a.ndim)), list(range(axes)))
    axes_a, axes_b = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
    axes_a = [_axis(x, a.ndim) for x in axes_a]
    axes_b = [_axis(x, b.ndim) for x in axes_b]
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(axes_a, axes_b):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in axes_a] + \
        [c for j, c in enumerate(sb) if j not in axes_b]
    return einsum_explicit(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b)


@implements(np.einsum, group="linear algebra")
def _einsum(*operands, out=None, optimize=False, **kwargs):
    _no_out("einsum", out)
    _no_kwargs("np.einsum", kwargs)
    if not operands or not isinstance(operands[0], str):
        raise UnsupportedOpError("np.einsum with interleaved operand/index lists; write "
                                 "the subscripts as a string ('ij,jk->ik')", user_location())
    ops = _tracers(*operands[1:])
    return einsum_explicit(explicit_subscripts(operands[0], [t.ndim for t in ops]), *ops)


def explicit_subscripts(subscripts: str, ndims: list[int]) -> str:
    """NumPy's subscripts with '...' expanded and the output spelled out."""
    subscripts = subscripts.replace(" ", "")
    ins, arrow, out = subscripts.partition("->")
    terms = ins.split(",")
    if len(terms) != len(ndims):
        raise ShapeError(f"einsum subscripts {subscripts!r} name {len(terms)} operands, "
                         f"got {len(ndims)}", user_location())
    spare = [c for c in string.ascii_letters if c not in subscripts]
    widths = [nd - len(t.replace("...", "")) for t, nd in zip(terms, ndims)]
    width = max(widths, default=0)
    dots = "".join(spare[:width])
    terms = [t.replace("...", dots[width - w:] if w else "") for t, w in zip(terms, widths)]
    if not arrow:
        counts = {c: "".join(terms).count(c) for c in "".join(terms)}
        out = dots + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in dots))
    else:
        out = out.replace("...", dots)
    return f"{','.join(terms)}->{out}"


def einsum_explicit(subscripts: str, *ops) -> Tracer:
    """An einsum node for explicit, letter-only subscripts."""
    ins, out = subscripts.split("->")
    if len(ins.split(",")) == 1 and ins == out:
        return ops[0]
    return bind("einsum", *ops, subscripts=subscripts)


def _to_end(a: Tracer, axis1: int, axis2: int) -> Tracer:
    axis1, axis2 = _axis(axis1, a.ndim), _axis(axis2, a.ndim)
    if axis1 == axis2:
        raise ShapeError("axis1 and axis2 cannot be the same", user_location())
    rest = [i for i in range(a.ndim) if i not in (axis1, axis2)]
    return transpose(a, tuple(rest) + (axis1, axis2))


@implements(np.diagonal, group="linear algebra")
def _diagonal(a, offset=0, axis1=0, axis2=1):
    a = _to_end(_tracers(a)[0], axis1, axis2)
    n, m = a.shape[-2:]
    rows = slice(max(-offset, 0), None, 1)
    cols = slice(max(offset, 0), None, 1)
    k = max(0, min(n - rows.start, m - cols.start))
    lead = (slice(None),) * (a.ndim - 2)
    square = getitem(a, lead + (slice(rows.start, rows.start + k), slice(cols.start,
                                                                            cols.start + k)))
    batch = string.ascii_uppercase[:a.ndim - 2]
    return einsum_explicit(f"{batch}ii->{batch}i", square)


@implements(np.trace, group="linear algebra")
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _no_out("trace", out)
    return _cast(reduce_sum(_diagonal(a, offset, axis1, axis2), -1), dtype)


@implements(np.diag, group="linear algebra")
def _diag(v, k=0):
    v = _tracers(v)[0]
    if v.ndim == 2:
        return _diagonal(v, k)
    if v.ndim != 1:
        raise ShapeError(f"np.diag takes a 1-d or 2-d array, got shape {v.shape}",
                         user_location())
    n = v.shape[0]
    square = reshape(v, (n, 1)) * np.eye(n, dtype=v.dtype)
    if k == 0:
        return square
    widths = ((0, k), (k, 0)) if k > 0 else ((-k, 0), (0, -k))
    return bind("pad", square, widths=widths, value=0)


SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


@implements(np.linalg.inv, group="linear algebra")
def _inv(a):
    return bind("inv", _tracers(a)[0])


@implements(np.linalg.det, group="linear algebra")
def _det(a):
    return bind("det", _tracers(a)[0])


@implements(np.linalg.slogdet, group="linear algebra")
def _slogdet(a):
    a = _tracers(a)[0]
    return SlogdetResult(bind("slogdet", a, part=0), bind("slogdet", a, part=1))


@implements(np.linalg.solve, group="linear algebra")
def _solve(a, b):
    return bind("solve", *_tracers(a, b))


@implements(np.linalg.norm, group="linear algebra")
def _norm(x, ord=None, axis=None, keepdims=False):
    x = _tracers(x)[0]
    if axis is None and ord is None:  # the 2-norm of x.ravel(), as NumPy
        return _vector_norm(x, None, tuple(range(x.ndim)), keepdims)
    if axis is None and x.ndim in (1, 2):
        axis = tuple(range(x.ndim))
    if axis is None:
        raise ShapeError(f"np.linalg.norm(ord={ord!r}) of a {x.ndim}-d array needs axis",
                         user_location())
    axes = tuple(_axis(a, x.ndim) for a in (axis if isinstance(axis, tuple) else (axis,)))
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ShapeError(f"np.linalg.norm over {len(axes)} axes; give one (vector norm) or two "
                     "(matrix norm)", user_location())


def _vector_norm(x, ord, axes, keepdims):
    if ord is None or ord == 2:
        return elementwise(sp.sqrt, reduce_sum(x * x, axes, keepdims), kind=FLOAT)
    if ord == np.inf:
        return _extremum("max")(abs(x), axes, keepdims=keepdims)
    if ord == -np.inf:
        return _extremum("min")(abs(x), axes, keepdims=keepdims)
    if ord == 1:
        return reduce_sum(abs(x), axes, keepdims)
    if ord == 0:
        return reduce_sum(astype(x != 0, x.dtype), axes, keepdims)
    return reduce_sum(abs(x) ** ord, axes, keepdims) ** (1.0 / ord)


def _matrix_norm(x, ord, axes, keepdims):
    row, col = axes
    if ord in (None, "fro"):
        return elementwise(sp.sqrt, reduce_sum(x * x, axes, keepdims), kind=FLOAT)
    table = {1: ("max", row, col), -1: ("min", row, col),
             np.inf: ("max", col, row), -np.inf: ("min", col, row)}
    if ord not in table:
        raise UnsupportedOpError(f"np.linalg.norm(ord={ord!r}) needs singular values, which "
                                 "symdiff cannot differentiate; use 'fro', 1, -1, inf or -inf",
                                 user_location())
    name, inner, outer = table[ord]
    sums = reduce_sum(abs(x), (inner,), keepdims=True)
    result = bind(name, sums, axes=(outer,), keepdims=True)
    return result if keepdims else reshape(result, tuple(
        d for i, d in enumerate(x.shape) if i not in axes))


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
    if isinstance(sections, (int, np.integer)):
        if equal and n % sections:
            raise ShapeError(f"np.split: {n} elements do not divide into {sections} equal "
                             "sections; use np.array_split", user_location())
        size, extra = divmod(n, sections)
        sizes = [size + 1] * extra + [size] * (sections - extra)
        return list(np.cumsum([0] + sizes))
    return [0] + [min(int(i), n) for i in sections] + [n]


def _split_impl(equal: bool):
    def impl(ary, indices_or_sections, axis=0):
        a = _tracers(ary)[0]
        axis = _axis(axis, a.ndim)
        points = _split_points(a.shape[axis], indices_or_sections, equal)
        lead = (slice(None),) * axis
        return [getitem(a, lead + (slice(lo, max(lo, hi)),)) for lo, hi in
                zip(points[:-1], points[1:])]
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
        s = int(s) % a.shape[ax] if a.shape[ax] else 0
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


def _triangle(lower: bool):
    def impl(m, k=0):
        a = _tracers(m)[0]
        if a.ndim < 1:
            raise ShapeError("np.tril/np.triu of a 0-d array", user_location())
        if a.ndim == 1:  # NumPy reads a vector as the rows of a square matrix
            a = broadcast_to(a, a.shape * 2)
        rows, cols = a.shape[-2:]
        keep = np.tri(rows, cols, k, dtype=bool) if lower else \
            ~np.tri(rows, cols, k - 1, dtype=bool)
        return _where(keep, a, 0)
    return impl


implements(np.tril, group="shapes")(_triangle(True))
implements(np.triu, group="shapes")(_triangle(False))


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
def _like(fill):
    def impl(a, dtype=None, order="K", subok=True, shape=None, **kwargs):
        a = _tracers(a)[0]
        shape = a.shape if shape is None else tuple(np.atleast_1d(shape))
        dtype = np.dtype(dtype or a.dtype)
        value = fill(kwargs) if fill is not None else 0
        if isinstance(value, Tracer):
            return astype(broadcast_to(value, shape), dtype)
        return const(a.graph, np.full(shape, value, dtype=dtype))
    return impl


implements(np.zeros_like, np.empty_like, group="constants")(_like(None))
implements(np.ones_like, group="constants")(_like(lambda kw: 1))


@implements(np.full_like, group="constants")
def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return _like(lambda kw: fill_value)(a, dtype=dtype, shape=shape)


@implements(np.shape, group="constants")
def _shape(a):
    return a.shape


@implements(np.ndim, group="constants")
def _ndim(a):
    return a.ndim


@implements(np.size, group="constants")
def _size(a, axis=None):
    return a.size if axis is None else a.shape[axis]


@implements(np.copy, group="constants")
def _copy(a, order="K", subok=False):
    return a

