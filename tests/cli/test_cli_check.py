"""`symdiff check`, `symdiff gradcheck`, and the gradcheck `symdiff emit` runs first.

Exit status: 0 PROVED/AGREES/passed, 1 REFUTED/failed, 2 usage errors."""

import textwrap

import pytest

from symdiff import cli
from symdiff.autodiff import batched_rules as batching
from symdiff.autodiff import rules
from symdiff.trace.tracer import broadcast_to

MODEL = textwrap.dedent("""\
    import numpy as np

    def loss(w, b, x, y):
        y_hat = w * x + b
        return (y_hat - y) ** 2

    def right(w, b, x, y):
        y_hat = w * x + b
        return 2 * x * (y_hat - y), 2 * (y_hat - y)

    def wrong(w, b, x, y):
        y_hat = w * x + b
        return 2 * (y_hat - y), 2 * (y_hat - y)

    def poly(x):
        return 3 * x**2 + 4 * x + 2

    def sum_sin(x, v):
        return np.sum(np.sin(x) * v)

    def sq(w):
        return np.sum(w ** 2)

    def sin_layer(x, W):
        return np.sum(np.sin(W @ x))
""")


@pytest.fixture
def model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(MODEL)
    return tmp_path


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("argv, status, words", [
    (["check", "model.py:loss", "model.py:right", "--wrt", "w,b"], 0, ["PROVED"]),
    (["check", "model.py:loss", "right", "--wrt", "w,b"], 0, ["PROVED"]),
    (["check", "model.py:loss", "wrong", "--wrt", "w,b"], 1,
     ["REFUTED", "d loss / d w: REFUTED", "d loss / d b: PROVED", "counterexample"]),
    (["check", "model.py:poly", "--expect", "6*x + 4"], 0, ["PROVED"]),
    (["check", "model.py:poly", "--expect", "6*x"], 1, ["REFUTED", "= 4"]),
    (["check", "model.py:loss", "--wrt", "w,b", "--expect", "2*x*(w*x + b - y)",
      "--expect", "2*(w*x + b - y)"], 0, ["PROVED"]),
    (["check", "model.py:sq", "--shape", "w=3", "--expect", "2*w"], 0, ["PROVED"]),  # d/dw_i
    (["check", "model.py:sq", "--shape", "w=3", "--expect", "w"], 1, ["REFUTED", "d/dw["]),
    (["gradcheck", "model.py:sum_sin", "--shape", "x=5", "--shape", "v=5", "--wrt", "x,v"],
     0, ["passed", "grad_sum_sin", "5 elements"]),
])
def test_verdicts_and_exit_status(model, capsys, argv, status, words):
    got, out, _ = run(capsys, *argv)
    assert got == status, out
    for word in words:
        assert word in out


def test_a_formula_error_names_the_expect_it_is_in_and_no_file(model, capsys):
    # --expect comes from the command line: the error says which one (by the argument it
    # is the derivative for), with no file:line of symdiff's own or of the entry point
    status, out, err = run(capsys, "check", "model.py:loss", "--wrt", "w,b", "--expect",
                           "2*x*(w*x + b - y)", "--expect", "2*(w*x + b - q)")
    assert status == 2 and out == ""
    assert "--expect: the formula for d/db (one of 2): " in err and "name `q`" in err
    assert ".py:" not in err


@pytest.mark.parametrize("argv, message", [
    (["check", "model.py:poly"], "give your derivative"),
    (["check", "model.py:poly", "right", "--expect", "6*x"], "not both"),
    (["check", "model.py:loss", "--wrt", "w,b", "--expect", "2*x"], "one per parameter"),
    (["check", "model.py:poly", "--expect", "__import__('os').system('echo hi')"],
     "attribute access"),
    (["check", "model.py:poly", "--expect", "x.real"], "attribute access `x.real`"),
    (["gradcheck", "model.py:nothing"], "defines no function"),
    (["gradcheck", "model.py:poly", "--wrt", "z"], "not parameters"),
])
def test_usage_errors_exit_2(model, capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2 and message in err and out == ""


# -- emit refuses to write a module whose gradient fails gradcheck ------------------------
_RIGHT_SUM_VJP = rules.VJP["sum"]


def _sum_vjp_doubled(g, out, x, *, axes, keepdims):
    right = _RIGHT_SUM_VJP(g, out, x, axes=axes, keepdims=keepdims)[0]
    return (broadcast_to(right * 2.0, x.shape),)


EMIT = ["emit", "model.py:sum_sin", "--shape", "x=4", "--shape", "v=4", "-o", "grad.py"]


def test_emit_verifies_and_writes(model, capsys):
    status, _, err = run(capsys, *EMIT)
    assert status == 0 and "wrote grad.py" in err
    assert "def grad_sum_sin(x, v):" in (model / "grad.py").read_text()


def test_emit_with_a_wrong_rule_writes_nothing(model, capsys, monkeypatch):
    monkeypatch.setitem(rules.VJP, "sum", _sum_vjp_doubled)
    status, out, err = run(capsys, *EMIT)
    assert status == 1 and not (model / "grad.py").exists() and out == ""
    assert "gradcheck of sum_sin failed" in err and "Nothing was written" in err
    assert "FAILED at x[" in err  # the report names the argument and element


def test_emit_with_a_wrong_rule_leaves_the_previous_file_intact(model, capsys, monkeypatch):
    assert run(capsys, *EMIT)[0] == 0
    before = (model / "grad.py").read_bytes()
    (model / "model.py").write_text(MODEL.replace("np.sin(x) * v", "np.cos(x) * v"))
    monkeypatch.setitem(rules.VJP, "sum", _sum_vjp_doubled)
    assert run(capsys, *EMIT)[0] == 1
    assert (model / "grad.py").read_bytes() == before


def test_emit_no_verify_writes_anyway(model, capsys, monkeypatch):
    monkeypatch.setitem(rules.VJP, "sum", _sum_vjp_doubled)
    status, _, err = run(capsys, *EMIT, "--no-verify")
    assert status == 0 and (model / "grad.py").exists()


def test_emit_checks_the_hessian_it_writes(model, capsys, monkeypatch):
    right = batching.BATCHED_JVP["matmul"]
    # batched forward mode builds Hessians, not gradients
    monkeypatch.setitem(batching.BATCHED_JVP, "matmul", lambda *a, **k: 2.0 * right(*a, **k))
    argv = ["emit", "model.py:sin_layer", "--shape", "x=3", "--shape", "W=2,3", "--wrt", "x,W"]
    assert run(capsys, *argv, "-o", "grad.py")[0] == 0  # the gradient is right
    status, _, err = run(capsys, *argv, "--emit", "hessian", "-o", "hess.py")
    assert status == 1 and not (model / "hess.py").exists()
    assert "hessian_sin_layer" in err and "Nothing was written" in err


# -- the command line ----------------------------------------------------------------------
def test_cli_points_zero_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "m.py"
    path.write_text(textwrap.dedent("""\
        def f(x):
            return x ** 2
    """))
    assert cli.main(["check", f"{path}:f", "--expect", "2*x", "--points", "0"]) == 2
    assert "--points" in capsys.readouterr().err

