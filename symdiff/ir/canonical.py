"""Expressions up to the names of their symbols, for memoizing SymPy work.

An unrolled loop repeats one formula in new variables at every step (``v4*sin(v4) +
cos(v4)``, then ``v12*sin(v12) + cos(v12)``, ...). Differentiating or simplifying it
costs the same every time, and SymPy's own cache cannot see the repetition. Renaming
the free symbols to ``_c0000, _c0001, ...`` in the order of their names (so that every
ordering SymPy derives from names is kept) gives one key for all of them; a result is
computed once and renamed back.
"""

from __future__ import annotations

import functools

import sympy as sp

__all__ = ["canonical", "diff"]


def canonical(expr: sp.Expr) -> tuple[sp.Expr, dict[sp.Symbol, sp.Symbol]]:
    """(`expr` in canonical symbols, the map from canonical symbols back to its own)."""
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    names = {s: _placeholder(i, s) for i, s in enumerate(symbols)}
    return rename(expr, names), {c: s for s, c in names.items()}


def rename(expr: sp.Expr, names: dict) -> sp.Expr:
    """`expr` with symbols replaced by symbols, its structure kept as it is: renaming
    keeps the order of names, so nothing needs re-sorting, and evaluating again would
    undo a form a rewriting chose (3*(a + b*c) would become 3*a + 3*b*c).

    Each node is rebuilt with ``evaluate=False`` passed to its constructor rather than
    under ``sp.evaluate(False)``: entering and leaving that context clears SymPy's whole
    cache, which made an unrolled program's compile time grow with its square."""
    memo: dict = {}

    def go(e):
        if e in names:
            return names[e]
        if not e.args:
            return e
        done = memo.get(e)
        if done is None:
            args = tuple(go(a) for a in e.args)
            done = memo[e] = e if all(a is b for a, b in zip(args, e.args)) else \
                _rebuilt(e, args)
        return done

    return go(expr)


def _rebuilt(e: sp.Basic, args: tuple) -> sp.Basic:
    """``e.func(*args)`` as ``sp.evaluate(False)`` would build it."""
    if e.func in _NO_EVALUATE_OPTION:
        return _rebuilt_in_context(e, args)
    try:
        return e.func(*args, evaluate=False)
    except TypeError:  # a class whose constructor takes no `evaluate` option
        _NO_EVALUATE_OPTION.add(e.func)
        return _rebuilt_in_context(e, args)


_NO_EVALUATE_OPTION: set = set()


def _rebuilt_in_context(e: sp.Basic, args: tuple) -> sp.Basic:
    with sp.evaluate(False):
        return e.func(*args)


def _placeholder(i: int, s: sp.Symbol) -> sp.Symbol:
    assumptions = getattr(s, "_assumptions_orig", None)
    if assumptions is None:
        assumptions = s.assumptions0
    return _symbol(f"_c{i:04d}", tuple(sorted(assumptions.items())))


@functools.lru_cache(maxsize=4096)
def _symbol(name: str, assumptions: tuple) -> sp.Symbol:
    return sp.Symbol(name, **dict(assumptions))


def diff(expr: sp.Expr, symbol: sp.Symbol) -> sp.Expr:
    """``sp.diff(expr, symbol)``, computed once per expression up to renaming."""
    if symbol not in expr.free_symbols:
        return sp.S.Zero
    canon, back = canonical(expr)
    inverse = {s: c for c, s in back.items()}
    return rename(_diff(canon, inverse[symbol]), back)


@functools.lru_cache(maxsize=8192)
def _diff(expr: sp.Expr, symbol: sp.Symbol) -> sp.Expr:
    return sp.diff(expr, symbol)
