"""The values conditions take while a function is specialised to the path of its
arguments (control.py's interpreter of the graph traced so far) are NumPy's: for
every row of the op table, a condition on the row's result is decided as NumPy
decides it, on both sides of the value."""

import re

import numpy as np
import pytest
from ops_table import CASES

from symdiff.trace.args import describe_args
from symdiff.trace.control import _run
from symdiff.trace.function import trace


def _decided(fn, args, threshold) -> bool:
    """The outcome the trace follows for `fn(*args) > threshold`."""
    def test(*a):
        return fn(*a) if fn(*a) > threshold else -fn(*a)

    specs = describe_args(fn, args, ())  # (test takes *a: the specs of fn itself)
    values = [np.asarray(a, dtype=s.dtype) for s, a in zip(specs, args) if s.traced]
    return _run(trace, test, specs, values=values).decisions[0].outcome


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_condition_on_every_op_is_decided_as_numpy_decides_it(case):
    args = case.sample(seed=3)
    with np.errstate(all="ignore"):
        value = float(case.fn(*args))
    if not np.isfinite(value):
        pytest.skip("not finite at this sample")
    margin = 1e-6 * max(1.0, abs(value))
    assert _decided(case.fn, args, value - margin) is True
    assert _decided(case.fn, args, value + margin) is False


# -- a condition after a loop: the loop is traced unrolled -----------------------------------
def _smoothed(x):
    for _ in range(6):
        x = 0.5 * x + np.sin(x)
    return x


def for_then_halvings(x):
    x = _smoothed(x)
    seen = []  # (a list the loop fills: this loop does not fold, so it is guarded)
    while x > 0.3:
        seen.append(x)
        x = x / 2.0
    return x * len(seen)


def while_then_halvings(a):
    y = a
    while abs(y * y - a) > 1e-12 * a:
        y = 0.5 * (y + a / y)
    seen = []
    while y > 0.3:
        seen.append(y)
        y = y / 2.0
    return y * len(seen)


def for_then_branch(x):
    x = _smoothed(x)
    if x > 1.0:
        return x * x
    return -x


@pytest.mark.parametrize("fn, x", [(for_then_halvings, 0.7), (for_then_halvings, 2.5),
                                   (while_then_halvings, 2.0), (while_then_halvings, 30.0),
                                   (for_then_branch, 0.7), (for_then_branch, -0.3)])
def test_a_condition_after_a_loop_unrolls_the_loop(fn, x):
    # (if/else blocks and guards are printed without loop nodes)
    import symdiff
    from symdiff.verify import numerical_gradient

    compiled = symdiff.grad(fn).compile(x)
    assert compiled.traced.guarded or compiled.traced.branched
    assert not re.search(r"^\s+(for \w+ in |while )", compiled.source, re.M)
    np.testing.assert_allclose(compiled.grad(x), numerical_gradient(fn, (x,), 0), rtol=1e-6)
