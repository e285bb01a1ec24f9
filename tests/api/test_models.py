"""Whole models as people write them in NumPy: gradients against central differences,
generated code within 88 columns, and compile time within reason.

Regressions found by differentiating these models carry their hand-worked expected
values next to them."""


import numpy as np
import pytest

import symdiff
from symdiff.codegen.layout import LINE_LENGTH
from symdiff.verify import numerical_gradient


def _data(seed=0):
    return np.random.default_rng(seed)


# -- the models ------------------------------------------------------------------------------
def softmax_xent_labels(W, X, labels):
    logits = X @ W
    m = np.max(logits, axis=1, keepdims=True)
    logp = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(X.shape[0]), labels])


def softmax_xent_onehot(W, X, Y):
    logits = X @ W
    m = logits.max(axis=-1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0]


def layer_norm(x, g, b):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    y = g * (x - mu) / np.sqrt(var + 1e-5) + b
    return np.sum(y * np.cos(y))


def batch_norm(x, g, b):
    xh = (x - np.mean(x, axis=0)) / np.sqrt(np.var(x, axis=0) + 1e-5)
    return np.sum((g * xh + b) ** 3)


def gelu_tanh(x):
    return np.sum(0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))))


def attention_matmul(X, Wq, Wk, Wv):
    Q, K, V = X @ Wq, X @ Wk, X @ Wv
    s = Q @ K.T / np.sqrt(Q.shape[-1])
    a = np.exp(s - s.max(axis=-1, keepdims=True))
    a = a / a.sum(axis=-1, keepdims=True)
    return np.sum((a @ V) ** 2)


def attention_einsum(X, Wq, Wk, Wv):
    Q = np.einsum("td,de->te", X, Wq)
    K = np.einsum("td,de->te", X, Wk)
    V = np.einsum("td,de->te", X, Wv)
    s = np.einsum("qe,ke->qk", Q, K) / np.sqrt(Q.shape[-1])
    a = np.exp(s - s.max(axis=-1, keepdims=True))
    a = a / a.sum(axis=-1, keepdims=True)
    return np.sum(np.einsum("qk,ke->qe", a, V) ** 2)


def mlp_weight_decay(W1, b1, W2, b2, X, y, lam):
    out = np.tanh(X @ W1 + b1) @ W2 + b2
    return np.mean((out[:, 0] - y) ** 2) + lam * (np.sum(W1**2) + np.sum(W2**2))


def huber(w, X, y):
    r = X @ w - y
    a = np.abs(r)
    return np.sum(np.where(a <= 1.0, 0.5 * r**2, a - 0.5))


def rnn(Wx, Wh, b, x):
    h = np.zeros((x.shape[1], Wh.shape[0]))
    for t in range(5):
        h = np.tanh(x[t] @ Wx + h @ Wh + b)
    return np.sum(h**2)


def gaussian_nll(mu, logvar, y):
    return 0.5 * np.sum(logvar + (y - mu) ** 2 / np.exp(logvar) + np.log(2 * np.pi))


def poisson_regression(w, X, counts):
    eta = X @ w
    return np.sum(np.exp(eta) - counts * eta)


def soft_kmeans(C, X):
    d2 = np.sum((X[:, None, :] - C[None, :, :]) ** 2, axis=-1)
    r = np.exp(-2.0 * d2)
    return np.sum(r / np.sum(r, axis=1, keepdims=True) * d2)


def poly_stack(w, x):
    F = np.stack([np.ones_like(x), x, x**2, x**3], axis=1)
    return np.mean((F @ w - np.sin(x)) ** 2)


def poly_powers(w, x):
    return np.mean((x[:, None] ** np.arange(4) @ w - np.sin(x)) ** 2)


def conv1d(k, x, y):
    n = x.shape[0] - k.shape[0] + 1
    out = np.zeros(n)
    for j in range(k.shape[0]):
        out = out + k[j] * x[j:j + n]
    return np.sum((out - y) ** 2)


def masked_factorization(U, V, R, M):
    E = M * (R - U @ V.T)
    return np.sum(E**2) / np.sum(M) + 0.1 * (np.sum(U**2) + np.sum(V**2))


