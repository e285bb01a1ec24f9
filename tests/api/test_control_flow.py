"""`if`/`elif`/`else`, conditional expressions, early returns, `and`/`or`/`not`, the
builtins `abs`/`max`/`min` and `while` loops on traced values: through the decorator,
and through modules written by `symdiff emit` and imported on their own.

Expected values are central differences of the original NumPy functions (at points on
both sides of every branch, away from the kinks), or closed forms worked out by hand.
"""

import importlib.util
import inspect
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import symdiff
from symdiff.cli import main
from symdiff.errors import BranchError
from symdiff.verify import numerical_gradient

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "programs"))
import control_flow as cf  # noqa: E402

#: Functions with a while loop (the others' paths are explored into if/else).
LOOPS = {cf.newton_sqrt, cf.kepler_eccentric_anomaly, cf.fixed_point_cosine,
         cf.halve_until_small, cf.bisection_sqrt}
#: ... of which these specialise per iteration count, with guards (a body with an `if`).
GUARDED = {cf.bisection_sqrt}
ROWS = [(fn, argnums, point) for fn, argnums, points in cf.CASES for point in points]


def _nums(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _assert_fd(fn, point, argnums, grads, rtol=1e-6, atol=1e-7):
    for i, g in zip(_nums(argnums), grads):
        want = numerical_gradient(fn, point, i)
        np.testing.assert_allclose(g, want, rtol=rtol, atol=atol,
                                   err_msg=f"d{fn.__name__}/d arg {i} at {point}")
        assert np.shape(g) == np.shape(point[i])


def test_the_table_has_at_least_15_functions_with_points_on_both_sides():
    assert len(cf.CASES) >= 15
    assert all(len(points) >= 2 for _, _, points in cf.CASES)


@pytest.mark.parametrize("fn, argnums, point", ROWS,
                         ids=[f"{f.__name__}-{k}" for f, _, pts in cf.CASES
                              for k in range(len(pts))])
def test_decorator_gradient_matches_central_differences(fn, argnums, point):
    value_and_grad = _TRANSFORMED.setdefault(  # one per function: its points share it
        fn, symdiff.value_and_grad(fn, argnums=_nums(argnums)))
    value, grads = value_and_grad(*point)
    _assert_fd(fn, point, argnums, grads)
    np.testing.assert_allclose(value, fn(*point), rtol=1e-13)


_TRANSFORMED: dict = {}


@pytest.mark.parametrize("fn", [fn for fn, _, _ in cf.CASES if fn not in LOOPS],
                         ids=lambda f: f.__name__)
def test_branches_compile_to_one_module_with_if_else(fn):
    argnums, points = next((a, p) for f, a, p in cf.CASES if f is fn)
    compiled = symdiff.grad(fn, argnums=_nums(argnums)).compile(*points[0])
    assert compiled.traced.branched and "PathChangedError" not in compiled.source
    grad = compiled.function("grad")
    assert re.search(r"^    if .*:$", inspect.getsource(grad), re.M)
    for point in points:  # the one module serves every side
        _assert_fd(fn, point, argnums, grad(*point))


# -- through `symdiff emit`, imported alone ----------------------------------------------------
def _wrapper_file(tmp_path, fn, point, tag):
    """A user file calling `fn` (so `--example` can name a function beside it)."""
    params = list(inspect.signature(fn).parameters)[:len(point)]
    args = ", ".join(_literal(a) for a in point)
    path = tmp_path / f"user_{fn.__name__}_{tag}.py"
    path.write_text(
        "import numpy as np\n\nimport control_flow\n\n\n"
        f"def {fn.__name__}({', '.join(params)}):\n"
        f"    return control_flow.{fn.__name__}({', '.join(params)})\n\n\n"
        f"def example():\n    return ({args},)\n")
    return path, params


def _literal(value) -> str:
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r})"
    return repr(float(value))


