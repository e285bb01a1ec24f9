"""The `math` module on traced scalars: `math.exp(t)` is `np.exp(t)`.

`math` converts its argument with `float()`, which a traced value cannot give;
`rebind` binds the `math` names the traced code sees to these versions while
tracing. Each takes a traced scalar (a 0-d value, or one element, as `math` accepts)
and gives a traced scalar; generated code prints the NumPy function. `math.erf`,
`math.erfc`, `math.gamma` and `math.lgamma`, which NumPy lacks, print as the `math`
function itself (the standard library: generated modules still need only NumPy),
with derivatives in NumPy; those of `gamma` and `lgamma` need SciPy's digamma.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ..errors import TraceError, UnsupportedOpError, user_location
from ..ir.elementwise import numpy_function
from . import rebind
from .np_constructs import resolve, traced_array
from .tracer import FUNCTIONS, UFUNCS, Tracer, elementwise

__all__ = ["MATH_FUNCTIONS", "Erf", "Erfc"]

_SQRT_PI = sp.sqrt(sp.pi)


def _gaussian(x):
    return 2 * sp.exp(-x**2) / _SQRT_PI


Erf = numpy_function("math_erf", "math.erf({0})", [_gaussian], math.erf)
Erfc = numpy_function("math_erfc", "math.erfc({0})", [lambda x: -_gaussian(x)], math.erfc)


def _digamma(x):
    from .np_special import Digamma  # SciPy's: NumPy and math have no digamma

    if Digamma is None:
        raise UnsupportedOpError(
            "the derivative of math.gamma / math.lgamma is digamma, which only SciPy "
            "provides; install scipy (pip install 'symdiff[scipy]'), or keep gamma "
            "out of the differentiated function", user_location())
    return Digamma(x)


Gamma = numpy_function("math_gamma", "math.gamma({0})",
                       [lambda x: Gamma(x) * _digamma(x)], math.gamma)
LogGamma = numpy_function("math_lgamma", "math.lgamma({0})", [_digamma], math.lgamma)


def _ufunc(ufunc):
    return lambda *args: UFUNCS[ufunc](*args)


def _log(x, base=None):
    if base is None:
        return UFUNCS[np.log](x)
    if not isinstance(base, Tracer):
        return UFUNCS[np.log](x) / math.log(base)
    return UFUNCS[np.log](x) / UFUNCS[np.log](base)


def _sympy(fn):
    return lambda *args: elementwise(fn, *args, kind="float")


#: math function -> its traced version (of traced scalars)
MATH_FUNCTIONS = {
    math.exp: _ufunc(np.exp), math.expm1: _ufunc(np.expm1), math.log: _log,
    math.log2: _ufunc(np.log2), math.log10: _ufunc(np.log10), math.log1p: _ufunc(np.log1p),
    math.sqrt: _ufunc(np.sqrt), math.sin: _ufunc(np.sin), math.cos: _ufunc(np.cos),
    math.tan: _ufunc(np.tan), math.asin: _ufunc(np.arcsin), math.acos: _ufunc(np.arccos),
    math.atan: _ufunc(np.arctan), math.sinh: _ufunc(np.sinh), math.cosh: _ufunc(np.cosh),
    math.tanh: _ufunc(np.tanh), math.asinh: _ufunc(np.arcsinh),
    math.acosh: _ufunc(np.arccosh), math.atanh: _ufunc(np.arctanh),
    math.fabs: _ufunc(np.absolute), math.floor: _ufunc(np.floor), math.ceil: _ufunc(np.ceil),
    math.trunc: _ufunc(np.trunc), math.degrees: _ufunc(np.rad2deg),
    math.radians: _ufunc(np.deg2rad), math.atan2: _ufunc(np.arctan2),
    math.pow: _ufunc(np.float_power), math.copysign: lambda x, y: x * 0 + _copysign(x, y),
    math.erf: _sympy(Erf), math.erfc: _sympy(Erfc), math.gamma: _sympy(Gamma),
    math.lgamma: _sympy(LogGamma),
    math.hypot: lambda *xs: _hypot(xs),
    math.fsum: lambda xs: _fsum(xs),
}
for _name in ("cbrt", "exp2"):  # Python 3.11+
    if hasattr(math, _name):
        MATH_FUNCTIONS[getattr(math, _name)] = _ufunc(getattr(np, _name))

#: the names traced, for the reference (the same on every Python version)
MATH_NAMES = tuple(sorted({f.__name__ for f in MATH_FUNCTIONS} | {"cbrt", "exp2"}))


def _copysign(x, y):
    return UFUNCS[np.absolute](x) * UFUNCS[np.sign](y) - x * 0


def _hypot(xs):
    total = None
    for x in xs:
        total = x * x if total is None else total + x * x
    return UFUNCS[np.sqrt](total) if total is not None else 0.0


def _fsum(xs):
    return FUNCTIONS[np.sum](traced_array(list(xs)))


def _scalar(name: str, value):
    """A traced argument of `math.<name>` as a 0-d traced value."""
    value = resolve(value)
    if not isinstance(value, Tracer):
        return value
    if value.size != 1:
        raise TraceError(
            f"math.{name} of a traced array of shape {value.shape}: math functions take "
            f"one number (NumPy raises TypeError here); use np.{_numpy_name(name)} for "
            "arrays", user_location())
    return FUNCTIONS[np.reshape](value, ()) if value.shape else value


def _numpy_name(name: str) -> str:
    return {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2",
            "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "fabs": "abs",
            "pow": "power", "degrees": "rad2deg", "radians": "deg2rad", "fsum": "sum",
            "lgamma": "(scipy.special.gammaln)", "gamma": "(scipy.special.gamma)",
            "erf": "(scipy.special.erf)", "erfc": "(scipy.special.erfc)"}.get(name, name)


def _math_stand_in(real, traced):
    name = real.__name__

    def call(*args):
        if not (rebind.tracing() and any(rebind.holds_tracer(a) for a in args)):
            return real(*args)
        if name == "fsum":
            return traced(args[0])
        return traced(*(_scalar(name, a) for a in args))

    call.__name__ = call.__qualname__ = name
    call.__doc__ = real.__doc__
    call.__wrapped__ = real
    return call


for _real, _traced in MATH_FUNCTIONS.items():
    rebind.override(_real, _math_stand_in(_real, _traced))