def logistic_float32(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0, z) - y * z)


def softmax_xent_take_along_axis(W, X, labels):
    z = X @ W
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.take_along_axis(logp, labels[:, None], axis=1))


def causal_attention(X, Wq, Wk):
    s = np.tril(X @ Wq @ (X @ Wk).T) - 1e9 * np.triu(np.ones((X.shape[0],) * 2), 1)
    a = np.exp(s - s.max(axis=-1, keepdims=True))
    return np.sum(a / a.sum(axis=-1, keepdims=True) @ X)


def poly_vander(w, x):
    return np.mean((np.vander(x, 4, increasing=True) @ w - np.sin(x)) ** 2)


def _cases():
    r = _data()
    n, d, k = 6, 3, 4
    X, labels = r.normal(size=(n, d)), r.integers(0, k, n)
    X32 = r.normal(size=(8, 3)).astype(np.float32)
    M = (r.random((6, 5)) < 0.5).astype(float)
    M[0, 0] = 1.0
    return [
        (softmax_xent_labels, (r.normal(size=(d, k)), X, labels), (0, 1)),
        (softmax_xent_onehot, (r.normal(size=(d, k)), X, np.eye(k)[labels]), (0, 1)),
        (layer_norm, (r.normal(size=(4, 5)), r.normal(size=5), r.normal(size=5)), (0, 1, 2)),
        (batch_norm, (r.normal(size=(4, 5)), r.normal(size=5), r.normal(size=5)), (0, 1, 2)),
        (gelu_tanh, (r.normal(size=7),), (0,)),
        (attention_matmul, (r.normal(size=(5, 4)), *r.normal(size=(3, 4, 3))), (0, 1, 2, 3)),
        (attention_einsum, (r.normal(size=(5, 4)), *r.normal(size=(3, 4, 3))), (0, 1, 2, 3)),
        (mlp_weight_decay, (r.normal(size=(3, 5)), r.normal(size=5), r.normal(size=(5, 1)),
                            r.normal(size=1), X, r.normal(size=n), 0.01), (0, 1, 2, 3)),
        (huber, (r.normal(size=3), X, r.normal(size=n)), (0,)),
        (rnn, (0.5 * r.normal(size=(3, 4)), 0.5 * r.normal(size=(4, 4)), r.normal(size=4),
               r.normal(size=(5, 2, 3))), (0, 1, 2, 3)),
        (gaussian_nll, tuple(r.normal(size=(3, 6))), (0, 1)),
        (poisson_regression, (0.3 * r.normal(size=3), X, r.poisson(2.0, n).astype(float)),
         (0,)),
        (soft_kmeans, (r.normal(size=(3, 3)), X), (0, 1)),
        (poly_stack, (r.normal(size=4), r.normal(size=10)), (0, 1)),
        (poly_powers, (r.normal(size=4), r.normal(size=10)), (0, 1)),
        (conv1d, (r.normal(size=3), r.normal(size=10), r.normal(size=8)), (0, 1)),
        (masked_factorization, (r.normal(size=(6, 2)), r.normal(size=(5, 2)),
                                r.normal(size=(6, 5)), M), (0, 1)),
        (softmax_xent_take_along_axis, (r.normal(size=(d, k)), X, labels), (0, 1)),
        (causal_attention, (r.normal(size=(5, 4)), *r.normal(size=(2, 4, 3))), (0, 1, 2)),
        (poly_vander, (r.normal(size=4), np.linspace(-1, 1, 9)), (0, 1)),
        (logistic_float32, (np.zeros(3, np.float32), np.float32(0.1), X32,
                            (r.random(8) < 0.5).astype(np.float32)), (0, 1)),
    ]


CASES = _cases()


@pytest.mark.parametrize("fn, args, argnums", CASES, ids=[c[0].__name__ for c in CASES])
def test_model_gradient_code(fn, args, argnums):
    # compile time is measured in benchmarks/compile_time.py, not asserted here
    compiled = symdiff.grad(fn, argnums=argnums).compile(*args)
    assert symdiff.gradcheck(fn, *args, argnums=argnums).passed
    assert max(len(line) for line in compiled.source.splitlines()) <= LINE_LENGTH


