"""The extension API: one call registers an elementwise function with its
derivative and its printed NumPy form. Expected derivatives are closed forms or
central differences."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import symdiff
from symdiff import EmitError, InputError, UnsupportedOpError
from symdiff.trace.tracer import FUNCTIONS, UFUNCS
from symdiff.verify import numerical_gradient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
EXAMPLE = os.path.join(ROOT, "examples", "custom_primitive.py")


@pytest.fixture(autouse=True)
def fresh_tables():
    """Registrations are global; each test starts from and leaves the built-in set."""
    saved = dict(UFUNCS), dict(FUNCTIONS)
    yield
    UFUNCS.clear()
    UFUNCS.update(saved[0])
    FUNCTIONS.clear()
    FUNCTIONS.update(saved[1])


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def register_softplus():
    @symdiff.register_primitive(derivatives=[lambda x: sigmoid(x)],
                                numpy="np.logaddexp(0, {x})")
    def softplus(x):
        return np.logaddexp(0.0, x)

    return softplus


def test_a_registered_function_is_one_call_with_the_given_derivative():
    softplus = register_softplus()

    def f(x):
        return np.sum(softplus(2 * x))

    x = np.array([-3.0, 0.0, 1.5])
    g = symdiff.grad(f)
    np.testing.assert_allclose(g(x), 2 * sigmoid(2 * x), rtol=1e-14)
    forward = g.source.split("def f(")[1].split("def grad_f")[0]
    assert "np.logaddexp(0, 2*x)" in forward
    np.testing.assert_array_equal(softplus(x), np.logaddexp(0.0, x))  # plain call: unchanged


def test_second_derivatives_go_through_the_registered_derivative():
    softplus = register_softplus()
    x = np.array([-1.0, 0.5])
    hessian = symdiff.hessian(lambda x: np.sum(softplus(x)))(x)
    np.testing.assert_allclose(hessian, np.diag(sigmoid(x) * (1 - sigmoid(x))), rtol=1e-12)


def test_a_numpy_function_without_a_rule_becomes_traceable():
    def f(x):
        return np.sum(np.fmod(x, 1.5) * x)

    with pytest.raises(UnsupportedOpError, match="register_primitive"):
        symdiff.grad(f)(np.ones(2))
    symdiff.register_primitive(np.fmod, derivatives=[lambda x, y: 1.0 + 0.0 * x,
                                                     lambda x, y: -np.trunc(x / y)])
    x = np.array([0.3, 1.7, -0.6])
    g = symdiff.grad(f)
    np.testing.assert_allclose(g(x), numerical_gradient(f, [x]), rtol=1e-7)
    assert "np.fmod(x, 1.5)" in g.source


def test_a_ufunc_with_two_arguments_and_a_derivative_that_calls_it():
    symdiff.register_primitive(np.heaviside, derivatives=[lambda x, h: 0.0 * x,
                                                           lambda x, h: np.where(x == 0, 1.0, 0.0)])

    def f(x, h):
        return np.sum(np.heaviside(x, h) * x)

    x, h = np.array([-1.0, 0.0, 2.0]), 0.25
    dx, dh = symdiff.grad(f, argnums=(0, 1))(x, h)
    np.testing.assert_array_equal(dx, np.heaviside(x, h))
    assert dh == 0.0  # only x = 0 reads h, and there x = 0


def test_positional_placeholders_and_self_reference():
    @symdiff.register_primitive(
        derivatives=[lambda a, b: np.exp(a - smooth_max(a, b)),
                     lambda a, b: np.exp(b - smooth_max(a, b))],
        numpy="np.logaddexp({0}, {1})")
    def smooth_max(a, b):
        return np.logaddexp(a, b)

    def f(a, b):
        return np.sum(smooth_max(a, b) ** 2)

    a, b = np.array([0.5, -2.0]), np.array([1.0, 3.0])
    got = symdiff.grad(f, argnums=(0, 1))(a, b)
    for i, g in enumerate(got):
        np.testing.assert_allclose(g, numerical_gradient(f, [a, b], i), rtol=1e-7)


@pytest.mark.parametrize("kwargs, error, what", [
    (dict(derivatives=[], numpy="np.exp({x})"), InputError, "one derivative per argument"),
    (dict(derivatives=[np.cos]), EmitError, "numpy=..."),
    (dict(derivatives=[np.cos], numpy="scipy.special.erf({x})"), EmitError, "only NumPy"),
    (dict(derivatives=[np.cos], numpy="np.sin(2)"), EmitError, "does not use x"),
    (dict(derivatives=[np.cos], numpy="np.sin({y})"), EmitError, "not an argument"),
    (dict(derivatives=[np.cos], numpy="np.sin({x})", kind="int"), InputError, "kind"),
])
def test_registration_mistakes_are_typed(kwargs, error, what):
    def mine(x):
        return np.sin(x)

    with pytest.raises(error) as info:
        symdiff.register_primitive(mine, **kwargs)
    assert what in str(info.value)


def test_a_derivative_must_be_elementwise():
    @symdiff.register_primitive(derivatives=[lambda x: np.cumsum(x)], numpy="np.sin({x})")
    def mine(x):
        return np.sin(x)

    with pytest.raises(InputError, match="must be elementwise"):
        symdiff.grad(lambda x: np.sum(mine(x)))(np.ones(2))


def test_the_example_prints_the_gradient_of_its_loss():
    out = subprocess.run([sys.executable, EXAMPLE], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    printed = eval(out.split("dloss_dw = ", 1)[1].splitlines()[0])  # noqa: S307 (a list)
    spec = importlib.util.spec_from_file_location("custom_primitive", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = module.example_inputs_loss()
    # The function itself runs on NumPy arrays: its differences are symdiff-free.
    np.testing.assert_allclose(printed, numerical_gradient(module.loss, args, 0), rtol=1e-7)
    assert "np.logaddexp(0," in out and "np.sinc(" in out


def test_a_template_with_operators_parenthesizes_compound_arguments():
    # numpy="2*{x} + 1" must print 2*(a + b) + 1 for the argument a + b, not 2*a + b + 1
    affine = symdiff.register_primitive(lambda x: 2 * x + 1, derivatives=[lambda x: 2.0 + 0 * x],
                                        numpy="2*{x} + 1")

    def f(a, b):
        return np.sum(affine(a + b) ** 2)

    a, b = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    compiled = symdiff.grad(f, argnums=(0, 1)).compile(a, b)
    value = compiled.forward(a, b)
    assert value == pytest.approx(np.sum((2 * (a + b) + 1) ** 2))  # by hand
    for g in compiled.grad(a, b):
        np.testing.assert_allclose(g, 4 * (2 * (a + b) + 1))  # 2*(2s + 1)*2, by hand
