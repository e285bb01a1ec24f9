"""Derivative rules of the structured primitives: two tables, one entry per op each.

VJP (reverse mode): ``rule(g, out, *inputs, **params) -> tuple``. `g` is the cotangent
of `out` (same shape); the result holds one cotangent per input, shaped like that
input, or None where the input is not differentiable.

JVP (forward mode): ``rule(tangents, out, *inputs, **params) -> tangent``.
`tangents[i]` is the tangent of `inputs[i]` (its shape) or None for zero; the result
is the tangent of `out`, or None. An op that is linear in each input separately
(sum, reshape, matmul, ...) needs no hand-written JVP: `linear_jvp(name)` applies the
op itself to the tangents.

All values are tracers, so rules build ordinary graph nodes and derivative programs
can be differentiated again. Elementwise nodes need no entry: their partials come
from `sympy.diff`.
"""

from __future__ import annotations

import numpy as np

from .tracer import Tracer, bind, broadcast_to, matmul, reduce_sum, reshape, transpose

__all__ = ["VJP", "JVP", "unbroadcast", "linear_jvp"]


def unbroadcast(g: Tracer, shape: tuple[int, ...]) -> Tracer:
    """Sum `g` over the axes that broadcasting added or stretched to reach its shape."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1)
    return reshape(reduce_sum(g, axes), shape)


def _swap(x: Tracer) -> Tracer:
    return transpose(x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def _sum_vjp(g, out, x, *, axes, keepdims):
    if g.ndim and not keepdims:  # restore the summed axes as size 1 so that g broadcasts
        g = reshape(g, tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    return (broadcast_to(g, x.shape),)


def _matmul_vjp(g, out, a, b):
    """Cotangents of `a @ b`, with NumPy's 1-d promotion and batch broadcasting."""
    if a.ndim == 1 and b.ndim == 1:
        return g * b, g * a
    if b.ndim == 1:  # out[..., n] = sum_k a[..., n, k] b[k]
        g_col = reshape(g, g.shape + (1,))
        ga = unbroadcast(g_col * b, a.shape)
        gb = matmul(_swap(a), g) if a.ndim == 2 else unbroadcast(g_col * a, (1,) * (a.ndim - 1) + b.shape)
        return ga, reshape(gb, b.shape)
    if a.ndim == 1:  # out[..., m] = sum_k a[k] b[..., k, m]
        g_row = reshape(g, g.shape[:-1] + (1,) + g.shape[-1:])
        ga = matmul(b, g) if b.ndim == 2 else unbroadcast(g_row * b, (1,) * (b.ndim - 2) + a.shape + (1,))
        gb = unbroadcast(reshape(a, a.shape + (1,)) * g_row, b.shape)
        return reshape(ga, a.shape), gb
    return unbroadcast(matmul(g, _swap(b)), a.shape), unbroadcast(matmul(_swap(a), g), b.shape)


VJP = {
    # -- reductions ------------------------------------------------------------------
    "sum": _sum_vjp,
    # -- linear algebra --------------------------------------------------------------
    "matmul": _matmul_vjp,
    # -- shapes ----------------------------------------------------------------------
    "reshape": lambda g, out, x, *, shape: (reshape(g, x.shape),),
    "transpose": lambda g, out, x, *, axes: (transpose(g, tuple(np.argsort(axes))),),
    "broadcast_to": lambda g, out, x, *, shape: (unbroadcast(g, x.shape),),
    # -- control of differentiation ------------------------------------------------------
    "stop_gradient": lambda g, out, x: (None,),
}


def linear_jvp(name: str):
    """JVP of an op linear in each input separately: the sum over inputs of the op
    applied with that input replaced by its tangent (the product rule)."""

    def rule(tangents, out, *inputs, **params):
        total = None
        for i, t in enumerate(tangents):
            if t is None:
                continue
            args = list(inputs)
            args[i] = t
            term = bind(name, *args, **params)
            total = term if total is None else total + term
        return total

    rule.__name__ = f"{name}_jvp"
    return rule


JVP = {
    name: linear_jvp(name)
    for name in ("sum", "matmul", "reshape", "transpose", "broadcast_to")
}
JVP["stop_gradient"] = lambda tangents, out, x: None
