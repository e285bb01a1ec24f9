"""jacobian, hessian, vjp, jvp, hvp, stop_gradient and composed transforms."""

import ast

import numpy as np
import pytest

import symdiff
from symdiff.verify import numerical_gradient


def fd_jacobian(f, args, argnum=0, h=1e-6):
    """Central-difference Jacobian, shape out.shape + arg.shape (independent of symdiff)."""
    args = [np.array(a, dtype=float) for a in args]
    x = args[argnum]
    out_shape = np.shape(f(*args))
    jac = np.zeros(out_shape + x.shape)
    for idx in np.ndindex(x.shape or (1,)):
        idx = idx if x.shape else ()
        plus, minus = [a.copy() for a in args], [a.copy() for a in args]
        plus[argnum][idx] += h
        minus[argnum][idx] -= h
        col = (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * h)
        jac[(...,) + idx] = col
    return jac


def quartic(x):
    return 2 * x**4 + x**3 + 3 * x**2 + 5 * x + 1


# -- the tutorial's vector-Jacobian products -----------------------------------------------
def test_vjp_chain_with_ones():
    out, vjp_fn = symdiff.vjp(lambda x: (2 * x + 3) ** 2, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(out, [25, 49, 81])
    (g,) = vjp_fn(np.ones(3))
    np.testing.assert_allclose(g, [20, 28, 36])  # 4 (2x + 3)


def test_vjp_weighted():
    x, v = np.array([1.0, 2.0, 3.0]), np.array([0.1, 1.0, 0.001])
    (g,) = symdiff.vjp(lambda x: 2 * (x + 2) ** 2, x)[1](v)
    np.testing.assert_allclose(g, 4 * (x + 2) * v)


def test_vjp_on_identity_matrix():
    (g,) = symdiff.vjp(lambda inp: (inp + 1) ** 2, np.eye(5))[1](np.ones((5, 5)))
    np.testing.assert_allclose(g, 2 + 2 * np.eye(5))  # 2 (inp + 1): 4 on the diagonal


def test_cotangent_of_wrong_shape_names_expected_shape():
    _, vjp_fn = symdiff.vjp(lambda x: x**2, np.ones(3))
    with pytest.raises(ValueError, match=r"cotangent must have shape \(3,\), got \(4,\)"):
        vjp_fn(np.ones(4))


def test_tangent_of_wrong_shape_names_expected_shape():
    with pytest.raises(ValueError, match=r"tangent_x must have shape \(3,\), got \(2,\)"):
        symdiff.jvp(lambda x: x**2, (np.ones(3),), (np.ones(2),))


# -- higher order ------------------------------------------------------------------------
def test_second_and_third_derivatives():
    d2 = symdiff.grad(symdiff.grad(quartic))
    d3 = symdiff.grad(symdiff.grad(symdiff.grad(quartic)))
    assert d2(2.0) == pytest.approx(114.0)  # 24x^2 + 6x + 6
    assert d3(2.0) == pytest.approx(102.0)  # 48x + 6
    assert symdiff.hessian(quartic)(2.0) == pytest.approx(114.0)
    assert symdiff.hvp(quartic, (2.0,), (0.5,)) == pytest.approx(57.0)


def logistic_loss(w, b, X, y):
    logits = X @ w + b
    return np.mean(np.log(1 + np.exp(logits)) - y * logits)


@pytest.fixture
def logistic_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 4))
    y = (rng.random(40) > 0.5).astype(float)
    return rng.normal(size=4) * 0.5, 0.2, X, y


