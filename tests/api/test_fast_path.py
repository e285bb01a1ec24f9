"""The fast path of a transform's calls: after a call succeeds, the function `grad(f)`
returned runs a guard on the arguments' types, shapes and dtypes and then the generated
code, without computing a cache key; every other call still reaches a module compiled
for its own arguments, with the same values, counts and errors as before."""

import threading

import numpy as np
import pytest

import symdiff
from symdiff import api
from symdiff.errors import InputError


def quartic(x):
    return np.sum(2 * x**4 + x**3)


def dquartic(x):  # by hand: d/dx (2x^4 + x^3) = 8x^3 + 3x^2
    return 8 * x**3 + 3 * x**2


def test_a_repeated_call_takes_the_guarded_path_without_a_cache_key(monkeypatch):
    g = symdiff.grad(quartic)
    held = g
    assert g(2.0) == dquartic(2.0) and g(2.0) == dquartic(2.0)
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_array_equal(g(x), dquartic(x))
    np.testing.assert_array_equal(g(x), dquartic(x))
    monkeypatch.setattr(api, "_cache_key", lambda args: pytest.fail("cache key computed"))
    for _ in range(3):
        np.testing.assert_array_equal(g(x), dquartic(x))
    assert held is g and g.cache_info() == (2, 5, 2)


def test_types_shapes_and_dtypes_in_turn_reach_their_own_module():
    g = symdiff.grad(quartic)
    calls = [2.0, 2.0, np.float32(1.5), np.float64(-1.0), np.array([1.0, 2.0]),
             np.array([1.0, 2.0], dtype=np.float32), np.array([1.0, 2.0, 3.0]),
             np.array([[1.0, 2.0], [0.5, -1.0]]), 2.0, np.array([1.0, 2.0]),
             np.float32(1.5), np.array([[1.0, 2.0], [0.5, -1.0]]), -0.5]
    for a in calls:
        got = g(a)
        want = dquartic(np.asarray(a))
        np.testing.assert_allclose(got, want, rtol=1e-6 if want.dtype == np.float32 else 1e-15)
        assert np.shape(got) == np.shape(a)
        assert np.result_type(got) == np.result_type(a)  # float32 stays float32
    with pytest.raises(InputError, match="Python int"):
        g(3)
    assert g(2.0) == dquartic(2.0)
    # float, float32 scalar, float32 array, 1-d and 2-d float64 (one module per rank)
    info = g.cache_info()
    assert info.compiles == 5 and info.hits == len(calls) + 1 - 5


def test_python_float_arithmetic_keeps_numpy_semantics_on_the_fast_path():
    root = symdiff.value_and_grad(lambda x: x**0.5)
    inverse = symdiff.grad(lambda x: 1.0 / x)
    for _ in range(3):  # the first call compiles, the later ones take the fast path
        assert root(4.0) == (2.0, 0.25)  # d/dx sqrt(x) = 1/(2 sqrt(x))
        assert inverse(2.0) == -0.25  # d/dx 1/x = -1/x^2
        with np.errstate(invalid="ignore", divide="ignore"):
            value, slope = root(-2.0)  # NumPy's nan, never Python's complex
            assert np.isnan(value) and np.isnan(slope) and type(slope) is not complex
            assert inverse(0.0) == -np.inf  # NumPy's -inf, not ZeroDivisionError


def test_bad_calls_give_the_same_errors_before_and_after_the_fast_path():
    def messages(g):
        out = []
        for call in (lambda: g(), lambda: g(1.0, 2.0), lambda: g([1.0]), lambda: g("a")):
            with pytest.raises(InputError) as info:
                call()
            out.append(str(info.value))
        return out

    fresh = symdiff.grad(quartic)
    before = messages(fresh)
    g = symdiff.grad(quartic)
    g(2.0), g(2.0)
    assert messages(g) == before
    assert "2 were given" in before[1]


def scaled(w, b, X, y, *, scale=2.0):
    return scale * np.mean((X @ w + b - y) ** 2)


def test_arguments_by_name_before_and_after_the_fast_path():
    rng = np.random.default_rng(5)
    w, X, y = rng.normal(size=2), rng.normal(size=(6, 2)), rng.normal(size=6)
    r = X @ w + 0.5 - y  # by hand: d/dw = 2 scale X^T r / n, d/db = 2 scale mean(r)
    want = (4 * X.T @ r / 6, 4 * np.mean(r))
    for first in ("positional", "by name"):
        g = symdiff.grad(scaled, argnums=(0, 1))
        calls = [lambda g=g: g(w, 0.5, X, y), lambda g=g: g(w=w, b=0.5, X=X, y=y),
                 lambda g=g: g(w, 0.5, y=y, X=X)]
        if first == "by name":
            calls.reverse()
        for call in calls * 2:  # the first compiles; later ones take the fast path
            dw, db = call()
            np.testing.assert_allclose(dw, want[0], rtol=1e-12)
            assert db == pytest.approx(want[1], rel=1e-12)
        assert g.cache_info().compiles == 1 and g.cache_info().hits == 5
        with pytest.raises(InputError, match="functools.partial"):  # keyword-only
            g(w, 0.5, X, y, scale=1.0)
        with pytest.raises(InputError, match="without the argument 'b'"):
            g(w, X=X, y=y)
        with pytest.raises(TypeError, match="'w'"):  # (Python's own message when fast)
            g(w, 0.5, X, y, w=w)
        with pytest.raises(TypeError, match="'bias'"):
            g(w, bias=0.5, X=X, y=y)
        with pytest.raises(InputError, match="2 were given|takes"):
            g(w, 0.5, X, y, y)


