"""The safe formula language: a whitelist walked over Python's ast, never evaluated."""

import numpy as np
import pytest
import sympy as sp

from symdiff import ExpressionError
from symdiff.verify.formula import MAX_LENGTH, parse_formula

x, w = sp.symbols("x w", real=True)


@pytest.mark.parametrize("text, expected, numeric", [
    ("6*x + 4", 6 * x + 4, lambda x, w: 6 * x + 4),
    ("-x**-2 / (w - 1)", -1 / (x**2 * (w - 1)), lambda x, w: -x**-2.0 / (w - 1)),
    ("0.1*x", x / 10, lambda x, w: 0.1 * x),  # a decimal literal is its exact decimal
    ("sigmoid(x)*(1 - sigmoid(x))", sp.exp(-x) / (1 + sp.exp(-x))**2,
     lambda x, w: np.exp(-x) / (1 + np.exp(-x))**2),
    ("sqrt(abs(x)) + log(w) - tanh(x)", sp.sqrt(sp.Abs(x)) + sp.log(w) - sp.tanh(x),
     lambda x, w: np.sqrt(np.abs(x)) + np.log(w) - np.tanh(x)),
])
def test_formulas_parse_to_sympy_and_evaluate_with_numpy(text, expected, numeric):
    form = parse_formula(text, ["x", "w"])
    assert sp.simplify(form.expr - expected) == 0
    xs, ws = np.array([0.5, -1.5, 2.0]), np.array([1.5, 3.0, 0.25])
    np.testing.assert_allclose(form.numpy({"x": xs, "w": ws}), numeric(xs, ws), rtol=1e-14)


@pytest.mark.parametrize("text, message", [
    ("__import__('os')", "call of `__import__`"),
    ("x.real", "attribute access `x.real`"),
    ("(lambda: 1)()", "lambda `lambda: 1`"),
    ("x[0]", "subscript `x[0]`"),
    ("x if w else 1", "conditional expression"),
    ("[t for t in x]", "comprehension"),
    ("'1' + x", "str constant `'1'`"),
    ("x ^ 2", "write powers as **"),
    ("x @ w", "operator @"),
    ("exp(x, 2)", "exp takes exactly one argument"),
    ("exp", "as a value"),
    ("z", "name `z`"),
    ("2**10**5", "power"),
    ("(x + 1)**100000", "power"),
    ("1e999", "too large"),
    ("x +", "not valid syntax"),
    ("x" + "+x" * MAX_LENGTH, "limit"),
])
def test_anything_else_is_refused_naming_the_token(text, message):
    with pytest.raises(ExpressionError, match=None) as err:
        parse_formula(text, ["x", "w"])
    assert message in str(err.value)


def test_nesting_beyond_the_parser_is_a_typed_error():
    with pytest.raises(ExpressionError):
        parse_formula("(" * 300 + "x" + ")" * 300, ["x"])
