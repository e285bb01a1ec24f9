"""Every example script runs and prints the tutorials' numbers.

The scripts run as subprocesses, all at once; the numbers are parsed from their
standard output and compared with the numbers the tutorials print, with hand-worked
closed forms, and with plain-NumPy loops written out here (hand-derived gradients,
the same optimizers): never with symdiff's own output.
"""

import ast
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
EXAMPLES = os.path.join(ROOT, "examples")

#: script -> extra command-line arguments
SCRIPTS = {
    "polynomial.py": [],
    "chain_rule.py": [],
    "vector_jacobian.py": [],
    "accumulation.py": [],
    "stop_gradient.py": [],
    "computational_graph.py": [],
    "gradient_descent.py": [],
    "logistic_newton.py": [],
    "two_moons_mlp.py": ["--plot", "loss.png"],
    "hand_derived.py": [],
    "custom_primitive.py": [],  # its numbers: tests/api/test_extend.py
    "branches.py": [],
}
#: scripts that need an optional extra (run by their own test, skipped without it)
OPTIONAL = {"dask_logistic_regression.py"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """stdout of every script, run in parallel, each in its own directory."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}
    procs = {}
    for script, args in SCRIPTS.items():
        cwd = tmp_path_factory.mktemp(script.removesuffix(".py"))
        procs[script] = (cwd, subprocess.Popen(
            [sys.executable, os.path.join(EXAMPLES, script), *args], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = {}
    for script, (cwd, proc) in procs.items():
        out, err = proc.communicate(timeout=120)
        results[script] = (proc.returncode, out, err, cwd)

    def output(script):
        code, out, err, cwd = results[script]
        assert code == 0, f"{script} failed:\n{err}"
        return out, cwd

    return output


def values(out: str, label: str) -> list:
    """Every value printed as ``label = value`` (numbers and lists of numbers), on a
    line of its own or after ``epoch N:``; not a formula that a printed module's
    docstring states as ``df/dx = 8 x^3 + ...``."""
    found = re.findall(rf"^\s*(?:epoch \d+: )?{re.escape(label)} = (.+?)\s*$", out, re.M)
    found = [v for v in found if _literal(v)]
    assert found, f"{label!r} not printed in:\n{out}"
    return [ast.literal_eval(v) for v in found]


def _literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return False
    return True


def value(out: str, label: str):
    return values(out, label)[0]


def assignment(out: str, name: str) -> str:
    """The right-hand side of ``name = ...`` in printed generated code."""
    match = re.search(rf"^\s+{re.escape(name)} = (.+)$", out, re.M)
    assert match, f"no assignment to {name} in:\n{out}"
    return match.group(1)


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_runnable_example_is_run_here():
    runnable = {p.name for p in pathlib.Path(EXAMPLES).glob("*.py")
                if '__name__ == "__main__"' in p.read_text()}
    assert runnable <= set(SCRIPTS) | OPTIONAL, \
        f"not tested: {sorted(runnable - set(SCRIPTS) - OPTIONAL)}"


def test_dask_logistic_regression_trains_on_a_local_cluster(tmp_path):
    pytest.importorskip("distributed")
    pytest.importorskip("dask.array")
    proc = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "dask_logistic_regression.py"),
         "--rows", "200000", "--chunk", "25000", "--steps", "3", "--memory-limit", "300MiB"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    losses = [float(line.split()[3]) for line in proc.stdout.splitlines()
              if line.startswith("step")]
    assert len(losses) == 3 and losses[0] == pytest.approx(np.log(2))  # w = 0, b = 0
    assert losses[2] < losses[1] < losses[0]
    assert list(tmp_path.iterdir()) == []  # it writes nothing


def test_every_script_exits_cleanly(run):
    for script in SCRIPTS:
        out, _ = run(script)
        assert out.strip(), f"{script} printed nothing"


# -- 1 ----------------------------------------------------------------------------------
def test_polynomial(run):
    out, _ = run("polynomial.py")
    assert (value(out, "y"), value(out, "dy/dx")) == (41, 22)  # the tutorial's numbers
    assert (value(out, "f"), value(out, "df/dx")) == (63, 93)
    # The printed derivative code is 8x^3 + 3x^2 + 6x + 5, worked by hand.
    x = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(eval(assignment(out, "df_dx"), {"x": x, "np": np}),
                               8 * x**3 + 3 * x**2 + 6 * x + 5)
    assert r"\frac{\partial f}{\partial x}" in out


# -- 2 ----------------------------------------------------------------------------------
def test_chain_rule(run):
    out, _ = run("chain_rule.py")
    assert value(out, "out") == pytest.approx(51.6667, abs=1e-4)
    np.testing.assert_allclose(value(out, "dout/dx"), [6.6667, 9.3333, 12.0])
    assert value(out, "out2") == pytest.approx(140.0)
    np.testing.assert_allclose(value(out, "dout2/dx"), [[10, 16, 22], [22, 16, 10]])
    x = np.array([1.0, 2.0, 3.0])  # d mean((2x + 3)^2)/dx = 4 (2x + 3) / n
    np.testing.assert_allclose(eval(assignment(out, "dout_dx"), {"x": x, "n": 3, "np": np}),
                               4 * (2 * x + 3) / 3)


# -- 3 ----------------------------------------------------------------------------------
def test_vector_jacobian(run):
    out, _ = run("vector_jacobian.py")
    assert value(out, "z") == [25, 49, 81]
    assert value(out, "v^T J with v = ones") == [20, 28, 36]  # the tutorial's x.grad
    np.testing.assert_allclose(value(out, "J"), np.diag([20, 28, 36]))
    # (inp + 1)^2 at eye(5): 2(inp + 1), i.e. 4 on the diagonal and 2 elsewhere, on
    # every call (PyTorch's second call would show 8 and 4).
    want = 2 * (np.eye(5) + 1)
    np.testing.assert_allclose(value(out, "first call"), want)
    np.testing.assert_allclose(value(out, "second call"), want)


# -- 4 ----------------------------------------------------------------------------------
def test_accumulation(run):
    out, _ = run("accumulation.py")
    accumulated = [v[0] for v in values(out, "weights.grad")]
    assert accumulated == [3, 6, 9]  # PyTorch's tutorial without zero_()
    assert all(v == [3] * 4 for v in values(out, "weights.grad (zeroed)"))
    assert values(out, "grad") == [[3.0] * 4] * 3
    assert value(out, "explicit sum of three") == [9.0] * 4


# -- 5 ----------------------------------------------------------------------------------
def test_stop_gradient(run):
    out, _ = run("stop_gradient.py")
    x = np.arange(4.0)
    # Dive into Deep Learning: with u = detach(x*x), d sum(u x)/dx = u; without detach,
    # it is 3x^2.
    np.testing.assert_allclose(value(out, "d/dx sum(detach(x*x) * x)"), x * x)
    np.testing.assert_allclose(value(out, "d/dx sum(x*x * x)"), 3 * x**2)
    np.testing.assert_allclose(value(out, "d/dx sum(x*x)"), 2 * x)
    assert value(out, "sum(x + 2) without a tape") == 14
    # d sum(frozen * x * trained)/d trained = frozen * x = [1*5, 2*6]
    assert value(out, "d layer_loss / d trained (frozen not differentiated)") == [5, 12]


@pytest.mark.parametrize("script", [script for script, args in SCRIPTS.items() if not args])
def test_examples_write_nothing_into_the_current_directory(run, script):
    _, cwd = run(script)
    assert sorted(os.listdir(cwd)) == []


# -- 6 ----------------------------------------------------------------------------------
def test_computational_graph(run):
    out, _ = run("computational_graph.py")
    a, b, c = 5.0, 3.0, 2.0
    assert value(out, "J") == 3 * (a + b * c) == 33
    assert (value(out, "dJ/da"), value(out, "dJ/db"), value(out, "dJ/dc")) == (3, 3 * c, 3 * b)
    # no output directory given: the files go to a new temporary directory it names
    out_dir = pathlib.Path(re.search(r"^wrote (\S+)J\.dot ", out, re.M)[1])
    dot = (out_dir / "J.dot").read_text()
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for name in ("a", "b", "c", "u", "v", "J"):
        assert re.search(rf'label="{name} = ', dot), name  # with its value at the point
    for name in ("dJ_dv = 3", "dJ_du = 3", "dJ_db = 6", "dJ_dc = 9"):
        assert f'label="{name}"' in dot
    if shutil.which("dot"):
        assert "<svg" in (out_dir / "J.svg").read_text()


# -- 7 ----------------------------------------------------------------------------------
def sgd_no_bias(epochs=40, lr=0.01):
    """The tutorial's loop with its hand-derived gradient d(wx - y)^2/dw = 2x(wx - y)."""
    w, rows = 1.0, {}
    for epoch in range(epochs):
        grads = []
        for x, y in zip([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]):
            g = 2 * x * (w * x - y)
            w -= lr * g
            grads.append(g)
            loss = (w * x - y) ** 2
        rows[epoch] = (w, loss, grads)
    return rows


def test_gradient_descent(run):
    out, _ = run("gradient_descent.py")
    # Residuals 5x + 1 - 2x = 3x + 1 = [4, 7, 10, 13, 16]: mean(2 r x) = 72, mean(2 r) = 20.
    assert (value(out, "dloss/dw"), value(out, "dloss/db")) == (72, 20)
    batch = re.search(r"batch step: w = (\S+), b = (\S+)$", out, re.M)
    assert (float(batch[1]), float(batch[2])) == (4.28, 0.80)  # the tutorial's numbers
    w, b = 5.0, 1.0
    for x in range(1, 6):  # per-sample steps on (w x + b - 2x)^2
        r = w * x + b - 2 * x
        w, b = w - 0.01 * 2 * r * x, b - 0.01 * 2 * r
    sample = re.search(r"per-sample pass: w = (\S+), b = (\S+)$", out, re.M)
    assert float(sample[1]) == pytest.approx(w, abs=5e-5)
    assert float(sample[2]) == pytest.approx(b, abs=5e-5)

    rows = sgd_no_bias()
    printed = re.findall(r"^epoch\s+(\d+)\s+w = (\S+)\s+loss = (\S+)\s+grads = (\[.*\])$",
                         out, re.M)
    assert [int(p[0]) for p in printed] == list(range(0, 40, 5))
    for epoch, w_text, loss_text, grads_text in printed:
        w, loss, grads = rows[int(epoch)]
        assert float(w_text) == pytest.approx(w, abs=1e-6)
        assert float(loss_text) == pytest.approx(loss, rel=1e-5, abs=1e-12)
        np.testing.assert_allclose(ast.literal_eval(grads_text), grads, atol=1e-6)
    # The tutorial's first epoch: grads -2, -7.84, -16.23, then w = 1.26, loss = 4.92.
    first = printed[0]
    assert round(float(first[1]), 2) == 1.26 and round(float(first[2]), 2) == 4.92
    np.testing.assert_allclose(ast.literal_eval(first[3]), [-2.0, -7.84, -16.2288])
    assert "predict (before training) x = 4: 4" in out
    assert "predict (after 10 epochs) x = 4: 7.8049" in out  # the tutorial's number
    after = float(re.search(r"predict \(after training\) x = 4: (\S+)", out)[1])
    assert after == pytest.approx(4 * rows[39][0], abs=1e-4) and abs(after - 8) < 1e-3


# -- 8 ----------------------------------------------------------------------------------
def test_logistic_newton(run):
    out, _ = run("logistic_newton.py")
    X, y = load_example("logistic_newton").make_data()
    n = len(y)
    theta = np.zeros(3)
    printed = re.findall(r"^step (\d+)\s+loss = (\S+)\s+\|grad\| = (\S+)\s+theta = (\[.*\])$",
                         out, re.M)
    assert len(printed) >= 4
    for _, loss_text, _, theta_text in printed:
        p = 1 / (1 + np.exp(-(X @ theta)))
        g = X.T @ (p - y) / n  # the textbook gradient and Hessian of the mean BCE
        H = X.T @ (X * (p * (1 - p))[:, None]) / n
        theta = theta - np.linalg.solve(H, g)
        z = X @ theta
        loss = np.mean(np.log1p(np.exp(z)) - y * z)
        np.testing.assert_allclose(ast.literal_eval(theta_text), theta, atol=1e-7)
        assert float(loss_text) == pytest.approx(loss, abs=1e-9)
    assert float(printed[-1][2]) < 1e-6  # Newton has converged quadratically
    accuracy = np.mean((X @ theta > 0) == (y == 1))
    assert value(out, "training accuracy") == pytest.approx(accuracy, abs=1e-4)
    assert "def grad_bce_with_logits" in out and "def hessian_bce_with_logits" in out


# -- 9 ----------------------------------------------------------------------------------
def hand_backprop(W1, b1, W2, b2, X, y):
    """Loss and gradients of the example's MLP, by the chain rule worked by hand."""
    hidden = np.tanh(X @ W1 + b1)
    logits = hidden @ W2 + b2
    loss = np.mean(np.logaddexp(0, logits) - y * logits)
    dlogits = (1 / (1 + np.exp(-logits)) - y) / len(y)
    dhidden = np.outer(dlogits, W2) * (1 - hidden**2)
    return loss, (X.T @ dhidden, dhidden.sum(0), hidden.T @ dlogits, dlogits.sum())


def test_two_moons_mlp(run):
    out, cwd = run("two_moons_mlp.py")
    ex = load_example("two_moons_mlp")
    X, y = ex.make_moons()
    params = ex.init_params()
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    history = []
    for t in range(1, 301):  # Adam, as written in any textbook
        loss, grads = hand_backprop(*params, X, y)
        history.append(loss)
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            params[i] = params[i] - 0.05 * (m[i] / (1 - 0.9**t)) / (
                np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
    printed = re.findall(r"^epoch\s+(\d+)\s+loss = (\S+)$", out, re.M)
    assert [int(e) for e, _ in printed] == [1, 50, 100, 150, 200, 250, 300]
    for epoch, loss_text in printed:
        assert float(loss_text) == pytest.approx(history[int(epoch) - 1], abs=2e-6)
    W1, b1, W2, b2 = params
    accuracy = np.mean(((np.tanh(X @ W1 + b1) @ W2 + b2) > 0) == (y == 1))
    assert value(out, "accuracy") == pytest.approx(accuracy, abs=1e-4)
    assert accuracy >= 0.97  # two moons is separable by a small MLP
    assert value(out, "test accuracy") >= 0.95
    assert "gradcheck of loss: passed" in out
    if importlib.util.find_spec("matplotlib") is not None:
        assert (cwd / "loss.png").stat().st_size > 0
    else:
        assert not (cwd / "loss.png").exists()


# -- 10 ---------------------------------------------------------------------------------
def central_differences(f, args, i, h=1e-6):
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def test_branches(run):
    out, _ = run("branches.py")
    # Huber with delta = 1, by hand: r inside (r, 0), outside (sign(r), |r| - delta)
    assert value(out, "huber'(r=0.5)") == 0.5 and value(out, "dhuber/ddelta(r=0.5)") == 0.0
    assert value(out, "huber'(r=3.0)") == 1.0 and value(out, "dhuber/ddelta(r=3.0)") == 2.0
    assert "    if _t0 <= delta:" in out
    for a in (2.0, 30.0):
        assert value(out, f"sqrt'(a={a})") == pytest.approx(0.5 / np.sqrt(a), rel=1e-12)
    assert value(out, "modules compiled") == 1  # one while loop for 5 and 7 steps
    assert "    while np.abs(y**2 - a) > 1e-12*a:" in out
    assert "    for t in reversed(range(steps)):" in out
    for a in (0.2, 1.0):
        x = value(out, f"x*(a={a})")
        assert x == pytest.approx(0.5 * np.cos(x) + a, abs=1e-12)
        assert value(out, f"dx*/da(a={a})") == pytest.approx(1 / (1 + 0.5 * np.sin(x)),
                                                              rel=1e-12)


def test_hand_derived(run):
    out, _ = run("hand_derived.py")
    ex = load_example("hand_derived")
    # Which hand derivations are right, by finite differences at random points.
    rng = np.random.default_rng(0)
    verdicts = {}
    for label, f, df, n in (("model 1, right", ex.loss1, ex.right1, 4),
                            ("model 1, wrong", ex.loss1, ex.wrong1, 4),
                            ("model 2, right", ex.loss2, ex.right2, 5),
                            ("model 2, wrong", ex.loss2, ex.wrong2, 5)):
        ok = True
        for _ in range(5):
            point = list(rng.uniform(-2, 2, size=n))
            hand = df(*point)
            ok &= all(np.isclose(hand[i], central_differences(f, point, i), rtol=1e-5,
                                 atol=1e-6) for i in range(len(hand)))
        verdicts[label] = ok
    assert verdicts == {"model 1, right": True, "model 1, wrong": False,
                        "model 2, right": True, "model 2, wrong": False}
    for label, right in verdicts.items():
        status = re.search(rf"^{label}: (\w+)$", out, re.M)[1]
        assert status == ("PROVED" if right else "REFUTED"), label


# -- the README -------------------------------------------------------------------------
def test_readme_first_example_runs_and_gives_the_textbook_gradient():
    """The README's opening snippet, run as written; at w = 0, b = 0 every p is 1/2,
    so the cross-entropy gradient is X^T (1/2 - y) / n and mean(1/2 - y)."""
    readme = pathlib.Path(ROOT, "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", readme, re.S)[1]
    namespace = {"__name__": "readme"}
    exec(compile(snippet, "README.md", "exec"), namespace)
    X, y = namespace["X"], namespace["y"]
    np.testing.assert_allclose(namespace["dw"], X.T @ (0.5 - y) / len(y), atol=1e-12)
    assert namespace["db"] == pytest.approx(np.mean(0.5 - y), abs=1e-12)
    assert "def grad_loss(w, b, X, y):" in namespace["grad_loss"].source


# -- the docs show what symdiff prints now ----------------------------------------------
DOCS = ("README.md", os.path.join("docs", "tutorial.md"))
#: A line of generated code in a fenced block: an adjoint, a temporary, a header.
GENERATED = re.compile(r"^\s*(?:d2?\w+_d\w+|_t\d+|tangent_\w+) = |^# Generated by symdiff"
                       r"|^def (?:grad|value_and_grad|vjp|jvp|jacobian|hessian|hvp)_\w+\(")
#: A line of a script's or snippet's printed output, in a plain fenced block.
PRINTED = re.compile(r"^(?:check_derivative of|epoch |step \d|predict )")


def doc_blocks():
    """(file:line, language, dedented text) of every fenced block of the docs."""
    for doc in DOCS:
        text = pathlib.Path(ROOT, doc).read_text()
        for m in re.finditer(r"^( *)```(\w*)\n(.*?)^\1```", text, re.S | re.M):
            yield f"{doc}:{text[:m.start()].count(chr(10)) + 1}", m[2], textwrap.dedent(m[3])


def test_docs_show_the_code_and_output_symdiff_produces(run, tmp_path):
    """Excerpts of generated code and of printed output in README.md and the tutorial
    are what symdiff gives now: each shown line (bar `...`) is a line of an example
    script's output, of `symdiff emit examples/polynomial.py:f`, or of a documented
    snippet run as written."""
    produced = [run(script)[0] for script in SCRIPTS]
    produced.append(subprocess.run([sys.executable, "-m", "symdiff", "emit",
                                    "examples/polynomial.py:f"], cwd=ROOT, check=True,
                                   capture_output=True, text=True).stdout)
    for k, (where, lang, body) in enumerate(doc_blocks()):
        if lang == "python" and "print(" in body and "torch" not in body:
            # saved as a script (a snippet continuing an earlier one gets the imports)
            if "import symdiff" not in body:
                body = "import numpy as np\nimport symdiff\n\n\n" + body
            script = tmp_path / f"snippet{k}.py"
            script.write_text(body)
            proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path,
                                  capture_output=True, text=True)
            assert proc.returncode == 0, f"{where}:\n{proc.stderr}"
            produced.append(proc.stdout)
    known = {line.strip() for text in produced for line in text.splitlines()}
    stale, checked = [], 0
    for where, lang, body in doc_blocks():
        lines = body.splitlines()
        if any(GENERATED.match(line) for line in lines) or (
                lang == "" and any(PRINTED.match(line) for line in lines)):
            checked += 1
            stale += [f"{where}: {line.strip()}" for line in lines
                      if line.strip() not in ("", "...") and line.strip() not in known]
    assert checked >= 12
    assert not stale, "shown in the docs but not produced:\n" + "\n".join(stale)
