"""The emitted code reads as an expert would write it: textbook forms of the
derivatives, checked by reading the generated functions (and their values against
central differences)."""

import ast
import sys

import numpy as np
import pytest

import symdiff

from helpers import central_difference


def logistic_loss(w, b, X, y):
    logits = X @ w + b
    p = 1 / (1 + np.exp(-logits))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def logistic_inputs():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 4))
    return rng.normal(size=4), 0.3, X, (rng.random(30) < 0.5).astype(np.float64)


def function_source(source: str, name: str) -> str:
    """The text of one function of a generated module."""
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.get_source_segment(source, node)


def test_logistic_gradient_has_one_exp_per_element():
    args = logistic_inputs()
    g = symdiff.grad(logistic_loss, argnums=(0, 1))
    source = g.compile(*args).source
    for name in ("grad_logistic_loss", "value_and_grad_logistic_loss"):
        body = function_source(source, name)
        assert body.count("np.exp(") == 1, body  # sigma(-z) folded into 1 - sigma(z)
        assert "np.minimum" not in body
    dw, db = g(*args)
    w, b, X, y = args
    p = 1 / (1 + np.exp(-(X @ w + b)))
    np.testing.assert_allclose(dw, X.T @ (p - y) / len(y), rtol=1e-12)  # the textbook form
    np.testing.assert_allclose(db, np.mean(p - y), rtol=1e-12)


def test_logistic_gradient_is_exact_in_the_tails():
    w, X, y = np.array([1.0]), np.array([[-800.0], [800.0], [-40.0], [40.0]]), \
        np.array([0.0, 1.0, 1.0, 0.0])
    dw = symdiff.grad(logistic_loss)(w, 0.0, X, y)
    p = np.array([0.0, 1.0, np.exp(-40.0) / (1 + np.exp(-40.0)), 1 / (1 + np.exp(-40.0))])
    np.testing.assert_allclose(dw, X.T @ (p - y) / 4, rtol=1e-14)
    assert np.isfinite(dw).all()


# -- names -----------------------------------------------------------------------------
def temporary_kinds(fn, args) -> dict[str, set]:
    """Run `fn(*args)` and record, for each `_t<k>` local of its frame, the (shape,
    dtype) of every value it held."""
    seen: dict[str, set] = {}
    code = fn.__code__

    def tracer(frame, event, arg):
        if frame.f_code is not code:
            return None
        for name, value in frame.f_locals.items():
            if name.startswith("_t"):
                seen.setdefault(name, set()).add((np.shape(value), np.asarray(value).dtype))
        return tracer

    sys.settrace(lambda frame, event, arg: tracer if frame.f_code is code else None)
    try:
        fn(*args)
    finally:
        sys.settrace(None)
    return seen


def mlp(W1, b1, W2, b2, X, y):
    hidden = np.tanh(X @ W1 + b1)
    prediction = hidden @ W2 + b2
    return np.mean((prediction - y) ** 2)


def softmax_xent(W, b, X, Y):
    z = X @ W + b
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * (z - lse), axis=1))


@pytest.mark.parametrize("fn, shapes", [
    (mlp, [(2, 4), (4,), (4,), (), (8, 2), (8,)]),
    (softmax_xent, [(6, 3), (3,), (5, 6), (5, 3)]),
    (logistic_loss, [(4,), (), (30, 4), (30,)]),
])
def test_a_temporary_name_never_holds_values_of_two_shapes(fn, shapes):
    rng = np.random.default_rng(0)
    args = [rng.normal(size=s) if s else 0.5 for s in shapes]
    compiled = symdiff.grad(fn, argnums=tuple(range(len(args) - 2))).compile(*args)
    module, checked = compiled.module, 0
    for name in dir(module):
        f = getattr(module, name)
        if name.startswith("_") or not hasattr(f, "__code__") or \
                not any(v.startswith("_t") for v in f.__code__.co_varnames):
            continue
        kinds = temporary_kinds(f, args)
        assert kinds, name  # (the tracer saw the function's temporaries)
        for temp, held in kinds.items():
            assert len(held) == 1, (name, temp, held)
        checked += 1
    assert checked >= 2


def unrolled_chain(W, x):
    for _ in range(6):
        x = np.tanh(W @ x) * 0.5 + x
    return np.sum(x**2)


