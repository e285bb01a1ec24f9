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
import sympy as sp

from ..ir import dims
from ..ir.graph import ELEMENTWISE
from ..ir.indexing import is_full, materialize, reshaping_inverse
from ..ir.primitives import einsum_letters
from ..trace.structured import concatenate, identity, index_range, reduce_sum, reshape, zeros
from ..trace.subscript import constant_value, index_node
from ..trace.tracer import (
    Tracer,
    astype,
    bind,
    broadcast_to,
    const,
    elementwise,
    expression,
    matmul,
    matrix_transpose,
    transpose,
)

__all__ = ["VJP", "JVP", "unbroadcast", "linear_jvp", "joint_linear_jvp"]


def unbroadcast(g: Tracer, shape: tuple[int, ...]) -> Tracer:
    """Sum `g` over the axes that broadcasting added or stretched to reach its shape."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1)
    return reshape(reduce_sum(g, axes), shape)


def recent_definition(t: Tracer):
    """The node defining `t` (a rule just made it, or any earlier one)."""
    return t.graph.defining(t.graph_var)


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
        gb = matmul(matrix_transpose(a), g) if a.ndim == 2 else \
            unbroadcast(g_col * a, (1,) * (a.ndim - 1) + b.shape)
        return ga, reshape(gb, b.shape)
    if a.ndim == 1:  # out[..., m] = sum_k a[k] b[..., k, m]
        g_row = reshape(g, g.shape[:-1] + (1,) + g.shape[-1:])
        ga = matmul(b, g) if b.ndim == 2 else unbroadcast(g_row * b, (1,) * (b.ndim - 2) + a.shape + (1,))
        gb = unbroadcast(reshape(a, a.shape + (1,)) * g_row, b.shape)
        return reshape(ga, a.shape), gb
    return (unbroadcast(matmul(g, matrix_transpose(b)), a.shape),
            unbroadcast(matmul(matrix_transpose(a), g), b.shape))


def _differentiable(x: Tracer) -> bool:
    return x.dtype.kind == "f"


def _keepdims(g: Tracer, shape, axes) -> Tracer:
    """`g` reduced over `axes` without keepdims, with those axes back as size 1."""
    return reshape(g, tuple(1 if i in axes else d for i, d in enumerate(shape)))


def _restore(g: Tracer, shape, axes, keepdims) -> Tracer:
    return g if keepdims else _keepdims(g, shape, axes)


def _flip(x: Tracer, axis: int) -> Tracer:
    index = tuple(slice(n - 1, None, -1) if i == axis else slice(0, n, 1)
                  for i, n in enumerate(x.shape))
    return index_node(x, index)


def _move_last(x: Tracer, axis: int) -> tuple[Tracer, tuple[int, ...]]:
    """`x` with `axis` moved last, and the permutation that moves it back."""
    perm = tuple(i for i in range(x.ndim) if i != axis) + (axis,)
    return transpose(x, perm), tuple(int(i) for i in np.argsort(perm))


# -- reductions ------------------------------------------------------------------------------
def _share(x, out, axes, keepdims) -> Tracer:
    """1/k at each of the k elements equal to the extremum, 0 elsewhere (ties share)."""
    # a cast of the mask, not np.where(.., 1, 0), so that float32 stays float32
    tie = astype(x == _restore(out, x.shape, axes, keepdims), x.dtype)
    return tie / reduce_sum(tie, axes, keepdims=True)


def _extremum_vjp(g, out, x, *, axes, keepdims):
    return (_restore(g, x.shape, axes, keepdims) * _share(x, out, axes, keepdims),)


def _extremum_jvp(tangents, out, x, *, axes, keepdims):
    return reduce_sum(tangents[0] * _share(x, out, axes, keepdims), axes, keepdims)


def _exclusive_cumprod(x: Tracer) -> Tracer:
    """[1, x0, x0 x1, ...] along the last axis."""
    n = x.shape[-1]
    ones = expression(x.graph, sp.Integer(1), x.shape[:-1] + (1,), x.dtype)
    head = index_node(x, tuple(slice(0, d, 1) for d in x.shape[:-1]) + (slice(0, n - 1, 1),))
    return bind("cumprod", concatenate([ones, head], -1), axis=x.ndim - 1)


def _prod_others(x: Tracer, axes) -> Tracer:
    """For each element, the product over `axes` of all the others, without dividing
    (zeros allowed): exclusive running products from the left times from the right."""
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    moved = transpose(x, kept + tuple(axes))
    n = dims.prod([x.shape[i] for i in axes])  # (symbolic: the general form holds at 1)
    if n == 1:
        return expression(x.graph, sp.Integer(1), x.shape, x.dtype)
    flat = reshape(moved, moved.shape[:len(kept)] + (n,))
    last = flat.ndim - 1
    others = _exclusive_cumprod(flat) * _flip(_exclusive_cumprod(_flip(flat, last)), last)
    return transpose(reshape(others, moved.shape), tuple(np.argsort(kept + tuple(axes))))


def _prod_vjp(g, out, x, *, axes, keepdims):
    return (_restore(g, x.shape, axes, keepdims) * _prod_others(x, axes),)


def _prod_jvp(tangents, out, x, *, axes, keepdims):
    return reduce_sum(tangents[0] * _prod_others(x, axes), axes, keepdims)


def _cumsum_vjp(g, out, x, *, axis):
    return (_flip(bind("cumsum", _flip(g, axis), axis=axis), axis),)


def _unroll(x: Tracer, shift: int, axis: int):
    """The shift undoing np.roll by `shift`: n - shift (as printed so far) for a fixed
    length n, -shift for a symbolic one."""
    n = x.shape[axis]
    return -shift if dims.is_symbolic(n) else n - shift


def _cumprod_partials(x: Tracer, axis: int) -> tuple[Tracer, tuple[int, ...]]:
    """M[..., i, j] = d out_j / d x_i = prod of x_k over k <= j, k != i (0 for j < i),
    with `axis` moved last; O(n^2) in the axis length, but exact where x has zeros."""
    moved, back = _move_last(x, axis)
    n = moved.shape[-1]
    i = reshape(index_range(x.graph, n), (n, 1))
    j = index_range(x.graph, n)
    row = reshape(moved, moved.shape[:-1] + (1, n))
    skip_i = elementwise(lambda a, b, v: sp.Piecewise((1, sp.Eq(a, b)), (v, True)), i, j, row)
    running = bind("cumprod", skip_i, axis=skip_i.ndim - 1)
    upper = elementwise(lambda a, b, c: sp.Piecewise((c, b >= a), (0, True)), i, j, running)
    return upper, back


def _cumprod_vjp(g, out, x, *, axis):
    m, back = _cumprod_partials(x, axis)
    g_moved, _ = _move_last(g, axis)
    dx = reduce_sum(m * reshape(g_moved, g_moved.shape[:-1] + (1, g.shape[axis])), -1)
    return (transpose(dx, back),)


def _cumprod_jvp(tangents, out, x, *, axis):
    m, back = _cumprod_partials(x, axis)
    t_moved, _ = _move_last(tangents[0], axis)
    dout = reduce_sum(m * reshape(t_moved, t_moved.shape + (1,)), -2)
    return transpose(dout, back)


# -- linear algebra ----------------------------------------------------------------------------
def _einsum_vjp(g, out, *ops, subscripts):
    ins, res = einsum_letters(subscripts)
    return tuple(_einsum_operand_vjp(g, res, ins, ops, k) if _differentiable(ops[k]) else None
                 for k in range(len(ops)))


def _einsum_operand_vjp(g, res, ins, ops, k):
    """g contracted with every other operand, back onto operand k's subscripts. A letter
    repeated in k (a diagonal) gets a fresh letter tied to it by an identity matrix; a
    letter summed only inside k comes back by broadcasting."""
    x = ops[k]
    terms = [res] + [s for i, s in enumerate(ins) if i != k]
    operands = [g] + [o for i, o in enumerate(ops) if i != k]
    spare = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                 if c not in "".join(ins) + res)
    target, seen = [], {}
    for letter, d in zip(ins[k], x.shape):
        if letter in seen:
            fresh = next(spare)
            terms.append(letter + fresh)
            operands.append(identity(x.graph, d, x.dtype))
            letter = fresh
        seen[letter] = d
        target.append(letter)
    present = set("".join(terms))
    reached = "".join(c for c in target if c in present)
    ct = bind("einsum", *operands, subscripts=f"{','.join(terms)}->{reached}")
    if len(reached) < len(target):
        ct = broadcast_to(reshape(ct, tuple(d if c in present else 1
                                            for c, d in zip(target, x.shape))), x.shape)
    return ct



def _scalar_to_matrix(s: Tracer) -> Tracer:
    return reshape(s, s.shape + (1, 1))


#: Matrices of a fixed size up to this one differentiate `det` through the determinants
#: of their minors (a polynomial: finite at singular matrices to every order, O(n^5));
#: others, and those of symbolic size, through the `cofactor` primitive, from the SVD
#: (finite at singular matrices, O(n^3); its own derivative too, from the same SVD).
MAX_MINORS_SIZE = 8


def _det_grad(out, x) -> Tracer:
    """d det(x)/dx = adj(x).T, the matrix of cofactors, det(x) * inv(x).T where x is
    invertible, and finite where it is singular (the rank n-1 case included)."""
    n = x.shape[-1]
    if not isinstance(n, int) or n > MAX_MINORS_SIZE:
        return bind("cofactor", x)
    if n == 1:
        return const(x.graph, np.ones(x.shape, dtype=x.dtype))
    keep = np.array([[k for k in range(n) if k != i] for i in range(n)])
    minors = x[..., keep[:, None, :, None], keep[None, :, None, :]]  # (..., n, n, n-1, n-1)
    signs = (-1.0) ** np.add.outer(np.arange(n), np.arange(n))
    return bind("det", minors) * signs.astype(x.dtype)


def _det_vjp(g, out, x):
    per_inverse = _times(g, out)
    if per_inverse is not None:  # g = h/det(x), as log(det(x)) makes: g adj(x).T = h inv(x).T
        return (_scalar_to_matrix(per_inverse) * matrix_transpose(bind("inv", x)),)
    return (_scalar_to_matrix(g) * _det_grad(out, x),)


def _times(g: Tracer, out: Tracer) -> Tracer | None:
    """g * out as a value of its own when g's expression is h/out with h free of out
    (out cancels), else None."""
    node = recent_definition(g)
    if node is None or node.op != ELEMENTWISE or tuple(g.shape) != tuple(out.shape):
        return None
    h = node.expr * out.graph_var.symbol
    if h.has(out.graph_var.symbol):
        return None
    return expression(g.graph, h, g.shape, g.dtype)


def _det_jvp(tangents, out, x):
    return reduce_sum(_det_grad(out, x) * tangents[0], (-2, -1))


def _slogdet_vjp(g, out, x, *, part):
    return (None,) if part == 0 else (_scalar_to_matrix(g) * matrix_transpose(bind("inv", x)),)


def _slogdet_jvp(tangents, out, x, *, part):
    if part == 0:
        return None
    return reduce_sum(matrix_transpose(bind("inv", x)) * tangents[0], (-2, -1))


def _as_columns(v: Tracer, b: Tracer) -> Tracer:
    """A right-hand side (or solution) as a stack of matrices: vectors gain a last axis."""
    return reshape(v, v.shape + (1,)) if b.ndim == 1 else v


def _solve_vjp(g, out, a, b):
    """x = a^-1 b: gb = a^-T g, ga = -gb x^T (NumPy 2: b is a vector only when 1-d)."""
    gb = bind("solve", matrix_transpose(a), _as_columns(g, b))
    ga = -matmul(gb, matrix_transpose(_as_columns(out, b)))
    gb = reshape(gb, g.shape) if b.ndim == 1 else gb
    return unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)


def _solve_jvp(tangents, out, a, b):
    ta, tb = tangents
    rhs = _as_columns(broadcast_to(tb, out.shape), b) if tb is not None else None
    if ta is not None:
        term = -matmul(ta, _as_columns(out, b))
        rhs = term if rhs is None else rhs + term
    x = bind("solve", a, rhs)
    return reshape(x, out.shape) if b.ndim == 1 else x


# -- shapes and indexing -------------------------------------------------------------------------
def _concatenate_vjp(g, out, *xs, axis):
    cts, start = [], 0
    for x in xs:
        stop = start + x.shape[axis]
        index = tuple(slice(start, stop, 1) if i == axis else slice(0, n, 1)
                      for i, n in enumerate(g.shape))
        cts.append(index_node(g, index) if _differentiable(x) else None)
        start = stop
    return tuple(cts)


def _pad_vjp(g, out, x, *, widths, value):
    return (index_node(g, tuple(slice(lo, lo + n, 1) for (lo, _), n in zip(widths, x.shape))),)


def _index_vjp(g, out, x, *arrays, index):
    if not arrays and is_full(index, x.shape):  # flips undo themselves
        return (index_node(g, index),) + (None,) * len(arrays)
    inverse = None if arrays else reshaping_inverse(index, x.shape)
    if inverse is not None:  # x[:, None] is undone by g[:, 0], no scatter needed
        made = recent_definition(g)
        if made is not None and made.op == "reshape":  # unbroadcast's own [:, None]
            return (reshape(Tracer(g.graph, made.inputs[0]), x.shape),)
        return (index_node(g, inverse),)
    ct = bind("scatter_add", g, *arrays, index=index, shape=x.shape)
    return (ct,) + (None,) * len(arrays)


def _scatter_add_vjp(g, out, values, *arrays, index, shape):
    return (index_node(g, index, arrays),) + (None,) * len(arrays)


def _add_at_vjp(g, out, base, values, *, index, inplace):
    return g, unbroadcast(index_node(g, index), values.shape)


def _index_update_vjp(g, out, base, values, *arrays, index):
    kept = bind("index_update", g, zeros(g.graph, (), g.dtype), *arrays, index=index)
    written = None
    if _differentiable(values):
        selected = index_node(g, index, arrays)
        won = _last_writes(base, arrays, index, selected.shape)
        if won is not None:  # an element written twice gets the gradient once
            selected = elementwise(lambda c, a: sp.Piecewise((a, c), (0, True)), won,
                                   selected)
        written = unbroadcast(selected, values.shape)
    return (kept, written) + (None,) * len(arrays)


def _last_writes(base, arrays, index, shape):
    """Where an index array repeats an element, which entries of the selection
    `base[index]` (of `shape`) are the ones left in place by ``base[index] = values``:
    a boolean mask, found by assigning the entries' own positions the same way (the
    order NumPy writes in, whatever it is); None when no element repeats."""
    if not arrays:
        return None
    ids = np.arange(int(np.prod(shape, dtype=int)), dtype=np.float64).reshape(shape)
    known = [constant_value(base.graph, a.graph_var) for a in arrays]
    if all(k is not None for k in known):
        probe = np.full(base.shape, -1.0)
        probe[materialize(index, known)] = ids
        won = probe[materialize(index, known)] == ids
        return None if won.all() else const(base.graph, won)
    ids = const(base.graph, ids)
    probe = bind("index_update", expression(base.graph, sp.Integer(-1), base.shape, ids.dtype),
                 ids, *arrays, index=index)
    return elementwise(sp.Eq, index_node(probe, index, arrays), ids, kind="bool")


VJP = {
    # -- reductions ------------------------------------------------------------------
    "sum": _sum_vjp,
    "max": _extremum_vjp,
    "min": _extremum_vjp,
    "prod": _prod_vjp,
    "cumsum": _cumsum_vjp,
    "cumprod": _cumprod_vjp,
    # -- linear algebra --------------------------------------------------------------
    "matmul": _matmul_vjp,
    "einsum": _einsum_vjp,
    "inv": lambda g, out, x: (-matmul(matmul(matrix_transpose(out), g), matrix_transpose(out)),),
    "det": _det_vjp,
    "slogdet": _slogdet_vjp,
    "solve": _solve_vjp,
    # -- shapes ----------------------------------------------------------------------
    "reshape": lambda g, out, x, *, shape: (reshape(g, x.shape),),
    "transpose": lambda g, out, x, *, axes: (transpose(g, tuple(np.argsort(axes))),),
    "broadcast_to": lambda g, out, x, *, shape: (unbroadcast(g, x.shape),),
    "concatenate": _concatenate_vjp,
    "roll": lambda g, out, x, *, shift, axis: (bind("roll", g, shift=_unroll(x, shift, axis),
                                                    axis=axis),),
    "pad": _pad_vjp,
    # -- indexing --------------------------------------------------------------------
    "index": _index_vjp,
    "scatter_add": _scatter_add_vjp,
    "index_update": _index_update_vjp,
    "add_at": _add_at_vjp,
    # -- control of differentiation ------------------------------------------------------
    "stop_gradient": lambda g, out, x: (None,),
    "dim": lambda g, out: (),  # a size: no inputs
    "full": lambda g, out: (),  # a constant: no inputs
    "arange": lambda g, out: (),
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


def joint_linear_jvp(name: str, data: int | None = None):
    """JVP of an op linear in all its (first `data`) inputs together (concatenate,
    index_update): the op applied to the tangents, zeros standing in for missing
    ones; the remaining inputs (index arrays) are passed through."""

    def rule(tangents, out, *inputs, **params):
        n = len(inputs) if data is None else data
        if all(t is None for t in tangents[:n]):
            return None
        args = [t if t is not None else zeros(x.graph, x.shape, x.dtype)
                for t, x in zip(tangents[:n], inputs[:n])]
        return bind(name, *args, *inputs[n:], **params)

    rule.__name__ = f"{name}_jvp"
    return rule


JVP = {
    name: linear_jvp(name)
    for name in ("sum", "matmul", "reshape", "transpose", "broadcast_to", "cumsum", "einsum",
                 "roll", "index", "scatter_add")
}
JVP.update({
    "max": _extremum_jvp,
    "min": _extremum_jvp,
    "prod": _prod_jvp,
    "cumprod": _cumprod_jvp,
    "inv": lambda tangents, out, x: -matmul(matmul(out, tangents[0]), out),
    "det": _det_jvp,
    "slogdet": _slogdet_jvp,
    "solve": _solve_jvp,
    "concatenate": joint_linear_jvp("concatenate"),
    "pad": lambda tangents, out, x, *, widths, value: bind("pad", tangents[0], widths=widths,
                                                           value=0),
    "index_update": joint_linear_jvp("index_update", data=2),
    "add_at": joint_linear_jvp("add_at", data=2),
})
JVP["stop_gradient"] = lambda tangents, out, x: None
JVP["dim"] = lambda tangents, out: None
JVP["full"] = JVP["arange"] = lambda tangents, out: None
