"""Numerically stable derivatives: finite and correct wherever the true value is.

Expected values come from closed forms evaluated in 60-digit arithmetic (mpmath),
then rounded to float64 (so a true value below 1e-308 is 0.0, as float64 has it).
"""

import warnings

import mpmath
import numpy as np
import pytest

import symdiff

mp = mpmath.mp.clone()
mp.dps = 60


def sigmoid_ref(x):
    return float(1 / (1 + mp.exp(-mp.mpf(x))))


def softplus_ref(x):
    return float(mp.log(1 + mp.exp(mp.mpf(x))))


def value_and_grad(fn, *args, argnums=0):
    """Compiled value and gradient, failing on any floating-point warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        compiled = symdiff.value_and_grad(fn, argnums=argnums)
        value, grad = compiled(*args)
    return value, grad, compiled.source


def header(source):
    return [line for line in source.splitlines() if line.startswith("#")]


# -- softplus, sigmoid -------------------------------------------------------------------
def softplus(x):
    return np.sum(np.log(1 + np.exp(x)))


def test_softplus_gradient_is_sigmoid_at_large_arguments():
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    value, grad, source = value_and_grad(softplus, x)
    assert value == pytest.approx(sum(softplus_ref(v) for v in x), rel=1e-15)
    np.testing.assert_allclose(grad, [sigmoid_ref(v) for v in x], rtol=4e-15, atol=0)
    assert grad[-1] == 1.0 and grad[0] == 0.0
    assert "#   log(1 + exp(u)) -> np.logaddexp(0, u)" in header(source)


def logistic(x):
    return np.sum(1 / (1 + np.exp(-x)))


@pytest.mark.parametrize("x, value, slope", [(800.0, 1.0, 0.0), (-800.0, 0.0, 0.0)])
def test_sigmoid_and_its_derivative_at_800(x, value, slope):
    got_value, got_grad, source = value_and_grad(logistic, np.array([x]))
    assert got_value == value
    assert got_grad[0] == slope
    assert not np.isnan(got_grad).any()


def test_sigmoid_derivative_is_accurate_in_the_tails():
    x = np.array([-40.0, -5.0, 0.5, 5.0, 40.0])
    _, grad, source = value_and_grad(logistic, x)
    want = [sigmoid_ref(v) * sigmoid_ref(-v) for v in x]  # s(x)(1 - s(x))
    np.testing.assert_allclose(grad, want, rtol=1e-14)
    lines = header(source)
    assert "#   1/(1 + exp(-u)) -> sigmoid(u)" in lines
    assert "#   sigmoid(u) = np.where(u >= 0, 1, e)/(1 + e), e = np.exp(-np.abs(u))" in lines


def test_softplus_second_derivative_stays_finite():
    h = symdiff.hessian(lambda x: np.log(1 + np.exp(x)))
    for x in (-1000.0, 0.0, 3.0, 1000.0):
        assert h(x) == pytest.approx(sigmoid_ref(x) * sigmoid_ref(-x), rel=1e-14, abs=0)


def test_sigmoid_derivative_is_one_exp_of_minus_abs():
    hess = symdiff.hessian(lambda x: np.sum(np.logaddexp(0, x)))
    x = np.array([-800.0, -30.0, -1e-3, 0.0, 2.5, 800.0])
    want = [sigmoid_ref(v) * sigmoid_ref(-v) for v in x]  # s(x)(1 - s(x)), 60 digits
    np.testing.assert_allclose(np.diag(hess(x)), want, rtol=1e-14, atol=0)
    source = hess.compile(x).source
    assert f"#   {symdiff.passes.stable.SIGMOID_PAIR_FORM}" in header(source)
    body = source.split("def hessian_")[1]
    assert body.count("np.exp(") == 1 and "np.exp(-np.abs(x))" in body


# -- binary cross-entropy with logits ------------------------------------------------------
def bce_logits(z, y):
    return np.sum(np.log(1 + np.exp(z)) - y * z)


def bce_probabilities(z, y):
    s = 1 / (1 + np.exp(-z))
    return np.sum(-y * np.log(s) - (1 - y) * np.log(1 - s))


@pytest.mark.parametrize("loss", [bce_logits, bce_probabilities])
def test_binary_cross_entropy_at_500(loss):
    z = np.array([-500.0, -500.0, 500.0, 500.0, 1.5])
    y = np.array([0.0, 1.0, 0.0, 1.0, 0.3])
    value, grad, _ = value_and_grad(loss, z, y)
    want_value = sum(softplus_ref(a) - b * a for a, b in zip(z, y))
    assert value == pytest.approx(want_value, rel=1e-14)
    want = [float(1 / (1 + mp.exp(-mp.mpf(a))) - b) for a, b in zip(z, y)]  # s(z) - y
    np.testing.assert_allclose(grad, want, rtol=1e-13, atol=1e-16)


def test_cross_entropy_gradient_wrt_labels_is_minus_logit():
    _, grad, _ = value_and_grad(bce_probabilities, np.array([-500.0, 2.0]),
                                np.array([0.5, 0.5]), argnums=1)
    # d/dy [y softplus(-z) + (1-y) softplus(z)] = softplus(-z) - softplus(z) = -z
    np.testing.assert_allclose(grad, [500.0, -2.0], rtol=1e-14)


# -- hypot, log1p, expm1 -----------------------------------------------------------------
def norm2(x, y):
    return np.sqrt(x**2 + y**2)


@pytest.mark.parametrize("scale", [1e-200, 1.0, 1e200])
def test_hypot_gradient_at_tiny_and_huge_values(scale):
    x, y = 3 * scale, 4 * scale
    value, (gx, gy), source = value_and_grad(norm2, x, y, argnums=(0, 1))
    assert value == pytest.approx(5 * scale, rel=1e-15)
    assert (gx, gy) == (pytest.approx(0.6, rel=1e-15), pytest.approx(0.8, rel=1e-15))
    assert "#   sqrt(x**2 + y**2) -> np.hypot(x, y)" in header(source)


def test_log1p_keeps_digits_of_tiny_arguments():
    value, grad, source = value_and_grad(lambda x: np.log(1 + x), 1e-12)
    assert value == pytest.approx(float(mp.log1p(mp.mpf("1e-12"))), rel=1e-15)
    assert grad == pytest.approx(float(1 / (1 + mp.mpf("1e-12"))), rel=1e-15)
    assert "#   log(1 + u) -> np.log1p(u)" in header(source)


def test_expm1_keeps_digits_of_tiny_arguments():
    value, grad, source = value_and_grad(lambda x: np.exp(x) - 1, 1e-12)
    assert value == pytest.approx(float(mp.expm1(mp.mpf("1e-12"))), rel=1e-15)
    assert grad == pytest.approx(float(mp.exp(mp.mpf("1e-12"))), rel=1e-15)
    assert "#   exp(u) - 1 -> np.expm1(u)" in header(source)


def test_log_of_sum_of_two_exponentials():
    value, (ga, gb), _ = value_and_grad(lambda a, b: np.log(np.exp(a) + np.exp(b)),
                                        1000.0, 999.0, argnums=(0, 1))
    assert value == pytest.approx(float(1000 + mp.log1p(mp.exp(-1))), rel=1e-15)
    assert ga == pytest.approx(sigmoid_ref(1.0), rel=1e-14)
    assert gb == pytest.approx(sigmoid_ref(-1.0), rel=1e-14)


def test_stable_forms_keep_float32():
    _, grad, _ = value_and_grad(softplus, np.array([-100.0, 0.0, 100.0], dtype=np.float32))
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, [0.0, 0.5, 1.0], atol=1e-7)


# -- true NaN and inf propagate ------------------------------------------------------------
def test_nan_of_a_log_of_a_negative_number_is_kept():
    with np.errstate(invalid="ignore"):
        value, grad = symdiff.value_and_grad(lambda x: np.sum(np.log(1 + x)))(
            np.array([-2.0, 1.0]))
    assert np.isnan(value)  # log(-1) is NaN, not a silent zero
    np.testing.assert_allclose(grad, [-1.0, 0.5])  # 1/(1 + x), finite on both


def test_infinite_derivative_is_kept():
    with np.errstate(divide="ignore"):
        grad = symdiff.grad(lambda x: np.sqrt(x))(0.0)
    assert grad == np.inf  # d sqrt(x)/dx = 1/(2 sqrt(x)) -> +inf at 0


def test_overflowing_value_stays_inf():
    with np.errstate(over="ignore"):
        value, grad = symdiff.value_and_grad(lambda x: np.exp(x) - 1)(1000.0)
    assert value == np.inf and grad == np.inf


def test_untouched_programs_list_no_rewrites():
    source = symdiff.grad(lambda x: np.sin(x) * x).compile(1.0).source
    assert not any("Stable rewrites" in line for line in header(source))


# -- logsumexp across a sum ----------------------------------------------------------------
def logsumexp(x):
    return np.log(np.sum(np.exp(x)))


def softmax_ref(x):
    e = [mp.exp(mp.mpf(v)) for v in x]
    return [float(v / sum(e)) for v in e]


def test_logsumexp_near_1000_gives_the_softmax():
    x = np.array([1000.0, 999.0, 998.5, 1001.0])
    value, grad, source = value_and_grad(logsumexp, x)
    assert value == pytest.approx(float(mp.log(sum(mp.exp(mp.mpf(v)) for v in x))), rel=1e-15)
    np.testing.assert_allclose(grad, softmax_ref(x), rtol=1e-14)
    assert f"#   {symdiff.passes.stable.LOGSUMEXP}" in header(source)


def test_the_logsumexp_shift_is_not_presented_as_the_users_stop_gradient():
    _, _, source = value_and_grad(logsumexp, np.array([1.0, 2.0]))
    assert "stop_gradient" not in source.split('"""', 2)[2]  # below the header
    assert "x.max(keepdims=True)" in source  # reads the argument, not an alias


