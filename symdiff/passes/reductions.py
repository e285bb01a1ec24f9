"""Cheaper reductions: what an expert writes instead of ``np.sum(c*a*b)``.

Two rewrites of a `sum` whose argument is a single-use elementwise product:

- scalar factors move out: ``np.sum(2/5*r*x)`` -> ``2/5*np.sum(r*x)``, one array pass
  less;
- a full sum of the product of two 1-d arrays, one of them a value of its own, is
  their dot product: ``np.sum(r*x)`` -> ``r @ x``, which BLAS does in one pass with no
  temporary (of two computed factors, ``np.sum(x**2*np.sin(x)**2)`` stays a sum: the
  dot would need both as temporaries, and reads worse).

A sum of a single-use sum is one sum over both sets of axes. And an `add_at` into
a fresh buffer that nothing else reads updates it in place.

All are exact in real arithmetic; floating-point results differ only by summation
order, as between any two NumPy reductions.
"""

from __future__ import annotations

import sympy as sp

from ..ir import dims
from ..ir.graph import ELEMENTWISE, Graph, Node, Var, dce, graph_pass

__all__ = ["rewrite_reductions"]


@graph_pass
def rewrite_reductions(graph: Graph) -> Graph:
    """Apply the rewrites above to every eligible `sum` node."""
    defs = graph.definitions()
    uses = graph.use_counts()
    g = graph.derive([], graph.outputs)
    changed = False
    for node in graph.nodes:
        if node.op == "add_at" and not node.p["inplace"]:
            base = defs.get(node.inputs[0])
            if base is not None and base.op in ("scatter_add", "add_at") \
                    and uses.get(base.out) == 1 and base.out not in graph.outputs:
                params = tuple((k, True if k == "inplace" else v) for k, v in node.params)
                node, changed = Node(node.out, node.op, node.inputs, params, loc=node.loc), True
        src = defs.get(node.inputs[0]) if node.op == "sum" and node.inputs else None
        if src is not None and src.op == "sum" and uses.get(src.out) == 1 \
                and not node.p["keepdims"] and not src.p["keepdims"]:
            node, changed = _merge_sums(node, src), True
            src = defs.get(node.inputs[0])
        if src is None or src.op != ELEMENTWISE or uses.get(src.out) != 1 \
                or node.p["keepdims"] or src.out.dtype.kind != "f":
            g.nodes.append(node)
            continue
        changed |= _rewrite_sum(g, node, src)
    if not changed:
        return graph
    return dce(g)


def _merge_sums(outer: Node, inner: Node) -> Node:
    """sum(sum(x, a1), a2) -> sum(x, a1 + a2 renumbered in x's axes)."""
    x = inner.inputs[0]
    remaining = [i for i in range(x.ndim) if i not in inner.p["axes"]]
    axes = tuple(sorted(inner.p["axes"] + tuple(remaining[j] for j in outer.p["axes"])))
    return Node(outer.out, "sum", (x,), (("axes", axes), ("keepdims", False)), loc=outer.loc)


def _rewrite_sum(g: Graph, node: Node, src: Node) -> bool:
    """Append the rewritten form of `node` (a sum of `src`) to `g`; False if none."""
    content, primitive = src.expr.as_content_primitive()  # 2*x/5 + 2*y/5 -> 2/5, x + y
    if primitive.atoms(sp.Float) - src.expr.atoms(sp.Float):  # it did arithmetic on a
        content, primitive = sp.S.One, src.expr  # float: sqrt(v/6 + 1e-5) -> sqrt(v + 6e-5)
    if primitive.is_Add and primitive.could_extract_minus_sign():  # -sum(a + b), so that
        content, primitive = -content, -primitive  # -1/n*sum(-a - b) reads 1/n*sum(a + b)
    scalar, arrays = ([content] if content != 1 else []), []
    for factor in sp.Mul.make_args(primitive):
        shapes = [g.by_symbol[s].shape for s in factor.free_symbols]
        (arrays if any(shapes) else scalar).append(factor)
    full = len(node.p["axes"]) == src.out.ndim
    dot = full and src.out.ndim == 1 and len(arrays) == 2 and all(
        _natural_shape(g, a) == src.out.shape for a in arrays) and \
        any(a.is_Symbol for a in arrays)  # (x**2) @ (sin(x)**2) saves nothing: two temporaries
    if not scalar and not dot:
        g.nodes.append(node)
        return False
    dtype = node.out.dtype
    if dot:
        left, right = (_elementwise(g, a, src.out.shape, dtype, src.loc) for a in arrays)
        reduced = _structured(g, "matmul", (left, right), (), node.out.shape, dtype, node.loc)
    else:
        inner = _elementwise(g, sp.Mul(*arrays), src.out.shape, dtype, src.loc)
        reduced = _structured(g, "sum", (inner,), node.params, node.out.shape, dtype, node.loc)
    g.nodes.append(Node(node.out, ELEMENTWISE, expr=sp.Mul(*scalar) * reduced.symbol,
                        loc=node.loc))
    return True


def _natural_shape(g: Graph, expr: sp.Expr) -> tuple[int, ...]:
    shapes = [g.by_symbol[s].shape for s in expr.free_symbols]
    return tuple(dims.broadcast_shapes(*shapes)) if shapes else ()


def _elementwise(g: Graph, expr: sp.Expr, shape, dtype, loc) -> Var:
    if expr.is_Symbol and g.by_symbol[expr].shape == tuple(shape):
        return g.by_symbol[expr]
    var = g.new_var(shape, dtype)
    g.nodes.append(Node(var, ELEMENTWISE, expr=expr, loc=loc))
    return var


def _structured(g: Graph, op: str, inputs, params, shape, dtype, loc) -> Var:
    var = g.new_var(shape, dtype)
    g.nodes.append(Node(var, op, tuple(inputs), params, loc=loc))
    return var
