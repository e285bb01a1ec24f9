"""Parentheses in printed code come from precedence (codegen/precedence.py), never from
reading printed text: each tricky grouping is read in the printed code, and the code
is evaluated against SymPy's own `lambdify` of the same expression (an independent
printer and evaluation) at random points."""

import numpy as np
import pytest
import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from symdiff.codegen.precedence import ATOM, MATMUL, Printed, operand, template_precedence
from symdiff.codegen.printer import SymdiffPrinter
from symdiff.compile import compile_gradient

x, y, z = sp.symbols("x y z", real=True)
NAMES = {x: "x", y: "y", z: "z"}
rng = np.random.default_rng(13)


def _neg(e):
    return sp.Mul(-1, e, evaluate=False)


#: (expression, the code it must print as, where x, y and z are drawn from)
CASES = [
    # unary minus under a power, and a power under a unary minus
    (sp.Pow(-x, 2, evaluate=False), "(-x)**2", (-2, 2)),
    (sp.Pow(-x, y), "(-x)**y", (-2, -0.5)),
    (-x**2, "-x**2", (-2, 2)),
    (_neg(sp.Pow(x, y)), "-x**y", (0.5, 2)),
    # a negative constant as a base
    (sp.Pow(sp.Integer(-2), x, evaluate=False), "(-2)**x", (1, 1)),
    (sp.Pow(sp.Rational(-1, 2), x, evaluate=False), "(-1/2)**x", (1, 1)),
    (sp.Pow(sp.Float(-2.5), x, evaluate=False), "(-2.5)**x", (1, 1)),
    # subtraction of a sum, of a difference
    (sp.Add(x, _neg(sp.Add(y, z)), evaluate=False), "x - (y + z)", (-2, 2)),
    (sp.Add(x, _neg(sp.Add(y, -z)), evaluate=False), "x - (y - z)", (-2, 2)),
    # division by a product, by a quotient
    (x / (y * z), "x/(y*z)", (0.5, 2)),
    (x / (2 * y), "1/2*x/y", (0.5, 2)),  # (the number first: Python folds 1/2)
    (x / (y + z), "x/(y + z)", (0.5, 2)),
    # a call's result as a base
    (sp.sin(x)**2, "np.sin(x)**2", (-2, 2)),
    (sp.Pow(sp.exp(x), y, evaluate=False), "np.exp(x)**y", (-1, 1)),
    (sp.Pow(sp.sqrt(x), y, evaluate=False), "(np.sqrt(x))**y", (0.5, 2)),  # (SymPy's grouping)
    # negative integer powers: a reciprocal
    (x**-1, "1/x", (0.5, 2)),
    ((x + y)**-1, "1/(x + y)", (0.5, 2)),
    (sp.Pow(x * y, -1, evaluate=False), "1/(x*y)", (0.5, 2)),
    (y * x**-2, "y/x**2", (0.5, 2)),
    # powers group to the right: a power as a base needs parentheses, as an exponent not
    (sp.Pow(sp.Pow(x, y), z, evaluate=False), "(x**y)**z", (0.5, 2)),
    (x**(y**z), "x**y**z", (0.5, 2)),
]


def _points(domain, n=7):
    lo, hi = domain
    if lo == hi:  # integral exponents of a negative base
        return {s: rng.integers(-3, 4, n).astype(float) for s in (x, y, z)}
    return {s: rng.uniform(lo, hi, n) for s in (x, y, z)}


@pytest.mark.parametrize("expr, text, domain", CASES, ids=[c[1] for c in CASES])
def test_printed_grouping_and_its_value(expr, text, domain):
    printed = SymdiffPrinter(NAMES).doprint(expr)
    assert printed == text
    at = _points(domain)
    with np.errstate(all="ignore"):
        ours = eval(printed, {"np": np}, {str(s): v for s, v in at.items()})
        theirs = sp.lambdify((x, y, z), expr, modules="numpy")(*at.values())
    np.testing.assert_allclose(ours, np.broadcast_to(theirs, np.shape(ours)), rtol=1e-12)


