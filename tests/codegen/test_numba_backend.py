"""The fused backend (`backend="numba"`): the same gradients as the NumPy modules,
checked against central differences for every golden and example program; a golden
fused module; kernels valid for every length; float32; numba's cache; its errors.

Skipped without numba (CI installs the `numba` extra). The absence of numba itself is
tested in test_numba_missing.py, which needs no numba.
"""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from symdiff.codegen.formatting import ruff_binary

pytest.importorskip("numba")

from test_golden import CASES, MODELS, ROOT, _example, central_difference, random_like  # noqa: E402

import symdiff  # noqa: E402
from symdiff.cli import main  # noqa: E402
from symdiff.cli.args import load_function  # noqa: E402
from symdiff.compile import compile_gradient  # noqa: E402
from symdiff.errors import EmitError  # noqa: E402
from symdiff.verify.numerical import verify_compiled  # noqa: E402

FUSED_GOLDEN = {  # golden file -> (function in models.py, `symdiff emit` options)
    "fused_rosenbrock.py": ("rosenbrock", ["--shape", "x=8"]),
    "fused_logistic.py": ("logistic", ["--wrt", "w,b"]),
    "fused_nested_loop.py": ("nested_loop", ["--wrt", "x", "--example", "nested_loop_inputs"]),
}
REGENERATE = os.environ.get("SYMDIFF_REGENERATE_GOLDEN") == "1"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory, monkeypatch):
    """Generated fused modules and numba's cache of their kernels in a scratch place."""
    path = tmp_path_factory.getbasetemp() / "symdiff-cache"
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(path))
    return path


