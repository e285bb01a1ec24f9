"""Rows of the op table for NumPy as people write it (issue 17): arrays built from
traced values, lists passed to NumPy, buffers filled in a loop, the math module,
scipy.special, differences and filters, and linear algebra beyond solve/inv/det.
Imported by ops_table.py; same conventions (a weighted sum at the end, domain-aware
samplers, expected values from NumPy and central differences)."""

from __future__ import annotations

import math

import numpy as np
from ops_table import M, case, distinct, nonzero, normal, positive, unit, wsum

try:
    import scipy.special as special
except ImportError:  # the rows for scipy.special need SciPy
    special = None


def spd(rng, shape):
    """Symmetric positive definite matrices (stacked), well conditioned."""
    b = rng.normal(size=shape)
    return b @ np.swapaxes(b, -1, -2) / shape[-1] + np.eye(shape[-1])


def spread_spd(rng, shape):
    """Symmetric positive definite with eigenvalues at least 0.5 apart (distinct)."""
    n = shape[-1]
    q, _ = np.linalg.qr(rng.normal(size=shape))
    w = 1.0 + 0.7 * np.arange(n) + rng.uniform(0, 0.1, size=shape[:-1])
    return (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)


def full_rank(rng, shape):
    """Matrices with singular values well apart and away from 0."""
    m, n = shape[-2:]
    u, _ = np.linalg.qr(rng.normal(size=shape[:-2] + (m, m)))
    v, _ = np.linalg.qr(rng.normal(size=shape[:-2] + (n, n)))
    k = min(m, n)
    s = np.zeros(shape)
    s[..., np.arange(k), np.arange(k)] = 1.0 + 0.8 * np.arange(k)[::-1]
    return u @ s @ v


# -- arrays built from traced values ------------------------------------------------------------
def _buffer_rows(x):
    out = np.zeros((3, 2))
    for i in range(3):
        out[i] = x[i, :2] * (i + 1)
    out[0, 1] += x[2, 3]
    return out


def _buffer_scalars(x):
    out = np.empty(4)
    out[:] = 0.5
    for j in range(4):
        out[j] = np.sum(x[:, j] ** 2)
    out *= 2.0
    return out + np.ones(4)


CONSTRUCTS = {
    "np.array([scalars])": lambda x: np.array([x[0, 0], x[1, 2] * 2, 3.0]),
    "np.array([[nested]])": lambda x: np.array([[x[0, 0], 1.0], [x[1, 1], x[2, 3] ** 2]]),
    "np.array([rows])": lambda x: np.array([x[0], x[1] ** 2, np.ones(4)]),
    "np.asarray((tuple, numbers))": lambda x: np.asarray((x[0, 0], 2.0, x[1, 1])),
    "np.array(x), np.asarray(x, dtype=float)": lambda x: np.array(x) * np.asarray(x, dtype=float),
    "np.array(x, ndmin=3)": lambda x: np.array(x, ndmin=3),
    "np.float64(t)": lambda x: np.float64(x[0, 0]) * x + np.float64(x),
    "np.int64 indices": lambda x: x[np.int64(1)] * np.int64(2) + x[np.intp(0), np.int32(3)],
    "np.sum([a, b])": lambda x: np.sum([x[0, 0], x[1, 1] ** 2]) * x,
    "np.mean/std/var of lists": lambda x: np.mean([x[0, 0], x[0, 1], 1.0]) +
    np.std([x[1, 0], x[1, 1], x[1, 2]]) + np.var((x[2, 0], x[2, 1])) * x,
    "np.linalg.norm([dx, dy])": lambda x: np.linalg.norm([x[0, 0] - x[1, 0], x[0, 1] - 2.0]),
    "np.max([a, b])": lambda x: np.max([x[0, 0], x[1, 1], x[2, 2]]) * np.min((x[0], x[1]),
                                                                                axis=0),
    "np.stack/concatenate of lists": lambda x: np.concatenate([x[0], [x[1, 0], 2.0]]) *
    np.stack([[x[0, 0], x[0, 1]], [1.0, x[2, 2]]]).sum(),
    "np.where(c, [a, b], 0)": lambda x: np.where(np.array([True, False]), [x[0, 0], x[0, 1]],
                                                   0.0),
    "np.exp([a, b])": lambda x: np.exp([x[0, 0], x[1, 1]]),
    "np.r_": lambda x: np.r_[x[0], 1.0, x[1, :2], [x[2, 0], 3.0]],
    "np.r_['1']": lambda x: np.r_["1", x[:2], x[1:]],
    "np.c_": lambda x: np.c_[x[0], x[1] ** 2],
    "out = np.zeros; out[i] = t": _buffer_rows,
    "out = np.empty; out[j] = t; out *= 2": _buffer_scalars,
}
for name, op in CONSTRUCTS.items():
    case(name, lambda x, op=op: wsum(op(x)), (distinct, M))


