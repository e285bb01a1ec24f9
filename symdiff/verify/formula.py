"""A safe formula language for derivatives written as strings, e.g. ``'6*x + 4'``.

The text is parsed with Python's `ast` and walked against a whitelist: numbers, the
function's argument names, ``+ - * / **``, unary minus, parentheses and the math
functions in `FUNCTIONS`. Nothing is evaluated, `eval`-ed or `sympify`-ed: anything
else raises `ExpressionError` naming the offending token before any value exists.
A parsed `Formula` evaluates two ways, to SymPy (for proofs) and to NumPy.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from ..errors import ExpressionError
from ..ir.elementwise import logistic

__all__ = ["Formula", "parse_formula", "FUNCTIONS", "MAX_LENGTH", "MAX_POWER_BITS",
           "MAX_SYMBOLIC_EXPONENT", "MAX_CALL_DEPTH", "MAX_DEPTH", "MAX_NODES"]

#: name -> (SymPy function, NumPy function); every one takes one argument.
FUNCTIONS = {
    "exp": (sp.exp, np.exp),
    "log": (sp.log, np.log),
    "sqrt": (sp.sqrt, np.sqrt),
    "sin": (sp.sin, np.sin),
    "cos": (sp.cos, np.cos),
    "tan": (sp.tan, np.tan),
    "sinh": (sp.sinh, np.sinh),
    "cosh": (sp.cosh, np.cosh),
    "tanh": (sp.tanh, np.tanh),
    "sigmoid": (logistic, lambda z: 1 / (1 + np.exp(-z))),
    "abs": (sp.Abs, np.abs),
}

#: ast operator -> what it computes (the same Python operator for SymPy and NumPy).
BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
#: Operators outside the whitelist, as an error names them.
_OPERATOR_TOKENS = {ast.BitXor: "^", ast.MatMult: "@", ast.Mod: "%", ast.FloorDiv: "//",
                    ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>",
                    ast.Invert: "~", ast.Not: "not"}

#: Longer texts are refused (a formula is one line a person wrote).
MAX_LENGTH = 1000
#: Powers of numbers whose result would need more bits than this are refused, so
#: that a short text such as ``9**9**9`` cannot make SymPy compute for hours.
MAX_POWER_BITS = 4096

#: A power of an expression in the arguments (``(x + 1)**n``) expands to about n terms
#: per term of its base, and proofs expand: larger exponents are refused.
MAX_SYMBOLIC_EXPONENT = 64
#: Calls nested deeper than this (``exp(exp(exp(...)))``) are refused: each level
#: multiplies the size of the derivative and of the proof's simplification.
MAX_CALL_DEPTH = 8
#: Syntax tree limits: operators and parentheses nested this deep, and this many nodes.
MAX_DEPTH = 50
MAX_NODES = 400

#: ast node type -> how an error names it.
_WHAT = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.Lambda: "lambda",
    ast.Call: "call of",
    ast.Compare: "comparison",
    ast.BoolOp: "boolean operator",
    ast.IfExp: "conditional expression",
    ast.NamedExpr: "assignment expression",
    ast.Starred: "starred expression",
    ast.JoinedStr: "f-string",
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Dict: "dict",
    ast.Set: "set",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.Slice: "slice",
}


@dataclass(frozen=True)
class Formula:
    """A validated formula over argument names; `expr` is its SymPy form over real
    symbols named like the arguments."""

    text: str
    names: tuple[str, ...]
    expr: sp.Expr
    _tree: ast.Expression

    def sympy(self, values: Mapping[str, sp.Expr]) -> sp.Expr:
        """The formula with each argument name replaced by a SymPy expression."""
        return self.expr.xreplace({symbol(n): values[n] for n in self.names if n in values})

    def numpy(self, values: Mapping[str, Any]):
        """The formula evaluated with NumPy in float64 on argument values (arrays
        broadcast): an overflow is inf and a power of a negative number NaN, as in
        NumPy, never a Python OverflowError or complex number."""
        values = {n: np.asarray(v, dtype=np.float64) for n, v in values.items()}
        with np.errstate(all="ignore"):
            return _Walker(self.text, self.names, 1, values).visit(self._tree.body)

    def precise(self, values: Mapping[str, Any], digits: int = 30) -> float:
        """The formula at scalar argument values, evaluated from its SymPy form with
        `digits` digits (mpmath): finite where float64 overflows on the way to a finite
        value (``0*x**x`` at x = 300 is 0); NaN where it is not a real number."""
        subs = {symbol(n): sp.Float(float(values[n]), digits) for n in self.names
                if n in values}
        try:
            value = complex(self.expr.evalf(digits, subs=subs))
        except (TypeError, ValueError, OverflowError):
            return float("nan")
        return value.real if value.imag == 0 else float("nan")

    def __str__(self) -> str:
        return self.text


def symbol(name: str) -> sp.Symbol:
    """The SymPy symbol standing for the argument `name` (real, as NumPy floats are)."""
    return sp.Symbol(name, real=True)


def parse_formula(text: str, names: Sequence[str]) -> Formula:
    """Parse `text` as a formula over the argument `names`; raise `ExpressionError`
    naming the first token outside the whitelist."""
    names = tuple(names)
    if not isinstance(text, str):
        raise ExpressionError(f"a formula is a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"formula of {len(text)} characters; the limit is {MAX_LENGTH}: "
                              "pass a Python function instead")
    try:
        tree = ast.parse(text.strip(), mode="eval")
        _check_size(text, tree)
        expr = _Walker(text.strip(), names, 0, {n: symbol(n) for n in names}).visit(tree.body)
    except SyntaxError as e:
        raise ExpressionError(f"formula {text!r} is not valid syntax ({e.msg}, column "
                              f"{e.offset}); {_ALLOWED(names)}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"formula {text[:40]!r}... is nested too deeply; split it "
                              "or pass a Python function") from None
    return Formula(text, names, sp.sympify(expr), tree)


def _check_size(text: str, tree: ast.AST) -> None:
    """Refuse trees too deep or too large before any SymPy object exists (iteratively:
    the walk itself must not recurse on a deep tree)."""
    nodes, todo = 0, [(tree, 0, 0)]
    while todo:
        node, depth, calls = todo.pop()
        nodes += 1
        calls += isinstance(node, ast.Call)
        if nodes > MAX_NODES or depth > MAX_DEPTH or calls > MAX_CALL_DEPTH:
            what = (f"more than {MAX_NODES} terms" if nodes > MAX_NODES else
                    f"calls nested more than {MAX_CALL_DEPTH} deep" if calls > MAX_CALL_DEPTH
                    else f"nesting deeper than {MAX_DEPTH}")
            raise ExpressionError(f"formula {text[:40]!r}{'...' * (len(text) > 40)} has "
                                  f"{what} (a limit that keeps proofs short); split it, or "
                                  "pass a Python function")
        todo += [(child, depth + 1, calls) for child in ast.iter_child_nodes(node)]


def _ALLOWED(names) -> str:
    return (f"a formula may use numbers, the arguments {', '.join(names) or '(none)'}, "
            f"+ - * / ** and parentheses, and the functions {', '.join(FUNCTIONS)}")


class _Walker:
    """Evaluate a whitelisted tree; `mode` 0 builds SymPy, 1 computes with NumPy."""

    def __init__(self, text: str, names: tuple[str, ...], mode: int, values: Mapping):
        self.text, self.names, self.mode, self.values = text, names, mode, values

    def visit(self, node: ast.AST):
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            self.refuse(node, _WHAT.get(type(node), type(node).__name__.lower()))
        return method(node)

    def refuse(self, node: ast.AST, what: str, hint: str = ""):
        segment = ast.get_source_segment(self.text, node) or type(node).__name__
        col = getattr(node, "col_offset", -1) + 1
        raise ExpressionError(f"{what} `{segment}` (column {col}) is not allowed in a "
                              f"formula{hint}; {_ALLOWED(self.names)}")

    def visit_Constant(self, node: ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.refuse(node, f"{type(value).__name__} constant")
        if not np.isfinite(float(value)):
            self.refuse(node, "number", " (too large for a float)")
        if self.mode:
            return np.float64(value)  # NumPy arithmetic: overflow gives inf, never a bigint
        # a decimal literal means its exact decimal value (0.1 is 1/10)
        return sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(value))

    def visit_Name(self, node: ast.Name):
        if node.id not in self.names:
            hint = " as a value (call it)" if node.id in FUNCTIONS else " (not an argument)"
            self.refuse(node, "name", hint)
        return self.values[node.id]

    def visit_BinOp(self, node: ast.BinOp):
        op = BINARY.get(type(node.op))
        if op is None:
            hint = ": write powers as **" if isinstance(node.op, ast.BitXor) else ""
            self.refuse(node, f"operator {_OPERATOR_TOKENS.get(type(node.op), '?')} in", hint)
        left, right = self.visit(node.left), self.visit(node.right)
        if op is operator.pow and not self.mode:
            self.check_power(node, left, right)
        return op(left, right)

    def visit_UnaryOp(self, node: ast.UnaryOp):
        op = UNARY.get(type(node.op))
        if op is None:
            self.refuse(node, f"operator {_OPERATOR_TOKENS.get(type(node.op), '?')} in")
        return op(self.visit(node.operand))

    def visit_Call(self, node: ast.Call):
        fn = node.func
        if not isinstance(fn, ast.Name):
            self.visit(fn)  # refuses attribute access, subscripts, lambdas ...
            self.refuse(fn, "call of")
        if fn.id not in FUNCTIONS:
            self.refuse(fn, "call of", " (not a whitelisted function)")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            self.refuse(node, "call", f": {fn.id} takes exactly one argument")
        return FUNCTIONS[fn.id][self.mode](self.visit(node.args[0]))

    def check_power(self, node, base, exponent) -> None:
        """Refuse powers too large to compute exactly (``9**9**9``, ``x**10**6``)."""
        if not exponent.is_Number:
            return
        if not base.is_Number:  # expands to about |exponent| terms per term of the base
            if abs(exponent) > MAX_SYMBOLIC_EXPONENT:
                self.refuse(node, "power", f": exponents above {MAX_SYMBOLIC_EXPONENT} of an "
                            "expression in the arguments are refused (its expansion is too "
                            "large to prove); write exp(n*log(u)) for u > 0")
            return
        bits = max(abs(base.p).bit_length(), abs(base.q).bit_length(), 1) \
            if base.is_Rational else 0  # a float's power is cheap
        if abs(exponent) * bits > MAX_POWER_BITS:
            self.refuse(node, "power", f": a result of more than {MAX_POWER_BITS} bits is "
                        "refused")
