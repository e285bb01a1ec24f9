"""`while` loops on traced conditions whose body folds become one `while` loop in the
generated module: the forward pushes what the reverse pass reads onto lists and counts
its iterations, the gradient runs a reversed `for` loop over that count. One module
then serves every iteration count (no guards), through the decorator and through
`symdiff emit`.

Expected values: closed forms worked out by hand, and central differences; for
bisection, central differences of the same halvings replayed with the comparisons
held fixed (the derivative of the iterates, see docs/loops.md).
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import symdiff
from symdiff.cli import main
from symdiff.verify import numerical_gradient

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "programs"))
import control_flow as cf  # noqa: E402

NEWTON_POINTS = (2.0, 0.05, 30.0, 1e4)  # 5, 6, 7 and 11 iterations


def _newton_steps(a):
    y, steps = a, 0
    while abs(y * y - a) > 1e-12 * a:
        y, steps = 0.5 * (y + a / y), steps + 1
    return steps


def _halvings(a):
    """The comparisons bisection_sqrt makes at `a`."""
    lo, hi, above = 0.0, a + 1.0, []
    while hi - lo > 1e-9:
        mid = 0.5 * (lo + hi)
        above.append(mid * mid > a)
        lo, hi = (lo, mid) if above[-1] else (mid, hi)
    return above


def _replayed(a, halvings):
    lo, hi = 0.0 * a, a + 1.0
    for above in halvings:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if above else (mid, hi)
    return 0.5 * (lo + hi)


def _iterates_derivative(a, h=1e-4):
    """Central difference of bisection with its comparisons held at those of `a`."""
    path = _halvings(a)
    return (_replayed(a + h, path) - _replayed(a - h, path)) / (2 * h)


BISECTION_POINTS = (0.5, 2.0, 7.0)  # 31, 32 and 33 halvings


def test_the_points_take_different_iteration_counts():
    assert [_newton_steps(a) for a in NEWTON_POINTS] == [5, 6, 7, 11]
    assert [len(_halvings(a)) for a in BISECTION_POINTS] == [31, 32, 33]


def test_newton_compiles_once_for_every_iteration_count():
    grad = symdiff.grad(cf.newton_sqrt)
    for a in NEWTON_POINTS:
        np.testing.assert_allclose(grad(a), 0.5 / np.sqrt(a), rtol=1e-9)  # by hand
        np.testing.assert_allclose(grad(a), numerical_gradient(cf.newton_sqrt, (a,), 0),
                                   rtol=1e-6)
    info = grad.cache_info()
    assert info.compiles == 1 and info.hits >= 3
    compiled = grad.compile(2.0)
    assert not compiled.traced.guarded and "PathChangedError" not in compiled.source


def test_newton_that_takes_no_iteration_differentiates_its_start():
    # a = 1: y = a already meets the test, so the result is y = a and its derivative 1
    # (the derivative of the iterates, not the 1/2 of the square root)
    assert _newton_steps(1.0) == 0
    assert symdiff.grad(cf.newton_sqrt)(1.0) == 1.0


def test_bisection_through_the_decorator_is_the_derivative_of_its_iterates():
    value_and_grad = symdiff.value_and_grad(cf.bisection_sqrt_where)
    for a in BISECTION_POINTS:
        value, grad = value_and_grad(a)
        assert value == cf.bisection_sqrt(a)  # the same halvings as the `if` version
        np.testing.assert_allclose(grad, _iterates_derivative(a), rtol=1e-7)
        np.testing.assert_allclose(grad, value / (a + 1.0), rtol=1e-12)  # by hand
    assert value_and_grad.cache_info().compiles == 1


def test_a_body_with_an_if_keeps_the_guards():
    compiled = symdiff.grad(cf.bisection_sqrt).compile(2.0)
    assert compiled.traced.guarded and "PathChangedError" in compiled.source


def test_every_transform_through_a_while_loop():
    # forward mode through a while loop specialises it per count: the same numbers
    for a in (2.0, 30.0):
        np.testing.assert_allclose(symdiff.hessian(cf.newton_sqrt)(a), -0.25 * a**-1.5,
                                   rtol=1e-8)
        _, tangent = symdiff.jvp(cf.newton_sqrt, (a,), (3.0,))
        np.testing.assert_allclose(tangent, 1.5 / np.sqrt(a), rtol=1e-9)
        value, pullback = symdiff.vjp(cf.newton_sqrt, a)
        np.testing.assert_allclose(pullback(2.0)[0], 1.0 / np.sqrt(a), rtol=1e-9)


def damped_vector(x, rate):
    """A vector carried by a loop that a scalar carried beside it stops."""
    scale = rate * 1.0
    while scale > 0.01:
        x = x - scale * np.sin(x)
        scale = scale * rate
    return np.sum(x**2)


def python_counter(x):
    """A Python counter in the test: folded as a traced int64 counter."""
    k = 0
    while k < 5:
        x = np.tanh(x) + 0.5 * x
        k += 1
    return np.sum(x)


@pytest.mark.parametrize("rate", [0.5, 0.8])
def test_a_vector_carried_by_a_while_loop(rate):
    x = np.array([0.3, -1.2, 2.0])
    grad = symdiff.grad(damped_vector, argnums=(0, 1))
    gx, grate = grad(x, rate)
    np.testing.assert_allclose(gx, numerical_gradient(damped_vector, (x, rate), 0), rtol=1e-6)
    np.testing.assert_allclose(grate, numerical_gradient(damped_vector, (x, rate), 1),
                               rtol=1e-5)
    assert "while scale > 0.01:" in grad.source


def test_a_python_counter_becomes_a_traced_counter():
    x = np.array([0.3, -1.2, 2.0])
    grad = symdiff.grad(python_counter)
    np.testing.assert_allclose(grad(x), numerical_gradient(python_counter, (x,), 0), rtol=1e-6)
    assert "while k < 5:" in grad.source


def growing_list(x):
    """A body that fills a list does not fold: the loop is specialised per count."""
    seen = []
    while x > 1.0:
        seen.append(x)
        x = x / 2.0
    return x * len(seen)


def test_a_body_that_does_not_fold_falls_back_to_guards():
    grad = symdiff.grad(growing_list)
    for x in (3.0, 7.0, 100.0):  # 2, 3 and 7 halvings
        np.testing.assert_allclose(grad(x), numerical_gradient(growing_list, (x,), 0),
                                   rtol=1e-7)
    assert grad.compile(3.0).traced.guarded


# -- `symdiff emit`, the module imported alone -------------------------------------------------
def _emitted(tmp_path, name, *options):
    out = tmp_path / f"grad_{name}.py"
    assert main(["emit", f"{cf.__file__}:{name}", *options, "-o", str(out)]) == 0
    return out


def _run_alone(path, fn, points):
    """The gradients `fn` of the module at `path` gives at `points`, in a fresh
    interpreter; and whether symdiff or SymPy were imported there."""
    code = ("import json, sys, runpy; m = runpy.run_path(sys.argv[1]); "
            f"print(json.dumps([float(m[{fn!r}](a)) for a in {list(points)!r}])); "
            "print(any(k.startswith(('symdiff', 'sympy')) for k in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, check=True)
    values, imported = proc.stdout.splitlines()
    return json.loads(values), imported == "True"


def test_emitted_newton_module_alone_at_every_count(tmp_path):
    path = _emitted(tmp_path, "newton_sqrt")  # no example needed: nothing is specialised
    source = path.read_text()
    assert "while np.abs(y**2 - a) > 1e-12*a:" in source
    assert "ys.append(y)" in source and "for t in reversed(range(steps)):" in source
    assert "PathChangedError" not in source
    grads, imported = _run_alone(path, "grad_newton_sqrt", NEWTON_POINTS)
    assert not imported
    for a, g in zip(NEWTON_POINTS, grads):
        np.testing.assert_allclose(g, numerical_gradient(cf.newton_sqrt, (a,), 0), rtol=1e-6)


def test_emitted_bisection_module_alone_at_every_count(tmp_path):
    # (--no-verify: emit's own check compares with central differences of the result,
    # which follow the root, not the iterates)
    path = _emitted(tmp_path, "bisection_sqrt_where", "--no-verify")
    source = path.read_text()
    assert "while hi - lo > 1e-09:" in source and "aboves.append(above)" in source
    grads, imported = _run_alone(path, "grad_bisection_sqrt_where", BISECTION_POINTS)
    assert not imported
    for a, g in zip(BISECTION_POINTS, grads):
        np.testing.assert_allclose(g, _iterates_derivative(a), rtol=1e-7)


def test_emitted_while_module_is_lint_clean(tmp_path):
    pytest.importorskip("ruff")
    paths = []  # (compiled rather than emitted: the header would quote a long temp path)
    for fn, args in ((cf.newton_sqrt, (2.0,)), (cf.bisection_sqrt_where, (2.0,)),
                     (damped_vector, (np.array([0.3, -1.2]), 0.5)),
                     (python_counter, (np.array([0.3, -1.2]),))):
        path = tmp_path / f"grad_{fn.__name__}.py"
        path.write_text(symdiff.compile_gradient(fn, args, 0).source)
        paths.append(str(path))
    for selection in (["--select", "E,F,W,I,UP,B", "--line-length", "88"], []):
        proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated",
                               "--no-cache", *selection, *paths], capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_emitted_while_module_loads_without_symdiff(tmp_path):
    path = _emitted(tmp_path, "newton_sqrt")
    spec = importlib.util.spec_from_file_location("emitted_newton_alone", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    y, dy = module.value_and_grad_newton_sqrt(30.0)
    assert y == cf.newton_sqrt(30.0)
    np.testing.assert_allclose(dy, 0.5 / np.sqrt(30.0), rtol=1e-9)


def test_latex_of_a_while_loop_says_it_runs_while_its_condition_holds():
    from symdiff.display.latex import to_latex

    text = to_latex(symdiff.grad(cf.newton_sqrt).compile(2.0))
    assert "loops of steps while a condition holds" in text
