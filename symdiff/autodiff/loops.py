"""Derivatives of loop nodes.

Reverse mode (`loop_vjp`): the adjoint of a loop is a loop running backwards over
the adjoint of its body, as in Tangent's push/pop and JAX's transposed scan. The
body's adjoint reads some of the body's values (its *residuals*); the forward loop
stores them, one row per iteration, in stacks it fills as it runs (the loop node is
replaced by one with more outputs): the carried values at the top of each
iteration, and every other value the adjoint reads. Values that fusion folded into
a larger expression are not values of the body, so the reverse loop recomputes them
from what is stored (store the materialized values the adjoint reads; recompute the
fused elementwise ones). A carried value's new value, when the adjoint reads it, is
carried backwards by the reverse loop itself (its value after iteration t is its
value before iteration t + 1: `h = hs[t]` at the end of the reverse body).

Forward mode (`loop_jvp`): a loop over the body's tangent, reading the forward
loop's stacks the same way, carrying the tangents of the carried values.

Both rules take the graph-level transform to apply to the body (`vjp_graph`,
`jvp_graph`) as an argument: this module imports no sibling.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from ..errors import located
from ..ir.graph import ELEMENTWISE, INPUT, Graph, Node, Var, dce
from ..ir.loops import (
    COUNT,
    LOOP,
    LOOP_OUTPUT,
    BodyGraph,
    Loop,
    WhileFallback,
    fresh_inputs,
    loop_node,
    node_parts,
    output_types,
)
from ..trace.subscript import setitem
from ..trace.tracer import Tracer, elementwise, expression

__all__ = ["loop_vjp", "loop_jvp"]


def _split(node: Node) -> tuple[list[Var], list[Var], list[Var]]:
    return node_parts(node)[:3]


def _active_inputs(node: Node, active: set[Var], active_vars) -> set[Var]:
    """Body inputs through which a derivative flows: those fed by active values, and
    carried values that become active after an iteration."""
    loop: Loop = node.p["loop"]
    inits, xs, consts = _split(node)
    body_in = set()
    for outer, inner in zip(inits + xs + consts, loop.carry_in + loop.xs_in + loop.consts_in):
        if outer in active and inner.dtype.kind == "f":
            body_in.add(inner)
    while True:
        reach = active_vars(loop.body, sorted(body_in, key=lambda v: v.id))
        more = {c for c, o in zip(loop.carry_in, loop.carry_out)
                if o in reach and c.dtype.kind == "f"} - body_in
        if not more:
            return body_in
        body_in |= more


def _outputs(g: Graph, token: Var) -> dict[int, Var]:
    return {n.p["index"]: n.out for n in g.nodes
            if n.op == LOOP_OUTPUT and n.inputs[0] is token}


def _project(g: Graph, token: Var, loop: Loop, k: int) -> Var:
    """The Var of output `k` of the loop `token` defines, projected if not yet."""
    found = _outputs(g, token).get(k)
    if found is not None:
        return found
    if k == COUNT:
        shape, dtype = (), np.dtype(np.int64)
    else:
        shape, dtype = output_types(loop)[k]
    var = g.new_var(shape, dtype)
    g.add(Node(var, LOOP_OUTPUT, (token,), (("index", k), ("shape", shape),
                                             ("dtype", dtype.str)), loc=None))
    return var


def _stack_more(g: Graph, node: Node, values: list[Var]) -> tuple[Node, list[Var]]:
    """Replace the loop `node` in `g` by one that also stacks `values` (body Vars),
    reusing the stacks it already has; the stacks' Vars (outputs of the same token)."""
    loop: Loop = node.p["loop"]
    ys = list(loop.ys)
    new = [v for v in dict.fromkeys(values) if v not in ys]
    if new:
        body = loop.body.derive(loop.body.nodes, loop.body.outputs + new)
        loop = loop.with_body(body)
        replacement = Node(node.out, LOOP, node.inputs, (("loop", loop),), loc=node.loc)
        g.nodes[g.nodes.index(node)] = replacement
        node = replacement
    ys = list(loop.ys)
    return node, [_project(g, node.out, loop, loop.n_carry + ys.index(v)) for v in values]


