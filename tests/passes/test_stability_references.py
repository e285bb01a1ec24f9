"""Derivatives finite and right where the truth is finite: each case against a
reference computed with mpmath at 60 digits, in float64 and in float32."""

import warnings

import mpmath
import numpy as np
import pytest

import symdiff

mp = mpmath.mp.clone()
mp.dps = 60

W3 = np.array([1.0, 2.0, 3.0])


def softmax_dot(z):
    e = np.exp(z)
    return np.sum(e / np.sum(e) * np.array([1.0, 2.0, 3.0], dtype=z.dtype))


def softmax_dot_ref(z):
    z = [mp.mpf(float(v)) for v in z]
    e = [mp.exp(v) for v in z]
    s = [v / sum(e) for v in e]
    mean = sum(si * w for si, w in zip(s, W3))
    return [si * (w - mean) for si, w in zip(s, W3)]


def log_cosh(x):
    return np.sum(np.log(np.cosh(x)))


def log_prod_sigmoid(x):
    return np.log(np.prod(1 / (1 + np.exp(-x))))


def norm(x):
    return np.linalg.norm(x)


def soft_abs(x):
    return np.sum(np.sqrt(x ** 2 + 1e-12))


def tanh_sum(x):
    return np.sum(np.tanh(x))


def one_minus_cos(x):
    return np.sum((1 - np.cos(x)) / x ** 2)


def var(x):
    return np.var(x)


def std(x):
    return np.std(x)


def det(a):
    return np.linalg.det(a)


def _mp(x):
    return [mp.mpf(float(v)) for v in np.ravel(x)]


REFS = {
    softmax_dot: softmax_dot_ref,
    log_cosh: lambda x: [mp.tanh(v) for v in _mp(x)],
    log_prod_sigmoid: lambda x: [1 / (1 + mp.exp(v)) for v in _mp(x)],
    norm: lambda x: [v / mp.sqrt(sum(u * u for u in _mp(x))) for v in _mp(x)],
    soft_abs: lambda x: [v / mp.sqrt(v * v + mp.mpf("1e-12")) for v in _mp(x)],
    tanh_sum: lambda x: [1 / mp.cosh(v) ** 2 for v in _mp(x)],
    one_minus_cos: lambda x: [mp.diff(lambda t: (1 - mp.cos(t)) / t ** 2, v) for v in _mp(x)],
    var: lambda x: [2 * (v - sum(_mp(x)) / len(_mp(x))) / len(_mp(x)) for v in _mp(x)],
    std: lambda x: _std_ref(x),
    det: lambda a: _det_ref(a),
}


def _std_ref(x):
    xs = _mp(x)
    m = sum(xs) / len(xs)
    s = mp.sqrt(sum((v - m) ** 2 for v in xs) / len(xs))
    return [(v - m) / (len(xs) * s) for v in xs]


def _det_ref(a):
    return list(_cofactors(mp.matrix([[mp.mpf(float(v)) for v in row] for row in a])))


def _cofactors(m):
    """The cofactors of the mpmath matrix `m`, row by row, from its minors."""
    n = m.rows
    cof = []
    for i in range(n):
        for j in range(n):
            minor = mp.matrix([[m[r, c] for c in range(n) if c != j] for r in range(n) if r != i])
            cof.append((-1) ** (i + j) * (mp.det(minor) if n > 1 else 1))
    return cof


def _singular(n, seed):
    """An integer matrix whose last column is the sum of the first two: exactly
    singular in floating point, of rank n - 1 (cofactors nonzero, of rank 1)."""
    a = np.random.default_rng(seed).integers(-3, 4, size=(n, n)).astype(float)
    a[:, -1] = a[:, 0] + a[:, 1]
    return a.tolist()


SINGULAR10 = _singular(10, 7)

CASES64 = [
    (softmax_dot, [800.0, 900.0, 1000.0]),
    (softmax_dot, [1000.0, 999.0, 998.0]),
    (log_cosh, [1000.0, -1000.0, 0.5]),
    (log_prod_sigmoid, [800.0, 1.0]),
    (log_prod_sigmoid, [-800.0, 1.0]),
    (norm, [1e-200, 2e-200]),
    (norm, [1e200, 2e200]),
    (soft_abs, [1e200, -1e200]),
    (tanh_sum, [20.0, -20.0, 1000.0]),
    (one_minus_cos, [1e-8, -1e-8]),
    # the mean dwarfs the spread; these values, their sum and mean are exact in float64,
    # so the centred form x - mean is exact and only the expanded form loses digits
    (var, [1e8 + 0.25, 1e8 + 0.5, 1e8 + 1.25]),
    (std, [1e8 + 0.25, 1e8 + 0.5, 1e8 + 1.25]),
    (det, [[1.0, 2.0], [2.0, 4.0]]),
    (det, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),
    (det, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0 + 1e-9]]),  # near-singular
    (det, SINGULAR10),
]