def _inlined_matmul(printer, a="a", b="b"):
    """A symbol printed as an inlined `a @ b` (what codegen/function.py does for a
    product read once)."""
    s = sp.Symbol("s", real=True)
    printer.inline(s, Printed(f"{a} @ {b}", MATMUL))
    return s


@pytest.mark.parametrize("build, text", [
    (lambda s: s * y, "(a @ b)*y"),
    (lambda s: s**2, "(a @ b)**2"),
    (lambda s: s**y, "(a @ b)**y"),
    (lambda s: -s, "-(a @ b)"),
    (lambda s: s + y, "a @ b + y"),
    (lambda s: 1 / s, "1/(a @ b)"),
    (lambda s: sp.sin(s), "np.sin(a @ b)"),
])
def test_an_inlined_matmul_inside_a_product_or_power(build, text):
    printer = SymdiffPrinter({y: "y"})
    s = _inlined_matmul(printer)
    expr = build(s)
    printed = printer.doprint(expr)
    assert printed == text
    a, b, yv = rng.uniform(0.5, 1.5, (3, 4)), rng.uniform(0.5, 1.5, (4, 2)), rng.uniform(
        0.5, 1.5, (3, 2))
    ours = eval(printed, {"np": np}, {"a": a, "b": b, "y": yv})
    theirs = sp.lambdify((s, y), expr, modules="numpy")(a @ b, yv)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_postfix_operators_parenthesize_what_is_not_atomic():
    assert operand(Printed("a @ b", MATMUL)) == "(a @ b)"
    assert operand(Printed("-x", PRECEDENCE["Add"])) == "(-x)"
    assert operand(Printed("np.exp(x)", ATOM)) == "np.exp(x)"
    assert operand("x") == "x"
    printer = SymdiffPrinter({x: "x"})
    s = _inlined_matmul(printer)
    assert printer.cast(printer.symbol_text(s), np.float32) == "(a @ b).astype(np.float32)"
    assert printer.row(printer.symbol_text(s), "t", 2) == "(a @ b)[t]"
    assert printer.row(printer.symbol_text(x), "t", 2) == "x[t]"


@pytest.mark.parametrize("template, atomic", [
    ("np.logaddexp({0}, {1})", True),
    ("math.erf({0})", True),
    ("{0} * np.exp({1})", False),
    ("-{0}", False),
    ("({0} + 1)", False),
    ("{0}[{axis}]", True),
])
def test_a_template_s_precedence_comes_from_its_syntax(template, atomic):
    assert (template_precedence(template) >= ATOM) is atomic


def test_emitted_module_groups_matmul_and_minus_and_computes_numpy_s_values():
    def f(A, B, y):
        return np.sum(np.tanh((A @ B) * y)) + np.sum((-y) ** 2) - np.sum(y - (A @ B).T.sum())

    A, B, y0 = rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (4, 2)), rng.uniform(-1, 1, (3, 2))
    compiled = compile_gradient(f, [A, B, y0], (0, 2))
    source = compiled.source
    assert "y*_t0" in source or "y*(A @ B)" in source  # never `y*A @ B`
    assert "y*A @ B" not in source
    expected = np.sum(np.tanh((A @ B) * y0)) + np.sum(y0**2) - np.sum(y0 - np.sum(A @ B))
    np.testing.assert_allclose(compiled.forward(A, B, y0), expected, rtol=1e-12)
    # the gradient against central differences
    dA, dy = compiled.grad(A, B, y0)
    h = 1e-6
    for (i, j) in [(0, 0), (2, 3)]:
        E = np.zeros_like(A)
        E[i, j] = h
        fd = (f(A + E, B, y0) - f(A - E, B, y0)) / (2 * h)
        assert abs(dA[i, j] - fd) < 1e-6
    for (i, j) in [(0, 1), (2, 0)]:
        E = np.zeros_like(y0)
        E[i, j] = h
        fd = (f(A, B, y0 + E) - f(A, B, y0 - E)) / (2 * h)
        assert abs(dy[i, j] - fd) < 1e-6