# -- regressions --------------------------------------------------------------------------------
def test_an_array_exponent_differentiates_finitely_at_zero():
    # d/dx sum_k w_k x**k = sum_k k w_k x**(k - 1): at x = 0 that is w_1, where the old
    # form k*x**k/x was 0/0
    w = np.array([1.0, 2.0, 3.0, 4.0])
    x = np.array([0.0, 0.5, -1.0])

    def poly(w, x):
        return np.sum(x[:, None] ** np.arange(4) @ w)

    got = symdiff.grad(poly, argnums=1)(w, x)
    np.testing.assert_allclose(got, 2 + 2 * 3 * x + 3 * 4 * x**2, rtol=1e-12)


def test_a_traced_exponent_has_the_limits_of_its_derivatives_at_zero():
    # d/dx x**k = k x**(k - 1): 0, 1, 0 at x = 0 for k = 0, 1, 2; d/dk 0**k = 0 for k > 0
    def f(x, k):
        return np.sum(x**k)

    x, k = np.zeros(3), np.array([0.0, 1.0, 2.0])
    with np.errstate(all="raise"):  # and no 0*inf on the way
        dx, dk = symdiff.grad(f, argnums=(0, 1))(x, k)
    np.testing.assert_array_equal(dx, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(dk[1:], [0.0, 0.0])
    # second derivative: d2/dx2 x**k = k (k - 1) x**(k - 2): 0, 0, 2 at x = 0
    np.testing.assert_array_equal(np.diag(symdiff.hessian(f)(x, k)), [0.0, 0.0, 2.0])
    # away from zero the derivative in k is x**k log x
    x = np.array([0.5, 2.0, 3.0])
    np.testing.assert_allclose(symdiff.grad(f, argnums=1)(x, k), x**k * np.log(x))
    np.testing.assert_allclose(symdiff.grad(f)(x, k), numerical_gradient(f, (x, k)),
                               rtol=1e-8)


def test_the_adjoint_of_a_new_axis_is_not_a_scatter():
    # x[:, None] only reshapes; its adjoint sums and drops the axis, with no zeros buffer
    def f(w, x):
        return np.sum(np.sin(x[:, None] * w))

    w, x = np.array([1.0, 2.0]), np.array([0.5, -1.0, 2.0])
    compiled = symdiff.grad(f, argnums=1).compile(w, x)
    np.testing.assert_allclose(compiled.grad(w, x), np.cos(x[:, None] * w) @ w)
    body = compiled.source.split("def grad_f")[1].split("def value_and_grad_f")[0]
    assert "np.zeros" not in body and "[:, None] =" not in body


def test_triangular_masks_print_as_np_tri():
    A = np.arange(9.0).reshape(3, 3) / 10
    source = symdiff.grad(causal_attention, dims="fixed").compile(A, A, A).source
    assert "np.tri(3, 3, 0, dtype=bool)" in source
    assert "~np.tri(3, 3, 0, dtype=bool)" not in source  # np.ones is a constant: folded


def test_triangular_masks_of_a_symbolic_size_compare_index_ranges():
    # under dims="auto" the mask holds for every n: built from np.arange(n), not a constant
    A = np.arange(9.0).reshape(3, 3) / 10
    grad = symdiff.grad(causal_attention)
    assert "np.arange(n)" in grad.compile(A, A, A).source
    rng = np.random.default_rng(0)
    X, Wq, Wk = rng.normal(size=(5, 3)) / 2, rng.normal(size=(3, 3)) / 2, rng.normal(size=(3, 3)) / 2
    eps, expected = 1e-6, np.zeros_like(X)
    for index in np.ndindex(X.shape):
        step = np.zeros_like(X)
        step[index] = eps
        up, down = causal_attention(X + step, Wq, Wk), causal_attention(X - step, Wq, Wk)
        expected[index] = (up - down) / (2 * eps)
    np.testing.assert_allclose(grad(X, Wq, Wk), expected, rtol=1e-6, atol=1e-8)
