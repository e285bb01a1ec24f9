"""The `symdiff` command line: emit, graph, exit codes, atomic writes and `--check`."""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest

import symdiff
from symdiff.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository

MODEL = """\
import numpy as np


def loss(w, b, X, y):
    logits = X @ w + b
    p = 1 / (1 + np.exp(-logits))
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return loss


def make_inputs():
    return np.zeros(3), 0.0, np.ones((5, 3)), np.ones(5)


def named_inputs():
    return dict(w=np.zeros(2), b=0.0, X=np.ones((4, 2)), y=np.ones(4))


def J(a, b, c):
    u = b * c
    v = a + u
    J = 3 * v
    return J


def example_inputs_J():
    return 5.0, 3.0, 2.0


def branchy(x):
    if x > 0:
        return x
    return -x


def broken_inputs():
    return 1 / 0


def vector(x):
    return 2 * x
"""


@pytest.fixture
def model(tmp_path, monkeypatch):
    """A user file in a scratch directory, which is also the working directory."""
    (tmp_path / "model.py").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def command_in(source):
    """The regenerate command of a module's header, continuation lines joined."""
    block = source.split("# Regenerate with:\n", 1)[1].split("# Traced", 1)[0]
    return " ".join(line.lstrip("# ").rstrip(" \\") for line in block.splitlines())


