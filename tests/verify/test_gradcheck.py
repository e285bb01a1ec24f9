"""gradcheck: central differences against analytic gradients, and the check `emit` runs.

Expected values come from closed forms worked by hand (cos is the derivative of sin,
the machine epsilon of float32 is 2**-23) or from deliberately wrong gradients."""


import numpy as np
import pytest

import symdiff
from symdiff import GradcheckError, InputError
from symdiff.autodiff import batched_rules as batching
from symdiff.autodiff import rules
from symdiff.autodiff.transforms import KINDS
from symdiff.compile import compile_gradient
from symdiff.trace.tracer import broadcast_to
from symdiff.verify.numerical import (
    MAX_ELEMENTS,
    gradcheck,
    numerical_gradient,
    sample_args,
    step_for,
    verify_compiled,
)


def logistic_loss(w, b, X, y):
    p = 1 / (1 + np.exp(-(X @ w + b)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def sum_sin(x):
    return np.sum(np.sin(x))


def logistic_data(n=20, d=3):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, d))
    return X, (rng.uniform(size=n) > 0.5).astype(float)


def test_step_per_dtype_is_cube_root_of_epsilon():
    assert step_for(np.float64) == pytest.approx(2.0 ** (-52 / 3))
    assert step_for(np.float32) == pytest.approx(2.0 ** (-23 / 3))


@pytest.mark.parametrize("fn, args, argnums", [
    (logistic_loss, (np.zeros(3), 0.1, *logistic_data()), (0, 1)),
    (logistic_loss, (np.full(3, 0.3), -0.2, *logistic_data()), (0, 2)),
    (sum_sin, (np.linspace(-2, 2, 200),), 0),
    (sum_sin, (np.linspace(-2, 2, 7).astype(np.float32),), 0),
])
def test_symdiff_gradients_pass(fn, args, argnums):
    report = gradcheck(fn, *args, argnums=argnums)
    assert report.passed, str(report)
    nums = (argnums,) if isinstance(argnums, int) else argnums
    assert [c.name for c in report.checks] == [fn.__code__.co_varnames[i] for i in nums]


def test_per_element_names_the_worst_element():
    x = np.linspace(0.1, 1.0, 5)

    def grad_wrong(x):  # d/dx sum(sin x) = cos x, except element 3 is off by 0.01
        return np.cos(x) + 0.01 * (np.arange(5) == 3)

    report = gradcheck(sum_sin, x, grad_fn=grad_wrong)
    (check,) = report.checks
    assert not report.passed and not check.passed
    assert check.method == "per element" and check.count == 5
    assert check.worst.startswith("x[3]")
    assert check.analytic == pytest.approx(np.cos(x[3]) + 0.01)
    assert check.numeric == pytest.approx(np.cos(x[3]), rel=1e-8)
    assert check.max_abs_error == pytest.approx(0.01, rel=1e-6)
    text = str(report)
    assert "FAILED at x[3]" in text and "grad_wrong" in text and "max abs err" in text


def test_random_directions_catch_one_wrong_element_of_many():
    x = np.linspace(-1, 1, 4 * MAX_ELEMENTS)

    def grad_wrong(x):
        return np.cos(x) * np.where(np.arange(x.size) == 17, 1.5, 1.0)

    report = gradcheck(sum_sin, x, grad_fn=grad_wrong)
    assert report.checks[0].method == "random directions"
    assert not report.passed
    assert gradcheck(sum_sin, x, grad_fn=np.cos).passed


def test_raise_on_failure_is_typed_and_carries_the_report():
    with pytest.raises(GradcheckError, match="with respect to x") as err:
        gradcheck(sum_sin, np.ones(3), grad_fn=np.sin, raise_on_failure=True)
    assert err.value.report.failures[0].name == "x"
    report = gradcheck(sum_sin, np.ones(3), grad_fn=np.sin)
    with pytest.raises(GradcheckError):
        report.raise_if_failed()
    assert gradcheck(sum_sin, np.ones(3), grad_fn=np.cos).raise_if_failed().passed


def test_nan_in_both_agrees_nan_in_one_fails():
    def half_over_sqrt(x):
        return 0.5 / np.sqrt(x)

    # sqrt(-1) is nan: in f, in its central differences and in its true derivative
    with np.errstate(invalid="ignore"):
        assert gradcheck(np.sqrt, -1.0, grad_fn=half_over_sqrt).passed
        failed = gradcheck(np.sqrt, -1.0, grad_fn=lambda x: 0.25)
    assert not failed.passed and failed.checks[0].max_abs_error == np.inf


