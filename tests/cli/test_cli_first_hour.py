"""The rough edges a first hour with the command line hits: forgotten shapes, default
parameter values, bad `--at` points, Graphviz missing, and progress on long work."""

import io
import os
import re
import shutil
import sys

import numpy as np
import pytest

import symdiff
from symdiff import progress
from symdiff.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODEL = """\
import numpy as np


def J(a, b, c):
    u = b * c
    v = a + u
    J = 3 * v
    return J


def scaled(x, scale=2.0, power=2):
    return scale * np.sum(x ** power)


def example_inputs_scaled():
    return (np.array([1.0, -2.0, 3.0]),)


def as_dict():
    return {"x": np.array([0.5, 1.5])}


def ridge(w, X, reg=0.1):
    return np.mean((X @ w) ** 2) + reg * np.sum(w ** 2)


def rows(X, w):
    hidden = X @ w
    return np.sum(hidden[:, 0])


def branchy(x):
    if x > 0:
        return x
    return -x


def never_traced(x):
    raise RuntimeError("traced")
"""


@pytest.fixture
def model(tmp_path, monkeypatch):
    (tmp_path / "model.py").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def load_module(source, name):
    namespace = {}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace


# -- shapes forgotten --------------------------------------------------------------------
def test_forgotten_shapes_name_the_parameters_and_the_fix(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    status, out, err = run(capsys, "emit", "examples/linear_regression.py:mse", "--wrt", "w")
    assert status == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "matmul: operands must be at least 1-d" in err and "matmul: matmul" not in err
    # the line is `prediction = X @ w + b`: the parameters on it have no shape
    assert re.search(r"\bw, b and X have no shape\b", err)
    assert "--shape NAME=D0,D1" in err and "--example FUNC" in err
    assert "linear_regression.py:13" in err


def test_forgotten_shape_of_one_parameter_says_it(model, capsys):
    status, _, err = run(capsys, "emit", "model.py:rows", "--shape", "X=4,3")
    assert status == 1 and len(err.strip().splitlines()) == 1
    # X @ w with w a scalar: only w lacks a shape
    assert "w has no shape, so it was traced as a float64 scalar" in err
    assert "X has" not in err and "--shape w=3" in err


def test_an_error_unrelated_to_shapes_gets_no_shape_hint(model, capsys):
    status, _, err = run(capsys, "emit", "model.py:branchy")
    assert status == 1 and "np.where" in err and "no shape" not in err


# -- default parameter values ---------------------------------------------------------------
def test_defaults_work_as_in_the_python_api(model, capsys):
    """scaled(x) = 2 sum(x**2): the example gives x alone, scale and power keep their
    defaults, as `symdiff.grad(scaled)(x)` does; the gradient is 4x by hand."""
    status, out, err = run(capsys, "emit", "model.py:scaled")
    assert status == 0, err
    module = load_module(out, "scaled")
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(module["grad_scaled"](x), 4 * x)
    assert "def grad_scaled(x):" in out  # the defaults stay defaults, as in the API
    assert "symdiff emit model.py:scaled --wrt x" in out


def test_a_defaulted_parameter_can_be_differentiated(model, capsys):
    status, out, err = run(capsys, "emit", "model.py:scaled", "--wrt", "scale")
    assert status == 0, err
    module = load_module(out, "scaled")
    x = np.array([1.0, -2.0, 3.0])
    assert module["grad_scaled"](x, 2.0) == pytest.approx(np.sum(x**2))  # d/dscale


def test_defaults_with_shapes_and_with_a_dict_example(model, capsys):
    status, out, err = run(capsys, "emit", "model.py:ridge", "--shape", "w=3",
                           "--shape", "X=5,3")
    assert status == 0, err
    module = load_module(out, "ridge")
    rng = np.random.default_rng(0)
    w, X = rng.normal(size=3), rng.normal(size=(5, 3))
    np.testing.assert_allclose(module["grad_ridge"](w, X), 2 / 5 * X.T @ X @ w + 0.2 * w)
    status, out, err = run(capsys, "emit", "model.py:scaled", "--example", "as_dict")
    assert status == 0, err
    module = load_module(out, "scaled")
    np.testing.assert_allclose(module["grad_scaled"](np.array([0.5, 1.5])), [2.0, 6.0])


# -- --at --------------------------------------------------------------------------------
@pytest.mark.parametrize("at, message", [
    ("q=1,a=1,b=2,c=3", "--at q: J(a, b, c) has no parameter 'q'"),
    ("a=x,b=2,c=3", "--at a=x: not a number"),
    ("a=1..5,b=2,c=3", "--at a=1..5: not a number"),
    ("a=[1,[2]],b=2,c=3", "--at a=[1,[2]]: not a number"),
    ("a=[1,2],b=2,c=3", "--at a: a value of shape (2,), but a has shape () here"),
    ("a=1", "--at gives no value for b, c"),
    ("a", "--at takes NAME=VALUE pairs"),
    ("a=1,a=2,b=2,c=3", "--at gives a twice"),
])
def test_bad_points_are_usage_errors(model, capsys, at, message):
    status, out, err = run(capsys, "graph", "model.py:J", "--grad", "--at", at)
    assert status == 2 and out == "", err
    assert message in err and len(err.strip().splitlines()) == 1


def test_at_draws_the_point(model, capsys):
    status, out, err = run(capsys, "graph", "model.py:J", "--grad", "--wrt", "a,b,c",
                           "--at", "a=1,b=-2,c=0.5")
    assert status == 0, err
    # u = bc = -1, v = a + u = 0, J = 0; dJ/db = 3c = 1.5, dJ/dc = 3b = -6
    for label in ("u = b*c = -1", "v = a + u = 0", "J = 3*v = 0", "dJ_db = 1.5",
                  "dJ_dc = -6", "du/db = c = 0.5"):
        assert f'"{label}"' in out, label


def test_at_overrides_part_of_the_example(model, capsys):
    status, out, err = run(capsys, "graph", "model.py:scaled", "--grad",
                           "--at", "x=[1,2,3]")
    assert status == 0, err
    # scaled = 2 sum(x**2) = 28 at x = [1, 2, 3], its gradient 4x (scale keeps its default)
    assert 'label="dscaled_dx\\nf64[3]\\n[4, 8, 12]"' in out
    assert re.search(r'label="scaled = [^"]* = 28"', out)
    status, _, err = run(capsys, "graph", "model.py:scaled", "--at", "x=[1,2]")
    assert status == 2 and "shape (2,), but x has shape (3,) here (from --example)" in err


# -- Graphviz missing ----------------------------------------------------------------------
@pytest.mark.parametrize("output", ["x.png", "x.svg", "x.pdf"])
def test_pictures_without_graphviz_say_what_to_do_before_tracing(model, capsys, monkeypatch,
                                                                 output):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    # never_traced would fail when traced: the missing program is reported first
    status, out, err = run(capsys, "graph", "model.py:never_traced", "-o", output)
    assert status == 1 and out == "" and "traced" not in err
    assert "apt-get install graphviz" in err and "-o FILE.dot" in err
    assert not (model / output).exists()


# -- progress ------------------------------------------------------------------------------
class Terminal(io.StringIO):
    def isatty(self):
        return True


def screen(text):
    """The lines a terminal shows for `text`: a carriage return writes over its line."""
    lines = []
    for line in text.split("\n"):
        cells, col = [], 0
        for ch in line:
            if ch == "\r":
                col = 0
                continue
            cells[col:col + 1] = [ch]
            col += 1
        lines.append("".join(cells).rstrip())
    return [line for line in lines if line]


@pytest.fixture
def instant_progress(monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "INTERVAL", 0.001)


def test_progress_on_a_terminal_then_cleared(model, capsys, monkeypatch, instant_progress):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["emit", "model.py:ridge", "--shape", "w=3", "--shape", "X=5,3",
                 "-o", "g.py"]) == 0
    text = terminal.getvalue()
    assert "\rsymdiff: tracing and differentiating ridge ... " in text
    assert text.endswith("wrote g.py\n")
    # what the terminal shows at the end: the progress line was blanked
    assert screen(text) == ["wrote g.py"]
    assert not progress.enabled()  # off again after the command


