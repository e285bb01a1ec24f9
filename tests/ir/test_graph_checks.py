"""`check_graph` runs after every graph pass in the test suite (SYMDIFF_CHECK_IR=1, set
by conftest.py): a pass that breaks the IR fails loudly, naming itself."""

import numpy as np
import pytest

import symdiff
from symdiff.ir.graph import ELEMENTWISE, check_graph, graph_pass
from symdiff.passes import simplify
from symdiff.trace.args import describe_args
from symdiff.trace.function import trace


def f(x):
    y = np.sin(x) * x
    return np.sum(y * y)


def traced():
    x = np.linspace(0.1, 1.0, 4)
    return trace(f, describe_args(f, [x], (0,)))


@graph_pass
def swap_first_two_computations(graph):
    """A broken pass: a value is read before the node that defines it."""
    g = graph.derive(list(graph.nodes), graph.outputs)
    first = next(i for i, n in enumerate(g.nodes) if n.op == ELEMENTWISE)
    g.nodes[first], g.nodes[first + 1] = g.nodes[first + 1], g.nodes[first]
    return g


def test_the_suite_runs_with_the_check_on():
    import os

    assert os.environ.get("SYMDIFF_CHECK_IR") == "1"


def test_a_traced_graph_is_valid():
    check_graph(traced())  # the broken pass below is what fails, not its input


def test_a_pass_that_breaks_the_ir_fails_naming_itself():
    with pytest.raises(AssertionError, match=r"after swap_first_two_computations: v\d+ uses "
                                             r"v\d+ before its definition"):
        swap_first_two_computations(traced())


def test_without_the_flag_the_broken_graph_passes_silently(monkeypatch):
    monkeypatch.setenv("SYMDIFF_CHECK_IR", "0")
    broken = swap_first_two_computations(traced())
    with pytest.raises(AssertionError):
        check_graph(broken)


def test_a_broken_pipeline_pass_stops_compilation(monkeypatch):
    # fusion that reorders what it returns: compiling must stop in `fuse`
    fuse_once = simplify._fuse_once

    def reordering(graph):
        g = fuse_once(graph)
        g = g.derive(list(g.nodes), g.outputs)  # a copy: passes are functional
        computed = [i for i, n in enumerate(g.nodes) if n.op == ELEMENTWISE]
        if len(computed) >= 2:
            i, j = computed[0], computed[-1]
            g.nodes[i], g.nodes[j] = g.nodes[j], g.nodes[i]
        return g

    monkeypatch.setattr(simplify, "_fuse_once", reordering)
    # the first checked pass to return the broken graph: fusion itself, or the dce it
    # runs between its rounds
    with pytest.raises(AssertionError, match="the IR is broken after (fuse|dce): v"):
        symdiff.grad(f)(np.linspace(0.1, 1.0, 4))
