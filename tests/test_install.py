"""A non-editable install in a fresh virtual environment runs `symdiff emit`."""

import os
import site
import subprocess
import sys
import sysconfig

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")
def test_fresh_venv_non_editable_install_emits(tmp_path):
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
