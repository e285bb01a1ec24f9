"""Elementwise functions with NumPy semantics, as SymPy functions.

SymPy's own functions cover most of NumPy's ufuncs (`exp`, `sin`, `atan2`, and
`log1p`, `expm1`, `exp2`, `log2`, `log10`, `hypot` from `sympy.codegen`). Where
SymPy has no function with NumPy's meaning, or its derivative does not follow
symdiff's conventions at kinks, a `NumPyFunctionBase` stands in: it prints as one
NumPy call and its partial derivatives are given as SymPy expressions.

Conventions at kinks (also in `KINK_CONVENTIONS`, stated in every generated header):

- ``abs'(0) = 0`` (the derivative of ``|x|`` is ``sign(x)``);
- ``maximum``/``minimum`` (and ``fmax``/``fmin``) give half the gradient to each
  argument where they are equal;
- ``clip(x, lo, hi)`` passes the gradient to ``x`` strictly inside ``(lo, hi)``;
  at or beyond a bound it goes to that bound;
- ``sign``, ``floor``, ``ceil``, ``trunc``, ``rint``, ``round`` and ``floor_divide``
  are piecewise constant: their derivative is zero everywhere.

The same class is what `symdiff.register_primitive` creates for a user's function.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import exp2
from sympy.logic.boolalg import BooleanFunction

__all__ = [
    "NumPyFunctionBase",
    "numpy_function",
    "KINK_CONVENTIONS",
    "Absolute",
    "Sign",
    "Floor",
    "Ceil",
    "Trunc",
    "Rint",
    "Round",
    "FloorDivide",
    "Mod",
    "Cbrt",
    "Maximum",
    "Minimum",
    "Fmax",
    "Fmin",
    "Clip",
    "IsNan",
    "LogAddExp",
    "LogAddExp2",
    "Power",
    "number",
    "logistic",
    "sigmoid",
]

KINK_CONVENTIONS = (
    "d|x|/dx = sign(x), 0 at x = 0",
    "maximum/minimum (fmax/fmin, max/min reductions): ties share the gradient equally",
    "clip(x, lo, hi): d/dx = 1 strictly inside (lo, hi); at or past a bound, d/dbound = 1",
    "sign, floor, ceil, trunc, rint, round, //, comparisons: zero derivative",
)


class NumPyFunctionBase(sp.Function):
    """An elementwise function printed from `template` (``{0}``, ``{1}`` are the
    printed arguments, ``np.`` the array namespace), with one partial derivative per
    argument in `partials` (functions of the SymPy arguments) and `numeric` to
    evaluate it on numbers."""

    template: str = ""
    partials: tuple = ()
    numeric: Callable | None = None

    @classmethod
    def eval(cls, *args):
        if cls.numeric is not None and args and all(a.is_Number for a in args):
            with np.errstate(all="ignore"):
                return number(cls.numeric(*(float(a) for a in args)))
        return None

    def fdiff(self, argindex=1):
        return sp.sympify(self.partials[argindex - 1](*self.args))

    def _eval_is_extended_real(self):
        return True

    def _sympystr(self, printer) -> str:  # `sign(x - 3)` in reports, not `np_sign(x - 3)`
        return f"{_display_name(self)}({', '.join(printer._print(a) for a in self.args)})"

    def _latex(self, printer) -> str:
        args = ", ".join(printer._print(a) for a in self.args)
        return rf"\operatorname{{{_display_name(self)}}}\left({args}\right)"


def _display_name(f) -> str:
    name = type(f).__name__
    return name[3:] if name.startswith("np_") else name


def number(value) -> sp.Expr:
    """A Python/NumPy scalar as the SymPy number that prints it exactly: an Integer when
    integral (floats too, below 2**53), nan, +-oo, else a 17-digit Float."""
    if isinstance(value, (bool, np.bool_)):
        return sp.Integer(int(value))
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    f = float(value)  # a real number: Python, NumPy scalar or 0-d array
    if math.isfinite(f) and f.is_integer() and abs(f) < 2**53:
        return sp.Integer(int(f))
    if math.isnan(f):
        return sp.nan
    if math.isinf(f):
        return sp.oo if f > 0 else -sp.oo
    return sp.Float(f, 17)


_PLACEHOLDER = re.compile(r"\{(\d+)\}")


def numpy_function(name: str, template: str, partials: Sequence[Callable],
                   numeric: Callable | None = None) -> type[NumPyFunctionBase]:
    """A new `NumPyFunctionBase` class: `name` shows in graph dumps, `template` is the
    printed NumPy code (``"np.logaddexp({0}, {1})"``), `partials[i](*args)` is the
    derivative with respect to argument i."""
    nargs = len(partials)
    used = {int(i) for i in _PLACEHOLDER.findall(template)}
    if used != set(range(nargs)):
        raise ValueError(f"template {template!r} must use each of {{0}} .. {{{nargs - 1}}}")
    cls = _CLASSES[name] = type(name, (NumPyFunctionBase,), {
        "nargs": nargs,
        "template": template,
        "partials": tuple(partials),
        "numeric": staticmethod(numeric) if numeric is not None else None,
        "__module__": __name__,
    })
    return cls


#: Every class `numpy_function` made, by name: pickle finds them as attributes of this
#: module (`__getattr__`), so expressions using them cross process boundaries.
_CLASSES: dict[str, type] = {}


def __getattr__(name: str):
    try:
        return _CLASSES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def _zero(*args):
    return sp.S.Zero


def _piecewise_constant(name: str, ufunc, nargs: int = 1) -> type[NumPyFunctionBase]:
    """A NumPy function with zero derivative (rounding and friends)."""
    args = ", ".join(f"{{{i}}}" for i in range(nargs))
    return numpy_function(name, f"np.{ufunc.__name__}({args})", [_zero] * nargs, ufunc)


# -- piecewise constant ----------------------------------------------------------------------
Sign = _piecewise_constant("np_sign", np.sign)
Floor = _piecewise_constant("np_floor", np.floor)
Ceil = _piecewise_constant("np_ceil", np.ceil)
Trunc = _piecewise_constant("np_trunc", np.trunc)
Rint = _piecewise_constant("np_rint", np.rint)
Round = _piecewise_constant("np_round", np.round)
FloorDivide = _piecewise_constant("np_floor_divide", np.floor_divide, 2)

# -- kinks -------------------------------------------------------------------------------------
Absolute = numpy_function("np_abs", "np.abs({0})", [lambda x: Sign(x)], np.abs)


def _half_step(a, b, sign):
    """1 where a wins, 0 where it loses, 1/2 at a tie (sign = +1 for max, -1 for min)."""
    return (1 + sign * Sign(a - b)) / 2


Maximum = numpy_function("np_maximum", "np.maximum({0}, {1})",
                         [lambda a, b: _half_step(a, b, 1), lambda a, b: _half_step(b, a, 1)],
                         np.maximum)
Minimum = numpy_function("np_minimum", "np.minimum({0}, {1})",
                         [lambda a, b: _half_step(a, b, -1), lambda a, b: _half_step(b, a, -1)],
                         np.minimum)
Fmax = numpy_function("np_fmax", "np.fmax({0}, {1})", Maximum.partials, np.fmax)
Fmin = numpy_function("np_fmin", "np.fmin({0}, {1})", Minimum.partials, np.fmin)


class IsNan(BooleanFunction):
    """NumPy's isnan as a condition: opaque to SymPy, whose real symbols are never nan
    (so that it cannot fold away the branch a nan operand takes). Of a number, it is
    true or false."""

    nargs = 1

    @classmethod
    def eval(cls, arg):
        if arg.is_Number:
            return sp.true if arg is sp.nan else sp.false
        return None


def _indicator(cond, *operands) -> sp.Expr:
    """1 where `cond`, else 0; nan where an operand is nan, as the value is: a nan
    fails every comparison, and its derivative must not be a silent 0."""
    nan = [IsNan(a) for a in operands if not a.is_Number]
    guard = [(sp.nan, sp.Or(*nan))] if nan else []
    return sp.Piecewise(*guard, (1, cond), (0, True))


# Gradient to x strictly inside (lo, hi); at or below lo to lo (when lo < hi), else to hi.
Clip = numpy_function("np_clip", "np.clip({0}, {1}, {2})", [
    lambda x, lo, hi: _indicator(sp.And(lo < x, x < hi), x, lo, hi),
    lambda x, lo, hi: _indicator(sp.And(x <= lo, lo < hi), x, lo, hi),
    lambda x, lo, hi: _indicator(sp.Or(x >= hi, lo >= hi), x, lo, hi),
], np.clip)

Mod = numpy_function("np_mod", "np.mod({0}, {1})",
                     [lambda a, b: sp.S.One, lambda a, b: -Floor(a / b)], np.mod)

# -- roots and logs ----------------------------------------------------------------------------
# NumPy's cbrt is real for negative x (x**(1/3) is not); its derivative 1/(3 cbrt(x)^2).
Cbrt = numpy_function("np_cbrt", "np.cbrt({0})", [lambda x: 1 / (3 * Cbrt(x) ** 2)], np.cbrt)


# d/da logaddexp(a, b) = sigmoid(a - b): never overflows, and as cheap as one exp.
LogAddExp = numpy_function("np_logaddexp", "np.logaddexp({0}, {1})", [
    lambda a, b: sigmoid(a - b),
    lambda a, b: sigmoid(b - a),
], np.logaddexp)
LogAddExp2 = numpy_function("np_logaddexp2", "np.logaddexp2({0}, {1})", [
    lambda a, b: exp2(a - LogAddExp2(a, b)),
    lambda a, b: exp2(b - LogAddExp2(a, b)),
], np.logaddexp2)


# -- powers with an array exponent ----------------------------------------------------------
class Power(NumPyFunctionBase):
    """x**y where y is an array (or a traced value), not a number. SymPy's derivative
    y*x**y/x is NaN at x = 0, where the true one (y*x**(y - 1)) is finite for y >= 1
    and 0 for y = 0: polynomial features x[:, None]**np.arange(k) hit that at x = 0;
    and its d/dy x**y*log(x) is 0*-inf at x = 0, where 0**y has derivative 0 (y > 0).
    With a number for y, or a positive number for x, it is SymPy's own power, whose
    derivative is exact."""

    nargs = 2
    template = "np.power({0}, {1})"
    partials = (
        # y*x**(y - 1), the exponent 1 where y = 0 (so 0*x**1 there, not 0*x**-1)
        lambda x, y: y * Power(x, sp.Piecewise((1, sp.Eq(y, 0)), (y - 1, True))),
        # x**y*log(x), the log 0 where x = 0 (so 0 for y > 0, not 0*-inf)
        lambda x, y: Power(x, y) * sp.log(sp.Piecewise((1, sp.Eq(x, 0)), (x, True))),
    )

    @classmethod
    def eval(cls, x, y):
        if y.is_Number or x.is_Number and x.is_positive:
            return sp.Pow(x, y)
        return None


def logistic(x: sp.Expr) -> sp.Expr:
    """The logistic function's definition, 1/(1 + exp(-x)), in plain SymPy (what proofs
    and the formula language compare with; `sigmoid` is the function symdiff prints)."""
    return 1 / (1 + sp.exp(-x))


class sigmoid(sp.Function):
    """The logistic function ``1/(1 + exp(-x))``, printed in a form that cannot overflow."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.S.Half
        return None

    def fdiff(self, argindex=1):
        x = self.args[0]
        return sigmoid(x) * sigmoid(-x)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self.args[0].is_real else None

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return logistic(x)

    def _numpycode(self, printer) -> str:
        # NumPyPrinter sets its instance's `printmethod` to "_numpycode", so this is the
        # hook any NumPy printer (symdiff's or SymPy's) calls. Programs lower sigmoid
        # before CSE (`lower_sigmoid`), so that its argument is computed once.
        return printer._print(_sigmoid_formula(self.args[0]))


def _sigmoid_formula(x):
    """where(x >= 0, 1, e)/(1 + e) with e = exp(-|x|): one exp per element (CSE
    shares e), exact to an ulp or two in relative terms everywhere (1/(1 + e) for
    x >= 0, e/(1 + e) below), no overflow and no warning."""
    e = sp.exp(-Absolute(x))
    return sp.Piecewise((1, x >= 0), (e, True)) / (1 + e)