# -- the math module on traced scalars ------------------------------------------------------------
MATH = [
    (math.exp, normal), (math.expm1, normal), (math.log, positive), (math.log2, positive),
    (math.log10, positive), (math.log1p, positive), (math.sqrt, positive),
    (math.sin, normal), (math.cos, normal), (math.tan, unit), (math.asin, unit),
    (math.acos, unit), (math.atan, normal), (math.sinh, normal), (math.cosh, normal),
    (math.tanh, normal), (math.asinh, normal), (math.acosh, lambda r, s: 1.5 + positive(r, s)),
    (math.atanh, unit), (math.fabs, nonzero), (math.degrees, normal), (math.radians, normal),
    (math.erf, normal), (math.erfc, normal),
]
for fn, sampler in MATH:  # (math.<name> read at call time, as user code reads it)
    case(f"math.{fn.__name__}", lambda x, name=fn.__name__: getattr(math, name)(x[0]) * 1.5
         + getattr(math, name)(x[1]) ** 2, (sampler, (2,)))
case("math.atan2/hypot/pow/log(x, b)", lambda x: math.atan2(x[0], x[1])
     + math.hypot(x[0], x[1], 2.0) + math.pow(x[0], 1.5) + math.log(x[1], 3.0)
     + math.pi * x[0] + math.e, (positive, (2,)))
case("math.floor/ceil/trunc (zero derivative)",
     lambda x: (math.floor(x[0]) + math.ceil(x[1]) + math.trunc(x[0])) * x[1],
     (lambda r, s: r.uniform(0.2, 0.8, s) + 1, (2,)))
case("np.gradient(traced coordinates)", lambda y, t: wsum(np.gradient(y, t)),
     (normal, (5,)), (lambda rng, s: np.cumsum(rng.uniform(0.5, 1.0, s)), (5,)))
case("math.fsum([a, b])", lambda x: math.fsum([x[0], x[1] ** 2, 1.0]), (normal, (2,)))
if special is not None:
    case("math.gamma/lgamma", lambda x: math.gamma(x[0]) + math.lgamma(x[1]) * 2,
         (positive, (2,)))

# -- scipy.special ------------------------------------------------------------------------------------
if special is not None:
    SPECIAL = [
        ("erf", normal), ("erfc", normal), ("erfinv", unit), ("expit", normal),
        ("logit", lambda r, s: r.uniform(0.1, 0.9, s)), ("log_expit", normal),
        ("gammaln", positive), ("digamma", positive), ("ndtr", normal), ("log_ndtr", normal),
        ("ndtri", lambda r, s: r.uniform(0.1, 0.9, s)),
    ]
    for name, sampler in SPECIAL:
        case(f"scipy.special.{name}", lambda x, name=name: wsum(getattr(special, name)(x)),
             (sampler, M))
    for name in ("xlogy", "xlog1py", "betaln"):
        case(f"scipy.special.{name}", lambda a, b, name=name: wsum(getattr(special, name)(a, b)),
             (positive, M), (positive, (4,)))
    case("scipy.special.xlogy at x = 0", lambda a, b: wsum(special.xlogy(a * 0.0, b) + a),
         (positive, M), (positive, M))
    for label, kwargs in [("", {}), ("axis=1", {"axis": 1}),
                          ("axis=0 keepdims", {"axis": 0, "keepdims": True}),
                          ("b", {"axis": -1, "b": np.array([0.5, 1.0, 2.0, 1.5])})]:
        case(f"scipy.special.logsumexp({label})",
             lambda x, kw=kwargs: wsum(special.logsumexp(x, **kw)), (normal, M))
    case("scipy.special.softmax/log_softmax", lambda x: wsum(special.softmax(x, axis=1))
         + wsum(special.log_softmax(x, axis=0)) + wsum(special.softmax(x)), (normal, M))

