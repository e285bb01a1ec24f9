"""Expressions on numbers inside a fused kernel's loop, and which statements print so.

`KernelPrinter` writes a statement's expression for one element (conditionals instead
of `np.where`, `and`/`or`/`not`, clip as maximum/minimum); `printable` says whether a
statement goes into a kernel: only calls numba compiles on numbers and that run in a
loop no slower than NumPy's own (see `_SLOW_IN_LOOPS`).
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from ..errors import EmitError
from ..passes.program import Statement
from ..passes.stable import finite_or_zero
from .printer import SymdiffPrinter

__all__ = ["KernelPrinter", "printable", "CALLS_ON_NUMBERS"]

#: NumPy names a kernel may call on numbers (checked on numba 0.61-0.68).
_CALLS = frozenset("""
abs sign floor ceil trunc rint round exp log sin cos tan arcsin arccos arctan sinh cosh
tanh arcsinh arccosh arctanh log1p expm1 exp2 log2 log10 sqrt cbrt isnan isinf isfinite
square reciprocal negative fabs maximum minimum fmax fmin logaddexp logaddexp2 power mod
floor_divide arctan2 hypot fmod copysign float64 float32 int64 int32 bool_
""".split())
#: ... of which these run several times slower in a loop than NumPy's vectorised ufunc
#: (numba calls libm once per number; NumPy 2 has SIMD exp, log, tanh, ...): measured
#: per element at n = 1e5 on AVX-512, numba ÷ NumPy: exp 5, log 6, tanh 13, expm1 12,
#: log1p 13, exp2 3.8, log2 8, log10 19, cbrt 44, arctan 24, sinh 45, tan 19, power 16;
#: sin and cos 1.0 (in float64 kernels `fast_trig`'s, about 16x faster), logaddexp
#: 0.95, sqrt 0.25. A statement calling one stays NumPy.
_SLOW_IN_LOOPS = frozenset("""
exp log tanh expm1 log1p exp2 log2 log10 cbrt tan arcsin arccos arctan sinh cosh arcsinh
arccosh arctanh power logaddexp2
""".split())
_CONSTANTS = frozenset({"pi", "e", "nan", "inf"})
#: What a kernel's text may read of NumPy: the calls above that are not slow, constants.
CALLS_ON_NUMBERS = (_CALLS - _SLOW_IN_LOOPS) | _CONSTANTS
_CALL = re.compile(r"([A-Za-z_][\w.]*)\(")
_ATTRIBUTE = re.compile(r"\bnp\.(\w+)\b(?!\()")


class KernelPrinter(SymdiffPrinter):
    """Expressions on numbers inside a loop: conditionals instead of np.where,
    `and`/`or`/`not` on booleans, clip as maximum/minimum (numba has no scalar clip)."""

    array_methods = False  # (numba's array methods take no keepdims)

    def _print_Piecewise(self, expr):
        *branches, (last, last_cond) = expr.args
        if last_cond is not sp.true:
            raise EmitError(f"internal: Piecewise without a default branch: {expr}")
        def show(value):  # numba does not unify an int literal with a float
            return self._typed_number(value) if value.is_Number else self._print(value)

        text = show(last)
        for value, cond in reversed(branches):
            text = f"({show(value)} if {self._print(cond)} else {text})"
        return text

    def _logic(self, expr, word):
        return f" {word} ".join(self.parenthesize(a, PRECEDENCE["Atom"], strict=True)
                                for a in expr.args)

    def _print_And(self, expr):
        return self._logic(expr, "and")

    def _print_Or(self, expr):
        return self._logic(expr, "or")

    def _print_Not(self, expr):
        return f"(not {self.parenthesize(expr.args[0], PRECEDENCE['Atom'], strict=True)})"

    def _print(self, expr, **kwargs):
        if isinstance(expr, finite_or_zero):  # np.nan_to_num(x, posinf=0, neginf=0)
            x = self._print(expr.args[0])
            return f"({x} if np.isfinite({x}) else 0.0)"
        return super()._print(expr, **kwargs)

    def _print_np_clip(self, expr):
        x, lo, hi = expr.args
        text = self._print(x)
        if not lo.is_infinite:
            text = f"np.maximum({text}, {self._print(lo)})"
        if not hi.is_infinite:
            text = f"np.minimum({text}, {self._print(hi)})"
        return text


class _AnyName(dict):
    def __missing__(self, key):
        return "v"


def printable(stmt: Statement) -> bool:
    """Whether an elementwise statement prints as numba-compatible code on numbers, and
    runs in a loop no slower than NumPy's calls."""
    printer = KernelPrinter()
    printer.names = _AnyName()  # (an empty mapping would be replaced by a new one)
    try:
        text = printer.doprint(stmt.expr)
    except EmitError:
        return False
    calls = {c for c in _CALL.findall(text)}
    names = {c[3:] if c.startswith("np.") else None for c in calls}
    return None not in names and names <= _CALLS and not names & _SLOW_IN_LOOPS and \
        set(_ATTRIBUTE.findall(text)) <= _CONSTANTS | _CALLS
