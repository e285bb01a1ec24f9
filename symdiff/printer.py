"""The NumPy printer: SymPy's NumPyPrinter, made strict and readable.

Elementwise expressions print through SymPy's printer machinery with a few
readability fixes (`x/3` rather than `(1/3)*x`, `1/x` rather than `x**(-1.0)`,
`np.where` for two-way choices, floats at full precision). Structured nodes print
through one `_print_op_<name>` method each.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy as sp
from sympy.core.mul import _keep_coeff
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from .errors import EmitError
from .ir import Node

__all__ = ["SymdiffPrinter", "dtype_name"]

_ATOM = PRECEDENCE["Atom"]


def dtype_name(dtype, xp: str = "np") -> str:
    return f"{xp}.{np.dtype(dtype).name}"


class SymdiffPrinter(NumPyPrinter):
    """Prints SymPy expressions and structured nodes as NumPy code.

    `names` maps symbols to identifiers; `xp` is the array namespace's name.
    """

    printmethod = "_symdiff_numpy"
    _default_settings = dict(NumPyPrinter._default_settings, strict=True,
                             fully_qualified_modules=True)

    def __init__(self, names: dict[sp.Symbol, str] | None = None, xp: str = "np", settings=None):
        super().__init__(settings or {})
        self.names = names or {}
        self.xp = xp

    # -- modules: `np.exp`, never `numpy.exp` ----------------------------------------
    def _module_format(self, fqn, register=True):
        if fqn.startswith("numpy."):
            fqn = self.xp + fqn[len("numpy"):]
        return super()._module_format(fqn, register=False)

    # -- atoms --------------------------------------------------------------------------
    def _print_Symbol(self, expr):
        try:
            return self.names[expr]
        except KeyError:
            raise EmitError(f"internal: symbol {expr} has no name in the generated code") from None

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        return f"{expr.p}/{expr.q}"

    def _print_Infinity(self, expr):
        return f"{self.xp}.inf"

    def _print_NegativeInfinity(self, expr):
        return f"-{self.xp}.inf"

    def _print_NaN(self, expr):
        return f"{self.xp}.nan"

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"

    # -- arithmetic -----------------------------------------------------------------------
    def _print_Mul(self, expr):
        coeff, rest = expr.as_coeff_Mul()
        if coeff.is_negative and coeff.is_Rational and coeff.q != 1:
            return "-" + self._print_Mul(_keep_coeff(-coeff, rest))
        if coeff.is_Rational and coeff.q != 1 and rest is not sp.S.One:
            # `8/3*x`: Python folds the scalar first, so arrays are touched once
            if rest.is_Pow and rest.exp.is_Integer and rest.exp < 0:  # 1/(3*y), not 1/3*1/y
                denominator = sp.Mul(coeff.q, sp.Pow(rest.base, -rest.exp), evaluate=False)
                return f"{coeff.p}/({self._print(denominator)})"
            text = self.parenthesize(rest, PRECEDENCE["Mul"], strict=True)
            return f"{coeff.p}/{coeff.q}*{text}"
        return super()._print_Mul(expr)

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.base, expr.exp
        prec = precedence(expr)
        if exp is sp.S.Half:
            return f"{self.xp}.sqrt({self._print(base)})"
        if exp == -sp.S.Half:
            return f"1/{self.xp}.sqrt({self._print(base)})"
        if exp.is_Integer and exp < 0:
            inverse = base if exp == -1 else sp.Pow(base, -exp, evaluate=False)
            return f"1/{self.parenthesize(inverse, prec, strict=True)}"
        if base is sp.E:
            return f"{self.xp}.exp({self._print(exp)})"
        # ** groups to the right: a base that is itself a power needs parentheses
        return f"{self.parenthesize(base, prec, strict=False)}**{self.parenthesize(exp, prec, strict=True)}"

    def _print_Relational(self, expr):
        op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[expr.rel_op]
        prec = PRECEDENCE["Relational"]
        return (f"{self.parenthesize(expr.lhs, prec, strict=True)} {op} "
                f"{self.parenthesize(expr.rhs, prec, strict=True)}")

    def _print_Piecewise(self, expr):
        *branches, (last, last_cond) = expr.args
        if last_cond is not sp.true:
            raise EmitError(f"internal: Piecewise without a default branch: {expr}")
        text = self._print(last)
        for value, cond in reversed(branches):
            text = f"{self.xp}.where({self._print(cond)}, {self._print(value)}, {text})"
        return text

    def _print_And(self, expr):
        return " & ".join(self.parenthesize(a, _ATOM, strict=True) for a in expr.args)

    def _print_Or(self, expr):
        return " | ".join(self.parenthesize(a, _ATOM, strict=True) for a in expr.args)

    def _print_Not(self, expr):
        return "~" + self.parenthesize(expr.args[0], _ATOM, strict=True)

    def emptyPrinter(self, expr):
        raise EmitError(f"symdiff cannot print {type(expr).__name__} ({expr}) as NumPy code")

    # -- structured nodes -----------------------------------------------------------------
    def print_node(self, node: Node, args: Sequence[str]) -> str:
        """The right-hand side for a structured node, given its printed arguments."""
        method = getattr(self, f"_print_op_{node.op}", None)
        if method is None:
            raise EmitError(f"no printer for the primitive {node.op!r}; register one with "
                            "symdiff.register_primitive")
        return method(node, *args, **node.p)

    def _print_op_const(self, node):
        value = node.value
        if value.ndim == 0:
            return f"{dtype_name(value.dtype, self.xp)}({value.item()!r})"
        body = np.array2string(value, separator=", ", threshold=np.inf, floatmode="unique",
                               max_line_width=10**9)
        return f"{self.xp}.array({body}, dtype={dtype_name(value.dtype, self.xp)})"

    def _print_op_sum(self, node, x, *, axes, keepdims):
        axis = "" if len(axes) == node.inputs[0].ndim else \
            f", axis={axes[0] if len(axes) == 1 else axes}"
        keep = ", keepdims=True" if keepdims else ""
        return f"{self.xp}.sum({x}{axis}{keep})"

    def _print_op_matmul(self, node, a, b):
        return f"{_operand(a)} @ {_operand(b)}"

    def _print_op_reshape(self, node, x, *, shape):
        return f"{self.xp}.reshape({x}, {shape})"

    def _print_op_transpose(self, node, x, *, axes):
        if axes == tuple(reversed(range(len(axes)))):
            return f"{_operand(x)}.T"
        return f"{self.xp}.transpose({x}, {axes})"

    def _print_op_broadcast_to(self, node, x, *, shape):
        return f"{self.xp}.broadcast_to({x}, {shape})"

    def _print_op_stop_gradient(self, node, x):
        return x  # emit.py writes a comment line saying no derivative flows here


def _operand(text: str) -> str:
    """Parenthesize a printed argument unless it is a name or a call."""
    if text.isidentifier() or (text.endswith(")") and _balanced_call(text)) or text.endswith(".T"):
        return text
    return f"({text})"


def _balanced_call(text: str) -> bool:
    """True for `f(...)` whose outer parentheses enclose the whole tail."""
    head = text.split("(", 1)[0]
    if not head.replace(".", "").replace("_", "").isalnum():
        return False
    depth = 0
    for i, ch in enumerate(text[len(head):]):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(text) - len(head) - 1:
            return False
    return True
