"""The module optimised once as a whole: the graphs of a generated module's functions
that extend one another go through the passes and CSE together, and each function
keeps the statements its outputs need."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import sympy as sp

from ..ir.graph import Graph, Var
from ..ir.loops import LOOP
from .loops import LOOP_END
from .named_values import name_fused_values
from .program import Program, Statement, to_program
from .simplify import optimize


def module_programs(graphs: Sequence[Graph]) -> list[Program]:
    """The programs of one module's functions, optimised as one: a graph that extends
    another (the gradient's extends the forward pass's, the Hessian's the gradient's)
    joins its group, optimised and CSE'd once with the outputs of all its members; each
    function then keeps the statements its own outputs need. A value several functions
    share is so computed by the same statements in each."""
    programs: list[Program | None] = [None] * len(graphs)
    for base, members in _extension_groups(graphs):
        outputs = [v for i in members for v in graphs[i].outputs]
        whole = name_fused_values(to_program(optimize(base.derive(base.nodes, outputs))))
        for i in members:
            programs[i] = _slice(whole, graphs[i].outputs)
    return programs



def _extension_groups(graphs: Sequence[Graph]) -> list[tuple[Graph, list[int]]]:
    """Groups of graphs whose nodes each appear, in their order, among the nodes of
    their group's longest (the base), with the same inputs: a prefix (reverse mode
    appends the backward pass to the forward one) or interleaved with the base's (forward
    mode along a diagonal Jacobian computes each tangent beside its value); a graph that
    extends no other starts a group."""
    groups: list[tuple[Graph, list[int], dict[int, int]]] = []
    for i in sorted(range(len(graphs)), key=lambda i: -len(graphs[i].nodes)):
        g = graphs[i]
        for base, members, position in groups:
            if base.inputs == g.inputs and _in_order(g.nodes, position):
                members.append(i)
                break
        else:
            groups.append((g, [i], {id(n): k for k, n in enumerate(g.nodes)}))
    return [(base, sorted(members)) for base, members, _ in groups]


def _in_order(nodes, position: dict[int, int]) -> bool:
    """Whether every one of `nodes` is a node of the base (`position`: where each of its
    nodes is), in the same order."""
    last = -1
    for node in nodes:
        k = position.get(id(node), -1)
        if k <= last:
            return False
        last = k
    return True



def _slice(program: Program, outputs: Sequence[Var]) -> Program:
    """The statements of `program` that `outputs` need, in order (a loop whole: its
    head, body and tail, when one of its results is needed)."""
    need = {v.symbol for v in outputs}
    kept = []
    statements = program.statements
    i = len(statements) - 1
    while i >= 0:
        stmt = statements[i]
        block = [stmt]
        if stmt.node is not None and stmt.node.op == LOOP_END:
            head = next(j for j in range(i, -1, -1) if statements[j].node is not None and
                        statements[j].node.op == LOOP and
                        statements[j].node.out is stmt.node.out)
            block = statements[head:i + 1][::-1]
            if stmt.node.out.symbol in need:
                need.add(block[0].target)
            i = head
        i -= 1
        if block[0].target in need:
            for s in block:
                kept.append(s)
                need |= set(s.args) | s.symbols
    statements = _temporaries_at_their_readers(_inline_single_reads(kept[::-1], program))
    targets = {s.target for s in statements}
    return replace(program, outputs=list(outputs), statements=statements,
                   temps=[t for t in program.temps if t in targets],
                   module_statements=program.statements)



def _temporaries_at_their_readers(statements: list[Statement]) -> list[Statement]:
    """Each CSE temporary with the source line of the first statement of this function
    that reads it: `to_program` gave it its first reader's in the whole module, which
    may be a statement of another function."""
    first_reader: dict[sp.Symbol, int] = {}
    for i, stmt in enumerate(statements):
        for sym in stmt.reads:
            first_reader.setdefault(sym, i)
    out = list(statements)
    for i in range(len(out) - 1, -1, -1):  # (a temporary read by a temporary: that one's)
        j = first_reader.get(out[i].target, -1)
        if out[i].var is None and j > i and out[j].loc != out[i].loc:
            out[i] = replace(out[i], loc=out[j].loc)
    return out


def _inline_single_reads(statements: list[Statement], program: Program) -> list[Statement]:
    """A CSE temporary that only one expression of this function reads, once, goes back
    into it: the module shares it, this function alone need not (`x*(x*(8*x + 3) + 6)
    + 5` stays a closed form in a gradient whose module also prints the value). What the user's
    named values are computed from stays as the module has it, so that a named value
    prints the same way in every function."""
    uses: Counter = Counter()
    in_calls: set[sp.Symbol] = set()
    for stmt in statements:
        if stmt.expr is not None:
            uses.update(t for t in sp.preorder_traversal(stmt.expr) if t.is_Symbol)
        uses.update(stmt.args)
        in_calls.update(stmt.args)
        if stmt.var is not None and stmt.expr in program.temp_dtypes and \
                stmt.var.dtype != program.temp_dtypes[stmt.expr]:
            in_calls.add(stmt.expr)  # a cast of the temporary, `_t1.astype(np.float32)`
    kept = _named_cone(statements, program)
    defs = {s.target: s.expr for s in statements if s.var is None and uses[s.target] == 1
            and s.target not in in_calls and s.target not in kept}
    if not defs:
        return statements
    out = []
    for stmt in statements:
        if stmt.target in defs:
            continue
        expr = stmt.expr
        while expr is not None and expr.free_symbols & defs.keys():  # temporaries of temporaries
            with sp.evaluate(False):  # as the module had it: 1/4*(a + b), not a/4 + b/4
                expr = expr.xreplace(defs)
        out.append(stmt if expr is stmt.expr else replace(stmt, expr=expr))
    return out



def _named_cone(statements: list[Statement], program: Program) -> set[sp.Symbol]:
    """The targets that the user's named values (variables of the traced code) read,
    directly or through other statements, and those values themselves."""
    def written_out(expr):  # a temporary's expression in the values it stands for
        while expr.free_symbols & program.temp_defs.keys():
            expr = expr.xreplace(program.temp_defs)
        return expr

    cone: set[sp.Symbol] = set()
    for stmt in reversed(statements):
        named = stmt.var in program.names if stmt.var is not None else \
            stmt.expr is not None and written_out(stmt.expr) in program.expr_names
        if named or stmt.target in cone:
            cone.add(stmt.target)
            cone |= set(stmt.args) | stmt.symbols
    return cone

