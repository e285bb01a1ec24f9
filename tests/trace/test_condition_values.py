"""The values conditions take while a function is specialised to the path of its
arguments (control.py's interpreter of the graph traced so far) are NumPy's: for
every row of the op table, a condition on the row's result is decided as NumPy
decides it, on both sides of the value."""

import numpy as np
import pytest
from ops_table import CASES

from symdiff.trace.control import _run
from symdiff.trace.function import describe_args, trace


def _decided(fn, args, threshold) -> bool:
    """The outcome the trace follows for `fn(*args) > threshold`."""
    def test(*a):
        return fn(*a) if fn(*a) > threshold else -fn(*a)

    specs = describe_args(fn, args, ())  # (test takes *a: the specs of fn itself)
    values = [np.asarray(a, dtype=s.dtype) for s, a in zip(specs, args) if s.traced]
    return _run(trace, test, specs, values=values).decisions[0].outcome


#: Rows the interpreter does not evaluate yet: elementwise expressions of nan handling
#: that neither lambdify nor SymPy's substitution evaluates, and a folded loop node (its
#: body graph is not interpreted). A condition on them in a loop is a BranchError.
NOT_EVALUATED = {"np.nancumsum/nancumprod", "np.nan_to_num",
                 "out = np.empty; out[j] = t; out *= 2"}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(
    c.name in NOT_EVALUATED, reason="not evaluated yet", strict=True)) for c in CASES],
    ids=[c.name for c in CASES])
def test_a_condition_on_every_op_is_decided_as_numpy_decides_it(case):
    args = case.sample(seed=3)
    with np.errstate(all="ignore"):
        value = float(case.fn(*args))
    if not np.isfinite(value):
        pytest.skip("not finite at this sample")
    margin = 1e-6 * max(1.0, abs(value))
    assert _decided(case.fn, args, value - margin) is True
    assert _decided(case.fn, args, value + margin) is False
