"""Programs the fuzzer (test_fuzz.py) found disagreeing, each reduced to a minimal
reproducer. Expected values are hand-worked closed forms or finite differences."""

import numpy as np
import pytest
from fuzz_strategies import Program, check

import symdiff


def test_two_equal_zero_gradients_are_both_returned():
    # value numbering merged the two zero cotangents into one Var, so the second
    # result was "not computed" when printing
    value, (gx, gy) = symdiff.value_and_grad(lambda x, y: x * 0.0, argnums=(0, 1))(1.0, 2.0)
    assert (value, gx, gy) == (0.0, 0.0, 0.0)


def test_piecewise_constant_function_of_two_arguments():
    grads = symdiff.grad(lambda x, y: np.sum(np.rint(x)), argnums=(0, 1))(
        np.array([0.2, 1.7]), np.array([1.0, 2.0]))
    np.testing.assert_array_equal(grads[0], [0.0, 0.0])
    np.testing.assert_array_equal(grads[1], [0.0, 0.0])


def test_arctan2_of_a_value_with_itself():
    # arctan2(y, y) = pi/4 for y > 0: both partials are zero
    value, grads = symdiff.value_and_grad(lambda x, y: np.arctan2(y, y), argnums=(0, 1))(1.0, 2.0)
    assert value == pytest.approx(np.pi / 4) and grads == (0.0, 0.0)


def test_new_axis_on_a_python_float_argument():
    # a 0-d argument given as a Python float was printed as x[None], which floats lack
    value, grad = symdiff.value_and_grad(lambda x: np.sum(np.cumsum(np.expand_dims(x, 0))))(0.5)
    assert value == 0.5 and grad == 1.0


@pytest.mark.parametrize("program", [
    Program("def f(x0, x1):\n    t0 = x0 * 0.0\n    return np.sum(t0)\n",
            (np.array([1.0, 2.0]), np.array([3.0, 4.0])), (0, 1)),
    Program("def f(x0):\n    t0 = np.expand_dims(x0, 0)\n    t1 = np.average(t0, axis=None)\n"
            "    return t1\n", (0.17923170543985867,), (0,)),
])
def test_fuzz_programs_as_found(program):
    assert check(program) is None


def test_power_of_a_power_keeps_its_parentheses():
    # (x**y)**1.5 was printed x**y**1.5, which Python reads as x**(y**1.5)
    def f(x, y):
        return np.sum(np.float_power(x ** y, 1.5))

    x, y = np.array([1.9, 1.4, 0.98]), np.array([0.3, -0.7, 2.0])
    value, (gx, gy) = symdiff.value_and_grad(f, argnums=(0, 1))(x, y)
    assert value == pytest.approx(np.sum(x ** (1.5 * y)), rel=1e-14)
    np.testing.assert_allclose(gx, 1.5 * y * x ** (1.5 * y - 1), rtol=1e-13)
    np.testing.assert_allclose(gy, 1.5 * np.log(x) * x ** (1.5 * y), rtol=1e-13)
    found = Program(
        "def f(x1):\n    t0 = np.repeat(x1, 2)\n    t1 = np.arccos((t0 / (1 + t0 * t0)))\n"
        "    t2 = np.expm1(t1)\n    t4 = t0 ** (t2 / (1 + t2 * t2))\n"
        "    t5 = np.float_power(t4, np.array([[1.391, 0.839, -1.721, -1.542, -1.322, 1.889],"
        " [1.563, -1.561, -1.899, -0.705, -0.368, -0.948]]))\n    return np.sum(t5)\n",
        (np.array([[1.9258633955552122], [1.3952781565827785], [0.9845794238495826]]),), (0,))
    assert check(found) is None


