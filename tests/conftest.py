import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def assert_matches_fd(fn, args, argnums=0, rtol=1e-6, atol=1e-7):
    """Compare symdiff's gradient with central differences for every argnum."""
    import symdiff
    from symdiff.verify import numerical_gradient

    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    got = symdiff.grad(fn, argnums=nums)(*args)
    for i, g in zip(nums, got):
        want = numerical_gradient(fn, args, i)
        np.testing.assert_allclose(g, want, rtol=rtol, atol=atol,
                                   err_msg=f"d/d arg {i} of {fn.__name__}")
        assert np.shape(g) == np.shape(args[i])
    return got


sys.path.insert(0, os.path.join(ROOT, "tests"))

# Every graph pass validates its result (symdiff.ir.graph.graph_pass), so a pass that
# breaks the IR fails in the pass that broke it; subprocesses inherit the setting.
os.environ.setdefault("SYMDIFF_CHECK_IR", "1")
# Printed code as symdiff lays it out, with or without ruff installed; the golden
# modules ask for ruff's layout explicitly (`emit --format ruff`).
os.environ.setdefault("SYMDIFF_FORMAT", "none")
