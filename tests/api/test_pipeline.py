"""Core compiler: closed forms, no expression swell, determinism, standalone modules."""

import ast
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy as sp

import symdiff
from symdiff.verify import numerical_gradient

from helpers import assert_matches_fd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository


def quartic(x):
    return 2 * x**4 + x**3 + 3 * x**2 + 5 * x + 1


def body_of(source: str, name: str) -> list[str]:
    """Statement lines of one generated function (no docstring, checks or comments)."""
    tree = ast.parse(source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    return [ast.unparse(s) for s in fn.body[2:]]


def test_quartic_gradient_is_closed_form():
    source = symdiff.grad(quartic).compile(2.0).source
    body = body_of(source, "grad_quartic")
    assert len(body) == 2, body  # one assignment, one return
    target, expr = body[0].split(" = ")
    got = sp.sympify(expr)
    x = sp.Symbol("x")
    assert sp.expand(got - (8 * x**3 + 3 * x**2 + 6 * x + 5)) == 0
    assert got.is_polynomial(x) and not got.atoms(sp.Pow)  # Horner's form, no power


def nested(x, depth):
    for _ in range(depth):
        x = np.sin(x) * x + np.cos(x)
    return np.sum(x)


@pytest.mark.parametrize("depth", [50, 200])
def test_no_expression_swell(depth):
    def f(x):
        return nested(x, depth)

    x = np.linspace(-0.5, 0.5, 4)
    compiled = symdiff.grad(f).compile(x)
    np.testing.assert_allclose(compiled.grad(x), numerical_gradient(f, [x]), rtol=1e-5, atol=1e-8)


def test_module_size_grows_linearly():
    sizes = {}
    for depth in (25, 50, 100, 200):
        def f(x, depth=depth):
            return nested(x, depth)

        sizes[depth] = len(symdiff.grad(f).compile(np.ones(3)).source.splitlines())
    per_step = [(sizes[b] - sizes[a]) / (b - a) for a, b in ((25, 50), (50, 100), (100, 200))]
    # Lines per iteration stay constant (linear growth), within rounding.
    assert max(per_step) - min(per_step) <= 0.1 * max(per_step), sizes
    assert per_step[0] < 10, sizes


def test_naive_sympy_swells():
    """The baseline the design avoids: naive nesting grows ~3x per level."""
    x = sp.Symbol("x")
    e, sizes = x, []
    for _ in range(6):
        e = sp.sin(e) * e + sp.cos(e)
        sizes.append(sp.count_ops(sp.diff(e, x)))
    assert sizes[-1] / sizes[-2] > 2.5


def test_linear_regression_gradients_match_fd(rng):
    def mse(w, b, x, y):
        pred = w * x + b
        return np.mean((pred - y) ** 2)

    x = rng.normal(size=20)
    y = 3 * x - 1 + 0.1 * rng.normal(size=20)
    assert_matches_fd(mse, [0.5, 0.2, x, y], argnums=(0, 1))


def test_logistic_regression_gradients_match_fd(rng):
    def loss(w, b, X, y):
        logits = X @ w + b
        p = 1 / (1 + np.exp(-logits))
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

    X = rng.normal(size=(30, 4))
    y = (rng.random(30) > 0.5).astype(float)
    assert_matches_fd(loss, [rng.normal(size=4) * 0.3, 0.1, X, y], argnums=(0, 1))


def test_mlp_gradients_match_fd(rng):
    def mlp(W1, b1, W2, X, t):
        h = np.tanh(X @ W1 + b1)
        out = h @ W2
        return np.sum((out - t) ** 2) / X.shape[0]

    X = rng.normal(size=(6, 3))
    t = rng.normal(size=(6, 2))
    args = [rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=(5, 2)), X, t]
    assert_matches_fd(mlp, args, argnums=(0, 1, 2))


@pytest.mark.parametrize("op", [np.exp, np.log, np.sqrt, np.sin, np.cos, np.tan, np.tanh])
def test_unary_functions(op, rng):
    def f(x):
        return np.sum(op(x) * x)

    assert_matches_fd(f, [rng.uniform(0.2, 1.2, size=5)])


def test_powers_and_division(rng):
    def f(x, y):
        return np.sum(x**3 / y + x**0.5 * y**-2 + 2.0**x + x**y - 1 / x)

    assert_matches_fd(f, [rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)], argnums=(0, 1))


