"""Removable singularities: an expression undefined at u = 0 (0/0) but finite there,
``(1 - cos(u))/u**2``, as its Taylor polynomial near 0 and itself elsewhere (one of the
rules of `stable`)."""

from __future__ import annotations

import functools

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from ..ir.elementwise import Absolute

__all__ = ["removable_singularity", "nested_series", "forget_direct", "SERIES_RADIUS",
           "SERIES_ORDER"]

#: Near a removable singularity at u = 0 (``(1 - cos(u))/u**2``) the expression is
#: replaced by its Taylor polynomial of `SERIES_ORDER` terms for |u| < `SERIES_RADIUS`
#: (or less: see `_radius`);
#: the direct form cancels catastrophically there (1e8 instead of -8e-10 at 1e-8) and
#: is accurate beyond (its terms are at most ~1/u**3 there).
SERIES_RADIUS = sp.Rational(1, 4)
SERIES_ORDER = 14
_DIRECT: set = set()  # expressions given a series branch in this `stabilize_expr` call
_TRANSCENDENTAL = (sp.sin, sp.cos, sp.tan, sp.exp, sp.log, sp.sinh, sp.cosh, sp.tanh,
                   expm1, log1p)


def removable_singularity(expr):
    """f(u) -> where(|u| < r, taylor(f), f) where f is undefined at u = 0 (0/0) but
    has a finite Taylor series there (SymPy finds it); None otherwise. In a sum only
    the terms singular at 0 are expanded (the others are left as they are, and SymPy's
    series of a long sum is slow)."""
    if not (expr.is_Add or expr.is_Mul) or len(expr.free_symbols) != 1 or \
            expr in _DIRECT or not expr.has(*_TRANSCENDENTAL):
        return None
    (u,) = expr.free_symbols
    if not u.is_real or not _singular_at_zero(expr, u):
        return None
    regular = [t for t in expr.args if expr.is_Add and not _singular_at_zero(t, u)]
    singular = sp.Add(*[t for t in expr.args if t not in regular]) if regular else expr
    if sp.count_ops(singular) > 30 or not singular.has(*_TRANSCENDENTAL):
        return None
    form = _series_form(singular, u)
    if form is None:
        return None
    _DIRECT.add(singular)  # the branch away from 0 keeps the direct form: no second match
    _DIRECT.add(expr)
    return sp.Add(*regular, form)


def nested_series(expr):
    """where(c, a, where(c, a, b)) -> where(c, a, b): the derivative of a series form
    is a series form, whose direct branch the rule above would wrap again."""
    if isinstance(expr, sp.Piecewise) and len(expr.args) == 2:
        (a, c), (inner, _) = expr.args
        if isinstance(inner, sp.Piecewise) and len(inner.args) == 2 and \
                inner.args[0] == (a, c):
            return inner
    return None


def _singular_at_zero(expr, u) -> bool:
    """Whether `expr` divides by something that vanishes at u = 0."""
    return any(p.exp.is_negative and p.base.has(u) and p.base.subs(u, 0) == 0
               for p in expr.atoms(sp.Pow))


@functools.lru_cache(maxsize=1024)
def _series_form(expr, u):
    try:
        series = sp.series(expr, u, 0, SERIES_ORDER + 1).removeO()
    except (NotImplementedError, ValueError, TypeError, sp.PoleError):
        return None
    powers = [t.as_coeff_exponent(u)[1] for t in sp.Add.make_args(series)]
    if series.has(sp.Order) or any(not (p.is_Integer and p >= 0) for p in powers) or \
            series.free_symbols - {u} or series.has(*_TRANSCENDENTAL):
        return None
    radius = _radius(series, expr, u)
    if radius is None:
        return None
    return sp.Piecewise((series, sp.Lt(Absolute(u), radius)), (expr, True))


def _radius(series, expr, u):
    """The largest of 1/4, 1/8, ... 1/1024 within which the polynomial agrees with the
    exact value of `expr` (30 digits) to 1e-13 relative at the radius and half of it,
    on both sides: a pole or fast growth near 0 shrinks it. None if none does."""
    radius = SERIES_RADIUS
    while radius >= sp.Rational(1, 1024):
        if all(_agrees(series, expr, u, radius * f) for f in (1, -1, sp.S.Half, -sp.S.Half)):
            return radius
        radius /= 2
    return None


def _agrees(series, expr, u, at) -> bool:
    try:
        exact = complex(expr.evalf(30, subs={u: at}))
    except (TypeError, ValueError):
        return False
    if exact.imag or exact != exact:
        return False
    return abs(float(series.subs(u, at)) - exact.real) <= 1e-13 * max(abs(exact.real), 1e-300)


def forget_direct() -> None:
    """Start a `stabilize_expr` call: no expression has a series branch yet."""
    _DIRECT.clear()
