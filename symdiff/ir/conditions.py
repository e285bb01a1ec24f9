"""Conditions that hold a Piecewise, folded without losing a mask.

An elementwise expression's conditions are NumPy boolean expressions. When SymPy
builds a Piecewise whose condition holds another Piecewise (``np.where``), it folds the
inner one out of the condition and rewrites the folded conditions through ITE; that
rewrite treats a condition that is a bare symbol (a boolean array, a mask) as always
true (``Symbol.as_set()`` is the universal set) and so drops it. The derivative of
``clip(arctanh(where(m, x, 0)))`` tested ``arctanh(x)`` instead of
``m ? arctanh(x) : arctanh(0)``: NaN where ``|x| > 1``, and that NaN times the mask's
0 is NaN where the true derivative is 0. `fold_conditions` makes SymPy fold such a
condition exactly: ``where(c, a, b)`` as ``(c & a) | (~c & b)``, every condition kept.
"""

from __future__ import annotations

import sympy as sp
from sympy.functions.elementary import piecewise as _piecewise

__all__ = ["fold_conditions", "folded_condition"]

_sympy_new = _piecewise.ExprCondPair.__new__


def folded_condition(cond: sp.Basic) -> sp.Basic:
    """`cond` with every Piecewise in it folded out into boolean logic, exactly; `cond`
    itself when it holds none, or when a Piecewise in it has no default branch."""
    if not isinstance(cond, sp.Basic) or not cond.has(sp.Piecewise):
        return cond
    folded = _piecewise.piecewise_fold(cond)
    if not isinstance(folded, sp.Piecewise):
        return folded
    *pieces, (last, otherwise) = folded.args
    if otherwise != sp.true:
        return cond  # (SymPy reports it: conditions must cover every case)
    for value, test in reversed(pieces):
        last = _if_then_else(test, value, last)
    return last


def _if_then_else(test, then, otherwise):
    """``then`` where `test`, else `otherwise`, as And/Or/Not (shortest when one of the
    two is a constant)."""
    if otherwise == sp.true:
        return sp.Or(sp.Not(test), then)
    if otherwise == sp.false:
        return sp.And(test, then)
    if then == sp.true:
        return sp.Or(test, otherwise)
    if then == sp.false:
        return sp.And(sp.Not(test), otherwise)
    return sp.Or(sp.And(test, then), sp.And(sp.Not(test), otherwise))


def _exact_new(cls, expr, cond):
    return _sympy_new(cls, expr, folded_condition(cond))


def fold_conditions() -> None:
    """Make SymPy fold a Piecewise out of a condition without dropping a mask
    (idempotent; SymPy's own rewrite runs only where there is nothing left to fold)."""
    _piecewise.ExprCondPair.__new__ = _exact_new