def _new_input(graph: Graph, shape, dtype) -> Var:
    """A new value of a scratch copy of a body, defined as an input (a cotangent or a
    tangent arriving from outside), so that the copy stays a well-formed graph."""
    var = graph.new_var(shape, dtype)
    graph.add(Node(var, INPUT, params=(("name", ""),)))
    return var


def _zeros(g: Graph, var: Var) -> Var:
    return expression(g, sp.Integer(0), var.shape, var.dtype).graph_var


def _rows_to(g: Graph, stacked: Var, like: Var, loop: Loop) -> Var:
    """A per-iteration cotangent stack (rows start..stop) as the cotangent of the
    array `like` the loop read rows of (zero elsewhere)."""
    if loop.start == 0 and like.shape[0] == loop.stop:
        return stacked
    rows = slice(loop.start, loop.stop)
    part = Tracer(g, stacked)[rows]
    zeros = Tracer(g, _zeros(g, like))
    return setitem(zeros, rows, part).graph_var


# -- reverse mode ----------------------------------------------------------------------------
def loop_vjp(g: Graph, node: Node, cts: dict[int, Tracer], active: set[Var],
             vjp_graph: Callable, active_vars: Callable) -> list[tuple[Var, Tracer]]:
    """(outside value, cotangent) pairs for a loop node of `g`, given the cotangents
    `cts` of its outputs (by output index)."""
    loop: Loop = node.p["loop"]
    inits, xs_outer, consts_outer = _split(node)
    body_in = _active_inputs(node, active, active_vars)
    carries = [j for j, v in enumerate(loop.carry_in) if v in body_in]
    seeds, seed_of = [], {}
    bv = loop.body.derive(loop.body.nodes, loop.body.outputs)
    for j in carries:  # the cotangent reaching carried value j after an iteration
        seed_of[j] = _new_input(bv, loop.carry_in[j].shape, loop.carry_in[j].dtype)
        seeds.append((loop.carry_out[j], seed_of[j]))
    ys_ct = {k - loop.n_carry: ct for k, ct in cts.items() if k >= loop.n_carry}
    ys_seed = {}
    for k in sorted(ys_ct):
        y = loop.ys[k]
        ys_seed[k] = _new_input(bv, y.shape, y.dtype)
        seeds.append((y, ys_seed[k]))
    wrt = [loop.carry_in[j] for j in carries] + \
        [v for v in loop.xs_in + loop.consts_in if v in body_in]
    if not seeds or not wrt:
        return []
    vg = vjp_graph(bv, wrt, seeds=seeds)
    grads = vg.outputs[1:]
    adjoint = dce(vg.derive(vg.nodes, grads))
    node, loop = _inner_stacks(g, node, loop, vg)
    plan = _Reverse(g, node, loop, adjoint, grads, carries, seed_of, ys_seed, ys_ct, body_in)
    return plan.build(inits, xs_outer, consts_outer, cts)


def _inner_stacks(g: Graph, node: Node, loop: Loop, vg: Graph) -> tuple[Node, Loop]:
    """A loop in the body (a nested loop) was given more stacks by its own reverse pass,
    made in `vg`: the forward body becomes that loop node and the projections of its
    outputs, so that the outer forward loop computes what the inner reverse loop
    reads (and stacks it in turn)."""
    tokens = {n.out for n in loop.body.nodes if n.op == LOOP}
    if not tokens:
        return node, loop
    forward = {n.out for n in loop.body.nodes}
    nodes = [n for n in vg.nodes if n.out in forward or
             (n.op == LOOP_OUTPUT and n.inputs[0] in tokens)]
    body = loop.body.derive(nodes, loop.body.outputs)
    body._next_id = max(body._next_id, vg._next_id)
    for n in nodes:
        body.by_symbol.setdefault(n.out.symbol, n.out)
    loop = loop.with_body(body)
    replacement = Node(node.out, LOOP, node.inputs, (("loop", loop),), loc=node.loc)
    g.nodes[g.nodes.index(node)] = replacement
    return replacement, loop


