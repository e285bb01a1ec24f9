"""The catalogue of bad inputs: one row per mistake a scientist or ML engineer makes.

Each row names a function below (its offending line carries the marker `# here`), the
arguments it is called with, the transform, and what the error must be: a symdiff
error of the given type whose message names this file and that line, and contains
the words of a suggestion (what to write instead). No row may end in an untyped or
internal error.
"""

import inspect

import numpy as np
import pytest

import symdiff
from symdiff import InputError, ShapeError, SymdiffError, TraceError, UnsupportedOpError

HERE = __file__
V2 = np.array([1.0, 2.0])
V3 = np.array([1.0, 2.0, 3.0])
M23 = np.ones((2, 3))


# -- control flow and concrete values ---------------------------------------------------
def if_on_a_vector(x):
    if x > 0:  # here
        return np.sum(x)
    return -np.sum(x)


def while_on_a_vector(x):
    while x < 10:  # here
        x = x * 2
    return np.sum(x)


def and_of_vectors(x, y):
    return np.sum(x and y)  # here


def float_of_a_vector(x):
    return float(x) * 2.0  # here


def int_of_an_element(x):
    return x[int(x[0])]  # here


def item_of_an_element(x):
    return x[0].item() * np.sum(x)  # here


def range_over_a_value(x):
    total = 0.0
    for i in range(int(np.sum(x))):  # here
        total = total + i
    return total


def data_dependent_mask(x):
    return np.sum(x[x > 1.5])  # here


def unsupported_function(x):
    return np.sum(np.fft.fft(x).real)  # here


def data_dependent_shape(x):
    return np.sum(np.unique(x))  # here


def unsupported_attribute(x):
    return np.sum(x.ctypes)  # here


def ufunc_out_argument(x):
    y = np.empty(3)
    np.sin(x, out=y)  # here
    return np.sum(y)


def reduction_out_argument(x):
    y = np.empty(())
    np.sum(x, out=y)  # here
    return y


def endless_recursion(x):  # here
    return endless_recursion(x * 1.0)


def numpy_random_while_tracing(x):
    return np.sum(x * np.random.normal(size=3))  # here


def generator_while_tracing(x):
    rng = np.random.default_rng(0)  # here
    return np.sum(x * rng.normal(size=3))


def len_of_a_scalar(x):
    return x * len(np.sum(x))  # here


def iterate_a_scalar(x):
    return sum(v for v in np.sum(x))  # here


def tolist_of_a_traced_value(x):
    return sum(x.tolist())  # here


def numpy_array_indexed_by_traced_labels(x):
    table = np.eye(3)
    return np.sum(table[x.astype(int)])  # here


def eigenvalues(x):
    return np.sum(np.linalg.eig(x)[0].real)  # here


def histogram_counts(x):
    return np.sum(np.histogram(x)[0] * x[0])  # here


def nonzero_positions(x):
    return np.sum(x[np.nonzero(x)])  # here


def complex_of_an_element(x):
    return complex(x[0]).real * np.sum(x)  # here


def weighted_bincount(x):
    return np.sum(np.bincount(np.array([0, 1]), weights=x[:2]))  # here


# -- shapes ---------------------------------------------------------------------------------
def broadcast_mismatch(x, y):
    return np.sum(x + y)  # here


def matmul_mismatch(x, y):
    return np.sum(x @ y)  # here


def axis_out_of_range(x):
    return np.sum(np.sum(x, axis=3))  # here


def reshape_to_a_wrong_size(x):
    return np.sum(x.reshape(4, 2))  # here


def index_out_of_bounds(x):
    return x[5]  # here


def concatenate_mismatch(x, y):
    return np.sum(np.concatenate([x, y], axis=1))  # here


def max_over_an_empty_axis(x):
    return np.max(x[:0])  # here


def assignment_misfit(x):
    y = x * 1.0
    y[0:2] = np.ones(3)  # here
    return np.sum(y)


def inverse_of_a_non_square(x):
    return np.sum(np.linalg.inv(x))  # here


def norm_needs_axis(x):
    return np.linalg.norm(x, ord=1)  # here


# -- outputs ----------------------------------------------------------------------------------
def vector_output(x):  # here
    return x * 2.0


def returns_nothing(x):
    np.sum(x)  # here


def returns_a_tuple(x):
    return np.sum(x), np.sum(x * x)  # here


def returns_a_list(x):
    return [np.sum(x), np.sum(x * x)]  # here


