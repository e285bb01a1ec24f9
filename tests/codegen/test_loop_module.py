"""Modules of folded loops: their size does not grow with the step count, they read
as the loop the user wrote (names, `for t in range(T)`, a reversed loop over stacks),
and they are deterministic and lint-clean."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from programs import euler, kalman, leapfrog, p6, rnn

import symdiff

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: program -> (function, inputs for a number of steps, arguments to differentiate)
PROGRAMS = {
    "kalman": (kalman.kalman_loglik, kalman.make_inputs, (0,)),
    "leapfrog": (leapfrog.leapfrog_loss, leapfrog.make_inputs, (0, 1, 2)),
    "rnn": (rnn.rnn_loss, rnn.make_inputs, (0, 1, 2, 3, 4)),
    "euler": (euler.euler_loss, euler.make_inputs, (0, 1)),
    "p6": (p6.p6, lambda steps: (np.linspace(-1, 1, 5), steps), (0,)),
}


def source(name: str, steps: int) -> str:
    """The module for a fixed number of steps (with symbolic sizes, a loop over the
    rows of an argument runs a symbolic number of steps: tests/codegen/
    test_symbolic_steps.py)."""
    fn, make, argnums = PROGRAMS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the Kalman filter's F is a captured constant)
        return symdiff.grad(fn, argnums=argnums, dims="fixed").compile(*make(steps)).source


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_module_has_as_many_lines_for_1000_steps_as_for_10(name):
    short, long = source(name, 10), source(name, 1000)
    assert len(short.splitlines()) == len(long.splitlines())
    assert "in reversed(range(" in long or name == "p6"  # (P6: forward mode in its loop)
    assert "for " in long


def test_the_loop_reads_as_written():
    text = source("rnn", 50)
    assert "for t in range(50):\n        x = xs[t]\n" in text
    assert "h = np.tanh(W @ h + U @ x + b)" in text
    assert "for t in reversed(range(50)):" in text
    assert "hs = np.empty((50, 8), dtype=np.float64)" in text
    assert "# gradient of line" in text.split("for t in reversed(range(50)):")[1]


def test_a_static_step_count_prints_by_name():
    text = source("p6", 40)
    assert "for _ in range(depth):" in text
    fn = symdiff.grad(p6.p6).compile(np.linspace(-1, 1, 5), 40).function("grad")
    with pytest.raises(ValueError, match="depth"):
        fn(np.linspace(-1, 1, 5), 41)  # the module checks the value it was made for


def test_modules_of_loops_are_deterministic_and_lint_clean(tmp_path):
    pytest.importorskip("ruff")
    code = ("import sys; sys.path.insert(0, 'tests'); import warnings; "
            "warnings.simplefilter('ignore'); import symdiff; from programs import kalman; "
            "print(symdiff.grad(kalman.kalman_loglik).compile(*kalman.make_inputs(30))"
            ".source, end='')")
    texts = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        texts.append(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                                    capture_output=True, text=True, check=True).stdout)
    assert texts[0] == texts[1]
    path = tmp_path / "kalman_module.py"
    path.write_text(texts[0])
    for selection in (["--select", "E,F,W,I,UP,B", "--line-length", "88"], []):
        proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated",
                               "--no-cache", *selection, str(path)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pictures_of_a_folded_loop_show_each_step():
    from symdiff.display.graphviz import function_picture, to_dot

    x = np.linspace(-1, 1, 3)
    compiled = symdiff.grad(p6.p6).compile(x, 5)
    assert "for _ in range(depth):" in compiled.source
    dot = compiled.picture().dot
    assert dot.count("sin") >= 5
    assert to_dot(function_picture(p6.p6, (x, 5), (0,), grad=True)).count("sin") >= 5


def test_the_numba_backend_prints_loops_as_numpy_loops():
    pytest.importorskip("numba")
    from symdiff.compile import compile_gradient
    from symdiff.verify.numerical import numerical_gradient

    args = rnn.make_inputs(20)
    compiled = compile_gradient(rnn.rnn_loss, args, 0, backend="numba")
    assert "for t in reversed(range(20)):" in compiled.source
    np.testing.assert_allclose(compiled.grad(*args),
                               numerical_gradient(rnn.rnn_loss, list(args), 0),
                               rtol=1e-6, atol=1e-9)


def test_a_carried_cotangent_read_inline_after_its_update_keeps_its_old_value():
    # the reverse body reads the cotangent of x in `dx @ np.sin(x)`, printed inline in a
    # later statement: the new cotangent must not be assigned to its name before that
    from symdiff.verify.numerical import numerical_gradient

    def damped(x, rate):
        scale = rate * 1.0
        for _ in range(6):
            x = x - scale * np.sin(x)
            scale = scale * rate
        return np.sum(x**2)

    x = np.array([0.3, -1.2, 2.0])
    gx, grate = symdiff.grad(damped, argnums=(0, 1))(x, 0.5)
    np.testing.assert_allclose(grate, numerical_gradient(damped, (x, 0.5), 1), rtol=1e-6)
    np.testing.assert_allclose(gx, numerical_gradient(damped, (x, 0.5), 0), rtol=1e-6)