def test_reductions_axis_keepdims_broadcasting(rng):
    def f(a, b, c):
        s = np.sum(a * b, axis=0, keepdims=True)  # a (3,4) * b (4,)
        m = a.mean(axis=1)
        return np.sum(s * c) + np.sum(m**2) + a.sum(axis=(0, 1)) * c.mean()

    args = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(2, 1, 4))]
    assert_matches_fd(f, args, argnums=(0, 1, 2))


def test_matmul_variants(rng):
    def f(A, v, B, u):
        return np.sum((A @ v) ** 2) + u @ A @ v + np.sum(np.dot(A, B) * 0.5) + v.dot(v)

    args = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)),
            rng.normal(size=3)]
    assert_matches_fd(f, args, argnums=(0, 1, 2, 3))


def test_batched_matmul(rng):
    def f(A, B):
        return np.sum(np.tanh(A @ B))

    assert_matches_fd(f, [rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 2))], argnums=(0, 1))


def test_transpose_reshape_where(rng):
    def f(x):
        y = x.T.reshape(-1)
        r = np.where(y > 0, y, 0.1 * y)
        return np.sum(r * r) + np.sum(np.transpose(x) @ x)

    assert_matches_fd(f, [rng.normal(size=(3, 2))])


def test_python_loop_unrolls():
    def f(x):
        acc = 0.0
        for k in range(1, 4):
            acc = acc + x**k / k
        return acc

    assert symdiff.grad(f)(2.0) == pytest.approx(1 + 2 + 4)


def test_unused_argument_gets_zero_gradient(rng):
    def f(x, y):
        return np.sum(x**2)

    gx, gy = symdiff.grad(f, argnums=(0, 1))(np.ones(3), np.ones((2, 2)))
    np.testing.assert_array_equal(gx, 2 * np.ones(3))
    np.testing.assert_array_equal(gy, np.zeros((2, 2)))
    gy[0, 0] = 1.0  # a fresh, writable array


def test_gradient_never_aliases_an_input():
    def f(x, y):
        return np.sum(x * y)

    y = np.arange(3.0)
    gx = symdiff.grad(f)(np.ones(3), y)
    np.testing.assert_array_equal(gx, y)
    assert gx is not y and not np.shares_memory(gx, y)


def test_float32_stays_float32(rng):
    def f(w, x):
        return np.sum(np.tanh(x @ w) ** 2) / 2.0

    w = rng.normal(size=3).astype(np.float32)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    value, g = symdiff.value_and_grad(f)(w, x)
    assert g.dtype == np.float32 and np.asarray(value).dtype == np.float32
    np.testing.assert_allclose(g, numerical_gradient(f, [w.astype(float), x.astype(float)]),
                               rtol=1e-3, atol=1e-4)


def test_decorator_forms_and_cache():
    @symdiff.grad
    def f(x):
        return np.sum(x**2)

    @symdiff.value_and_grad(argnums=1)
    def g(a, b):
        return a * b**2

    np.testing.assert_allclose(f(np.arange(3.0)), [0, 2, 4])
    assert g(2.0, 3.0) == (pytest.approx(18.0), pytest.approx(12.0))
    f(np.ones(3))
    f(np.ones(5))
    assert f.cache_info().modules == 1  # one module for every length of x (dims="auto")
    assert f.cache_info().compiles == 1
    assert "def grad_f(x):" in f.source