# -- differences and filters ---------------------------------------------------------------------------
DIFFS = {
    "np.diff": lambda x: np.diff(x),
    "np.diff(n=2, axis=0)": lambda x: np.diff(x, n=2, axis=0),
    "np.diff(prepend, append)": lambda x: np.diff(x, prepend=0.5, append=x[:, -1:] * 2),
    "np.gradient": lambda x: np.gradient(x[0]),
    "np.gradient(2-d, spacing)": lambda x: np.stack(np.gradient(x, 0.5, 2.0)),
    "np.gradient(axis, edge_order=2)": lambda x: np.gradient(x, axis=1, edge_order=2),
    "np.gradient(coordinates)": lambda x: np.gradient(x, [0.0, 0.5, 1.5],
                                                      [0.0, 0.2, 0.3, 0.7], edge_order=2)[1]
    + np.gradient(x[0], np.array([1.0, 1.1, 2.0, 2.2])),
    "np.cumsum/cumprod of a list": lambda x: np.cumsum([x[0, 0], x[1, 1], 2.0]).sum() * x,
    "np.nancumsum/nancumprod": lambda x: np.nancumsum(x, axis=1) + np.nancumprod(
        np.where(x > 1.5, np.nan, x), axis=0),
    "np.add.accumulate": lambda x: np.add.accumulate(x, axis=1),
    "np.multiply.accumulate": lambda x: np.multiply.accumulate(x),
    "np.maximum.accumulate": lambda x: np.maximum.accumulate(x, axis=1),
    "np.logaddexp.reduce": lambda x: np.logaddexp.reduce(x, axis=1),
    "np.add.reduce / np.multiply.reduce": lambda x: np.add.reduce(x) * np.multiply.reduce(x),
    "np.maximum.reduce": lambda x: np.maximum.reduce(x, axis=None),
    "sliding_window_view": lambda x: np.lib.stride_tricks.sliding_window_view(x[0], 3) @
    np.array([1.0, -2.0, 0.5]),
    "sliding_window_view(2-d)": lambda x: np.lib.stride_tricks.sliding_window_view(x, (2, 2)),
}
if hasattr(np, "cumulative_sum"):
    DIFFS["np.cumulative_sum/prod(include_initial)"] = lambda x: np.cumulative_sum(
        x, axis=1, include_initial=True) + np.cumulative_prod(x, axis=1, include_initial=True)
for name, op in DIFFS.items():
    case(name, lambda x, op=op: wsum(op(x)), (distinct, M))
for mode in ("full", "same", "valid"):
    for n, k in ((7, 3), (6, 4), (3, 5), (4, 4)):
        case(f"np.convolve(mode={mode!r}) {n} {k}",
             lambda a, v, mode=mode: wsum(np.convolve(a, v, mode)), (normal, (n,)), (normal, (k,)))
        case(f"np.correlate(mode={mode!r}) {n} {k}",
             lambda a, v, mode=mode: wsum(np.correlate(a, v, mode)), (normal, (n,)),
             (normal, (k,)))

