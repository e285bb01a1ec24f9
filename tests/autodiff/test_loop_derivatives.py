"""Derivatives of time-stepping programs whose loops fold: gradients against central
differences (and JAX where installed), forward mode, vjp, Hessians."""

import importlib
import inspect
import re
import sys
import warnings

import numpy as np
import pytest
from programs import euler, kalman, leapfrog, p6, rnn

import symdiff
from symdiff.verify.numerical import numerical_gradient

pytestmark = pytest.mark.filterwarnings("ignore::symdiff.CapturedArrayWarning")

#: (function, its inputs, the arguments to differentiate)
PROGRAMS = {
    "kalman_40": (kalman.kalman_loglik, kalman.make_inputs(40), (0,)),
    "leapfrog_100": (leapfrog.leapfrog_loss, leapfrog.make_inputs(100), (0, 1, 2)),
    "rnn_50": (rnn.rnn_loss, rnn.make_inputs(50), (0, 1, 2, 3, 4)),
    "euler_200": (euler.euler_loss, euler.make_inputs(200), (0, 1)),
    "p6_loop": (p6.p6, (np.linspace(-2.5, 2.5, 7), 6), (0,)),
}


def folded(fn, args, argnums) -> str:
    source = symdiff.grad(fn, argnums=argnums).compile(*args).source
    assert re.search(r"for \w+ in (reversed\()?range\(", source), "the loop did not fold"
    return source


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_gradient_equals_central_differences(name):
    fn, args, argnums = PROGRAMS[name]
    folded(fn, args, argnums)
    grads = symdiff.grad(fn, argnums=argnums)(*args)
    for i, g in zip(argnums, grads):
        want = numerical_gradient(fn, list(args), i)
        scale = max(1.0, float(np.max(np.abs(want))))
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-7 * scale,
                                   err_msg=f"{name}: argument {i}")


def jax_version(fn):
    """`fn` with its module's code run again on jax.numpy (helpers included)."""
    jnp = pytest.importorskip("jax.numpy")
    module = importlib.import_module(fn.__module__)
    source = inspect.getsource(module).replace("import numpy as np", "")
    namespace = {"np": jnp, "__name__": f"{fn.__module__}_jax"}
    exec(compile(source, module.__file__, "exec"), namespace)  # noqa: S102 - our own file
    return namespace[fn.__name__]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_gradient_equals_jax(name):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    fn, args, argnums = PROGRAMS[name]
    jax_fn = jax_version(fn)
    static = {i: a for i, a in enumerate(args) if isinstance(a, int)}
    traced = [a for i, a in enumerate(args) if i not in static]
    positions = [i for i in range(len(args)) if i not in static]

    def call(*values):
        full = dict(static)
        full.update(zip(positions, values))
        return jax_fn(*[full[i] for i in range(len(args))])

    want = jax.grad(call, argnums=tuple(positions.index(i) for i in argnums))(*traced)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a captured constant)
        got = symdiff.grad(fn, argnums=argnums)(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-7, atol=1e-10)


def decay(x, W, n):
    h = x
    for _ in range(n):
        h = np.tanh(W @ h) + 0.1 * h
    return np.sum(h**2)


def decay_inputs():
    rng = np.random.default_rng(3)
    return rng.normal(size=3), rng.normal(size=(3, 3)) / 2


def test_jvp_through_a_loop():
    x, W = decay_inputs()
    v = np.array([0.3, -1.0, 0.5])
    value, tangent = symdiff.jvp(lambda x: decay(x, W, 20), (x,), (v,))
    eps = 1e-6
    want = (decay(x + eps * v, W, 20) - decay(x - eps * v, W, 20)) / (2 * eps)
    np.testing.assert_allclose(value, decay(x, W, 20))
    np.testing.assert_allclose(tangent, want, rtol=1e-6)


def test_vjp_of_a_loop_with_an_array_output():
    def trajectory_end(x, W):
        for _ in range(15):
            x = np.sin(W @ x)
        return x

    x, W = decay_inputs()
    ct = np.array([1.0, -2.0, 0.5])
    out, pullback = symdiff.vjp(trajectory_end, x, W)
    dx, dW = pullback(ct)
    np.testing.assert_allclose(out, trajectory_end(x, W))
    np.testing.assert_allclose(dx, numerical_gradient(lambda x: ct @ trajectory_end(x, W), [x]),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dW, numerical_gradient(lambda W: ct @ trajectory_end(x, W), [W]),
                               rtol=1e-6, atol=1e-9)