def test_emitted_modules_are_deterministic_across_hash_seeds(tmp_path):
    script = textwrap.dedent("""
        import sys
        sys.path[:0] = sys.argv[1:]
        import numpy as np
        import symdiff
        from test_pipeline import quartic, nested

        def loss(w, b, X, y):
            logits = X @ w + b
            p = 1 / (1 + np.exp(-logits))
            return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

        def deep(x):
            return nested(x, 30)

        out = [symdiff.grad(quartic).compile(1.0).source,
               symdiff.grad(loss, argnums=(0, 1)).compile(np.ones(3), 0.0, np.ones((5, 3)),
                                                         np.ones(5)).source,
               symdiff.grad(deep).compile(np.ones(4)).source]
        sys.stdout.write("\\n#####\\n".join(out))
    """)
    path = tmp_path / "emit_script.py"
    path.write_text(script)
    outputs = []
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        res = subprocess.run([sys.executable, str(path), os.path.join(ROOT, "tests", "api"),
                              os.path.join(ROOT, "tests")],
                             capture_output=True, text=True, env=env, cwd=ROOT, check=True)
        outputs.append(res.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count("def grad_") == 3


def test_generated_module_needs_only_numpy(tmp_path, rng):
    def loss(w, X, y):
        logits = X @ w
        return np.mean((np.tanh(logits) - y) ** 2)

    X, y, w = rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=3)
    compiled = symdiff.grad(loss).compile(w, X, y)
    tree = ast.parse(compiled.source)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [a.name for n in imports for a in n.names] == ["numpy"]
    (tmp_path / "gen_loss.py").write_text(compiled.source)
    np.save(tmp_path / "args.npy", np.concatenate([w, X.ravel(), y]))
    run = textwrap.dedent("""
        import sys
        for name in ("symdiff", "sympy", "jinja2"):
            sys.modules[name] = None  # importing them now fails
        import numpy as np
        import gen_loss
        a = np.load("args.npy")
        w, X, y = a[:3], a[3:18].reshape(5, 3), a[18:]
        print(repr(gen_loss.grad_loss(w, X, y).tolist()))
    """)
    res = subprocess.run([sys.executable, "-c", run], cwd=tmp_path, capture_output=True,
                         text=True, check=True)
    np.testing.assert_allclose(eval(res.stdout), compiled.grad(w, X, y))


def test_generated_module_checks_shapes():
    compiled = symdiff.grad(lambda x: np.sum(x**2), dims="fixed").compile(np.ones(3))
    with pytest.raises(ValueError, match=r"x must have shape \(3,\), got \(4,\)"):
        compiled.grad(np.ones(4))
    symbolic = symdiff.grad(lambda x: np.sum(x**2)).compile(np.ones(3))
    with pytest.raises(ValueError, match=r"x must have shape \(n,\) \(1 dimension\), got"):
        symbolic.grad(np.ones((4, 1)))


def test_generated_source_is_visible_to_inspect():
    import inspect

    compiled = symdiff.grad(quartic).compile(1.0)
    assert "x*(x*(8*x + 3) + 6) + 5" in inspect.getsource(compiled.grad)


def test_slice_adjoints_accumulate_into_one_buffer(rng):
    def rosenbrock(x):
        return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    x = rng.normal(size=12)
    compiled = symdiff.grad(rosenbrock).compile(x)
    a, b = x[:-1], x[1:]
    want = np.zeros_like(x)  # the gradient worked by hand
    want[:-1] = -400 * a * (b - a**2) - 2 * (1 - a)
    want[1:] += 200 * (b - a**2)
    np.testing.assert_allclose(compiled.grad(x), want, rtol=1e-12)
    body = body_of(compiled.source, "grad_rosenbrock")
    assert sum("np.zeros" in line for line in body) == 1, body
    assert_matches_fd(rosenbrock, [x], rtol=1e-5, atol=1e-6)


