"""Unit float coefficients: SymPy's derivative of ``0.5*r**2`` is ``1.0*r``, which no
one would write; the float 1.0 is dropped where that cannot change a dtype."""

from __future__ import annotations

import sympy as sp

from ..ir.graph import Graph, Node

__all__ = ["without_unit_floats"]


def _unit_float(x) -> bool:
    """A SymPy Float that prints as 1.0 or -1.0 (of whatever precision)."""
    return isinstance(x, sp.Float) and abs(float(x)) == 1.0


def without_unit_floats(graph: Graph, node: Node) -> sp.Expr:
    """`1.0*r` as `r` and `-1.0*d` as `-d` (the derivative of ``0.5*r**2`` is SymPy's
    ``1.0*r``), exactly equal. Only in float nodes reading float values alone: `1.0*n`
    of an integer `n` is what makes it a float."""
    expr = node.expr
    if node.out.dtype.kind != "f" or not any(map(_unit_float, expr.atoms(sp.Float))):
        return expr
    if any(s in graph.by_symbol and graph.by_symbol[s].dtype.kind != "f"
           for s in expr.free_symbols):
        return expr

    def unit(e) -> bool:
        coeff, rest = e.as_coeff_Mul()
        return _unit_float(coeff) and rest is not sp.S.One

    return expr.replace(lambda e: e.is_Mul and unit(e),
                        lambda e: e.as_coeff_Mul()[1] * (1 if e.as_coeff_Mul()[0] > 0 else -1))
