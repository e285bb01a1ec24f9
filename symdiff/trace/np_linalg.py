"""The NumPy surface, linear algebra: products, einsum, diagonals, inverses, norms."""

from __future__ import annotations

import string
from collections import namedtuple

import numpy as np
import sympy as sp

from ..errors import ShapeError, UnsupportedOpError, user_location
from ..ir import dims
from ..ir.elementwise import Maximum
from .np_reductions import _extremum
from .numpy_api import FLOAT, _axis, _cast, _no_out, _tracers, implements
from .registry import _no_kwargs
from .structured import diagonal_mask, reduce_sum, reshape
from .subscript import getitem
from .tracer import Tracer, astype, bind, elementwise, materialized, matmul, transpose


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
    k = _diagonal_length(n - rows.start, m - cols.start)
    lead = (slice(None),) * (a.ndim - 2)
    square = getitem(a, lead + (slice(rows.start, rows.start + k), slice(cols.start,
                                                                            cols.start + k)))
    batch = string.ascii_uppercase[:a.ndim - 2]
    return einsum_explicit(f"{batch}ii->{batch}i", square)


def _diagonal_length(a, b):
    """min(a, b), at least 0: the length of a diagonal; for symbolic sizes, where their
    difference is a number (a square matrix: `n`; with an offset: `n - 1`)."""
    a, b = dims.canon(a), dims.canon(b)
    if not dims.is_symbolic((a, b)):
        return max(0, min(a, b))
    difference = dims.canon(a - b)
    if not isinstance(difference, int):
        dims.concrete(difference, "takes a diagonal of a matrix whose sides differ by a "
                      "symbolic size")
    shorter = b if difference >= 0 else a
    dims.require_nonnegative(shorter, "the diagonal's offset")
    return shorter


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
    if dims.is_symbolic(n):  # np.where(np.arange(n)[:, None] == np.arange(n), v[:, None], 0)
        square = elementwise(lambda c, a: sp.Piecewise((a, c), (0, True)),
                             diagonal_mask(v.graph, n, n), reshape(v, (n, 1)), conditions=1)
    else:
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


def _two_norm(x, axes, keepdims):
    """sqrt(sum(x**2)) as m*sqrt(sum((x/m)**2)) with m = max|x| held constant for
    derivatives (so the gradient is (x/m)/sqrt(sum((x/m)**2)) = x/norm): x**2 neither
    overflows at 1e200 nor underflows at 1e-200. m is at least the smallest normal
    float, so all-zero x gives 0 (and the gradient NaN, as x/norm does)."""
    if x.size == 0:
        return elementwise(sp.sqrt, reduce_sum(x * x, axes, keepdims), kind=FLOAT)
    x = astype(x, np.float64) if x.dtype.kind != "f" else x
    peak = bind("max", bind("stop_gradient", abs(x)), axes=axes, keepdims=True)
    tiny = float(np.finfo(x.dtype).tiny)
    scale = elementwise(lambda p: Maximum(p, sp.Float(tiny, 17)), peak, kind=FLOAT)
    scaled = materialized(x / scale)  # SymPy would expand (x/m)**2 into x**2/m**2
    root = elementwise(sp.sqrt, reduce_sum(scaled * scaled, axes, keepdims=True), kind=FLOAT)
    norm = scale * root
    return norm if keepdims else reshape(norm, tuple(
        d for i, d in enumerate(x.shape) if i not in axes))


def _vector_norm(x, ord, axes, keepdims):
    if ord is None or ord == 2:
        return _two_norm(x, axes, keepdims)
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
        return _two_norm(x, axes, keepdims)
    table = {1: ("max", row, col), -1: ("min", row, col),
             np.inf: ("max", col, row), -np.inf: ("min", col, row)}
    if ord in ("nuc", 2, -2):
        from .np_decompositions import spectral_norm  # (through the singular values)
        return spectral_norm(x, ord, axes, keepdims)
    if ord not in table:
        raise UnsupportedOpError(f"np.linalg.norm(ord={ord!r}) for matrices: use 'fro', "
                                 "'nuc', 1, -1, 2, -2, inf or -inf", user_location())
    name, inner, outer = table[ord]
    sums = reduce_sum(abs(x), (inner,), keepdims=True)
    result = bind(name, sums, axes=(outer,), keepdims=True)
    return result if keepdims else reshape(result, tuple(
        d for i, d in enumerate(x.shape) if i not in axes))
