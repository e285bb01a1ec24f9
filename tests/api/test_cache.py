"""vjp, jvp and hvp compile once per function, argument ranks, dtypes and pattern of
size-1 dimensions, as grad does (dims="auto": a module holds for every size)."""

import gc
import weakref

import numpy as np
import pytest

import symdiff
from symdiff import api


@pytest.fixture
def compilations(monkeypatch):
    """The number of modules compiled so far, counted at the pipeline's entry."""
    calls = []
    real = api.compile_gradient

    def counting(*args, **kwargs):
        calls.append(kwargs.get("kinds"))
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "compile_gradient", counting)
    return calls


def test_jvp_compiles_once_per_shape_and_dtype(compilations):
    def cube(x):
        return x**3

    x, t = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    for _ in range(3):
        out, tangent = symdiff.jvp(cube, (x,), (t,))
        np.testing.assert_allclose(out, x**3)
        np.testing.assert_allclose(tangent, 3 * x**2 * t)  # d/dx x^3 = 3x^2
    assert compilations == [("jvp",)]
    _, tangent = symdiff.jvp(cube, (np.ones(4),), (np.ones(4),))  # another size
    assert len(compilations) == 1 and tangent.shape == (4,)
    symdiff.jvp(cube, (np.ones((2, 2)),), (np.ones((2, 2)),))  # another rank
    assert len(compilations) == 2
    x32 = x.astype(np.float32)
    _, tangent = symdiff.jvp(cube, (x32,), (t.astype(np.float32),))  # another dtype
    assert len(compilations) == 3 and tangent.dtype == np.float32
    symdiff.jvp(cube, (x32,), (t.astype(np.float32),))
    symdiff.jvp(cube, (x,), (t,))
    assert len(compilations) == 3
    assert symdiff.jvp.cache_info(cube) == (3, 5, 3)  # 8 calls


def test_vjp_compiles_once_per_shape(compilations):
    def weighted(w, x):
        return np.sin(w * x)

    w, x, v = np.array([0.3, -1.2]), np.array([2.0, 0.5]), np.array([1.0, 3.0])
    for _ in range(3):
        out, vjp_fn = symdiff.vjp(weighted, w, x)
        dw, dx = vjp_fn(v)
        np.testing.assert_allclose(out, np.sin(w * x))
        np.testing.assert_allclose(dw, v * np.cos(w * x) * x)
        np.testing.assert_allclose(dx, v * np.cos(w * x) * w)
    assert compilations == [("vjp",)]
    dw, _ = symdiff.vjp(weighted, np.ones(3), np.ones(3))[1](np.ones(3))  # another size
    assert len(compilations) == 1
    np.testing.assert_allclose(dw, np.cos(1.0) * np.ones(3))
    symdiff.vjp(weighted, 0.3, 2.0)[1](1.0)  # Python floats: another signature
    symdiff.vjp(weighted, 0.7, -1.0)[1](2.0)
    assert len(compilations) == 2


def test_hvp_compiles_once_per_shape(compilations):
    def quartic_sum(x):
        return np.sum(x**4)

    x, t = np.array([1.0, -2.0]), np.array([1.0, 0.5])
    for _ in range(3):
        np.testing.assert_allclose(symdiff.hvp(quartic_sum, (x,), (t,)), 12 * x**2 * t)
    assert compilations == [("hvp",)]
    y = np.array([1.0, 0.5, -3.0])
    np.testing.assert_allclose(symdiff.hvp(quartic_sum, (y,), (y,)), 12 * y**3)
    assert len(compilations) == 1  # another size, the same module
    # two primals make a tuple argnums: a separate entry, not a stale single-argnum module
    assert symdiff.hvp(lambda a, b: a**2 * b, (2.0, 3.0), (1.0, 0.0)) == \
        pytest.approx((6.0, 4.0))  # H = [[2b, 2a], [2a, 0]] at (2, 3), times (1, 0)


def test_each_product_has_its_own_entry(compilations):
    def f(x):
        return np.sum(np.exp(x))

    x = np.zeros(2)
    symdiff.jvp(f, (x,), (x,))
    symdiff.vjp(f, x)[1](1.0)
    symdiff.hvp(f, (x,), (x,))
    symdiff.jvp(f, (x,), (x,))
    symdiff.vjp(f, x)[1](1.0)
    symdiff.hvp(f, (x,), (x,))
    assert compilations == [("jvp",), ("vjp",), ("hvp",)]