CASES32 = [
    (softmax_dot, [80.0, 90.0, 100.0]),
    (log_cosh, [100.0, -100.0, 0.5]),
    (log_prod_sigmoid, [100.0, 1.0]),
    (log_prod_sigmoid, [-100.0, 1.0]),
    (norm, [1e-30, 2e-30]),
    (norm, [1e30, 2e30]),
    (soft_abs, [1e30, -1e30]),
    (tanh_sum, [20.0, -20.0]),
    (one_minus_cos, [1e-4, -1e-4]),
    (var, [1e4 + 0.25, 1e4 + 0.5, 1e4 + 1.25]),
    (std, [1e4 + 0.25, 1e4 + 0.5, 1e4 + 1.25]),
    (det, [[1.0, 2.0], [2.0, 4.0]]),
    (det, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),
    (det, _singular(6, 3)),
]


def _softmax_rounding(x, dtype):
    """What rounding w_i - sum_j s_j w_j costs any float implementation: a few ulps of
    the weights, times s_i (where the true difference is 1e-44, 0 is as good as it gets)."""
    z = np.array(x, dtype=np.float64)
    s = np.exp(z - z.max()) / np.sum(np.exp(z - z.max()))
    return 8 * np.finfo(dtype).eps * 3.0 * s


ROUNDING = {softmax_dot: _softmax_rounding}


