"""A parameter named like something the generated module reads (a builtin it calls,
NumPy, the Array-API namespace) is a typed error naming the parameter, the user's line
and the fix; a parameter that only shadows a name the module never reads works."""

import inspect

import numpy as np
import pytest

import symdiff
from symdiff.errors import InputError


def _line(fn) -> str:
    return f"{inspect.getsourcefile(fn)}:{inspect.getsourcelines(fn)[1]}"


def test_a_parameter_named_float_is_a_typed_error_not_an_internal_one():
    def f(float):
        return float ** 2

    with pytest.raises(InputError) as err:
        symdiff.grad(f)(3.0)
    message = str(err.value)
    assert _line(f) in message and "'float'" in message and "rename the parameter" in message


def test_a_parameter_named_np_is_a_typed_error():
    def g(np):
        return np ** 2

    with pytest.raises(InputError, match=r"'np' of g hides the name np"):
        symdiff.grad(g)(3.0)


def test_xp_is_taken_only_in_the_array_api_mode():
    def h(x, xp):
        return np.sum(x * xp)

    np.testing.assert_allclose(symdiff.grad(h)(np.ones(3), np.full(3, 2.0)), [2, 2, 2])
    with pytest.raises(InputError, match="'xp' of h"):
        symdiff.grad(h, xp=True)(np.ones(3), np.full(3, 2.0))


def test_parameters_named_like_builtins_the_module_never_reads_work():
    def k(x, sum, type, len):
        return np.sum(np.abs(x) * sum) + type * len

    gx = symdiff.grad(k)(np.array([1.0, -2.0, 3.0]), 2.0, 3.0, 4.0)
    np.testing.assert_allclose(gx, [2.0, -2.0, 2.0])  # d/dx sum(|x|*s) = s*sign(x)
    g_all = symdiff.grad(k, argnums=(1, 2, 3))(np.array([1.0, -2.0, 3.0]), 2.0, 3.0, 4.0)
    np.testing.assert_allclose(g_all, (6.0, 4.0, 3.0))


def test_a_parameter_named_like_a_decorator_of_the_kernels_is_fine():
    """A kernel's `@njit(...)` runs at module level: a parameter `njit` hides nothing."""
    pytest.importorskip("numba")

    def f(x, njit):
        return np.sum(np.sin(x) * njit)

    x = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(symdiff.grad(f, backend="numba")(x, 2.0), 2 * np.cos(x),
                               rtol=1e-12)
