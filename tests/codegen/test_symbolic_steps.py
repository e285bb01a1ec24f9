"""Loops over a symbolic number of steps: a loop over the rows of an argument whose
first dimension is symbolic (`for x in xs`, `range(y.shape[0])`, `range(1, len(y))`,
zip/enumerate of them) folds into `for t in range(n):` with n bound from the
argument's shape, stacks of n rows and a reversed loop. One module serves every
step count: its gradients are checked against central differences at step counts
it was not traced at."""

import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from programs import euler, kalman, rnn

import symdiff
from symdiff.verify.numerical import numerical_gradient

pytestmark = pytest.mark.filterwarnings("ignore::symdiff.CapturedArrayWarning")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: program -> (function, inputs for a number of steps, arguments to differentiate)
PROGRAMS = {
    "kalman": (kalman.kalman_loglik, kalman.make_inputs, (0,)),  # range(y.shape[0])
    "rnn": (rnn.rnn_loss, rnn.make_inputs, (0, 1, 2, 3, 4)),  # for x in xs
    "euler_fit": (euler.euler_fit_loss, euler.make_fit_inputs, (0, 1)),  # for z in observed
}


def _compiled(name: str, steps: int = 12):
    fn, make, argnums = PROGRAMS[name]
    return symdiff.grad(fn, argnums=argnums).compile(*make(steps))  # dims="auto"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_one_module_loops_over_the_symbolic_number_of_steps(name):
    source = _compiled(name).source
    steps = re.search(r"for \w+ in range\(([a-z]\w*)\):", source)
    assert steps, "the loop did not fold with a symbolic step count"
    n = steps.group(1)
    assert f"in reversed(range({n})):" in source
    assert re.search(r"= np\.shape\(\w+\)", source) and f"np.empty(({n}," in source
    assert "range(12)" not in source and "(12," not in source


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_gradient_at_other_step_counts_equals_central_differences(name):
    fn, make, argnums = PROGRAMS[name]
    compiled = _compiled(name, 12)
    for steps in (2, 7, 31):
        args = list(make(steps, seed=steps))
        grads = compiled.grad(*args)
        grads = grads if isinstance(grads, tuple) else (grads,)
        for i, g in zip(argnums, grads):
            np.testing.assert_allclose(g, numerical_gradient(fn, args, i), rtol=1e-6,
                                       atol=1e-8, err_msg=f"{name} at {steps} steps, arg {i}")


def test_the_decorator_compiles_once_for_every_step_count():
    grad = symdiff.grad(rnn.rnn_loss, argnums=(0, 4))
    for steps in (5, 9, 40):
        args = list(rnn.make_inputs(steps, seed=steps))
        gW, gxs = grad(*args)
        np.testing.assert_allclose(gW, numerical_gradient(rnn.rnn_loss, args, 0), rtol=1e-6,
                                   atol=1e-9)
        assert gxs.shape == (steps, 3)
    assert grad.cache_info().compiles == 1


def test_hessian_through_a_symbolic_number_of_steps():
    hessian = symdiff.hessian(kalman.kalman_loglik)
    gradient = symdiff.grad(kalman.kalman_loglik)
    fixed = symdiff.hessian(kalman.kalman_loglik, dims="fixed")
    for steps in (5, 17):
        args = kalman.make_inputs(steps, seed=steps)
        np.testing.assert_allclose(hessian(*args), fixed(*args), rtol=1e-10, atol=1e-12)
        # (the fixed-size module's loop is checked against differences elsewhere; here
        # its second derivative by differences of the gradient as well)
        theta, y = args
        columns = [numerical_gradient(lambda th, j=j, y=y, g=gradient: g(th, y)[j], [theta], 0)
                   for j in range(3)]
        np.testing.assert_allclose(hessian(*args), np.stack(columns), rtol=1e-5, atol=1e-7)
    assert hessian.cache_info().compiles == 1


def _differences(w, y):
    s = 0.0
    for t in range(1, len(y)):
        s = s + w * (y[t] - y[t - 1]) ** 2
    return s


