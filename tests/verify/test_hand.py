"""check_derivative: derivatives worked out by hand are PROVED, AGREE or are REFUTED.

Every expected derivative here was worked by hand (written in the comments); wrong
ones are wrong on purpose, and their counterexamples are checked by evaluating the
hand formulas at the reported point."""

import math
import re

import numpy as np
import pytest
import sympy as sp

import symdiff
from symdiff import ExpressionError, InputError
from symdiff.verify.hand import check_derivative
from symdiff.verify.proof import MAX_SYMBOLIC_ELEMENTS
from symdiff.verify.verdict import Status


# -- the linear model: y_hat = w x + b, loss = (y_hat - y)^2 ------------------------------
def linear_loss(w, b, x, y):
    y_hat = w * x + b
    return (y_hat - y) ** 2


def linear_grads(w, b, x, y):
    """d loss/dw = 2 x (y_hat - y), d loss/db = 2 (y_hat - y)."""
    y_hat = w * x + b
    return 2 * x * (y_hat - y), 2 * (y_hat - y)


def test_linear_model_gradients_are_proved():
    result = check_derivative(linear_loss, linear_grads, 1.0, 2.0, 1.0, 2.0, argnums=(0, 1))
    assert result.status == Status.PROVED == "PROVED"
    assert [a.status for a in result.arguments] == [Status.PROVED, Status.PROVED]
    assert result.difference == 0 and result.counterexample is None and result.ok


def test_linear_model_values_at_the_worked_point():
    # x=1, y=2, w=1, b=2: y_hat = 3, so both derivatives are 2*1*(3-2) = 2 and 2*(3-2) = 2
    assert linear_grads(1.0, 2.0, 1.0, 2.0) == (2.0, 2.0)
    dw, db = symdiff.grad(linear_loss, argnums=(0, 1))(1.0, 2.0, 1.0, 2.0)
    assert (dw, db) == (pytest.approx(2.0), pytest.approx(2.0))


def test_linear_model_as_formula_strings():
    result = check_derivative(linear_loss, ["2*x*(w*x + b - y)", "2*(w*x + b - y)"],
                              1.0, 2.0, 1.0, 2.0, argnums=(0, 1))
    assert result.status == "PROVED"


# -- the quadratic model: y_hat = x^2 w2 + x w1 + b -----------------------------------------
def quadratic_loss(w1, w2, b, x, y):
    y_hat = x**2 * w2 + x * w1 + b
    return (y_hat - y) ** 2


def residual(w1, w2, b, x, y):
    return x**2 * w2 + x * w1 + b - y


POINT = (0.5, -1.5, 2.0, 1.5, 0.25)  # w1, w2, b, x, y


def test_quadratic_model_gradients_are_proved():
    def grads(w1, w2, b, x, y):  # 2 x r and 2 x^2 r, r = y_hat - y
        r = residual(w1, w2, b, x, y)
        return 2 * x * r, 2 * x**2 * r

    assert check_derivative(quadratic_loss, grads, *POINT, argnums=(0, 1)).status == "PROVED"


@pytest.mark.parametrize("wrong, argnum, right, difference", [
    # missing factor 2: symdiff - yours = 2 x r - x r = x r
    (lambda w1, w2, b, x, y: x * residual(w1, w2, b, x, y), 0,
     lambda w1, w2, b, x, y: 2 * x * residual(w1, w2, b, x, y), "x*r"),
    # x where x^2 belongs: 2 x^2 r - 2 x r = 2 x (x - 1) r
    (lambda w1, w2, b, x, y: 2 * x * residual(w1, w2, b, x, y), 1,
     lambda w1, w2, b, x, y: 2 * x**2 * residual(w1, w2, b, x, y), "2*x*(x - 1)*r"),
])
def test_quadratic_model_wrong_gradients_are_refuted(wrong, argnum, right, difference):
    result = check_derivative(quadratic_loss, wrong, *POINT, argnums=argnum)
    assert result.status == "REFUTED" and not result.ok
    cx = result.counterexample
    assert cx.argument == ("w1", "w2")[argnum] and cx.component == ()
    # the counterexample really separates the two: evaluate both hand formulas there
    assert cx.yours == pytest.approx(wrong(**cx.point))
    assert cx.symdiff == pytest.approx(right(**cx.point))
    assert abs(cx.symdiff - cx.yours) > 1e-3
    names = sp.symbols("w1 w2 b x y", real=True)
    r = residual(*names)
    expected = sp.sympify(difference, locals={"r": r, "x": names[3]})
    assert sp.expand(result.difference - expected) == 0
    text = str(result)
    assert "REFUTED" in text and "counterexample" in text and "symdiff - yours" in text


