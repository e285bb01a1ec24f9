"""Bad input around NumPy as people write it (issue 17): each a typed error naming
the user's line and saying what to write instead; and derivatives that do not exist
(eigenvectors at a repeated eigenvalue) raise instead of returning nan."""

import inspect
import math

import numpy as np
import pytest

import symdiff
from symdiff.errors import ShapeError, SymdiffError, TraceError, UnsupportedOpError

HERE = __file__


def line_of(fn, marker: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if marker in line)


def raises_at(error, fn, marker, *args, match=None):
    with pytest.raises(error) as info:
        symdiff.grad(fn)(*args)
    assert isinstance(info.value, SymdiffError)
    message = str(info.value)
    assert f"{HERE}:{line_of(fn, marker)}" in message, message
    if match is not None:
        assert match in message, message
    return message


def test_a_list_of_traced_values_of_different_shapes():
    def f(x):
        v = np.array([x[0], x[1:3]])  # here
        return np.sum(v)

    raises_at(ShapeError, f, "# here", np.ones(4), match="different shapes ((), (2,))")


def test_np_array_of_traced_values_with_an_object_or_string_dtype():
    def f(x):
        v = np.array([x[0], x[1]], dtype=object)  # here
        return np.sum(v)

    raises_at(TraceError, f, "# here", np.ones(2), match="Python objects")

    def g(x):
        v = np.asarray(x, dtype="U8")  # here
        return np.sum(v)

    raises_at(TraceError, g, "# here", np.ones(2), match="leave dtype out")


def test_math_on_a_traced_array_of_several_elements():
    def f(x):
        return math.exp(x)  # here

    raises_at(TraceError, f, "# here", np.ones(3), match="use np.exp for arrays")

    def g(x):  # one element is a number to math, as to NumPy
        return math.exp(x) * 2.0

    np.testing.assert_allclose(symdiff.grad(g)(np.array([0.5])), [2 * math.exp(0.5)])


def test_scipy_functions_without_a_rule_name_the_registration():
    special = pytest.importorskip("scipy.special")

    def f(x):
        return np.sum(special.jv(1.5, x))  # here

    raises_at(UnsupportedOpError, f, "# here", np.ones(3),
              match="scipy.special.jv has no derivative rule in symdiff yet; teach it with "
                    "symdiff.register_primitive(scipy.special.jv, derivatives=")

    import scipy.linalg

    def g(x):
        return np.sum(scipy.linalg.expm(x))  # here

    raises_at(UnsupportedOpError, g, "# here", np.eye(2), match="scipy.linalg.expm has no")


def test_sort_with_a_kind_numpy_does_not_have():
    def f(x):
        return np.sum(np.sort(x, kind="alphabetical")[:2])  # here

    raises_at(TraceError, f, "# here", np.arange(3.0), match="kind is one of 'quicksort'")

    def g(x):
        return np.sum(np.sort(x, order="name"))  # here

    raises_at(UnsupportedOpError, g, "# here", np.arange(3.0), match="structured arrays")


def test_a_view_of_a_buffer_read_after_a_traced_write():
    def f(x):
        out = np.zeros((2, 3))
        row = out[0]
        out[0] = x
        return np.sum(row * x)  # here

    raises_at(TraceError, f, "# here", np.ones(3), match="take the view after the assignment")

    def g(x):
        out = np.zeros((2, 3))
        row = out[1]
        row[:] = x  # here
        return np.sum(out)

    raises_at(TraceError, g, "# here", np.ones(3), match="assign into the array itself")


def test_a_float_written_into_an_integer_buffer():
    def f(x):
        counts = np.zeros(3, dtype=int)
        counts[0] = x[0]  # here
        return np.sum(counts * x)

    raises_at(TraceError, f, "# here", np.ones(3), match="make the array a float array")


def test_eigenvector_derivatives_at_a_repeated_eigenvalue_raise():
    """The derivative does not exist there: the generated code raises LinAlgError (no
    nan); the eigenvalues' own derivative is fine at the same point."""
    def vectors(a):
        return np.sum(np.linalg.eigh(a).eigenvectors[:, 0] ** 4)

    def values(a):
        return np.sum(np.linalg.eigvalsh(a) ** 2)

    a = np.diag([1.0, 1.0, 3.0])
    with pytest.raises(np.linalg.LinAlgError, match="eigenvector derivatives are undefined "
                                                     "at repeated values"):
        symdiff.grad(vectors)(a)
    np.testing.assert_allclose(symdiff.grad(values)(a), np.diag([2.0, 2.0, 6.0]))
    b = np.diag([1.0, 2.0, 3.0]) + 0.1
    assert np.all(np.isfinite(symdiff.grad(vectors)(b)))


def test_singular_vector_derivatives_at_a_repeated_singular_value_raise():
    def f(a):
        return np.sum(np.linalg.svd(a, full_matrices=False).U ** 4)

    with pytest.raises(np.linalg.LinAlgError, match="singular-vector derivatives"):
        symdiff.grad(f)(np.eye(3)[:, :2] * 2.0)
