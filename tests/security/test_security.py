"""Injection and denial-of-service routes: nothing a user passes becomes code in a
generated module, and no short formula makes the checker hang."""

import os
import subprocess
import sys
import time

import pytest

import symdiff
from symdiff.compile import compile_gradient


def _exec_module(source):
    namespace = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - the module under test
    return namespace


def two_x(x, s):
    return x * 2.0


# -- static strings ---------------------------------------------------------------------
@pytest.mark.parametrize("text", ["don't", 'say "hi"', "a'b\"c", "x\ny", "\\", "'''", '"""',
                                  "{0}", "{s}", "\x00\x1b[31m", "\u2028"])
def test_static_string_compiles_and_runs(text):
    assert symdiff.grad(two_x)(1.0, text) == 2.0


def test_static_string_payload_does_not_run_when_its_check_fails(tmp_path):
    marker = tmp_path / "PWNED"
    payload = "{__import__('pathlib').Path(%r).touch()}" % str(marker)  # noqa: UP031 - braces are the payload
    for text in (payload, '"' + payload, "'" + payload, '"""+' + payload):
        compiled = compile_gradient(two_x, [1.0, text], 0)
        module = _exec_module(compiled.source)
        with pytest.raises(ValueError):
            module["grad_two_x"](1.0, "something else")
        assert not marker.exists(), text


def test_static_string_in_docstring_cannot_close_it(tmp_path):
    marker = tmp_path / "PWNED"
    text = '"""\n__import__("pathlib").Path(%r).touch()\n"""' % str(marker)  # noqa: UP031 - braces are the payload
    compiled = compile_gradient(two_x, [1.0, text], 0)
    _exec_module(compiled.source)
    assert not marker.exists()


def test_static_int_subclass_with_a_custom_repr(tmp_path):
    marker = tmp_path / "PWNED"

    class Evil(int):
        def __repr__(self):
            return "(__import__('pathlib').Path(%r).touch() or 3)" % str(marker)  # noqa: UP031 - braces are the payload

    compiled = compile_gradient(two_x, [1.0, Evil(3)], 0)
    module = _exec_module(compiled.source)
    with pytest.raises(ValueError):
        module["grad_two_x"](1.0, 4)
    assert not marker.exists()


# -- names and paths --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["class", "None", "lambda", "f-1", "1f", "f\nimport os",
                                  "déjà", ""])
def test_function_name_that_is_not_an_identifier(name):
    def f(x):
        return x ** 3

    f.__name__ = name
    f.__qualname__ = name
    assert symdiff.grad(f)(2.0) == pytest.approx(12.0)


def _evil_dir(tmp_path, marker):
    """A directory whose name holds a newline followed by code creating `marker` (a
    name relative to the working directory: a path cannot hold a slash)."""
    d = tmp_path / ('d\n__import__("pathlib").Path("%s").touch()\n#' % marker.name)  # noqa: UP031 - braces are the payload
    d.mkdir()
    return d


def test_newline_in_the_source_file_name(tmp_path):
    marker = tmp_path / "PWNED"
    src = "def f(x):\n    return x ** 3\n"
    code = compile(src, 'a\n__import__("pathlib").Path("%s").touch()\n#.py' % marker, "exec")  # noqa: UP031 - braces are the payload
    ns = {}
    exec(code, ns)  # noqa: S102
    compiled = compile_gradient(ns["f"], [2.0], 0)
    _exec_module(compiled.source)
    assert not marker.exists()
    assert compiled.module.grad_f(2.0) == pytest.approx(12.0)


def _run_cli(*args, cwd):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "symdiff", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_newline_in_the_emit_target_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "PWNED"
    d = _evil_dir(tmp_path, marker)
    (d / "m.py").write_text("def f(x):\n    return x ** 3\n")
    out = tmp_path / "out.py"
    r = _run_cli("emit", f"{d}/m.py:f", "-o", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not marker.exists()
    _exec_module(out.read_text())
    assert not marker.exists()


def test_newline_in_the_output_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "PWNED"
    (tmp_path / "m.py").write_text("def f(x):\n    return x ** 3\n")
    d = _evil_dir(tmp_path, marker)
    out = d / "out.py"
    r = _run_cli("emit", "m.py:f", "-o", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    _exec_module(out.read_text())
    assert not marker.exists()


# -- denial of service in the formula language --------------------------------------------
def cube(x):
    return (x + 1) ** 2


@pytest.mark.parametrize("formula", ["(x+1)**4096", "(x+sqrt(x)+1)**4096",
                                     "exp(" * 20 + "x" + ")" * 20])
def test_short_formula_finishes_quickly(formula):
    start = time.monotonic()
    try:
        result = symdiff.check_derivative(cube, formula, 1.5, proof_seconds=2.0)
        assert result.status.value in ("AGREES", "REFUTED")
    except symdiff.SymdiffError:
        pass  # refused before any work: fine
    assert time.monotonic() - start < 15


def test_power_tower_is_an_answer_not_an_internal_error():
    def f(x):
        return x ** 2

    result = symdiff.check_derivative(f, "x**x**x", 0.5)
    assert result.status.value == "REFUTED"


def test_zero_times_overflow_is_zero():
    def f(x):
        return x ** 3

    result = symdiff.check_derivative(f, "3*x**2 + 0*x**x", 300.0)
    assert result.status.value == "PROVED"


def _hang(*args, **kwargs):
    time.sleep(600)


def test_a_proof_that_never_ends_is_stopped_at_the_limit(monkeypatch):
    import multiprocessing

    import symdiff.verify.proof

    monkeypatch.setattr(symdiff.verify.proof, "_is_zero", _hang)
    start = time.monotonic()
    result = symdiff.check_derivative(cube, "2*(x+1)", 1.5, proof_seconds=0.5)
    elapsed = time.monotonic() - start
    assert result.status.value == "AGREES"
    assert "stopped at its limit" in str(result)
    assert elapsed < 12  # the hard limit: 3 x 0.5 s + 5 s
    assert multiprocessing.active_children() == []


def test_ctrl_c_stops_the_proof_worker_promptly(monkeypatch):
    import multiprocessing
    import signal
    import threading

    import symdiff.verify.proof

    monkeypatch.setattr(symdiff.verify.proof, "_is_zero", _hang)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        symdiff.check_derivative(cube, "2*(x+1)", 1.5, proof_seconds=60)
    assert time.monotonic() - start < 6
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("formula, status", [("(x+1)**4096", 2), ("exp(" * 20 + "x" + ")" * 20, 2),
                                             ("x**x**x", 1)])
def test_cli_check_answers_a_short_formula_quickly(tmp_path, formula, status):
    (tmp_path / "m.py").write_text("def f(x):\n    return (x + 1) ** 2\n")
    start = time.monotonic()
    r = _run_cli("check", "m.py:f", "--expect", formula, cwd=tmp_path)
    assert time.monotonic() - start < 60
    assert r.returncode == status, r.stderr + r.stdout
    assert "internal error" not in r.stderr


def test_a_hostile_static_string_shows_as_a_constant_in_docstrings():
    compiled = compile_gradient(two_x, [1.0, 'x"""\nimport os'], 0)
    assert "s: _STATIC_s (the value" in compiled.source
    assert "_STATIC_s = 'x\"\"\"\\nimport os'" in compiled.source
    compiled = compile_gradient(two_x, [1.0, "mean"], 0)
    assert "s: 'mean' (the value" in compiled.source