def test_no_progress_with_quiet_or_off_a_terminal(model, capsys, monkeypatch,
                                                  instant_progress):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["emit", "model.py:J", "--quiet", "-o", "g.py"]) == 0
    assert terminal.getvalue() == "wrote g.py\n"
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a pipe or a file
    assert main(["emit", "model.py:J", "-o", "g.py"]) == 0
    assert sys.stderr.getvalue() == "wrote g.py\n"


def test_the_python_api_is_silent(monkeypatch, instant_progress):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    def f(x):
        return np.sum(np.sin(x) ** 2)

    symdiff.grad(f)(np.arange(3.0))
    symdiff.check_derivative(f, lambda x: 2 * np.sin(x) * np.cos(x), np.arange(3.0))
    assert terminal.getvalue() == ""


# -- a module compiled in a notebook -------------------------------------------------------
CELL = """\
import numpy as np


def f(x, w):
    return np.sum(np.tanh(x @ w))
"""


def compile_in_cell(cell_path):
    """f defined as Jupyter defines a cell's code: a file name that is not on disk."""
    namespace = {}
    exec(compile(CELL, cell_path, "exec"), namespace)
    return symdiff.grad(namespace["f"], argnums=1).compile(np.ones((3, 2)), np.full(2, 0.5))


def test_a_notebook_module_says_its_source_was_a_cell_and_how_to_regenerate(tmp_path, capsys,
                                                                           monkeypatch):
    cell = "/tmp/ipykernel_4242/3003219922.py"
    assert not os.path.exists(cell)
    source = compile_in_cell(cell).source
    header = source.split("# Traced arguments", 1)[0]
    assert "defined in a notebook cell, which is in no file" in header
    assert "ipykernel" not in source  # nothing that dies with the session
    assert compile_in_cell("/tmp/ipykernel_777/11.py").source == source  # any session
    # the recorded command works once the cell is saved where the header says
    command = header.rsplit("then run:\n", 1)[1].replace("#", "").split()
    assert command[:3] == ["symdiff", "emit", "f.py:f"]
    (tmp_path / "f.py").write_text(CELL)
    monkeypatch.chdir(tmp_path)
    assert main(command[1:]) == 0
    module = load_module(capsys.readouterr().out, "f")
    x, w = np.ones((3, 2)), np.full(2, 0.5)
    np.testing.assert_allclose(module["grad_f"](x, w), x.T @ (1 - np.tanh(x @ w) ** 2))


def test_at_keeps_an_integer_parameter_an_integer(model, capsys):
    status, _, err = run(capsys, "graph", "model.py:scaled", "--at", "power=2.5")
    assert status == 2 and "--at power=2.5: power is an integer here" in err
    status, out, err = run(capsys, "graph", "model.py:scaled", "--at", "power=3")
    assert status == 0, err
    # 2 * sum(x**3) at x = [1, -2, 3] (the example), power fixed at 3: 2 * (1 - 8 + 27)
    assert re.search(r'label="scaled = [^"]* = 40"', out)