def returns_a_string(x):
    return "loss"  # here


def integer_output(x):  # here
    return np.sum(x > 0)


# -- signatures and arguments -------------------------------------------------------------
def scalar_fn(x):  # here
    return x * x


def two_args(x, y):  # here
    return np.sum(x * y)


def star_args(*xs):  # here
    return xs[0]


def star_kwargs(x, **options):  # here
    return x


def keyword_only(x, *, scale):  # here
    return x * scale


def uses_a_random_global(x):
    return np.sum(x * RNG.normal(size=3))  # here


RNG = np.random.default_rng(0)

# (function, arguments, options, error type, location marker or None, suggestion words)
ROWS = [
    (if_on_a_vector, (V2,), {}, TraceError, "np.where"),
    (while_on_a_vector, (V2,), {}, TraceError, "np.where"),
    (and_of_vectors, (V2, V2), {}, TraceError, "np.where"),
    (float_of_a_vector, (V2,), {}, TraceError, "np.where"),
    (int_of_an_element, (V3,), {}, TraceError, "np.where"),
    (item_of_an_element, (V3,), {}, TraceError, "np.where"),
    (range_over_a_value, (V2,), {}, TraceError, "np.where"),
    (data_dependent_mask, (V3,), {}, TraceError, "np.where"),
    (unsupported_function, (V3,), {}, UnsupportedOpError, "supported"),
    (data_dependent_shape, (V3,), {}, TraceError, ""),
    (unsupported_attribute, (V3,), {}, TraceError, "rewrite it"),
    (ufunc_out_argument, (V3,), {}, TraceError, "zeros_like"),
    (reduction_out_argument, (V3,), {}, TraceError, "out="),
    (endless_recursion, (V2,), {}, TraceError, "loop"),
    (numpy_random_while_tracing, (V3,), {}, TraceError, "argument"),
    (generator_while_tracing, (V3,), {}, TraceError, "argument"),
    (len_of_a_scalar, (V3,), {}, TraceError, ""),
    (iterate_a_scalar, (V3,), {}, TraceError, ""),
    (tolist_of_a_traced_value, (V3,), {}, TraceError, "np.where"),
    (numpy_array_indexed_by_traced_labels, (V3,), {}, TraceError, "np.arange(k)"),
    (tolist_of_a_traced_value, (V3,), {"transform": symdiff.value_and_grad}, TraceError,
     "np.where"),
    (uses_a_random_global, (V3,), {}, TraceError, "argument"),
    (eigenvalues, (np.eye(2) + 0.1,), {}, UnsupportedOpError, "register_primitive"),
    (histogram_counts, (V3,), {}, UnsupportedOpError, "register_primitive"),
    (nonzero_positions, (V3,), {}, UnsupportedOpError, "register_primitive"),
    (complex_of_an_element, (V3,), {}, TraceError, "np.where"),
    (weighted_bincount, (V3,), {}, UnsupportedOpError, "register_primitive"),
    (broadcast_mismatch, (V2, V3), {}, ShapeError, "broadcast"),
    (matmul_mismatch, (M23, M23), {}, ShapeError, ""),
    (axis_out_of_range, (V3,), {}, ShapeError, "axis"),
    (reshape_to_a_wrong_size, (V3,), {}, ShapeError, ""),
    (index_out_of_bounds, (V3,), {}, ShapeError, ""),
    (concatenate_mismatch, (M23, V3), {}, ShapeError, ""),
    (max_over_an_empty_axis, (V3,), {}, ShapeError, "check the shape"),
    (assignment_misfit, (V3,), {}, ShapeError, ""),
    (inverse_of_a_non_square, (M23,), {}, ShapeError, ""),
    (norm_needs_axis, (np.ones((2, 2, 2)),), {}, ShapeError, "axis"),
    (vector_output, (V3,), {}, TraceError, "np.sum"),
    (vector_output, (V3,), {"transform": symdiff.value_and_grad}, TraceError, "np.sum"),
    (returns_nothing, (V3,), {}, TraceError, "return"),
    (returns_a_tuple, (V3,), {}, TraceError, "np.stack"),
    (returns_a_list, (V3,), {}, TraceError, "np.stack"),
    (returns_a_string, (V3,), {}, TraceError, "return a NumPy array"),
    (integer_output, (V3,), {}, TraceError, "floating-point"),
    (scalar_fn, (1,), {}, InputError, "float("),
    (scalar_fn, (True,), {}, InputError, "float"),
    (scalar_fn, (1 + 2j,), {}, InputError, ".real"),
    (scalar_fn, ("x",), {}, InputError, "argnums"),
    (scalar_fn, ([V2, V2],), {}, InputError, "np.stack"),
    (scalar_fn, ([1.0, 2.0],), {}, InputError, "np.asarray"),
    (scalar_fn, ({"a": 1.0},), {}, InputError, "argument"),
    (scalar_fn, (np.array([1, 2]),), {}, InputError, "astype"),
    (scalar_fn, (np.array([None, 1.0]),), {}, InputError, "astype"),
    (two_args, (V2, [[1.0], [1.0, 2.0]]), {}, InputError, "NumPy array"),
    (two_args, (V2, V2), {"argnums": 5}, InputError, "argnums"),
    (two_args, (V2,), {}, InputError, "one value per parameter"),
    (star_args, (1.0,), {}, TraceError, "def f(w, b, X)"),
    (star_kwargs, (1.0,), {}, TraceError, "write them out"),
    (keyword_only, (1.0,), {}, TraceError, "give it a default"),
    (two_args, (V2, np.ones(2, dtype=complex)), {"argnums": 0}, InputError, ".real"),
]


