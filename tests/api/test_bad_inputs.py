"""The catalogue of bad inputs: each gives a typed symdiff error that names the user's
file and line and says what to do instead; none ends in an internal exception.

A few entries are decisions rather than errors, each tested for what it promises:
`x += 1` and `x[0] = v` on an argument trace functionally (the generated code never
writes into the caller's array); a NumPy array read from a closure or a global is a
constant of the generated code, as under `jax.jit`, and tracing warns about it
(`CapturedArrayWarning`); strings, ints and None are static arguments, fixed in the
generated code, which checks them; generated modules accept integer arrays where
floats were traced (NumPy promotes them) and reject bool, complex, object and
string arguments with a TypeError.
"""

import inspect
import warnings

import numpy as np
import pytest

import symdiff
from symdiff import CapturedArrayWarning, InputError, ShapeError, SymdiffError, TraceError, UnsupportedOpError

HERE = __file__


def line_of(fn, marker: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, text in enumerate(lines) if marker in text)


def raises_at(error, fn, marker, *args, argnums=0, match=None, transform=symdiff.grad):
    """Run `transform(fn)(*args)`; the error must be `error`, located at the line of
    `fn` containing `marker`, and (when given) mention `match`."""
    with pytest.raises(error) as info:
        transform(fn, argnums=argnums)(*args)
    assert isinstance(info.value, SymdiffError)
    message = str(info.value)
    assert f"{HERE}:{line_of(fn, marker)}" in message, message
    if match is not None:
        assert match in message, message
    return message


# -- control flow and concrete values ------------------------------------------------------
def test_python_if_on_a_traced_value():
    def f(x):
        if x > 0:  # here
            return x
        return -x

    raises_at(TraceError, f, "# here", 1.0, match="np.where")


def test_python_while_on_a_traced_value():
    def f(x):
        while x < 10:  # here
            x = x * 2
        return x

    raises_at(TraceError, f, "# here", 1.0, match="np.where")


def test_boolean_operator_on_traced_values():
    def f(x, y):
        return (x > 0) and (y > 0) or x  # here

    raises_at(TraceError, f, "# here", 1.0, 2.0, match="np.where")


@pytest.mark.parametrize("convert", [float, int, bool, complex])
def test_python_number_of_a_traced_value(convert):
    def f(x):
        return x * convert(x)  # here

    raises_at(TraceError, f, "# here", 1.5, match="keep it an array expression")


def test_item_of_a_traced_value():
    def f(x):
        return x.item() * x  # here

    raises_at(TraceError, f, "# here", 1.5, match=".item()")


def test_range_over_a_traced_value():
    def f(x):
        total = x
        for _ in range(x):  # here
            total = total * x
        return total

    raises_at(TraceError, f, "# here", 3.0)


def test_data_dependent_boolean_mask():
    def f(x):
        return np.sum(x[x > 0])  # here

    message = raises_at(TraceError, f, "# here", np.array([1.0, -2.0, 3.0]))
    assert "np.where" in message


def test_boolean_mask_passed_as_an_argument():
    def f(x, mask):
        return np.sum(x[mask] ** 2)  # here

    message = raises_at(TraceError, f, "# here", np.ones(3), np.array([True, False, True]))
    assert "an argument" in message and "np.where" in message and "closure" in message


def test_unbounded_recursion():
    def f(x):
        return f(x * 0.5) + x  # never stops

    raises_at(TraceError, f, "def f(x):", 1.0, match="Python loop over a fixed count")


# -- in-place operations ---------------------------------------------------------------------
def test_ufunc_out_argument_writes_in_place():
    def f(x):
        np.add(x, 1, out=x)  # here
        return np.sum(x)

    raises_at(TraceError, f, "# here", np.ones(3), match="assign the result")


def test_reduction_out_argument():
    def f(x):
        total = np.zeros(())
        np.sum(x, out=total)  # here
        return total

    raises_at(TraceError, f, "# here", np.ones(3), match="assign the result")


def test_augmented_assignment_rebinds_and_leaves_the_caller_array_alone():
    def f(x):
        x += 1
        x *= x
        return np.sum(x)

    x = np.array([1.0, 2.0])
    grad = symdiff.grad(f)(x)
    np.testing.assert_allclose(grad, 2 * (x + 1))  # d/dx sum((x+1)^2)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_item_assignment_on_an_argument_is_functional():
    def f(x):
        x[0] = 5.0
        return np.sum(x * x)

    x = np.array([1.0, 2.0, 3.0])
    grad = symdiff.grad(f)(x)
    np.testing.assert_allclose(grad, [0.0, 4.0, 6.0])  # x[0] was overwritten
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


