"""register_primitive for structured functions (shape=, vjp=, jvp=): the worked
examples of docs/extending.md, checked against central differences; the elementwise
registration next to them; the errors of a wrong registration."""

import numpy as np
import pytest

import symdiff
from symdiff.errors import EmitError, InputError, ShapeError, TraceError, UnsupportedOpError
from symdiff.verify import numerical_gradient


# -- the worked example: log-determinant through Cholesky, one node with a cheap rule --------------
@symdiff.register_primitive(
    shape=lambda a: a[:-2],
    vjp=lambda g, out, a: (g[..., None, None] * np.linalg.inv(a),),
    jvp=lambda tangents, out, a: np.trace(np.linalg.solve(a, tangents[0]), axis1=-2, axis2=-1),
    numpy="2 * np.sum(np.log(np.diagonal(np.linalg.cholesky({a}), axis1=-2, axis2=-1)), axis=-1)",
)
def logdet_spd(a):
    """log det(a) of a symmetric positive definite matrix, through its Cholesky factor."""
    L = np.linalg.cholesky(a)
    return 2 * np.sum(np.log(np.diagonal(L, axis1=-2, axis2=-1)), axis=-1)


def gaussian_nll(X, y, noise):
    K = X @ X.T + noise**2 * np.eye(len(y))
    return 0.5 * (y @ np.linalg.solve(K, y) + logdet_spd(K))


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(5, 3)), rng.normal(size=5), 0.7


def test_logdet_is_one_node_printed_as_given_and_its_gradient_is_right():
    X, y, noise = _data()
    grad = symdiff.grad(gaussian_nll, argnums=(0, 2))
    gX, gnoise = grad(X, y, noise)
    np.testing.assert_allclose(gX, numerical_gradient(gaussian_nll, [X, y, noise], 0),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gnoise, numerical_gradient(gaussian_nll, [X, y, noise], 2),
                               rtol=1e-6)
    assert "2*np.sum(np.log(np.diagonal(np.linalg.cholesky(" in grad.source.replace(" ", "")
    assert "np.linalg.inv(" in grad.source  # the registered rule, not Cholesky's own


def test_logdet_forward_mode_and_hessian_use_the_registered_jvp():
    X, y, noise = _data()
    t = np.random.default_rng(1).normal(size=X.shape)
    _, tangent = symdiff.jvp(gaussian_nll, (X, y, noise), (t, np.zeros(5), 0.0))
    h = 1e-6
    want = (gaussian_nll(X + h * t, y, noise) - gaussian_nll(X - h * t, y, noise)) / (2 * h)
    np.testing.assert_allclose(tangent, want, rtol=1e-6)
    H = symdiff.hessian(lambda s: logdet_spd(np.diag(s) + 1.0))(np.array([1.0, 2.0, 3.0]))
    fd = np.array([numerical_gradient(lambda s, i=i: symdiff.grad(
        lambda r: logdet_spd(np.diag(r) + 1.0))(s)[i], [np.array([1.0, 2.0, 3.0])], 0)
        for i in range(3)])
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7)


# -- a NumPy function without a rule: np.trapezoid, with static keyword parameters -------------------
def _trapezoid_vjp(g, out, y, dx=1.0, axis=-1):
    n = y.shape[axis]
    w = np.full(n, dx)
    w[0] = w[-1] = dx / 2
    w = w.reshape([n if i == axis % y.ndim else 1 for i in range(y.ndim)])
    return (np.expand_dims(g, axis) * w,)


def test_a_numpy_function_registered_with_parameters():
    trapezoid = getattr(np, "trapezoid", None)
    if trapezoid is None:
        pytest.skip("np.trapezoid is NumPy 2")
    symdiff.register_primitive(
        trapezoid,
        shape=lambda y, dx=1.0, axis=-1: tuple(d for i, d in enumerate(y) if i != axis % len(y)),
        vjp=_trapezoid_vjp,
        jvp=lambda tangents, out, y, dx=1.0, axis=-1: np.trapezoid(tangents[0], dx=dx,
                                                                   axis=axis),
        numpy="np.trapezoid({y}, dx={dx}, axis={axis})",
    )

    def energy(u):
        return np.sum(np.trapezoid(u**2, dx=0.25, axis=0)) + np.trapezoid(np.sin(u[:, 0]))

    u = np.random.default_rng(2).normal(size=(6, 3))
    grad = symdiff.grad(energy)
    np.testing.assert_allclose(grad(u), numerical_gradient(energy, [u], 0), rtol=1e-7)
    assert "np.trapezoid(" in grad.source and "dx=0.25, axis=0" in grad.source


def test_elementwise_registration_keeps_working():
    @symdiff.register_primitive(derivatives=[lambda x: 1 / np.cosh(x) ** 2],
                                numpy="np.tanh({x})")
    def my_tanh(x):
        return np.tanh(x)

    x = np.linspace(-1, 1, 4)
    np.testing.assert_allclose(symdiff.grad(lambda v: np.sum(my_tanh(v)))(x),
                               1 / np.cosh(x) ** 2, rtol=1e-12)


