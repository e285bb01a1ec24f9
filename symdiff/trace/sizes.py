"""Sizes as numbers in traced arithmetic: `mean` divides by `n`, `x / X.shape[0]`.

A symbolic dimension never enters an elementwise expression itself (every symbol of
an expression is a Var); a `dim` node stands for it, printed as the size's name.
"""

from __future__ import annotations

import sympy as sp

from ..errors import user_location
from ..ir import dims
from ..ir.graph import Graph, Node

__all__ = ["size_value", "running", "running_graph"]


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

#: The graphs of the traces running (innermost last): where `np.sqrt(d)` of a size `d`
#: is recorded (see `dims.Dim.__array_ufunc__`).
_RUNNING: list[Graph] = []


class running:
    """Within this context, `graph` is the trace that sizes' NumPy math goes to."""

    def __init__(self, graph: Graph):
        self.graph = graph

    def __enter__(self):
        _RUNNING.append(self.graph)

    def __exit__(self, *exc):
        _RUNNING.pop()


def running_graph() -> Graph | None:
    """The innermost trace running, or None."""
    return _RUNNING[-1] if _RUNNING else None