def import_file(path, name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- top level -----------------------------------------------------------------------------
def test_version(capsys):
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.strip() == f"symdiff {symdiff.__version__}"


def test_help_has_examples(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0
    assert "symdiff emit examples/polynomial.py:f" in out and "symdiff graph" in out
    status, out, _ = run(capsys, "emit", "--help")
    assert status == 0 and "--check" in out and "example_inputs_FUNC" in out


def test_no_command_is_a_usage_error(capsys):
    status, _, err = run(capsys)
    assert status == 2 and "usage: symdiff" in err


def test_python_dash_m_symdiff():
    proc = subprocess.run([sys.executable, "-m", "symdiff", "--version"], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == f"symdiff {symdiff.__version__}"


# -- exit codes ----------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["emit", "model.py"], "expected FILE.py:FUNCTION"),
    (["emit", "nowhere.py:f"], "no such file: nowhere.py"),
    (["emit", "model.py:nothing"], "defines no function 'nothing'"),
    (["emit", "model.py:loss", "--shape", "q=3"], "q are not parameters of loss(w, b, X, y)"),
    (["emit", "model.py:loss", "--shape", "w=a,b"], "--shape: 'b' cannot name a dimension"),
    (["emit", "model.py:loss", "--shape", "w=3.5"], "a dimension is a size (10) or the name"),
    (["emit", "model.py:loss", "--dtype", "w=float99"], "NumPy knows no dtype"),
    (["emit", "model.py:loss", "--wrt", "z"], "--wrt z: not parameters of loss"),
    (["emit", "model.py:loss", "--emit", "grad,gradient"], "choose from grad, value_and_grad"),
    (["emit", "model.py:loss", "--check"], "--check compares with the file named by -o"),
    (["emit", "model.py:loss", "--example", "make_inputs", "--shape", "w=3"],
     "--example gives the arguments"),
    (["emit", "model.py:loss", "--example", "nope"], "defines no function 'nope'"),
    (["graph", "model.py:J", "-o", "J.jpeg"], "write .dot, .gv, .svg, .png, .pdf"),
    (["emit", "model.py:loss", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_usage_errors_exit_2_with_one_line(model, capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2, err
    assert message in err
    assert "Traceback" not in err and out == ""


def test_symdiff_error_exits_1_with_one_line_naming_file_and_line(model, capsys):
    status, out, err = run(capsys, "emit", "model.py:branchy")
    assert status == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("symdiff: error: ") and "model.py:" in err and "np.where" in err
    assert "Traceback" not in err


def test_debug_adds_the_traceback(model, capsys):
    for argv in (["--debug", "emit", "model.py:branchy"], ["emit", "model.py:branchy", "--debug"]):
        status, _, err = run(capsys, *argv)
        assert status == 1 and "Traceback (most recent call last)" in err
        assert err.strip().splitlines()[-1].startswith("symdiff: error: ")


def test_an_exception_in_the_users_code_is_one_line_at_its_line(model, capsys):
    status, _, err = run(capsys, "emit", "model.py:loss", "--example", "broken_inputs")
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert re.search(r"model\.py:\d+: ZeroDivisionError: division by zero", err)


def test_a_bug_inside_symdiff_is_reported_as_internal(model, capsys, monkeypatch):
    # a failure in a stage package (not in the user's file, nor in the cli package)
    from symdiff.codegen import module

    monkeypatch.setattr(module, "_environment", dict)  # dict has no get_template
    status, _, err = run(capsys, "emit", "model.py:J")
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith("symdiff: error: internal error: AttributeError: "), err


def test_a_syntax_error_in_the_users_file(model, capsys):
    (model / "bad.py").write_text("def f(x):\n    return x +\n")
    status, _, err = run(capsys, "emit", "bad.py:f")
    assert status == 1 and "bad.py:2: SyntaxError" in err and "Traceback" not in err


# -- emit ------------------------------------------------------------------------------------
def test_emit_to_stdout_and_to_a_file(model, capsys):
    status, out, _ = run(capsys, "emit", "model.py:J", "--wrt", "a,b,c")
    assert status == 0 and "def grad_J(a, b, c):" in out
    status, out, err = run(capsys, "emit", "model.py:J", "--wrt", "a,b,c", "-o", "grad_J.py")
    assert status == 0 and out == "" and "wrote grad_J.py" in err
    module = import_file(model / "grad_J.py", "grad_J")
    assert module.grad_J(5.0, 3.0, 2.0) == (3.0, 6.0, 9.0)  # 3, 3c, 3b by hand
    text = (model / "grad_J.py").read_text()
    assert command_in(text) == "symdiff emit model.py:J --wrt a,b,c -o grad_J.py"


def test_shapes_and_dtypes_from_options(model, capsys):
    status, out, _ = run(capsys, "emit", "model.py:loss", "--wrt", "w,b", "--shape", "w=3",
                         "--shape", "X=5,3", "--shape", "y=5", "--dtype", "y=float32")
    assert status == 0
    assert "X: float64[5, 3]" in out and "y: float32[5]" in out
    assert command_in(out) == ("symdiff emit model.py:loss --wrt w,b --shape w=3 --shape X=5,3 "
                               "--shape y=5 --dtype y=float32")


def test_example_inputs_from_a_named_function(model, capsys):
    status, out, _ = run(capsys, "emit", "model.py:loss", "--wrt", "w", "--example",
                         "make_inputs")
    assert status == 0 and "X: float64[5, 3]" in out
    assert command_in(out) == "symdiff emit model.py:loss --wrt w --example make_inputs"
    status, out, _ = run(capsys, "emit", "model.py:loss", "--example", "named_inputs")
    assert status == 0 and "X: float64[4, 2]" in out


def test_example_inputs_by_convention(model, capsys):
    status, out, _ = run(capsys, "emit", "model.py:J", "--wrt", "a,b,c")
    assert status == 0 and "a: float64[], b: float64[], c: float64[]" in out
    assert "--example" not in out  # the convention applies again when regenerating


def test_emit_chooses_the_derivatives(model, capsys):
    status, out, _ = run(capsys, "emit", "model.py:J", "--emit", "grad")
    assert status == 0 and "def grad_J(" in out and "value_and_grad_J" not in out
    assert command_in(out) == "symdiff emit model.py:J --wrt a --emit grad"
    status, out, _ = run(capsys, "emit", "model.py:J", "--wrt", "a,b", "--emit",
                         "jacobian,hessian")
    assert status == 0 and "def jacobian_J(a, b, c):" in out and "def hessian_J(" in out


def test_emitted_modules_are_deterministic(model, capsys):
    argv = ["emit", "model.py:loss", "--wrt", "w,b", "--example", "make_inputs"]
    assert run(capsys, *argv)[1] == run(capsys, *argv)[1]


# -- --check ---------------------------------------------------------------------------------
def test_check_passes_on_a_fresh_file_and_fails_on_a_stale_one(model, capsys):
    argv = ["emit", "model.py:loss", "--wrt", "w,b", "--example", "make_inputs", "-o", "g.py"]
    assert run(capsys, *argv)[0] == 0
    status, _, err = run(capsys, *argv, "--check")
    assert status == 0 and "g.py is up to date" in err
    fresh = (model / "g.py").read_text()
    (model / "g.py").write_text(fresh.replace("dloss_dw", "dloss_dw_old"))
    status, out, err = run(capsys, *argv, "--check")
    assert status == 1 and out == ""
    assert "g.py is stale" in err
    assert "-    dloss_dw_old = " in err and "+    dloss_dw = " in err
    assert (model / "g.py").read_text() != fresh  # --check writes nothing


def test_check_fails_when_the_file_is_missing(model, capsys):
    status, _, err = run(capsys, "emit", "model.py:J", "-o", "missing.py", "--check")
    assert status == 1 and "missing.py does not exist" in err
    assert not (model / "missing.py").exists()


def test_check_truncates_a_long_diff(model, capsys):
    (model / "g.py").write_text("\n".join(f"line {i}" for i in range(200)))
    status, _, err = run(capsys, "emit", "model.py:J", "-o", "g.py", "--check")
    assert status == 1 and "more diff lines" in err and len(err.splitlines()) < 50


# -- atomic writes ------------------------------------------------------------------------------
SLOW = """\
import os
import time


def f(x):
    open(os.environ["SYMDIFF_TEST_MARKER"], "w").close()
    time.sleep(60)
    return x * 2
"""


def test_a_killed_emit_leaves_the_previous_file_intact(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW)
    out = tmp_path / "grad_slow.py"
    out.write_text("# the previous module\n")
    marker = tmp_path / "tracing"
    env = dict(os.environ, SYMDIFF_TEST_MARKER=str(marker))
    proc = subprocess.Popen([sys.executable, "-m", "symdiff", "emit", "slow.py:f", "-o",
                             str(out)], cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists(), proc.stderr.read() if proc.poll() is not None else "timeout"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert out.read_text() == "# the previous module\n"
    assert sorted(os.listdir(tmp_path)) == ["grad_slow.py", "slow.py", "tracing"]


def test_an_unwritable_output_is_a_one_line_error(model, capsys):
    status, _, err = run(capsys, "emit", "model.py:J", "-o", "no/such/dir/g.py")
    assert status == 1
    assert err == "symdiff: error: cannot write no/such/dir/g.py: No such file or directory\n"


def test_a_failed_emit_leaves_the_previous_file_intact(model, capsys):
    (model / "g.py").write_text("previous\n")
    status, _, _ = run(capsys, "emit", "model.py:branchy", "-o", "g.py")
    assert status == 1 and (model / "g.py").read_text() == "previous\n"


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(model, capsys, monkeypatch):
    (model / "g.py").write_text("previous\n")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", dst)

    monkeypatch.setattr(os, "replace", refuse)
    status, _, err = run(capsys, "emit", "model.py:J", "-o", "g.py")
    assert status == 1 and "Traceback" not in err
    assert err == "symdiff: error: cannot write g.py: Permission denied\n"
    assert (model / "g.py").read_text() == "previous\n"
    assert sorted(os.listdir(model)) == ["g.py", "model.py"]


# -- graph ----------------------------------------------------------------------------------------
def dot_nodes(text):
    """{node id: attribute text} of a DOT graph, and its edges."""
    nodes = dict(re.findall(r"^  ([vg]\d+) \[(.*)\]$", text, re.M))
    edges = re.findall(r"^  (\w+) -> (\w+)", text, re.M)
    return nodes, edges


def labels(nodes):
    return {re.search(r'label="([^"]*)"', attrs).group(1).split("\\n")[0]: attrs
            for attrs in nodes.values()}


def test_graph_draws_J_with_its_gradient(model, capsys):
    """The picture itself is tested in test_graph_picture.py; here, the command: the
    file's example_inputs_J gives the point, so the boxes hold the lecture's numbers."""
    status, out, _ = run(capsys, "graph", "model.py:J", "--wrt", "a,b,c", "--grad")
    assert status == 0 and out.startswith("digraph")
    nodes, edges = dot_nodes(out)
    by_label = labels(nodes)
    for name in ("a = 5", "b = 3", "c = 2"):  # the inputs, drawn as filled boxes
        assert "shape=box" in by_label[name] and "#cfe2f3" in by_label[name]
    for value in ("u = b*c = 6", "v = a + u = 11", "J = 3*v = 33"):
        assert "shape=box" in by_label[value]
    for adjoint in ("dJ_da = 3", "dJ_db = 6", "dJ_dc = 9"):  # the reverse pass, in orange
        assert "#f9cb9c" in by_label[adjoint]
    ids = set(nodes)
    assert edges and all(a in ids and b in ids for a, b in edges)


def test_graph_without_grad_has_no_adjoints(model, capsys):
    status, out, _ = run(capsys, "graph", "model.py:J")
    assert status == 0 and "dJ_d" not in out and "#f6b26b" not in out and "b*c" in out


def test_graph_writes_dot_files(model, capsys):
    status, _, err = run(capsys, "graph", "model.py:loss", "--example", "make_inputs",
                         "--grad", "--wrt", "w,b", "-o", "loss.dot")
    assert status == 0 and "wrote loss.dot" in err
    text = (model / "loss.dot").read_text()
    assert "logits" in text and "dloss_dw" in text and "dloss_dlogits" in text


def test_graph_gradient_of_an_array_output_is_a_symdiff_error(model, capsys):
    status, _, err = run(capsys, "graph", "model.py:vector", "--shape", "x=3", "--grad")
    assert status == 1 and "needs a real scalar output" in err


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize("ext, magic", [(".svg", b"<svg"), (".png", b"\x89PNG")])
def test_graph_renders_with_graphviz(model, capsys, ext, magic):
    status, _, err = run(capsys, "graph", "model.py:J", "--grad", "-o", f"J{ext}")
    assert status == 0, err
    assert magic in (model / f"J{ext}").read_bytes()[:400]


def test_graph_without_graphviz_says_what_to_install(model, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    (model / "J.svg").write_text("previous")
    status, _, err = run(capsys, "graph", "model.py:J", "--grad", "-o", "J.svg")
    assert status == 1 and "apt-get install graphviz" in err and "-o FILE.dot" in err
    assert (model / "J.svg").read_text() == "previous"



# -- every command the docs and --help show --------------------------------------------------
def documented_commands():
    """(where, argv, expected exit status) of every `symdiff ...` line in the docs' shell
    blocks and in the --help examples, continuation lines joined; `# exit 1` marks
    a command that is meant to fail."""
    from symdiff.cli import check as cli_verify

    sources = []
    for doc in ("README.md", os.path.join("docs", "cli.md"), os.path.join("docs", "tutorial.md")):
        with open(os.path.join(ROOT, doc), encoding="utf-8") as fh:
            text = fh.read()
        sources += [(doc, block) for block in re.findall(r"^ *```sh\n(.*?)^ *```", text,
                                                         re.S | re.M)]
    sources += [("--help", text) for text in (symdiff.cli.args.EXAMPLES, cli_verify.CHECK_EXAMPLES,
                                               cli_verify.GRADCHECK_EXAMPLES)]
    for where, text in sources:
        for line in re.sub(r"\\\n\s*", "", text).splitlines():
            line = line.strip()
            if line.startswith("symdiff "):
                status = 1 if re.search(r"#\s*exit 1", line) else 0
                yield where, shlex.split(line, comments=True)[1:], status


def test_every_documented_command_runs_as_written(tmp_path, monkeypatch, capsys):
    shutil.copytree(os.path.join(ROOT, "examples"), tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    commands = list(documented_commands())
    assert len(commands) >= 20
    for where, argv, expected in commands:
        if shutil.which("dot") is None and re.search(r"\.(svg|png|pdf)$", argv[-1]):
            continue  # rendering needs Graphviz (tested above)
        status = main(argv)
        err = capsys.readouterr().err
        assert status == expected, f"{where}: symdiff {shlex.join(argv)}\n{err}"