def test_logsumexp_over_an_axis_with_very_negative_entries():
    def f(x):
        return np.sum(np.log(np.sum(np.exp(2 * x), axis=1)))

    x = np.array([[-1000.0, -999.0], [3.0, 500.0]])
    value, grad, _ = value_and_grad(f, x)
    rows = [float(mp.log(sum(mp.exp(2 * mp.mpf(v)) for v in row))) for row in x]
    assert value == pytest.approx(sum(rows), rel=1e-15)
    np.testing.assert_allclose(grad, [[2 * p for p in softmax_ref(2 * row)] for row in x],
                               rtol=1e-14, atol=1e-300)


def test_logsumexp_hessian_is_the_softmax_covariance():
    x = np.array([1000.0, 999.0, 998.0])
    p = np.array(softmax_ref(x))
    np.testing.assert_allclose(symdiff.hessian(logsumexp)(x), np.diag(p) - np.outer(p, p),
                               rtol=1e-13, atol=1e-16)


def test_logsumexp_of_an_infinite_entry_is_inf():
    with np.errstate(invalid="ignore"):
        value = symdiff.value_and_grad(logsumexp)(np.array([np.inf, 0.0]))[0]
    assert value == np.inf


def test_a_users_own_max_shift_is_not_shifted_again_and_the_argument_keeps_its_name():
    def xent(z, Y):
        z = z - np.max(z, axis=1, keepdims=True)
        lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        return -np.mean(np.sum(Y * (z - lse), axis=1))

    z = np.array([[1000.0, 999.0, 0.5], [-3.0, 2.0, 2.5]])
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    compiled = symdiff.grad(xent).compile(z, Y)
    body = compiled.source.split("def grad_xent")[1].split("\n\n\n")[0]
    code = "\n".join(line.split("#")[0] for line in body.splitlines())
    assert "nan_to_num" not in code and code.count(".max(") == 1
    assert body.rstrip().endswith("return dxent_dz")
    p = np.array([softmax_ref(row) for row in z])
    np.testing.assert_allclose(compiled.grad(z, Y), (p - Y) / 2, rtol=1e-13, atol=1e-300)