def _emit(tmp_path, fn, argnums, point, tag, *options):
    path, params = _wrapper_file(tmp_path, fn, point, tag)
    wrt = ",".join(params[i] for i in _nums(argnums))
    out = tmp_path / f"grad_{fn.__name__}_{tag}.py"
    assert main(["emit", f"{path}:{fn.__name__}", "--wrt", wrt, "--example", "example",
                 "-o", str(out), *options]) == 0
    spec = importlib.util.spec_from_file_location(f"emitted_{fn.__name__}_{tag}", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("fn, argnums, points", cf.CASES, ids=lambda x: getattr(x, "__name__", ""))
def test_emitted_module_gradient_matches_central_differences(fn, argnums, points, tmp_path):
    module = _emit(tmp_path, fn, argnums, points[0], 0)
    grad = getattr(module, f"grad_{fn.__name__}")
    for k, point in enumerate(points):
        try:
            got = grad(*point)
        except ValueError as e:  # PathChangedError: only a loop is specialised to a path
            assert fn in GUARDED and type(e).__name__ == "PathChangedError", e
            got = getattr(_emit(tmp_path, fn, argnums, point, k + 1),
                          f"grad_{fn.__name__}")(*point)
        _assert_fd(fn, point, argnums, got if isinstance(argnums, tuple) else (got,))


# -- while loops: iteration counts ------------------------------------------------------------
def _newton_steps(a):
    y, steps = a, 0
    while abs(y * y - a) > 1e-12 * a:
        y, steps = 0.5 * (y + a / y), steps + 1
    return steps


def test_newton_sqrt_through_the_decorator_at_different_iteration_counts():
    points = [2.0, 0.05, 30.0, 1e4]
    assert [_newton_steps(a) for a in points] == [5, 6, 7, 11]
    grad = symdiff.grad(cf.newton_sqrt)
    for a in points:
        np.testing.assert_allclose(grad(a), 0.5 / np.sqrt(a), rtol=1e-9)  # by hand
        _assert_fd(cf.newton_sqrt, (a,), 0, (grad(a),))
    assert grad.cache_info().compiles == 1  # one module: a while loop, for every count
    assert "while np.abs(y**2 - a) > 1e-12*a:" in grad.source


def _bisection_steps(a):
    lo, hi, steps = 0.0, a + 1.0, 0
    while hi - lo > 1e-9:
        mid = 0.5 * (lo + hi)
        lo, hi, steps = (lo, mid, steps + 1) if mid * mid > a else (mid, hi, steps + 1)
    return steps


def test_bisection_gradient_is_the_derivative_of_its_iterates():
    # Every iterate is a binary fraction of hi = a + 1 fixed by the comparisons, so the
    # derivative of the result is result / (a + 1) (not 1 / (2 sqrt(a)): see the docs).
    assert len({_bisection_steps(a) for a in (0.5, 2.0, 7.0)}) == 3
    grad = symdiff.grad(cf.bisection_sqrt)
    for a in (0.5, 2.0, 7.0):
        r = cf.bisection_sqrt(a)
        np.testing.assert_allclose(grad(a), r / (a + 1.0), rtol=1e-12)


def test_emitted_newton_module_serves_every_iteration_count(tmp_path):
    module = _emit(tmp_path, cf.newton_sqrt, 0, (2.0,), "count")
    assert not hasattr(module, "PathChangedError")
    for a in (2.0, 0.05, 30.0, 1e4):  # 5, 6, 7 and 11 iterations
        np.testing.assert_allclose(module.grad_newton_sqrt(a), 0.5 / np.sqrt(a), rtol=1e-9)
        np.testing.assert_allclose(module.newton_sqrt(a), cf.newton_sqrt(a), rtol=1e-15)


# -- bad input ---------------------------------------------------------------------------------
def _line(fn, text):
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


def test_truth_of_a_traced_array_is_ambiguous():
    def f(x):
        if x > 0:  # here
            return np.sum(x)
        return -np.sum(x)

    with pytest.raises(BranchError) as err:
        symdiff.grad(f)(np.ones(3))
    message = str(err.value)
    assert f"{__file__}:{_line(f, '# here')}" in message
    assert "np.where" in message and ".any()" in message and ".all()" in message


def test_recursion_on_a_traced_value():
    def power_tower(x, depth=0.0):
        if x > 2.0:  # here
            return x
        return power_tower(x * x, depth)

    with pytest.raises(BranchError) as err:
        symdiff.grad(power_tower)(1.5)
    assert f"{__file__}:{_line(power_tower, '# here')}" in str(err.value)
    assert "while loop" in str(err.value)


def test_sides_returning_different_shapes():
    def f(x):
        if np.sum(x) > 0:  # here
            return x * 2.0
        return np.sum(x)

    with pytest.raises(BranchError) as err:
        symdiff.jacobian(f)(np.ones(3))
    message = str(err.value)
    assert f"{__file__}:{_line(f, '# here')}" in message
    assert "f64[3]" in message and "f64[]" in message


def test_a_guarded_loop_emitted_from_shapes_alone_asks_for_example_arguments(capsys):
    assert main(["emit", f"{cf.__file__}:bisection_sqrt"]) == 1
    err = capsys.readouterr().err
    assert "--example" in err and "control_flow.py" in err and len(err.splitlines()) == 1


def test_transforms_of_a_branching_function_compose():
    # the inner function's conditions are decided by the enclosing trace
    second = symdiff.grad(symdiff.grad(cf.piecewise_cubic))
    for x, want in ((-2.5, -2.0), (0.3, 0.0), (1.7, 6 * 1.7)):  # by hand, per side
        assert second(x) == pytest.approx(want)
    assert second.compile(0.3).traced.branched
    newton = symdiff.grad(symdiff.grad(cf.newton_sqrt))  # a loop: guards, per count
    for a in (2.0, 30.0):
        np.testing.assert_allclose(newton(a), -0.25 * a**-1.5, rtol=1e-8)


# -- the generated code ------------------------------------------------------------------------
def test_emitted_branch_module_imports_only_numpy(tmp_path):
    out = tmp_path / "g.py"
    assert main(["emit", f"{cf.__file__}:piecewise_cubic", "-o", str(out)]) == 0
    code = ("import sys, runpy; m = runpy.run_path(sys.argv[1]); "
            "print(m['grad_piecewise_cubic'](-2.5), m['grad_piecewise_cubic'](0.3), "
            "m['grad_piecewise_cubic'](1.7)); "
            "print(sorted(k for k in sys.modules if k.startswith(('symdiff', 'sympy'))))")
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True,
                          text=True, check=True)
    first, second = proc.stdout.splitlines()
    np.testing.assert_allclose([float(v) for v in first.split()], [5.0, 3.0, 3 * 1.7**2])
    assert second == "[]"