def linreg(w, b, x, y):
    return np.mean((w * x + b - y) ** 2)


def test_several_arguments_are_guarded_together():
    g = symdiff.grad(linreg, argnums=(0, 1))
    rng = np.random.default_rng(0)
    for n in (4, 4, 4, 7, 4):
        x, y = rng.standard_normal(n), rng.standard_normal(n)
        w, b = 0.5, -0.25
        r = w * x + b - y  # by hand: d/dw = 2 mean(r x), d/db = 2 mean(r)
        dw, db = g(w, b, x, y)
        np.testing.assert_allclose([dw, db], [2 * np.mean(r * x), 2 * np.mean(r)],
                                   rtol=1e-13)
    with pytest.raises(ValueError, match="y must have shape"):  # y of another length
        g(0.5, -0.25, np.ones(4), np.ones(3))
    assert g.cache_info().compiles == 1


def test_a_signature_whose_call_failed_is_not_served_unchecked():
    g = symdiff.grad(linreg, argnums=(0, 1))
    g(0.5, -0.25, np.ones(4), np.ones(4))  # compiles the module for every n
    for _ in range(3):  # the module's checks refuse these shapes every time
        with pytest.raises(ValueError, match="y must have shape"):
            g(0.5, -0.25, np.ones(4), np.ones(3))
    dw, db = g(0.5, -0.25, np.ones(4), np.ones(4))
    assert (dw, db) == (-1.5, -1.5)  # by hand: r = -0.75 everywhere, 2 mean(r x), 2 mean(r)


def test_a_transform_of_a_fast_transform_still_composes():
    g = symdiff.grad(lambda x: x**3)
    assert g(2.0) == 12.0 and g(2.0) == 12.0  # fast now
    h = symdiff.grad(g)  # d2/dx2 x^3 = 6x: g is called on a tracer
    assert h(2.0) == 12.0 and h(-1.0) == -6.0


def test_threads_calling_with_different_signatures_get_their_own_results():
    g = symdiff.grad(quartic)
    inputs = [2.0, np.array([1.0, 2.0]), np.array([[0.5]]), np.float32(1.5)]
    errors = []

    def work(a):
        try:
            for _ in range(200):
                np.testing.assert_allclose(g(a), dquartic(np.asarray(a)), rtol=1e-6)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in inputs * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


WEIGHTS = np.array([1.0, 2.0, 3.0])


def weighted(x):
    return np.sum(np.sin(x) * WEIGHTS)


def test_a_transform_of_a_fast_transform_warns_only_about_the_users_arrays():
    x = np.array([0.1, 0.2, 0.3])
    with pytest.warns(symdiff.CapturedArrayWarning):
        g = symdiff.grad(weighted)
        g(x)
    np.testing.assert_allclose(g(x), np.cos(x) * WEIGHTS, rtol=1e-15)  # fast now
    with pytest.warns(symdiff.CapturedArrayWarning) as caught:
        hessian = symdiff.jacobian(g)(x)
    np.testing.assert_allclose(hessian, np.diag(-np.sin(x) * WEIGHTS), rtol=1e-14)
    assert {str(w.message).split(" reads ")[1].split(";")[0] for w in caught} == \
        {"the global array 'WEIGHTS' (float64[3])"}


def test_parameters_named_like_builtins_keep_the_guard_working():
    def shadowing(type, len):  # noqa: A002 - the point of the test
        return np.sum(type * len**2)

    g = symdiff.grad(shadowing, argnums=(0, 1))
    for _ in range(3):  # by hand: d/dt t f^2 = f^2, d/df t f^2 = 2 t f
        assert g(3.0, 2.0) == (4.0, 12.0)
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(g(x, 0.5)[0], [0.25, 0.25])
    assert g.cache_info().compiles == 2


def rescaled(x, k=3.0):
    k = k * x
    return k * x


def test_a_parameter_with_a_default_given_by_name_or_not():
    g = symdiff.grad(rescaled)
    for _ in range(2):  # d/dx k x^2 = 2 k x: 12 at the default k = 3, 4 at k = 1
        assert g(2.0) == 12.0 and g(x=2.0) == 12.0
        assert g(2.0, k=1.0) == 4.0 and g(2.0, 1.0) == 4.0
    assert g.cache_info().compiles == 2