# -- linear algebra ------------------------------------------------------------------------------------
LINALG = [
    ("np.linalg.cholesky", lambda a: wsum(np.linalg.cholesky(a)), (spd, (3, 3))),
    ("np.linalg.cholesky batched", lambda a: wsum(np.linalg.cholesky(a)), (spd, (2, 3, 3))),
    ("np.linalg.cholesky(B @ B.T + I)", lambda b: wsum(np.linalg.cholesky(b @ b.T + np.eye(3))),
     (normal, (3, 3))),
    ("np.linalg.cholesky(upper=True)", lambda a: wsum(np.linalg.cholesky(a, upper=True)),
     (spd, (3, 3))),
    ("np.linalg.eigvalsh", lambda a: wsum(np.linalg.eigvalsh(a)), (spread_spd, (2, 3, 3))),
    ("np.linalg.eigvalsh(UPLO='U')", lambda a: wsum(np.linalg.eigvalsh(a, UPLO="U")),
     (spread_spd, (3, 3))),
    ("np.linalg.eigh: expm of a symmetric matrix", lambda a: wsum(
        (np.linalg.eigh(a).eigenvectors * np.exp(np.linalg.eigh(a).eigenvalues))
        @ np.linalg.eigh(a).eigenvectors.T), (spread_spd, (3, 3))),
    ("np.linalg.eigh vectors squared", lambda a: wsum(np.linalg.eigh(a)[1] ** 2),
     (spread_spd, (2, 4, 4))),
    ("np.linalg.svd(compute_uv=False)", lambda a: wsum(np.linalg.svd(a, compute_uv=False)),
     (full_rank, (2, 4, 3))),
    ("np.linalg.svd U**2, Vh**2 tall", lambda a: wsum(
        np.linalg.svd(a, full_matrices=False)[0] ** 2)
        + wsum(np.linalg.svd(a, full_matrices=False)[2] ** 2), (full_rank, (5, 3))),
    ("np.linalg.svd U**2, Vh**2 wide", lambda a: wsum(
        np.linalg.svd(a, full_matrices=False).U ** 2)
        + wsum(np.linalg.svd(a, full_matrices=False).Vh ** 2), (full_rank, (3, 5))),
    ("np.linalg.svd square reconstruct", lambda a: wsum(
        np.linalg.svd(a)[0] * np.linalg.svd(a)[1] ** 2 @ np.linalg.svd(a)[2]),
     (full_rank, (3, 3))),
    ("np.linalg.qr", lambda a: wsum(np.linalg.qr(a).Q) + wsum(np.linalg.qr(a)[1]),
     (full_rank, (5, 3))),
    ("np.linalg.qr(mode='r') batched", lambda a: wsum(np.linalg.qr(a, mode="r")),
     (full_rank, (2, 3, 3))),
    ("np.linalg.pinv", lambda a: wsum(np.linalg.pinv(a)), (full_rank, (4, 3))),
    ("np.linalg.pinv of rank 2 (cutoff)", lambda a: wsum(np.linalg.pinv(a[:, :2] @ a[:2])),
     (full_rank, (3, 3))),
    ("np.linalg.pinv(rtol)", lambda a: wsum(np.linalg.pinv(a, rtol=1e-3)), (full_rank, (3, 4))),
    ("np.linalg.lstsq", lambda a, b: wsum(np.linalg.lstsq(a, b, rcond=None)[0])
     + wsum(np.linalg.lstsq(a, b, rcond=None)[1])
     + np.linalg.lstsq(a, b)[2] * b[0], (full_rank, (5, 3)), (normal, (5,))),
    ("np.linalg.matrix_power", lambda a: wsum(np.linalg.matrix_power(a, 3))
     + wsum(np.linalg.matrix_power(a, -2)) + wsum(np.linalg.matrix_power(a, 0)),
     (spd, (3, 3))),
    ("np.linalg.multi_dot", lambda a, b, c: wsum(np.linalg.multi_dot([a, b, c])),
     (normal, (2, 3)), (normal, (3, 4)), (normal, (4, 2))),
    ("np.kron", lambda a, b: wsum(np.kron(a, b)) + wsum(np.kron(a[0], b[1])),
     (normal, (2, 3)), (normal, (2, 2))),
    ("np.cross", lambda a, b: wsum(np.cross(a, b)) + wsum(np.cross(a.T, b, axisa=0)),
     (normal, (3, 3)), (normal, (3,))),
    ("np.linalg.norm(ord='nuc')", lambda a: np.linalg.norm(a, "nuc"), (full_rank, (4, 3))),
    ("np.linalg.norm(ord=2, -2)", lambda a: np.linalg.norm(a, 2) + np.linalg.norm(a, -2),
     (full_rank, (3, 4))),
    ("np.linalg.norm(ord='nuc', axis, keepdims)", lambda a: wsum(
        np.linalg.norm(a, "nuc", axis=(0, 2), keepdims=True)), (normal, (3, 2, 4))),
]
if hasattr(np.linalg, "svdvals"):
    LINALG.append(("np.linalg.svdvals", lambda a: wsum(np.linalg.svdvals(a)),
                   (full_rank, (3, 4))))
for name, fn, *samplers in LINALG:
    case(name, fn, *samplers, rtol=1e-5, atol=1e-6)

