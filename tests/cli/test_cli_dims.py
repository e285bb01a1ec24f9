"""`symdiff emit` with symbolic sizes: `--shape X=n,d`, `--dims auto`, the errors."""

import importlib.util

import numpy as np
import pytest

from symdiff.cli import main
from symdiff.verify.numerical import numerical_gradient

MODEL = """\
import numpy as np


def loss(w, b, X, y):
    logits = X @ w + b
    return np.mean(np.logaddexp(0.0, logits) - y * logits)


def make_inputs():
    return np.zeros(3), 0.0, np.ones((5, 3)), np.ones(5)


def rows(x):
    total = 0.0
    for i in range(len(x)):
        total = total + x[i] ** 2
    return total


def differences(x):
    return np.sum((x[1:] - x[:-1]) ** 2)


def odd_rows(x):
    total = 0.0
    for i in range(len(x)):
        if i % 2:
            total = total + x[i] ** 2
    return total
"""


@pytest.fixture
def model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(MODEL)
    spec = importlib.util.spec_from_file_location("dims_model", tmp_path / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def load(path):
    spec = importlib.util.spec_from_file_location(f"emitted_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_names_in_shape_are_symbolic_and_ints_fixed(model, capsys):
    status, _, err = run(capsys, "emit", "model.py:loss", "--wrt", "w,b", "--shape", "w=3",
                         "--shape", "X=n,3", "--shape", "y=n", "-o", "g.py")
    assert status == 0, err
    source = open("g.py").read()
    assert "--shape w=3 --shape X=n,3 --shape y=n" in source  # the command regenerates it
    assert "X: float64[n, 3]" in source and "/n" in source
    module = load("g.py")
    rng = np.random.default_rng(0)
    for n in (2, 11):
        args = [rng.normal(size=3), 0.4, rng.normal(size=(n, 3)), (rng.random(n) < .5) * 1.0]
        dw, db = module.grad_loss(*args)
        np.testing.assert_allclose(dw, numerical_gradient(model.loss, args, 0), rtol=1e-6)
        np.testing.assert_allclose(db, numerical_gradient(model.loss, args, 1), rtol=1e-6)
    with pytest.raises(ValueError, match=r"w must have shape \(3,\), got \(4,\)"):
        module.grad_loss(np.zeros(4), 0.0, np.zeros((5, 3)), np.zeros(5))


def test_dims_auto_generalises_the_example(model, capsys):
    status, out, err = run(capsys, "emit", "model.py:loss", "--wrt", "w,b", "--example",
                           "make_inputs", "--dims", "auto")
    assert status == 0, err
    assert "--example make_inputs --dims auto" in out
    assert "w: float64[d], b: float64[], X: float64[n, d], y: float64[n]" in out


def test_a_loop_over_a_symbolic_size_loops_over_it(model, capsys, tmp_path):
    status, _, err = run(capsys, "emit", "model.py:rows", "--shape", "x=n", "-o", "rows.py")
    assert status == 0, err
    source = (tmp_path / "rows.py").read_text()
    assert "for i in range(n):" in source and "for i in reversed(range(n)):" in source
    emitted = load(str(tmp_path / "rows.py"))
    for n in (2, 7):
        x = np.linspace(-1.0, 2.0, n)
        np.testing.assert_allclose(emitted.grad_rows(x), 2 * x)


def test_a_loop_that_unrolls_over_a_symbolic_size_is_a_one_line_error_naming_it(model,
                                                                                 capsys):
    status, _, err = run(capsys, "emit", "model.py:odd_rows", "--shape", "x=n")
    assert status == 1
    assert len(err.strip().splitlines()) == 1
    line = MODEL.splitlines().index("def odd_rows(x):") + 3  # its `for`
    assert f"model.py:{line}: the size n (axis 0 of x, of shape (n,)) is symbolic" in err
    assert "symdiff emit --shape x=<size>" in err


def test_bad_dimension_names_are_usage_errors(model, capsys):
    for shape, message in (("x=n-1", "a dimension is a size (10) or the name"),
                           ("x=x", "'x' cannot name a dimension"),
                           ("x=np", "'np' cannot name a dimension")):
        status, _, err = run(capsys, "emit", "model.py:differences", "--shape", shape)
        assert status == 2 and message in err, err


def test_emit_checks_symbolic_modules_at_small_sizes_and_skips_huge_fixed_ones(model, capsys):
    status, out, err = run(capsys, "emit", "model.py:differences", "--shape", "x=n")
    assert status == 0 and "x[1:] - x[:-1]" in out, err
    status, out, err = run(capsys, "emit", "model.py:loss", "--wrt", "w", "--shape", "w=4",
                           "--shape", "X=3000000,4", "--shape", "y=3000000")
    assert status == 0
    assert "not checked numerically: the arguments have 15000005 elements" in err
    assert "1/3000000" in out


def test_gradcheck_command_takes_symbolic_shapes(model, capsys):
    status, out, err = run(capsys, "gradcheck", "model.py:loss", "--wrt", "w,b",
                           "--shape", "w=d", "--shape", "X=n,d", "--shape", "y=n")
    assert status == 0, out + err
    assert "passed" in out.lower()


def test_symbolic_modules_are_checked_at_two_sizes(model, capsys, monkeypatch):
    import symdiff.cli.check as check

    seen = []
    real = check.verify_compiled

    def recording(compiled, args, fn=None, **options):
        seen.append(np.shape(args[2]))
        return real(compiled, args, fn=fn, **options)

    monkeypatch.setattr(check, "verify_compiled", recording)
    status, _, err = run(capsys, "emit", "model.py:loss", "--wrt", "w,b", "--shape", "w=d",
                         "--shape", "X=n,d", "--shape", "y=n")
    assert status == 0, err
    assert len(seen) == 2 and seen[0] != seen[1]  # two instantiations of (n, d)
    assert all(a != b for a, b in zip(*seen))  # every size differs between them
