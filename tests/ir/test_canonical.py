"""Renaming symbols for the compile memo keeps an expression's structure, and leaves
SymPy's cache alone (clearing it per unrolled step made compile time grow faster than
the program)."""

import sympy as sp
from sympy.core import cache

from symdiff.ir import canonical

a, b, c, x, y, z = sp.symbols("a b c x y z")


def _unevaluated(expr, names):
    with sp.evaluate(False):
        return expr.xreplace(names)


def test_rename_keeps_a_chosen_unevaluated_form():
    kept = sp.Mul(3, a + b * c, evaluate=False)  # evaluated, 3*a + 3*b*c
    renamed = canonical.rename(kept, {a: x, b: y, c: z})
    assert renamed.args == (3, x + y * z) and isinstance(renamed, sp.Mul)
    assert sp.expand(renamed) == 3 * x + 3 * y * z
    squared = sp.Pow(sp.Mul(2, a + b, evaluate=False), 2, evaluate=False)  # not 4*(a + b)**2
    assert canonical.rename(squared, {a: x}) == _unevaluated(squared, {a: x})
    assert str(canonical.rename(squared, {a: x})) == "(2*(b + x))**2"


def test_rename_agrees_with_xreplace_under_evaluate_false():
    pieces = [sp.sin(a) * a + sp.cos(a), sp.Piecewise((a, a > b), (b * c, True)),
              sp.Max(a, b + 1), sp.exp(-a) / (1 + sp.exp(-a)), sp.Eq(a, b),
              sp.Add(a, a, evaluate=False), sp.Abs(a - c) ** sp.Rational(3, 2)]
    names = {a: x, b: y, c: z}
    for expr in pieces:
        assert canonical.rename(expr, names) == _unevaluated(expr, names)
    assert canonical.rename(sp.Add(a, a, evaluate=False), names).args == (x, x)


def test_rename_and_diff_leave_sympys_cache_alone(monkeypatch):
    cleared = []
    monkeypatch.setattr(cache, "clear_cache", lambda: cleared.append(1))
    monkeypatch.setattr(sp.core.parameters, "clear_cache", lambda: cleared.append(1))
    step = sp.sin(a) * a + sp.cos(a)
    assert canonical.diff(step, a) == a * sp.cos(a)  # d/da (a sin a + cos a) = a cos a
    canonical.rename(step, {a: b})
    assert cleared == []
