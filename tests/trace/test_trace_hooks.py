"""The trace's Python hooks: the loop folder's trace function is off while the tracer
builds expressions (trace/hook.py) and back on for the user's lines; the hook that
records the traced function's locals stops at its call. Another tool's trace function
(a debugger, coverage) is left alone, and no hook outlives a trace."""

import sys

import numpy as np
import pytest

import symdiff
from symdiff.errors import ShapeError
from symdiff.ir.loops import LOOP
from symdiff.trace.args import describe_args
from symdiff.trace.function import trace

from helpers import central_difference


def damped(x, steps):
    for _ in range(steps):
        x = 0.9 * x + 0.1 * np.sin(x)
    return np.sum(x)


def traced(fn, *args):
    return trace(fn, describe_args(fn, args, (0,)))


def test_a_loop_still_folds_and_no_hook_outlives_the_trace():
    graph = traced(damped, np.ones(3), 50)
    assert [n for n in graph.nodes if n.op == LOOP]  # the folder saw the loop's lines
    assert sys.gettrace() is None and sys.getprofile() is None
    x = np.linspace(-1, 1, 3)
    np.testing.assert_allclose(symdiff.grad(damped)(x, 50),
                               central_difference(lambda x: damped(x, 50), [x], 0),
                               rtol=1e-6, atol=1e-9)


def test_an_error_inside_a_folded_loop_leaves_no_hook_behind():
    def bad(x, y):
        for _ in range(10):
            x = x + y  # shapes (3,) and (4,)
        return np.sum(x)

    with pytest.raises(ShapeError):
        symdiff.grad(bad)(np.ones(3), np.ones(4))
    assert sys.gettrace() is None and sys.getprofile() is None


def test_another_trace_function_sees_symdiffs_own_calls():
    seen = set()

    def tool(frame, event, arg):  # what coverage or a debugger would set
        seen.add(frame.f_code.co_name)
        return None

    sys.settrace(tool)
    try:
        value = symdiff.grad(damped)(np.ones(3), 20)
    finally:
        sys.settrace(None)
    assert {"elementwise", "build", "expression"} <= seen
    assert value.shape == (3,)


def test_names_come_from_the_outermost_call_of_a_recursive_function():
    def nest(x, depth=3):
        if depth == 0:
            return np.sum(x * x)
        inner = np.sin(x) * 2.0
        return nest(inner, depth - 1) + np.sum(x)

    x = np.linspace(0.1, 0.9, 4)
    compiled = symdiff.grad(nest).compile(x)
    assert "inner = " in compiled.source
    assert sys.getprofile() is None
    np.testing.assert_allclose(compiled.grad(x), central_difference(nest, [x], 0),
                               rtol=1e-6, atol=1e-9)