# -- unsupported operations --------------------------------------------------------------
def test_unsupported_numpy_function():
    def f(x):
        return np.sum(np.fft.fft(x).real)  # here

    raises_at(UnsupportedOpError, f, "# here", np.ones(4), match="register_primitive")


def test_data_dependent_shape_function():
    def f(x):
        return np.sum(np.unique(x))  # here

    raises_at(UnsupportedOpError, f, "# here", np.ones(4), match="np.unique")


def test_unsupported_array_attribute():
    def f(x):
        return len(x.tobytes()) * x  # here

    raises_at(TraceError, f, "# here", np.ones(2), match="tobytes")


def test_conversion_to_a_concrete_array():
    import math

    def f(x):
        return math.factorial(x)  # here (math.exp and friends trace; this needs an int)

    raises_at(TraceError, f, "# here", 1.0)


def test_a_numpy_array_indexed_by_traced_labels_suggests_a_comparison():
    def f(W, labels):
        Y = np.eye(3)[labels]  # here
        return np.sum(Y * W)

    raises_at(TraceError, f, "# here", np.ones((2, 3)), np.array([0, 2]),
              match="labels[:, None] == np.arange(k)")


def test_adding_in_place_into_a_numpy_array_suggests_a_traced_one():
    def f(x):
        y = np.zeros(4)  # a buffer made inside the function takes traced values
        y[1:3] += x
        return np.sum(y**2)

    np.testing.assert_array_equal(symdiff.grad(f)(np.array([1.0, -2.0])), [2.0, -4.0])

    def h(x):
        y = np.zeros(4)
        row = y[1:3]
        row += x  # NumPy changes y here; symdiff refuses to read y afterwards
        return np.sum(y**2)  # here

    raises_at(TraceError, h, "# here", np.ones(2), match="write into the array itself")

    def g(x):  # as the message says
        y = np.zeros_like(x, shape=(4,))
        y[1:3] += x
        return np.sum(y**2)

    np.testing.assert_array_equal(symdiff.grad(g)(np.array([1.0, -2.0])), [2.0, -4.0])


# -- argument types --------------------------------------------------------------------------
@pytest.mark.parametrize("value, words", [
    (np.arange(3), "integer"),
    (np.array([True, False]), "boolean"),
    (np.array([1.0, "a"], dtype=object), "object"),
    (3, "int"),
])
def test_non_float_argument_to_differentiate(value, words):
    def f(x):
        return np.sum(x * 2)

    message = raises_at(InputError, f, "def f(x):", value, match=words)
    assert "float" in message


@pytest.mark.parametrize("argnums", [0, 1])
def test_complex_argument_differentiated_or_not(argnums):
    def f(x, z):
        return np.sum(x * 2)

    raises_at(InputError, f, "def f(x, z):", np.ones(2), np.ones(2, dtype=complex),
              argnums=1 if argnums else 0, match=".real and z.imag")


def test_string_argument_to_differentiate():
    def f(x, mode):
        return x * 2 if mode == "double" else x

    raises_at(InputError, f, "def f(x, mode):", 1.0, "double", argnums=1,
              match="leave it out of argnums")


def test_string_argument_is_static_and_checked():
    def f(x, mode):
        return x * 2 if mode == "double" else x

    compiled = symdiff.grad(f).compile(1.0, "double")
    assert compiled.grad(3.0, "double") == 2.0
    with pytest.raises(ValueError, match="'double' when this code was generated"):
        compiled.grad(3.0, "half")


def test_list_of_arrays_argument():
    def f(x, layers):
        return np.sum(x * layers[0])

    raises_at(InputError, f, "def f(x, layers):", np.ones(2), [np.ones(2), np.ones(3)],
              match="pass each array as its own argument")


def test_list_argument_to_differentiate():
    def f(x):
        return np.sum(x * x)

    raises_at(InputError, f, "def f(x):", [1.0, 2.0], match="np.asarray(x, dtype=float)")


def test_dict_argument():
    def f(x, params):
        return x * params["w"]

    raises_at(InputError, f, "def f(x, params):", 1.0, {"w": np.ones(2)},
              match="not containers")


# -- shapes ------------------------------------------------------------------------------------
def test_broadcasting_mismatch():
    def f(x, y):
        return np.sum(x * y)  # here

    raises_at(ShapeError, f, "# here", np.ones(3), np.ones(4), match="(3,) (4,)")


def test_matmul_mismatch():
    def f(W, x):
        return np.sum(W @ x)  # here

    raises_at(ShapeError, f, "# here", np.ones((2, 3)), np.ones(4), match="matmul")


