"""Folding Python `while` loops on traced conditions into while-loop nodes.

Newton's method, bisection and fixed-point iterations run until a traced condition
fails: how many times depends on the values. As for `for` loops (`trace/loops.py`),
the body is traced once, on placeholders:

1. At the first line event of the `while` test, every local the body assigns (or
   assigns into) that holds a traced value or a number is rebound to a placeholder
   of its shape and dtype (a Python counter `k = 0` becomes a traced int64).
2. The test runs on the placeholders. `Tracer.__bool__` asks the folder, which
   records the condition (the conjunction, for `and`) and answers True.
3. The body runs once on the placeholders. At the next line event of the test, its
   nodes are cut out into a body graph, the condition into a SymPy boolean in the
   body's inputs, a while-loop node takes their place (`ir/loops.py`), the carried
   locals are rebound to its results and the frame jumps past the loop.

Anything else makes tracing start over with the loop unrolled (`Unfold`): a test
that is not a plain condition (`or`, `not`, a call of a function of the user's that
branches), a condition that is not one elementwise expression of the carried and
outside values, a condition inside the body (`if`), a carried value that changes
shape or dtype, a Python value the body changes, a container it fills. The function
is then specialised per iteration count, with guards (`trace/control.py`).
"""

from __future__ import annotations

import ast
import contextvars
import dis
import sys
from dataclasses import dataclass, replace

import numpy as np
import sympy as sp

from ..errors import _is_internal
from ..ir.graph import ELEMENTWISE, INPUT, Graph, Node, Var
from ..ir.loops import BodyGraph, Loop, loop_node, substitute
from .loop_source import (
    body_change,
    body_names,
    containers,
    file_tree,
    library_file,
    per_code,
    set_locals,
    snapshot,
    statements_with_next,
)
from .tracer import Tracer, const

__all__ = ["FoldableWhile", "while_loops", "WhileFold", "PLACEHOLDER", "calling_frame",
           "FOLD_WHILE"]

#: Whether `while` loops fold (off: specialised per iteration count, with guards); the
#: compiler turns it off for a function whose while loop lacks a derivative it needs.
FOLD_WHILE: contextvars.ContextVar[bool] = contextvars.ContextVar("fold_while", default=True)

PLACEHOLDER = "loop_arg"  # op of a placeholder while its iteration is traced (as for loops)


@dataclass(frozen=True)
class FoldableWhile:
    """A `while` statement that may fold: the lines of its test and of its body."""

    test_first: int
    test_last: int
    body_first: int
    body_last: int
    resume_line: int
    assigned: frozenset
    stored_into: frozenset
    test_names: frozenset  # names the test reads
    where: str

    def in_test(self, line: int) -> bool:
        return self.test_first <= line <= self.test_last

    def in_body(self, line: int) -> bool:
        return self.body_first <= line <= self.body_last


@per_code
def while_loops(code) -> dict[int, FoldableWhile]:
    """The `while` loops of a code object that may fold, by each line of their test."""
    if library_file(code.co_filename):
        return {}
    lines = {ins.positions.lineno for ins in dis.get_instructions(code)
             if getattr(ins, "positions", None) and ins.positions.lineno}
    tree = file_tree(code.co_filename)
    if tree is None:
        return {}
    out = {}
    for stmt, after in statements_with_next(tree, ast.While):
        if stmt.test.lineno in lines and after is not None:
            loop = _describe(stmt, after, code.co_filename)
            if loop is not None:
                out.update({k: loop for k in range(loop.test_first, loop.test_last + 1)})
    return out


def _plain_test(test: ast.expr) -> bool:
    """A test whose truth is the truth of the values it tests: comparisons joined by
    `and` at most (`or` and `not` would skip or invert the one answer the folder gives)."""
    for sub in ast.walk(test):
        if isinstance(sub, (ast.BoolOp, ast.UnaryOp, ast.IfExp, ast.Lambda, ast.NamedExpr)) \
                and not (isinstance(sub, ast.BoolOp) and isinstance(sub.op, ast.And)) \
                and not (isinstance(sub, ast.UnaryOp) and isinstance(sub.op, ast.USub)):
            return False
    return True


