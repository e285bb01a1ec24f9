"""The NumPy surface: which ufuncs and functions trace, and what they lower to.

Elementwise functions map to SymPy functions (their derivatives come from
`sympy.diff`); everything else lowers to the structured primitives of `ops.py`.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .errors import TraceError, user_location
from .tracer import (
    FUNCTIONS,
    UFUNCS,
    Tracer,
    _no_kwargs,
    as_tracer,
    astype,
    broadcast_to,
    elementwise,
    matmul,
    power,
    reduce_sum,
    reshape,
    transpose,
)

__all__ = ["ELEMENTWISE_UFUNCS", "implements"]


def implements(*funcs):
    """Register an implementation on tracers for the NumPy functions `funcs`."""
    def register(impl):
        for f in funcs:
            FUNCTIONS[f] = impl
        return impl
    return register


# -- ufuncs: NumPy name -> (SymPy function, kind) -------------------------------------------
ELEMENTWISE_UFUNCS = {
    np.add: (sp.Add, "arith"),
    np.subtract: (lambda a, b: a - b, "arith"),
    np.multiply: (sp.Mul, "arith"),
    np.true_divide: (lambda a, b: a / b, "float"),
    np.negative: (lambda a: -a, "arith"),
    np.positive: (lambda a: a, "arith"),
    np.exp: (sp.exp, "float"),
    np.log: (sp.log, "float"),
    np.sqrt: (sp.sqrt, "float"),
    np.square: (lambda a: a**2, "arith"),
    np.reciprocal: (lambda a: 1 / a, "float"),
    np.sin: (sp.sin, "float"),
    np.cos: (sp.cos, "float"),
    np.tan: (sp.tan, "float"),
    np.tanh: (sp.tanh, "float"),
    np.greater: (sp.StrictGreaterThan, "bool"),
    np.greater_equal: (sp.GreaterThan, "bool"),
    np.less: (sp.StrictLessThan, "bool"),
    np.less_equal: (sp.LessThan, "bool"),
}


def _ufunc(fn, kind):
    return lambda *args: elementwise(fn, *args, kind=kind)


for _uf, (_fn, _kind) in ELEMENTWISE_UFUNCS.items():
    UFUNCS[_uf] = _ufunc(_fn, _kind)
UFUNCS[np.power] = power
UFUNCS[np.matmul] = matmul


# -- reductions -------------------------------------------------------------------------
def _reduction_args(name, x, dtype, out, kwargs):
    if out is not None:
        raise TraceError(f"np.{name}(..., out=...) writes in place; assign the result "
                         "instead", user_location())
    _no_kwargs(f"np.{name}", kwargs)
    x = x if isinstance(x, Tracer) else None
    return x


@implements(np.sum)
def _sum(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    _reduction_args("sum", a, dtype, out, kwargs)
    result = reduce_sum(a, axis, keepdims)
    return astype(result, dtype) if dtype is not None else result


@implements(np.mean)
def _mean(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    _reduction_args("mean", a, dtype, out, kwargs)
    total = reduce_sum(a, axis, keepdims)
    count = a.size // max(total.size, 1) if total.size else 0
    result = elementwise(lambda s: s / count, total, kind="float")
    return astype(result, dtype) if dtype is not None else result


# -- linear algebra and shapes ------------------------------------------------------------
@implements(np.matmul)
def _matmul(a, b, **kwargs):
    _no_kwargs("np.matmul", kwargs)
    return matmul(a, b)


@implements(np.dot)
def _dot(a, b, out=None):
    _no_kwargs("np.dot", {"out": out})
    a_nd, b_nd = np.ndim(a) if not isinstance(a, Tracer) else a.ndim, \
        np.ndim(b) if not isinstance(b, Tracer) else b.ndim
    if a_nd == 0 or b_nd == 0:
        return elementwise(sp.Mul, a, b)
    if b_nd > 2:
        raise TraceError("np.dot with an operand of more than 2 dimensions; use np.matmul "
                         "or np.einsum, whose batching rules are explicit", user_location())
    return matmul(a, b)


@implements(np.transpose)
def _transpose(a, axes=None):
    return transpose(as_tracer(a.graph, a) if isinstance(a, Tracer) else a, axes)


@implements(np.reshape)
def _reshape(a, shape=None, order="C", **kwargs):
    shape = kwargs.pop("newshape", shape)
    if order != "C":
        raise TraceError(f"np.reshape(..., order={order!r}): only C order is traced",
                         user_location())
    return reshape(a, shape)


@implements(np.broadcast_to)
def _broadcast_to(a, shape, subok=False):
    return broadcast_to(a, tuple(shape) if not isinstance(shape, int) else (shape,))


@implements(np.where)
def _where(condition, x=None, y=None):
    if x is None or y is None:
        raise TraceError("np.where(condition) with one argument gives data-dependent "
                         "indices; use np.where(condition, a, b)", user_location())
    cond = condition if isinstance(condition, Tracer) else np.asarray(condition, dtype=bool)
    if isinstance(cond, Tracer) and cond.dtype != bool:
        cond = elementwise(lambda c: sp.Ne(c, 0), cond, kind="bool")

    def choose(c, a, b):
        return sp.Piecewise((a, c), (b, True))

    if not isinstance(cond, Tracer):
        graph = next(v for v in (x, y) if isinstance(v, Tracer)).graph
        cond = as_tracer(graph, cond)
    return elementwise(choose, cond, x, y)
