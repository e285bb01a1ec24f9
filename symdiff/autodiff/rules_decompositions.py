"""Derivative rules of the decompositions and of convolution (ir/decompositions.py),
entered in the tables of `rules`.

Cholesky: Murray (2016); eigh: the first-order perturbation formulas; svd: autograd's
grad_svd and JAX's svd JVP; qr: JAX's qr JVP and its transpose (m >= n). NumPy's
cholesky and eigh read only the lower triangle of their argument, so the cotangent is
with respect to it (zero above the diagonal, both symmetric positions collected below)
and a tangent is read as its lower triangle mirrored.
"""

from __future__ import annotations

import numpy as np

from ..trace.structured import identity, reduce_sum, reshape
from ..trace.subscript import index_node
from ..trace.tracer import FUNCTIONS, Tracer, bind, const, matmul, transpose
from .rules import JVP, VJP, _prod_others, linear_jvp

__all__ = []


def _mT(x: Tracer) -> Tracer:
    return transpose(x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def _scalar_to_matrix(s: Tracer) -> Tracer:
    return reshape(s, s.shape + (1, 1))


def _eye(n: int, like: Tracer) -> Tracer:
    return const(like.graph, np.eye(n, dtype=like.dtype))


def _tril(x: Tracer, k: int = 0) -> Tracer:
    return FUNCTIONS[np.tril](x, k)


def _phi(x: Tracer) -> Tracer:
    """The lower triangle with its diagonal halved."""
    return _tril(x) * (1.0 - 0.5 * _eye(x.shape[-1], x))


def _lower_gradient(sym: Tracer) -> Tracer:
    """The cotangent of the lower triangle NumPy reads, from `sym` with <sym, E> the
    derivative along a symmetric perturbation E."""
    return _phi(sym + _mT(sym))


def _symmetric_tangent(t: Tracer) -> Tracer:
    return _tril(t) + _mT(_tril(t, -1))


def _solve(a, b):
    return bind("solve", a, b)


def _row(v: Tracer) -> Tracer:
    return FUNCTIONS[np.expand_dims](v, -2)


def _col(v: Tracer) -> Tracer:
    return FUNCTIONS[np.expand_dims](v, -1)


# -- Cholesky -------------------------------------------------------------------------------------
def _cholesky_vjp(g, L, a):
    """S = L^-T phi(L^T g) L^-1, symmetrized, onto the lower triangle."""
    p = _phi(matmul(_mT(L), g))
    s = _solve(_mT(L), _mT(_solve(_mT(L), _mT(p))))
    return (_lower_gradient(0.5 * (s + _mT(s))),)


def _cholesky_jvp(tangents, L, a):
    """dL = L phi(L^-1 dA L^-T)."""
    w = _solve(L, _mT(_solve(L, _symmetric_tangent(tangents[0]))))
    return matmul(L, _phi(w))


# -- symmetric eigenproblem --------------------------------------------------------------------------
def _gaps_vjp(g, out, w, *, what):
    """F_ij = 1/(w_j - w_i): dF_ij = -F_ij^2 (dw_j - dw_i)."""
    h = -g * out * out
    return (FUNCTIONS[np.sum](h, axis=-2) - FUNCTIONS[np.sum](h, axis=-1),)


def _gaps_jvp(tangents, out, w, *, what):
    t = tangents[0]
    return -out * out * (_row(t) - _col(t))


def _eigh_vjp(g, out, a, *, part):
    w, v = bind("eigh", a, part=0), bind("eigh", a, part=1)
    if part == 0:  # V diag(g) V^T
        sym = matmul(v * _row(g), _mT(v))
    else:  # V (F o V^T g) V^T
        f = bind("inverse_gaps", w, what="eigenvector")
        sym = matmul(matmul(v, f * matmul(_mT(v), g)), _mT(v))
    return (_lower_gradient(sym),)


def _eigh_jvp(tangents, out, a, *, part):
    w, v = bind("eigh", a, part=0), bind("eigh", a, part=1)
    inner = matmul(matmul(_mT(v), _symmetric_tangent(tangents[0])), v)
    if part == 0:
        return FUNCTIONS[np.einsum]("...ii->...i", inner)
    return matmul(v, bind("inverse_gaps", w, what="eigenvector") * inner)


# -- singular value decomposition ---------------------------------------------------------------------
def _svd_parts(a):
    return [bind("svd", a, part=i) for i in range(3)]


def _svd_vjp(g, out, a, *, part):
    """Values: U diag(g) V^T. Vectors, one part at a time: through F = 1/(s_j^2 - s_i^2),
    plus the part of g outside the span of U (tall) or V (wide)."""
    u, s, vh = _svd_parts(a)
    if part == 1:
        return (matmul(u * _row(g), vh),)
    m, n = a.shape[-2:]
    f = bind("inverse_gaps", s * s, what="singular-vector")
    if part == 0:
        utg = matmul(_mT(u), g)
        ga = matmul(matmul(u, f * (utg - _mT(utg)) * _row(s)), vh)
        if m > n:
            ga = ga + matmul((g - matmul(u, utg)) / _row(s), vh)
        return (ga,)
    v, gv = _mT(vh), _mT(g)
    vtg = matmul(vh, gv)
    ga = matmul(matmul(u, _col(s) * (f * (vtg - _mT(vtg)))), vh)
    if n > m:
        ga = ga + matmul(u / _row(s), _mT(gv - matmul(v, vtg)))
    return (ga,)


def _svd_jvp(tangents, out, a, *, part):
    u, s, vh = _svd_parts(a)
    v, da = _mT(vh), tangents[0]
    inner = matmul(matmul(_mT(u), da), v)  # U^T dA V
    if part == 1:
        return FUNCTIONS[np.einsum]("...ii->...i", inner)
    f = bind("inverse_gaps", s * s, what="singular-vector")
    m, n = a.shape[-2:]
    if part == 0:
        du = matmul(u, f * (inner * _row(s) + _col(s) * _mT(inner)))
        if m > n:
            du = du + matmul(matmul(_eye(m, a) - matmul(u, _mT(u)), da), v) / _row(s)
        return du
    dv = matmul(v, f * (_col(s) * inner + _mT(inner) * _row(s)))
    if n > m:
        dv = dv + matmul(matmul(_eye(n, a) - matmul(v, vh), _mT(da)), u) / _row(s)
    return _mT(dv)


# -- QR (m >= n) -------------------------------------------------------------------------------------
def _copyltu(x: Tracer) -> Tracer:
    """The lower triangle mirrored above the diagonal."""
    return _tril(x) + _mT(_tril(x, -1))


def _qr_vjp(g, out, a, *, part):
    """gA = (gQ + Q copyltu(M)) R^-T with M = R gR^T - gQ^T Q, one output at a time."""
    q, r = bind("qr", a, part=0), bind("qr", a, part=1)
    if part == 0:
        b = g + matmul(q, _copyltu(-matmul(_mT(g), q)))
    else:
        b = matmul(q, _copyltu(matmul(r, _mT(g))))
    return (_mT(_solve(r, _mT(b))),)


def _qr_jvp(tangents, out, a, *, part):
    q, r = bind("qr", a, part=0), bind("qr", a, part=1)
    da_rinv = _mT(_solve(_mT(r), _mT(tangents[0])))  # dA R^-1
    x = matmul(_mT(q), da_rinv)
    lower = _tril(x, -1)
    omega = lower - _mT(lower)
    if part == 1:
        return matmul(x - omega, r)
    return matmul(q, omega - x) + da_rinv


# -- convolution --------------------------------------------------------------------------------------
def _flip(x: Tracer) -> Tracer:
    return index_node(x, (slice(x.shape[0] - 1, None, -1),))


def _convolve_vjp(g, out, a, v):
    """out[n] = sum_k a[n - k] v[k]: each cotangent is the valid part of the convolution
    of g with the other operand reversed (a correlation)."""
    n, k = a.shape[0], v.shape[0]
    ga = index_node(bind("convolve", g, _flip(v)), (slice(k - 1, k - 1 + n, 1),))
    gv = index_node(bind("convolve", g, _flip(a)), (slice(n - 1, n - 1 + k, 1),))
    return ga, gv


def _cofactor_derivative(a: Tracer, t: Tracer) -> Tracer:
    """D cof(a)[t], the derivative of C = adj(a).T along t, with no division: finite at
    singular matrices of any rank. With a = U S Vh, adj(U M Vh) = det(U) det(Vh)
    Vh.T adj(M) U.T for every M, so dC = det(U) det(Vh) U D.T Vh with D the derivative
    of adj at S along E = U.T t Vh.T: D_ii = sum over k != i of Q_ik E_kk, D_ij = -Q_ij
    E_ij (i != j), Q_ik the product of the singular values other than s_i and s_k.
    The map is self-adjoint (it is det's Hessian), so it is its own VJP."""
    u, s, vh = _svd_parts(a)
    n = s.shape[-1]
    eye = identity(a.graph, n, a.dtype)
    others = _prod_others(_row(s) * (1.0 - eye) + eye, (s.ndim,)) * (1.0 - eye)  # Q
    e = matmul(matmul(_mT(u), t), _mT(vh))
    diagonal = reduce_sum(e * eye, -1)
    d_t = reshape(reduce_sum(others * _row(diagonal), -1), s.shape + (1,)) * eye \
        - others * _mT(e)  # D.T
    sign = bind("det", u) * bind("det", vh)
    return _scalar_to_matrix(sign) * matmul(matmul(u, d_t), vh)


def _cofactor_vjp(g, out, a):
    return (_cofactor_derivative(a, g),)


def _cofactor_jvp(tangents, out, a):
    return _cofactor_derivative(a, tangents[0])


VJP.update({
    "cofactor": _cofactor_vjp,
    "cholesky": _cholesky_vjp,
    "eigh": _eigh_vjp,
    "inverse_gaps": _gaps_vjp,
    "svd": _svd_vjp,
    "qr": _qr_vjp,
    "convolve": _convolve_vjp,
    "argsort": lambda g, out, x, *, axis, kth: (None,),
})
JVP.update({
    "cofactor": _cofactor_jvp,
    "cholesky": _cholesky_jvp,
    "eigh": _eigh_jvp,
    "inverse_gaps": _gaps_jvp,
    "svd": _svd_jvp,
    "qr": _qr_jvp,
    "convolve": linear_jvp("convolve"),
    "argsort": lambda tangents, out, x, *, axis, kth: None,
})
