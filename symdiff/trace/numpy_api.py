"""The NumPy surface: which ufuncs and functions trace, and what they lower to.

Elementwise functions map to SymPy functions in `ELEMENTWISE_UFUNCS` (their
derivatives come from `sympy.diff`); everything else lowers to the structured
primitives of `ir/primitives.py`, preferring few primitives: `mean` is `sum / n`, `var` and
`std` are built from `mean`, `stack` is `reshape` + `concatenate`, `tensordot`,
`inner`, `trace` and `diagonal` are `einsum`, `flip` is a slice, `tile` and
`repeat` are `reshape` + `broadcast_to`, `take` and `take_along_axis` are indexing,
`tril` and `triu` a `where` on a constant mask, `vander` a power.

`symdiff.docs_gen` renders these tables as docs/supported-numpy.md.
"""

from __future__ import annotations

import operator

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import exp2, expm1, hypot, log1p, log2, log10

from ..errors import ShapeError, TraceError, user_location
from ..ir import elementwise as F
from ..ir.primitives import normalize_axes
from .registry import FUNCTIONS, UFUNCS
from .tracer import (
    Tracer,
    _graph_of,
    as_tracer,
    astype,
    elementwise,
    matmul,
    power,
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
def _deg2rad(a):
    return a * sp.pi / 180


def _rad2deg(a):
    return a * 180 / sp.pi


ARITH, FLOAT, BOOL = "arith", "float", "bool"

ELEMENTWISE_UFUNCS = {
    # arithmetic
    np.add: (sp.Add, ARITH, "arithmetic"),
    np.subtract: (operator.sub, ARITH, "arithmetic"),
    np.multiply: (sp.Mul, ARITH, "arithmetic"),
    np.true_divide: (operator.truediv, FLOAT, "arithmetic"),
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

