"""Sizes as numbers in traced arithmetic: `mean` divides by `n`, `x / X.shape[0]`.

A symbolic dimension never enters an elementwise expression itself (every symbol of
an expression is a Var); a `dim` node stands for it, printed as the size's name.
"""

from __future__ import annotations

import sympy as sp

from ..errors import user_location
from ..ir import dims
from ..ir.graph import Graph, Node

__all__ = ["size_value", "RUNNING", "running_graph"]

#: The traces running, innermost last (`function.running`): where sizes' NumPy math
#: and arrays of symbolic shape made by np.zeros(n) go.
RUNNING: list[Graph] = []


def size_value(graph: Graph, d) -> sp.Expr:
    """A dimension as a number in expressions: an Integer, or for a symbolic one the
    symbol of a `dim` node (dimension symbols themselves never enter expressions,
    whose every symbol is a Var)."""
    d = dims.canon(d)
    if isinstance(d, int):
        return sp.Integer(d)
    var = graph.new_size_var()
    graph.add(Node(var, "dim", params=(("expr", d),), loc=user_location()))
    return var.symbol


def running_graph() -> Graph | None:
    """The innermost trace running, or None."""
    return RUNNING[-1] if RUNNING else None
