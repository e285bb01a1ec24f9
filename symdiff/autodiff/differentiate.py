"""Stage 3: differentiation of a graph into a graph, in reverse and forward mode.

Reverse mode: adjoints accumulate in reverse definition order. Forward mode:
tangents propagate in definition order; with a trailing batch axis on every
tangent ("batched" forward mode, seeded with the identity) it yields whole
Jacobians, and applied to a gradient graph, Hessians in closed form.

An elementwise node's partials are `sympy.diff` of its expression; a structured
node's rules come from the tables in `rules.py` (and `batched_rules.py` for batched
tangents). New nodes are appended to a copy of the input graph and reference its
values, so every derivative program is a graph of the same kind and can be
differentiated again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from ..errors import UnsupportedOpError, located
from ..ir import canonical, dims
from ..ir.graph import CONST, ELEMENTWISE, INPUT, Graph, Node, Var, graph_pass
from ..ir.indexing import is_basic
from ..ir.loops import LOOP, LOOP_OUTPUT
from ..trace.structured import concatenate, reshape
from ..trace.tracer import Tracer, bind, broadcast_to, cast, elementwise, expression
from .batched_rules import BATCHED_JVP
from .loops import diagonal_loop, joint_jvp, loop_jvp, loop_vjp
from .rules import JVP, VJP, recent_definition, unbroadcast

__all__ = ["vjp_graph", "jvp_graph", "diagonal_grad_graph", "differentiable", "active_vars"]


def differentiable(var: Var) -> bool:
    return var.dtype.kind == "f"


def active_vars(graph: Graph, wrt: Sequence[Var]) -> set[Var]:
    """Vars whose value depends on one of `wrt` through differentiable operations."""
    active = set(wrt)
    for node in graph.nodes:
        if differentiable(node.out) and any(v in active for v in graph.operands(node)):
            active.add(node.out)
    return active


@graph_pass
def vjp_graph(graph: Graph, wrt: Sequence[Var], cotangent: Var | None = None,
              seeds: Sequence[tuple[Var, Var]] = ()) -> Graph:
    """A copy of `graph` whose outputs are its output followed by one cotangent per `wrt`.

    The seed is `cotangent` (a Var of the output's shape) or, for a scalar output,
    the constant 1; or, given `seeds`, a cotangent (second) for each of several
    values (first), as a loop body's adjoint has.
    """
    g = graph.derive(graph.nodes, graph.outputs)
    out = graph.outputs[0]
    active = active_vars(graph, wrt)
    adjoints: dict[Var, list[Tracer]] = {}
    for var, seed in seeds or [(out, cotangent)]:
        if var in active:
            with located(None):  # (the seed belongs to no line of the user's)
                adjoints.setdefault(var, []).append(
                    Tracer(g, seed) if seed is not None else
                    expression(g, sp.Integer(1), out.shape, out.dtype))
    pending: dict[Var, dict[int, Tracer]] = {}  # loop -> output index -> its cotangent
    for node in reversed(graph.nodes):
        contributions = adjoints.pop(node.out, None)
        if node.op == LOOP and node.out in pending:
            with located(node.loc):
                contributions = [(v, ct) for v, ct in loop_vjp(
                    g, node, pending.pop(node.out), active, vjp_graph, active_vars)]
            for var, ct in contributions:
                if var in active:
                    adjoints.setdefault(var, []).append(cast(ct, var.dtype))
            continue
        if contributions is None:
            continue
        if node.op in (INPUT, CONST):
            adjoints[node.out] = contributions  # keep for the result
            continue
        with located(node.loc):
            cotangent_out = _accumulate(contributions)
            g.adjoint_of.setdefault(cotangent_out.graph_var, node.out)
            if node.op == LOOP_OUTPUT:
                pending.setdefault(node.inputs[0], {})[node.p["index"]] = cotangent_out
                continue
            for var, ct in _node_vjp(g, node, cotangent_out):
                if ct is not None and var in active:
                    adjoints.setdefault(var, []).append(cast(ct, var.dtype))
    results = []
    for var in wrt:
        contributions = adjoints.get(var)
        with located(None):  # a sum of contributions from several lines belongs to none
            if contributions:
                result = _accumulate(contributions).graph_var
            else:
                result = expression(g, sp.Integer(0), var.shape, var.dtype).graph_var
        g.adjoint_of[result] = var
        results.append(result)
    g.outputs = [out] + results
    return g


def _accumulate(contributions: list[Tracer]) -> Tracer:
    """Sum cotangent contributions; those scattered into zeros by slices (x[1:] and
    x[:-1] in one formula) go into one buffer instead of one zero array each."""
    if len(contributions) == 1:
        return contributions[0]
    scattered, others = [], []
    for c in contributions:
        node = recent_definition(c)
        if node is not None and node.op == "scatter_add" and len(node.inputs) == 1 \
                and is_basic(node.p["index"]):
            scattered.append((c, node))
        else:
            others.append(c)
    if len(scattered) > 1:
        total = scattered[0][0]
        for _, node in scattered[1:]:
            total = bind("add_at", total, Tracer(total.graph, node.inputs[0]),
                         index=node.p["index"], inplace=False)
        others.append(total)
    else:
        others.extend(c for c, _ in scattered)
    return others[0] if len(others) == 1 else elementwise(sp.Add, *others)


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
        partial = canonical.diff(expr, var.symbol)
        if partial == 0:
            continue
        if not expr.is_Symbol:
            partial = partial.xreplace({expr: out.symbol})  # reuse the forward value
        contribution = expression(g, ct.graph_var.symbol * partial, out.shape, var.dtype)
        yield var, unbroadcast(contribution, var.shape)


# -- diagonal chains ---------------------------------------------------------------------
#: Diagonal chains longer than this are differentiated in forward mode, step by step
#: (each tangent materialized next to its value); shorter ones go through reverse mode.
LONG_CHAIN = 8

@graph_pass
def diagonal_grad_graph(graph: Graph, wrt: Sequence[Var]) -> Graph | None:
    """Gradient of ``out = h(sum(E))`` when E depends on the one `wrt` array only
    through elementwise operations of its own shape (a diagonal Jacobian).

    Forward accumulation with a tangent of ones then gives the whole gradient, and
    its nodes interleave with the forward ones, so each intermediate is dead soon
    after it is made; reverse mode would keep every one alive for the backward pass.
    None when the graph is not of that form, is short (at most LONG_CHAIN steps), or
    a scalar is differentiated."""
    if len(wrt) != 1 or not wrt[0].shape:
        return None
    x, out = wrt[0], graph.outputs[0]
    active = active_vars(graph, wrt)
    defs = graph.definitions()
    tail, total = _scalar_tail(defs, out, active)
    if total is None:
        return None
    reduction = defs[total]
    if reduction.op != "sum" or reduction.inputs[0].shape != x.shape \
            or reduction.inputs[0] not in active or reduction.inputs[0] is x:
        return None
    for node in graph.nodes:
        if node.out in active and node.out not in (x, total, out) and not (
                node.op == ELEMENTWISE and node.out.shape == x.shape
                and all(v.shape == x.shape for v in graph.operands(node) if v in active)) \
                and not (node.op == LOOP and diagonal_loop(node, x.shape, active, active_vars)) \
                and not (node.op == LOOP_OUTPUT and node.out.shape == x.shape):
            return None
    chain = [n for n in graph.nodes if n.out in active and n.out not in (x, total, out)]
    if len(chain) <= LONG_CHAIN and not any(n.op == LOOP for n in chain):
        return None  # reverse mode fuses a short chain into a closed form
    g = graph.derive([], graph.outputs)
    with located(None):  # (the seed belongs to no line of the user's)
        known = {x: expression(g, sp.Integer(1), x.shape, x.dtype)}
    forward_only = _Batch(None, set())
    joint: dict[Var, tuple] = {}  # a loop -> the loop computing its tangents with it
    for node in graph.nodes:
        if node.op in (LOOP, LOOP_OUTPUT) and (node.out in active or node.inputs[0] in joint):
            with located(node.loc):
                _diagonal_loop_step(g, node, known, joint)
            continue
        g.nodes.append(node)
        if node.out in active and node.out not in (x, total, out):
            with located(node.loc):
                t = _elementwise_jvp(g, node, known, forward_only)
            if t is not None:  # None: a zero derivative (sign, floor, ...)
                known[node.out] = _materialized(g, t)
    partial = canonical.diff(tail.expr, total.symbol) if tail is not None else sp.Integer(1)
    tangent = known.get(reduction.inputs[0])
    with located(reduction.loc):
        grad = expression(g, partial * tangent.graph_var.symbol if tangent is not None else 0 * partial,
                          x.shape, x.dtype)
    g.adjoint_of[grad.graph_var] = x
    g.outputs = [out, grad.graph_var]
    return g


def _diagonal_loop_step(g: Graph, node: Node, known: dict, joint: dict) -> None:
    """A loop of a diagonal chain, replaced by one carrying its tangents too; its
    outputs, projected from that loop (the same Vars), with their tangents."""
    if node.op == LOOP:
        joint[node.out] = joint_jvp(g, node, known, jvp_graph, active_vars)
        return
    token, index, tangents = joint[node.inputs[0]]
    k = node.p["index"]
    g.add(Node(node.out, LOOP_OUTPUT, (token,), tuple(
        (name, index[k] if name == "index" else value) for name, value in node.params),
        loc=node.loc))
    if k in tangents:
        t = g.new_var(node.out.shape, node.out.dtype)
        g.add(Node(t, LOOP_OUTPUT, (token,), tuple(
            (name, tangents[k] if name == "index" else value) for name, value in node.params),
            loc=node.loc))
        known[node.out] = Tracer(g, t)


def _materialized(g: Graph, t: Tracer) -> Tracer:
    """Mark the node defining `t` to be computed where it stands, not fused later."""
    node = g.nodes[-1]
    if node.out is t.graph_var and node.op == ELEMENTWISE:
        g.nodes[-1] = Node(node.out, ELEMENTWISE, params=(("materialize", True),),
                           expr=node.expr, loc=node.loc)
    return t


def _scalar_tail(defs, out: Var, active: set[Var]):
    """(elementwise node h, the sum it reads) for out = h(sum), or (None, out)."""
    node = defs[out]
    if node.op != ELEMENTWISE:
        return None, out
    reads = [defs[v] for v in defs if v.symbol in node.expr.free_symbols and v in active]
    if len(reads) != 1 or node.out.shape != ():
        return None, None
    return node, reads[0].out


# -- forward mode ------------------------------------------------------------------------
@graph_pass
def jvp_graph(graph: Graph, wrt: Sequence[Var], tangents: Sequence[Var],
              batch: int | None = None, identity: Sequence[Var] = (),
              upto: int | None = None) -> Graph:
    """A copy of `graph` whose outputs are its outputs' tangents.

    `tangents[i]` is the tangent of `wrt[i]`: its shape, or with `batch` set, its
    shape plus a trailing axis of that length (one column per direction). Vars in
    `identity` are known identity seeds, which lets `X @ I` print as `X`. Only the
    first `upto` nodes are differentiated (the rest may be earlier derivatives).
    """
    g = graph.derive(graph.nodes, graph.outputs)
    known: dict[Var, Tracer] = {w: Tracer(g, t) for w, t in zip(wrt, tangents)}
    ctx = _Batch(batch, set(identity))
    loops: dict[Var, dict[int, Tracer]] = {}  # loop -> output index -> its tangent
    for node in graph.nodes[:upto]:
        if node.op in (INPUT, CONST):
            continue
        operands = graph.operands(node)
        if not any(v in known or v in loops for v in operands) or not differentiable(node.out):
            continue
        with located(node.loc):
            if node.op == LOOP:
                loops[node.out] = loop_jvp(g, node, known, ctx, jvp_graph, active_vars)
                continue
            if node.op == LOOP_OUTPUT:
                t = loops.get(node.inputs[0], {}).get(node.p["index"])
            else:
                t = _node_jvp(g, node, known, ctx)
        if t is not None:
            known[node.out] = cast(t, node.out.dtype)
    tail = (batch,) if batch is not None else ()
    outs = []
    for out in graph.outputs:
        t = known.get(out)
        outs.append(t.graph_var if t is not None else
                    expression(g, sp.Integer(0), out.shape + tail, out.dtype).graph_var)
    g.outputs = outs
    return g


class _Batch:
    """Forward-mode settings: the batch length (None: plain JVP) and identity seeds."""

    def __init__(self, size: int | None, identity: set[Var]):
        self.size = size
        self.identity = identity


def _node_jvp(g: Graph, node, known: dict, ctx: _Batch) -> Tracer | None:
    if node.op == ELEMENTWISE:
        return _elementwise_jvp(g, node, known, ctx)
    inputs = [Tracer(g, v) for v in node.inputs]
    tangents = [known.get(v) for v in node.inputs]
    out = Tracer(g, node.out)
    if ctx.size is None:
        return JVP[node.op](tangents, out, *inputs, **node.p)
    rule = BATCHED_JVP.get(node.op)
    if rule is not None:
        return rule(tangents, out, *inputs, identity=ctx.identity, **node.p)
    return _column_by_column(JVP[node.op], tangents, out, inputs, node.p, ctx.size)


#: Above this many directions, an op without a batched rule is an error rather than
#: that many copies of its forward-mode rule in the generated code.
MAX_UNBATCHED_COLUMNS = 64


def _column_by_column(rule, tangents, out: Tracer, inputs, params, size: int) -> Tracer | None:
    """A batched tangent from the plain JVP rule applied to each direction in turn."""
    if size > MAX_UNBATCHED_COLUMNS:
        raise UnsupportedOpError(
            f"jacobian/hessian through {out.graph.definitions()[out.graph_var].op} with "
            f"{size} input elements: this op has no batched forward rule and "
            f"more than {MAX_UNBATCHED_COLUMNS} columns would be unrolled; use vjp or jvp "
            "for directional derivatives instead")
    columns = []
    for k in range(size):
        column = rule([t[..., k] if t is not None else None for t in tangents], out, *inputs,
                      **params)
        if column is None:
            column = expression(out.graph, sp.Integer(0), out.shape, out.dtype)
        columns.append(reshape(broadcast_to(column, out.shape), out.shape + (1,)))
    return concatenate(columns, axis=len(out.shape))


def _elementwise_jvp(g: Graph, node, known: dict, ctx: _Batch) -> Tracer | None:
    """sum_i (d expr / d x_i) * t_i; batched, each partial gains a trailing unit axis."""
    expr, out = node.expr, node.out
    terms = []
    for var in g.operands(node):
        t = known.get(var)
        if t is None:
            continue
        partial = canonical.diff(expr, var.symbol)
        if partial == 0:
            continue
        if not expr.is_Symbol:
            partial = partial.xreplace({expr: out.symbol})
        if ctx.size is None:
            terms.append(partial * t.graph_var.symbol)
            continue
        natural = _natural_shape(g, partial)
        p = expression(g, partial, natural, out.dtype)
        if natural:
            p = reshape(p, natural + (1,))
        terms.append(p * t)
    if not terms:
        return None
    if ctx.size is None:
        return expression(g, sp.Add(*terms), out.shape, out.dtype)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return _broadcast_batched(total, out.shape, ctx.size)


def _natural_shape(g: Graph, expr: sp.Expr) -> tuple[int, ...]:
    shapes = [g.by_symbol[s].shape for s in expr.free_symbols]
    return tuple(dims.broadcast_shapes(*shapes)) if shapes else ()


def _broadcast_batched(t: Tracer, shape: tuple[int, ...], size: int) -> Tracer:
    return broadcast_to(t, tuple(shape) + (size,))
