"""Dtypes under tracing: NumPy's promotion rules (NEP 50), and the dtype an expression
is computed in once printed."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..ir.graph import Graph, is_size_symbol

#: NumPy's default dtype for a Python scalar that meets no array (NEP 50).
_DEFAULT_DTYPE = {bool: np.dtype(bool), int: np.dtype(np.int64), float: np.dtype(np.float64)}



_KIND_ORDER = {"b": 0, "u": 1, "i": 1, "f": 2}



def promote(*operands) -> np.dtype:
    """The dtype of an operation on `operands` by NumPy's promotion rules (NEP 50), on
    every NumPy version: a `np.dtype` stands for an array, a NumPy scalar or a 0-d
    array (strong); a Python bool, int or float (weak) takes the dtype of the strong
    operands when it is of a lower or equal kind, and NumPy's default dtype otherwise
    (`int8_array + 1.5` is float64, `float32_array + 1.5` is float32)."""
    strong = [o for o in operands if isinstance(o, np.dtype)]
    weak = [_DEFAULT_DTYPE[_python_type(o)] for o in operands if not isinstance(o, np.dtype)]
    if not strong:
        return np.result_type(*weak)
    dt = np.result_type(*strong)
    for w in weak:
        if _KIND_ORDER.get(w.kind, 3) > _KIND_ORDER.get(dt.kind, 3):
            dt = np.result_type(dt, w)
    return dt



def _python_type(value) -> type:
    for t in (bool, int, float):
        if isinstance(value, t):
            return t
    raise TypeError(value)



def _weak(dtype: np.dtype):
    """A Python scalar of `dtype`'s kind: how a number reads once printed as a literal."""
    return {"b": False, "u": 0, "i": 0}.get(dtype.kind, 0.0)



def _result_dtype(common: np.dtype, kind: str) -> np.dtype:
    if kind == "bool":
        return np.dtype(bool)
    if kind == "float" and common.kind in "biu":
        return np.dtype(np.float64)
    if kind == "arith" and common.kind == "b":
        return promote(common, 0)
    return common


def _printed_dtype(graph: Graph, expr: sp.Expr) -> np.dtype | None:
    """The float dtype NumPy computes `expr` in once printed: the promotion of the
    arrays it reads as values (numbers print as weak literals). None when unknown
    (only integer or boolean values, which a float function may widen either way)."""
    dtypes = [graph.by_symbol[s].dtype for s in _value_symbols(expr)]
    dt = np.result_type(*dtypes) if dtypes else None
    return dt if dt is not None and dt.kind == "f" else None



def _value_symbols(expr: sp.Expr) -> set:
    """Symbols of `expr` outside conditions (of Piecewise, comparisons, logic); sizes
    (`size_value`) are Python ints in the printed code, which take no part in dtypes."""
    if isinstance(expr, sp.Symbol):
        return set() if is_size_symbol(expr) else {expr}
    if isinstance(expr, (sp.Piecewise)):
        return set().union(*(_value_symbols(v) for v, _ in expr.args))
    if isinstance(expr, (sp.core.relational.Relational, sp.logic.boolalg.Boolean)):
        return set()
    return set().union(set(), *(_value_symbols(a) for a in expr.args))