def test_value_that_simplifies_to_another_name_inside_a_shared_subexpression():
    # t2 = (t0 - y) + y is just t0: the program printed it as an alias of t0 but a
    # common subexpression still read the dropped name ("symbol v4 has no name")
    def f(x, y):
        t0 = np.remainder(x, 0.371)
        t2 = (t0 - y) + y
        return np.arccosh(t2 * t2 + 1.5) + np.log1p(t0) + np.exp(t2)

    x, y = 0.6366086747658222, 1.298999789907913
    m = x % 0.371
    value, grad = symdiff.value_and_grad(f)(x, y)
    assert value == pytest.approx(np.exp(m) + np.arccosh(m * m + 1.5) + np.log1p(m), rel=1e-14)
    # d/dx: exp(m) + 2m / sqrt((m^2 + 1.5)^2 - 1) + 1/(1 + m), as dm/dx = 1
    assert grad == pytest.approx(np.exp(m) + 2 * m / np.sqrt((m * m + 1.5) ** 2 - 1)
                                 + 1 / (1 + m), rel=1e-13)
    found = Program(
        "def f(x0):\n    t0 = np.deg2rad(x0)\n    t1 = np.rad2deg(t0)\n    t2 = np.exp(t1)\n"
        "    t4 = np.flip(t0, axis=0)\n    t5 = np.ravel(t1)\n"
        "    return np.sum(t2 * t2) + np.mean(t4) + np.sum(t5 * t5)\n",
        (np.array([-0.9535514630027344, -0.8060354263435068, 1.2569029623771213,
                   -1.6323362314596124]),), (0,))
    assert check(found) is None


def test_transpose_of_a_product_is_parenthesized():
    # the cotangent (g @ C.T).T was printed g @ C.T.T, which transposes C twice
    C = np.array([[-1.232], [0.132], [-0.979]])

    def f(x):
        t = np.hstack([x, x])
        return np.sum(np.dot(t.T, np.array([[-1.232], [0.132], [-0.979]])) ** 2)

    x = np.array([[1.02], [0.33], [0.84]])
    value, grad = symdiff.value_and_grad(f)(x)
    u = x[:, 0] @ C[:, 0]  # both rows of t.T @ C equal x . C
    assert value == pytest.approx(2 * u**2, rel=1e-14)
    np.testing.assert_allclose(grad, 4 * u * C, rtol=1e-13)  # d/dx 2 (x . C)^2
    found = Program(
        "def f(x0):\n    t0 = np.transpose(x0, (0, 1))\n    t1 = np.cos(t0)\n"
        "    t3 = np.hstack([t1, t1])\n    t4 = t3.T\n"
        "    t6 = np.dot(t4, np.array([[-1.232], [0.132], [-0.979]]))\n"
        "    t7 = np.stack([t6, t6])\n    return np.mean(t7)\n",
        (np.array([[1.025218074476986], [0.33269912761333265], [0.8483793917533693]]),), (0,))
    assert check(found) is None


def test_float32_std_stays_float32_in_value_and_grad():
    # CSE made sqrt(6) (from std's 1/sqrt(n)) a statement of its own, a float64 scalar
    # that widened the float32 value and gradient of value_and_grad to float64
    x = np.array([[1.0, -2.0, 0.5], [0.3, 1.2, -0.7]], dtype=np.float32)
    value, grad = symdiff.value_and_grad(lambda x: np.std(x))(x)
    assert np.asarray(value).dtype == np.float32 and grad.dtype == np.float32
    assert value == pytest.approx(np.std(x), rel=1e-6)
    n = x.size
    np.testing.assert_allclose(grad, (x - x.mean()) / (n * np.std(x)), rtol=1e-5)
    value, grad = symdiff.value_and_grad(lambda x: np.sum(np.std(x, axis=-1)))(x)
    assert np.asarray(value).dtype == np.float32 and grad.dtype == np.float32
    found = Program(
        "def f(x0):\n    t0 = np.arcsinh(x0)\n    t2 = np.flipud(t0)\n"
        "    t4 = np.tril(t2, 1)\n    t6 = t2.std(axis=(0, 1, 2))\n"
        "    return np.sum(t4 * t4) + t6\n",
        (np.array([[[-1.86, 0.82], [1.41, 1.86], [-1.92, -0.91]],
                   [[-1.15, -0.96], [1.59, -1.26], [0.54, -0.81]]], dtype=np.float32),), (0,))
    assert check(found) is None


