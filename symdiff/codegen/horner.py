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
    if not expr.is_Add or len(expr.free_symbols) != 1:
        return None
    (symbol,) = expr.free_symbols
    if symbol in sizes or not all(_monomial(t, symbol) for t in expr.args):
        return None
    if sp.degree(expr, symbol) < 2:
        return None
    nested = sp.horner(expr, symbol)
    return nested if cost(nested) < cost(expr) else None


def _monomial(term: sp.Expr, symbol: sp.Symbol) -> bool:
    """A rational number times a power of `symbol` with a non-negative integer exponent."""
    coeff, rest = term.as_coeff_Mul()
    if rest is sp.S.One or rest == symbol:
        return coeff.is_Rational
    return coeff.is_Rational and rest.is_Pow and rest.base == symbol \
        and rest.exp.is_Integer and rest.exp > 0


def cost(expr: sp.Expr) -> int:
    """Arithmetic operations of `expr` as printed: one per multiplication or addition,
    x**3 and x**4 as two or three multiplications, another power as two."""
    if expr.is_Atom:
        return 0
    if expr.is_Pow:
        own = int(expr.exp) - 1 if expr.exp in (3, 4) else 2
        return own + cost(expr.base)
    return len(expr.args) - 1 + sum(cost(a) for a in expr.args)
