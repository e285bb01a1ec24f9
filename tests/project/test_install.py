"""A non-editable install in a fresh virtual environment runs `symdiff emit`."""

import os
import re
import site
import subprocess
import sys
import sysconfig

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")
def test_fresh_venv_non_editable_install_emits(tmp_path, monkeypatch):
    # The installed copy is under test: a source tree on PYTHONPATH would shadow it.
    monkeypatch.delenv("PYTHONPATH", raising=False)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # Dependencies come from the test environment; symdiff itself is installed
    # into the fresh environment, whose own site-packages comes first on sys.path.
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # Build the wheel as `pip install .` does (isolated build), install it with no index.
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels),
                    ROOT], check=True, cwd=tmp_path)
    wheel = next(wheels.glob("symdiff-*.whl"))
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True, cwd=tmp_path)
    # Only now expose the dependencies (pip would otherwise see symdiff as installed).
    deps = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    with open(os.path.join(purelib, "outer_deps.pth"), "w") as fh:
        fh.write("\n".join(sorted(deps)) + "\n")
    where = subprocess.run([str(py), "-c", "import symdiff; print(symdiff.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert where.startswith(str(venv)), where
    out = tmp_path / "grad_poly.py"
    subprocess.run([str(venv / "bin" / "symdiff"), "emit",
                    os.path.join(ROOT, "examples", "polynomial.py") + ":f", "-o", str(out)],
                   check=True, cwd=tmp_path)
    check = "import grad_poly; assert grad_poly.grad_f(2.0) == 93.0; print('ok')"
    res = subprocess.run([str(py), "-c", check], capture_output=True, text=True, cwd=tmp_path)
    assert res.stdout.strip() == "ok", res.stderr
    # The logistic-regression example: shapes from its example_inputs_loss, the user's
    # names in the module, and the textbook gradient X^T (p - y) / n, (p - y).mean().
    subprocess.run([str(venv / "bin" / "symdiff"), "emit",
                    os.path.join(ROOT, "examples", "logistic_regression.py") + ":loss",
                    "--wrt", "w,b", "-o", "grad_logreg.py"], check=True, cwd=tmp_path)
    source = (tmp_path / "grad_logreg.py").read_text()
    # assignments, not the "# gradient of line 16: loss = ..." comments
    for name in ("logits", "loss", "dloss_dw", "dloss_db"):
        assert re.search(rf"^    {name} = ", source, re.M), name
    res = subprocess.run([str(py), "-c", LOGREG_CHECK], capture_output=True, text=True,
                         cwd=tmp_path)
    assert res.stdout.strip() == "ok", res.stderr
    version = subprocess.run([str(py), "-m", "symdiff", "--version"], capture_output=True,
                             text=True, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("symdiff "), version.stderr


LOGREG_CHECK = """
import numpy as np
import grad_logreg

rng = np.random.default_rng(3)
w, b, X = rng.normal(size=3), 0.3, rng.normal(size=(100, 3))
y = (rng.random(100) < 0.5).astype(float)
dw, db = grad_logreg.grad_loss(w, b, X, y)
p = 1 / (1 + np.exp(-(X @ w + b)))
np.testing.assert_allclose(dw, X.T @ (p - y) / 100, rtol=1e-10)
np.testing.assert_allclose(db, np.mean(p - y), rtol=1e-10)
print("ok")
"""