# -- sorting and order statistics ---------------------------------------------------------------------
SORTING = {
    "np.sort": lambda x: np.sort(x),
    "np.sort(axis=0, kind='stable')": lambda x: np.sort(x, axis=0, kind="stable"),
    "np.sort(axis=None)": lambda x: np.sort(x, axis=None),
    "x[np.argsort(x)] gathers": lambda x: x[0][np.argsort(x[0])] * x[1][np.argsort(x[0])]
    + np.take_along_axis(x, np.argsort(x, axis=1), axis=1)[:, :2].sum(),
    "x.argsort()": lambda x: np.take_along_axis(x, x.argsort(axis=0), axis=0),
    "np.partition": lambda x: np.partition(x, 2, axis=1),
    "np.argpartition": lambda x: np.take_along_axis(x, np.argpartition(x, (0, 2)), axis=-1),
    "np.median": lambda x: np.median(x) + np.median(x, axis=1),
    "np.median(axis=0, keepdims)": lambda x: np.median(x, axis=0, keepdims=True),
    "np.quantile(linear)": lambda x: np.quantile(x, [0.1, 0.5, 0.93], axis=1),
    "np.quantile(keepdims)": lambda x: np.quantile(x, 0.3, axis=0, keepdims=True),
    "np.percentile": lambda x: np.percentile(x, 25.0) + np.percentile(x, [10, 90], axis=0),
}
for name, op in SORTING.items():
    case(name, lambda x, op=op: wsum(op(x)), (distinct, M))

# -- more shapes, choices and elementwise functions ----------------------------------------------------
MORE = {
    "np.rot90": lambda x: np.rot90(x) + 2 * np.rot90(x, 3) + np.rot90(x, 2).T,
    "np.rot90(axes)": lambda x: np.rot90(x[None], 1, axes=(2, 1)),
    "np.append": lambda x: np.append(x, [1.0, 2.0]) * np.append(x, x[:1], axis=0).sum(),
    "np.insert": lambda x: np.insert(x[0], 2, x[1, 0] * 3) * np.insert(x[1], [1, 3], 0.5)[:5],
    "np.insert(axis)": lambda x: np.insert(x, [0, 2], x[:, :1] ** 2, axis=1),
    "np.delete": lambda x: np.delete(x, 1, axis=0) + np.delete(x, [0, 3], axis=1).sum(),
    "np.delete(axis=None)": lambda x: np.delete(x, slice(2, 7)),
    "np.rollaxis": lambda x: np.rollaxis(x[None], 2, 0),
    "np.hsplit/vsplit/dsplit": lambda x: np.hsplit(x, 2)[1][1:] * np.vsplit(x, [1])[1][:, :2]
    + np.dsplit(x[:, :, None] * np.ones(2), 2)[0][..., 0][1:, :2],
    "np.atleast_3d": lambda x: np.atleast_3d(x) * np.atleast_3d(x[0, 0]),
    "np.block": lambda x: np.block([[x[:2, :2], x[:2, 2:] * 2], [x[2:, :2] ** 2, np.ones((1, 2))]]),
    "np.einsum interleaved": lambda x: np.einsum(x, [0, 1], x, [2, 1], [0, 2]),
    "np.select": lambda x: np.select([x < -0.5, x > 0.5], [x**2, 2 * x], default=x - 1),
    "np.piecewise": lambda x: np.piecewise(x, [x < 0, x >= 0.3], [lambda v: v**2, np.sin,
                                                                 lambda v: v / 2]),
    "np.radians/degrees/fabs": lambda x: np.radians(x) + np.degrees(x) * np.fabs(x),
    "np.sinc": lambda x: np.sinc(x),
    "np.heaviside": lambda x: np.heaviside(x, 0.5) * x + np.heaviside(x * 0.0, x),
    "np.copysign": lambda x: np.copysign(x, x[::-1]) + np.copysign(2.0, x),
    "np.ldexp": lambda x: np.ldexp(x, np.array([1, -2, 3, 0])),
    "np.conj/conjugate/real": lambda x: np.conj(x) * np.conjugate(x) + np.real(x),
    "np.nan_to_num": lambda x: np.nan_to_num(x) * 2 + np.nan_to_num(x / x, nan=1.5),
}
if hasattr(np, "row_stack"):
    import warnings

    def _row_stack(x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return np.row_stack([x[0], x[1] * 2])

    MORE["np.row_stack"] = _row_stack
for name, op in MORE.items():
    case(name, lambda x, op=op: wsum(op(x)), (distinct, M))
