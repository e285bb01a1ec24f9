"""A max shift the function's value does not depend on: its derivative is zero.

Numerically careful code subtracts the row maximum before a softmax or a
log-sum-exp, ``z = a - np.max(a, axis=1, keepdims=True)``. The loss is the same for
any shift c of a row (log-softmax: ``(z + c) - log(sum(exp(z + c))) = z - log(sum(exp(
z)))``), so the gradient through the max cancels exactly: differentiating it only
adds a tie indicator, a division by the tie count and a row sum that is zero up to
rounding. This pass proves the invariance for each such shift and then puts the max
behind a ``stop_gradient`` (as `jax.nn.logsumexp` and hand-written gradients do).

The proof is symbolic and local: every reader of ``z`` must be an elementwise formula
that does not change when ``z -> z + c``, ``e -> e*exp(c)`` for each value ``e`` that
scales by exp(c) (``exp(z)`` and its sums over the shifted axes), or such a value
itself; anything else (another reduction, a matmul, an output) leaves the shift as it
is.
"""

from __future__ import annotations

import sympy as sp

from ..ir.graph import ELEMENTWISE, Graph, Node, Var, graph_pass

__all__ = ["stop_cancelling_shifts"]

_C = sp.Symbol("_shift", real=True)


@graph_pass
def stop_cancelling_shifts(graph: Graph) -> Graph:
    """`graph` with each provably cancelling max shift behind a stop_gradient."""
    held: dict[Var, Node] = {}  # max -> its stop_gradient node
    for node in graph.nodes:
        if node.op == "max" and node.p["keepdims"] and node.out.dtype.kind == "f" and \
                _invariant(graph, node.out, tuple(node.p["axes"])):
            var = graph.new_var(node.out.shape, node.out.dtype)
            held[node.out] = Node(var, "stop_gradient", (node.out,), loc=None)
    if not held:
        return graph
    swap = {m.symbol: n.out.symbol for m, n in held.items()}
    nodes, order = [], {}
    for node in graph.nodes:
        if node.op == ELEMENTWISE and node.expr.free_symbols & swap.keys():
            node = Node(node.out, ELEMENTWISE, params=node.params,
                        expr=node.expr.xreplace(swap), loc=node.loc)
            if node.out.symbol in graph.operand_order:  # `logits - m` as written
                order[node.out.symbol] = tuple(swap.get(s, s) for s in
                                               graph.operand_order[node.out.symbol])
        nodes.append(node)
        if node.out in held:
            nodes.append(held[node.out])
    shifted = graph.derive(nodes, graph.outputs)
    if order:  # (a dict of its own: the traced graph's values read the max itself)
        shifted.operand_order = {**graph.operand_order, **order}
    return shifted


def _invariant(graph: Graph, m: Var, axes: tuple) -> bool:
    """Whether the outputs are unchanged when `m` moves by any c (one per position of
    m, constant along `axes`). The values in between either move by +-c (z = a - m,
    log(sum(exp(z)))) or scale by exp(+-c) (exp(z), its sums along `axes`); every
    other reader must not change, and every reader must be elementwise or such a sum."""
    moved: dict[Var, tuple[str, int]] = {m: ("shifted", 1)}
    for node in graph.nodes:  # definition order: a node's operands are classified first
        if node.out is m or not any(v in moved for v in graph.operands(node)):
            continue
        kind = _reader_kind(node, moved, axes)
        if kind is None:
            return False
        if kind[0] != "invariant":
            moved[node.out] = kind
    return not any(v in moved for v in graph.outputs)


def _reader_kind(node: Node, moved: dict, axes) -> tuple[str, int] | None:
    """("invariant", 0), ("shifted", +-1) (by +-c), ("scaled", +-1) (by exp(+-c)), or
    None (none of these, or not shown)."""
    if node.op == "sum" and moved.get(node.inputs[0], ("",))[0] == "scaled" and \
            node.p["keepdims"] and tuple(node.p["axes"]) == axes:
        return moved[node.inputs[0]]
    if node.op != ELEMENTWISE:
        return None
    change = {v.symbol: v.symbol + sign * _C if how == "shifted" else
              v.symbol * sp.exp(sign * _C)
              for v, (how, sign) in moved.items() if v.symbol in node.expr.free_symbols}
    after = node.expr.xreplace(change)
    for kind, want in ((("invariant", 0), node.expr),
                       (("shifted", 1), node.expr + _C), (("shifted", -1), node.expr - _C),
                       (("scaled", 1), node.expr * sp.exp(_C)),
                       (("scaled", -1), node.expr * sp.exp(-_C))):
        if _is_zero(after - want):
            return kind
    return None


def _is_zero(expr: sp.Expr) -> bool:
    """A cheap, sound zero test (False when unsure): log(u*exp(c)) = log(u) + c holds
    for the positive sums of exponentials this pass follows, and both sides are nan
    where u is not positive."""
    expr = sp.expand(sp.expand_log(sp.powsimp(sp.expand(expr)), force=True))
    return expr == 0