def test_logistic_hessian_closed_form(logistic_data):
    w, b, X, y = logistic_data
    hess = symdiff.hessian(logistic_loss)
    H = hess(w, b, X, y)
    s = 1 / (1 + np.exp(-(X @ w + b)))
    np.testing.assert_allclose(H, X.T @ ((s * (1 - s) / len(y))[:, None] * X), rtol=1e-10)
    grad = symdiff.grad(logistic_loss)
    np.testing.assert_allclose(H, fd_jacobian(lambda w: grad(w, b, X, y), [w]), rtol=1e-5,
                               atol=1e-8)
    # One matrix product for the Hessian (plus X @ w for the logits): no per-row loop,
    # no n gradient evaluations.
    tree = ast.parse(hess.source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("hess"))
    body = [ast.unparse(s) for s in fn.body[2:]]
    matmuls = sum(isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult)
                  for s in fn.body for n in ast.walk(s))
    assert matmuls == 2, body
    assert any("X.T @" in line for line in body), body
    assert not any(isinstance(n, (ast.For, ast.While)) for n in ast.walk(fn))


def test_hessian_with_tuple_argnums(logistic_data):
    w, b, X, y = logistic_data
    (hww, hwb), (hbw, hbb) = symdiff.hessian(logistic_loss, argnums=(0, 1))(w, b, X, y)
    gw = symdiff.grad(logistic_loss, argnums=0)
    gb = symdiff.grad(logistic_loss, argnums=1)
    np.testing.assert_allclose(hww, fd_jacobian(lambda w: gw(w, b, X, y), [w]), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(hwb, fd_jacobian(lambda b: gw(w, b, X, y), [b]), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(hbw, fd_jacobian(lambda w: gb(w, b, X, y), [w]), rtol=1e-5, atol=1e-8)
    assert hbb == pytest.approx(fd_jacobian(lambda b: gb(w, b, X, y), [b]), rel=1e-5)


def test_jacobian_of_grad_is_hessian(logistic_data):
    w, b, X, y = logistic_data
    H1 = symdiff.jacobian(symdiff.grad(logistic_loss))(w, b, X, y)
    H2 = symdiff.hessian(logistic_loss)(w, b, X, y)
    np.testing.assert_allclose(H1, H2, rtol=1e-12)


# -- Jacobians -------------------------------------------------------------------------
def softmax(z):
    e = np.exp(z)
    return e / np.sum(e)


def test_softmax_jacobian():
    z = np.array([0.1, 0.5, -0.2, 1.3])
    J = symdiff.jacobian(softmax)(z)
    p = softmax(z)
    np.testing.assert_allclose(J, np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(J, fd_jacobian(softmax, [z]), rtol=1e-6, atol=1e-9)


def layer(W, b, x):
    return np.tanh(W @ x + b)


def test_vector_model_jacobians():
    rng = np.random.default_rng(2)
    W, b, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4)
    JW, Jb, Jx = symdiff.jacobian(layer, argnums=(0, 1, 2))(W, b, x)
    assert JW.shape == (3, 3, 4) and Jb.shape == (3, 3) and Jx.shape == (3, 4)
    for argnum, J in enumerate((JW, Jb, Jx)):
        np.testing.assert_allclose(J, fd_jacobian(layer, [W, b, x], argnum), rtol=1e-6, atol=1e-9)


def test_matrix_input_jacobian():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(2, 3))

    def f(A):
        return np.sum(A.T @ A, axis=0) * A.mean()

    np.testing.assert_allclose(symdiff.jacobian(f)(A), fd_jacobian(f, [A]), rtol=1e-6, atol=1e-9)


def test_jvp_and_vjp_agree():
    rng = np.random.default_rng(4)
    W, b, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4)
    tangents = (rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4))
    v = rng.normal(size=3)
    out, jt = symdiff.jvp(layer, (W, b, x), tangents)
    np.testing.assert_allclose(out, layer(W, b, x))
    cts = symdiff.vjp(layer, W, b, x)[1](v)
    lhs = v @ jt
    rhs = sum(np.sum(c * t) for c, t in zip(cts, tangents))
    assert lhs == pytest.approx(rhs, rel=1e-12)
    # and both against finite differences of the model along the tangent
    h = 1e-6
    fd = (layer(*(p + h * t for p, t in zip((W, b, x), tangents)))
          - layer(*(p - h * t for p, t in zip((W, b, x), tangents)))) / (2 * h)
    np.testing.assert_allclose(jt, fd, rtol=1e-6, atol=1e-9)