def load_file(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # numba's cache looks modules up by name
    spec.loader.exec_module(module)
    return module


# -- golden programs ------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_programs_under_numba_match_central_differences(name, tmp_path, monkeypatch):
    """`symdiff emit --backend numba` of every golden program passes the emit-time
    gradcheck, and its gradients agree with central differences of the original."""
    monkeypatch.chdir(ROOT)
    func, options, wrt = CASES[name]
    out = tmp_path / name
    assert main(["emit", f"{MODELS}:{func}", *options, "--backend", "numba", "-o", str(out)]) == 0
    module = load_file(str(out), f"fused_{name[:-3]}")
    fn, _ = load_function(f"{os.path.join(ROOT, MODELS)}:{func}")
    params = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    shapes = dict(o.split("=") for o in options[1::2] if "=" in o and o[0] != "-")
    args = [random_like(v, np.random.default_rng(7)) for v in _example(fn, options, shapes)]
    value, grads = getattr(module, f"value_and_grad_{func}")(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-12)
    for g, w in zip(grads, wrt):
        i = params.index(w)
        np.testing.assert_allclose(g, central_difference(fn, args, i), rtol=1e-6, atol=1e-8)
        assert np.shape(g) == np.shape(args[i])


@pytest.mark.parametrize("name", sorted(FUSED_GOLDEN))
def test_fused_module_matches_golden_byte_for_byte(name, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    func, options = FUSED_GOLDEN[name]
    if ruff_binary() is None:
        pytest.skip("ruff is not installed: golden modules are in ruff's layout")
    argv = ["emit", f"{MODELS}:{func}", *options, "--backend", "numba", "--format", "ruff",
            "-o", os.path.join("tests", "golden", name)]
    status = main(argv if REGENERATE else argv + ["--check"])
    assert status == 0, capsys.readouterr().err


def test_fused_golden_modules_are_ruff_clean_and_import_numpy_and_numba_only():
    pytest.importorskip("ruff")
    files = [os.path.join("tests", "golden", name) for name in sorted(FUSED_GOLDEN)]
    for selection in (["--select", "E,F,W,I,UP,B", "--line-length", "88"], []):
        proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated",
                               "--no-cache", *selection, *files],
                              cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    for path in files:
        text = open(os.path.join(ROOT, path), encoding="utf-8").read()
        imports = [line for line in text.splitlines() if line.startswith(("import ", "from "))]
        assert imports == ["import numpy as np", "from numba import njit"], imports


def test_rosenbrock_kernel_reads_like_the_numpy_statement():
    text = open(os.path.join(ROOT, "tests", "golden", "fused_rosenbrock.py")).read()
    kernel = text[text.index("def _grad_rosenbrock_k0"):text.index("def grad_rosenbrock")]
    assert "for i in range(n):" in kernel
    assert "x[i + 1] - x[i] ** 2" in kernel  # (ruff's layout: the golden file's)
    assert "# gradient of line" in kernel
    assert "n = x.shape[0] - 1" in kernel  # a length from the argument, not the traced 7
    body = text[text.index("def grad_rosenbrock("):]
    assert "_grad_rosenbrock_k0(x)" in body


# -- example programs -----------------------------------------------------------------------
def _example_module(name: str):
    return load_file(os.path.join(ROOT, "examples", f"{name}.py"), f"example_{name}")


def _rng_args(*shapes):
    rng = np.random.default_rng(3)
    return lambda m: tuple(float(rng.uniform(0.5, 1.5)) if s == () else
                           rng.uniform(0.5, 1.5, size=s) for s in shapes)


#: (example, function, arguments from the module, argnums, kinds)
EXAMPLE_PROGRAMS = [
    ("polynomial", "f", _rng_args(()), 0, ("grad", "value_and_grad")),
    ("chain_rule", "out", _rng_args((5,)), 0, ("grad", "value_and_grad")),
    ("chain_rule", "out2", _rng_args((5,)), 0, ("grad", "value_and_grad")),
    ("accumulation", "model_output", _rng_args((4,)), 0, ("grad",)),
    ("computational_graph", "J", lambda m: m.example_inputs_J(), (0, 1, 2), ("grad",)),
    ("custom_primitive", "loss", lambda m: m.example_inputs_loss(), 0, ("grad",)),
    ("gradient_descent", "mse", _rng_args((), (), (6,), (6,)), (0, 1), ("grad",)),
    ("gradient_descent", "squared_error", _rng_args((), (), ()), 0, ("grad",)),
    ("hand_derived", "loss2", _rng_args((), (), (), (), ()), (0, 1, 2), ("grad",)),
    ("linear_regression", "mse", _rng_args((3,), (), (50, 3), (50,)), (0, 1), ("grad",)),
    ("logistic_regression", "loss", lambda m: m.example_inputs_loss(), (0, 1), ("grad",)),
    ("logistic_newton", "bce_with_logits", lambda m: (np.array([0.1, -0.2, 0.3]),
                                                      *m.make_data()), 0,
     ("grad", "hessian")),
    ("mlp", "loss", lambda m: m.make_inputs(), (0, 1, 2, 3), ("grad", "value_and_grad")),
    ("two_moons_mlp", "loss", lambda m: (*m.init_params(), *m.make_moons()), (0, 1, 2, 3),
     ("grad", "value_and_grad")),
    ("stop_gradient", "z_attached", _rng_args((4,)), 0, ("grad",)),
    ("stop_gradient", "layer_loss", _rng_args((3,), (3,), (3,)), (0, 1), ("grad",)),
    ("vector_jacobian", "z", _rng_args((3,)), 0, ("jacobian", "vjp")),
]


@pytest.mark.parametrize("example, func, make, argnums, kinds", EXAMPLE_PROGRAMS,
                         ids=[f"{e}:{f}" for e, f, *_ in EXAMPLE_PROGRAMS])
def test_example_programs_under_numba_pass_gradcheck(example, func, make, argnums, kinds):
    """The fused module passes the numerical check (central differences of the
    example's function) and agrees with the NumPy module to rounding."""
    module = _example_module(example)
    fn, args = getattr(module, func), make(module)
    fused = compile_gradient(fn, args, argnums, kinds=kinds, backend="numba")
    report = verify_compiled(fused, args, fn=fn)
    assert report.passed, str(report)
    plain = compile_gradient(fn, args, argnums, kinds=kinds)
    kind = kinds[0]
    got, want = fused.function(kind)(*args), plain.function(kind)(*args)
    for g, w in zip(np.atleast_1d(np.asarray(got, dtype=object)).ravel(),
                    np.atleast_1d(np.asarray(want, dtype=object)).ravel()):
        np.testing.assert_allclose(np.asarray(g, dtype=float), np.asarray(w, dtype=float),
                                   rtol=1e-12, atol=1e-14)


def test_stop_gradient_example_under_numba():
    """Finite differences see through stop_gradient: the hand value d/dx sum(u*x) with u
    held fixed is u = x*x."""
    module = _example_module("stop_gradient")
    x = np.random.default_rng(5).uniform(0.5, 1.5, size=6)
    grad = symdiff.grad(module.z_detached, backend="numba")
    np.testing.assert_allclose(grad(x), x * x, rtol=1e-15)


# -- what fuses, and what stays NumPy --------------------------------------------------------
def rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_grad(x):
    """Worked out by hand: g[:-1] = -400 a (b - a^2) - 2 (1 - a), g[1:] += 200 (b - a^2)."""
    a, b = x[:-1], x[1:]
    g = np.zeros_like(x)
    g[:-1] = -400 * a * (b - a**2) - 2 * (1 - a)
    g[1:] += 200 * (b - a**2)
    return g


def test_kernels_take_lengths_from_their_arguments():
    """A kernel traced at length 8 runs at any length: nothing in it is the traced size."""
    compiled = compile_gradient(rosenbrock, (np.zeros(8),), backend="numba")
    kernel = compiled.module._grad_rosenbrock_k0
    for n in (2, 3, 17, 1000):
        x = np.random.default_rng(n).normal(size=n)
        np.testing.assert_allclose(kernel(x), rosenbrock_grad(x), rtol=1e-13, atol=1e-12)


def test_decorator_with_backend_numba_and_float32():
    grad = symdiff.grad(rosenbrock, backend="numba")
    x = np.random.default_rng(0).normal(size=100).astype(np.float32)
    g = grad(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, rosenbrock_grad(x.astype(np.float64)), rtol=2e-5, atol=1e-3)
    value, _ = symdiff.value_and_grad(rosenbrock, backend="numba")(x)
    assert np.asarray(value).dtype == np.float32


def test_parallel_variant_gives_the_same_gradient():
    def f(x, y):
        return np.sum(np.sin(x) * y + np.exp(-x**2))

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=5000), rng.normal(size=5000)
    parallel = compile_gradient(f, (x, y), (0, 1), backend="numba-parallel")
    assert "prange(" in parallel.source and "parallel=True" in parallel.source
    want = (np.cos(x) * y - 2 * x * np.exp(-x**2), np.sin(x))  # by hand
    for g, w in zip(parallel.grad(x, y), want):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-13)


