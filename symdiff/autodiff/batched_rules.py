"""Batched forward-mode rules: tangents carry a trailing axis of directions.

``rule(tangents, out, *inputs, identity, **params) -> tangent`` where each tangent
has its input's shape plus a trailing batch axis K (or is None), and the result has
`out`'s shape plus K. `identity` is the set of Vars known to be identity seeds
(``np.eye(K)``), so that ``A @ I`` becomes ``A``: this is what makes the Jacobian
of a gradient come out as a closed-form matrix expression rather than K separate
evaluations. An op without an entry cannot be batched (jacobian/hessian say so).
"""

from __future__ import annotations

from ..errors import UnsupportedOpError
from ..trace.structured import reduce_sum, reshape
from ..trace.tracer import Tracer, broadcast_to, matmul, matrix_transpose, transpose

__all__ = ["BATCHED_JVP"]


def _k(tangents) -> int:
    return next(t.shape[-1] for t in tangents if t is not None)



def _is_identity(t: Tracer, identity) -> bool:
    return t.graph_var in identity


def _sum(tangents, out, x, *, identity, axes, keepdims):
    return reduce_sum(tangents[0], axes, keepdims)


def _reshape(tangents, out, x, *, identity, shape):
    t = tangents[0]
    return reshape(t, tuple(shape) + (t.shape[-1],))


def _transpose(tangents, out, x, *, identity, axes):
    return transpose(tangents[0], tuple(axes) + (len(axes),))


def _broadcast_to(tangents, out, x, *, identity, shape):
    t = tangents[0]
    return broadcast_to(t, tuple(shape) + (t.shape[-1],))


def _matmul(tangents, out, a, b, *, identity):
    """d(a @ b) = ta @ b + a @ tb, each with the direction axis kept last."""
    ta, tb = tangents
    k = _k(tangents)
    terms = []
    if tb is not None:
        terms.append(_left_times_tangent(a, b, tb, k, identity))
    if ta is not None:
        terms.append(_tangent_times_right(a, b, ta, k, identity))
    total = terms[0] if len(terms) == 1 else terms[0] + terms[1]
    return broadcast_to(total, out.shape + (k,))


def _left_times_tangent(a, b, tb, k, identity):
    """a @ tb with tb shaped b.shape + (k,)."""
    if b.ndim == 1:
        if _is_identity(tb, identity):
            return a if a.ndim >= 2 else reshape(a, (k,))
        return matmul(a, tb)  # (..., n, kb) @ (kb, k)
    flat = reshape(tb, tb.shape[:-2] + (tb.shape[-2] * k,))  # (..., kb, m*k)
    prod = matmul(a, flat)
    return reshape(prod, prod.shape[:-1] + (b.shape[-1], k))


def _tangent_times_right(a, b, ta, k, identity):
    """ta @ b with ta shaped a.shape + (k,)."""
    if a.ndim == 1:
        if _is_identity(ta, identity):
            return matrix_transpose(b) if b.ndim >= 2 else b
        return matmul(matrix_transpose(b), ta) if b.ndim >= 2 else matmul(b, ta)
    if b.ndim > 2:
        raise_batched_unsupported("matmul with a batched right operand")
    moved = matrix_transpose(ta)  # (..., n, k, ka)
    prod = matmul(moved, b)  # (..., n, k[, m])
    return prod if b.ndim == 1 else matrix_transpose(prod)


def raise_batched_unsupported(what: str):

    raise UnsupportedOpError(f"jacobian/hessian through {what} is not supported yet; "
                             "use vjp or jvp for this function")


BATCHED_JVP = {
    "sum": _sum,
    "matmul": _matmul,
    "reshape": _reshape,
    "transpose": _transpose,
    "broadcast_to": _broadcast_to,
    "stop_gradient": lambda tangents, out, x, *, identity: None,
    "dim": lambda tangents, out, *, identity: None,
    "full": lambda tangents, out, *, identity: None,
    "arange": lambda tangents, out, *, identity: None,
}
