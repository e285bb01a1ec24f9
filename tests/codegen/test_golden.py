"""Golden modules: `symdiff emit` output pinned byte for byte, linted, and checked
against central differences of the original functions.

After an intended change to the generated code, regenerate them with

    SYMDIFF_REGENERATE_GOLDEN=1 python -m pytest tests/codegen/test_golden.py

and review the diff like any other change.
"""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from symdiff.cli import main
from symdiff.cli.args import load_function

from helpers import central_difference

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
GOLDEN = os.path.join("tests", "golden")
MODELS = os.path.join(GOLDEN, "models.py")
REGENERATE = os.environ.get("SYMDIFF_REGENERATE_GOLDEN") == "1"

#: golden file -> (function in models.py, its `symdiff emit` options, differentiated args)
CASES = {
    "grad_polynomial.py": ("polynomial", [], ["x"]),
    "grad_chain.py": ("chain", [], ["x"]),
    "grad_J.py": ("J", ["--wrt", "a,b,c"], ["a", "b", "c"]),
    "grad_mse.py": ("mse", ["--wrt", "w,b", "--shape", "w=3", "--shape", "X=12,3",
                            "--shape", "y=12"], ["w", "b"]),
    "grad_logistic.py": ("logistic", ["--wrt", "w,b"], ["w", "b"]),
    "grad_mlp.py": ("mlp", ["--wrt", "W1,b1,W2,b2", "--example", "mlp_inputs"],
                    ["W1", "b1", "W2", "b2"]),
    "grad_huber.py": ("huber", [], ["r"]),  # an if/else
    "grad_newton_while.py": ("newton_hypot", [], ["a"]),  # a while loop
    "grad_rnn_loop.py": ("rnn_loop", ["--wrt", "W,U,b,xs", "--example", "rnn_loop_inputs"],
                         ["W", "U", "b", "xs"]),
    "grad_nested_loop.py": ("nested_loop", ["--wrt", "x", "--example", "nested_loop_inputs"],
                            ["x"]),
}

#: Modules for every size (symbolic dimensions): golden file -> (function, options,
#: differentiated args, the shapes `--dims auto` gives or `--shape` declares).
SYMBOLIC = {
    "grad_mse_symbolic.py": ("mse", ["--wrt", "w,b", "--shape", "w=d", "--shape", "X=n,d",
                                     "--shape", "y=n"], ["w", "b"],
                             {"w": "d", "X": "n,d", "y": "n"}),
    "grad_logistic_symbolic.py": ("logistic", ["--wrt", "w,b", "--dims", "auto"], ["w", "b"],
                                  {"w": "d", "X": "n,d", "y": "n"}),
    "grad_mlp_symbolic.py": ("mlp", ["--wrt", "W1,b1,W2,b2", "--example", "mlp_inputs",
                                     "--dims", "auto"], ["W1", "b1", "W2", "b2"],
                             {"W1": "d,k", "b1": "k", "W2": "k", "X": "n,d", "y": "n"}),
    "grad_rnn_loop_symbolic.py": ("rnn_loop", ["--wrt", "W,U,b,xs", "--shape", "W=k,k",
                                               "--shape", "U=k,d", "--shape", "b=k",
                                               "--shape", "xs=n,d"], ["W", "U", "b", "xs"],
                                  {"W": "k,k", "U": "k,d", "b": "k", "xs": "n,d"}),  # n steps
    "hessian_logistic_symbolic.py": ("logistic", ["--wrt", "w", "--dims", "auto", "--emit",
                                                  "grad,hessian"], ["w"],
                                     {"w": "3", "X": "n,3", "y": "n"}),  # (d: the seed)
}
ALL = {**CASES, **{name: case[:3] for name, case in SYMBOLIC.items()}}


def golden_path(name: str) -> str:
    return os.path.join(GOLDEN, name)


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # paths in headers are relative to the repository


def needs_ruff():
    """Golden modules are laid out by `ruff format` (`emit --format ruff`)."""
    from symdiff.codegen.formatting import ruff_binary

    binary = ruff_binary()
    if binary is None:
        pytest.skip("ruff is not installed: golden modules are in ruff's layout")
    return binary


@pytest.mark.parametrize("name", sorted(ALL))
def test_emit_matches_golden_byte_for_byte(name, at_root, capsys):
    needs_ruff()
    func, options, _ = ALL[name]
    argv = ["emit", f"{MODELS}:{func}", *options, "--format", "ruff", "-o", golden_path(name)]
    status = main(argv if REGENERATE else argv + ["--check"])
    err = capsys.readouterr().err
    assert status == 0, (f"{golden_path(name)} differs from what symdiff emits now; if "
                         "the change is intended, regenerate with SYMDIFF_REGENERATE_GOLDEN=1"
                         f"\n{err}")


