"""Notebook display of a compiled function: the derivative as LaTeX, the code as HTML.

Expected derivatives are worked by hand; the display must show them (compared as
SymPy expressions, so the test does not depend on how terms are ordered)."""

import builtins
import html

import numpy as np
import pytest
import sympy as sp

import symdiff
from symdiff.display import StopGradient, expressions


def poly(x):
    return 2 * x**4 + x**3 + 3 * x**2 + 5 * x + 1


def chain(x):
    y = 2 * x + 3
    return np.mean(y**2)


def J(a, b, c):
    return 3 * (a + b * c)


def test_scalar_polynomial_and_its_derivative():
    compiled = symdiff.grad(poly).compile(2.0)
    ex = expressions(compiled)
    x = sp.Symbol("x", real=True)
    assert sp.expand(ex.value - (2 * x**4 + x**3 + 3 * x**2 + 5 * x + 1)) == 0
    assert sp.expand(ex.grads["x"][()] - (8 * x**3 + 3 * x**2 + 6 * x + 5)) == 0
    latex = compiled._repr_latex_()
    assert latex.startswith("$$") and latex.endswith("$$")
    assert r"\frac{\partial f}{\partial x}" not in latex  # the function is called poly
    assert r"\frac{\partial \operatorname{poly}}{\partial x}" in latex
    assert sp.latex(8 * x**3 + 3 * x**2 + 6 * x + 5) in latex


def test_array_input_expands_element_by_element():
    compiled = symdiff.grad(chain, dims="fixed").compile(np.array([1.0, 2.0, 3.0]))
    ex = expressions(compiled)
    x = sp.IndexedBase("x", real=True)
    for i in range(3):  # d mean((2x + 3)^2)/dx_i = 4 (2 x_i + 3) / 3
        assert sp.simplify(ex.grads["x"][i] - sp.Rational(4, 3) * (2 * x[i] + 3)) == 0
    assert r"\nabla_{x} \operatorname{chain}" in compiled._repr_latex_()


def test_several_arguments():
    compiled = symdiff.grad(J, argnums=(0, 1, 2)).compile(5.0, 3.0, 2.0)
    ex = expressions(compiled)
    a, b, c = sp.symbols("a b c", real=True)
    assert sp.expand(ex.value - 3 * (a + b * c)) == 0
    assert [sp.expand(ex.grads[n][()]) for n in "abc"] == [3, 3 * c, 3 * b]


def test_only_the_differentiated_arguments_get_a_gradient():
    compiled = symdiff.grad(J, argnums=1).compile(5.0, 3.0, 2.0)
    assert list(expressions(compiled).grads) == ["b"]


def test_stop_gradient_has_zero_derivative():
    def f(x):
        return x * symdiff.stop_gradient(x**2)

    ex = expressions(symdiff.grad(f).compile(2.0))
    x = sp.Symbol("x", real=True)
    # d/dx [x * sg(x^2)] = sg(x^2), whose value is x^2 (not 3x^2).
    assert ex.grads["x"][()] == StopGradient(x**2)
    assert ex.grads["x"][()].replace(StopGradient, lambda e: e) == x**2
    assert r"\operatorname{stop\_gradient}" in symdiff.grad(f).compile(2.0)._repr_latex_()


def test_large_inputs_are_shown_in_array_notation():
    compiled = symdiff.grad(chain, dims="fixed").compile(np.ones(100))
    assert expressions(compiled) is None
    latex = compiled._repr_latex_()
    assert r"\sum" in latex and r"x \in \mathbb{R}^{100}" in latex
    symbolic = symdiff.grad(chain).compile(np.ones(3))  # a symbolic size: array notation
    assert expressions(symbolic) is None
    assert r"x \in \mathbb{R}^{n}" in symbolic._repr_latex_()
    assert "derivatives: see the generated code" in latex


def test_long_programs_get_a_summary():
    def deep(x):
        for _ in range(100):
            x = np.sin(x) * x + np.cos(x)
        return x

    latex = symdiff.grad(deep).compile(1.0)._repr_latex_()
    assert "operations" in latex and len(latex) < 300


def test_html_shows_the_math_and_highlighted_code():
    compiled = symdiff.grad(poly).compile(2.0)
    page = compiled._repr_html_()
    assert page.startswith('<div class="symdiff-compiled">')
    assert html.escape(r"\frac{\partial \operatorname{poly}}{\partial x}") in page
    pytest.importorskip("pygments")
    assert "<span" in page and "grad_poly" in page


def test_html_without_pygments_is_a_plain_pre(monkeypatch):
    real_import = builtins.__import__

    def no_pygments(name, *args, **kwargs):
        if name.startswith("pygments"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pygments)
    compiled = symdiff.grad(poly).compile(2.0)
    page = compiled._repr_html_()
    assert f"<pre><code>{html.escape(compiled.source)}</code></pre>" in page


def test_markdown_has_the_math_and_a_python_block():
    compiled = symdiff.grad(poly).compile(2.0)
    text = compiled._repr_markdown_()
    assert text.startswith("$$")
    assert f"```python\n{compiled.source}```" in text


def test_ipython_finds_every_rich_form():
    formatters = pytest.importorskip("IPython.core.formatters")
    compiled = symdiff.grad(poly).compile(2.0)
    data, _ = formatters.DisplayFormatter().format(compiled)
    assert {"text/latex", "text/html", "text/markdown", "text/plain"} <= set(data)
    x = sp.Symbol("x")
    assert sp.latex(8 * x**3 + 3 * x**2 + 6 * x + 5) in data["text/latex"]