def test_an_op_the_backend_cannot_fuse_stays_a_numpy_call():
    """np.heaviside does not compile on numbers in numba: the statement stays NumPy."""
    softstep = symdiff.register_primitive(
        lambda x: np.heaviside(x, 0.5) * x**2, numpy="np.heaviside({0}, 0.5)*{0}**2",
        derivatives=[lambda x: np.where(x > 0, 2 * x, 0.0)])

    def f(x):
        return np.sum(softstep(x) * np.cos(x))

    x = np.linspace(-2, 2, 9)
    compiled = compile_gradient(f, (x,), backend="numba")
    body = compiled.source[compiled.source.index("def grad_f("):]
    assert "np.heaviside(x, 0.5)" in body  # a NumPy call in the function body
    report = verify_compiled(compiled, (x + 0.05,), fn=f)
    assert report.passed, str(report)


def test_a_numba_compilation_failure_is_a_symdiff_error_quoting_the_kernel(monkeypatch):
    from symdiff.codegen import kernel_printer

    monkeypatch.setattr(kernel_printer, "_CALLS", kernel_printer._CALLS | {"heaviside"})
    step = symdiff.register_primitive(
        lambda x: np.heaviside(x, 0.5), numpy="np.heaviside({0}, 0.5)",
        derivatives=[lambda x: 0 * x])

    def f(x):
        return np.sum(step(x) * x**2 + x)

    grad = symdiff.grad(f, backend="numba")
    with pytest.raises(EmitError) as info:
        grad(np.linspace(-1, 1, 5))
    message = str(info.value)
    assert "numba could not compile" in message
    assert "np.heaviside(x[i], 0.5)" in message  # the kernel's own line
    assert ".py:" in message


