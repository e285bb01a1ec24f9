"""NumPy's decompositions on tracers, and what lowers to them or to existing
primitives: cholesky, eigh, eigvalsh, svd (and svdvals), qr; pinv, lstsq (full rank),
matrix_power, multi_dot, kron, cross, and the spectral matrix norms ('nuc', 2, -2).

The primitives are in ir/decompositions.py, their rules in
autodiff/rules_decompositions.py. NumPy's cholesky, eigh and eigvalsh read only the
lower triangle (UPLO='U', upper=True: the upper one, which is the lower of the
transpose), and so do their derivatives.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError, UnsupportedOpError, user_location
from .numpy_api import implements
from .tracer import FUNCTIONS, Tracer, _graph_of, as_tracer, bind, const, matmul, transpose

__all__ = ["spectral_norm"]


def _mT(x: Tracer) -> Tracer:
    return transpose(x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def _tracer(a) -> Tracer:
    return as_tracer(_graph_of([a]), a)


def _results(kind: str, *parts):
    """NumPy's named tuple (EighResult, SVDResult, QRResult) when it has one."""
    module = getattr(np.linalg, "_linalg", None)
    result = getattr(module, kind, None)
    return result(*parts) if result is not None else tuple(parts)


@implements(np.linalg.cholesky, group="linear algebra")
def _cholesky(a, *, upper=False):
    a = _tracer(a)
    if upper:  # NumPy then reads the upper triangle: that of a.T is the lower
        return _mT(bind("cholesky", _mT(a)))
    return bind("cholesky", a)


def _lower_input(a, uplo: str, name: str) -> Tracer:
    a = _tracer(a)
    if uplo not in ("L", "U"):
        raise ShapeError(f"np.linalg.{name}(UPLO={uplo!r}): UPLO is 'L' or 'U'",
                         user_location())
    return _mT(a) if uplo == "U" else a


@implements(np.linalg.eigh, group="linear algebra")
def _eigh(a, UPLO="L"):
    a = _lower_input(a, UPLO, "eigh")
    return _results("EighResult", bind("eigh", a, part=0), bind("eigh", a, part=1))


@implements(np.linalg.eigvalsh, group="linear algebra")
def _eigvalsh(a, UPLO="L"):
    return bind("eigh", _lower_input(a, UPLO, "eigvalsh"), part=0)


def _svd_parts(a):
    return [bind("svd", a, part=i) for i in range(3)]


@implements(np.linalg.svd, group="linear algebra")
def _svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    a = _tracer(a)
    if not compute_uv:
        return bind("svd", a, part=1)
    m, n = a.shape[-2:]
    if full_matrices and m != n:
        raise UnsupportedOpError(
            "np.linalg.svd(full_matrices=True) of a non-square matrix: the extra singular "
            "vectors are not unique, so they have no derivative; pass full_matrices=False",
            user_location())
    return _results("SVDResult", *_svd_parts(a))


if hasattr(np.linalg, "svdvals"):  # NumPy 2
    @implements(np.linalg.svdvals, group="linear algebra")
    def _svdvals(x):
        return bind("svd", _tracer(x), part=1)


@implements(np.linalg.qr, group="linear algebra")
def _qr(a, mode="reduced"):
    a = _tracer(a)
    if mode not in ("reduced", "r"):
        raise UnsupportedOpError(f"np.linalg.qr(mode={mode!r}); use mode='reduced'",
                                 user_location())
    if a.ndim < 2 or a.shape[-2] < a.shape[-1]:
        raise UnsupportedOpError(
            f"np.linalg.qr of a wide matrix {a.shape}: its R is not unique beyond the first "
            "m columns, so symdiff differentiates QR only for m >= n; QR the transpose "
            "instead", user_location())
    if mode == "r":
        return bind("qr", a, part=1)
    return _results("QRResult", bind("qr", a, part=0), bind("qr", a, part=1))


# -- lowered to the above and to existing primitives -------------------------------------------
def _pseudo_inverse(a: Tracer, rcond: float):
    """V diag(1/s) U^T over the singular values above rcond * max(s), as NumPy's pinv
    (the others count as 0); and the mask of those kept."""
    u, s, vh = _svd_parts(a)
    peak = FUNCTIONS[np.max](s, axis=-1, keepdims=True)
    kept = s > peak * rcond
    k = kept.astype(s.dtype)
    inverse = k / (s + (1.0 - k))  # 1/s where kept, else 0, and never a division by 0
    return matmul(_mT(vh) * FUNCTIONS[np.expand_dims](inverse, -2), _mT(u)), kept