def straight_line_rebindings(source: str) -> list[tuple[str, str]]:
    """(function, name) for each temporary `_t<k>` bound twice in the straight-line
    code of a generated function (a loop's body may update its carry: not counted)."""
    found = []
    for fn in (n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)):
        bound = []
        for stmt in fn.body:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else []
            for target in targets:
                bound += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)
                          and n.id.startswith("_t") and n.id[2:].isdigit()]
        found += [(fn.name, name) for name in set(bound) if bound.count(name) > 1]
    return found


@pytest.mark.parametrize("fn, shapes, argnums", [
    (mlp, [(2, 4), (4,), (4,), (), (8, 2), (8,)], (0, 1, 2, 3)),
    (softmax_xent, [(6, 3), (3,), (5, 6), (5, 3)], (0, 1)),
    (logistic_loss, [(4,), (), (30, 4), (30,)], (0, 1)),
    (unrolled_chain, [(3, 3), (3,)], (0, 1)),
])
def test_a_temporary_name_holds_one_value_per_function(fn, shapes, argnums):
    # (a dead temporary's name once passed to the next value of the same shape: the
    # softmax cross-entropy gradient bound `_t0` to the rows' maxima, then to the
    # derivative by the log-sum-exp)
    rng = np.random.default_rng(1)
    args = [rng.normal(size=s) * 0.3 if s else 0.5 for s in shapes]
    compiled = symdiff.hessian(fn, argnums=argnums[0]).compile(*args)
    for source in (symdiff.grad(fn, argnums=argnums).compile(*args).source, compiled.source):
        assert not straight_line_rebindings(source)
    grads = symdiff.grad(fn, argnums=argnums)(*args)
    for k, g in zip(argnums, grads):  # the module still computes the gradient
        step = np.zeros_like(np.asarray(args[k], float))
        flat = step.reshape(-1)
        for i in range(flat.size):
            flat[:] = 0
            flat[i] = 1e-6
            plus = [a + step if j == k else a for j, a in enumerate(args)]
            minus = [a - step if j == k else a for j, a in enumerate(args)]
            assert np.reshape(g, -1)[i] == pytest.approx(
                (fn(*plus) - fn(*minus)) / 2e-6, rel=1e-6, abs=1e-8)


# -- the user's operand order ----------------------------------------------------------
def affine_bias_last(W, b, X):
    z = X @ W + b
    return np.sum(np.tanh(z) ** 2)


def affine_bias_first(W, b, X):
    z = b + X @ W
    return np.sum(np.tanh(z) ** 2)


def residual_form(w, c, X, y):
    prediction = X @ w + c
    residual = prediction - y
    return np.mean(residual**2)


def rnn_bias_last(W, b, xs):
    h = np.zeros(W.shape[0])
    for x in xs:  # a loop: its body is printed from a program of its own
        h = np.tanh(W @ h + x + b)
    return np.sum(h**2)


def rnn_bias_first(W, b, xs):
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(b + x + W @ h)
    return np.sum(h**2)


@pytest.mark.parametrize("fn, line", [(rnn_bias_last, "h = np.tanh(W @ h + x + b)"),
                                      (rnn_bias_first, "h = np.tanh(b + x + W @ h)")])
def test_a_loop_body_keeps_the_users_operand_order(fn, line):
    rng = np.random.default_rng(5)
    args = (0.4 * rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=(9, 3)))
    g = symdiff.grad(fn, argnums=(0, 1))
    source = g.compile(*args).source
    assert "for " in function_source(source, f"grad_{fn.__name__}")  # still a loop
    for name in (fn.__name__, f"grad_{fn.__name__}"):
        assert line in function_source(source, name), function_source(source, name)
    for i, d in enumerate(g(*args)):
        np.testing.assert_allclose(d, central_difference(fn, list(args), i),
                                   rtol=1e-6, atol=1e-8)


def log_softmax_first_class(W, b, X):
    logits = X @ W + b
    shifted = logits - np.max(logits, axis=1, keepdims=True)  # (behind a stop_gradient)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return np.sum(log_probs[:, 0])


