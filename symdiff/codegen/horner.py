"""Horner's form of a polynomial in one value with rational coefficients, where it takes
fewer operations: `8*x**3 + 3*x**2 + 6*x + 5` prints as
`x*(x*(8*x + 3) + 6) + 5`, three multiplications and three additions instead of a
power and four multiplications (a float power costs about twice a multiplication on
Python floats, about eight times on arrays)."""

from __future__ import annotations

import sympy as sp

__all__ = ["horner_form"]


def horner_form(expr: sp.Expr, sizes=frozenset()) -> sp.Expr | None:
    """`expr` in Horner's form when it is an expanded polynomial of degree 2 or more
    in one symbol (not a size) with rational coefficients (float ones would turn the
    others into floats) and the form costs fewer operations (`cost`); else None."""
    if not expr.is_Add:
        return None
    symbols = set()
    for term in expr.args:  # (asked of every sum printed: no free_symbols walk)
        symbol = _monomial_symbol(term)
        if symbol is False:
            return None
        if symbol is not None:
            symbols.add(symbol)
    if len(symbols) != 1:
        return None
    (symbol,) = symbols
    if symbol in sizes:
        return None
    if sp.degree(expr, symbol) < 2:
        return None
    nested = sp.horner(expr, symbol)
    return nested if cost(nested) < cost(expr) else None


def _monomial_symbol(term: sp.Expr):
    """The symbol x of a term that is a rational number times x**k (k a positive
    integer), None for a rational number, False for any other term."""
    coeff, rest = term.as_coeff_Mul()
    if not coeff.is_Rational:
        return False
    if rest is sp.S.One:
        return None
    if rest.is_Symbol:
        return rest
    if rest.is_Pow and rest.base.is_Symbol and rest.exp.is_Integer and rest.exp > 0:
        return rest.base
    return False


def cost(expr: sp.Expr) -> int:
    """Arithmetic operations of `expr` as printed: one per multiplication or addition,
    x**3 and x**4 as two or three multiplications, another power as two."""
    if expr.is_Atom:
        return 0
    if expr.is_Pow:
        own = int(expr.exp) - 1 if expr.exp in (3, 4) else 2
        return own + cost(expr.base)
    return len(expr.args) - 1 + sum(cost(a) for a in expr.args)