@implements(np.linalg.pinv, group="linear algebra")
def _pinv(a, rcond=None, hermitian=False, *, rtol=np._NoValue):
    """Through the SVD with NumPy's cutoff (rcond 1e-15 by default, or rtol)."""
    a = _tracer(a)
    if rcond is None:
        rcond = 1e-15 if rtol is np._NoValue else \
            max(a.shape[-2:]) * np.finfo(a.dtype).eps if rtol is None else rtol
    return _pseudo_inverse(a, float(rcond))[0]


@implements(np.linalg.lstsq, group="linear algebra")
def _lstsq(a, b, rcond=None):
    """x = pinv(a) @ b with NumPy's cutoff (eps * max(m, n) by default), and NumPy's
    (x, residuals, rank, singular values): the rank is the traced count of singular
    values kept (a float: a sum of booleans would be a boolean in the graph); the
    residuals are those of a full-rank tall matrix (NumPy returns none when the rank is
    deficient, a shape only known at run time)."""
    a, b = (as_tracer(_graph_of([a, b]), v) for v in (a, b))
    if a.ndim != 2:
        raise ShapeError(f"np.linalg.lstsq needs a 2-d matrix, got shape {a.shape}",
                         user_location())
    m, n = a.shape
    rcond = np.finfo(a.dtype).eps * max(m, n) if rcond is None else float(rcond)
    inverse, kept = _pseudo_inverse(a, rcond)
    s = bind("svd", a, part=1)
    x = matmul(inverse, b)
    if m > n:
        r = b - matmul(a, x)
        residuals = FUNCTIONS[np.sum](r * r, axis=0)
        residuals = FUNCTIONS[np.reshape](residuals, (1,)) if b.ndim == 1 else residuals
    else:
        residuals = const(a.graph, np.zeros((0,), dtype=x.dtype))
    return x, residuals, FUNCTIONS[np.sum](kept.astype(s.dtype)), s


@implements(np.linalg.matrix_power, group="linear algebra")
def _matrix_power(a, n):
    a = _tracer(a)
    n = int(n)
    if n < 0:
        a, n = bind("inv", a), -n
    if n == 0:
        eye = const(a.graph, np.eye(a.shape[-1], dtype=a.dtype))
        return FUNCTIONS[np.broadcast_to](eye, a.shape)
    result, base = None, a
    while n:  # binary powering: log2(n) products
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


@implements(np.linalg.multi_dot, group="linear algebra")
def _multi_dot(arrays, *, out=None):
    graph = _graph_of(list(arrays))
    ts = [as_tracer(graph, a) for a in arrays]
    result = ts[0]
    for t in ts[1:]:
        result = matmul(result, t)
    return result


@implements(np.kron, group="linear algebra")
def _kron(a, b):
    a, b = (as_tracer(_graph_of([a, b]), v) for v in (a, b))
    nd = max(a.ndim, b.ndim)
    a = FUNCTIONS[np.reshape](a, (1,) * (nd - a.ndim) + a.shape)
    b = FUNCTIONS[np.reshape](b, (1,) * (nd - b.ndim) + b.shape)
    spread_a = FUNCTIONS[np.reshape](a, tuple(x for d in a.shape for x in (d, 1)))
    spread_b = FUNCTIONS[np.reshape](b, tuple(x for d in b.shape for x in (1, d)))
    return FUNCTIONS[np.reshape](spread_a * spread_b,
                                 tuple(p * q for p, q in zip(a.shape, b.shape)))


@implements(np.cross, group="linear algebra")
def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    a, b = (as_tracer(_graph_of([a, b]), v) for v in (a, b))
    if axis is not None:
        axisa = axisb = axisc = axis
    a = FUNCTIONS[np.moveaxis](a, axisa, -1)
    b = FUNCTIONS[np.moveaxis](b, axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise UnsupportedOpError("np.cross of 2-vectors (a scalar result) is deprecated by "
                                 "NumPy; symdiff traces 3-vectors: a[0]*b[1] - a[1]*b[0] for 2",
                                 user_location())
    x = [a[..., i] for i in range(3)]
    y = [b[..., i] for i in range(3)]
    c = FUNCTIONS[np.stack]([x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2],
                             x[0] * y[1] - x[1] * y[0]], axis=-1)
    return FUNCTIONS[np.moveaxis](c, -1, axisc)


def spectral_norm(x, ord, axes, keepdims):
    """norm(ord='nuc' / 2 / -2) over two axes: from the singular values."""
    moved = FUNCTIONS[np.moveaxis](x, axes, (-2, -1))
    s = bind("svd", moved, part=1)
    if ord == "nuc":
        result = FUNCTIONS[np.sum](s, axis=-1)
    else:
        result = FUNCTIONS[np.max if ord == 2 else np.min](s, axis=-1)
    if keepdims:
        for a in sorted(axes):
            result = FUNCTIONS[np.expand_dims](result, a)
    return result