@pytest.mark.parametrize("fn, args, kwargs, match", [
    (np.sin, (np.ones(3),), {}, "scalar output"),
    (sum_sin, (np.ones(3),), {"argnums": 2}, "argnums"),
    (sum_sin, (np.ones(3),), {"grad_fn": lambda x: np.ones(4)}, "shape \\(4,\\)"),
    (logistic_loss, (np.zeros(3), 0.1, *logistic_data()),
     {"argnums": (0, 1), "grad_fn": lambda *a: np.zeros(3)}, "tuple of 2"),
])
def test_bad_input_is_a_typed_error(fn, args, kwargs, match):
    with pytest.raises(InputError, match=match):
        gradcheck(fn, *args, **kwargs)


def test_sample_args_are_deterministic_and_positive():
    compiled = compile_gradient(logistic_loss, [np.zeros(3), 0.0, *logistic_data()], (0, 1))
    a, b = sample_args(compiled.specs), sample_args(compiled.specs)
    for x, y, spec in zip(a, b, compiled.specs):
        np.testing.assert_array_equal(x, y)
        assert np.shape(x) == spec.shape and np.all((0.5 <= np.asarray(x)) & (np.asarray(x) < 1.5))


# -- a wrong derivative rule is caught -------------------------------------------------
_RIGHT_SUM_VJP = rules.VJP["sum"]


def _sum_vjp_doubled(g, out, x, *, axes, keepdims):
    """The VJP of sum, wrong by a factor of 2."""
    right = _RIGHT_SUM_VJP(g, out, x, axes=axes, keepdims=keepdims)[0]
    return (broadcast_to(right * 2.0, x.shape),)


@pytest.fixture
def wrong_sum_rule(monkeypatch):
    monkeypatch.setitem(rules.VJP, "sum", _sum_vjp_doubled)


def test_gradcheck_catches_a_wrong_rule(wrong_sum_rule):
    report = gradcheck(sum_sin, np.linspace(0, 1, 4))
    assert not report.passed
    (check,) = report.failures
    # the wrong rule doubles the gradient: analytic 2 cos(x), numeric cos(x)
    assert check.analytic == pytest.approx(2 * check.numeric, rel=1e-6)


def test_verify_compiled_checks_every_gradient_function(wrong_sum_rule):
    x = np.linspace(0, 1, 4)
    compiled = compile_gradient(sum_sin, [x], 0)
    report = verify_compiled(compiled, [x], fn=sum_sin)
    assert [c.function for c in report.failures] == ["grad_sum_sin", "value_and_grad_sum_sin"]


def test_verify_compiled_passes_a_right_module():
    X, y = logistic_data()
    compiled = compile_gradient(logistic_loss, [np.zeros(3), 0.0, X, y], (0, 1))
    report = verify_compiled(compiled, sample_args(compiled.specs))
    assert report.passed and len(report.checks) == 4, str(report)


def test_a_nan_element_fails_only_where_it_is():
    def grad_nan_at_1(x):
        return np.where(np.arange(3) == 1, np.nan, np.cos(x))

    report = gradcheck(sum_sin, np.ones(3), grad_fn=grad_nan_at_1)
    assert not report.passed and report.checks[0].worst.startswith("x[1]")


# -- every kind of derivative a module holds is checked ------------------------------------
def sin_layer(x, W):
    return np.sum(np.sin(W @ x))


def sin_layer_args():
    return [np.linspace(0.1, 0.9, 3), np.linspace(-1, 1, 6).reshape(2, 3)]


def test_verify_compiled_checks_every_kind_of_derivative():
    compiled = compile_gradient(sin_layer, sin_layer_args(), (0, 1), kinds=list(KINDS))
    report = verify_compiled(compiled, sample_args(compiled.specs), fn=sin_layer)
    assert report.passed, str(report)
    checked = {c.function for c in report.checks}
    assert checked == {f"{kind}_sin_layer" for kind in KINDS}
    assert {c.name for c in report.checks if c.function == "hessian_sin_layer"} == {"x", "W"}
    x, W = sample_args(compiled.specs)
    np.testing.assert_allclose(compiled.function("hessian")(x, W)[0][0], hand_hessian_x(x, W),
                               rtol=1e-12)