def test_hessian_through_a_loop():
    x, W = decay_inputs()
    hess = symdiff.hessian(lambda x: decay(x, W, 12))(x)
    grad = symdiff.grad(lambda x: decay(x, W, 12))
    want = np.stack([numerical_gradient(lambda x, i=i: grad(x)[i], [x]) for i in range(3)])
    np.testing.assert_allclose(hess, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(hess, hess.T, rtol=1e-10, atol=1e-12)


def test_hvp_through_a_loop():
    x, W = decay_inputs()
    v = np.array([1.0, 0.0, -1.0])
    got = symdiff.hvp(lambda x: decay(x, W, 12), (x,), (v,))
    grad = symdiff.grad(lambda x: decay(x, W, 12))
    eps = 1e-6
    np.testing.assert_allclose(got, (grad(x + eps * v) - grad(x - eps * v)) / (2 * eps),
                               rtol=1e-5, atol=1e-8)


def test_second_derivative_by_composing_grad():
    def f(a):
        x = 0.5
        for _ in range(10):
            x = x - 0.1 * (x**3 - a)
        return x

    d2 = symdiff.grad(symdiff.grad(f))(2.0)
    eps = 1e-4
    d1 = symdiff.grad(f)
    np.testing.assert_allclose(d2, (d1(2.0 + eps) - d1(2.0 - eps)) / (2 * eps), rtol=1e-6)


def test_a_loop_that_does_not_touch_the_argument_has_a_zero_gradient():
    def f(x, y):
        z = y
        for _ in range(8):
            z = np.cos(z)
        return np.sum(x) + np.sum(z)

    dx, dy = symdiff.grad(f, argnums=(0, 1))(np.ones(2), np.ones(3))
    np.testing.assert_allclose(dx, np.ones(2))
    np.testing.assert_allclose(dy, numerical_gradient(f, [np.ones(2), np.ones(3)], 1),
                               rtol=1e-6)


def test_float32_loops_stay_float32():
    def f(x):
        for _ in range(10):
            x = x * np.float32(0.5) + np.sin(x)
        return np.sum(x)

    x = np.linspace(-1, 1, 4, dtype=np.float32)
    g = symdiff.grad(f)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, numerical_gradient(f, [x.astype(np.float64)]), rtol=1e-3)


def trajectory(x, W):
    for _ in range(15):
        x = np.sin(W @ x)
    return x


def trajectory_inputs():
    rng = np.random.default_rng(0)
    return rng.normal(size=3), 1.2 * np.eye(3) + 0.3 * rng.normal(size=(3, 3))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_through_a_loop(mode):
    x, W = trajectory_inputs()
    got = symdiff.jacobian(trajectory, mode=mode)(x, W)
    want = np.stack([numerical_gradient(lambda x, i=i: trajectory(x, W)[i], [x])
                     for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_mixed_hessian_through_a_loop():
    def f(x, W):
        return np.sum(trajectory(x, W) ** 2)

    x, W = trajectory_inputs()
    d2_dW_dx = symdiff.hessian(f, argnums=(0, 1))(x, W)[1][0]
    dW = symdiff.grad(f, argnums=1)
    want = np.stack([numerical_gradient(lambda x, i=i: dW(x, W).ravel()[i], [x])
                     for i in range(9)]).reshape(3, 3, 3)
    np.testing.assert_allclose(d2_dW_dx, want, rtol=1e-5, atol=1e-4)


def test_under_another_trace_function_loops_unroll_and_are_right():
    def f(x, W):
        return np.sum(trajectory(x, W) ** 2)

    x, W = trajectory_inputs()
    previous = sys.gettrace()
    sys.settrace(lambda *args: None)
    try:
        compiled = symdiff.grad(f).compile(x, W)
    finally:
        sys.settrace(previous)
    assert "for " not in compiled.source.split("def grad_f")[1]
    np.testing.assert_allclose(compiled.grad(x, W), numerical_gradient(f, [x, W]),
                               rtol=1e-6, atol=1e-6)