class _Reverse:
    """Builds the reverse loop of one loop node."""

    def __init__(self, g, node, loop, adjoint, grads, carries, seed_of, ys_seed, ys_ct,
                 body_in):
        self.g, self.node, self.loop = g, node, loop
        self.adjoint, self.grads = adjoint, grads
        self.carries, self.seed_of, self.ys_seed, self.ys_ct = carries, seed_of, ys_seed, ys_ct
        self.body_in = body_in

    def residuals(self) -> tuple[list[Var], list[int], list[Var], list[Var], list[Var]]:
        """What the adjoint reads of the forward body: (values to stack, carried values
        carried backwards, xs rows, closed-over values, the adjoint's own nodes)."""
        loop, adjoint = self.loop, self.adjoint
        # values of the index and closed-over values alone (t as a float, t * dt) are
        # recomputed in the reverse loop rather than stored
        of_index = set(loop.consts_in) | {loop.index}
        for n in loop.body.nodes:
            if n.op != INPUT and all(v in of_index for v in loop.body.operands(n)):
                of_index.add(n.out)
        forward = {n.out for n in loop.body.nodes} - of_index
        own = [n for n in adjoint.nodes if n.out not in forward and n.op != INPUT]
        read = set(adjoint.outputs)
        for n in own:
            read.update(adjoint.operands(n))
        inputs = set(loop.body.inputs)
        backward = [j for j, v in enumerate(loop.carry_out)
                    if v in read and v not in inputs and v not in loop.carry_out[:j]]
        stack = [loop.carry_in[j] for j in range(loop.n_carry)
                 if loop.carry_in[j] in read or j in backward]
        carried_back = {loop.carry_out[j] for j in backward}
        stack += [n.out for n in loop.body.nodes if n.out in read and n.out not in inputs
                  and n.out not in carried_back and n.out not in of_index]
        xs = [v for v in loop.xs_in if v in read]
        consts = [v for v in loop.consts_in if v in read]
        return stack, backward, xs, consts, own

    def build(self, inits, xs_outer, consts_outer, cts) -> list[tuple[Var, Tracer]]:
        g, loop = self.g, self.loop
        stack, backward, xs, consts, own = self.residuals()
        node, stacks = _stack_more(g, self.node, stack)
        body = BodyGraph()
        body._next_id = self.adjoint._next_id
        body.expr_names = dict(self.adjoint.expr_names)
        ct_in = [self.seed_of[j] for j in self.carries]
        back_in = [loop.carry_out[j] for j in backward]
        const_grads = [(k, v) for k, v in enumerate(loop.consts_in) if v in self.body_in]
        acc_in = [self.adjoint.new_var(v.shape, v.dtype) for _, v in const_grads]
        ys_rows = [self.ys_seed[k] for k in sorted(self.ys_seed)]
        grad_of = dict(zip(self._wrt(), self.grads))
        x_grads = [(i, v) for i, v in enumerate(loop.xs_in) if v in self.body_in]
        outs = [grad_of[loop.carry_in[j]] for j in self.carries]
        outs += [loop.carry_in[j] for j in backward]
        outs += [grad_of[v] for _, v in const_grads] + [grad_of[v] for _, v in x_grads]
        old = [loop.index] + ct_in + back_in + acc_in + stack + xs + ys_rows + consts
        names = dict(loop.body.names)
        names.update(self.adjoint.names)
        nodes, outs = fresh_inputs(body, old, own, outs, names)
        body.nodes.extend(nodes)
        for n in body.nodes:
            body.by_symbol[n.out.symbol] = n.out
        for v in body.inputs:
            body.by_symbol[v.symbol] = v
        n_ct, n_back = len(ct_in), len(back_in)
        acc_fresh = body.inputs[1 + n_ct + n_back:1 + n_ct + n_back + len(acc_in)]
        grads_c = outs[n_ct + n_back:n_ct + n_back + len(const_grads)]
        with located(None):  # (a sum over iterations belongs to no one line)
            totals = [elementwise(sp.Add, Tracer(body, a), Tracer(body, d)).graph_var
                      for a, d in zip(acc_fresh, grads_c)]
        body.outputs = outs[:n_ct + n_back] + totals + outs[n_ct + n_back + len(totals):]
        for j, seed in zip(self.carries, body.inputs[1:1 + n_ct]):
            body.adjoint_of[seed] = loop.carry_in[j]
        for (_, v), acc in zip(const_grads, acc_fresh):  # (a sum over the iterations)
            body.adjoint_of[acc] = v
        n_carry = n_ct + n_back + len(acc_in)
        reverse = Loop(body, loop.start, loop.stop, n_carry,
                       len(stack) + len(xs) + len(ys_rows), reverse=not loop.reverse,
                       index_name=loop.index_name, stop_name=loop.stop_name,
                       source=loop.source, counted=loop.is_while)
        # (the reverse of a while loop runs as many iterations as it did)
        count = [_project(g, node.out, node.p["loop"], COUNT)] if loop.is_while else []
        with located(None):
            ct_init = [cts[j].graph_var if j in cts else _zeros(g, loop.carry_in[j])
                       for j in self.carries]
            acc_init = [_zeros(g, v) for v in acc_in]
        back_init = [_project(g, node.out, node.p["loop"], j) for j in backward]
        ys_outer = [self.ys_ct[k].graph_var for k in sorted(self.ys_seed)]
        xs_src = [xs_outer[loop.xs_in.index(v)] for v in xs]
        const_src = [consts_outer[loop.consts_in.index(v)] for v in consts]
        results = loop_node(g, reverse, ct_init + back_init + acc_init + stacks + xs_src +
                            ys_outer + const_src + count, node.loc)
        return self._gradients(results, inits, consts_outer, xs_outer,
                               [k for k, _ in const_grads], [i for i, _ in x_grads],
                               n_ct + n_back, n_carry)

    def _gradients(self, results, inits, consts_outer, xs_outer, const_ks, x_is,
                   const_at: int, xs_at: int) -> list[tuple[Var, Tracer]]:
        """(outer value, its gradient) from the reverse loop's `results`: the carries'
        first, the constants' from `const_at`, the stacked inputs' rows from `xs_at`."""
        g, pairs = self.g, []
        for j, var in zip(self.carries, results):
            g.adjoint_of[var] = inits[j]
            pairs.append((inits[j], Tracer(g, var)))
        for k, var in zip(const_ks, results[const_at:]):
            g.adjoint_of[var] = consts_outer[k]
            pairs.append((consts_outer[k], Tracer(g, var)))
        for i, var in zip(x_is, results[xs_at:]):
            stacked = _rows_to(g, var, xs_outer[i], self.loop)
            pairs.append((xs_outer[i], Tracer(g, stacked)))
        return pairs

    def _wrt(self) -> list[Var]:
        loop = self.loop
        return [loop.carry_in[j] for j in self.carries] + \
            [v for v in loop.xs_in + loop.consts_in if v in self.body_in]