def load_golden(name: str):
    spec = importlib.util.spec_from_file_location(f"golden_{name[:-3]}",
                                                  os.path.join(ROOT, golden_path(name)))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_like(value, rng):
    if isinstance(value, int):  # a static argument (a loop's step count) stays
        return value
    if isinstance(value, float) or np.ndim(value) == 0:
        return float(rng.normal())
    return rng.normal(size=np.shape(value))


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_gradients_match_central_differences(name):
    func, options, wrt = CASES[name]
    fn, _ = load_function(f"{os.path.join(ROOT, MODELS)}:{func}")
    module = load_golden(name)
    params = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    shapes = dict(o.split("=") for o in options[1::2] if "=" in o and o[0] != "-")
    rng = np.random.default_rng(42)
    args = [random_like(v, rng) for v in _example(fn, options, shapes)]
    value, grads = getattr(module, f"value_and_grad_{func}")(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-12)
    for g, w in zip(grads, wrt):
        i = params.index(w)
        np.testing.assert_allclose(g, central_difference(fn, args, i), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{name}: d{func}/d{w}")
        assert np.shape(g) == np.shape(args[i])
    single = getattr(module, f"grad_{func}")(*args)
    for g, h in zip(single if isinstance(single, tuple) else (single,), grads):
        np.testing.assert_allclose(g, h, rtol=1e-12)


def _example(fn, options, shapes):
    """Arguments shaped as the golden module was traced (before randomizing)."""
    if "--example" in options:
        return fn.__globals__[options[options.index("--example") + 1]]()
    maker = fn.__globals__.get(f"example_inputs_{fn.__name__}")
    if maker:
        value = maker()
        return value if isinstance(value, tuple) else (value,)
    params = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    return [np.zeros(tuple(int(d) for d in shapes[p].split(","))) if p in shapes else 0.0
            for p in params]


def test_ruff_finds_nothing_in_golden_modules():
    pytest.importorskip("ruff")
    files = [golden_path(name) for name in sorted(ALL)]
    # the project's rule selection at 88 columns with nothing ignored, then ruff's defaults
    for selection in (["--select", "E,F,W,I,UP,B", "--line-length", "88"], []):
        proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated",
                               "--no-cache", *selection, *files],
                              cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_golden_modules_import_nothing_but_numpy():
    import ast

    for name in sorted(ALL):
        with open(os.path.join(ROOT, golden_path(name)), encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert [ast.unparse(n) for n in imports] == ["import numpy as np"], name


@pytest.mark.parametrize("name", sorted(SYMBOLIC))
@pytest.mark.parametrize("sizes", [{"n": 1, "d": 2, "k": 3}, {"n": 9, "d": 4, "k": 6}])
def test_symbolic_golden_modules_are_right_at_other_sizes(name, sizes):
    """One file, sizes it was not traced at (and a batch of one): central differences."""
    func, _, wrt, shapes = SYMBOLIC[name]
    fn, _ = load_function(f"{os.path.join(ROOT, MODELS)}:{func}")
    module = load_golden(name)
    params = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    rng = np.random.default_rng(sizes["n"])
    args = [rng.normal(size=tuple(int(sizes.get(d, d)) for d in shapes[p].split(",")))
            if p in shapes else float(rng.normal()) for p in params]
    grads = getattr(module, f"grad_{func}")(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for g, w in zip(grads, wrt):
        np.testing.assert_allclose(g, central_difference(fn, args, params.index(w)),
                                   rtol=1e-6, atol=1e-8, err_msg=f"{name}: d{func}/d{w}")
    if hasattr(module, f"hessian_{func}"):
        i = params.index("w")
        hessian = getattr(module, f"hessian_{func}")(*args)
        columns = [central_difference(lambda *a, j=j: getattr(module, f"grad_{func}")(*a)[j],
                                      args, i) for j in range(np.size(args[i]))]
        np.testing.assert_allclose(hessian, np.stack(columns), rtol=1e-5, atol=1e-8)


GOLDEN_MODULES = sorted([*ALL, "fused_logistic.py", "fused_nested_loop.py", "fused_rosenbrock.py",
                         "grad_logistic_xp.py"])


@pytest.mark.parametrize("name", GOLDEN_MODULES)
def test_golden_modules_are_unchanged_by_ruff_format_and_fit_88_columns(name, at_root):
    binary = needs_ruff()
    path = golden_path(name)
    done = subprocess.run([binary, "format", "--isolated", "--diff", path],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(path, encoding="utf-8") as fh:
        long = [(i, line) for i, line in enumerate(fh, 1) if len(line.rstrip("\n")) > 88]
    assert long == [], f"{path}: lines over 88 columns: {long}"
