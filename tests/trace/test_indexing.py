"""Indexing and item assignment: hand-worked adjoints, the code they print, and the
errors for what a trace cannot follow."""

import inspect

import numpy as np
import pytest

import symdiff
from symdiff import ShapeError, TraceError, UnsupportedOpError
from symdiff.verify import numerical_gradient

HERE = __file__


def line_of(fn, marker):
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if marker in line)


def raises_at(error, fn, marker, *args, match=None):
    with pytest.raises(error) as info:
        symdiff.grad(fn)(*args)
    message = str(info.value)
    assert f"{HERE}:{line_of(fn, marker)}" in message, message
    if match is not None:
        assert match in message, message
    return message


# -- adjoints worked by hand ----------------------------------------------------------------
def test_repeated_indices_accumulate():
    def f(x):
        return np.sum(x[[0, 0, 2, 0]] * np.array([1.0, 2.0, 3.0, 4.0]))

    g = symdiff.grad(f)
    np.testing.assert_array_equal(g(np.ones(3)), [7.0, 0.0, 3.0])
    assert "np.add.at(" in g.source  # and the code says so


def test_traced_labels_pick_one_entry_per_row():
    def nll(logp, y):
        return -np.sum(logp[np.arange(3), y])

    logp, y = np.zeros((3, 2)), np.array([1, 0, 1])
    np.testing.assert_array_equal(symdiff.grad(nll)(logp, y), [[0, -1], [-1, 0], [0, -1]])


def test_slices_scatter_into_zeros():
    def f(x):
        return np.sum(x[1:, ::-2] * 2.0)

    g = symdiff.grad(f)
    np.testing.assert_array_equal(g(np.ones((2, 3))), [[0, 0, 0], [2, 0, 2]])
    np.testing.assert_array_equal(g(np.ones((3, 3))), [[0, 0, 0], [2, 0, 2], [2, 0, 2]])
    assert g.cache_info().compiles == 1  # the rows are a symbol n: one module for both
    body = g.source.split("def grad_f")[1]
    assert "= np.zeros((n, 3))" in body and "[1:, ::-2] = " in body


def test_assignment_blocks_the_overwritten_entries_and_routes_the_new_value():
    def f(x, v):
        y = x * 1.0
        y[1] = v  # x[1] no longer matters
        y[:, 0] += v  # adds v once per row
        return np.sum(y * np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))

    x = np.ones((3, 2))
    v = 0.5
    dx, dv = symdiff.grad(f, argnums=(0, 1))(x, v)
    np.testing.assert_array_equal(dx, [[1, 2], [0, 0], [5, 6]])
    assert dv == 3 + 4 + (1 + 3 + 5)


def test_assignment_through_repeated_indices_counts_each_element_once():
    # NumPy writes y[0] twice and keeps one write: y = [x0 + w, x1 + w, x2], so
    # df/dw = c0 + c1 (the gradient gathered at [0, 0, 1] counted row 0 twice)
    c = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])

    def f(x, w):
        y = x * 1.0
        y[[0, 0, 1]] += w
        return np.sum(y * np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))  # c

    dx, dw = symdiff.grad(f, argnums=(0, 1))(np.ones((3, 2)), np.array([0.5, -1.0]))
    np.testing.assert_array_equal(dx, c)
    np.testing.assert_array_equal(dw, c[0] + c[1])


def test_assignment_of_different_values_to_one_element_keeps_the_last():
    c = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])

    def f(x, v):
        y = x * 1.0
        y[[0, 0]] = v * np.array([[1.0], [2.0]])  # y[0] = 2 v, as NumPy leaves it
        return np.sum(y * np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))  # c

    dx, dv = symdiff.grad(f, argnums=(0, 1))(np.ones((3, 2)), np.array([0.5, -1.0]))
    np.testing.assert_array_equal(dx, [[0, 0], [3, 4], [5, 6]])
    np.testing.assert_array_equal(dv, 2 * c[0])


