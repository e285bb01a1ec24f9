"""Primitives for matrix decompositions, convolution and sorting: their NumPy implementations
and shape rules (rules: autodiff/rules_decompositions.py; printers:
codegen/printer_ops.py; NumPy lowering: trace/np_decompositions.py, np_filters.py).

`cholesky`, `eigh` and `svd`, `qr` with a `part` parameter are one node per output
(as `slogdet`): the eigenvalues and the eigenvectors of one matrix are two nodes
that value numbering keeps apart, and the printed code calls NumPy once per part.
`inverse_gaps` is the matrix 1 / (w_j - w_i) that eigenvector and singular-vector
derivatives need; it refuses repeated values (LinAlgError) instead of dividing by 0.
`cofactor` is the derivative of `det`, adj(a).T, computed from the SVD so that it is
finite and accurate at singular matrices, where det(a) * inv(a).T is not.
"""

from __future__ import annotations

import numpy as np

from .primitives import _float_dtype, _square_matrices, primitive

__all__ = ["inverse_gaps", "cofactor"]


def _cholesky(a):
    return np.linalg.cholesky(a)


primitive("cholesky", _cholesky, _square_matrices, _float_dtype,
          doc="lower Cholesky factor over the last two axes (reads the lower triangle)")


def _eigh_shape(s, *, part):
    s = _square_matrices(s)
    return s[:-1] if part == 0 else s


primitive("eigh", lambda a, *, part: np.linalg.eigh(a)[part], _eigh_shape, _float_dtype,
          doc="`part` 0: eigenvalues (ascending), 1: eigenvectors of a symmetric matrix "
              "(reads the lower triangle)")


def inverse_gaps(w, *, what):
    """F[..., i, j] = 1 / (w[j] - w[i]), 0 on the diagonal; LinAlgError at repeats."""
    gaps = w[..., None, :] - w[..., :, None]
    n = w.shape[-1]
    gaps[..., np.arange(n), np.arange(n)] = np.inf
    if np.any(gaps == 0):
        raise np.linalg.LinAlgError(f"{what} derivatives are undefined at repeated values")
    return 1 / gaps


primitive("inverse_gaps", inverse_gaps, lambda s, *, what: tuple(s) + (s[-1],),
          doc="F[..., i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it; raises "
              "LinAlgError at repeated values (eigenvector and singular-vector derivatives)")


def _svd_shape(s, *, part):
    if len(s) < 2:
        raise ValueError(f"needs matrices (..., m, n), got shape {s}")
    m, n = s[-2:]
    k = min(m, n)
    return (s[:-2] + (m, k), s[:-2] + (k,), s[:-2] + (k, n))[part]


primitive("svd", lambda a, *, part: np.linalg.svd(a, full_matrices=False)[part], _svd_shape,
          _float_dtype, doc="reduced SVD over the last two axes: `part` 0: U, 1: singular "
                            "values (descending), 2: Vh")


def cofactor(a):
    """The matrices of cofactors adj(a).T over the last two axes, the gradient of det(a):
    with a = U diag(s) Vh, det(U) det(Vh) U diag(p) Vh where p_i is the product of the
    singular values other than s_i. No division, so a singular matrix (s_n = 0) has its
    finite cofactors, accurate relative to their norm."""
    u, s, vh = np.linalg.svd(a)
    others = np.prod(np.where(np.eye(s.shape[-1], dtype=bool), 1, s[..., None, :]), axis=-1)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return sign[..., None, None] * (u * others[..., None, :]) @ vh


primitive("cofactor", cofactor, _square_matrices, _float_dtype,
          doc="adj(a).T, the cofactors over the last two axes (the gradient of det), "
              "from the SVD: finite at singular matrices")


def _qr_shape(s, *, part):
    if len(s) < 2 or s[-2] < s[-1]:
        raise ValueError(f"differentiable for matrices (..., m, n) with m >= n, got shape "
                         f"{s}")
    return tuple(s) if part == 0 else tuple(s[:-2]) + (s[-1], s[-1])


primitive("qr", lambda a, *, part: np.linalg.qr(a)[part], _qr_shape, _float_dtype,
          doc="reduced QR over the last two axes (m >= n): `part` 0: Q, 1: R")


def _convolve_shape(a, v):
    if len(a) != 1 or len(v) != 1 or not a[0] or not v[0]:
        raise ValueError(f"needs two non-empty 1-d arrays, got shapes {a} and {v}")
    return (a[0] + v[0] - 1,)


primitive("convolve", np.convolve, _convolve_shape,
          doc="full discrete convolution of two 1-d arrays")


def _argsort(x, *, axis, kth):
    if kth is None:
        return np.argsort(x, axis=axis, kind="stable")
    return np.argpartition(x, kth, axis=axis)


primitive("argsort", _argsort, lambda s, *, axis, kth: tuple(s),
          lambda dt, **_: np.dtype(np.int64),
          doc="the indices that sort `x` along `axis` (stable), or with `kth` NumPy's "
              "argpartition; no derivative (sort and partition gather with them)")
