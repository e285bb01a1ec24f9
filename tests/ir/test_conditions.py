"""A Piecewise folded out of a condition keeps every condition (a mask included):
checked by evaluating the folded condition against the same NumPy expression written
with np.where, over every mask value and points on both sides of each test."""

import numpy as np
import sympy as sp
from sympy.printing.numpy import NumPyPrinter

import symdiff  # noqa: F401  (installs the exact fold)
from symdiff.ir.conditions import folded_condition
from symdiff.ir.elementwise import IsNan

a = sp.Symbol("a", real=True)
m = sp.Symbol("m", real=True)  # a boolean array, as graph symbols are
masked = sp.Piecewise((a, m), (0, True))  # np.where(m, a, 0)
MASKS = np.array([True, False, True, False, True, False])
POINTS = np.array([0.5, 0.5, -0.7, -0.7, 3.0, 3.0])


class _Printer(NumPyPrinter):
    def _print_IsNan(self, expr):
        return f"numpy.isnan({self._print(expr.args[0])})"


def _evaluated(cond) -> np.ndarray:
    f = sp.lambdify((m, a), cond, "numpy", printer=_Printer({"fully_qualified_modules": True}))
    with np.errstate(invalid="ignore"):
        return np.asarray(f(MASKS, POINTS), dtype=bool)


def test_a_mask_inside_a_comparison_is_kept():
    cond = sp.Piecewise((1, sp.sin(masked) > 0.1), (0, True)).args[0].cond
    assert m in cond.free_symbols and not cond.has(sp.Piecewise)
    np.testing.assert_array_equal(_evaluated(cond), np.sin(np.where(MASKS, POINTS, 0)) > 0.1)


def test_a_mask_inside_a_nan_test_is_kept():
    cond = sp.Piecewise((sp.nan, IsNan(sp.atanh(masked))), (1, True)).args[0].cond
    with np.errstate(invalid="ignore"):
        want = np.isnan(np.arctanh(np.where(MASKS, POINTS, 0)))
    assert want.any() and not want.all()  # 3.0 is off arctanh's domain where kept
    np.testing.assert_array_equal(_evaluated(cond), want)


def test_a_mask_in_both_branches_and_a_nested_where():
    inner = sp.Piecewise((a, m), (sp.Piecewise((-a, a > 0), (2, True)), True))
    cond = folded_condition(sp.cos(inner) < 0.5)
    got = _evaluated(cond)
    other = np.where(POINTS > 0, -POINTS, 2.0)
    np.testing.assert_array_equal(got, np.cos(np.where(MASKS, POINTS, other)) < 0.5)


def test_nan_test_of_a_number_is_decided():
    assert IsNan(sp.Integer(0)) is sp.false and IsNan(sp.nan) is sp.true
