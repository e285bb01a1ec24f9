"""Without numba, asking for the fused backend is a usage error naming the extra to
install; the default backend never needs numba. (numba's absence is simulated.)"""

import builtins

import numpy as np
import pytest

import symdiff
from symdiff.cli import main
from symdiff.errors import InputError


@pytest.fixture
def no_numba(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("No module named 'numba'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_decorator_says_which_extra_to_install(no_numba):
    with pytest.raises(InputError, match=r"pip install 'symdiff\[numba\]'"):
        symdiff.grad(lambda x: np.sum(x**2), backend="numba")


def test_cli_backend_numba_is_a_usage_error(no_numba, tmp_path, capsys):
    source = tmp_path / "f.py"
    source.write_text("import numpy as np\n\ndef f(x):\n    return np.sum(x**2)\n")
    status = main(["emit", f"{source}:f", "--shape", "x=3", "--backend", "numba"])
    assert status == 2
    assert "symdiff[numba]" in capsys.readouterr().err


def test_default_backend_needs_no_numba(no_numba):
    assert symdiff.grad(lambda x: np.sum(x**2))(np.array([1.0, 2.0])).tolist() == [2.0, 4.0]


def test_unknown_backend_is_a_usage_error():
    with pytest.raises(InputError, match="numpy, numba"):
        symdiff.grad(lambda x: x, backend="cuda")
