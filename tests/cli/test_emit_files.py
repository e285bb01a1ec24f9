"""`emit -o` keeps the file's mode, writes through symlinks, leaves no temporary file;
CLI targets that are not functions, huge shapes and targets that exit at import are
typed errors."""

import os
import signal
import stat
import subprocess
import sys

import pytest

SRC = "def f(x):\n    return x ** 3\n"


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "symdiff", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_emit_keeps_the_mode_of_the_target(tmp_path):
    (tmp_path / "m.py").write_text(SRC)
    out = tmp_path / "out.py"
    out.write_text("old\n")
    out.chmod(0o600)
    assert run("emit", "m.py:f", "-o", "out.py", cwd=tmp_path).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "def grad_f" in out.read_text()


def test_emit_writes_through_a_symlink(tmp_path):
    (tmp_path / "m.py").write_text(SRC)
    real = tmp_path / "real.py"
    real.write_text("old\n")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    assert run("emit", "m.py:f", "-o", "link.py", cwd=tmp_path).returncode == 0
    assert link.is_symlink()
    assert "def grad_f" in real.read_text()


def _writer_stopped_mid_write(tmp_path) -> subprocess.Popen:
    """A process writing tmp_path/out.py with write_atomic, paused before the rename
    (its fsync sleeps), once it has its temporary file open."""
    script = tmp_path / "w.py"
    script.write_text(
        "import os, sys, time\n"
        "from symdiff import compile as api\n"
        "def slow(fd):\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "os.fsync = slow\n"
        "api.write_atomic(sys.argv[1], 'x' * 100)\n")
    p = subprocess.Popen([sys.executable, str(script), str(tmp_path / "out.py")],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "writing"
    return p


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_no_temporary_file_left_after_a_signal(tmp_path, signum):
    p = _writer_stopped_mid_write(tmp_path)
    p.send_signal(signum)
    p.wait(timeout=30)
    left = [n for n in os.listdir(tmp_path) if n.endswith(".symdiff-tmp")]
    assert left == []


def test_a_temporary_file_left_by_sigkill_is_removed_by_the_next_write(tmp_path):
    p = _writer_stopped_mid_write(tmp_path)
    p.kill()
    p.wait(timeout=30)
    assert sorted(os.listdir(tmp_path)) == sorted(["w.py", f".out.py.{p.pid}.symdiff-tmp"])
    # a live writer's temporary file (this process's parent's pid) is not touched
    live = tmp_path / f".out.py.{os.getppid()}.symdiff-tmp"
    live.write_text("")
    other = tmp_path / f".other.py.{p.pid}.symdiff-tmp"  # another target's
    other.write_text("")
    from symdiff.compile import write_atomic
    write_atomic(str(tmp_path / "out.py"), "new\n")
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["w.py", "out.py", live.name, other.name])
    assert (tmp_path / "out.py").read_text() == "new\n"


@pytest.mark.parametrize("target", ["np_sin", "K"])
def test_cli_target_not_a_function(tmp_path, target):
    (tmp_path / "m.py").write_text("import numpy as np\nnp_sin = np.sin\n"
                                   "class K:\n    pass\n")
    r = run("emit", f"m.py:{target}", cwd=tmp_path)
    assert r.returncode in (1, 2), r.stderr
    assert "internal error" not in r.stderr
    assert target in r.stderr


def test_huge_shape(tmp_path):
    (tmp_path / "m.py").write_text("import numpy as np\ndef f(x):\n    return np.sum(x)\n")
    r = run("emit", "m.py:f", "--shape", "x=100000,100000,1000", cwd=tmp_path)
    assert r.returncode in (1, 2)
    assert "internal error" not in r.stderr and "--shape" in r.stderr


def test_target_exiting_at_import_fails_check(tmp_path):
    (tmp_path / "m.py").write_text(SRC)
    assert run("emit", "m.py:f", "-o", "out.py", cwd=tmp_path).returncode == 0
    (tmp_path / "m.py").write_text("import sys\ndef f(x):\n    return x ** 4\nsys.exit(0)\n")
    r = run("emit", "m.py:f", "-o", "out.py", "--check", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "m.py:4" in r.stderr
