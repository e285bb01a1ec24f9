"""The golden module of the Array-API mode (`symdiff emit --xp`): pinned byte for byte
like the NumPy goldens (regenerate the same way, SYMDIFF_REGENERATE_GOLDEN=1), lint
clean, importing array_api_compat alone, and right against central differences on
NumPy arrays and on array-api-strict's (the standard 2023.12) at sizes it was not
traced at."""

import ast
import os
import subprocess
import sys

import numpy as np
import pytest
from test_golden import (
    MODELS,
    REGENERATE,
    ROOT,
    at_root,  # noqa: F401  (a fixture)
    central_difference,
    golden_path,
    load_golden,
    needs_ruff,
)

from symdiff.cli import main
from symdiff.cli.args import load_function

NAME = "grad_logistic_xp.py"
OPTIONS = ["--wrt", "w,b", "--dims", "auto", "--xp"]


def test_the_xp_golden_matches_byte_for_byte(at_root, capsys):  # noqa: F811
    needs_ruff()
    argv = ["emit", f"{MODELS}:logistic", *OPTIONS, "--format", "ruff", "-o",
            golden_path(NAME)]
    status = main(argv if REGENERATE else argv + ["--check"])
    assert status == 0, capsys.readouterr().err


def test_the_xp_golden_is_lint_clean_and_imports_only_array_api_compat():
    pytest.importorskip("ruff")
    path = golden_path(NAME)
    for selection in (["--select", "E,F,W,I,UP,B", "--line-length", "88"], []):
        proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated",
                               "--no-cache", *selection, path],
                              cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    imports = [ast.unparse(n) for n in ast.walk(tree)
               if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert imports == ["from array_api_compat import array_namespace"]
    assert not any(isinstance(n, ast.Name) and n.id == "np" for n in ast.walk(tree))


@pytest.mark.parametrize("library", ["numpy", "array_api_strict"])
@pytest.mark.parametrize("n, d", [(1, 2), (9, 4)])
def test_the_xp_golden_matches_central_differences(library, n, d):
    fn, _ = load_function(f"{os.path.join(ROOT, MODELS)}:logistic")
    module = load_golden(NAME)
    rng = np.random.default_rng(n)
    args = [rng.normal(size=d), float(rng.normal()), rng.normal(size=(n, d)),
            (rng.random(n) < 0.5).astype(np.float64)]
    expected = [central_difference(fn, args, i) for i in (0, 1)]
    if library == "array_api_strict":
        xp = pytest.importorskip("array_api_strict")
        with xp.ArrayAPIStrictFlags(api_version="2023.12"):
            value, grads = module.value_and_grad_logistic(
                *(xp.asarray(a) if isinstance(a, np.ndarray) else a for a in args))
            value, grads = float(value), [np.asarray(g) for g in grads]
    else:
        value, grads = module.value_and_grad_logistic(*args)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-12)
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-8)
