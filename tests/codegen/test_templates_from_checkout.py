"""Templates load from a source checkout run in place (CI runs the tests from the
repository, where `symdiff/` shadows the installed package and `symdiff.templates`,
which setuptools maps to the repository's `templates/`, is not importable)."""

import importlib.resources
import os

from symdiff.codegen import module


def test_templates_load_without_the_templates_package(monkeypatch):
    def no_package(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(importlib.resources, "files", no_package)
    text = module._load_template("module.py.j2")
    assert "{{" in text and "import numpy as np" in text
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "templates", "module.py.j2"), encoding="utf-8") as fh:
        assert text == fh.read()  # the repository's own, not an installed copy


def test_a_checkout_reads_its_own_templates_over_an_installed_copy(monkeypatch, tmp_path):
    (tmp_path / "module.py.j2").write_text("another checkout's template\n")
    monkeypatch.setattr(importlib.resources, "files", lambda name: tmp_path)
    text = module._load_template("module.py.j2")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "templates", "module.py.j2"), encoding="utf-8") as fh:
        assert text == fh.read()