# -- stop_gradient ---------------------------------------------------------------------
def test_stop_gradient_blocks_gradient():
    def f(x):
        return x * symdiff.stop_gradient(x)

    g = symdiff.grad(f)
    assert g(3.0) == pytest.approx(3.0)  # d/dx [x * c] with c = x held fixed
    assert "stop_gradient" in g.source
    np.testing.assert_allclose(symdiff.grad(lambda x: np.sum(symdiff.stop_gradient(x) ** 2))(np.ones(2)),
                               [0.0, 0.0])
    assert symdiff.stop_gradient(np.ones(2)) is not None  # outside a trace: the value


def test_grad_of_vector_output_suggests_jacobian_or_vjp():
    with pytest.raises(symdiff.TraceError, match="jacobian.*vjp"):
        symdiff.grad(softmax)(np.ones(3))


def test_modules_hold_each_function():
    compiled = symdiff.compile_gradient(quartic, [2.0], 0,
                                        kinds=("grad", "hessian", "jacobian", "hvp"))
    for name in ("quartic", "grad_quartic", "hessian_quartic", "jacobian_quartic", "hvp_quartic"):
        assert f"def {name}(" in compiled.source
    assert compiled.function("hessian")(2.0) == pytest.approx(114.0)
    assert numerical_gradient(quartic, [2.0]) == pytest.approx(compiled.function("jacobian")(2.0))


def test_hessian_through_ops_without_batched_rules():
    """max reductions and slices have only plain forward rules: columns are unrolled."""
    def g(x):
        return np.sum(np.max(x, axis=1) ** 2) + np.sum(x[1:] ** 3)

    x = np.array([[1.0, 2.0], [3.0, 5.0], [0.5, 4.0]])
    H = symdiff.hessian(g)(x)
    grad = symdiff.grad(g)
    np.testing.assert_allclose(H, fd_jacobian(lambda x: grad(x), [x]), rtol=1e-6, atol=1e-8)