def test_long_elementwise_chain_runs_in_constant_memory():
    """A long diagonal chain is differentiated forward, step by step, and dead
    temporaries' names are reused: a few live arrays, not one per step."""
    def f(x):
        return nested(x, 30)

    x = np.linspace(-0.5, 0.5, 5)
    compiled = symdiff.grad(f).compile(x)
    body = body_of(compiled.source, "grad_f")
    names = {n for line in body for n in re.findall(r"\b_t\d+\b", line)}
    assert len(names) <= 6, (names, body)
    np.testing.assert_allclose(compiled.grad(x), numerical_gradient(f, [x]), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(compiled.value_and_grad(x)[0], f(x))


@pytest.mark.filterwarnings("ignore:divide by zero", "ignore:overflow")
def test_python_float_at_a_pole_gives_numpys_inf_not_an_exception():
    """d/dx log(x) = 1/x is +inf at 0.0 (as NumPy, and jax.grad, give), never a
    ZeroDivisionError from Python float arithmetic in the generated code."""
    assert symdiff.grad(np.log)(0.0) == np.inf
    assert symdiff.grad(lambda x: 1 / x)(0.0) == -np.inf  # -1/x**2
    value, slope = symdiff.value_and_grad(lambda x: x**3)(1e200)
    assert value == np.inf and slope == np.inf
    _, vjp_fn = symdiff.vjp(np.log, 0.0)
    assert vjp_fn(1.0) == (np.inf,)


# -- the IR: fusion of single-use chains; shared values keep their symbol -------------------
def test_single_use_chains_fuse_and_shared_values_keep_their_symbol():
    from symdiff.compile import _prepare
    from symdiff.ir.graph import ELEMENTWISE, check_graph

    def f(x, W):
        a = np.exp(np.sin(2 * x) + 1)  # a single-use chain: one expression
        h = np.tanh(W @ a)  # used twice: its own symbol
        return np.sum(h * h + np.cos(h))

    ctx = _prepare(f, [np.ones(3), np.ones((2, 3))], 0)
    check_graph(ctx.forward)
    elementwise = [n for n in ctx.forward.nodes if n.op == ELEMENTWISE]
    traced = [n for n in ctx.graph.nodes if n.op == ELEMENTWISE]
    assert len(traced) == 8 and len(elementwise) == 3, [str(n.expr) for n in elementwise]
    chain, tanh_h, combine = elementwise
    (x,) = [ctx.forward.by_symbol[s] for s in chain.expr.free_symbols]
    assert x is ctx.forward.inputs[0]
    assert chain.expr.count(sp.exp) == 1 and chain.expr.count(sp.sin) == 1
    h = tanh_h.out.symbol
    assert combine.expr.free_symbols == {h}  # h**2 + cos(h): h stays a symbol
    assert sp.simplify(combine.expr - (h**2 + sp.cos(h))) == 0
    assert_matches_fd(f, [np.array([0.1, -0.4, 0.3]), np.full((2, 3), 0.2)], argnums=(0, 1))


def test_simplification_leaves_expressions_past_its_budget_alone():
    from symdiff.passes.simplify import SIMPLIFY_MAX_OPS, simplify_expr

    x, y = sp.symbols("x y", real=True)
    small = x * y + x * 2  # factors to x*(y + 2)
    assert sp.count_ops(simplify_expr(small)) < sp.count_ops(small)
    big = sum((x + k) * (y - k) for k in range(1, 12))
    assert sp.count_ops(big) > SIMPLIFY_MAX_OPS
    assert simplify_expr(big) is big


# -- the cache: one compilation per argnums, shapes and dtypes ----------------------------
def test_cache_is_keyed_by_shape_and_dtype():
    g = symdiff.grad(lambda x: np.sum(x**3))
    x32, x64 = np.arange(3, dtype=np.float32), np.arange(3.0)
    assert g(x32).dtype == np.float32 and g(x64).dtype == np.float64
    assert g.cache_info().modules == 2
    g(np.arange(3.0) + 1)  # same shape and dtype: no new compilation
    assert g.cache_info().modules == 2
    np.testing.assert_allclose(g(x64), 3 * x64**2)


def test_ci_script_runs_exactly_the_readme_test_command():
    import pathlib

    readme = pathlib.Path(ROOT, "README.md").read_text()
    block = readme.split("**Run the tests:**", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    command = block.strip()
    ci = pathlib.Path(ROOT, ".ci", "run").read_text().splitlines()
    # the `numba` extra: CI runs the fused backend's tests too (without it they skip)
    assert command == "pip install '.[test,numba]' && python -m pytest -q"
    assert ci[-1] == command
    assert os.access(os.path.join(ROOT, ".ci", "run"), os.X_OK)


def test_simplification_does_no_arithmetic_on_the_users_floats():
    # sum/mean content extraction once turned sqrt(var + 1e-5) into sqrt(6*var + 6e-5)/sqrt(6),
    # printing 6.000000000000001e-05: a constant the user never wrote, rounded
    def layernorm(x):
        mu = np.mean(x, axis=-1, keepdims=True)
        var = np.mean((x - mu) ** 2, axis=-1, keepdims=True)
        return np.sum(((x - mu) / np.sqrt(var + 1e-5)) ** 3)

    x = np.random.default_rng(3).normal(size=(4, 6))
    source = symdiff.grad(layernorm).compile(x).source
    code = "\n".join(line.split("#")[0] for line in source.splitlines())
    floats = set(re.findall(r"\d+\.\d+e-\d+|\d+e-\d+", code))
    assert floats == {"1e-05"}, floats
    assert "np.sqrt(6)" not in source
    assert_matches_fd(layernorm, [x])