@pytest.mark.parametrize("fn, lines", [
    (affine_bias_last, ["z = X @ W + b", "np.tanh(z)"]),
    (log_softmax_first_class, ["logits = X @ W + b",
                               "shifted = logits - logits.max(axis=1, keepdims=True)"]),
    (affine_bias_first, ["z = b + X @ W"]),  # the user's order, not another canonical one
    (residual_form, ["prediction = X @ w + c", "residual = prediction - y"]),
])
def test_a_sum_keeps_the_users_operand_order_and_names(fn, lines):
    # (z was fused into np.tanh(b + X @ W), prediction into residual = c - y + X @ w)
    rng = np.random.default_rng(4)
    if fn is residual_form:
        args = (rng.normal(size=3), 0.2, rng.normal(size=(7, 3)), rng.normal(size=7))
    else:
        args = (rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(5, 3)))
    g = symdiff.value_and_grad(fn, argnums=(0, 1))
    source = g.compile(*args).source
    body = function_source(source, f"value_and_grad_{fn.__name__}")
    code = [text.split("#")[0] for text in body.splitlines()]
    for line in lines:
        assert any(line in text for text in code), (line, body)
    value, (d0, d1) = g(*args)
    assert value == pytest.approx(fn(*args), rel=1e-13)
    eps = 1e-6  # the bias's gradient against central differences
    b = np.asarray(args[1], float)
    for i in range(b.size):
        step = np.zeros_like(b)
        step.reshape(-1)[i] = eps
        up = fn(args[0], b + step, *args[2:])
        down = fn(args[0], b - step, *args[2:])
        assert np.reshape(d1, -1)[i] == pytest.approx((up - down) / (2 * eps), rel=1e-6)


# -- small integer powers --------------------------------------------------------------
def cubic(x, y):
    return np.sum(x**3 / y**3 + 2 * x**4 - y / x**4 + x**2)


def test_small_integer_powers_are_repeated_multiplications():
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    g = symdiff.grad(cubic, argnums=(0, 1))
    source = g.compile(x, y).source
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    assert "**3" not in code and "**4" not in code
    assert "x**2" in code  # np.square's fast path: as fast as x*x
    dx, dy = g(x, y)  # by hand: the derivative of each term
    np.testing.assert_allclose(dx, 3 * x**2 / y**3 + 8 * x**3 + 4 * y / x**5 + 2 * x,
                               rtol=1e-13)
    np.testing.assert_allclose(dy, -3 * x**3 / y**4 - 1 / x**4, rtol=1e-13)


# -- reductions ------------------------------------------------------------------------
def sum_of_squares(x):
    y = x * np.sin(x)
    return np.sum(y**2)


def test_a_sum_of_two_computed_factors_stays_a_sum():
    x = np.linspace(0.1, 2.0, 7)
    compiled = symdiff.grad(sum_of_squares).compile(x)
    forward = function_source(compiled.source, "sum_of_squares")
    assert ".sum()" in forward and "@" not in forward and "np.float64(" not in forward
    np.testing.assert_allclose(compiled.forward(x), np.sum((x * np.sin(x)) ** 2), rtol=1e-14)
    np.testing.assert_allclose(compiled.grad(x),
                               2 * x * np.sin(x) * (np.sin(x) + x * np.cos(x)), rtol=1e-13)


def test_a_sum_of_a_value_times_an_array_is_a_dot_product():
    def weighted(w, x):
        return np.sum(w * x**2)

    source = symdiff.grad(weighted).compile(np.ones(4), np.arange(4.0)).source
    assert "w @ (x**2)" in function_source(source, "weighted")  # one temporary, no product


def test_log_det_gradient_is_the_inverse_transpose():
    def log_det(A):
        return np.log(np.linalg.det(A))

    A = np.eye(3) + 0.1 * np.arange(9.0).reshape(3, 3)
    compiled = symdiff.grad(log_det).compile(A)
    body = function_source(compiled.source, "grad_log_det")
    assert "np.ones" not in body and "np.linalg.inv(A).T" in body
    np.testing.assert_allclose(compiled.grad(A), np.linalg.inv(A).T, rtol=1e-13)


def test_the_binary_cross_entropy_has_no_double_negation():
    args = logistic_inputs()
    compiled = symdiff.grad(logistic_loss, argnums=(0, 1)).compile(*args)
    forward = function_source(compiled.source, "logistic_loss")
    assert "-1/" not in forward and "np.sum(-" not in forward and "-y*" not in forward
    w, b, X, y = args
    z = X @ w + b
    np.testing.assert_allclose(compiled.forward(*args),
                               np.mean(np.logaddexp(0, z) - y * z), rtol=1e-13)