def hand_hessian_x(x, W):
    """d2/dx2 sum(sin(W x)) = -W^T diag(sin(W x)) W, by hand."""
    return -W.T @ (np.sin(W @ x)[:, None] * W)


def test_verify_compiled_checks_jacobians_of_an_array_output():
    def vector(x):
        return 2 * np.sin(x)

    compiled = compile_gradient(vector, [np.ones(3)], 0, kinds=["jacobian", "vjp", "jvp"])
    report = verify_compiled(compiled, sample_args(compiled.specs), fn=vector)
    assert report.passed and len(report.checks) == 3, str(report)


_RIGHT_BATCHED_MATMUL = batching.BATCHED_JVP["matmul"]


def _batched_matmul_doubled(*args, **params):
    """Batched forward mode's rule for matmul (Hessians, forward Jacobians), doubled."""
    return 2.0 * _RIGHT_BATCHED_MATMUL(*args, **params)


def test_a_wrong_second_order_rule_is_caught_where_the_gradient_is_right(monkeypatch):
    monkeypatch.setitem(batching.BATCHED_JVP, "matmul", _batched_matmul_doubled)
    compiled = compile_gradient(sin_layer, sin_layer_args(), (0, 1), kinds=list(KINDS))
    report = verify_compiled(compiled, sample_args(compiled.specs), fn=sin_layer)
    assert {c.function for c in report.failures} == {"hessian_sin_layer", "jacfwd_sin_layer"}
    x, W = sample_args(compiled.specs)
    assert not np.allclose(compiled.function("hessian")(x, W)[0][0], hand_hessian_x(x, W))


def test_a_wrong_jacobian_function_is_caught():
    compiled = compile_gradient(sin_layer, sin_layer_args(), (0, 1), kinds=["jacobian", "vjp"])
    right = compiled.module.jacobian_sin_layer
    compiled.module.jacobian_sin_layer = lambda x, W: (right(x, W)[0], 0 * W)
    report = verify_compiled(compiled, sample_args(compiled.specs), fn=sin_layer)
    assert [(c.function, c.name) for c in report.failures] == [("jacobian_sin_layer", "W")]


def test_a_module_holding_only_a_hessian_is_checked(wrong_sum_rule):
    x = np.linspace(0, 1, 4)
    compiled = compile_gradient(sum_sin, [x], 0, kinds=["hessian"])
    report = verify_compiled(compiled, [x], fn=sum_sin)
    assert not report.passed
    assert {c.function for c in report.failures} >= {"grad_sum_sin (for the Hessian)"}


@pytest.mark.parametrize("layout", [lambda a: a.T, np.asfortranarray, lambda a: a[:, ::2]])
def test_numerical_gradient_of_a_non_contiguous_array(layout):
    # the differences were written into a copy and lost: all zeros for a transposed input
    x = layout(np.arange(1.0, 13.0).reshape(3, 4))
    np.testing.assert_allclose(numerical_gradient(lambda x: np.sum(x**3), [x]), 3 * x**2,
                               rtol=1e-6)


def _shifted_logistic(w, b, X):
    return np.mean(np.logaddexp(0, X @ w + b))


def test_a_float32_scalar_argument_is_differenced_in_float64():
    # A scalar perturbed as a Python float is weakly typed: b + float32 array stays
    # float32, and a float64-sized step then drowns in rounding (error ~1e-2).
    X = np.array([[0.5, -1.0], [2.0, 0.25], [-1.5, 1.0]], dtype=np.float32)
    w = np.array([0.3, -0.2], dtype=np.float32)
    b = np.float32(0.1)
    z = X.astype(np.float64) @ w.astype(np.float64) + np.float64(b)
    exact = np.mean(1 / (1 + np.exp(-z)))  # d/db mean(softplus(z)) = mean(sigmoid(z))
    assert numerical_gradient(_shifted_logistic, (w, b, X), 1) == pytest.approx(exact, rel=1e-8)
    assert gradcheck(_shifted_logistic, w, b, X, argnums=(0, 1)).passed


def sum_sq(x):
    return np.sum(x**2)


def test_gradcheck_accepts_one_tuple_for_one_argnum():
    x = np.array([1.0, 2.0, 3.0])
    assert symdiff.gradcheck(sum_sq, x, grad_fn=lambda x: (2 * x,)).passed