# -- mistakes ------------------------------------------------------------------------------------------
def test_registration_mistakes_are_typed_errors():
    def f(a):
        return a

    with pytest.raises(InputError, match="not both"):
        symdiff.register_primitive(f, derivatives=[lambda x: 1], shape=lambda a: a,
                                   vjp=lambda g, o, a: (g,), numpy="{a}")
    with pytest.raises(InputError, match="needs derivatives"):
        symdiff.register_primitive(f)
    with pytest.raises(EmitError, match="give numpy="):
        symdiff.register_primitive(f, shape=lambda a: a, vjp=lambda g, o, a: (g,))
    with pytest.raises(EmitError, match="import only NumPy"):
        symdiff.register_primitive(f, shape=lambda a: a, vjp=lambda g, o, a: (g,),
                                   numpy="os.system({a})")


def test_a_rule_of_the_wrong_shape_is_named():
    bad = symdiff.register_primitive(lambda a: a * 2.0, shape=lambda a: a,
                                     vjp=lambda g, out, a: (g[0],), numpy="2.0 * {0}")
    with pytest.raises(ShapeError, match="rule registered for <lambda> has shape"):
        symdiff.grad(lambda x: np.sum(bad(x)))(np.ones(3))


def test_without_jvp_forward_mode_says_what_to_add():
    twice = symdiff.register_primitive(lambda a: a * 2.0, shape=lambda a: a,
                                       vjp=lambda g, out, a: (2.0 * g,), numpy="2.0 * {0}")
    np.testing.assert_allclose(symdiff.grad(lambda x: np.sum(twice(x)))(np.ones(3)), 2.0)
    with pytest.raises(TraceError, match="register it again with jvp="):
        symdiff.jvp(lambda x: np.sum(twice(x)), (np.ones(3),), (np.ones(3),))


def test_the_unsupported_error_names_the_registration_that_applies():
    with pytest.raises(UnsupportedOpError, match=r"register_primitive\(np.linalg.eigvals, "
                                                 r"shape=\.\.\., vjp=\.\.\."):
        symdiff.grad(lambda a: np.sum(np.linalg.eigvals(a)))(np.eye(2))
    with pytest.raises(UnsupportedOpError, match=r"register_primitive\(np.spacing, "
                                                 r"derivatives="):
        symdiff.grad(lambda a: np.sum(np.spacing(a)))(np.ones(2))


# -- a user's conv2d: its VJP written with conv2d itself ---------------------------------------------
def _conv2d_vjp(g, out, image, kernel):
    kh, kw = kernel.shape
    padded = np.pad(g, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    return conv2d(padded, kernel[::-1, ::-1]), conv2d(image, g)


@symdiff.register_primitive(
    shape=lambda image, kernel: (image[0] - kernel[0] + 1, image[1] - kernel[1] + 1),
    vjp=_conv2d_vjp,
    jvp=lambda tangents, out, image, kernel: conv2d(tangents[0], kernel)
    + conv2d(image, tangents[1]),
    numpy="np.einsum('ijkl,kl->ij', "
          "np.lib.stride_tricks.sliding_window_view({image}, {kernel}.shape), {kernel})",
)
def conv2d(image, kernel):
    """Valid 2-D cross-correlation, as a CNN layer computes it."""
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def edge_loss(kernel, image, target):
    return np.mean((np.tanh(conv2d(image, kernel)) - target) ** 2)


def test_a_users_conv2d_with_a_vjp_written_with_itself():
    rng = np.random.default_rng(4)
    image, kernel = rng.normal(size=(7, 6)), rng.normal(size=(3, 2)) * 0.3
    target = rng.normal(size=(5, 5)) * 0.5
    grad = symdiff.grad(edge_loss, argnums=(0, 1))
    gk, gi = grad(kernel, image, target)
    np.testing.assert_allclose(gk, numerical_gradient(edge_loss, [kernel, image, target], 0),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gi, numerical_gradient(edge_loss, [kernel, image, target], 1),
                               rtol=1e-6, atol=1e-9)
    assert "sliding_window_view(" in grad.source
    t = rng.normal(size=kernel.shape)
    _, tangent = symdiff.jvp(edge_loss, (kernel, image, target),
                             (t, np.zeros_like(image), np.zeros_like(target)))
    h = 1e-6
    want = (edge_loss(kernel + h * t, image, target) - edge_loss(kernel - h * t, image,
                                                                   target)) / (2 * h)
    np.testing.assert_allclose(tangent, want, rtol=1e-6)


def scaled_twice(a):
    return 2.0 * a


scaled_twice = symdiff.register_primitive(
    scaled_twice, shape=lambda s: s, vjp=lambda g, out, a: (2.0 * g,), numpy="{0} * 2.0")


def test_a_printed_form_with_an_operator_parenthesizes_a_compound_input():
    # (the input a + b printed into "{0} * 2.0" read a + b * 2.0: a wrong value and
    # gradient, silently)
    def f(a, b):
        return np.sum(scaled_twice(a + b) ** 2)

    a, b = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    compiled = symdiff.grad(f, argnums=(0, 1)).compile(a, b)
    assert "(a + b) * 2.0" in compiled.source
    assert compiled.forward(a, b) == pytest.approx(np.sum((2 * (a + b)) ** 2))  # by hand
    for g in compiled.grad(a, b):
        np.testing.assert_allclose(g, 8 * (a + b))  # d/da (2(a + b))^2 = 8 (a + b)