def _check(fn, x, dtype, rtol):
    bound = ROUNDING[fn](x, dtype) if fn in ROUNDING else 0.0
    x = np.array(x, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        # the default, symbolic sizes (det: its cofactors from the SVD)
        grad = symdiff.grad(fn)(x)
    ref = np.array([float(v) for v in REFS[fn](x)]).reshape(x.shape)
    assert grad.dtype == dtype
    assert np.all(np.isfinite(grad)), grad
    scale = np.max(np.abs(ref))
    err = np.abs(grad - ref)
    assert np.all(err <= rtol * np.abs(ref) + rtol * scale * 1e-3 + bound), (grad, ref)


@pytest.mark.parametrize("fn, x", CASES64, ids=lambda v: getattr(v, "__name__", str(v)))
def test_float64(fn, x):
    _check(fn, x, np.float64, 1e-9)


@pytest.mark.parametrize("fn, x", CASES32, ids=lambda v: getattr(v, "__name__", str(v)))
def test_float32(fn, x):
    _check(fn, x, np.float32, 2e-3)


def sinc_over_pole(x):
    return np.sum(np.sin(x) / x / (1 - 8 * x))


def test_series_form_shrinks_before_a_pole_near_zero():
    """sin(x)/x/(1 - 8x) is removable at 0 but has a pole at 1/8: its Taylor polynomial
    must not be used out to 1/4 (it would be wrong beyond the pole)."""
    x = np.array([1e-8, 0.05, 0.2, -0.2])
    grad = symdiff.grad(sinc_over_pole)(x)
    ref = [mp.diff(lambda t: mp.sin(t) / t / (1 - 8 * t), mp.mpf(float(v))) for v in x]
    np.testing.assert_allclose(grad, [float(r) for r in ref], rtol=1e-9)


def test_float32_std_gradient_with_a_symbolic_size_stays_float32():
    """np.sqrt(n) of the int n is a float64 scalar, strong under NEP 50: the module
    casts that factor to float32, and the result is float32 and right at every n."""
    grad = symdiff.grad(std)
    for x in ([1e4 + 0.25, 1e4 + 0.5, 1e4 + 1.25], [0.5, 1.5, 4.0, -2.0, 7.25]):
        x32 = np.array(x, dtype=np.float32)
        g = grad(x32)
        assert g.dtype == np.float32
        ref = np.array([float(v) for v in REFS[std](np.array(x))])
        np.testing.assert_allclose(g, ref, rtol=2e-3, atol=2e-3 * np.max(np.abs(ref)))
        value, _ = grad.compile(x32).value_and_grad(x32)
        assert value.dtype == np.float32
    assert grad.cache_info().compiles == 1
    assert "np.float32(1/np.sqrt(n))" in grad.source


@pytest.mark.parametrize("n", [3, 10])
def test_det_gradient_at_a_singular_matrix_of_fixed_size(n):
    """Fixed sizes up to 8 take the determinants of the minors, larger ones the cofactors
    from the SVD: both finite at a singular matrix, where det(a) * inv(a).T is not."""
    a = np.array(_singular(n, n))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        grad = symdiff.grad(det, dims="fixed")(a)
    ref = np.array([float(v) for v in _det_ref(a)]).reshape(a.shape)
    np.testing.assert_allclose(grad, ref, rtol=1e-9, atol=1e-12 * np.max(np.abs(ref)))


def test_det_gradient_of_a_stack_of_singular_matrices():
    a = np.array([_singular(4, 1), _singular(4, 2), np.eye(4).tolist()])
    grad = symdiff.grad(lambda a: np.sum(np.linalg.det(a)))(a)
    for g, m in zip(grad, a):
        ref = np.array([float(v) for v in _det_ref(m)]).reshape(m.shape)
        np.testing.assert_allclose(g, ref, rtol=1e-9, atol=1e-12 * np.max(np.abs(ref)))


def test_det_hessian_of_a_small_fixed_size_matrix():
    """Products take fixed sizes: up to 8x8 the minors, against mpmath's second
    differences of det."""
    a = np.array([[2.0, 0.5, -1.0], [0.3, 1.5, 0.2], [-0.4, 0.7, 3.0]])
    hess = symdiff.hessian(det)(a)
    m = mp.matrix(a.tolist())

    def second(i, j, p, q):  # d2 det / da_ij da_pq
        def at(u, v):
            b = m.copy()
            b[i, j] += u
            b[p, q] += v
            return mp.det(b)
        return mp.diff(at, (0, 0), (1, 1))

    ref = np.array([[[[float(second(i, j, p, q)) for q in range(3)] for p in range(3)]
                     for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(hess, ref, rtol=1e-9, atol=1e-12)


def test_det_hessian_vector_product_through_the_svd_cofactors():
    """9x9: past the minors, the cofactor primitive's own derivative (from the SVD),
    against mpmath's central difference of det(b) inv(b).T along the direction
    (h = 1e-20 at 60 digits)."""
    rng = np.random.default_rng(5)
    a = rng.normal(size=(9, 9)) + 3 * np.eye(9)
    v = rng.normal(size=(9, 9))
    got = symdiff.hvp(det, (a,), (v,))
    m, d, h = mp.matrix(a.tolist()), mp.matrix(v.tolist()), mp.mpf("1e-20")

    def cofactors(b):
        return mp.det(b) * mp.inverse(b).T

    diff = (cofactors(m + h * d) - cofactors(m - h * d)) / (2 * h)
    ref = np.array([[float(diff[i, j]) for j in range(9)] for i in range(9)])
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-10 * np.max(np.abs(ref)))


@pytest.mark.parametrize("n, rank", [(9, 8), (10, 9), (10, 8), (12, 10)])
def test_det_hessian_vector_product_at_a_singular_matrix_past_the_minors(n, rank):
    """Past 8x8 the derivative of the SVD cofactors, det(U) det(Vh) U D.T Vh, divides
    by nothing: right at singular matrices of rank n - 1 and n - 2 (where the old
    (<C, da> C - C da^T C) / det(a) was 0/0), against mpmath's central difference of
    the cofactors from the minors along v (h = 1e-20 at 60 digits)."""
    rng = np.random.default_rng(n + rank)
    a = np.array(_singular(n, n + rank))
    if rank == n - 2:
        a[:, -2] = a[:, 0] - a[:, 2]
    v = rng.normal(size=(n, n))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        got = symdiff.hvp(det, (a,), (v,))
    m, d, h = mp.matrix(a.tolist()), mp.matrix(v.tolist()), mp.mpf("1e-20")
    ref = np.array([float((p - q) / (2 * h)) for p, q in
                    zip(_cofactors(m + h * d), _cofactors(m - h * d))]).reshape(n, n)
    assert np.linalg.matrix_rank(a) == rank and np.max(np.abs(ref)) > 1
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12 * np.max(np.abs(ref)))


def test_det_gradient_of_symbolic_size_reads_the_svd():
    a = np.array(_singular(3, 3))
    compiled = symdiff.grad(det).compile(a)
    assert "a: float64[n, n]" in compiled.source and "np.linalg.svd(a)" in compiled.source
    ref = np.array([float(v) for v in _det_ref(a)]).reshape(a.shape)
    np.testing.assert_allclose(compiled.grad(a), ref, rtol=1e-9, atol=1e-12 * np.max(np.abs(ref)))