def test_branch_module_is_deterministic():
    a = symdiff.compile_gradient(cf.quadrant_product, (1.0, 2.0), (0, 1)).source
    b = symdiff.compile_gradient(cf.quadrant_product, (-1.0, -2.0), (0, 1)).source
    assert a == b  # every path is in the module, whatever the example point


# -- symdiff.fixed_point: the implicit derivative ---------------------------------------------
def _cosine_fixed_point(a, tol=1e-12):
    return symdiff.fixed_point(lambda x, a: 0.5 * np.cos(x) + a, 0.0, a, tol=tol)


def test_fixed_point_gradient_is_the_implicit_function_theorem_one():
    for a in (0.2, 1.0):
        x = _cosine_fixed_point(a)
        # x = 0.5 cos(x) + a  =>  dx/da = 1 / (1 + 0.5 sin(x)), by hand
        np.testing.assert_allclose(symdiff.grad(_cosine_fixed_point)(a),
                                   1.0 / (1.0 + 0.5 * np.sin(x)), rtol=1e-12)


def test_fixed_point_at_a_loose_tolerance_differs_from_the_derivative_of_the_iterates():
    def iterated(a):  # the same iteration written as a loop: differentiated through it
        x = 0.0 * a
        while True:
            x_new = 0.5 * np.cos(x) + a
            if abs(x_new - x) <= 1e-2 * (1 + abs(x)):
                return x_new
            x = x_new

    a = 0.4
    x = _cosine_fixed_point(a, tol=1e-2)
    implicit = symdiff.grad(lambda a: _cosine_fixed_point(a, tol=1e-2))(a)
    np.testing.assert_allclose(implicit, 1.0 / (1.0 + 0.5 * np.sin(x)), rtol=1e-12)
    assert abs(symdiff.grad(iterated)(a) - implicit) > 1e-4


def test_fixed_point_of_a_vector_map_matches_central_differences():
    W = np.array([[0.3, -0.2, 0.1], [0.05, 0.2, -0.3], [0.1, 0.1, 0.2]])

    def energy(b, W):
        x = symdiff.fixed_point(lambda x, b, W: np.tanh(W @ x) + b, np.zeros(3), b, W)
        return np.sum(x**2)

    b = np.array([0.3, -0.5, 0.8])
    for i in (0, 1):
        got = symdiff.grad(energy, argnums=i)(b, W)
        np.testing.assert_allclose(got, numerical_gradient(energy, (b, W), i), rtol=1e-6,
                                   atol=1e-8)


def test_fixed_point_that_does_not_converge():
    with pytest.raises(symdiff.SymdiffError, match="did not converge"):
        symdiff.fixed_point(lambda x: 2.0 * x + 1.0, 1.0, max_iter=50)


# -- display -----------------------------------------------------------------------------------
def test_latex_of_a_branching_function_is_piecewise():
    from symdiff.display.latex import to_latex

    text = to_latex(symdiff.grad(cf.piecewise_cubic).compile(0.3))
    assert text.count(r"\begin{cases}") == 2  # the value and its derivative
    assert "3 x^{2}" in text and "otherwise" in text


def test_graph_of_a_branching_function_draws_each_side(tmp_path, capsys):
    assert main(["graph", f"{cf.__file__}:piecewise_cubic", "--grad"]) == 0
    dot = capsys.readouterr().out
    assert dot.count("subgraph cluster_") == 3  # one box per path
    for label in ('label="if x > 1.0: True"', 'label="if x > 1.0: False, elif x > -1.0: True"',
                  'label="if x > 1.0: False, elif x > -1.0: False"'):
        assert label in dot
    assert 'label="piecewise_cubic = x**3"' in dot  # each side's own formula
    assert "dpiecewise_cubic/dx = 3*x**2" in dot


