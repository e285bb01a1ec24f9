"""The one graph interpreter: a graph evaluated element by element on object arrays of
SymPy expressions (the proof of a hand derivative, the displayed derivative, a
registered primitive's derivative written in NumPy)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp

from .elementwise import number
from .graph import CONST, ELEMENTWISE, INPUT, Graph, Node, Var
from .primitives import PRIMITIVES

__all__ = ["interpret", "apply_primitive", "object_array"]

Structured = Callable[[Node, Sequence[np.ndarray]], np.ndarray]


def interpret(graph: Graph, inputs: dict[Var, np.ndarray], structured: Structured | None = None,
              constant: Callable[[object], sp.Expr] = number,
              tidy: Callable[[sp.Expr], sp.Expr] | None = None) -> dict[Var, np.ndarray]:
    """Every value of `graph` as an object array, from the inputs' (`inputs`): a constant
    element by element through `constant`, an elementwise node by substitution (each
    result through `tidy`), a structured node through `structured` (by default its
    primitive's NumPy implementation, `apply_primitive`)."""
    values: dict[Var, np.ndarray] = {}
    for node in graph.nodes:
        if node.op == INPUT:
            values[node.out] = inputs[node.out]
        elif node.op == CONST:
            values[node.out] = object_array(
                np.vectorize(constant, otypes=[object])(node.value)).reshape(node.out.shape)
        elif node.op == ELEMENTWISE:
            values[node.out] = _elementwise(graph, node, values, tidy)
        else:
            values[node.out] = (structured or apply_primitive)(
                node, [values[v] for v in node.inputs])
    return values


def _elementwise(graph: Graph, node: Node, values, tidy) -> np.ndarray:
    operands = graph.operands(node)
    shape = node.out.shape
    arrays = [np.broadcast_to(values[v], shape) for v in operands]
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        expr = node.expr.xreplace({v.symbol: a[idx] for v, a in zip(operands, arrays)})
        out[idx] = tidy(expr) if tidy else expr
    return out


def apply_primitive(node: Node, args: Sequence[np.ndarray]) -> np.ndarray:
    """A structured node applied to object arrays by its primitive's NumPy implementation."""
    result = object_array(PRIMITIVES[node.op].impl(*args, **node.p))
    if result.shape != node.out.shape:
        raise ValueError(f"{node.op} gave shape {result.shape} on symbols, not "
                         f"{node.out.shape}")
    return result


def object_array(x) -> np.ndarray:
    """`x` (an array or one value) as an object array."""
    if isinstance(x, np.ndarray):
        return x.astype(object)
    out = np.empty((), dtype=object)
    out[()] = x
    return out