def test_where_between_a_broadcast_scalar_and_the_scalar_keeps_the_shape():
    # t0 is x broadcast to (2,); where(t0 < 2, t0, x) is t0, but once the broadcast
    # scalar was inlined both branches read x, SymPy folded the Piecewise to x, and
    # exp(x) was summed as a scalar: half of NumPy's value
    def f(x):
        t0 = np.broadcast_to(x, (2,))
        return np.sum(np.exp(np.where(t0 < 2.0, t0, x)))

    value, grad = symdiff.value_and_grad(f)(-1.07)
    assert value == pytest.approx(2 * np.exp(-1.07), rel=1e-14)
    assert grad == pytest.approx(2 * np.exp(-1.07), rel=1e-14)


def test_float32_mask_constant_shared_by_cse_stays_float32():
    # tril's derivative np.where(mask, 1.0, 0.0), read by two gradient terms, became a
    # CSE temporary of its own; reading only a bool mask, it printed float64 literals
    # and widened the float32 gradient to float64 (long profile, seed 5)
    x = np.array([[[0.93, -0.54], [1.67, 1.5], [-1.27, -1.57]],
                  [[-0.48, -0.85], [0.56, -1.7], [0.23, -1.85]]], dtype=np.float32)
    found = Program(
        "def f(x0, x1):\n    t0 = np.arcsin((x0 / (1 + x0 * x0)))\n    t1 = np.expm1(x0)\n"
        "    t2 = np.cumsum(t1, axis=None)\n    t3 = np.tril(t1)\n    t4 = np.sinh(t0)\n"
        "    t5 = np.tril(x0)\n    t6 = t5 * (-0.766)\n"
        "    return np.sum(t2) + np.sum(t3) + np.mean(t4) + np.mean(t6)\n",
        (x, -0.5268271565437317), (0,))
    assert check(found) is None


# -- found by the widened long profile (fuzz_widening.py, seeds 22-25) ------------------------
def test_hvp_of_a_reciprocal_of_triu_prints_the_masked_branch():
    # the second derivative 2/t**3 of 1/t, with t = triu(x) written 0 below the band,
    # folded to where(mask, 2/x**3, zoo): SymPy's 1/0 had no printer (KeyError
    # 'ComplexInfinity'); it prints as nan, inf*0 as NumPy's chain rule has it there
    x = np.array([[-1.06, 0.97, -1.02], [-0.75, -1.15, -1.23]])
    v = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    mask = np.triu(np.ones((2, 3))) == 1

    def f(x):
        return np.sum(np.reciprocal(np.triu(x))) + np.sum(x * x)

    # hand-worked: the Hessian is diagonal, 2/x**3 on the band (the element below it is
    # the constant 1/0, of zero derivative) plus 2 from sum(x*x)
    np.testing.assert_allclose(symdiff.hvp(f, (x,), (v,)),
                               np.where(mask, 2 / x**3, 0.0) * v + 2 * v, rtol=1e-13)


def test_complex_infinity_prints_as_nan():
    import sympy as sp

    from symdiff.codegen.printer import SymdiffPrinter
    assert SymdiffPrinter().doprint(sp.zoo) == "np.nan"


def test_hvp_through_sign_around_reciprocal_and_std_prints():
    x0 = np.array([[-1.0568223810194457, 0.9695089225337536, -1.0238895734627746],
                   [-0.7458072032814203, -1.1453428945661392, -1.2252330776442966]])
    x1 = np.array([[-1.879311563407792], [0.2501969235137236], [1.0836163092786593]])
    found = Program(
        "def f(x0, x1):\n    t0 = np.min(x1, axis=-1)\n    t1 = np.negative(x0)\n"
        "    t2 = np.triu(x0, -1)\n    t3 = np.around(t2)\n    t4 = np.reciprocal(t2)\n"
        "    t5 = np.sign(t3)\n    t6 = x1.std(axis=(0,))\n    t7 = np.ravel(t3)\n"
        "    return np.sum(t0) + np.sum(t1 * t1) + np.mean(t4) + np.mean(t5) + np.mean(t6)"
        " + np.mean(t7)\n", (x0, x1), (0, 1), transform="hvp")
    assert check(found) is None


