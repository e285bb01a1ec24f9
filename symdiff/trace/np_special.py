"""`scipy.special` on traced values, when SciPy is installed.

SciPy's elementwise special functions are NumPy ufuncs, so calls on tracers reach
`Tracer.__array_ufunc__`: they are registered in `UFUNCS` with their derivatives.
Generated code prints them as `scipy.special.<name>(...)` and then imports
`scipy.special` (and says so in its header); only the modules that use them need
SciPy. `logsumexp`, `softmax` and `log_softmax` are Python functions: they lower
to NumPy (a max-shifted sum of exponentials) and print without SciPy; `rebind`
binds them while tracing. A SciPy function with no rule here raises
`UnsupportedOpError` naming it and the registration that would teach it.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from ..errors import UnsupportedOpError, user_location
from ..ir.elementwise import numpy_function
from . import rebind
from .np_constructs import resolve, traced_array
from .tracer import FUNCTIONS, UFUNCS, Tracer, _graph_of, as_tracer, bind, elementwise

__all__ = ["SPECIAL_UFUNCS", "Digamma", "available"]

try:
    import scipy.special as special
except ImportError:  # SciPy is optional
    special = None

available = special is not None
#: the functions with rules (the reference lists them whether SciPy is installed or not)
ELEMENTWISE_NAMES = ("erf", "erfc", "erfinv", "expit", "logit", "log_expit", "xlogy",
                     "xlog1py", "gammaln", "digamma", "betaln", "ndtr", "log_ndtr", "ndtri")
LOWERED_NAMES = ("logsumexp", "softmax", "log_softmax")
SPECIAL_UFUNCS: dict = {}  # scipy ufunc -> SymPy function class
Digamma = None

_SQRT_2PI = sp.sqrt(2 * sp.pi)


def _define(name: str, partials, nargs: int = 1):
    """A SymPy function printing scipy.special.<name>, registered for tracers."""
    ufunc = getattr(special, name)
    args = ", ".join(f"{{{i}}}" for i in range(nargs))
    cls = numpy_function(f"scipy_{name}", f"scipy.special.{name}({args})", partials, ufunc)
    SPECIAL_UFUNCS[ufunc] = cls
    UFUNCS[ufunc] = lambda *a, cls=cls: elementwise(cls, *a, kind="float")
    return cls


def _where_zero(x, value):
    """0 where x == 0, else value (xlogy's convention: 0 * log(0) is 0)."""
    return sp.Piecewise((0, sp.Eq(x, 0)), (value, True))


@functools.cache
def _polygamma(n: int):
    """scipy.special.polygamma(n, x) as a function of x (its derivative: order n + 1)."""
    return numpy_function(f"scipy_polygamma_{n}", f"scipy.special.polygamma({n}, {{0}})",
                          [lambda x: _polygamma(n + 1)(x)],
                          functools.partial(special.polygamma, n))


def _register() -> None:
    global Digamma
    exp = sp.exp
    Digamma = _define("digamma", [lambda x: _polygamma(1)(x)])
    _define("erf", [lambda x: 2 * exp(-x**2) / sp.sqrt(sp.pi)])
    _define("erfc", [lambda x: -2 * exp(-x**2) / sp.sqrt(sp.pi)])
    erfinv = _define("erfinv", [lambda x: sp.sqrt(sp.pi) / 2 * exp(erfinv(x) ** 2)])
    expit = _define("expit", [lambda x: expit(x) * (1 - expit(x))])
    _define("logit", [lambda x: 1 / (x * (1 - x))])
    _define("log_expit", [lambda x: expit(-x)])
    _define("gammaln", [Digamma])
    _define("xlogy", [lambda x, y: sp.log(y), lambda x, y: _where_zero(x, x / y)], nargs=2)
    _define("xlog1py", [lambda x, y: sp.log(1 + y), lambda x, y: _where_zero(x, x / (1 + y))],
            nargs=2)
    _define("betaln", [lambda a, b: Digamma(a) - Digamma(a + b),
                       lambda a, b: Digamma(b) - Digamma(a + b)], nargs=2)
    _define("ndtr", [lambda x: exp(-x**2 / 2) / _SQRT_2PI])
    log_ndtr = _define("log_ndtr", [lambda x: exp(-x**2 / 2 - log_ndtr(x)) / _SQRT_2PI])
    ndtri = _define("ndtri", [lambda x: _SQRT_2PI * exp(ndtri(x) ** 2 / 2)])


# -- logsumexp, softmax, log_softmax: NumPy, shifted by a max that carries no gradient ----------
def _shift(a, axis):
    peak = FUNCTIONS[np.max](a, axis=axis, keepdims=True)
    return bind("stop_gradient", peak)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """scipy.special.logsumexp on tracers: log(sum(b * exp(a))) over `axis`."""
    if return_sign:
        raise UnsupportedOpError("scipy.special.logsumexp(return_sign=True) gives a sign "
                                 "without a derivative; leave return_sign out (b > 0)",
                                 user_location())
    a, b = resolve(a), resolve(b)
    a = traced_array(a) if isinstance(a, (list, tuple)) else a
    a = as_tracer(_graph_of([v for v in (a, b) if isinstance(v, Tracer)]), a)
    if b is not None:  # the max is taken over a broadcast against b, as SciPy does
        shape = np.broadcast_shapes(a.shape, np.shape(b))
        a = a if shape == a.shape else FUNCTIONS[np.broadcast_to](a, shape)
    m = _shift(a, axis)
    terms = UFUNCS[np.exp](a - m)
    if b is not None:
        terms = terms * b
    total = FUNCTIONS[np.sum](terms, axis=axis, keepdims=True)
    out = UFUNCS[np.log](total) + m
    if not keepdims:
        out = FUNCTIONS[np.squeeze](out, axis=_axes(axis, out.ndim))
    return out


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return axis


def softmax(x, axis=None):
    """scipy.special.softmax on tracers."""
    e = UFUNCS[np.exp](x - _shift(x, axis))
    return e / FUNCTIONS[np.sum](e, axis=axis, keepdims=True)


def log_softmax(x, axis=None):
    """scipy.special.log_softmax on tracers."""
    shifted = x - _shift(x, axis)
    return shifted - UFUNCS[np.log](FUNCTIONS[np.sum](UFUNCS[np.exp](shifted), axis=axis,
                                                       keepdims=True))


def _no_rule(real):
    """A SciPy function without a rule: called on traced values, a typed error."""

    @functools.wraps(real)
    def call(*args, **kwargs):
        if rebind.tracing() and any(rebind.holds_tracer(a) for a in
                                    list(args) + list(kwargs.values())):
            raise UnsupportedOpError(
                f"{_scipy_name(real)} has no derivative rule in symdiff; teach it with "
                f"symdiff.register_primitive({_scipy_name(real)}, derivatives=[...], "
                "numpy=...) if it is elementwise, or with shape=/vjp= if not (see "
                "docs/extending.md), or compute it from supported NumPy operations",
                user_location())
        return real(*args, **kwargs)
    return call


def _scipy_name(fn) -> str:
    """`scipy.special.jv` for a SciPy function or ufunc (public module, not _private)."""
    name = getattr(fn, "__name__", repr(fn))
    if special is not None and getattr(special, name, None) is fn:
        return f"scipy.special.{name}"
    module = ".".join(p for p in (getattr(fn, "__module__", None) or "scipy").split(".")
                      if not p.startswith("_"))
    return f"{module}.{name}"


if available:
    _register()
    for _real, _traced in ((special.logsumexp, logsumexp), (special.softmax, softmax),
                           (special.log_softmax, log_softmax)):
        rebind.override(_real, rebind.pass_through(
            _real, _traced, lambda *a, **k: any(rebind.holds_tracer(v) for v in
                                                list(a) + list(k.values()))))
    rebind.proxy_module("scipy")
    rebind.proxy_module("scipy.special")
    rebind.FOREIGN["scipy"] = _no_rule