def test_where_gradient_keeps_the_input_dtype():
    def relu_sum(x):
        return np.sum(np.where(x > 0, x, 0))

    for dtype in (np.float64, np.float32):
        g = symdiff.grad(relu_sum)(np.array([-1.0, 2.0], dtype=dtype))
        assert g.dtype == dtype
        np.testing.assert_array_equal(g, [0.0, 1.0])


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_modes_agree_with_finite_differences(mode):
    rng = np.random.default_rng(5)
    W, b, x = rng.normal(size=(2, 5)), rng.normal(size=2), rng.normal(size=5)
    JW, Jx = symdiff.jacobian(layer, argnums=(0, 2), mode=mode)(W, b, x)
    np.testing.assert_allclose(JW, fd_jacobian(layer, [W, b, x], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(Jx, fd_jacobian(layer, [W, b, x], 2), rtol=1e-6, atol=1e-9)


def test_jacfwd_jacrev_names_and_reverse_limit():
    z = np.array([0.3, -1.0, 2.0])
    p = softmax(z)
    for transform in (symdiff.jacfwd, symdiff.jacrev):
        np.testing.assert_allclose(transform(softmax)(z), np.diag(p) - np.outer(p, p),
                                   rtol=1e-10, atol=1e-14)
    big = symdiff.jacrev(lambda x: np.tanh(x))
    with pytest.raises(symdiff.InputError, match="mode='forward'"):
        big(np.ones(100))
    with pytest.raises(symdiff.InputError, match="choose 'auto'"):
        symdiff.jacobian(softmax, mode="sideways")


# -- every transform composes with every other -------------------------------------------
def fd_grad(f, x, h=1e-6):
    """Central differences of a scalar function of one array (independent of symdiff)."""
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


X0 = np.array([0.3, -0.7, 1.1])
T0 = np.array([1.0, 0.5, -2.0])


def wave(x):
    return np.sin(x) * x


def scalar_wave(x):
    return np.sum(np.sin(x) ** 2 * x)


@pytest.mark.parametrize("name, fn", [
    ("grad of jvp", lambda x, t: np.sum(symdiff.jvp(wave, (x,), (t,))[1] ** 2)),
    ("grad of vjp", lambda x, t: np.sum(symdiff.vjp(wave, x)[1](t)[0] ** 2)),
    ("grad of hvp", lambda x, t: np.sum(symdiff.hvp(scalar_wave, (x,), (t,)) ** 2)),
    ("grad of jacobian", lambda x, t: t @ symdiff.jacobian(wave)(x) @ t),
    ("grad of hessian", lambda x, t: t @ symdiff.hessian(scalar_wave)(x) @ t),
    ("grad of value_and_grad", lambda x, t: symdiff.value_and_grad(scalar_wave)(x)[1] @ t),
    ("grad of jvp of grad", lambda x, t: np.sum(
        symdiff.jvp(symdiff.grad(scalar_wave), (x,), (t,))[1] * x)),
])
def test_grad_composes_with_every_transform(name, fn):
    at = [X0, T0]
    for argnum in (0, 1):  # through the primal and through the tangent/cotangent
        g = symdiff.grad(fn, argnums=argnum)(X0, T0)

        def partial(v, argnum=argnum):
            args = list(at)
            args[argnum] = v
            return fn(*args)

        np.testing.assert_allclose(g, fd_grad(partial, at[argnum]), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{name}, d/d arg {argnum}")


@pytest.mark.filterwarnings("ignore::symdiff.CapturedArrayWarning")  # T0, a constant here
def test_transforms_of_gradient_programs_agree_with_finite_differences():
    grad_f = symdiff.grad(scalar_wave)
    H = fd_jacobian(grad_f, [X0])
    # jvp and vjp of a gradient are H t and H^T t (H symmetric)
    out, ht = symdiff.jvp(grad_f, (X0,), (T0,))
    np.testing.assert_allclose(out, fd_grad(scalar_wave, X0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ht, H @ T0, rtol=1e-6, atol=1e-8)
    (vh,) = symdiff.vjp(grad_f, X0)[1](T0)
    np.testing.assert_allclose(vh, T0 @ H, rtol=1e-6, atol=1e-8)
    # a jvp of a jvp is a second directional derivative: d2/ds2 f(x + s t) at s = 0
    _, second = symdiff.jvp(lambda x: symdiff.jvp(scalar_wave, (x,), (T0,))[1], (X0,), (T0,))
    h = 1e-4
    want = (scalar_wave(X0 + h * T0) - 2 * scalar_wave(X0) + scalar_wave(X0 - h * T0)) / h**2
    assert second == pytest.approx(want, rel=1e-5)
    # a Jacobian of a vjp (the transpose of the Jacobian, row by row)
    J = symdiff.jacobian(lambda x: symdiff.vjp(wave, x)[1](T0)[0])(X0)
    np.testing.assert_allclose(J, fd_jacobian(lambda x: fd_jacobian(wave, [x]).T @ T0, [X0],
                                              h=1e-4), rtol=1e-5, atol=1e-6)


def test_a_nested_cotangent_of_the_wrong_shape_names_the_callers_line():
    def f(x):
        return np.sum(symdiff.vjp(wave, x)[1](np.ones(2))[0])  # wrong cotangent

    with pytest.raises(symdiff.ShapeError, match=r"cotangent must have shape \(3,\), got \(2,\)") \
            as info:
        symdiff.grad(f)(X0)
    lines, start = __import__("inspect").getsourcelines(f)
    assert f"{__file__}:{start + 1}:" in str(info.value)


def test_tangent_and_cotangent_errors_are_typed_and_located():
    line = None
    try:
        line = __import__("inspect").currentframe().f_lineno + 1
        symdiff.jvp(wave, (X0,), (np.ones(2),))
    except symdiff.ShapeError as err:
        assert f"{__file__}:{line}:" in str(err) and "tangent_x must have shape (3,)" in str(err)
    else:
        pytest.fail("no ShapeError")
    _, vjp_fn = symdiff.vjp(wave, X0)
    with pytest.raises(symdiff.ShapeError, match=r"cotangent must have shape \(3,\), got \(\)"):
        vjp_fn(1.0)
    with pytest.raises(symdiff.ShapeError, match=r"tangent_x must have shape \(3,\)"):
        symdiff.hvp(scalar_wave, (X0,), (np.ones(4),))
    with pytest.raises(symdiff.InputError, match="got dtype complex128"):
        vjp_fn(np.ones(3, dtype=complex))
    with pytest.raises(symdiff.InputError, match=r"primals must be a tuple.*jvp\(f, \(x,\), \(t,\)\)"):
        symdiff.jvp(wave, X0, T0)


def _raises_at_next_line(error, match):
    """pytest.raises that also checks the message names the line after the caller's."""
    import contextlib
    import inspect
    import re

    line = inspect.currentframe().f_back.f_lineno + 1

    @contextlib.contextmanager
    def check():
        with pytest.raises(error) as info:
            yield info
        message = str(info.value)
        assert f"{__file__}:{line}:" in message, message
        assert re.search(match, message), message

    return check()


def test_a_tangent_of_another_float_width_is_refused_as_jax_does():
    """jax.jvp raises when a tangent's dtype differs from its primal's."""
    t32, x32 = T0.astype(np.float32), X0.astype(np.float32)
    want = (r"tangent_x has dtype float32, but the primal x of wave is float64; jvp .*"
            r"\.astype\(np\.float64\)")
    with _raises_at_next_line(symdiff.InputError, want):
        symdiff.jvp(wave, (X0,), (t32,))
    want = r"tangent_x has dtype float64, but the primal x of wave is float32; .*np\.float32"
    with _raises_at_next_line(symdiff.InputError, want):
        symdiff.jvp(wave, (x32,), (T0,))
    with _raises_at_next_line(symdiff.InputError, r"tangent_x has dtype float32.*64; hvp"):
        symdiff.hvp(scalar_wave, (X0,), (t32,))
    with _raises_at_next_line(symdiff.InputError, r"float64, but the primal x .* float32"):
        symdiff.jvp(wave, (np.float32(0.5),), (np.float64(1.0),))


def test_a_cotangent_of_another_float_width_than_the_output_is_refused():
    """jax.vjp's pullback raises when the cotangent's dtype differs from the output's."""
    _, vjp64 = symdiff.vjp(wave, X0)
    _, vjp32 = symdiff.vjp(wave, X0.astype(np.float32))
    want = (r"cotangent has dtype float32, but the output of wave is float64; vjp .*"
            r"\.astype\(np\.float64\)")
    with _raises_at_next_line(symdiff.InputError, want):
        vjp64(T0.astype(np.float32))
    want = r"cotangent has dtype float64, but the output of wave is float32"
    with _raises_at_next_line(symdiff.InputError, want):
        vjp32(T0)


def test_a_nested_tangent_of_another_float_width_names_the_callers_line():
    def f(x, t):
        return np.sum(symdiff.jvp(wave, (x,), (t,))[1])

    with pytest.raises(symdiff.InputError, match="tangent_x has dtype float32") as info:
        symdiff.grad(f)(X0, T0.astype(np.float32))
    start = __import__("inspect").getsourcelines(f)[1]
    assert f"{__file__}:{start + 1}:" in str(info.value)


def test_python_numbers_and_integer_directions_take_the_primals_dtype():
    """They have no float width of their own (JAX's weak types): no upcast, no error."""
    x32 = X0.astype(np.float32)
    slope = np.sin(X0) + X0 * np.cos(X0)  # d/dx x sin x, by hand
    for t in ([1, 2, 3], np.array([1, 2, 3]), [1.0, 2.0, 3.0]):
        out, tangent = symdiff.jvp(wave, (x32,), (t,))
        assert out.dtype == tangent.dtype == np.float32
        np.testing.assert_allclose(tangent, slope * [1, 2, 3], rtol=1e-6)
    (ct,) = symdiff.vjp(wave, x32)[1]([1, 2, 3])
    assert ct.dtype == np.float32
    np.testing.assert_allclose(ct, slope * [1, 2, 3], rtol=1e-6)
    out, tangent = symdiff.jvp(lambda x: x**3, (np.float32(2.0),), (1.0,))
    assert tangent.dtype == np.float32 and tangent == pytest.approx(12.0)  # 3x^2


def test_hvp_of_a_vector_output_says_hvp_and_what_to_use_instead():
    start = __import__("inspect").getsourcelines(wave)[1]
    for call in (lambda: symdiff.hvp(wave, (X0,), (T0,)),
                 lambda: symdiff.grad(lambda x, t: np.sum(symdiff.hvp(wave, (x,), (t,))))(X0, T0)):
        with pytest.raises(symdiff.TraceError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"{__file__}:{start}: hvp needs a scalar output, but wave "
                                  "returns an array of shape (3,)"), message
        assert "grad needs" not in message
        assert "symdiff.jvp(symdiff.jacobian(f), primals, tangents)" in message
        assert "np.sum" in message


def test_the_suggested_replacement_for_hvp_of_a_vector_output():
    """d/dt J(x + t v) at t = 0; for x sin x, J = diag(sin x + x cos x), so the result
    is diag((2 cos x - x sin x) v) by hand."""
    _, got = symdiff.jvp(symdiff.jacobian(wave), (X0,), (T0,))
    np.testing.assert_allclose(got, np.diag((2 * np.cos(X0) - X0 * np.sin(X0)) * T0),
                               rtol=1e-12, atol=1e-12)


def test_hessian_of_a_vector_output_is_out_shape_plus_arg_shape_twice():
    """As jax.hessian (jacfwd of jacrev): every output element's Hessian."""
    rng = np.random.default_rng(6)
    W, x = rng.normal(size=(2, 3)), rng.normal(size=3)

    def f(x, W):
        return np.tanh(W @ x) * x[:2]

    (hxx, hxw), (hwx, hww) = symdiff.hessian(f, argnums=(0, 1))(x, W)
    assert hxx.shape == (2, 3, 3) and hxw.shape == (2, 3, 2, 3) and hww.shape == (2, 2, 3, 2, 3)
    jx, jw = (symdiff.jacobian(f, argnums=i) for i in (0, 1))
    np.testing.assert_allclose(hxx, fd_jacobian(lambda x: jx(x, W), [x]), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hxw, fd_jacobian(lambda W: jx(x, W), [W]), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hwx, fd_jacobian(lambda x: jw(x, W), [x]), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hww, fd_jacobian(lambda W: jw(x, W), [W]), rtol=1e-6, atol=1e-8)
    # by hand for x0 * x**2: f0 = x0**3, f1 = x0 * x1**2
    np.testing.assert_allclose(symdiff.hessian(lambda x: x[0] * x**2)(np.array([1.0, 3.0])),
                               [[[6, 0], [0, 0]], [[0, 6], [6, 2]]])


def test_logistic_hessian_in_logaddexp_form_is_one_weighted_gram_matrix(logistic_data):
    """The loss as the issue writes it, mean(logaddexp(0, X@w + b) - y*(X@w + b)): its
    Hessian is X.T @ ((s*(1-s)/n)[:, None] * X), s the sigmoid of the logits."""
    w, b, X, y = logistic_data

    def loss(w, b, X, y):
        return np.mean(np.logaddexp(0, X @ w + b) - y * (X @ w + b))

    compiled = symdiff.hessian(loss).compile(w, b, X, y)
    H = compiled.function("hessian")(w, b, X, y)
    s = 1 / (1 + np.exp(-(X @ w + b)))
    np.testing.assert_allclose(H, X.T @ ((s * (1 - s) / len(y))[:, None] * X), rtol=1e-10)
    grad = symdiff.grad(loss)
    np.testing.assert_allclose(H, fd_jacobian(lambda w: grad(w, b, X, y), [w]), rtol=1e-5,
                               atol=1e-8)
    fn = next(n for n in ast.parse(compiled.source).body
              if isinstance(n, ast.FunctionDef) and n.name == "hessian_loss")
    products = [n for n in ast.walk(fn) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult)]
    assert len(products) == 2  # X @ w for the logits, one product for the Hessian
    gram = next(p for p in products if ast.unparse(p.left) == "X.T")
    # the right factor is X scaled row-wise by one weight vector d: X * d[:, None]
    right = gram.right
    assert isinstance(right, ast.BinOp) and isinstance(right.op, ast.Mult)
    scaled = [ast.unparse(o) for o in (right.left, right.right)]
    assert "X" in scaled, scaled
    weight = next(o for o in (right.left, right.right) if ast.unparse(o) != "X")
    assert ast.unparse(weight).endswith("[:, None]"), ast.unparse(weight)
    assert not any(isinstance(n, (ast.For, ast.While, ast.ListComp)) for n in ast.walk(fn))


def test_the_module_holds_every_derivative_as_a_function():
    x = np.array([0.5, -1.0, 2.0])

    def f(x):
        return np.sum(np.sin(x) * x)

    kinds = ("grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "hvp")
    compiled = symdiff.compile_gradient(f, [x], 0, kinds=kinds)
    for kind in kinds:
        assert f"def {kind}_f(" in compiled.source
    g = np.sin(x) + x * np.cos(x)  # by hand
    H = np.diag(2 * np.cos(x) - x * np.sin(x))
    t = np.array([1.0, 2.0, -1.0])
    np.testing.assert_allclose(compiled.function("vjp")(x, 2.0), (2 * g,))
    np.testing.assert_allclose(compiled.function("jvp")(x, t)[1], g @ t)
    np.testing.assert_allclose(compiled.function("jacobian")(x), g)
    np.testing.assert_allclose(compiled.function("hessian")(x), H, atol=1e-15)
    np.testing.assert_allclose(compiled.function("hvp")(x, t), H @ t)
    np.testing.assert_allclose(g, numerical_gradient(f, [x]), rtol=1e-8)


def test_stop_gradient_shows_in_the_gradient_code_and_blocks_array_gradients():
    def f(x):
        return np.sum(x * symdiff.stop_gradient(x))

    g = symdiff.grad(f)
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(g(x), x)  # not 2x: the second factor is held fixed
    fn = next(n for n in ast.parse(g.source).body
              if isinstance(n, ast.FunctionDef) and n.name == "grad_f")
    body = ast.get_source_segment(g.source, fn)
    assert "# stop_gradient(x): derivatives treat" in body
    # and it composes: second derivative of x**2 * stop_gradient(x) is 2 * x
    assert symdiff.grad(symdiff.grad(lambda x: x**2 * symdiff.stop_gradient(x)))(3.0) == 6.0


@pytest.mark.parametrize("n_in, n_out, mode", [(6, 2, "reverse"), (2, 6, "forward"),
                                               (200, 100, "forward")])
def test_jacobian_auto_mode_is_chosen_by_shape(n_in, n_out, mode):
    W = np.random.default_rng(7).normal(size=(n_out, n_in))

    def f(x, W):
        return np.tanh(W @ x)

    x = np.linspace(-1, 1, n_in)
    # at fixed sizes: with both sizes symbolic, auto takes forward (the output may be
    # a batch of any size; tests/api/test_symbolic_products.py)
    jac = symdiff.jacobian(f, dims="fixed")
    J = jac(x, W)
    assert f"({mode} accumulation)" in jac.source
    # tanh' = 1/cosh**2: 1 - tanh**2 cancels where |W @ x| is large (stable.py)
    np.testing.assert_allclose(J, (1 / np.cosh(W @ x) ** 2)[:, None] * W, rtol=1e-10)