def test_float32_gradient_when_a_float64_constant_array_widens_the_value():
    # x*C*zeros: the value is float64 (NumPy promotes x by the float64 array C), the
    # gradient float32 as documented ("a gradient has the dtype of the argument"); its
    # cast was dropped when C*zeros, shared with the value, became a CSE temporary that
    # the cast aliased, and again when grad_f alone put the temporary back inline
    C = np.array([[0.934, 0.886, -0.395], [-1.979, 0.956, 1.624]])

    def f(x):
        t = x * C
        return np.sum(t * np.zeros_like(t)) + np.sum(np.cos(t))

    xs = np.array([1.5, -0.2, 0.1], dtype=np.float32)
    for run in (symdiff.value_and_grad(f), symdiff.grad(f)):
        out = run(xs)
        value, grad = out if isinstance(out, tuple) else (None, out)
        assert grad.dtype == np.float32
        # hand-worked: d/dx sum(cos(x*C)) = -sum over rows of C*sin(x*C)
        np.testing.assert_allclose(grad, -np.sum(C * np.sin(xs * C), axis=0), rtol=1e-6)
        if value is not None:
            assert np.asarray(value).dtype == np.float64 == np.asarray(f(xs)).dtype
    x = np.array([1.5879242420196533, -0.21936114132404327, 0.13665533065795898],
                 dtype=np.float32)
    found = Program(
        "def f(x0, x1):\n    t0 = np.stack([x0, x0])\n    t1 = np.cos(t0)\n"
        "    t2 = x0 * (np.array([[0.934, 0.886, -0.395], [-1.979, 0.956, 1.624]]))\n"
        "    t3 = np.arctan2(x1, 0.25)\n"
        "    t4 = np.pad(t1, ((1, 0), (0, 1)), constant_values=1.5)\n"
        "    t5 = np.hstack([t0, t1])\n    t6 = np.log2((x0 * x0 + 0.5))\n"
        "    t7 = t2 * np.zeros_like(t2)\n"
        "    return t3 + np.sum(t4 * t4) + np.mean(t5) + np.sum(t6) + np.sum(t7)\n",
        (x, 0.6660219430923462), (0, 1))
    assert check(found) is None


def test_a_shape_reading_a_size_that_a_later_argument_binds():
    # x2 of shape (n, 2*d) is checked first (two dimensions, `n`) but d is bound by x3
    # of shape (k, d): the check read d before it was assigned (UnboundLocalError in the
    # generated _check_inputs; long profile, seed 27)
    def f(x0, x1, x2, x3):
        t1 = np.concatenate([x1, x1], axis=0) + x2
        return np.sum(np.dot(x3, x1)) + np.vdot(x1, x1) + np.sum(np.exp(np.heaviside(t1, 2.0)))

    rng = np.random.default_rng(27)
    x0, x1, x2, x3 = (rng.normal(size=s) for s in [(3,), (3,), (2, 6), (2, 3)])
    value, (g0, g1) = symdiff.value_and_grad(f, argnums=(0, 1))(x0, x1, x2, x3)
    assert value == pytest.approx(f(x0, x1, x2, x3), rel=1e-14)
    np.testing.assert_array_equal(g0, np.zeros(3))  # x0 is not read
    # hand-worked: d/dx1 of sum(x3 @ x1) + x1.x1 (heaviside is flat off its step)
    np.testing.assert_allclose(g1, np.sum(x3, axis=0) + 2 * x1, rtol=1e-14)
    compiled = symdiff.grad(f, argnums=(0, 1)).compile(x0, x1, x2, x3)
    with pytest.raises(ValueError, match=r"x2 must have shape \(n, 2\*d\)"):
        compiled.grad(x0, x1, rng.normal(size=(2, 5)), x3)
    found = Program(
        "def f(x0, x1, x2, x3):\n    t0 = np.concatenate([x1, x1], axis=0)\n"
        "    t1 = np.add(t0, x2)\n    t2 = np.add(t1, t1)\n    t3 = np.dot(x3, x1)\n"
        "    t4 = np.heaviside(t2, t1)\n    t5 = np.vdot(x1, x1)\n    t6 = np.exp(t4)\n"
        "    return np.sum(t3) + t5 + np.sum(t6)\n", (x0, x1, x2, x3), (0,))
    assert check(found) is None