def test_emitted_bisection_module_raises_when_the_iteration_count_changes(tmp_path, capsys):
    # symdiff emit's own check refuses it: the derivative of the iterates is not the
    # central difference of the result (the root moves smoothly with a)
    path, _ = _wrapper_file(tmp_path, cf.bisection_sqrt, (2.0,), "checked")
    assert main(["emit", f"{path}:bisection_sqrt", "--example", "example"]) == 1
    assert "disagrees with central differences" in capsys.readouterr().err
    module = _emit(tmp_path, cf.bisection_sqrt, 0, (2.0,), "count", "--no-verify")
    r = cf.bisection_sqrt(2.0)
    np.testing.assert_allclose(module.grad_bisection_sqrt(2.0), r / 3.0, rtol=1e-12)
    with pytest.raises(module.PathChangedError) as err:
        module.grad_bisection_sqrt(7.0)  # 33 halvings instead of 32 (a body with an `if`
        # does not fold: the module is specialised to the count taken)
    message = str(err.value)
    lines, first = inspect.getsourcelines(cf.bisection_sqrt)
    line = int(re.search(r"control_flow\.py:(\d+):", message).group(1))
    assert lines[line - first].strip().rstrip(":") in message  # the test that changed
    assert "--example" in message and isinstance(err.value, ValueError)
    with pytest.raises(module.PathChangedError):
        module.bisection_sqrt(7.0)


def test_every_emitted_module_of_the_table_is_lint_clean(tmp_path):
    pytest.importorskip("ruff")
    paths = []
    for fn, argnums, points in cf.CASES:
        path = tmp_path / f"grad_{fn.__name__}.py"
        path.write_text(symdiff.compile_gradient(fn, points[0], argnums).source)
        paths.append(str(path))
    for selection in (["--select", "E,F,W,I,UP,B", "--line-length", "88"], []):
        proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated",
                               "--no-cache", *selection, *paths], capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


# -- every transform, and sides that cannot be traced alone -------------------------------------
def test_every_transform_branches_as_written():
    for x, hess in ((-2.5, -2.0), (0.3, 0.0), (1.7, 6 * 1.7)):  # by hand, per side
        np.testing.assert_allclose(symdiff.hessian(cf.piecewise_cubic)(x), hess)
        slope = symdiff.grad(cf.piecewise_cubic)(x)
        assert symdiff.jvp(cf.piecewise_cubic, (x,), (2.0,))[1] == pytest.approx(2 * slope)
        assert symdiff.vjp(cf.piecewise_cubic, x)[1](3.0)[0] == pytest.approx(3 * slope)
    for a in (2.0, 30.0):  # a loop: the second derivative of the iterates -> -a**-1.5 / 4
        np.testing.assert_allclose(symdiff.hessian(cf.newton_sqrt)(a), -0.25 * a**-1.5,
                                   rtol=1e-8)


def test_a_side_that_cannot_be_traced_alone_falls_back_to_guards():
    def f(x):
        if x > 0:
            return np.sin(x)
        return np.unique(np.stack([x, 2.0 * x]))[0]  # np.unique has no rule: traced if taken

    grad = symdiff.grad(f)
    assert grad(0.5) == pytest.approx(np.cos(0.5))
    assert grad.compile(0.5).traced.guarded
    with pytest.raises(symdiff.UnsupportedOpError, match="unique"):
        grad(-0.5)


def test_more_paths_than_the_limit_fall_back_to_guards():
    from symdiff.trace.control import MAX_PATHS

    def clipped_steps(x):  # five independent ifs: 32 paths
        if x > 0.1:
            x = x * 1.5
        if x > 0.2:
            x = x - 0.1
        if x > 0.3:
            x = x * x
        if x > 0.4:
            x = x + 1.0
        if x > 0.5:
            x = np.sin(x)
        return x

    assert 2**5 > MAX_PATHS
    grad = symdiff.grad(clipped_steps)
    for x in (0.05, 0.15, 0.35, 0.9):
        _assert_fd(clipped_steps, (x,), 0, (grad(x),))
    compiled = grad.compile(0.9)
    assert compiled.traced.guarded and "paths" in compiled.traced.reason


def test_golden_branch_module_on_both_sides():
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "golden", "grad_huber.py")
    spec = importlib.util.spec_from_file_location("golden_branch_huber", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for r in (-3.0, -0.4, 0.4, 2.5):  # by hand: r inside [-1, 1], sign(r) outside
        assert module.grad_huber(r) == pytest.approx(r if abs(r) <= 1 else np.sign(r))
