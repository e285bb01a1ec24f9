"""What a CSE temporary is: it has no `Var`, so its dtype and shape are found from
the values it reads (and, reading none, from the statements that read it)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..passes.program import Program, Statement

__all__ = ["temp_dtype"]


def temp_dtype(program: Program, sym: sp.Symbol, memo: dict):
    """The float dtype NumPy gives a CSE temporary: that of the float values it reads,
    or, reading none (np.where(mask, 1.0, 0.0)), that of the statements reading it; so
    that a constant inside it is printed in that dtype."""
    if sym not in memo:
        memo[sym] = None
        found = []
        for s in program.temp_defs[sym].free_symbols:
            var = program.by_symbol.get(s)
            d = var.dtype if var is not None else \
                temp_dtype(program, s, memo) if s in program.temp_defs else None
            if d is not None and np.dtype(d).kind == "f":
                found.append(d)
        if not found:
            found = [d for d in map(lambda st: _reader_dtype(program, st, memo),
                                    _readers(program, sym)) if d is not None]
        memo[sym] = np.result_type(*found) if found else None
    return memo[sym]


def _readers(program: Program, sym: sp.Symbol) -> list[Statement]:
    return [st for st in program.statements
            if st.expr is not None and sym in st.expr.free_symbols]


def _reader_dtype(program: Program, stmt: Statement, memo: dict):
    if stmt.var is not None:
        return stmt.var.dtype if stmt.var.dtype.kind == "f" else None
    return temp_dtype(program, stmt.target, memo)