def _describe(node: ast.While, after: ast.stmt, filename: str) -> FoldableWhile | None:
    if node.orelse or not _plain_test(node.test) or \
            node.body[0].lineno <= node.test.end_lineno:
        return None
    found = body_names(node.body)
    if found is None:
        return None
    assigned, stored = found
    names = frozenset(n.id for n in ast.walk(node.test) if isinstance(n, ast.Name))
    return FoldableWhile(node.test.lineno, node.test.end_lineno, node.body[0].lineno,
                         node.end_lineno, after.lineno, frozenset(assigned),
                         frozenset(stored - assigned), names,
                         f"{filename}:{node.test.lineno}")


class WhileFold:
    """The state of one `while` loop of one frame activation while it is being folded.
    `fail(why)` is given by the folder (it raises `Unfold`)."""

    def __init__(self, graph: Graph, loop: FoldableWhile, fail):
        self.graph = graph
        self.loop = loop
        self.fail = fail
        self.mark = 0
        self.carries: list[tuple] = []  # (name, tracer in the iteration, placeholder,
        # written in place, value on entry)
        self.edges = 1  # (the folder's count of back edges: one fold at a time)
        self.python: dict = {}
        self.containers: dict[str, tuple] = {}
        self.conditions: list[Var] = []
        self.testing = True  # the test runs (before the body's first line)
        self.cut: set = set()

    @staticmethod
    def wanted(loop: FoldableWhile, values: dict, graph: Graph) -> bool:
        """Fold when a traced value is carried or tested: a loop on Python values alone
        runs as Python."""
        def traced(name):
            v = values.get(name)
            return isinstance(v, Tracer) and v.graph is graph
        return any(traced(n) for n in loop.assigned | loop.stored_into | loop.test_names)

    # at the first line of the test: placeholders for what the body changes
    def begin(self, frame) -> None:
        values = snapshot(frame)
        graph = self.graph
        self.mark = len(graph.nodes)
        rebind = {}
        for name in sorted(self.loop.assigned | self.loop.stored_into):
            value = values.get(name)
            if isinstance(value, Tracer) and value.graph is graph:
                holder = self._placeholder(value.shape, value.dtype)
                if name in self.loop.stored_into:  # the object itself: aliases see writes
                    self.carries.append((name, value, holder, True, value.graph_var))
                    value.graph_var = holder
                    continue
                rebind[name] = Tracer(graph, holder)
                self.carries.append((name, rebind[name], holder, False, value.graph_var))
            elif name in self.loop.assigned and _number(value):
                holder = self._placeholder(np.shape(value), np.asarray(value).dtype)
                rebind[name] = Tracer(graph, holder)
                self.carries.append((name, rebind[name], holder, False, value))
            elif name in self.loop.assigned and name in values:
                self.python[name] = value
        self.containers = containers(values)
        if rebind:
            set_locals(frame, rebind)

    def _placeholder(self, shape, dtype) -> Var:
        var = self.graph.new_var(shape, dtype)
        self.graph.add(Node(var, PLACEHOLDER))
        return var

    def condition(self, t: Tracer) -> bool:
        """The answer to `bool(t)` in the test: True (the body runs once, on placeholders)."""
        if t.graph is not self.graph:
            self.fail("the loop tests a value of another trace")
        cond = t if t.dtype == np.dtype(bool) else (t != 0)
        self.conditions.append(cond.reshape(()).graph_var if cond.shape != () else cond.graph_var)
        return True

    # at the next line of the test: the body as a loop node
    def finish(self, frame) -> None:
        if not self.conditions:
            self.fail("the loop's condition is not a traced value")
        values = snapshot(frame)
        change = body_change(values, self.python, self.containers)
        if change:
            self.fail(change)
        outs = []
        for name, obj, holder, mutated, _ in self.carries:
            value = obj if mutated else values.get(name)
            if not isinstance(value, Tracer) or value.graph is not self.graph:
                self.fail(f"{name!r} is no longer a traced value after an iteration")
            if value.shape != holder.shape or value.dtype != holder.dtype:
                self.fail(f"{name!r} changes shape or dtype from one iteration to the next")
            outs.append(value.graph_var)
        results = self._build(outs, values)
        rebind = {}
        for (name, obj, _, mutated, _), var in zip(self.carries, results):
            if mutated:
                obj.graph_var = var
            else:
                rebind[name] = Tracer(self.graph, var)
        set_locals(frame, rebind)
        frame.f_lineno = self.loop.resume_line

    def _build(self, carry_out: list[Var], values: dict) -> list[Var]:
        graph = self.graph
        nodes = graph.nodes[self.mark:]
        graph.nodes = graph.nodes[:self.mark]
        self.cut = {n.out for n in nodes}
        kept = [n for n in nodes if n.op != PLACEHOLDER]
        cond = self._condition(kept)
        outside, seen = [], set()
        for v in [v for n in kept for v in graph.operands(n)] + carry_out:
            if v not in self.cut and v not in seen:
                seen.add(v)
                outside.append(v)
        body = BodyGraph()
        body._next_id = graph._next_id
        index = body.new_var((), np.int64)
        carry_in = [c[2] for c in self.carries]
        subs = {v: body.new_var(v.shape, v.dtype) for v in carry_in + outside}
        subs.update({n.out: body.new_var(n.out.shape, n.out.dtype) for n in kept})
        for v in [index] + [subs[v] for v in carry_in + outside]:
            body.add(Node(v, INPUT, params=(("name", ""),)))
        body.nodes.extend(replace(substitute(n, subs), out=subs[n.out]) for n in kept)
        for node in body.nodes:
            body.by_symbol[node.out.symbol] = node.out
        body.outputs = [subs[v] for v in carry_out]
        for (name, *_), holder in zip(self.carries, carry_in):
            body.names[subs[holder]] = name
        for (name, *_), out in zip(self.carries, body.outputs):
            if out not in body.inputs:
                body.names.setdefault(out, name)
        for name, value in values.items():  # the body's own locals (`mid`)
            if isinstance(value, Tracer) and value.graph_var in subs and value.graph_var not in carry_in:
                body.names.setdefault(subs[value.graph_var], name)
        if any(graph.by_symbol.get(s) not in subs for s in cond.free_symbols):
            self.fail("the loop's condition does not read what the loop changes")
        loop = Loop(body, 0, 0, len(carry_in), 0, index_name="t", source=self.loop.where,
                    cond=cond.xreplace({v.symbol: subs[v].symbol for v in subs}))
        outs = loop_node(graph, loop, self._inits() + outside, self.loop.where)
        return outs[:len(carry_in)]

    def _condition(self, kept: list[Node]) -> sp.Basic:
        """The condition as one expression of values the test reads: placeholders and
        values from outside the loop (elementwise nodes of the test inlined)."""
        defs = {n.out: n for n in kept}
        exprs = []
        for var in self.conditions:
            expr = var.symbol
            for _ in range(len(kept) + 1):
                inner = [self.graph.by_symbol[s] for s in expr.free_symbols
                         if self.graph.by_symbol.get(s) in defs]
                if not inner:
                    break
                for v in inner:
                    if defs[v].op != ELEMENTWISE:
                        self.fail(f"the loop's condition computes {defs[v].op}: only "
                                  "elementwise conditions fold")
                expr = expr.xreplace({v.symbol: defs[v].expr for v in inner})
            exprs.append(expr)
        return sp.And(*exprs) if len(exprs) > 1 else exprs[0]

    def _inits(self) -> list[Var]:
        """The carried values on entering the loop."""
        graph, out = self.graph, []
        for (_, _, holder, _, entry) in self.carries:
            if isinstance(entry, Var):
                out.append(entry)
            else:
                out.append(const(graph, np.asarray(entry, dtype=holder.dtype)).graph_var)
        return out


def _number(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "iuf"


def calling_frame():
    """The innermost frame of the user's (outside symdiff and NumPy) on the stack: the
    frame whose code tests a condition."""
    frame = sys._getframe(1)
    while frame is not None and _is_internal(frame.f_code.co_filename):
        frame = frame.f_back
    return frame