def test_the_cache_does_not_keep_a_function_alive():
    def square(x):
        return x * x

    def total(x):
        return np.sum(x * x)

    symdiff.jvp(square, (np.ones(2),), (np.ones(2),))
    symdiff.vjp(square, np.ones(2))
    symdiff.hvp(total, (np.ones(2),), (np.ones(2),))
    refs = [weakref.ref(square), weakref.ref(total)]
    del square, total
    gc.collect()
    assert [r() for r in refs] == [None, None]


def test_a_callable_that_cannot_be_weakly_referenced_still_works(compilations):
    class Scale:
        __slots__ = ()

        def __call__(self, x):
            return 3.0 * x

    scale = Scale()
    for _ in range(2):
        assert symdiff.jvp(scale, (1.0,), (2.0,)) == pytest.approx((3.0, 6.0))
    assert len(compilations) == 2  # no cache to hold it in: compiled per call


# -- the decorators' fast path: one float or ndarray argument whose function is known ------
def test_the_fast_path_serves_repeat_calls_without_compiling(compilations):
    def poly(x):
        return np.sum(2 * x**4 + x**3 + 3 * x**2 + 5 * x + 1)

    g = symdiff.grad(poly)
    for x in (2.0, -1.5, 0.25):  # d/dx = 8x^3 + 3x^2 + 6x + 5
        assert g(x) == pytest.approx(8 * x**3 + 3 * x**2 + 6 * x + 5, rel=1e-15)
    assert len(compilations) == 1 and g.cache_info().hits == 2
    a = np.array([2.0, -1.5, 0.5])
    np.testing.assert_allclose(g(a[:2]), [8 * 8 + 3 * 4 + 12 + 5, -27 + 6.75 - 9 + 5])
    assert len(compilations) == 2  # an array: another module
    np.testing.assert_allclose(g(a), 8 * a**3 + 3 * a**2 + 6 * a + 5)  # dims="auto": the
    assert len(compilations) == 2  # same module for n = 3
    g32 = g(a.astype(np.float32))  # another dtype: another module, float32 result
    assert len(compilations) == 3 and g32.dtype == np.float32
    assert g.cache_info() == (3, 3, 3)


def test_python_float_arithmetic_errors_give_numpy_values_on_the_fast_path():
    g = symdiff.grad(lambda x: np.log(x))  # 1/x: Python raises at 0.0, NumPy gives inf
    assert g(2.0) == 0.5
    with np.errstate(divide="ignore"):
        assert g(0.0) == np.inf
    root = symdiff.grad(lambda x: x**1.5)  # 1.5*x**0.5: complex in Python for x < 0
    assert root(4.0) == pytest.approx(3.0)
    with np.errstate(invalid="ignore"):
        assert np.isnan(root(-4.0))
    both = symdiff.value_and_grad(lambda x: x**1.5)  # a tuple result
    assert both(4.0) == pytest.approx((8.0, 3.0))
    with np.errstate(invalid="ignore"):
        assert all(np.isnan(both(-4.0)))


def test_keyword_arguments_name_parameters_on_every_call():
    g = symdiff.grad(lambda x: x * x)
    assert g(3.0) == 6.0
    assert g(x=3.0) == 6.0 and g(x=3.0) == 6.0
    assert g.cache_info().compiles == 1
    with pytest.raises(TypeError, match="'z'"):
        g(z=3.0)


def test_the_transform_keeps_the_function_name_and_exposes_its_source():
    def loss(w):
        return np.sum(w**2)

    g = symdiff.grad(loss)
    assert g.__name__ == "loss" and g.__wrapped__ is loss
    np.testing.assert_allclose(g(np.array([1.0, -2.0])), [2.0, -4.0])
    assert "def grad_loss(w):" in g.source


def test_a_static_argument_keeps_the_module_valid_for_every_size(compilations):
    def power_sum(x, k):
        return np.sum(x**k)

    g = symdiff.grad(power_sum)
    for n in (3, 4, 7):
        x = np.arange(1.0, n + 1)
        np.testing.assert_allclose(g(x, 3), 3 * x**2)  # d/dx sum(x^3) = 3x^2
    assert len(compilations) == 1 and "(n,) = np.shape(x)" in g.source
    np.testing.assert_allclose(g(np.arange(1.0, 4.0), 2), [2.0, 4.0, 6.0])  # another k
    assert len(compilations) == 2