def test_a_range_from_one_to_a_symbolic_length():
    grad = symdiff.grad(_differences, argnums=(0, 1))
    assert "for t in range(1, n):" in grad.compile(0.5, np.arange(6.0)).source
    for steps in (2, 3, 9):
        args = [0.7, np.random.default_rng(steps).normal(size=steps)]
        for i, g in enumerate(grad(*args)):
            np.testing.assert_allclose(g, numerical_gradient(_differences, args, i),
                                       rtol=1e-6, atol=1e-9)
    assert grad.cache_info().compiles == 1


def _zipped(W, xs, ys):
    h = np.zeros(W.shape[0])
    loss = 0.0
    for t, (x, y) in enumerate(zip(xs, ys)):
        h = np.tanh(W @ h + x)
        loss = loss + (t + 1.0) * (h[0] - y) ** 2
    return loss


def test_enumerate_of_zip_of_rows():
    grad = symdiff.grad(_zipped, argnums=(0, 1, 2))
    rng = np.random.default_rng(3)
    for steps in (4, 11):
        args = [0.5 * rng.normal(size=(3, 3)), rng.normal(size=(steps, 3)),
                rng.normal(size=steps)]
        for i, g in enumerate(grad(*args)):
            np.testing.assert_allclose(g, numerical_gradient(_zipped, args, i), rtol=1e-6,
                                       atol=1e-9)
    assert grad.cache_info().compiles == 1
    assert re.search(r"for t in range\(n\):", grad.compile(*args).source)


def test_the_cli_loops_over_a_declared_step_count(tmp_path):
    out = tmp_path / "rnn_steps.py"
    subprocess.run([sys.executable, "-m", "symdiff", "emit",
                    "tests/programs/rnn.py:rnn_loss", "--wrt", "W,U,b,V,xs",
                    "--shape", "W=8,8", "--shape", "U=8,d", "--shape", "b=8",
                    "--shape", "V=2,8", "--shape", "xs=T,d", "--shape", "y=2", "-o", str(out)],
                   cwd=ROOT, check=True, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=ROOT))
    source = out.read_text()
    assert "T, _ = np.shape(xs)" in source  # (d is bound from U, checked against xs)
    assert "for t in range(T):" in source and "for t in reversed(range(T)):" in source
    assert "hs = np.empty((T, 8), dtype=np.float64)" in source
    namespace: dict = {}
    with warnings.catch_warnings():
        exec(compile(source, str(out), "exec"), namespace)  # noqa: S102 - our own module
    for steps in (3, 17):
        args = list(rnn.make_inputs(steps, seed=steps))
        grads = namespace["grad_rnn_loss"](*args)
        for i, g in enumerate(grads):
            np.testing.assert_allclose(g, numerical_gradient(rnn.rnn_loss, args, i),
                                       rtol=1e-6, atol=1e-9)


def driven_springs(k, c, x0, v0, dt, forcing):
    """Damped springs driven by a forcing signal, semi-implicit Euler; `a` is first
    assigned in the loop's body (a carry with no value before the loop)."""
    x, v = x0, v0
    for f in forcing:
        a = -k * x - c * v + f
        v = v + dt * a
        x = x + dt * v
    return 0.5 * np.sum(v ** 2) + 0.5 * np.sum(k * np.clip(x, -2.0, 2.0) ** 2)


def spring_inputs(rng, steps, n):
    return [rng.uniform(1, 2, n), rng.uniform(0.1, 0.3, n), rng.normal(size=n),
            rng.normal(size=n), 0.05, rng.normal(size=(steps, n))]


def test_a_value_first_assigned_in_the_body_folds_at_symbolic_sizes():
    # (its zeros before the loop were a literal array: at a symbolic size the loop
    # unrolled, 40 steps written out)
    rng = np.random.default_rng(8)
    g = symdiff.grad(driven_springs, argnums=(0, 1, 2), dims="auto")
    source = g.compile(*spring_inputs(rng, 40, 5)).source
    assert "for t in range(n):" in source and "for t in reversed(range(n)):" in source
    for steps, n in [(40, 5), (7, 3), (1, 2)]:  # sizes it was not traced at, too
        args = spring_inputs(rng, steps, n)
        for i, d in zip((0, 1, 2), g(*args)):
            np.testing.assert_allclose(d, numerical_gradient(driven_springs, args, i),
                                       rtol=1e-6, atol=1e-8)
