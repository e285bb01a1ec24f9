"""The numbers printed by PyTorch's autograd tutorials, reproduced with symdiff."""

import numpy as np
import pytest

import symdiff

from helpers import assert_matches_fd


def test_quadratic_at_3():
    def y(x):
        return 3 * x**2 + 4 * x + 2

    value, slope = symdiff.value_and_grad(y)(3.0)
    assert value == pytest.approx(41.0)
    assert slope == pytest.approx(22.0)  # 6x + 4 at 3
    assert_matches_fd(y, [3.0])


def test_mean_of_square_chain():
    def out(x):
        y = 2 * x + 3
        z = y**2
        return np.mean(z)

    x = np.array([1.0, 2.0, 3.0])
    value, g = symdiff.value_and_grad(out)(x)
    assert value == pytest.approx(51.6667, abs=1e-4)
    np.testing.assert_allclose(g, [6.6667, 9.3333, 12.0], atol=1e-4)
    assert_matches_fd(out, [x])


def test_quartic_at_2():
    def f(x):
        return 2 * x**4 + x**3 + 3 * x**2 + 5 * x + 1

    value, slope = symdiff.value_and_grad(f)(2.0)
    assert value == pytest.approx(63.0)
    assert slope == pytest.approx(93.0)
    assert_matches_fd(f, [2.0])


def test_matrix_chain():
    def out(x):
        y = 3 * x + 2
        z = 2 * y**2
        return z.mean()

    x = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    value, g = symdiff.value_and_grad(out)(x)
    assert value == pytest.approx(140.0)
    np.testing.assert_allclose(g, [[10, 16, 22], [22, 16, 10]])
    assert_matches_fd(out, [x])


def test_computational_graph_J():
    def J(a, b, c):
        u = b * c
        v = a + u
        return 3 * v

    grads = symdiff.grad(J, argnums=(0, 1, 2))(5.0, 3.0, 2.0)
    assert isinstance(grads, tuple)
    np.testing.assert_allclose(grads, (3.0, 6.0, 9.0))
    assert symdiff.value_and_grad(J)(5.0, 3.0, 2.0)[0] == pytest.approx(33.0)
    assert_matches_fd(J, [5.0, 3.0, 2.0], argnums=(0, 1, 2))


def test_squared_error_wrt_w():
    def loss(w, x, y):
        return (y - w * x) ** 2

    assert symdiff.grad(loss)(1.0, 1.0, 2.0) == pytest.approx(-2.0)
    assert_matches_fd(loss, [1.0, 1.0, 2.0], argnums=(0, 1, 2))