# -- forward mode ----------------------------------------------------------------------------
def loop_jvp(g: Graph, node: Node, known: dict, ctx, jvp_graph: Callable,
             active_vars: Callable) -> dict[int, Tracer]:
    """Tangents of a loop node's outputs (by index), given the tangents `known` of
    outside values; `ctx` is forward mode's batch setting."""
    loop: Loop = node.p["loop"]
    if loop.is_while or loop.counted:
        raise WhileFallback(loop.source)
    inits, xs_outer, consts_outer = _split(node)
    batch = () if ctx.size is None else (ctx.size,)
    body_in = _active_inputs(node, set(known), active_vars)
    carries = [j for j, v in enumerate(loop.carry_in) if v in body_in]
    wrt = [loop.carry_in[j] for j in carries] + \
        [v for v in loop.xs_in + loop.consts_in if v in body_in]
    if not wrt:
        return {}
    bj = loop.body.derive(loop.body.nodes, loop.body.outputs)
    tangent_in = [_new_input(bj, v.shape + batch, v.dtype) for v in wrt]
    jg = jvp_graph(bj, wrt, tangent_in, batch=ctx.size)
    node, loop = _inner_stacks(g, node, loop, jg)
    forward = {n.out for n in loop.body.nodes}
    own = [n for n in jg.nodes if n.out not in forward]
    read = set(jg.outputs)
    for n in own:
        read.update(jg.operands(n))
    inputs = set(loop.body.inputs)
    stack = [loop.carry_in[j] for j in range(loop.n_carry) if loop.carry_in[j] in read]
    stack += [n.out for n in loop.body.nodes if n.out in read and n.out not in inputs]
    xs = [v for v in loop.xs_in if v in read]
    consts = [v for v in loop.consts_in if v in read]
    node, stacks = _stack_more(g, node, stack)
    t_of = dict(zip(wrt, tangent_in))
    t_carry = [t_of[loop.carry_in[j]] for j in carries]
    x_t = [t_of[v] for v in loop.xs_in if v in t_of]
    c_t = [t_of[v] for v in loop.consts_in if v in t_of]
    body = _tangent_body(loop, jg, carries, [loop.index] + t_carry + stack + xs + x_t +
                         consts + c_t)
    ys_t = list(range(loop.n_carry, len(loop.body.outputs)))
    tangent_loop = Loop(body, loop.start, loop.stop, len(t_carry),
                        len(stack) + len(xs) + len(x_t), reverse=loop.reverse,
                        index_name=loop.index_name,
                        stop_name=loop.stop_name, source=loop.source)
    init_t = [_tangent(g, known, inits[j], loop.carry_in[j], batch) for j in carries]
    xs_src = [xs_outer[loop.xs_in.index(v)] for v in xs]
    xs_t_src = [_tangent(g, known, xs_outer[i], v, batch, True).graph_var
                for i, v in enumerate(loop.xs_in) if v in t_of]
    const_src = [consts_outer[loop.consts_in.index(v)] for v in consts]
    const_t_src = [_tangent(g, known, consts_outer[i], v, batch).graph_var
                   for i, v in enumerate(loop.consts_in) if v in t_of]
    results = loop_node(g, tangent_loop, [t.graph_var for t in init_t] + stacks + xs_src + xs_t_src
                        + const_src + const_t_src, node.loc)
    out = {j: Tracer(g, var) for j, var in zip(carries, results)}
    for k, var in zip(ys_t, results[len(carries):]):
        out[k] = Tracer(g, var)
    return out