def test_grad_of_a_non_scalar_output():
    def f(x):
        return x * 2

    raises_at(TraceError, f, "def f(x):", np.ones(3), match="symdiff.jacobian")


# -- signatures and return values ----------------------------------------------------------
def test_star_args_signature():
    def f(*xs):
        return xs[0]

    raises_at(TraceError, f, "def f(*xs):", 1.0, match="fixed list of named arguments")


def test_star_kwargs_signature():
    def f(x, **options):
        return x

    raises_at(TraceError, f, "def f(x, **options):", 1.0, match="**options")


def test_required_keyword_only_parameter():
    def f(x, *, scale):
        return x * scale

    raises_at(TraceError, f, "def f(x, *, scale):", 1.0, match="give it a default")


@pytest.mark.parametrize("args", [(1.0,), (1.0, 2.0, 3.0)])
def test_wrong_number_of_arguments(args):
    def f(x, y):
        return x * y

    raises_at(InputError, f, "def f(x, y):", *args, match="takes 2 positional arguments")


def test_function_that_returns_nothing():
    def f(x):
        y = x * 2  # noqa: F841 - forgot to return it

    raises_at(TraceError, f, "forgot to return", 1.0, match="returned None")


def test_tuple_output():
    def f(x):
        return x * 2, x * 3  # here

    raises_at(TraceError, f, "# here", 1.0, match="tuple of 2 values")


def test_list_output():
    def f(x):
        return [x, x]  # here

    raises_at(TraceError, f, "# here", 1.0, match="np.stack")


def test_string_output():
    def f(x):
        return "x"  # here

    raises_at(TraceError, f, "# here", 1.0, match="returned a str")


# -- values from outside the arguments ---------------------------------------------------------
def test_random_numbers_drawn_while_tracing():
    def f(x):
        noise = np.random.normal(size=x.shape)  # here
        return np.sum(x * noise)

    normal = np.random.normal
    raises_at(TraceError, f, "# here", np.ones(3), match="pass them in as an argument")
    assert np.random.normal is normal  # restored, also after the error


def test_random_generator_created_while_tracing():
    def f(x):
        rng = np.random.default_rng(0)  # here
        return np.sum(x * rng.normal(size=3))

    raises_at(TraceError, f, "# here", np.ones(3), match="pass them in as an argument")


RNG = np.random.default_rng(0)


def test_random_generator_from_a_global():
    def f(x):
        return np.sum(x * RNG.normal(size=3))  # here

    raises_at(TraceError, f, "# here", np.ones(3), match="'RNG' (a global Generator)")


def test_random_calls_elsewhere_are_untouched_while_not_tracing():
    assert np.random.default_rng(1).normal() == np.random.default_rng(1).normal()
    np.random.seed(0)
    assert np.random.normal() == pytest.approx(1.764052345967664)  # NumPy's documented stream


def test_closure_array_is_a_constant_with_a_warning():
    w = np.array([1.0, 2.0])

    def f(x):
        return np.sum(w * x * x)  # here

    with pytest.warns(CapturedArrayWarning, match="closure array 'w'") as record:
        grad = symdiff.grad(f)(np.array([3.0, 4.0]))
    np.testing.assert_allclose(grad, 2 * w * [3.0, 4.0])
    assert record[0].filename == HERE and record[0].lineno == line_of(f, "# here")
    assert "baked into the generated code as a constant" in str(record[0].message)


W_GLOBAL = np.array([1.0, -1.0])


def test_global_array_is_a_constant_with_a_warning():
    def f(x):
        return np.sum(W_GLOBAL * x)  # here

    with pytest.warns(CapturedArrayWarning, match="global array 'W_GLOBAL'"):
        grad = symdiff.grad(f)(np.array([3.0, 4.0]))
    np.testing.assert_allclose(grad, W_GLOBAL)


def test_arrays_passed_as_arguments_give_no_warning():
    def f(x, w):
        return np.sum(w * x)

    with warnings.catch_warnings():
        warnings.simplefilter("error", CapturedArrayWarning)
        symdiff.grad(f)(np.ones(2), np.ones(2))


# -- generated modules check their arguments -----------------------------------------------
@pytest.fixture(scope="module")
def compiled():
    def f(x, n):
        return np.sum(x * x) * n

    return symdiff.grad(f, dims="fixed").compile(np.ones(3), 2)


def test_generated_module_rejects_a_wrong_shape(compiled):
    with pytest.raises(ValueError, match=r"x must have shape \(3,\), got \(4,\)"):
        compiled.grad(np.ones(4), 2)