def test_compiled_kernels_are_cached_for_a_second_process(tmp_path, cache_dir):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {ROOT!r})
        import numpy as np
        from symdiff.compile import compile_gradient

        def f(x):
            return np.sum((2 * x + 3) ** 2 * np.sin(x))

        compiled = compile_gradient(f, (np.ones(10),), backend="numba")
        compiled.grad(np.ones(10))
        kernel = compiled.module._grad_f_k0
        print(sum(kernel.stats.cache_hits.values()), sum(kernel.stats.cache_misses.values()))
    """)
    path = tmp_path / "second.py"
    path.write_text(script)
    env = {**os.environ, "SYMDIFF_CACHE_DIR": str(cache_dir / "second")}
    runs = [subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                           env=env, check=True).stdout.split() for _ in range(2)]
    assert runs[0] == ["0", "1"]  # the first process compiles
    assert runs[1] == ["1", "0"]  # the second loads the compiled kernel


def test_user_names_never_collide_with_the_loop_s_own():
    """Arguments named like a kernel's index, length or helpers (`i`, `n`, `njit`)."""
    def f(i, n, njit):
        j = np.sin(i) * n + njit
        return np.sum(j * j)

    rng = np.random.default_rng(2)
    args = (rng.normal(size=50), rng.normal(size=50), 0.5)
    compiled = compile_gradient(f, args, (0, 1, 2), backend="numba")
    report = verify_compiled(compiled, args, fn=f)
    assert report.passed, str(report)
    i, n, c = args
    j = np.sin(i) * n + c  # by hand: d/di = 2 j n cos(i), d/dn = 2 j sin(i), d/dc = 2 sum(j)
    for got, want in zip(compiled.grad(*args), (2 * j * n * np.cos(i), 2 * j * np.sin(i),
                                                 2 * np.sum(j))):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


def test_a_zero_dimensional_array_argument():
    def f(w, b, x):
        return np.mean((w * x + b) ** 2)

    x = np.linspace(-1, 1, 11)
    grad = symdiff.grad(f, argnums=(0, 1), backend="numba")
    dw, db = grad(np.array(0.3), np.array(-0.2), x)
    r = 0.3 * x - 0.2
    np.testing.assert_allclose([dw, db], [2 * np.mean(r * x), 2 * np.mean(r)], rtol=1e-14)


# -- every supported op -------------------------------------------------------------------
from ops_table import CASES as OP_CASES  # noqa: E402

from symdiff.verify import numerical_gradient  # noqa: E402


@pytest.mark.parametrize("case", OP_CASES, ids=[c.name for c in OP_CASES])
def test_every_op_under_numba(case):
    """Every row of the op table: what fuses runs in a loop, what does not stays a NumPy
    call, and the gradient matches central differences either way."""
    args = case.sample()
    wrt = case.wrt(args)
    compiled = compile_gradient(case.fn, args, wrt, kinds=("grad",), backend="numba")
    for i, g in zip(wrt, compiled.grad(*args)):
        assert np.shape(g) == np.shape(args[i])
        np.testing.assert_allclose(g, numerical_gradient(case.fn, args, i), rtol=case.rtol,
                                   atol=case.atol, err_msg=f"{case.name}: d/d arg {i}")


def test_a_parameter_named_like_a_kernel_helper_keeps_plain_numpy():
    def f(x, _accumulate):
        return np.sum((x * _accumulate) ** 2)

    x = np.linspace(0.5, 1.5, 7)
    compiled = compile_gradient(f, (x, 2.0), (0, 1), backend="numba")
    assert "_f_k0" not in compiled.source  # no kernel: it would read the parameter
    dx, da = compiled.grad(x, 2.0)
    np.testing.assert_allclose(dx, 2 * x * 4.0, rtol=1e-15)  # by hand
    np.testing.assert_allclose(da, 2 * 2.0 * np.sum(x**2), rtol=1e-14)


def test_a_stop_gradient_value_a_kernel_reads():
    """The logsumexp shift is an internal stop_gradient of the logits; the kernels that
    read both get each under a name of its own."""
    def f(z):
        m = np.max(z)
        return np.log(np.sum(np.exp(z - m))) + m + np.sum(z * symdiff.stop_gradient(z) ** 2)

    z = np.random.default_rng(4).normal(size=20)
    grad = symdiff.grad(f, backend="numba")
    softmax = np.exp(z - z.max()) / np.sum(np.exp(z - z.max()))
    np.testing.assert_allclose(grad(z), softmax + z**2, rtol=1e-13)  # by hand
