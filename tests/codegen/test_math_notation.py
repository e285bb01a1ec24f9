"""The derivatives a generated docstring states in mathematical notation: the notation is
parsed back into NumPy here (its own small grammar, independent of the printer) and
evaluated at random points against central differences of the original function and
against closed forms derived by hand; the printer is checked on expressions built by
hand."""

import os
import re

import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import expm1, hypot, log1p
from sympy.codegen.numpy_nodes import logaddexp

from symdiff.cli.args import load_function
from symdiff.codegen.derivatives_doc import MAX_WIDTH
from symdiff.codegen.math_notation import (
    AxisSum,
    Diag,
    MatrixProduct,
    Total,
    Transposed,
    notation,
)
from symdiff.compile import compile_gradient
from symdiff.ir.elementwise import sigmoid

from helpers import central_difference

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "tests", "golden", "models.py")


def model(name):
    return load_function(f"{MODELS}:{name}")[0]


# -- the notation, read back ---------------------------------------------------------------
_TOKEN = re.compile(r" / |\^T(?!\w)|\d+\.\d+(?:e-?\d+)?|\d+|[A-Za-z_]\w*|[-+*/^(),=]|\s+")
_FUNCTIONS = {"sigma": lambda u: 1 / (1 + np.exp(-u)), "exp": np.exp, "log": np.log,
              "tanh": np.tanh, "sqrt": np.sqrt, "diag": np.diag}


class _Row:
    """A vector transposed: `u v^T` is an outer product."""

    def __init__(self, v):
        self.v = v


def _juxtapose(a, b):
    if isinstance(b, _Row):
        return np.outer(a, b.v)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return a * b
    return a @ b


class _Reader:
    """expr: terms joined by + and -; term: products joined by `*` (elementwise) and
    ` / `; product: factors side by side (a scalar times, or a matrix product); factor:
    powers joined by a tight `/`; power: an atom with `^T` or `^ atom`."""

    def __init__(self, text, env):
        self.tokens = [t for t in _TOKEN.findall(text) if not t.isspace()]
        assert "".join(self.tokens).replace(" / ", "/") == re.sub(r"\s", "", text), text
        self.i, self.env = 0, env

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected=None):
        token = self.tokens[self.i]
        assert expected is None or token == expected, (token, expected, self.tokens)
        self.i += 1
        return token

    def read(self):
        value = self.expr()
        assert self.peek() is None, self.tokens[self.i:]
        return value

    def expr(self):
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self):
        value = self.product()
        while self.peek() in ("*", " / "):
            value = value * self.product() if self.take() == "*" else value / self.product()
        return value

    def product(self):
        value = self.factor()
        while self.peek() is not None and (self.peek()[0].isalnum() or self.peek() == "("):
            value = _juxtapose(value, self.factor())
        return value

    def factor(self):
        if self.peek() == "-":
            self.take()
            return -self.factor()
        value = self.power()
        while self.peek() == "/":
            self.take()
            value = value / self.power()
        return value

    def power(self):
        value = self.atom()
        while self.peek() in ("^T", "^"):
            if self.take() == "^T":
                value = _Row(value) if np.ndim(value) == 1 else np.transpose(value)
            else:
                value = value ** self.atom()
        return value

    def atom(self):
        token = self.take()
        if token == "(":
            value = self.expr()
            self.take(")")
            return value
        if token[0].isdigit():
            return float(token)
        if self.peek() == "(" and token in (*_FUNCTIONS, "sum"):
            self.take("(")
            arg = self.expr()
            axis = None
            if token == "sum" and self.peek() == ",":
                self.take(","), self.take("axis"), self.take("=")
                axis = int(self.take())
            self.take(")")
            return np.sum(arg, axis=axis) if token == "sum" else _FUNCTIONS[token](arg)
        return self.env[token]


