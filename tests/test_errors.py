"""Bad input: typed errors that name the user's file and line and say what to do."""

import numpy as np
import pytest

import symdiff
from symdiff import InputError, TraceError, UnsupportedOpError

THIS_FILE = __file__


def line_of(fn, text):
    import inspect

    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


def test_python_if_on_traced_value_names_file_line_and_where():
    def f(x):
        if x > 0:  # the offending line
            return x
        return -x

    with pytest.raises(TraceError) as err:
        symdiff.grad(f)(1.0)
    msg = str(err.value)
    assert f"{THIS_FILE}:{line_of(f, 'the offending line')}" in msg
    assert "np.where" in msg


def test_float_of_traced_value():
    def f(x):
        return float(x) * 2  # float here

    with pytest.raises(TraceError, match="float\\(\\) of a traced value") as err:
        symdiff.grad(f)(1.0)
    assert f"{THIS_FILE}:{line_of(f, 'float here')}" in str(err.value)


def test_unsupported_numpy_function_is_named():
    def f(x):
        return np.sum(np.fft.fft(x).real)  # fft here

    with pytest.raises(UnsupportedOpError, match="np.fft") as err:
        symdiff.grad(f)(np.ones(4))
    assert f"{THIS_FILE}:{line_of(f, 'fft here')}" in str(err.value)
    assert "register_primitive" in str(err.value)


def test_unsupported_ufunc_is_named():
    def f(x):
        return np.sum(np.heaviside(x, 0.5) * x)

    with pytest.raises(UnsupportedOpError, match="np.heaviside"):
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
