"""The NumPy printer: SymPy's NumPyPrinter, made strict and readable.

Elementwise expressions print through SymPy's printer machinery with a few
readability fixes (`x/3` rather than `(1/3)*x`, `1/x` rather than `x**(-1.0)`,
`np.where` for two-way choices, floats at full precision). Structured nodes print
through one `_print_op_<name>` method each, in node_printer.py.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import sympy as sp
from sympy.core.mul import _keep_coeff
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from ..errors import EmitError
from ..ir.dims import Dim
from ..ir.elementwise import NumPyFunctionBase
from .horner import horner_form
from .literals import array_literal, dtype_name
from .node_printer import NodePrinter
from .precedence import ATOM, UNARY, Printed, operand, precedence_of, template_precedence

__all__ = ["SymdiffPrinter", "dtype_name", "array_literal"]




class SymdiffPrinter(NodePrinter, NumPyPrinter):
    """Prints SymPy expressions and structured nodes as NumPy code.

    `names` maps symbols to identifiers; `xp` is the array namespace's name.
    """

    _default_settings = dict(NumPyPrinter._default_settings, strict=True,
                             fully_qualified_modules=True)

    def __init__(self, names: dict[sp.Symbol, str] | None = None, xp: str = "np", settings=None):
        super().__init__(settings or {})
        self.names = names or {}
        self.xp = xp
        self.like: tuple | None = None  # (name, dtype) of an array argument to make buffers like
        self.dtype = None  # of the statement being printed, when known
        #: the precedence of each symbol printed as an inlined value's text (`a @ b`)
        self.inlined: dict[sp.Symbol, int] = {}
        self.sizes: set = set()  # symbols of sizes (`dim` nodes): scalars, printed first
        self.term_order = None  # the user's order of a sum's terms (codegen/term_order.py)
        self.large = False  # whether that statement's array is big enough for NumPy to
        # compute `temporary + b` in place (`numbers_last` in `_print_Add`)

    weak_scalars = False  # whether constants of sizes need no cast to a narrow float
    stacks_by_append = False  # loops stack rows into lists (not writes into np.empty)

    # -- casts and copies of whole values (codegen/function.py) ------------------------
    def cast(self, text: str, dtype) -> str:
        """An array as `dtype` (.astype keeps the array type: np.asarray pulls Dask's)."""
        return f"{operand(text)}.astype({dtype_name(dtype)})"

    def scalar(self, text: str, dtype) -> str:
        """A 0-d value as a scalar of `dtype`."""
        return f"{dtype_name(dtype)}({text})"

    def fresh(self, text: str, dtype=None) -> str:
        """A fresh, writable copy (of `dtype` when given)."""
        dt = "" if dtype is None else f", dtype={dtype_name(dtype)}"
        return f"{self.xp}.array({text}{dt})"

    def row(self, text: str, t: str, ndim: int) -> str:
        """Row `t` of an array of `ndim` axes (a loop's step of a stacked value)."""
        return f"{operand(text)}[{t}]"

    # -- modules: `np.exp`, never `numpy.exp` ----------------------------------------
    def _module_format(self, fqn, register=True):
        if fqn.startswith("numpy."):
            fqn = self.xp + fqn[len("numpy"):]
        return super()._module_format(fqn, register=False)

    def _print(self, expr, **kwargs):
        """A constant such as `log(2)` prints as a call that returns a float64 NumPy
        scalar, strong under NEP 50, which would widen float32 code: in a statement
        of a narrower float it is converted to that dtype. So is a function of sizes
        (`np.sqrt(n)` of the int n is a float64 scalar too)."""
        dtype = self.dtype
        if not self.casts(expr):
            return super()._print(expr, **kwargs)
        self.dtype = None  # (the parts of the constant print as they are)
        try:
            return f"{dtype_name(dtype, self.xp)}({super()._print(expr, **kwargs)})"
        finally:
            self.dtype = dtype

    def casts(self, expr) -> bool:
        """Whether `_print` converts `expr`, whole, to the statement's narrower float."""
        dtype = self.dtype
        return not (dtype is None or np.dtype(dtype).kind != "f" or
                    np.dtype(dtype) == np.float64 or not isinstance(expr, sp.Expr) or
                    expr.is_Atom or not (expr.is_number or self._function_of_sizes(expr)))

    def _function_of_sizes(self, expr) -> bool:
        """Whether `expr` reads sizes only and calls a function on them (`1/np.sqrt(n)`,
        `np.log(n)`); `1/n` or `n - 1` are Python numbers, which NEP 50 keeps weak."""
        symbols = expr.free_symbols
        if not symbols or not symbols <= self.sizes:
            return False
        return bool(expr.atoms(sp.Function)) or any(
            not p.exp.is_Integer for p in expr.atoms(sp.Pow))

    # -- atoms --------------------------------------------------------------------------
    def _print_Symbol(self, expr):
        if isinstance(expr, Dim):  # a size, bound by _check_inputs under its own name
            return expr.name
        try:
            return self.names[expr]
        except KeyError:
            raise EmitError(f"internal: symbol {expr} has no name in the generated code") from None

    _print_Dummy = _print_Symbol  # (the values of loop bodies)

    # -- precedence: where parentheses go (codegen/precedence.py) ------------------------
    def inline(self, sym: sp.Symbol, text: str) -> None:
        """Print `sym` as `text` (a `Printed`, or atomic) where it is read."""
        self.names[sym] = text
        self.inlined[sym] = precedence_of(text)

    def symbol_text(self, sym: sp.Symbol) -> Printed:
        """`sym` as printed where it is read, with its precedence."""
        return Printed(self._print(sym), self.inlined.get(sym, ATOM))

    def printed(self, expr) -> Printed:
        """`expr` printed, with the precedence of its outermost operator."""
        return Printed(self.doprint(expr), self.expr_precedence(expr))

    def expr_precedence(self, expr) -> int:
        """The precedence of `expr`'s outermost operator as this printer prints it (its
        own forms: `1/x` and `x*x*x` are products, `np.sqrt(x)` and `np.exp(x)` calls)."""
        if self.casts(expr):
            return ATOM  # np.float32(...)
        if expr.is_Symbol:
            return self.inlined.get(expr, ATOM)
        if expr.is_Pow:
            if expr.exp is sp.S.Half or expr.base is sp.E:
                return ATOM
            if expr.exp == -sp.S.Half or expr.exp.is_Integer and expr.exp < 0 or \
                    self._repeated(expr):
                return PRECEDENCE["Mul"]
            return PRECEDENCE["Pow"]
        if expr.is_Mul:
            return UNARY if expr.as_coeff_Mul()[0].is_negative else PRECEDENCE["Mul"]
        if expr.is_Add:
            nested = horner_form(expr, self.sizes)
            return PRECEDENCE["Add"] if nested is None else self.expr_precedence(nested)
        if isinstance(expr, NumPyFunctionBase):
            return ATOM  # (_print_NumPyFunctionBase parenthesizes what is not a call)
        if isinstance(expr, (sp.Piecewise, sp.Function)):
            return ATOM  # np.where(...), np.exp(...)
        if isinstance(expr, sp.Not):
            return UNARY  # ~m
        return precedence(expr)  # numbers, relations, & and |: as SymPy groups them

    def parenthesize(self, item, level, strict=False):
        # an inlined value is one operand: `(a @ b)*y`, `(n - 1)*x`, whatever the level
        # (`*` does not associate with `@` or `//`), and a call's argument needs none
        if self.inlined.get(item, ATOM) < ATOM:
            return f"({self._print(item)})"
        if self._repeated(item):  # 1/(x*x*x), not 1/x*x*x (a -3*x**3/y Mul asks at Add level)
            return f"({self._print(item)})"
        return super().parenthesize(item, level, strict)

    def _repeated(self, expr) -> str | None:
        """The name `x` when `expr` is x**3 or x**4 of a named value: printed as x*x*x,
        two or three multiplications, where NumPy's float power costs about eight
        times as much on arrays (and CPython's about twice on floats)."""
        if expr.is_Pow and expr.exp.is_Integer and int(expr.exp) in (3, 4) and \
                expr.base.is_Symbol:
            name = self._print(expr.base)
            return name if name.isidentifier() else None
        return None

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

    def _print_ComplexInfinity(self, expr):
        """SymPy's `zoo`, c/0 for a nonzero c whose sign it no longer tracks. It reaches
        a module only as a branch of a derivative where a masked zero is divided by
        (the second derivative of 1/np.triu(x) where triu writes 0): NumPy's chain rule
        gives inf*0 there, nan, and the sign of the infinity is unknown, so nan."""
        return f"{self.xp}.nan"

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"

    # -- arithmetic -----------------------------------------------------------------------
    def _print_Mul(self, expr):
        scalar, arrays = self._sizes_first(expr)
        if scalar is not None:  # `8/n*x`: Python folds 8/n first, x is touched once
            text = self._print(scalar)  # (a product or quotient reads left to right)
            text = f"({text})" if scalar.is_Add else text
            return f"{text}*{self.parenthesize(arrays, PRECEDENCE['Mul'])}"
        coeff, rest = expr.as_coeff_Mul()
        if coeff.is_negative and coeff.is_Rational and coeff.q != 1:
            return "-" + self._print_Mul(_keep_coeff(-coeff, rest))
        if coeff.is_Rational and coeff.q != 1 and rest is not sp.S.One:
            # `8/3*x`: Python folds the scalar first, so arrays are touched once
            if rest.is_Pow and rest.exp.is_Rational and rest.exp < 0:  # 1/(3*y), not 1/3*1/y
                denominator = sp.Mul(coeff.q, sp.Pow(rest.base, -rest.exp), evaluate=False)
                return f"{coeff.p}/({self._print(denominator)})"
            text = self.parenthesize(rest, PRECEDENCE["Mul"], strict=True)
            return f"{coeff.p}/{coeff.q}*{text}"
        if any(self._repeated(f) for f in expr.args) and \
                not any(f.is_Pow and f.exp.is_negative for f in expr.args):
            return self._print_product(expr)
        return super()._print_Mul(expr)

    def _print_product(self, expr) -> str:
        """A product without a denominator, its powers x**3 and x**4 written out:
        ``8*x*x*x``."""
        coeff, _ = expr.as_coeff_Mul()
        sign = "-" if coeff.is_negative else ""
        parts = []
        for f in (-expr if sign else expr).as_ordered_factors():
            name = self._repeated(f)
            parts.append("*".join([name] * int(f.exp)) if name else
                         self.parenthesize(f, PRECEDENCE["Mul"], strict=False))
        return sign + "*".join(parts)

    def _sizes_first(self, expr):
        """(numbers and sizes, the rest) of a product of both, else (None, None)."""
        if not self.sizes:
            return None, None
        scalar, arrays = [], []
        for factor in expr.args:
            is_scalar = factor.free_symbols <= self.sizes
            (scalar if is_scalar else arrays).append(factor)
        if not arrays or not any(f.free_symbols for f in scalar):
            return None, None
        return sp.Mul(*scalar), sp.Mul(*arrays)

    def _print_Add(self, expr, order=None):
        nested = horner_form(expr, self.sizes)
        return self._print(nested) if nested is not None else super()._print_Add(expr, order)

    def _as_ordered_terms(self, expr, order=None):  # the order _print_Add prints
        order = order or self.order
        terms = super()._as_ordered_terms(expr, order=order) if order in ("old", "none") \
            else list(_ordered_terms(expr, order))
        if self.term_order is not None:
            terms = self.term_order.order(terms)
        return numbers_last(terms) if self.large else terms

    def _handle_UnevaluatedExpr(self, expr):  # (SymPy rebuilds every expression to find re)
        return super()._handle_UnevaluatedExpr(expr) if expr.has(sp.re) else expr

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
        name = self._repeated(expr)
        if name:
            return "*".join([name] * int(exp))
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
        values = [v for v, _ in branches] + [last]
        if all(v.is_Number for v in values):  # np.where(c, 1, 0) would be an int array
            show = self._typed_number
        else:
            show = self._print
        text = show(last)
        for value, cond in reversed(branches):
            text = f"{self.xp}.where({self._print(cond)}, {show(value)}, {text})"
        return text

    def _typed_number(self, value) -> str:
        """A number as a literal of the statement's float dtype (`1.0`, `np.float32(1.0)`)."""
        dtype = np.dtype(self.dtype if self.dtype is not None else np.float64)
        if dtype.kind != "f":
            return self._print(value)
        literal = repr(float(value))
        if not np.isfinite(float(value)):  # nan, inf: names, not literals
            literal = self._print(value)
        return literal if dtype == np.float64 else f"{dtype_name(dtype, self.xp)}({literal})"

    def _print_IsNan(self, expr):
        return f"{self.xp}.isnan({self._print(expr.args[0])})"

    def _print_And(self, expr):
        return " & ".join(self.parenthesize(a, ATOM, strict=True) for a in expr.args)

    def _print_Or(self, expr):
        return " | ".join(self.parenthesize(a, ATOM, strict=True) for a in expr.args)

    def _print_Not(self, expr):
        return "~" + self.parenthesize(expr.args[0], ATOM, strict=True)

    # -- functions with NumPy semantics (symdiff.functions, register_primitive) ------------
    def _print_NumPyFunctionBase(self, expr):  # (the "Base" suffix lets SymPy dispatch here)
        args = [self._print(a) for a in expr.args]

        def argument(m):  # parenthesized unless it is a whole argument of a call
            text = args[int(m.group(1))]
            before = expr.template[:m.start()].rstrip()[-1:]
            after = expr.template[m.end():].lstrip()[:1]
            whole = before in ("(", ",") and after in (")", ",")
            return text if whole else self.parenthesize(expr.args[int(m.group(1))], ATOM, True)

        text = re.sub(r"\{(\d+)\}", argument, expr.template)
        if self.xp != "np":
            text = re.sub(r"\bnp\.", f"{self.xp}.", text)
        return text if template_precedence(expr.template) >= ATOM else f"({text})"

    def _print_np_clip(self, expr):
        x, lo, hi = (None if a.is_infinite else self._print(a) for a in expr.args)
        return f"{self.xp}.clip({x}, {lo}, {hi})"

    def emptyPrinter(self, expr):
        raise EmitError(f"symdiff cannot print {type(expr).__name__} ({expr}) as NumPy code")



def numbers_last(terms: list) -> list:
    """`-400*t + 2` rather than `2 - 400*t` for large arrays: NumPy reuses the temporary
    `-400*t` for the sum (it computes `temporary + 2` in place), but `2 - temporary`
    needs a new array, and allocating large arrays costs as much as a pass over them.
    Only when that term has a number factor of its own, so no negation is added."""
    if len(terms) < 2 or not terms[0].is_Number:
        return terms
    coeff, _ = terms[1].as_coeff_Mul()
    if coeff in (1, -1):
        return terms
    return [*terms[1:], terms[0]]


@functools.lru_cache(maxsize=4096)
def _ordered_terms(expr: sp.Add, order) -> tuple:
    """`expr.as_ordered_terms(order)`, once per sum: SymPy evaluates every coefficient
    to sort, and the functions of a module print the same sums."""
    return tuple(expr.as_ordered_terms(order=order))
