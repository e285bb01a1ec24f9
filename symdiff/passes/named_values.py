"""The user's named values kept under their names where they survive in a larger
expression: `prediction = X @ w + b` fused into `residual = X @ w + b - y` prints as
`prediction = X @ w + b` and `residual = prediction - y`.

Fusion (passes/simplify.py) puts a value read once into its reader, so that
simplification sees across the user's lines (`log(1/(1 + exp(-z)))` needs both). When
the named value's expression is still there in the optimised program, as a
subexpression or as some of the terms of a sum, it becomes a statement of its own
again, which codegen names after the user's variable (`Program.expr_names`). A value
the rewrites changed (`p` of the logistic loss, now inside `np.logaddexp`) has no
expression left to name.
"""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from .program import Program, Statement

__all__ = ["name_fused_values"]


def name_fused_values(program: Program) -> Program:
    """`program` with each named value of `program.expr_names` that a top-level
    statement still computes as part of its expression bound first, on its own."""
    candidates = [(expr, name) for expr, name in program.expr_names.items()
                  if isinstance(expr, (sp.Add, sp.Function, sp.Pow))
                  and expr.free_symbols and not expr.free_symbols & program.temp_defs.keys()]
    if not candidates or any(s.depth for s in program.statements):
        return program
    whole = {s.expr for s in program.statements if s.expr is not None}
    statements = list(program.statements)
    temps, temp_defs = list(program.temps), dict(program.temp_defs)
    for k, (named, _) in enumerate(sorted(candidates, key=lambda c: c[1])):
        if named in whole or named in temp_defs.values():
            continue
        symbol, first = sp.Symbol(f"named{k}", real=True), None
        for i, stmt in enumerate(statements):
            if stmt.expr is None or not named.free_symbols <= stmt.expr.free_symbols:
                continue
            expr = _bound(stmt.expr, named, symbol)
            if expr is not None:
                statements[i] = replace(stmt, expr=expr)
                first = i if first is None else first
        if first is not None:
            statements.insert(first, Statement(symbol, None, expr=named, loc=statements[first].loc))
            temps.append(symbol)
            temp_defs[symbol] = named
    if temps == program.temps:
        return program
    return replace(program, statements=statements, temps=temps, temp_defs=temp_defs)


def _bound(expr: sp.Expr, named: sp.Expr, symbol: sp.Symbol) -> sp.Expr | None:
    """`expr` reading `symbol` where it computes `named`: the whole subexpression, or
    for a sum the terms it shares with a larger sum (`X @ w + b - y`). None when
    `named` is not there."""
    terms = set(named.args) if named.is_Add else None
    for sub in sp.preorder_traversal(expr):  # (not expr.has: it matches parts of sums too)
        if sub == named:
            return expr.xreplace({named: symbol})
        if terms is not None and sub.is_Add and terms < set(sub.args):
            rest = [t for t in sub.args if t not in terms]
            return expr.xreplace({sub: sp.Add(symbol, *rest)})
    return None