def test_assignment_through_repeated_traced_indices():
    # i = [2, 2, 0]: y[2] = v[1] (the last write to row 2), y[0] = v[2]; the repeats
    # are only known when the generated code runs
    c = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])

    def f(x, v, i):
        y = x * 1.0
        y[i] = v
        return np.sum(y * np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))  # c

    x, v, i = np.ones((3, 2)), np.zeros((3, 2)), np.array([2, 2, 0])
    dx, dv = symdiff.grad(f, argnums=(0, 1))(x, v, i)
    np.testing.assert_array_equal(dx, [[0, 0], [3, 4], [0, 0]])
    np.testing.assert_array_equal(dv, [[0, 0], c[2], c[0]])
    dv = symdiff.grad(f, argnums=1)(x, v, np.array([1, 0, 2]))  # no repeats
    np.testing.assert_array_equal(dv, [c[1], c[0], c[2]])


def test_assignment_leaves_the_callers_array_alone():
    def f(x):
        x[0] = 5.0
        x[1:] *= 2.0
        return np.sum(x)

    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(symdiff.grad(f)(x), [0.0, 2.0, 2.0])
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("copy", [
    lambda x: x.copy(), np.copy, lambda x: x.astype(float), lambda x: +x, np.positive,
    lambda x: np.concatenate([x]), lambda x: np.sum(x, axis=()), lambda x: x.sum(axis=()),
    lambda x: x.max(axis=()), lambda x: x.conj(), lambda x: x.flatten(),
], ids=["x.copy()", "np.copy", "astype", "+x", "np.positive", "concatenate([x])",
        "np.sum(axis=())", "x.sum(axis=())", "x.max(axis=())", "x.conj()", "x.flatten()"])
def test_assigning_into_a_copy_leaves_the_original_alone(copy):
    # these returned the argument's own tracer, so y[0] = 0 also zeroed x
    def f(x):
        y = copy(x)
        y[0] = 0.0
        return np.sum(x**3) + np.sum(y)

    x = np.array([1.0, 2.0, 3.0])
    value, grad = symdiff.value_and_grad(f)(x)
    assert value == 1 + 8 + 27 + 2 + 3
    np.testing.assert_array_equal(grad, 3 * x**2 + [0.0, 1.0, 1.0])


def test_assigning_through_a_whole_view_changes_the_base_too():
    # as in NumPy: x[:] and a same-shape reshape are views of x
    def f(x):
        y = x * 1.0
        y[:][0] = 0.0
        z = np.reshape(y, (3,))
        z[1] = 5.0
        return np.sum(y * x)

    x = np.array([1.0, 2.0, 3.0])
    value, grad = symdiff.value_and_grad(f)(x)
    assert value == f(x.copy()) == 5 * 2 + 9
    np.testing.assert_array_equal(grad, [0.0, 5.0, 6.0])


def test_filling_a_zeros_like_array_row_by_row():
    def f(x):
        y = np.zeros_like(x)
        for i in range(x.shape[0]):
            y[i] = x[i] * (i + 1)
        return np.sum(y)

    np.testing.assert_array_equal(symdiff.grad(f)(np.ones((3, 2))), [[1, 1], [2, 2], [3, 3]])


def test_iteration_yields_rows():
    def f(x):
        return sum(np.sum(row) * k for k, row in enumerate(x))

    np.testing.assert_array_equal(symdiff.grad(f)(np.ones((3, 2))), [[0, 0], [1, 1], [2, 2]])


def test_flip_prints_as_a_slice_and_its_adjoint_too():
    def f(x):
        return np.sum(np.flip(x) * np.arange(3.0))

    g = symdiff.grad(f)
    np.testing.assert_array_equal(g(np.ones(3)), [2.0, 1.0, 0.0])
    assert "np.zeros" not in g.source and "[::-1]" in g.source


# -- what a trace cannot follow -------------------------------------------------------------
def test_mask_from_traced_values_suggests_where():
    def f(x):
        return np.sum(x[x > 0])  # here

    raises_at(TraceError, f, "# here", np.ones(3), match="np.where")


def test_assignment_through_a_traced_mask_suggests_where():
    def f(x):
        y = x * 1.0
        y[x < 0] = 0.0  # here
        return np.sum(y)

    raises_at(TraceError, f, "# here", np.ones(3), match="np.where")


