"""Parentheses decided from what is printed, never from the printed text.

SymPy's printers group by precedence (`sympy.printing.precedence`): `parenthesize(item,
level)` puts `item` in parentheses when its precedence is below `level`. The generated
code also prints values that are no SymPy expression of their own: a structured node
inlined into its reader (``X.T @ g``), the text of a size, a template of our own
functions. Each of those carries its precedence from where it was made:

- a `_print_op_<name>` returns a name, a call, an attribute or a subscript (`ATOM`), or
  says otherwise with `Printed` (``a @ b`` is `MATMUL`);
- an inlined expression takes the precedence of its outermost operator as the printer
  prints it (`SymdiffPrinter.expr_precedence`);
- a template (of our elementwise functions, or the printed form a user gives
  `register_primitive`) is parsed once, as the declaration it is
  (`template_precedence`).
"""

from __future__ import annotations

import ast
import functools
import os
import re

from sympy.printing.precedence import PRECEDENCE

from ..ir.graph import CHECK_IR_VARIABLE

__all__ = ["ATOM", "MATMUL", "UNARY", "Printed", "precedence_of", "operand",
           "template_precedence", "check_atomic"]

#: A name, a number, a call, an attribute, a subscript: safe inside any expression.
ATOM = PRECEDENCE["Atom"]
#: `a @ b`. Python binds it as tightly as `*`, left to right, but the two do not
#: associate for arrays (`y*(a @ b)` is not `(y*a) @ b`): one below `*`, so a product
#: or a power never reads it bare, a sum does.
MATMUL = PRECEDENCE["Mul"] - 1
#: `-x`: SymPy groups a negative coefficient at the level of a sum (`(-x)**2`).
UNARY = PRECEDENCE["Add"]

_OPERATORS = {ast.Add: PRECEDENCE["Add"], ast.Sub: PRECEDENCE["Add"],
              ast.Mult: PRECEDENCE["Mul"], ast.Div: PRECEDENCE["Mul"],
              ast.FloorDiv: MATMUL, ast.Mod: MATMUL, ast.MatMult: MATMUL,
              ast.Pow: PRECEDENCE["Pow"], ast.BitAnd: PRECEDENCE["And"],
              ast.BitOr: PRECEDENCE["Or"], ast.BitXor: PRECEDENCE["Xor"]}


class Printed(str):
    """Printed code and the precedence of its outermost operator."""

    def __new__(cls, text: str, precedence: int):
        obj = super().__new__(cls, text)
        obj.precedence = precedence
        return obj


def precedence_of(text: str) -> int:
    """The precedence `text` was printed with: a `Printed`'s own, else `ATOM` (what a
    `_print_op_<name>` returns unless it says otherwise)."""
    return getattr(text, "precedence", ATOM)


def operand(text: str) -> str:
    """`text` where a postfix (``.T``, ``[i]``, ``.astype(...)``) or `@` reads it:
    parenthesized unless it is atomic."""
    return text if precedence_of(text) >= ATOM else f"({text})"


@functools.cache
def template_precedence(template: str) -> int:
    """The precedence of a function's printed template (``"np.logaddexp({0}, {1})"`` is
    a call, `ATOM`), from its syntax tree with each field (``{0}``, ``{axis}``) a name."""
    tree = ast.parse(re.sub(r"\{(\w+)\}", r"_\1", template).strip(), mode="eval").body
    return _tree_precedence(tree)


def _tree_precedence(tree: ast.expr) -> int:
    if isinstance(tree, (ast.Name, ast.Constant, ast.Call, ast.Attribute, ast.Subscript,
                         ast.List, ast.Tuple)):
        return ATOM
    if isinstance(tree, ast.BinOp):
        return _OPERATORS.get(type(tree.op), 0)
    if isinstance(tree, ast.UnaryOp):
        return UNARY if not isinstance(tree.op, ast.Not) else PRECEDENCE["Not"]
    if isinstance(tree, ast.Compare):
        return PRECEDENCE["Relational"]
    if isinstance(tree, ast.BoolOp):
        return PRECEDENCE["And" if isinstance(tree.op, ast.And) else "Or"]
    return 0  # a conditional expression, a lambda: below everything


def check_atomic(op: str, text: str) -> None:
    """With SYMDIFF_CHECK_IR=1 (the test suite sets it): text a `_print_op_<name>`
    returned as a plain string must be atomic, as `precedence_of` takes it to be, so a
    printer that forgets to say otherwise fails here instead of printing ``a + b.T``.
    (A check of the contract only: no parenthesis is decided here.)"""
    if os.environ.get(CHECK_IR_VARIABLE) != "1" or isinstance(text, Printed):
        return
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:  # (a template's placeholder of a kind the parser refuses)
        return
    if _tree_precedence(tree) < ATOM:
        raise AssertionError(f"the printer of {op!r} returned {text!r}, which is not "
                             "atomic: return it as Printed(text, its precedence)")
