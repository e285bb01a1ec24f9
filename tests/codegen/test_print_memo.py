"""An expression the functions of one module print alike is printed once, with slots for
the names each function gives its symbols (codegen/print_memo.py). The memo must not
change a character: each module here is compiled with it and again with every
expression printed directly, and the two sources compared."""

import numpy as np
import pytest

from symdiff.codegen import print_memo
from symdiff.compile import compile_gradient

from helpers import central_difference

rng = np.random.default_rng(3)


def mlp(W1, b1, W2, b2, X, y):
    hidden = np.tanh(X @ W1 + b1)  # an inlined `X @ W1` inside a sum
    prediction = hidden @ W2 + b2
    return np.mean((prediction - y) ** 2)


def softmax_xent(W, X, Y):
    logits = X @ W
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0]


def logistic32(w, X, y):  # float32: casts of constants in statements
    z = X @ w
    return np.mean(np.logaddexp(0, z) - y * z) + np.float32(0.5) * np.sum(w ** 2)


def chain(x):  # an unrolled chain: forward mode, the forward pass in every function
    for _ in range(12):
        x = np.sin(x) * x + np.cos(x) ** 3
    return np.sum(x)


def marked(x):  # a user's name holding the letter the slots are made of
    ǂ0ǂ = np.sin(x) * x  # noqa: PLC2401
    return np.sum(ǂ0ǂ ** 2 + x)


def onehot(n, k):
    return np.eye(k)[rng.integers(0, k, n)]


CASES = {
    "mlp": (mlp, [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=4),
                  rng.normal(), rng.normal(size=(6, 3)), rng.normal(size=6)], (0, 1, 2, 3),
            ("grad", "value_and_grad"), None),
    "mlp_symbolic": (mlp, [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=4),
                           rng.normal(), rng.normal(size=(6, 3)), rng.normal(size=6)],
                     (0, 1), ("grad", "value_and_grad"), "auto"),
    "softmax_xent": (softmax_xent, [rng.normal(size=(3, 4)), rng.normal(size=(5, 3)),
                                    onehot(5, 4)], 0, ("grad", "value_and_grad"), None),
    "logistic32": (logistic32, [rng.normal(size=3).astype(np.float32),
                                rng.normal(size=(7, 3)).astype(np.float32),
                                (rng.random(7) < 0.5).astype(np.float32)], 0,
                   ("grad", "value_and_grad", "hessian"), None),
    "chain": (chain, [rng.normal(size=5)], 0, ("grad", "value_and_grad"), None),
    "marked": (marked, [rng.normal(size=4)], 0, ("grad", "value_and_grad", "hessian"), None),
}


def _direct(self, printer, expr, context):
    return printer.printed(expr)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_memo_changes_no_character_of_a_module(name, monkeypatch):
    fn, args, argnums, kinds, dims = CASES[name]
    calls = {"printed": 0, "texts": 0}
    real = print_memo.PrintMemo.printed

    def counting(self, printer, expr, context):
        calls["printed"] += 1
        result = real(self, printer, expr, context)
        calls["texts"] = len(self._texts)
        return result

    monkeypatch.setattr(print_memo.PrintMemo, "printed", counting)
    memo = compile_gradient(fn, args, argnums, kinds=kinds, dims=dims)
    monkeypatch.setattr(print_memo.PrintMemo, "printed", _direct)
    direct = compile_gradient(fn, args, argnums, kinds=kinds, dims=dims)
    assert memo.source == direct.source
    if name != "marked":  # (its expressions print directly)
        assert calls["texts"] < calls["printed"], calls  # the memo was used


def test_a_users_name_with_the_slot_letter_prints_as_written():
    compiled = compile_gradient(marked, CASES["marked"][1], 0)
    x = CASES["marked"][1][0]
    assert "ǂ0ǂ" in compiled.source
    np.testing.assert_allclose(compiled.grad(x), central_difference(marked, [x], 0),
                               rtol=1e-6, atol=1e-8)
