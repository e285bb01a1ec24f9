"""A CSE temporary takes the source line of the first statement of its own function that
reads it, not that of a reader in another function of the module (which the module's
common-subexpression elimination placed it for)."""

import numpy as np
import pytest

from symdiff.autodiff.transforms import derivations
from symdiff.compile import _prepare
from symdiff.passes.whole_module import module_programs


def shared_exp(x):
    u = np.exp(x)
    v = np.log(u + 1) * x
    return np.sum(u * v)


def shared_sin(x):
    s = np.sin(x)
    c = s * s + np.cos(x)
    return np.sum(c * s)


def _reads(stmt):
    return stmt.expr.free_symbols if stmt.expr is not None else set(stmt.args)


@pytest.mark.parametrize("fn", [shared_exp, shared_sin])
def test_each_temporary_has_its_first_readers_line_in_its_own_function(fn):
    ctx = _prepare(fn, (np.linspace(0.2, 0.9, 4),), 0)
    ds = derivations(ctx, ("grad", "value_and_grad"))
    temporaries = 0
    for d, program in zip(ds, module_programs([d.graph for d in ds])):
        statements = program.statements
        for i, stmt in enumerate(statements):
            if stmt.var is not None:
                continue
            reader = next((s for s in statements[i + 1:] if stmt.target in _reads(s)), None)
            if reader is not None:
                temporaries += 1
                assert stmt.loc == reader.loc, (d.fname, stmt, reader)
    assert temporaries  # (the functions do share temporaries)