def test_a_masked_value_inside_a_nan_propagating_derivative_keeps_its_mask():
    # SymPy folded where(mask, x, 0) out of clip's derivative conditions and dropped
    # the mask (a bare symbol), so they tested arctanh(x), NaN for |x| > 1, and that
    # NaN times the mask's 0 was NaN where the mask is off (long profile, seed 29)
    def f(x):
        return np.sum(np.reshape(x, (3,))) + np.sum(np.clip(np.arctanh(np.triu(x, 1)), -0.5, 0.5))

    x = np.array([[0.55], [-0.92], [-1.84]])
    # hand-worked: triu(x, 1) of a (3, 1) array is all zeros, so the clip term is the
    # constant 0 and the gradient is that of sum(x): ones
    np.testing.assert_array_equal(symdiff.grad(f)(x), np.ones((3, 1)))


# The same family: a masked value inside a function that is NaN (or infinite) off its
# domain, under a derivative that propagates NaN (clip's). Where the mask is off, the
# function reads the masked constant and the gradient is 0; hand-worked elsewhere.

def test_a_lower_triangle_inside_arcsin_keeps_its_mask():
    def f(x):
        return np.sum(np.clip(np.arcsin(np.tril(x)), -0.5, 0.5))

    x = np.array([[0.3, 1.7, -2.5], [-0.2, 0.1, 3.0]])  # |x| > 1 only above the diagonal
    kept = np.tri(2, 3, dtype=bool) & (np.abs(x) < np.sin(0.5))
    with np.errstate(invalid="ignore"):
        expected = np.where(kept, 1 / np.sqrt(1 - x**2), 0.0)  # d arcsin = 1/sqrt(1 - x^2)
    np.testing.assert_allclose(symdiff.grad(f)(x), expected, rtol=1e-14)


def test_a_where_on_a_boolean_array_inside_log_keeps_its_mask():
    mask = np.array([[True, False, True], [False, True, False]])

    def f(x):
        return np.sum(np.clip(np.log(np.where(mask, x, 1.0)), -1.0, 1.0))

    x = np.array([[0.5, -2.0, 1.5], [-3.0, 2.0, -0.5]])  # negative only where masked
    with np.errstate(invalid="ignore"):
        expected = np.where(mask & (np.abs(np.log(np.abs(x))) < 1), 1 / x, 0.0)
    np.testing.assert_allclose(symdiff.grad(f)(x), expected, rtol=1e-14)


def test_an_upper_triangle_inside_sqrt_keeps_its_mask():
    def f(x):
        return np.sum(np.clip(np.sqrt(np.triu(x)), -1.0, 1.2))

    x = np.array([[0.3, 0.5, 0.7], [-2.0, 0.4, 0.9], [-1.0, -3.0, 1.6]])
    kept = np.triu(np.ones((3, 3), dtype=bool)) & (x < 1.2**2)  # 1.6 is clipped
    with np.errstate(invalid="ignore"):
        expected = np.where(kept, 0.5 / np.sqrt(x), 0.0)
    np.testing.assert_allclose(symdiff.grad(f)(x), expected, rtol=1e-14)
    value, _ = symdiff.value_and_grad(f)(x)
    assert value == pytest.approx(f(x), rel=1e-14)


def test_a_product_over_a_split_half_keeps_its_sizes_symbolic():
    # the product's derivative took int() of the size n/2*d: a TypeError that dims="auto"
    # used to hide by compiling at fixed sizes (test_fuzz_sizes, once it surfaced)
    def f(x):
        return np.prod(np.split(x, 2)[1])

    grad = symdiff.grad(f)
    for shape in [(2, 3), (4, 2), (6, 1)]:
        x = np.random.default_rng(len(shape) + shape[0]).uniform(0.5, 1.5, shape)
        half = x[shape[0] // 2:]
        expected = np.zeros_like(x)
        expected[shape[0] // 2:] = np.prod(half) / half  # hand-worked: the others' product
        np.testing.assert_allclose(grad(x), expected, rtol=1e-13)
    assert grad.cache_info().modules == 2  # (6, 1): size 1 is its own pattern
