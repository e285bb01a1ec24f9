"""Stage 3: reverse-mode differentiation of a graph into a graph.

Adjoints accumulate in reverse definition order. An elementwise node's partials are
`sympy.diff` of its expression; a structured node's cotangents come from the rule
table in `rules.py`. The adjoint nodes are appended to a copy of the forward graph
and reference its values, so the gradient program is a graph of the same kind.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from .errors import located
from .ir import CONST, ELEMENTWISE, INPUT, Graph, Var
from .rules import VJP, unbroadcast
from .tracer import Tracer, elementwise, expression

__all__ = ["vjp_graph", "differentiable", "active_vars"]


def differentiable(var: Var) -> bool:
    return var.dtype.kind == "f"


def active_vars(graph: Graph, wrt: Sequence[Var]) -> set[Var]:
    """Vars whose value depends on one of `wrt` through differentiable operations."""
    active = set(wrt)
    for node in graph.nodes:
        if differentiable(node.out) and any(v in active for v in graph.operands(node)):
            active.add(node.out)
    return active


def vjp_graph(graph: Graph, wrt: Sequence[Var], cotangent: Var | None = None) -> Graph:
    """A copy of `graph` whose outputs are its output followed by one cotangent per `wrt`.

    The seed is `cotangent` (a Var of the output's shape) or, for a scalar output,
    the constant 1.
    """
    g = graph.derive(graph.nodes, graph.outputs)
    out = graph.outputs[0]
    active = active_vars(graph, wrt)
    if cotangent is None:
        seed = expression(g, sp.Integer(1), out.shape, out.dtype)
    else:
        seed = Tracer(g, cotangent)
    adjoints: dict[Var, list[Tracer]] = {out: [seed]} if out in active else {}
    for node in reversed(graph.nodes):
        contributions = adjoints.pop(node.out, None)
        if contributions is None:
            continue
        if node.op in (INPUT, CONST):
            adjoints[node.out] = contributions  # keep for the result
            continue
        with located(node.loc):
            cotangent_out = _accumulate(contributions)
            g.adjoint_of.setdefault(cotangent_out.var, node.out)
            for var, ct in _node_vjp(g, node, cotangent_out):
                if ct is not None and var in active:
                    adjoints.setdefault(var, []).append(ct)
    results = []
    for var in wrt:
        contributions = adjoints.get(var)
        if contributions:
            result = _accumulate(contributions).var
        else:
            result = expression(g, sp.Integer(0), var.shape, var.dtype).var
        g.adjoint_of[result] = var
        results.append(result)
    g.outputs = [out] + results
    return g


def _accumulate(contributions: list[Tracer]) -> Tracer:
    if len(contributions) == 1:
        return contributions[0]
    return elementwise(sp.Add, *contributions)


def _node_vjp(g: Graph, node, ct: Tracer):
    """(operand, cotangent) pairs for one node."""
    if node.op == ELEMENTWISE:
        return _elementwise_vjp(g, node, ct)
    inputs = [Tracer(g, v) for v in node.inputs]
    cts = VJP[node.op](ct, Tracer(g, node.out), *inputs, **node.p)
    return zip(node.inputs, cts)


def _elementwise_vjp(g: Graph, node, ct: Tracer):
    expr, out = node.expr, node.out
    for var in g.operands(node):
        if not differentiable(var):
            continue
        partial = sp.diff(expr, var.symbol)
        if partial == 0:
            continue
        if not expr.is_Symbol:
            partial = partial.xreplace({expr: out.symbol})  # reuse the forward value
        contribution = expression(g, ct.var.symbol * partial, out.shape, var.dtype)
        yield var, unbroadcast(contribution, var.shape)
