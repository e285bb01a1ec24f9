"""`x.var()` on a traced array is NumPy's variance wherever the calling code lives; the
graph value a tracer stands for is `graph_var`, a name NumPy does not use."""

import os

import numpy as np
import pytest

import symdiff


def _defined_in(directory: str, source: str, name: str):
    """The function `name` of `source`, as if its file were in `directory`."""
    namespace = {"np": np}
    exec(compile(source, os.path.join(directory, "user_model.py"), "exec"), namespace)
    return namespace[name]


SOURCE = "def f(x):\n    return x.var(axis=0, ddof=1).sum() + x.var()\n"


def _closed_form_grad(x: np.ndarray) -> np.ndarray:
    """d/dx of sum_j var(x[:, j], ddof=1) + var(x): 2 (x - column mean) / (n - 1) plus
    2 (x - mean) / x.size."""
    n = x.shape[0]
    return 2 * (x - x.mean(axis=0)) / (n - 1) + 2 * (x - x.mean()) / x.size


@pytest.mark.parametrize("directory", [os.path.dirname(symdiff.__file__),
                                       os.path.dirname(np.__file__), "/tmp"])
def test_the_variance_method_is_numpys_wherever_the_caller_lives(directory):
    # (a caller in symdiff's or NumPy's folder once read the graph value instead)
    f = _defined_in(directory, SOURCE, "f")
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [3.0, 1.0, 0.0], [-2.0, 0.5, 1.25]])
    value, grad = symdiff.value_and_grad(f)(x)
    assert value == pytest.approx(np.var(x, axis=0, ddof=1).sum() + np.var(x), rel=1e-12)
    np.testing.assert_allclose(grad, _closed_form_grad(x), rtol=1e-12, atol=1e-14)