def test_generated_module_rejects_a_wrong_static_value(compiled):
    with pytest.raises(ValueError, match="n was 2 when this code was generated, got 3"):
        compiled.grad(np.ones(3), 3)


@pytest.mark.parametrize("bad", [
    np.ones(3, dtype=complex),
    np.ones(3, dtype=bool),
    np.array([1.0, 2.0, None], dtype=object),
    np.array(["a", "b", "c"]),
])
def test_generated_module_rejects_a_wrong_dtype(compiled, bad):
    with pytest.raises(TypeError, match="x must be float64 as traced"):
        compiled.grad(bad, 2)


def test_generated_module_accepts_integers_for_floats(compiled):
    np.testing.assert_allclose(compiled.grad(np.arange(3), 2), [0.0, 4.0, 8.0])


@pytest.mark.parametrize("traced, given", [(np.float64, np.float32), (np.float32, np.float64),
                                           (np.float64, np.float16)])
def test_generated_module_rejects_a_float_of_another_width(traced, given):
    # float32 code fed float64 would silently compute in float64, and the reverse in float32
    compiled = symdiff.grad(lambda x: np.sum(x**2)).compile(np.ones(3, dtype=traced))
    with pytest.raises(TypeError, match=rf"x must be {np.dtype(traced).name} as traced "
                                        rf"\(or integers\), got dtype {np.dtype(given).name}; "
                                        rf"convert it with \.astype"):
        compiled.grad(np.ones(3, dtype=given))
    assert compiled.grad(np.ones(3, dtype=traced)).dtype == traced


def test_python_if_on_traced_value_names_file_line_and_where():
    def f(x):
        if x > 0:  # the offending line
            return x
        return -x

    with pytest.raises(TraceError) as err:
        symdiff.grad(f)(1.0)
    msg = str(err.value)
    assert f"{HERE}:{line_of(f, 'the offending line')}" in msg
    assert "np.where" in msg



def test_float_of_traced_value():
    def f(x):
        return float(x) * 2  # float here

    with pytest.raises(TraceError, match="float\\(\\) of a traced value") as err:
        symdiff.grad(f)(1.0)
    assert f"{HERE}:{line_of(f, 'float here')}" in str(err.value)



def test_unsupported_numpy_function_is_named():
    def f(x):
        return np.sum(np.fft.fft(x).real)  # fft here

    with pytest.raises(UnsupportedOpError, match="np.fft") as err:
        symdiff.grad(f)(np.ones(4))
    assert f"{HERE}:{line_of(f, 'fft here')}" in str(err.value)
    assert "register_primitive" in str(err.value)



def test_unsupported_ufunc_is_named():
    def f(x):
        return np.sum(np.nextafter(x, 2.0) * x)

    with pytest.raises(UnsupportedOpError, match="np.nextafter"):
        symdiff.grad(f)(np.ones(4))



@pytest.mark.parametrize("value, kind", [
    (np.arange(3), "integer"),
    (np.array([True, False]), "boolean"),
    (np.ones(3, dtype=complex), "complex"),
    (np.array([1.0, "a"], dtype=object), "object"),
    (3, "int"),
])
def test_non_float_differentiated_inputs(value, kind):
    def f(x):
        return np.sum(x * 2)

    with pytest.raises(InputError, match=kind):
        symdiff.grad(f)(value)



def test_errors_are_symdiff_errors_not_internal():
    def f(x):
        return x * np.ones(4)  # shapes (3,) and (4,)

    with pytest.raises(symdiff.ShapeError, match=r"\(3,\) \(4,\)"):
        symdiff.grad(lambda x: np.sum(f(x)))(np.ones(3))



def test_grad_of_vector_output_points_to_jacobian():
    with pytest.raises(TraceError, match="jacobian"):
        symdiff.grad(lambda x: x * 2)(np.ones(3))



def test_function_returning_none():
    def f(x):
        x * 2

    with pytest.raises(TraceError, match="returned None"):
        symdiff.grad(f)(1.0)



def test_star_args_rejected():
    def f(*xs):
        return xs[0]

    with pytest.raises(TraceError, match=r"\*xs"):
        symdiff.grad(f)(1.0)



def test_cli_reports_errors_in_one_line(tmp_path, capsys):
    from symdiff.cli import main

    src = tmp_path / "bad.py"
    src.write_text("def f(x):\n    if x > 0:\n        return x\n    return -x\n")
    assert main(["emit", f"{src}:f"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{src}:2" in err and "Traceback" not in err
    assert main(["emit", f"{src}:nope"]) == 2
    assert main(["emit", "no_colon"]) == 2