def _tangent_body(loop: Loop, jg: Graph, carries: list[int], old: list[Var]) -> Graph:
    """The tangent loop's body: the nodes forward mode added to the loop's body, reading
    `old` (index, tangents carried, stack rows, rows, closed-over values and tangents)
    as inputs of its own; its outputs, the tangents of the carried values and ys."""
    forward = {n.out for n in loop.body.nodes}
    tangents = dict(zip(loop.body.outputs, jg.outputs))
    outs = [tangents.get(loop.carry_out[j]) for j in carries]
    outs = [t if t is not None else _zeros(jg, loop.carry_in[j]) for j, t in zip(carries, outs)]
    outs += [jg.outputs[k] for k in range(loop.n_carry, len(loop.body.outputs))]
    own = [n for n in jg.nodes if n.out not in forward]
    body = BodyGraph()
    body._next_id = jg._next_id
    names = dict(loop.body.names)
    names.update(jg.names)
    nodes, outs = fresh_inputs(body, old, own, outs, names)
    body.nodes.extend(nodes)
    for n in body.nodes:
        body.by_symbol[n.out.symbol] = n.out
    body.outputs = outs
    return dce(body)


def _tangent(g: Graph, known: dict, outer: Var, inner: Var, batch, whole: bool = False):
    """The tangent of an outside value (zero when it has none), shaped for the body."""
    t = known.get(outer)
    if t is not None:
        return t
    shape = outer.shape if whole else inner.shape
    return Tracer(g, expression(g, sp.Integer(0), shape + tuple(batch), outer.dtype).graph_var)