def test_refutation_is_displayed_in_latex():
    result = check_derivative(quadratic_loss, "x*(x**2*w2 + x*w1 + b - y)", *POINT)
    latex = result._repr_latex_()
    assert latex.startswith("$") and latex.endswith("$")
    assert r"\frac{\partial\, \mathrm{quadratic\_loss}}{\partial w_{1}}" in latex
    assert r"\text{REFUTED}" in latex and r"\left(" in latex


# -- array-valued gradients: logistic regression -------------------------------------------
def logistic_loss(w, X, y):
    p = 1 / (1 + np.exp(-(X @ w)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def logistic_grad(w, X, y):
    """X^T (sigmoid(X w) - y) / n, worked out in every logistic-regression text."""
    return X.T @ (1 / (1 + np.exp(-(X @ w))) - y) / len(y)


def logistic_data(n, d, seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), rng.normal(size=(n, d)), (rng.uniform(size=n) > 0.5) * 1.0


def test_logistic_regression_gradient_is_proved_at_small_shapes():
    result = check_derivative(logistic_loss, logistic_grad, *logistic_data(4, 2))
    assert result.status == "PROVED", str(result)


def logistic_loss_logaddexp(w, X, y):
    """The same loss in its stable form: mean(log(1 + exp(z)) - y z), z = X w."""
    z = X @ w
    return np.mean(np.logaddexp(0, z) - y * z)


def test_logaddexp_form_has_the_same_gradient_proved():
    result = check_derivative(logistic_loss_logaddexp, logistic_grad, *logistic_data(3, 2))
    assert result.status == "PROVED", str(result)


def test_logistic_regression_gradient_agrees_at_large_shapes():
    w, X, y = logistic_data(50, 3)
    assert X.size > MAX_SYMBOLIC_ELEMENTS
    result = check_derivative(logistic_loss, logistic_grad, w, X, y)
    assert result.status == "AGREES" and result.points == 20
    assert "smaller shapes" in str(result) and "at 20 points" in str(result)


def test_wrong_array_gradient_is_refuted_naming_the_component():
    def off_in_component_1(w, X, y):
        return logistic_grad(w, X, y) + np.array([0.0, 0.01])

    result = check_derivative(logistic_loss, off_in_component_1, *logistic_data(4, 2))
    assert result.status == "REFUTED"
    cx = result.counterexample
    assert cx.argument == "w" and cx.component == (1,) and cx.where == "w[1]"
    assert cx.symdiff - cx.yours == pytest.approx(-0.01, abs=1e-9)
    assert result.difference == sp.Rational(-1, 100)
    assert "d/dw[1]" in str(result)


def test_missing_division_by_n_is_refuted_symbolically():
    def no_mean(w, X, y):
        return X.T @ (1 / (1 + np.exp(-(X @ w))) - y)

    result = check_derivative(logistic_loss, no_mean, *logistic_data(3, 2))
    assert result.status == "REFUTED"
    cx = result.counterexample
    w, X, y = (cx.point[k] for k in "wXy")
    # symdiff - yours = X^T (s - y)/3 - X^T (s - y) = -2/3 X^T (s - y), s = sigmoid(X w)
    expected = -2 / 3 * (X.T @ (1 / (1 + np.exp(-(X @ w))) - y))[cx.component]
    assert cx.symdiff - cx.yours == pytest.approx(expected, rel=1e-9)
    symbols = {sp.Symbol(f"w[{i}]", real=True): w[i] for i in range(2)}
    symbols.update({sp.Symbol(f"X[{i}, {j}]", real=True): X[i, j]
                    for i in range(3) for j in range(2)})
    symbols.update({sp.Symbol(f"y[{i}]", real=True): y[i] for i in range(3)})
    assert float(result.difference.evalf(subs=symbols)) == pytest.approx(expected, rel=1e-9)
    assert sp.count_ops(result.difference) < 80  # collected into one short term per row


# -- formula strings -------------------------------------------------------------------------
def poly(x):
    return 3 * x**2 + 4 * x + 2


def test_string_derivative_proved():
    assert check_derivative(poly, "6*x + 4").status == "PROVED"  # d/dx (3x^2 + 4x + 2)


def test_string_derivative_refuted_at_the_given_point():
    result = check_derivative(poly, "6*x", 1.0)
    cx = result.counterexample
    assert result.status == "REFUTED" and cx.point == {"x": 1.0}
    assert (cx.symdiff, cx.yours) == (pytest.approx(10.0), pytest.approx(6.0))  # 6+4 vs 6
    assert result.difference == 4


def test_float64_rounding_is_not_a_counterexample():
    # (x + 1)^2 - x^2 - 1 = 2x exactly, but at x = 1e10 float64 loses ~1e-6 of it to
    # cancellation: re-evaluated with 30 digits the two agree, and the proof stands
    x = 1e10
    assert abs(((x + 1)**2 - x**2 - 1) - 2 * x) > 1e-7 * 2 * x
    assert check_derivative(lambda x: x**2, "(x + 1)**2 - x**2 - 1", x).status == "PROVED"


def test_formula_may_use_a_fixed_integer_argument():
    def power(x, n):
        return x**n

    assert check_derivative(power, "n*x**(n - 1)", 1.5, 3).status == "PROVED"  # power rule
    assert check_derivative(power, "n*x**n", 1.5, 3).status == "REFUTED"


def test_points_with_flipped_signs_find_a_sign_error():
    # 2|x| equals the derivative 2x of x^2 only for x >= 0; the given point is positive
    result = check_derivative(lambda x: x**2, "2*sqrt(x**2)", 1.0)
    assert result.status == "REFUTED"
    cx = result.counterexample
    assert cx.point["x"] < 0
    assert (cx.symdiff, cx.yours) == (pytest.approx(2 * cx.point["x"]),
                                      pytest.approx(-2 * cx.point["x"]))


@pytest.mark.parametrize("text, token", [
    ("__import__('os').system('touch {path}')", "attribute access `__import__('os').system`"),
    ("x.__class__", "attribute access `x.__class__`"),
    ("(lambda: x)()", "lambda `lambda: x`"),
    ("x[0]", "subscript `x[0]`"),
    ("open('{path}', 'w')", "call of `open`"),
    ("x^2", "operator ^"),
    ("9**9**9**9", "power"),
    ("y + 1", "name `y`"),
])
def test_unsafe_formulas_are_refused_without_evaluation(tmp_path, text, token):
    target = tmp_path / "touched"
    with pytest.raises(ExpressionError) as err:
        check_derivative(poly, text.format(path=target))
    assert token in str(err.value) and "exp, log, sqrt" in str(err.value)
    assert not target.exists()


def test_a_formula_error_names_the_callers_line_and_the_derivative():
    with pytest.raises(ExpressionError) as err:
        check_derivative(lambda x, y: x * y, ["y", "x^2"], 1.0, 2.0, argnums=(0, 1))
    line = test_a_formula_error_names_the_callers_line_and_the_derivative.__code__.co_firstlineno
    assert err.value.where == f"{__file__}:{line + 2}"
    assert str(err.value).startswith(f"{__file__}:{line + 2}: the formula for d/dy (one of 2): ")
    assert "operator ^" in str(err.value)


# -- what the user gets when the symbolic side is out of reach, or the input is wrong -------
def test_untraceable_derivative_agrees_numerically():
    result = check_derivative(np.exp, lambda x: math.exp(x), 0.5)  # math.exp: no tracing
    assert result.status == "AGREES" and "tracing your derivative failed" in str(result)


@pytest.mark.parametrize("df, match", [
    (lambda w, b, x, y: 2 * x * (w * x + b - y), "returned 1 value"),
    (42, "formula string"),
    (["2*x", "2", "3"], "3 formula"),
])
def test_bad_derivatives_are_typed_errors(df, match):
    with pytest.raises(InputError, match=match):
        check_derivative(linear_loss, df, 1.0, 2.0, 1.0, 2.0, argnums=(0, 1))


def test_wrong_shape_is_a_typed_error():
    with pytest.raises(InputError, match="shape"):
        check_derivative(logistic_loss, lambda w, X, y: np.ones(5), *logistic_data(4, 2))


def test_reports_name_numpy_functions_as_numpy_does():
    # d/dx (|x - 3| + max(x, 1)) = sign(x - 3) + (1 + sign(x - 1))/2 by hand; "yours" is -1
    check = symdiff.check_derivative(lambda x: np.abs(x - 3) + np.maximum(x, 1.0),
                                     lambda x: -1.0 + 0 * x, 1.0)
    text, latex = str(check), check.latex()
    assert "sign(x - 3) + sign(x - 1)/2 + 3/2" in text and "np_" not in text
    assert r"\operatorname{sign}\left(x - 3\right)" in latex and "np" not in latex


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
    x = symdiff.verify.formula.symbol("x")
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

