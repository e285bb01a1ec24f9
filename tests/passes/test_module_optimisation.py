"""The module is optimised once as a whole: a value the user named, shared by the
forward function, grad, value_and_grad and hessian, is computed and printed the same way
in each; a function that alone reads a shared temporary once still gets it inline."""

import re

import numpy as np

from symdiff.compile import compile_gradient
from symdiff.verify import numerical_gradient


def loss(w, X, y):
    z = X @ w
    h = np.tanh(z) * z
    r = h - y
    return np.sum(r * r) / len(y) + np.sum(w ** 2)


def args():
    rng = np.random.default_rng(0)
    return [rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=5)]


def assignments(source: str) -> dict[str, dict[str, str]]:
    """function name -> {variable -> its assignment line} for the module's functions."""
    out = {}
    for chunk in re.split(r"\n(?=def )", source)[1:]:
        name = chunk.split("(", 1)[0][len("def "):]
        out[name] = {m.group(1): m.group(0) for m in re.finditer(r"^    (\w+) = .*$", chunk, re.M)}
    return out


def test_a_named_forward_value_prints_the_same_way_in_every_function():
    compiled = compile_gradient(loss, args(), 0, kinds=("grad", "value_and_grad", "hessian"))
    lines = assignments(compiled.source)
    functions = ["loss", "grad_loss", "value_and_grad_loss", "hessian_loss"]
    for var in ("z", "r"):  # the user's names: every function computes them, one way
        assert len({lines[f][var] for f in functions}) == 1, [lines[f].get(var) for f in functions]
    assert lines["loss"]["value"] == lines["value_and_grad_loss"]["value"]
    assert lines["grad_loss"]["dloss_dw"] == lines["value_and_grad_loss"]["dloss_dw"]


def test_the_shared_module_still_computes_the_right_derivatives():
    compiled = compile_gradient(loss, args(), 0, kinds=("grad", "value_and_grad", "hessian"))
    a = args()
    np.testing.assert_allclose(compiled.grad(*a), numerical_gradient(loss, a, 0), rtol=1e-6)
    value, grad = compiled.value_and_grad(*a)
    assert value == loss(*a) or np.isclose(value, loss(*a), rtol=1e-12)
    np.testing.assert_allclose(grad, compiled.grad(*a), rtol=1e-12)
    hess = compiled.function("hessian")(*a)
    rows = [numerical_gradient(lambda w, X, y, i=i: compiled.grad(w, X, y)[i], a, 0)
            for i in range(3)]
    np.testing.assert_allclose(hess, np.array(rows), rtol=1e-5, atol=1e-7)


def test_a_function_alone_keeps_its_closed_form():
    # the module shares x**3 between the value and the gradient; grad alone inlines it
    def f(x):
        return 2 * x**4 + x**3 + 3 * x**2 + 5 * x + 1

    lines = assignments(compile_gradient(f, [1.5], 0).source)
    assert lines["grad_f"]["df_dx"] == "    df_dx = x*(x*(8*x + 3) + 6) + 5"


def long_chain(x):
    """An elementwise chain long enough for the gradient to run forward along its
    diagonal Jacobian, each tangent beside its value (autodiff.differentiate)."""
    a = np.sin(x) * x + np.cos(x)
    b = np.sin(a) * a + np.cos(a)
    c = np.sin(b) * b + np.cos(b)
    d = np.sin(c) * c + np.cos(c)
    e = np.sin(d) * d + np.cos(d)
    f = np.sin(e) * e + np.cos(e)
    g = np.sin(f) * f + np.cos(f)
    h = np.sin(g) * g + np.cos(g)
    i = np.sin(h) * h + np.cos(h)
    j = np.sin(i) * i + np.cos(i)
    return np.sum(j)


def test_a_forward_mode_gradient_computes_the_forward_values_as_the_forward_function():
    # its graph interleaves the forward nodes with their tangents (not a prefix): it
    # still joins the forward function's group, so each named value prints one way
    x = np.random.default_rng(1).normal(size=7)
    compiled = compile_gradient(long_chain, [x], 0, kinds=("grad", "value_and_grad"))
    lines = assignments(compiled.source)
    functions = ["long_chain", "grad_long_chain", "value_and_grad_long_chain"]
    named = [v for v in "abcdefghij" if all(v in lines[f] for f in functions)]
    assert len(named) >= 5, lines["long_chain"]
    for var in named:  # (each function numbers its temporaries from _t0)
        printed = {re.sub(r"_t\d+", "_t", lines[f].get(var, "")) for f in functions}
        assert len(printed) == 1, printed
    np.testing.assert_allclose(compiled.grad(x), numerical_gradient(long_chain, [x], 0),
                               rtol=1e-6, atol=1e-9)
    value, grad = compiled.value_and_grad(x)
    np.testing.assert_allclose(value, long_chain(x), rtol=1e-12)
    np.testing.assert_allclose(grad, compiled.grad(x), rtol=1e-12)