def vector_fn(x):  # here
    return x * 2.0


# Misuse of the API itself: the error names the line of the call (or, for what is
# wrong with the function's own arguments, the function's definition).
API_ROWS = [
    (lambda: symdiff.grad(scalar_fn)(y=1.0), InputError, "no positional parameter"),
    (lambda: symdiff.grad(scalar_fn, argnums="0")(1.0), InputError, "argnums=0"),
    (lambda: symdiff.grad(scalar_fn, argnums=(0, 2.5))(1.0), InputError, "argnums=(0, 2)"),
    (lambda: symdiff.grad(scalar_fn(2.0))(1.0), InputError, "symdiff.grad(f)(x)"),
    (lambda: symdiff.jacobian(scalar_fn, mode="sideways")(1.0), InputError, "'forward'"),
    (lambda: symdiff.jvp(two_args, (V2, V2), (V2, V3)), ShapeError, "same shape"),
    (lambda: symdiff.jvp(two_args, (V2, V2), (V2,)), InputError, "one tangent per primal"),
    (lambda: symdiff.vjp(vector_fn, V2)[1](V3), ShapeError, "same shape"),
    (lambda: symdiff.hvp(vector_fn, (V2,), (V2,)), TraceError, "symdiff.jvp"),
    (lambda: symdiff.gradcheck(two_args, (V2, V2)), InputError, "gradcheck(f, x, y)"),
    (lambda: symdiff.check_derivative(scalar_fn, "2*x", 1.0, points=0), InputError,
     "1 point"),
    (lambda: symdiff.grad(two_args, argnums=2)(V2, V2), InputError, "from 0"),
]


@pytest.mark.parametrize("call, error, words", API_ROWS,
                         ids=[f"api{i}" for i in range(len(API_ROWS))])
def test_api_misuse(call, error, words):
    with pytest.raises(SymdiffError) as info:
        call()
    assert isinstance(info.value, error), f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    lines = {call.__code__.co_firstlineno} | {
        line_of(f) for f in (scalar_fn, two_args, vector_fn) if f.__name__ in
        call.__code__.co_names}
    assert any(f"{HERE}:{line}" in message for line in lines), message
    assert words in message, message


def line_of(fn, marker="# here"):
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, text in enumerate(lines) if marker in text)


def _id(row):
    fn, args, options = row[:3]
    extra = ",".join(f"{k}={getattr(v, '__name__', v)}" for k, v in options.items())
    kinds = ",".join(type(a).__name__ for a in args)
    return f"{fn.__name__}({kinds}){'[' + extra + ']' if extra else ''}"


@pytest.mark.parametrize("row", ROWS, ids=[_id(r) for r in ROWS])
def test_bad_input(row):
    fn, args, options, error, words = row
    options = dict(options)
    transform = options.pop("transform", symdiff.grad)
    with pytest.raises(SymdiffError) as info:
        transform(fn, **options)(*args)
    assert isinstance(info.value, error), f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    assert f"{HERE}:{line_of(fn)}" in message, message
    assert words in message, message
    assert "internal error" not in message


def test_the_catalogue_has_at_least_60_rows():
    assert len(ROWS) + len(API_ROWS) >= 60
