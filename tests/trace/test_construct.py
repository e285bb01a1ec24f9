"""The tracer's shortcuts in building SymPy expressions give what SymPy's own evaluated
construction gives: the same tree (srepr), for every elementwise NumPy function, on
the symbols a trace uses (real values, positive integer sizes) and on numbers."""

import pytest
import sympy as sp

from symdiff.trace.construct import build, construction_memo
from symdiff.trace.numpy_api import ELEMENTWISE_UFUNCS

REAL = sp.Symbol("v7", real=True)
SIZE = sp.Symbol("v8", integer=True, positive=True)
FUNCTIONS = sorted({fn for fn, _, _ in ELEMENTWISE_UFUNCS.values()}, key=repr)


def _call(fn, atom):
    """(the arguments, SymPy's own result) of `fn` on `atom` as often as it takes."""
    for arity in (1, 2, 3):
        try:
            return [atom] * arity, sp.sympify(fn(*[atom] * arity))
        except TypeError:
            continue
    if atom.is_Float:  # (And, Or: a mask is never a float)
        pytest.skip(f"SymPy builds no {fn!r} of a float")
    pytest.fail(f"{fn!r} takes neither one, two nor three arguments")


@pytest.mark.parametrize("fn", FUNCTIONS, ids=repr)
@pytest.mark.parametrize("atom", [REAL, SIZE, sp.Integer(0), sp.Float(0.5)], ids=str)
def test_same_tree_as_sympy_builds(fn, atom):
    args, expected = _call(fn, atom)
    assert sp.srepr(build(fn, args)) == sp.srepr(expected)


def test_a_function_that_rewrites_its_symbol_is_still_evaluated():
    positive = sp.Symbol("v9", positive=True)
    assert build(sp.Abs, [positive]) == positive  # Abs of a positive value is the value
    assert build(sp.sign, [positive]) == 1
    assert build(sp.exp, [sp.log(positive)]) == positive  # (not a symbol: SymPy builds it)


def test_the_memo_builds_an_operation_once_and_only_within_its_context():
    a, b = sp.Symbol("v1", real=True), sp.Symbol("v2", real=True)
    with construction_memo():
        first = build(sp.Mul, [a, b])
        sp.core.cache.clear_cache()  # (SymPy's own cache answers no more)
        assert build(sp.Mul, [a, b]) is first
        assert build(sp.Add, [a, b]) == a + b  # another operation: another entry
        assert build(sp.Mul, [a, sp.Symbol("v2", positive=True)]) != first  # assumptions
    sp.core.cache.clear_cache()
    again = build(sp.Mul, [a, b])
    assert again == first and again is not first
