"""Passes over loop nodes: drop what no one reads, optimize each body, and lay a loop
out as statements (a head, the body's statements one level deeper, a tail).

The graph passes of `simplify` treat a loop node as one structured node; these
functions are how they reach inside. They take the pass to apply to a body as an
argument (`optimize`, `to_program`), so that this module imports no sibling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import sympy as sp

from ..ir.graph import ELEMENTWISE, Graph, Node, Var, dce
from ..ir.loops import COUNT, LOOP, LOOP_OUTPUT, Loop, node_parts, substitute

__all__ = ["optimize_loops", "loop_statements", "with_bodies", "LOOP_END"]

#: The op of the statement closing a loop's body in a program.
LOOP_END = "loop_end"


def optimize_loops(graph: Graph, optimize_body: Callable[[Graph], Graph]) -> Graph:
    """Each loop node with the outputs no one reads removed (carried values that no
    read output needs, stacks no one reads, inputs the body no longer reads) and its
    body optimized by `optimize_body`."""
    if not any(n.op == LOOP for n in graph.nodes):
        return graph
    outputs_of: dict[Var, list[Node]] = {}
    for node in graph.nodes:
        if node.op == LOOP_OUTPUT:
            outputs_of.setdefault(node.inputs[0], []).append(node)
    replaced: dict[Node, list[Node]] = {}
    names = {}
    for node in graph.nodes:
        if node.op == LOOP:
            used = outputs_of.get(node.out, [])
            first = _prune(node, used, optimize_body)
            # (once optimized, a carried value may turn out to be handed on unchanged)
            again = _prune(first[node], [first[n] for n in used if first[n].op == LOOP_OUTPUT],
                           lambda body: body)
            replaced.update({n: [again.get(first[n], first[n])] for n in first})
            replaced[node], moved_names = _hoist(replaced[node][0], graph)
            names.update(moved_names)
    nodes = [m for n in graph.nodes for m in replaced.get(n, [n])]
    out = graph.derive(nodes, graph.outputs)
    for n in nodes:
        out.by_symbol.setdefault(n.out.symbol, n.out)
    out.names.update({v: name for v, name in names.items() if v not in out.names})
    return out


def _hoist(node: Node, graph: Graph) -> tuple[list[Node], dict]:
    """Loop-invariant code motion: the body's nodes that read nothing that changes
    from one iteration to the next (constants, `W.T`) move before the loop, as new
    values of `graph`, and the loop reads them as closed-over values. Returns them and
    the new loop node, and the names of what moved."""
    loop: Loop = node.p["loop"]
    body = loop.body
    _, _, consts, count = node_parts(node)
    outside = dict(zip(loop.consts_in, consts))
    invariant: dict[Var, Var] = {}  # body value -> the value outside that replaces it
    moved, names = [], {}
    for n in body.nodes:
        if n.op == "input":
            continue
        reads = body.operands(n)
        if all(v in outside or v in invariant for v in reads):
            subs = {v: outside.get(v, invariant.get(v)) for v in reads}
            out = invariant[n.out] = graph.new_var(n.out.shape, n.out.dtype)
            moved.append(replace(substitute(n, subs), out=out))
            if n.out in body.names:
                names[out] = body.names[n.out]
    if not moved:
        return [node], {}
    read_inside = set(body.outputs)
    for n in body.nodes:
        if n.out not in invariant:
            read_inside.update(body.operands(n))
    entering = [v for v in invariant if v in read_inside]
    subs = {v: body.new_var(v.shape, v.dtype) for v in entering}
    new_body = body.derive([n for n in body.nodes if n.op == "input"], [])
    for v in entering:  # (inputs first: a graph defines a value before it is read)
        new_body.add(Node(subs[v], "input", params=(("name", ""),)))
        new_body.by_symbol[subs[v].symbol] = subs[v]
        if v in body.names:
            new_body.names[subs[v]] = body.names[v]
    new_body.nodes += [substitute(n, subs) for n in body.nodes
                       if n.op != "input" and n.out not in invariant]
    new_body.outputs = [subs.get(v, v) for v in body.outputs]
    inputs = node.inputs[:len(node.inputs) - len(count)]
    new = Node(node.out, LOOP, inputs + tuple(invariant[v] for v in entering) + tuple(count),
               (("loop", loop.with_body(new_body)),), loc=node.loc)
    return moved + [new], names


def _needed(loop: Loop, used: set[int], fixed: set[int]) -> tuple[list[int], list[int],
                                                                  set[Var]]:
    """Carries and ys to keep for the outputs `used`, and the body inputs they read:
    a carry is kept when its final value is used or a kept output reads it, unless it
    is `fixed` (handed on unchanged: its value is its first value throughout)."""
    carries = {k for k in used if 0 <= k < loop.n_carry} - fixed
    ys = sorted(k - loop.n_carry for k in used if k >= loop.n_carry)
    by_symbol = {v.symbol: v for v in loop.body.inputs}
    tested = {by_symbol[s] for s in loop.cond.free_symbols} if loop.is_while else set()
    while True:
        outs = [loop.carry_out[j] for j in sorted(carries)] + [loop.ys[k] for k in ys]
        body = dce(loop.body.derive(loop.body.nodes, outs))
        read = set(outs) | tested
        for n in body.nodes:
            read.update(body.operands(n))
        more = {j for j, v in enumerate(loop.carry_in) if v in read} - carries - fixed
        if not more:
            return sorted(carries), ys, read
        carries |= more


def _prune(node: Node, used_nodes: list[Node], optimize_body) -> dict[Node, Node]:
    loop: Loop = node.p["loop"]
    used = {n.p["index"] for n in used_nodes}
    defs = loop.body.definitions()
    fixed = {j for j, (i, o) in enumerate(zip(loop.carry_in, loop.carry_out))
             if o is i or defs[o].op == ELEMENTWISE and defs[o].expr == i.symbol}
    carries, ys, read = _needed(loop, used, fixed)
    xs = [i for i, v in enumerate(loop.xs_in) if v in read]
    consts = [i for i, v in enumerate(loop.consts_in) if v in read]
    fixed_read = sorted(j for j in fixed if loop.carry_in[j] in read)
    body = loop.body
    inputs = [loop.index] + [loop.carry_in[j] for j in carries] + \
        [loop.xs_in[i] for i in xs] + [loop.consts_in[i] for i in consts] + \
        [loop.carry_in[j] for j in fixed_read]
    outputs = [loop.carry_out[j] for j in carries] + [loop.ys[k] for k in ys]
    keep = set(inputs)
    new_body = body.derive([n for n in body.nodes if n.op != "input" or n.out in keep],
                           outputs)
    new_body.inputs = inputs
    new_body = optimize_body(new_body)
    new_loop = loop.with_body(new_body, n_carry=len(carries), n_xs=len(xs))
    n_c, n_x = loop.n_carry, loop.n_xs
    outer = list(node.inputs)
    new_inputs = [outer[j] for j in carries] + [outer[n_c + i] for i in xs] + \
        [outer[n_c + n_x + i] for i in consts] + [outer[j] for j in fixed_read] + \
        node_parts(node)[3]
    out = {node: Node(node.out, LOOP, tuple(new_inputs), (("loop", new_loop),),
                      loc=node.loc)}
    position = {old: new for new, old in enumerate(carries)}
    position[COUNT] = COUNT
    position.update({n_c + old: len(carries) + new for new, old in enumerate(ys)})
    for n in used_nodes:
        if n.p["index"] in fixed:  # its first value
            out[n] = Node(n.out, ELEMENTWISE, expr=outer[n.p["index"]].symbol, loc=n.loc)
            continue
        params = dict(n.params)
        params["index"] = position[params["index"]]
        out[n] = Node(n.out, LOOP_OUTPUT, n.inputs, tuple(params.items()), loc=n.loc)
    return out


def loop_statements(node: Node, args: tuple, to_program: Callable, make_statement,
                    depth: int) -> tuple[list, object]:
    """The statements of a loop: a head (the loop node, reading `args`), the body's
    program one level deeper, and a tail (op LOOP_END) that reads what the body hands
    to the next iteration and, again, the head's arguments (they must live as long as
    the loop runs). Returns them and the body's program (for its names)."""
    loop: Loop = node.p["loop"]
    program = to_program(loop.body, temp_symbols=sp.numbered_symbols(
        "c", cls=sp.Dummy, real=True), depth=depth + 1)
    head = make_statement(node.out.symbol, node.out, node=node, args=args, loc=node.loc,
                          depth=depth, scope=node.out)
    for stmt in program.statements:
        stmt.depth = max(stmt.depth, depth + 1)
        if stmt.scope is None:
            stmt.scope = node.out
    handed = tuple(v.symbol for v in loop.body.outputs)
    end = Node(node.out, LOOP_END, params=(("loop", loop),))
    tail = make_statement(sp.Dummy("end"), None, node=end, args=handed + args,
                          loc=node.loc, depth=depth, scope=node.out)
    return [head, *program.statements, tail], program


def with_bodies(program, bodies: list):
    """`program` (a Program) knowing the names, symbols and temporaries of its loops'
    bodies (Programs too)."""
    by_symbol = dict(program.by_symbol)
    for body in bodies:
        program.names.update({v: n for v, n in body.names.items() if v not in program.names})
        program.temps += body.temps
        by_symbol.update(body.by_symbol)
        program.adjoint_of.update(body.adjoint_of)
        program.expr_names.update(body.expr_names)
        program.temp_defs.update(body.temp_defs)
        program.operand_order = {**program.operand_order, **body.operand_order}
        program.stable_rewrites += [r for r in body.stable_rewrites
                                    if r not in program.stable_rewrites]
    program.by_symbol = by_symbol
    return program
