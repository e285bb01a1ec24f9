"""Each expression is stabilized once per process: asking again (the module's functions
meet the forward expressions twice) gives the same form and still reports the rules
it used, which the module header lists."""

import math

import sympy as sp

from symdiff.passes.stable import stabilize_expr

U = sp.Symbol("v1", real=True)


def _value(expr, u: float) -> float:
    return float(expr.xreplace({U: sp.Float(u, 30)}).evalf(30))


def test_a_second_request_gives_the_same_form_and_the_same_rules():
    expr = (1 - sp.cos(U)) / U**2  # 0/0 at u = 0, limit 1/2
    first_rules, second_rules = set(), {"a rule of an earlier expression"}
    first = stabilize_expr(expr, first_rules)
    second = stabilize_expr((1 - sp.cos(U)) / U**2, second_rules)
    assert second == first
    assert first_rules and second_rules == first_rules | {"a rule of an earlier expression"}
    assert abs(_value(first, 1e-8) - 0.5) < 1e-15  # hand-worked: (1 - cos u)/u**2 -> 1/2
    assert math.isclose(_value(first, 2.0), (1 - math.cos(2.0)) / 4, rel_tol=1e-15)


def test_an_expression_no_rule_applies_to_reports_none():
    rules: set = set()
    assert stabilize_expr(sp.sin(U) * U, rules) == sp.sin(U) * U
    assert stabilize_expr(sp.sin(U) * U, rules) == sp.sin(U) * U
    assert rules == set()
