"""The user's order of a sum's terms: `X @ w + b` as written, where SymPy's canonical
order prints `b + X @ w`.

The tracer records each elementwise value's operands in the order the user wrote them
(`Graph.operand_order`). Walks from each of those values in the order they ran, then
from each statement, each value's operands in the user's order (the symbols a structured node reads in its argument order,
others in SymPy's order), gives every symbol a rank: a sum of the user's code prints
its terms by the first rank among each term's symbols, its numbers where SymPy puts
them. Gradient statements keep SymPy's order: no user wrote them.
"""

from __future__ import annotations

import sympy as sp

from ..passes.program import Program

__all__ = ["term_ranks", "user_order"]


def term_ranks(program: Program) -> dict[sp.Symbol, int]:
    """Each symbol's place in walks from the user's expressions in the order they ran
    (also those fused into others), then from the statements: a walk goes through the
    values fused into its root, not into other statements, and the last walk that
    reaches a symbol ranks it (`a + u` after `u = b * c`: a, then b and c)."""
    statements = {stmt.target: stmt for stmt in program.statements}

    def operands(sym):
        if sym in program.operand_order:
            return program.operand_order[sym]
        stmt = statements.get(sym)
        if stmt is not None and stmt.node is not None:
            return stmt.args
        expr = stmt.expr if stmt is not None else program.temp_defs.get(sym)
        return sorted(expr.free_symbols, key=sp.default_sort_key) if expr is not None else ()

    rank: dict[sp.Symbol, int] = {}
    clock = 0
    roots = [*program.operand_order, *(s.target for s in program.statements
                                       if s.var is not None)]
    for root in roots:
        stack, seen = [root], set()
        while stack and len(seen) < _WALK:
            sym = stack.pop()
            if sym in seen or sym in program.temp_defs:
                continue
            seen.add(sym)
            rank[sym], clock = clock, clock + 1
            if sym is root or sym not in statements:
                stack.extend(reversed(operands(sym)))
    # A CSE temporary (`_t0 = x*x*x` of `2*x**4 + x**3`) stands where the user wrote
    # its expression, which the walks do not see: it ranks with what it reads.
    for temp, expr in program.temp_defs.items():
        reads = [rank[s] for s in expr.free_symbols if s in rank]
        if reads:
            rank[temp] = min(reads)
    return rank


#: How many symbols one walk ranks at most (the values fused into one statement are
#: few; the bound keeps a long chain linear).
_WALK = 64


def user_order(terms: list, rank: dict[sp.Symbol, int]) -> list:
    """`terms` (SymPy's order) with the terms that have symbols sorted by their first
    rank; numbers keep their places."""
    slots = [k for k, t in enumerate(terms) if t.free_symbols]
    never = max(rank.values(), default=0) + 1
    ordered = sorted((terms[k] for k in slots),
                     key=lambda t: min(rank.get(s, never) for s in t.free_symbols))
    out = list(terms)
    for k, term in zip(slots, ordered):
        out[k] = term
    return out