def stated(doc: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The derivatives a docstring states ({lhs: notation}) and its `where` lines."""
    block = doc.split("Derivatives", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    derivatives, where = {}, []
    for line in block:
        lhs, _, rhs = line.strip().partition(" = ")
        if lhs.startswith("where "):
            where.append((lhs[len("where "):], rhs))
        else:
            derivatives[lhs] = rhs
    return derivatives, where


def evaluate(doc: str, env: dict) -> dict[str, np.ndarray]:
    derivatives, where = stated(doc)
    env = dict(env)
    for name, rhs in where:
        env[name] = _Reader(rhs, env).read()
    return {lhs: _Reader(rhs, env).read() for lhs, rhs in derivatives.items()}


def sigmoid_np(u):
    return 1 / (1 + np.exp(-u))


# -- the generated docstrings against finite differences and hand-derived forms ----------
def _random_args(shapes, rng):
    return [rng.normal(size=s) if s else float(rng.normal()) for s in shapes]


CASES = {
    # name: (argument names, shapes to trace, argnums, dims, shapes at the check)
    "logistic": ("w b X y", [(3,), (), (20, 3), (20,)], (0, 1), None, None),
    "logistic_symbolic": ("w b X y", [(3,), (), (20, 3), (20,)], (0, 1), "auto",
                          [(4,), (), (7, 4), (7,)]),
    "mse": ("w b X y", [(3,), (), (12, 3), (12,)], (0, 1), None, None),
    "mse_symbolic": ("w b X y", [(3,), (), (12, 3), (12,)], (0, 1), "auto",
                     [(2,), (), (5, 2), (5,)]),
    "mlp": ("W1 b1 W2 b2 X y", [(2, 4), (4,), (4,), (), (8, 2), (8,)], (0, 1, 2, 3),
            None, None),
    "mlp_symbolic": ("W1 b1 W2 b2 X y", [(2, 4), (4,), (4,), (), (8, 2), (8,)],
                     (0, 1, 2, 3), "auto", [(3, 5), (5,), (5,), (), (6, 3), (6,)]),
    "polynomial": ("x", [()], 0, None, None),
    "chain": ("x", [(3,)], 0, None, None),
    "J": ("a b c", [(), (), ()], (0, 1, 2), None, None),
}


def compiled(case, kinds=("grad", "value_and_grad")):
    names, shapes, argnums, dims, _ = CASES[case]
    fn = model(case.removesuffix("_symbolic"))
    args = _random_args(shapes, np.random.default_rng(0))
    return fn, compile_gradient(fn, args, argnums, kinds=kinds, dims=dims)


@pytest.mark.parametrize("case", sorted(CASES))
def test_stated_derivatives_match_central_differences(case):
    names, shapes, argnums, _, check_shapes = CASES[case]
    fn, c = compiled(case)
    names = names.split()
    rng = np.random.default_rng(1)
    for _ in range(2):
        args = _random_args(check_shapes or shapes, rng)
        env = dict(zip(names, args))
        env.update(n=np.shape(args[names.index("X")])[0] if "X" in names else None)
        for kind in ("grad", "value_and_grad"):
            values = evaluate(c.function(kind).__doc__, env)
            nums = argnums if isinstance(argnums, tuple) else (argnums,)
            assert len(values) == len(nums)
            for i in nums:
                lhs = f"d{c.graph.names.get(c.graph.outputs[0]) or c.name}/d{names[i]}"
                np.testing.assert_allclose(values[lhs], central_difference(fn, args, i),
                                           rtol=1e-6, atol=1e-8, err_msg=f"{case}: {lhs}")


def test_logistic_states_the_textbook_gradient():
    """d/dw of the mean binary cross-entropy is X^T (sigma(X w + b) - y)/n (by hand:
    d/dz of -y log s(z) - (1 - y) log(1 - s(z)) is s(z) - y)."""
    _, c = compiled("logistic")
    derivatives, where = stated(c.grad.__doc__)
    assert derivatives == {"dloss/dw": "X^T (sigma(logits) - y) / 20",
                           "dloss/db": "sum(sigma(logits) - y) / 20"}
    assert where == [("logits", "X w + b")]
    rng = np.random.default_rng(3)
    w, b, X, y = rng.normal(size=3), 0.3, rng.normal(size=(20, 3)), rng.random(20)
    values = evaluate(c.grad.__doc__, {"w": w, "b": b, "X": X, "y": y})
    residual = sigmoid_np(X @ w + b) - y
    np.testing.assert_allclose(values["dloss/dw"], X.T @ residual / 20, rtol=1e-13)
    np.testing.assert_allclose(values["dloss/db"], residual.sum() / 20, rtol=1e-13)


def test_mse_for_every_size_states_two_over_n():
    """d/dw mean((X w + b - y)^2) = 2/n X^T (X w + b - y), n the batch size."""
    _, c = compiled("mse_symbolic")
    derivatives, where = stated(c.grad.__doc__)
    assert derivatives == {"dmse/dw": "2/n X^T residual", "dmse/db": "2/n sum(residual)"}
    assert where == [("residual", "X w + b - y")]


def test_mlp_backpropagates_through_tanh():
    """By hand: delta = 2/n (hidden W2 + b2 - y); dW2 = hidden^T delta; dW1 = X^T
    ((delta W2^T) * (1 - hidden^2)), hidden = tanh(X W1 + b1)."""
    _, c = compiled("mlp_symbolic")
    derivatives, _ = stated(c.grad.__doc__)
    rng = np.random.default_rng(4)
    W1, b1, W2, b2 = rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=5), 0.2
    X, y = rng.normal(size=(6, 3)), rng.normal(size=6)
    env = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "X": X, "y": y, "n": 6}
    values = evaluate(c.grad.__doc__, env)
    hidden = np.tanh(X @ W1 + b1)
    delta = 2 / 6 * (hidden @ W2 + b2 - y)
    inner = np.outer(delta, W2) * (1 - hidden**2)
    np.testing.assert_allclose(values["dmlp/dW1"], X.T @ inner, rtol=1e-12)
    np.testing.assert_allclose(values["dmlp/db1"], inner.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(values["dmlp/dW2"], hidden.T @ delta, rtol=1e-12)
    np.testing.assert_allclose(values["dmlp/db2"], delta.sum(), rtol=1e-12)
    assert all("W2^T" in derivatives[k] for k in ("dmlp/dW1", "dmlp/db1"))


def test_polynomial_states_its_closed_form():
    _, c = compiled("polynomial")
    derivatives, where = stated(c.grad.__doc__)
    assert derivatives == {"dpolynomial/dx": "8 x^3 + 3 x^2 + 6 x + 5"} and where == []


def test_hessian_of_logistic_for_every_size_is_x_t_diag_x():
    """By hand: the Hessian of the mean cross-entropy in w is X^T diag(s (1 - s)) X / n,
    s = sigma(X w + b)."""
    fn = model("logistic")
    args = _random_args([(3,), (), (20, 3), (20,)], np.random.default_rng(0))
    c = compile_gradient(fn, args, 0, kinds=("grad", "hessian"), dims="auto")
    derivatives, where = stated(c.function("hessian").__doc__)
    assert list(derivatives) == ["d^2 loss/dw^2"]
    rng = np.random.default_rng(5)
    w, b, X, y = rng.normal(size=3), -0.4, rng.normal(size=(9, 3)), rng.random(9)
    values = evaluate(c.function("hessian").__doc__, {"w": w, "b": b, "X": X, "y": y, "n": 9})
    s = sigmoid_np(X @ w + b)
    np.testing.assert_allclose(values["d^2 loss/dw^2"], X.T @ np.diag(s * (1 - s)) @ X / 9,
                               rtol=1e-12)


def test_a_vjp_states_products_not_derivatives():
    """A vector-Jacobian product is the cotangent times the derivative: its results are
    named as the code names them, not dloss/dw."""
    fn = model("logistic")
    args = _random_args([(3,), (), (20, 3), (20,)], np.random.default_rng(0))
    c = compile_gradient(fn, args, (0, 1), kinds=("vjp",))
    derivatives, _ = stated(c.function("vjp").__doc__)
    assert derivatives == {"dloss_dw": "cotangent X^T (sigma(logits) - y) / 20",
                           "dloss_db": "cotangent sum(sigma(logits) - y) / 20"}


def test_a_jvp_states_the_directional_derivative():
    """tangent_loss is d/dt loss(w + t tw, b + t tb) at t = 0: central differences."""
    fn = model("logistic")
    args = _random_args([(3,), (), (20, 3), (20,)], np.random.default_rng(0))
    c = compile_gradient(fn, args, (0, 1), kinds=("jvp",))
    derivatives, _ = stated(c.function("jvp").__doc__)
    assert derivatives == {
        "tangent_loss": "sum((X tangent_w + tangent_b) * (sigma(logits) - y)) / 20"}
    rng = np.random.default_rng(7)
    w, b, X, y = rng.normal(size=3), 0.1, rng.normal(size=(20, 3)), rng.random(20)
    tw, tb = rng.normal(size=3), -0.7
    value = evaluate(c.function("jvp").__doc__,
                     {"w": w, "b": b, "X": X, "y": y, "tangent_w": tw, "tangent_b": tb})
    h = 1e-6
    numeric = (fn(w + h * tw, b + h * tb, X, y) - fn(w - h * tw, b - h * tb, X, y)) / (2 * h)
    np.testing.assert_allclose(value["tangent_loss"], numeric, rtol=1e-6)


@pytest.mark.parametrize("name, shapes, argnums", [
    ("rnn_loop", [(4, 4), (4, 2), (4,), (12, 2)], (0, 1, 2, 3)),  # a loop
    ("huber", [()], 0),  # an if/else
    ("rosenbrock", [(5,)], 0),  # slices: no notation here
])
def test_modules_without_a_short_form_state_none(name, shapes, argnums):
    fn = model(name)
    c = compile_gradient(fn, _random_args(shapes, np.random.default_rng(0)), argnums)
    assert "Derivatives" not in c.source


def test_every_stated_line_fits_the_docstring():
    for case in sorted(CASES):
        _, c = compiled(case)
        for lhs, rhs in stated(c.grad.__doc__)[0].items():
            assert len(f"{lhs} = {rhs}") <= MAX_WIDTH, (case, lhs)


# -- the printer, on expressions built by hand --------------------------------------------
X, Y, r, u, v, w, x, y, b, n = sp.symbols("X Y r u v w x y b n")
RANKS = {X: 2, Y: 2, r: 1, u: 1, v: 1, w: 1, y: 1}


@pytest.mark.parametrize("expr, text", [
    (MatrixProduct(Transposed(X), r) / 20, "X^T r / 20"),
    (2 * MatrixProduct(Transposed(X), r) / n, "2/n X^T r"),
    (b - y + MatrixProduct(X, w), "X w + b - y"),
    (-y + sigmoid(MatrixProduct(X, w)), "sigma(X w) - y"),
    (3 * x**3 - 2 * x + 1, "3 x^3 - 2 x + 1"),
    (Total(u * v) / n, "sum(u * v) / n"),
    (AxisSum(X * Y, sp.Tuple(0)), "sum(X * Y, axis=0)"),
    (MatrixProduct(u, Transposed(v)), "u v^T"),
    (MatrixProduct(MatrixProduct(Transposed(X), Diag(u)), X), "X^T diag(u) X"),
    (2 * x / (1 + x), "2 x/(x + 1)"),
    (u * v / (1 + u**2), "(u * v)/(u^2 + 1)"),
    (sp.sqrt(x) + x**-2, "sqrt(x) + 1/x^2"),
    (sp.Float(0.5) * x, "0.5 x"),
    (logaddexp(0, -x) + log1p(x) - 2 * expm1(x), "log(x + 1) - 2 (exp(x) - 1) + log(1 + exp(-x))"),
    (hypot(x, 3), "sqrt(x^2 + 9)"),
    (sp.Piecewise((x, x > 0), (2 * x, True)), "where(x > 0, x, 2 x)"),
])
def test_printer_writes_ascii_mathematics(expr, text):
    assert notation(expr, RANKS, {n}) == text


@pytest.mark.parametrize("expr", [
    2 * MatrixProduct(Transposed(X), r) / n + MatrixProduct(Transposed(X), MatrixProduct(X, w))
    - Total(u * v) / 3,
    MatrixProduct(u, Transposed(v)) * Y / (1 + Y**2) - 2 * sigmoid(-Y),
    u * v / (1 + u**2) - sp.exp(-u) / (1 + sp.exp(-u)) ** 2,
])
def test_printed_notation_reads_back_as_the_expression(expr):
    """The reader above and a direct NumPy evaluation of the SymPy expression agree."""
    rng = np.random.default_rng(6)
    env = {"X": rng.normal(size=(4, 3)), "Y": rng.normal(size=(4, 4)), "r": rng.normal(size=4),
           "u": rng.normal(size=4), "v": rng.normal(size=4), "w": rng.normal(size=3),
           "n": 7.0}
    direct = _direct(expr, {sp.Symbol(k): val for k, val in env.items()})
    np.testing.assert_allclose(_Reader(notation(expr, RANKS, {n}), env).read(), direct,
                               rtol=1e-12)


def _direct(e, env):
    if isinstance(e, MatrixProduct):
        a, b_ = (_direct(a, env) for a in e.args)
        return np.outer(a, b_) if isinstance(e.args[1], Transposed) and np.ndim(a) == 1 \
            else a @ b_
    if isinstance(e, Transposed):
        return np.transpose(_direct(e.args[0], env))
    if isinstance(e, Total):
        return np.sum(_direct(e.args[0], env))
    if isinstance(e, sigmoid):
        return sigmoid_np(_direct(e.args[0], env))
    if e.is_Symbol:
        return env[e]
    if e.is_Number:
        return float(e)
    args = [_direct(a, env) for a in e.args]
    if e.is_Add:
        return sum(args[1:], args[0])
    if e.is_Mul:
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if e.is_Pow:
        return args[0] ** args[1]
    return getattr(np, type(e).__name__)(*args)
