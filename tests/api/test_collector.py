"""While a module compiles, Python's collector runs its youngest generation less often
(symdiff/collector.py); its thresholds are the user's again afterwards, after an error
too, and a collector the user switched off stays off."""

import gc

import numpy as np
import pytest

import symdiff
from symdiff.collector import YOUNG_THRESHOLD
from symdiff.errors import ShapeError


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_the_compile_raises_the_threshold_and_restores_it(thresholds):
    seen = []

    def f(x):
        seen.append(gc.get_threshold())  # (runs while the compile traces it)
        return np.sum(np.sin(x) * x)

    x = np.linspace(0, 1, 5)
    np.testing.assert_allclose(symdiff.grad(f)(x), np.sin(x) + x * np.cos(x), rtol=1e-12)
    assert seen and all(t == (YOUNG_THRESHOLD, 10, 10) for t in seen)
    assert gc.get_threshold() == (700, 10, 10)


def test_thresholds_are_restored_after_a_failed_compile(thresholds):
    def bad(x, y):
        return np.sum(x + y)

    with pytest.raises(ShapeError):
        symdiff.grad(bad)(np.ones(3), np.ones(4))
    assert gc.get_threshold() == (700, 10, 10)


def test_a_nested_transform_restores_the_users_thresholds(thresholds):
    def f(x):
        return np.sum(x ** 3)

    x = np.array([0.5, -1.0])
    hess_diag = symdiff.grad(lambda x: np.sum(symdiff.grad(f)(x)))(x)
    np.testing.assert_allclose(hess_diag, 6 * x, rtol=1e-12)
    assert gc.get_threshold() == (700, 10, 10)


def test_a_collector_switched_off_stays_off():
    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        seen = []

        def f(x):
            seen.append(gc.get_threshold()[0])
            return np.sum(x * x)

        symdiff.grad(f)(np.ones(2))
        assert seen == [0] * len(seen) and seen
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
