"""The user's order of a sum's terms: `X @ w + b` as written, where SymPy's canonical
order prints `b + X @ w`.

The tracer records each elementwise value's operands in the order the user wrote them
(`Graph.operand_order`). A walk from each such value through its operands (in that
order, and through the values fused into it; a structured node's in argument order)
ranks the symbols of that one expression of the user's. A sum prints its terms by
their first rank in the smallest walk that reaches every term (the user's expression
that combined them), its numbers where SymPy puts them; where no walk reaches them
all, SymPy's order stays. Gradient statements keep SymPy's order: no user wrote them.
"""

from __future__ import annotations

import sympy as sp

from ..passes.program import Program

__all__ = ["TermOrder"]

#: How many symbols one walk ranks at most (the values fused into one statement are
#: few; the bound keeps a long chain linear).
_WALK = 64


class TermOrder:
    """The walks of one program's user expressions, and the order of a sum's terms."""

    def __init__(self, program: Program):
        self.program = program
        statements = {stmt.target: stmt for stmt in program.statements}
        self.walks: list[dict[sp.Symbol, int]] = []
        self.walks_of: dict[sp.Symbol, list[int]] = {}  # symbol -> walks that reach it
        roots = [*program.operand_order, *(s.target for s in program.statements
                                           if s.var is not None)]
        operands: dict[sp.Symbol, tuple] = {}  # (many walks pass a value)
        for root in roots:
            walk: dict[sp.Symbol, int] = {}
            stack = [root]
            while stack and len(walk) < _WALK:
                sym = stack.pop()
                if sym in walk or sym in program.temp_defs:
                    continue
                walk[sym] = len(walk)
                if sym is root or sym not in statements:  # (a statement is a leaf)
                    if sym not in operands:
                        operands[sym] = tuple(reversed(self._operands(sym, statements)))
                    stack.extend(operands[sym])
            if len(walk) > 1:
                for sym in walk:
                    self.walks_of.setdefault(sym, []).append(len(self.walks))
                self.walks.append(walk)

    def _operands(self, sym, statements) -> tuple:
        program = self.program
        if sym in program.operand_order:
            return program.operand_order[sym]
        stmt = statements.get(sym)
        if stmt is not None and stmt.node is not None:
            return stmt.args
        expr = stmt.expr if stmt is not None else None
        return tuple(sorted(expr.free_symbols, key=sp.default_sort_key)) if expr is not None \
            else ()

    def _symbols(self, term) -> set[sp.Symbol]:
        """A term's symbols, CSE temporaries written out (they stand where the user
        wrote their expressions)."""
        symbols, defs = set(), self.program.temp_defs
        todo = list(term.free_symbols)
        while todo:
            sym = todo.pop()
            if sym in defs:
                todo.extend(defs[sym].free_symbols - symbols)
            symbols.add(sym)
        return symbols

    def order(self, terms: list) -> list:
        """`terms` (SymPy's order) in the user's order, numbers in their places."""
        slots = [k for k, t in enumerate(terms) if t.free_symbols]
        if len(slots) < 2 or not self.walks:
            return terms
        symbols = [self._symbols(terms[k]) for k in slots]
        fewest = min(symbols[0], key=lambda s: len(self.walks_of.get(s, ())))
        covering = [self.walks[w] for w in self.walks_of.get(fewest, ())
                    if all(any(s in self.walks[w] for s in group) for group in symbols)]
        if not covering:
            return terms
        walk = min(covering, key=len)
        ranks = [min(walk[s] for s in group if s in walk) for group in symbols]
        ordered = [terms[k] for _, _, k in sorted(zip(ranks, range(len(slots)), slots))]
        out = list(terms)
        for k, term in zip(slots, ordered):
            out[k] = term
        return out
