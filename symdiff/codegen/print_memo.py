"""What the functions of one module print alike, printed once.

A gradient module prints the forward pass in each of its functions (`f`, `grad_f`,
`value_and_grad_f`), and SymPy's printer is the slowest part of printing. The text of an
expression depends on the expression, on the printer's state for the statement (dtype,
size of the array, the user's order of terms, the sizes) and on the names of its
symbols; names differ between functions (each numbers its temporaries from `_t0`). So
an expression is printed once with a slot in place of each plain name (an identifier
and a slot print alike: SymPy and this printer read a name only to write it out, or to
ask whether it is an identifier), and the slots are filled with each function's names.
A symbol printed as another value's text (an inlined `X @ w`) is part of the key as
that text: its precedence and its characters decide what surrounds it.
"""

from __future__ import annotations

import re
from dataclasses import replace

import sympy as sp

from ..passes.program import Program
from .precedence import Printed
from .term_order import TermOrder

__all__ = ["PrintMemo"]

#: A slot is this letter, a number and the letter again: an identifier, as the name it
#: stands for is. An expression with a name that holds the letter is printed directly.
_MARK = "\u01c2"
_SLOT = re.compile(f"{_MARK}(\\d+){_MARK}")


class PrintMemo:
    """Printed expressions and the user's term orders of one module's functions."""

    def __init__(self):
        self._texts: dict[tuple, tuple[str, int]] = {}
        self._symbols: dict[sp.Expr, tuple[sp.Symbol, ...]] = {}
        self._term_orders: dict[int, tuple[list, TermOrder]] = {}

    def term_order(self, program: Program) -> TermOrder:
        """The user's order of terms, from the whole module's program when `program` is
        a slice of one (passes/whole_module.py): every function of the module orders a
        sum the same way."""
        statements = program.module_statements
        if statements is None:
            return TermOrder(program)
        key = id(statements)
        if key not in self._term_orders:  # (the list is kept: its id stays its own)
            self._term_orders[key] = (statements,
                                      TermOrder(replace(program, statements=statements)))
        return self._term_orders[key][1]

    def printed(self, printer, expr: sp.Expr, context) -> Printed:
        """`printer.printed(expr)`, from the memo when an expression of the same
        symbols' kinds was printed in the same state (`context`: what else the printer
        reads, the same for the statements of one function)."""
        symbols = self._symbols.get(expr)
        if symbols is None:
            symbols = self._symbols[expr] = tuple(sorted(expr.free_symbols, key=_symbol_key))
        names, inlined = printer.names, printer.inlined
        slots: list[tuple[sp.Symbol, str]] = []
        state = []
        for sym in symbols:
            name = names.get(sym)
            if _MARK in sym.name or isinstance(name, str) and _MARK in name:  # (the user's)
                return Printed(printer.doprint(expr), printer.expr_precedence(expr))
            if type(name) is str and sym not in inlined and name.isidentifier():
                slots.append((sym, name))
                state.append(None)
            else:  # (printed as it is: inlined text, a size, or no name, an error)
                state.append((name, inlined.get(sym)))
        key = (expr, printer.dtype, printer.large, printer.term_order, context, tuple(state))
        hit = self._texts.get(key)
        if hit is None:
            for k, (sym, _) in enumerate(slots):
                names[sym] = f"{_MARK}{k}{_MARK}"
            try:
                hit = (printer.doprint(expr), printer.expr_precedence(expr))
            finally:
                for sym, name in slots:
                    names[sym] = name
            self._texts[key] = hit
        text, precedence = hit
        if slots:
            text = _SLOT.sub(lambda m: slots[int(m.group(1))][1], text)
        return Printed(text, precedence)


def _symbol_key(sym: sp.Symbol) -> tuple:
    """An order of symbols that is the same in every function (a symbol's name, and a
    Dummy's index: the values of loop bodies)."""
    return (sym.name, getattr(sym, "dummy_index", 0) or 0)
