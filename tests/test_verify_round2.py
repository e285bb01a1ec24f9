"""Second review of the verification surface: `check_derivative`, `gradcheck` and
`symdiff check`. Expected values are worked by hand."""

import re
import textwrap

import numpy as np
import pytest
import sympy as sp

import symdiff
from symdiff import cli
from symdiff.errors import InputError


def sum_sq(x):
    return np.sum(x**2)


# -- the user's derivative: containers and shapes ---------------------------------------
def test_list_of_components_is_one_gradient():
    # d/dx sum(x^2) = 2x, written component by component
    check = symdiff.check_derivative(sum_sq, lambda x: [2 * x[0], 2 * x[1], 2 * x[2]],
                                     np.array([1.0, 2.0, 3.0]))
    assert check.status == "PROVED"


@pytest.mark.parametrize("df, got", [
    (lambda x: 2.0, "()"),                       # scalar where a vector is expected
    (lambda x: 2 * x[0], "(3,)"),                # a missing axis
])
def test_wrong_shape_is_an_error_not_a_broadcast(df, got):
    W = np.arange(6.0).reshape(2, 3) + 1
    with pytest.raises(InputError, match=re.escape(f"shape {got}, but W has shape (2, 3)")):
        symdiff.check_derivative(lambda W: np.sum(W**2), df, W)


def test_constant_gradient_of_right_shape_and_formula_broadcast_pass():
    x = np.array([1.0, 2.0])
    assert symdiff.check_derivative(np.sum, lambda x: np.ones_like(x), x).status == "PROVED"
    assert symdiff.check_derivative(np.sum, "1", x).status == "PROVED"


def test_gradcheck_accepts_one_tuple_for_one_argnum():
    x = np.array([1.0, 2.0, 3.0])
    assert symdiff.gradcheck(sum_sq, x, grad_fn=lambda x: (2 * x,)).passed


# -- NaN, rounding, regions ---------------------------------------------------------------
def test_nan_in_your_code_is_refuted_even_where_the_formulas_cancel():
    # 2x*sqrt(x)/sqrt(x) is 2x as a formula but nan in float64 for x < 0
    check = symdiff.check_derivative(lambda x: x**2,
                                     lambda x: 2 * x * np.sqrt(x) / np.sqrt(x), 1.0)
    assert check.status == "REFUTED"
    cx = check.counterexample
    assert cx.point["x"] < 0 and np.isnan(cx.yours)
    assert cx.symdiff == pytest.approx(2 * cx.point["x"])
    assert "nan in float64" in str(check)


def test_factor_one_plus_1e_12_agrees_and_says_why():
    check = symdiff.check_derivative(lambda x: np.sin(x) * np.exp(x),
                                     "(1 + 1e-12)*(cos(x) + sin(x))*exp(x)", 1.3)
    assert check.status == "AGREES"
    text = str(check)
    assert "within the time budget" not in text      # the simplification did finish
    assert "does not simplify to 0" in text and "1e-07*|symdiff|" in text
    # the difference is shown in its short form: -(sin + cos) exp / 10**12
    x = symdiff.formula.symbol("x")
    assert sp.simplify(check.difference + (sp.sin(x) + sp.cos(x)) * sp.exp(x) / 10**12) == 0


def test_wrong_threshold_outside_the_sampled_region_is_found():
    # the derivative of where(x > 3, x^2, x) is 2x for x > 3; the hand version switches
    # at 3.2, so it is wrong on (3, 3.2], far from the given point x = [1, 2]
    check = symdiff.check_derivative(
        lambda x: np.sum(np.where(x > 3, x**2, x)),
        lambda x: np.where(x > 3.2, 2 * x, 1.0), np.array([1.0, 2.0]))
    assert check.status == "REFUTED"
    cx = check.counterexample
    v = cx.point["x"][cx.component]
    assert 3 < v <= 3.2 and cx.symdiff == pytest.approx(2 * v) and cx.yours == 1.0


def test_missed_kink_away_from_the_point_is_found():
    # d|x - 3|/dx is -1 below 3 and +1 above; "-1" is wrong only for x > 3
    check = symdiff.check_derivative(lambda x: np.abs(x - 3), "-1", 1.0)
    assert check.status == "REFUTED"
    assert check.counterexample.point["x"] > 3 and check.counterexample.symdiff == 1.0


@pytest.mark.parametrize("points", [0, -5])
def test_points_must_be_positive(points):
    with pytest.raises(InputError, match="points"):
        symdiff.check_derivative(lambda x: x**2, "2*x", 1.0, points=points)


def test_one_point_is_singular_in_the_report():
    assert "compared at 1 point:" in str(symdiff.check_derivative(lambda x: x**2, "2*x", 1.0,
                                                                  points=1))


# -- the command line ----------------------------------------------------------------------
def test_cli_points_zero_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "m.py"
    path.write_text(textwrap.dedent("""\
        def f(x):
            return x ** 2
    """))
    assert cli.main(["check", f"{path}:f", "--expect", "2*x", "--points", "0"]) == 2
    assert "--points" in capsys.readouterr().err