def test_reading_a_view_after_its_array_was_assigned_into():
    # NumPy's row shows the new y[0]; the trace kept the old one (a wrong value, silently)
    def f(x):
        y = x * 1.0
        row = y[0]
        y[:, 1] = 0.0  # written
        return np.sum(row * x[0])  # here

    message = raises_at(TraceError, f, "# here", np.ones((2, 3)), match=".copy()")
    assert f"{HERE}:{line_of(f, '# written')}" in message


@pytest.mark.parametrize("view", [lambda y: y[0], lambda y: y.reshape(-1), lambda y: y.T,
                                  lambda y: y[::-1, 1:], lambda y: np.transpose(y)],
                         ids=["y[0]", "reshape", ".T", "slices", "np.transpose"])
def test_reading_an_array_changed_through_a_view(view):
    def f(x):
        y = x * 1.0
        v = view(y)
        v[0] = 5.0  # written
        return np.sum(y * x)  # here

    message = raises_at(TraceError, f, "# here", np.ones((2, 3)), match="assign into the array")
    assert f"{HERE}:{line_of(f, '# written')}" in message


def test_views_the_assignment_does_not_touch_stay_readable():
    def f(x):
        y = np.zeros_like(x)
        prev = y[0]
        for t in range(1, 3):
            y[t] = np.tanh(prev + x[t])  # writes row t; prev is row t - 1
            prev = y[t]
        col = y[:, 0]
        y[:, 1] = x[:, 2]
        total = np.sum(y[:, :2] * col[:, None])
        row = y[0]
        row[2] = 1.0  # y is not read after this
        return total + np.sum(row)

    x = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]])
    value, grad = symdiff.value_and_grad(f)(x)
    assert value == pytest.approx(f(x.copy()), rel=1e-14)
    np.testing.assert_allclose(grad, numerical_gradient(f, [x]), rtol=1e-6, atol=1e-8)


def test_slice_bound_from_a_traced_value():
    def f(x, n):
        return np.sum(x[:n])  # here

    with pytest.raises(TraceError, match="slice bound") as info:
        symdiff.grad(f)(np.ones(3), np.array(2))
    assert f"{HERE}:{line_of(f, '# here')}" in str(info.value)


@pytest.mark.parametrize("index, kind", [
    (lambda x: x[[0, 5]], "out of bounds"),
    (lambda x: x[7], "out of bounds"),
    (lambda x: x[0, 0, 0], "too many indices"),
    (lambda x: x[np.array([True, False])], "boolean index"),
])
def test_bad_constant_indices(index, kind):
    with pytest.raises(ShapeError, match=kind):
        symdiff.grad(lambda x: np.sum(index(x)))(np.ones((3, 2)))


def test_float_index_is_refused():
    with pytest.raises(TraceError, match="integers"):
        symdiff.grad(lambda x, i: np.sum(x[i]))(np.ones(3), np.ones(2))


def test_assigning_the_wrong_shape():
    def f(x):
        y = x * 1.0
        y[0] = np.ones(5)  # here
        return np.sum(y)

    raises_at(ShapeError, f, "# here", np.ones((3, 2)), match="(5,)")


@pytest.mark.parametrize("call, what", [
    (lambda x: np.pad(x, 1, mode="reflect"), "mode='reflect'"),
    (lambda x: np.linalg.norm(x, ord=3), "for matrices: use"),
    (lambda x: np.sum((x > 0) & 1), "boolean masks"),
    (lambda x: np.pad(x, 1, constant_values=((1, 2), (3, 4))), "one number"),
])
def test_unsupported_forms_are_named(call, what):
    with pytest.raises(UnsupportedOpError) as info:
        symdiff.grad(lambda x: np.sum(call(x)))(np.ones((2, 2)))
    assert what in str(info.value)


def test_unequal_split_points_to_array_split():
    with pytest.raises(ShapeError, match="np.array_split"):
        symdiff.grad(lambda x: np.sum(np.split(x, 2)[0]))(np.ones(3))


@pytest.mark.parametrize("method", ["argmax", "sort", "nonzero", "all"])
def test_array_methods_without_a_rule_are_named(method):
    with pytest.raises(UnsupportedOpError, match=f".{method} has no derivative rule"):
        symdiff.grad(lambda x: np.sum(getattr(x, method)()))(np.ones(3))
