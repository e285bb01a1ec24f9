"""The body of a folded loop: the placeholder iteration's nodes cut out of the graph
into a body graph, and the loop node appended in their place (see `trace.loops`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import sympy as sp

from ..ir import dims
from ..ir.graph import ELEMENTWISE, INPUT, Graph, Node, Var
from ..ir.indexing import IndexArg
from ..ir.loops import BodyGraph, Loop, loop_node, substitute
from .structured import zeros
from .tracer import Tracer, cast, const

__all__ = ["BodyBuilder", "PLACEHOLDER"]

PLACEHOLDER = "loop_arg"  # op of a placeholder while its iteration is traced


class BodyBuilder:
    """Cuts the placeholder iteration's nodes out of the graph into a body graph and
    appends the loop node in their place."""

    def __init__(self, fold, carry_out: list[Var]):
        """`fold`: the loop fold (`loops._Fold`) whose placeholder iteration this cuts."""
        self.fold = fold
        self.graph = fold.graph
        self.carry_out = carry_out
        self.cut: set = set()

    def run(self) -> list[Var]:
        """The final carried values (Vars of the graph, after the loop node)."""
        fold, graph = self.fold, self.graph
        nodes = graph.nodes[fold.mark:]
        graph.nodes = graph.nodes[:fold.mark]  # (a new list: `Graph.defining` re-indexes)
        self.cut = {n.out for n in nodes}
        placeholders = {n.out for n in nodes if n.op == PLACEHOLDER}
        body = BodyGraph()
        body._next_id = graph._next_id  # (above every id of the cut nodes)
        carry_in = [c.placeholder for c in fold.carries]
        xs_in = [row for row, _ in fold.xs]
        xs_outer = [array for _, array in fold.xs]
        subs: dict[Var, Var] = {}
        kept = []
        for node in nodes:
            if node.op == PLACEHOLDER:
                continue
            row_of = self._row_read(node, placeholders)
            if row_of is not None:
                row = body.new_var(node.out.shape, node.out.dtype)
                subs[node.out] = row
                xs_in.append(row)
                xs_outer.append(Tracer(graph, row_of))
                continue
            kept.append(node)
        outside = self._outside_reads(kept, placeholders, subs)
        consts_in = []
        for var in outside:
            inner = subs[var] = body.new_var(var.shape, var.dtype)
            consts_in.append(inner)
        # every value of the body becomes a Var of its own (a Dummy symbol): the trace's
        # symbols would collide with another graph's once the loop is spliced into it
        made_here = set(subs.values())  # (rows of arrays read by the index)
        for v in [fold.index] + carry_in + xs_in + [n.out for n in kept]:
            if v not in subs and v not in made_here:
                subs[v] = body.new_var(v.shape, v.dtype)
        self._operand_order(body, kept, subs)
        kept = [replace(substitute(n, subs), out=subs[n.out]) for n in kept]
        for v in [fold.index] + carry_in + xs_in + consts_in:
            body.add(Node(subs.get(v, v), INPUT, params=(("name", ""),)))
        body.nodes.extend(kept)
        for node in body.nodes:
            body.by_symbol[node.out.symbol] = node.out
        body.outputs = [subs.get(v, v) for v in self.carry_out]
        self._names(body, subs)
        inits = self._inits(carry_in)
        plan = fold.plan
        start = plan.start if plan.kind == "range" and plan.step == 1 else 0
        stop = start + plan.count
        if inits is None:  # iteration 0 stays as traced: the loop runs the others
            inits, start = [c.first for c in fold.carries], start + 1
            if isinstance(plan.count, sp.Basic):  # (so it must run at least once)
                dims.require_nonnegative(plan.count - 1, "the loop (its first step is "
                                         "traced before it)")
        loop = Loop(body, start, stop, len(carry_in), len(xs_in),
                    index_name=self._index_name(), stop_name=plan.stop_name,
                    source=fold.loop.where)
        xs_vars = [a.graph_var if isinstance(a, Tracer) else const(graph, a).graph_var for a in xs_outer]
        outs = loop_node(graph, loop, inits + xs_vars + outside, fold.loop.where)
        return outs[:len(carry_in)]

    def _row_read(self, node: Node, placeholders) -> Var | None:
        """The outside array X when `node` is X[t] with t the loop index: a row of a
        per-iteration input, whose cotangent is then stacked rather than scattered."""
        if node.op != "index" or len(node.inputs) != 2 or node.inputs[1] is not \
                self.fold.index or node.p["index"] != (IndexArg(0),):
            return None
        array = node.inputs[0]
        if array in self.cut or array in placeholders:
            return None
        return array

    def _outside_reads(self, kept, placeholders, subs) -> list[Var]:
        """Values defined before the loop that the body reads, in first-read order."""
        inside = self.cut | placeholders
        seen, out = set(), []
        for node in kept:
            for v in self.graph_operands(node):
                if v not in inside and v not in subs and v not in seen:
                    seen.add(v)
                    out.append(v)
        for v in self.carry_out:
            if v not in inside and v not in subs and v not in seen:
                seen.add(v)
                out.append(v)
        return out

    def graph_operands(self, node: Node):
        if node.op == ELEMENTWISE:
            return [self.graph.by_symbol[s] for s in node.expr.free_symbols]
        return list(node.inputs)

    def _operand_order(self, body: Graph, traced: list[Node], subs: dict) -> None:
        """The user's order of the operands of the body's values (`Graph.operand_order`,
        recorded under the traced iteration's symbols), under the body's symbols."""
        symbols = {v.symbol: w.symbol for v, w in subs.items()}
        for node in traced:
            operands = self.graph.operand_order.get(node.out.symbol)
            if operands is not None:
                body.operand_order[symbols[node.out.symbol]] = \
                    tuple(symbols.get(s, s) for s in operands)

    def _names(self, body: Graph, subs: dict) -> None:
        """Names for the body's values: the carried locals (their values on entry and,
        when computed, at the end of an iteration) and the loop variables."""
        computed = {n.out for n in body.nodes if n.op != INPUT}
        for carry, out in zip(self.fold.carries, body.outputs):
            body.names[subs[carry.placeholder]] = carry.name
            if out in computed:
                body.names.setdefault(out, carry.name)
        for name, value in self.fold.target_values.items():
            if isinstance(value, Tracer) and value.graph_var in subs:
                body.names.setdefault(subs[value.graph_var], name)

    def _inits(self, carry_in: list[Var]) -> list[Var] | None:
        """Initial carried values: the values on entering the loop, so that the loop
        runs from its first iteration (iteration 0's trace is then dead code); None
        when one of them has another shape or dtype than in the loop (`acc = 0.0`
        that becomes a vector): the loop then starts after iteration 0."""
        fold = self.fold
        inits = []
        for carry, var in zip(fold.carries, carry_in):
            if carry.mutated:
                init = fold.entry_vars.get(carry.name)
            else:
                init = self._entry_value(fold.entry.get(carry.name), var)
            if init is None:
                return None
            inits.append(init)
        return inits

    def _entry_value(self, entry, var: Var) -> Var | None:
        graph = self.graph
        if isinstance(entry, Tracer):
            if entry.graph is not graph or entry.shape != var.shape:
                return None
            if entry.dtype == var.dtype:
                return entry.graph_var
            return cast(entry, var.dtype).graph_var if entry.dtype.kind in "biuf" else None
        if entry is None:
            return _zeros(graph, var)
        try:
            value = np.asarray(entry)
        except Exception:  # noqa: BLE001 - not an array: cannot start the loop from it
            return None
        if value.shape != var.shape or value.dtype.kind not in "biuf":
            return None
        return const(graph, value.astype(var.dtype)).graph_var

    def _index_name(self) -> str:
        targets = self.fold.loop.targets
        plan = self.fold.plan
        if plan.kind == "range" and isinstance(targets, str):
            return targets
        if plan.kind == "enumerate" and isinstance(targets, tuple) and \
                isinstance(targets[0], str):
            return targets[0]
        return "t"


def _zeros(graph: Graph, var: Var) -> Var:
    """Zeros of `var`'s shape: a literal array, or for a symbolic shape a broadcast 0
    (a value first assigned in the loop's body, at any size)."""
    if dims.is_symbolic(var.shape):
        return zeros(graph, var.shape, var.dtype).graph_var
    return const(graph, np.zeros(var.shape, var.dtype)).graph_var