# -- forward mode in the loop itself (diagonal maps) -----------------------------------------
def diagonal_loop(node: Node, shape: tuple, active: set[Var], active_vars: Callable) -> bool:
    """Whether a loop acts elementwise on arrays of `shape` along what is active: its
    active inputs are carried or closed-over arrays of that shape, and every active
    value of its body is an elementwise function of such arrays (the step of P6)."""
    loop: Loop = node.p["loop"]
    inits, xs_outer, consts_outer = _split(node)
    if loop.is_while or loop.counted or any(v in active for v in xs_outer):
        return False
    if any(v in active and v.shape != shape for v in inits + consts_outer):
        return False
    body_in = _active_inputs(node, active, active_vars)
    reach = active_vars(loop.body, sorted(body_in, key=lambda v: v.id))
    if any(y in reach for y in loop.ys):
        return False
    for n in loop.body.nodes:
        if n.op == INPUT or n.out not in reach:
            continue
        if n.op != ELEMENTWISE or n.out.shape != shape or any(
                v.shape != shape for v in loop.body.operands(n) if v in reach):
            return False
    return True


def joint_jvp(g: Graph, node: Node, known: dict, jvp_graph: Callable,
              active_vars: Callable) -> tuple[Var, dict[int, int], dict[int, int]]:
    """A loop computing `node`'s loop and its tangents together, appended to `g`
    (no stacks: each step's tangent is made next to its value). Returns its token, the
    new index of each old output, and the index of each old output's tangent."""
    loop: Loop = node.p["loop"]
    inits, xs_outer, consts_outer = _split(node)
    body_in = _active_inputs(node, set(known), active_vars)
    carries = [j for j, v in enumerate(loop.carry_in) if v in body_in]
    consts = [k for k, v in enumerate(loop.consts_in) if v in body_in]
    wrt = [loop.carry_in[j] for j in carries] + [loop.consts_in[k] for k in consts]
    bj = loop.body.derive(loop.body.nodes, loop.body.outputs)
    tangent_in = [_new_input(bj, v.shape, v.dtype) for v in wrt]
    jg = jvp_graph(bj, wrt, tangent_in)
    body = BodyGraph()
    body._next_id = jg._next_id
    n_c = loop.n_carry
    t_carry, t_const = tangent_in[:len(carries)], tangent_in[len(carries):]
    old = [loop.index] + loop.carry_in + t_carry + loop.xs_in + loop.consts_in + t_const
    outs = loop.carry_out + [jg.outputs[j] for j in carries] + loop.ys
    own = [n for n in jg.nodes if n.op != INPUT]
    nodes, outs = fresh_inputs(body, old, own, outs, dict(jg.names))
    body.nodes.extend(nodes)
    for n in body.nodes:
        body.by_symbol[n.out.symbol] = n.out
    body.outputs = outs
    joint = loop.with_body(body, n_carry=n_c + len(carries))
    with located(None):
        t_init = [_tangent(g, known, inits[j], loop.carry_in[j], ()).graph_var for j in carries]
        t_consts = [_tangent(g, known, consts_outer[k], loop.consts_in[k], ()).graph_var
                    for k in consts]
    token = g.new_var(node.out.shape, node.out.dtype)
    g.add(Node(token, LOOP, tuple(inits + t_init + xs_outer + consts_outer + t_consts),
               (("loop", joint),), loc=node.loc))
    index = {j: j for j in range(n_c)}
    index.update({n_c + k: n_c + len(carries) + k for k in range(len(loop.ys))})
    tangents = {j: n_c + i for i, j in enumerate(carries)}
    return token, index, tangents
