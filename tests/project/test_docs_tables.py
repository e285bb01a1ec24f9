"""docs/supported-numpy.md is the output of symdiff.docs_gen, and everything it
lists has a row in the op table (tests/ops_table.py)."""

import os

import pytest
from ops_table import CASES

from symdiff import docs_gen
from symdiff.trace import numpy_api
from symdiff.trace.args import describe_args
from symdiff.trace.function import trace
from symdiff.trace.tracer import FUNCTIONS, UFUNCS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository


def test_reference_is_in_sync_with_the_tables():
    with open(os.path.join(ROOT, docs_gen.PATH), encoding="utf-8") as fh:
        committed = fh.read()
    assert committed == docs_gen.render(), "run: python -m symdiff.docs_gen"


def test_check_mode_reports_a_stale_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    os.mkdir("docs")
    with open(docs_gen.PATH, "w", encoding="utf-8") as fh:
        fh.write("# Supported NumPy\n")
    assert docs_gen.main(["--check"]) == 1
    assert docs_gen.main([]) == 0 and docs_gen.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.fixture
def called(monkeypatch):
    """The NumPy ufuncs and functions the tracer is asked for, while the fixture lives."""
    seen = set()

    def recorder(key, impl):
        def record(*args, **kwargs):
            seen.add(key)
            return impl(*args, **kwargs)
        return record

    for table in (UFUNCS, FUNCTIONS):
        for key, impl in list(table.items()):
            monkeypatch.setitem(table, key, recorder(key, impl))
    return seen


def test_every_listed_function_has_a_row(called):
    for case in CASES:
        args = case.sample()
        trace(case.fn, describe_args(case.fn, args, case.wrt(args)))
    listed = set(numpy_api.ELEMENTWISE_UFUNCS)
    listed |= {f for funcs in numpy_api.FUNCTION_GROUPS.values() for f in funcs}
    missing = sorted(docs_gen._name(f) for f in listed - called)
    assert not missing, f"no row of tests/ops_table.py calls {missing}"
