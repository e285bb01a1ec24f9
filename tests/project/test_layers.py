"""The package's shape: stages import only the stages below them, no import cycles
(import-linter contracts in pyproject.toml), and every stage package ships."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository

LINT = "import sys, importlinter.cli as c; sys.exit(c.lint_imports(no_cache=True, no_logo=True))"


def lint(root: str) -> subprocess.CompletedProcess:
    """Run the contracts of `root`'s pyproject.toml on the symdiff package under `root`."""
    pytest.importorskip("importlinter")  # the test extra
    env = {**os.environ, "PYTHONPATH": root}
    return subprocess.run([sys.executable, "-c", LINT], cwd=root, env=env,
                          capture_output=True, text=True)


def test_stages_import_downward_without_cycles():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def copy_with(tmp_path, module: str, line: str) -> str:
    """A copy of the package and its contracts with `line` added to `module`."""
    shutil.copytree(os.path.join(ROOT, "symdiff"), tmp_path / "symdiff",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(ROOT, "pyproject.toml"), tmp_path)
    with open(tmp_path / "symdiff" / module, "a", encoding="utf-8") as fh:
        fh.write(f"\n{line}\n")
    return str(tmp_path)


def test_an_import_against_the_stage_order_fails(tmp_path):
    # the IR asking the public API for something: an upward import
    result = lint(copy_with(tmp_path, "ir/graph.py", "from symdiff import api  # noqa"))
    assert result.returncode == 1
    assert "symdiff.ir.graph -> symdiff.api" in result.stdout


def test_an_import_cycle_inside_a_stage_fails(tmp_path):
    # tracer.py is below subscript.py (subscript installs Tracer's item access)
    result = lint(copy_with(tmp_path, "trace/tracer.py", "def _late():\n"
                            "    from . import subscript  # noqa"))
    assert result.returncode == 1
    assert "no import cycles among sibling modules or packages BROKEN" in result.stdout


def test_every_package_is_shipped():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        listed = set(tomllib.load(fh)["tool"]["setuptools"]["packages"])
    found = {os.path.relpath(d, ROOT).replace(os.sep, ".")
             for d, _, files in os.walk(os.path.join(ROOT, "symdiff")) if "__init__.py" in files}
    assert found | {"symdiff.templates"} == listed
