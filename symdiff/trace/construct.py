"""The SymPy expression of one traced elementwise operation, built at a known cost.

SymPy evaluates on construction: `sin(v3)` runs `sin.eval`, which asks whether `v3`
is a multiple of pi or of I, a cost per node that dominates the trace of a long
program. Two shortcuts keep the result the same object SymPy would build:

- a unary function (`sin`, `exp`, ...) of a symbol: whether its `eval` leaves a bare
  symbol alone depends only on the symbol's assumptions, so it is asked once per
  function and assumptions, and the node is then built unevaluated;
- within `construction_memo()` (one compile: `dims="auto"` traces the function once
  to find its shapes and once more to compile it, with the same value symbols), an
  operation on symbols is built once. SymPy's own cache, of bounded size, forgets
  the first trace's nodes before the second one asks for them in a long program.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Sequence

import sympy as sp
from sympy.core.parameters import global_parameters

__all__ = ["build", "construction_memo"]

_MEMO: contextvars.ContextVar[dict | None] = contextvars.ContextVar("construction_memo",
                                                                    default=None)

#: (function, assumptions of its symbol argument) -> whether `eval` leaves it alone.
_INERT: dict = {}


@contextlib.contextmanager
def construction_memo():
    """Within this context, `build` returns the expression it built before for the
    same operation on the same symbols (an outer memo stays in force)."""
    if _MEMO.get() is not None:
        yield
        return
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def build(fn: Callable, atoms: Sequence) -> sp.Basic:
    """`sympify(fn(*atoms))`, the same expression, built faster where it can be."""
    if not all(type(a) is sp.Symbol for a in atoms):
        return sp.sympify(fn(*atoms))
    memo = _MEMO.get()
    key = (fn, tuple(atoms), global_parameters.evaluate)
    if memo is not None and key in memo:
        return memo[key]
    if len(atoms) == 1 and _inert(fn, atoms[0]):
        expr = fn(atoms[0], evaluate=False)
    else:
        expr = sp.sympify(fn(*atoms))
    if memo is not None:
        memo[key] = expr
    return expr


def _inert(fn, symbol: sp.Symbol) -> bool:
    """Whether `fn(symbol)` is `fn` applied to `symbol`, unevaluated: true of SymPy's
    elementary functions of a real symbol (`sin(x)` stays `sin(x)`), false of those
    that rewrite it (`Abs` of a positive symbol is the symbol)."""
    if not (isinstance(fn, type) and issubclass(fn, sp.Function)) or \
            not global_parameters.evaluate:
        return False
    assumptions = tuple(sorted(symbol.assumptions0.items()))
    key = (fn, assumptions)
    if key not in _INERT:
        probe = sp.Symbol("_symdiff_probe", **dict(assumptions))
        try:
            result = fn(probe)
        except Exception:  # noqa: BLE001 - the probe says nothing: build as SymPy does
            result = None
        _INERT[key] = type(result) is fn and result.args == (probe,)
    return _INERT[key]
