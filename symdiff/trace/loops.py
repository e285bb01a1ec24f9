"""Folding Python `for` loops into loop nodes while tracing.

Tracing every iteration of a long loop costs time (0.7 ms per step of a small body)
and gives a module that grows with the step count. Instead, as JAX's `scan` traces
its body once, the loop's iterations after the first run *once* on placeholder
values, and the rest are skipped:

1. A `sys.settrace` hook watches the user's frames that hold a `for` statement
   (read from the source's AST; `FoldableLoop`). A loop folds only when its
   iterable's length is known without running user code (`range`, a traced or
   NumPy array, `zip`/`enumerate` of those), it has at least `FOLD_MIN_STEPS`
   iterations, and its body has no `break`, `return`, `yield`, `try` or `with`.
2. Iteration 0 runs as usual: it gives accumulators such as ``ll = 0.0`` their
   traced shape and dtype.
3. At the loop's back edge every local the body assigns (or assigns into) that holds
   a traced value is rebound to a placeholder, and at the first body line so are
   the loop variables (the index `t` becomes a traced int64). Iteration 1 then
   traces the body once, into the same graph.
4. At the next back edge those nodes are cut out into the body graph, a loop node
   replaces them, the carried locals are rebound to its results, and the frame
   jumps to the statement after the loop.

Anything the placeholder iteration cannot stand for raises inside it (a Python `if`
on `t` or on a carried value, `int(t)`, a list indexed by `t`), or is caught after
it: a carried value whose shape or dtype changes, a Python value the body changes,
a container of traced values that grows, a value of the placeholder iteration that
escapes the loop. Each makes tracing start over with that loop unrolled
(`Unfold`), as it was traced before loops folded: such loops still work.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from ..ir import dims
from ..ir.graph import ELEMENTWISE, Graph, Node, Var
from .loop_body import PLACEHOLDER, BodyBuilder
from .loop_source import (
    FoldableLoop,
    Plan,
    body_change,
    containers,
    foldable_loops,
    iteration_plan,
    set_locals,
    snapshot,
)
from .subscript import getitem
from .tracer import Tracer
from .while_loops import FOLD_WHILE, WhileFold, calling_frame, while_loops

__all__ = ["LoopFolder", "Unfold", "FOLD_MIN_STEPS"]

#: Loops of fewer iterations stay unrolled: a short loop (over the three layers of a
#: network, say) reads better written out, and its iterations often differ in shape.
FOLD_MIN_STEPS = 4

#: The number of steps Python's `range()` sees while a loop over a symbolic number of
#: steps is being folded (only its first two iterations run).
_STAND_IN_SIZE = 1 << 20



class Unfold(Exception):
    """Internal: trace again with the loop at `where` unrolled."""

    def __init__(self, where: str, why: str):
        super().__init__(f"{where}: {why}")
        self.where = where
        self.why = why


@dataclass
class _Carry:
    """A local the loop body rebinds (or writes into: `mutated`), carried from one
    iteration to the next: `obj` is the tracer holding it in the placeholder
    iteration, `placeholder` the body input standing for its value on entry."""

    name: str
    obj: Tracer
    placeholder: Var
    mutated: bool
    first: Var | None = None  # its value after iteration 0 (to start a peeled loop)


class _Fold:
    """The state of one loop of one frame activation while it is being folded."""

    def __init__(self, graph: Graph, loop: FoldableLoop, plan: Plan, entry: dict):
        self.graph = graph
        self.loop = loop
        self.plan = plan
        self.entry = entry
        # a buffer written in the loop is one tracer object whose value changes
        self.entry_vars = {n: v.graph_var for n, v in entry.items() if isinstance(v, Tracer)}
        self.edges = 0  # back edges seen
        self.mark = 0  # first node of the placeholder iteration
        self.awaiting_targets = False
        self.carries: list[_Carry] = []
        self.python: dict[str, Any] = {}
        self.containers: dict[str, tuple] = {}
        self.index: Var | None = None
        self.xs: list[tuple[Var, Any]] = []  # (row placeholder, array iterated)
        self.target_values: dict[str, Any] = {}
        self.cut: set = set()
        self.standing: dims.standing_in | None = None

    def fail(self, why: str):
        self.stand_in(False)
        raise Unfold(self.loop.where, why)

    def stand_in(self, on: bool) -> None:
        """With a symbolic step count, Python's `range(n)` and rows of an array of n
        rows get a stand-in n while the loop starts an iteration (before its body
        runs): the loop variables of iteration 0 are its first values, those of the
        placeholder iteration are replaced, and nothing else reads the stand-in."""
        if on and self.standing is None and isinstance(self.plan.count, sp.Basic):
            self.standing = dims.standing_in(self.plan.count.free_symbols, _STAND_IN_SIZE)
            self.standing.__enter__()
        elif not on and self.standing is not None:
            self.standing.__exit__(None, None, None)
            self.standing = None

    # back edge 1: iteration 0 ran concretely; start the placeholder iteration
    def begin(self, frame) -> None:
        values = snapshot(frame)
        graph = self.graph
        self.mark = len(graph.nodes)
        self.index = self._placeholder((), np.int64)
        rebind = {}
        for name in sorted(self.loop.assigned | self.loop.stored_into):
            value = values.get(name)
            if isinstance(value, Tracer) and value.graph is graph:
                holder, first = self._placeholder(value.shape, value.dtype), value.graph_var
                if name in self.loop.stored_into:  # keep the object: its aliases see
                    value.graph_var = holder              # the writes, as in NumPy
                    self.carries.append(_Carry(name, value, holder, True, first))
                else:
                    obj = rebind[name] = Tracer(graph, holder)
                    self.carries.append(_Carry(name, obj, holder, False, first))
            elif name in self.loop.assigned and name in values:
                self.python[name] = values[name]
        self.containers = containers(values)
        if rebind:
            set_locals(frame, rebind)
        self.awaiting_targets = True
        self.stand_in(True)  # (the row the placeholder iteration starts from)

    def _placeholder(self, shape, dtype) -> Var:
        var = self.graph.new_var(shape, dtype)
        self.graph.add(Node(var, PLACEHOLDER))
        return var

    def bind_targets(self, frame) -> None:
        """At the first body line of the placeholder iteration: the loop variables."""
        self.awaiting_targets = False
        self.stand_in(False)
        value = self._target_value(self.plan)
        names = self.loop.targets
        self.target_values = {}
        self._assign(names, value)
        set_locals(frame, self.target_values)

    def _assign(self, names, value) -> None:
        if isinstance(names, str):
            self.target_values[names] = value
            return
        if not isinstance(value, tuple) or len(value) != len(names):
            self.fail("the loop variables do not unpack the iterable's items")
        for n, v in zip(names, value):
            self._assign(n, v)

    def _target_value(self, plan: Plan):
        t = Tracer(self.graph, self.index)
        if plan.kind == "range":
            if plan.step == 1:
                return t
            return t * plan.step + plan.start  # (the loop runs i = 0, 1, ...)
        if plan.kind == "rows":
            array = plan.array
            row = self._placeholder(array.shape[1:], array.dtype)
            self.xs.append((row, array))
            return Tracer(self.graph, row)
        if plan.kind == "enumerate":
            return (t, self._target_value(plan.parts[0]))
        return tuple(self._target_value(p) for p in plan.parts)

    # back edge 2: cut the placeholder iteration out as the body
    def finish(self, frame) -> None:
        values = snapshot(frame)
        change = body_change(values, self.python, self.containers)
        if change:
            self.fail(change)
        outs = []
        for carry in self.carries:
            value = carry.obj if carry.mutated else values.get(carry.name)
            if not isinstance(value, Tracer) or value.graph is not self.graph:
                self.fail(f"{carry.name!r} is no longer a traced value after an iteration")
            if value.shape != carry.obj.shape or value.dtype != carry.obj.dtype:
                self.fail(f"{carry.name!r} changes shape or dtype from one iteration to "
                          "the next")
            outs.append(value.graph_var)
        build = BodyBuilder(self, outs)
        results = build.run()
        rebind = {}
        for carry, var in zip(self.carries, results):
            if carry.mutated:
                carry.obj.graph_var = var
            else:
                rebind[carry.name] = Tracer(self.graph, var)
        rebind.update(self._final_targets())
        set_locals(frame, rebind)
        frame.f_lineno = self.loop.resume_line
        self.cut = build.cut

    def _final_targets(self) -> dict[str, Any]:
        self.target_values = {}
        self._assign(self.loop.targets, self._last_value(self.plan, self.plan.count - 1))
        return self.target_values

    def _last_value(self, plan: Plan, i):
        if plan.kind == "range":
            return dims.user_size(plan.start + plan.step * i)
        if plan.kind == "rows":
            array = plan.array
            if isinstance(i, sp.Basic):  # (counted from the end: -1 for the last row)
                i = dims.canon(i - plan.count)
            return getitem(array, i) if isinstance(array, Tracer) else array[i]
        if plan.kind == "enumerate":
            return (dims.user_size(i), self._last_value(plan.parts[0], i))
        return tuple(self._last_value(p, i) for p in plan.parts)


# -- the hook --------------------------------------------------------------------------------
def _no_stand_in(fold) -> None:
    if isinstance(fold, _Fold):
        fold.stand_in(False)


class LoopFolder:
    """While tracing into `graph`, fold the loops of user frames (a context manager).
    Loops whose `file:line` is in `unrolled` are left alone."""

    #: the tracer's own operations take the hook off while they run (trace/hook.py)
    suspendable = True

    def __init__(self, graph: Graph, unrolled: set[str], fn=None, enabled: bool = True):
        self.wanted = enabled
        self.graph = graph
        self.unrolled = unrolled
        self.top = getattr(fn, "__code__", None)  # the traced function's code
        # frame -> the loops of it being folded, outermost first (nested loops fold too)
        self.folds: dict[Any, list] = {}  # (of _Fold and WhileFold)
        self.cuts: list[tuple[str, set]] = []  # (loop, values cut out of the graph)
        self.previous = None
        self.enabled = False
        self.placeholders: list[str] = []  # loops whose placeholder iteration runs

    @property
    def pending(self) -> str | None:
        """The innermost loop whose placeholder iteration runs (an error there unrolls
        it)."""
        return self.placeholders[-1] if self.placeholders else None

    def __enter__(self):
        self.previous = sys.gettrace()
        self.enabled = self.wanted and (self.previous is None or isinstance(
            getattr(self.previous, "__self__", None), LoopFolder))
        if self.enabled:
            sys.settrace(self._call)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            sys.settrace(self.previous)
        for stack in self.folds.values():
            for fold in stack:
                _no_stand_in(fold)
        self.folds.clear()

    def _call(self, frame, event, arg):
        if event == "call" and (foldable_loops(frame.f_code) or while_loops(frame.f_code)):
            return self._line
        return None

    def busy(self) -> bool:
        """Whether a loop's traced iteration runs (a while loop folds only outside)."""
        return any(f.edges >= 1 for stack in self.folds.values() for f in stack)

    def _line(self, frame, event, arg):
        if event == "return":
            for fold in self.folds.pop(frame, ()):
                _no_stand_in(fold)
            return None
        if event != "line":
            return self._line
        line = frame.f_lineno
        stack = self.folds.get(frame, [])
        if stack and isinstance(stack[-1], WhileFold):
            self._while_line(frame, stack, stack[-1], line)
            return self._line
        while stack:  # the innermost loop being folded whose lines these are
            fold = stack[-1]
            loop = fold.loop
            if line == loop.line and frame.f_lasti == loop.for_iter:
                self._back_edge(frame, stack, fold)
                return self._line
            if loop.in_body(line):
                if fold.awaiting_targets:
                    fold.bind_targets(frame)
                elif fold.edges == 0:
                    fold.stand_in(False)  # iteration 0 runs on the first row, as traced
                break  # (the line may start a loop inside this one)
            if line == loop.line:
                return self._line
            fold.stand_in(False)
            if fold.edges >= 1:
                fold.fail("the loop ended before its placeholder iteration did")
            stack.pop()  # ended early (a loop of one iteration)
        if not stack:
            self.folds.pop(frame, None)
        self._start(frame, line, stack)
        return self._line

    def _back_edge(self, frame, stack: list[_Fold], fold: _Fold) -> None:
        fold.edges += 1
        if fold.edges == 1:
            self.placeholders.append(fold.loop.where)
            fold.begin(frame)
            return
        fold.finish(frame)
        self.placeholders.remove(fold.loop.where)
        self.cuts.append((fold.loop.where, fold.cut))
        stack.pop()

    def _start(self, frame, line: int, stack: list[_Fold]) -> None:
        """Start folding the loop whose `for` statement begins at `line`, if it may."""
        loop = foldable_loops(frame.f_code).get(line)
        if loop is None:
            self._start_while(frame, line, stack)
            return
        if frame.f_lasti == loop.for_iter or loop.where in self.unrolled \
                or any(f.loop is loop for f in stack) or any(
                    isinstance(f, WhileFold) for other in self.folds.values() for f in other):
            return  # (no for loop folds in a while loop's traced iteration)
        plan = iteration_plan(loop.node.iter, frame)
        if plan is None or (isinstance(plan.count, int) and plan.count < FOLD_MIN_STEPS):
            return
        if plan.stop_name is not None and not self._static_argument(frame, plan):
            plan.stop_name = None
        fold = _Fold(self.graph, loop, plan, snapshot(frame))
        self.folds.setdefault(frame, []).append(fold)
        fold.stand_in(True)  # (the iterable and its first row, for a symbolic count)

    # -- while loops (trace/while_loops.py) --------------------------------------------------
    def _start_while(self, frame, line: int, stack: list) -> None:
        loop = while_loops(frame.f_code).get(line)
        if loop is None or loop.where in self.unrolled or self.busy() or \
                not FOLD_WHILE.get() or not WhileFold.wanted(loop, snapshot(frame), self.graph):
            return

        def fail(why):
            raise Unfold(loop.where, why)

        fold = WhileFold(self.graph, loop, fail)
        self.folds.setdefault(frame, stack).append(fold)
        self.placeholders.append(loop.where)
        fold.begin(frame)

    def _while_line(self, frame, stack: list, fold: WhileFold, line: int) -> None:
        loop = fold.loop
        if loop.in_test(line):
            if fold.testing:
                return  # (a test over several lines)
            fold.finish(frame)
            self.placeholders.remove(loop.where)
            self.cuts.append((loop.where, fold.cut))
            stack.pop()
            if not stack:
                self.folds.pop(frame, None)
        elif loop.in_body(line):
            if fold.testing and not fold.conditions:
                fold.fail("the loop's condition is not a traced value")
            fold.testing = False
        else:
            fold.fail("the loop ended before its traced iteration did")

    def condition(self, t: Tracer) -> bool | None:
        """The answer to a condition tested by a while loop being folded (True: its body
        runs once), or None when it is no such condition."""
        stack = self.folds.get(calling_frame()) or [None]
        fold = stack[-1]
        if isinstance(fold, WhileFold) and fold.testing:
            return fold.condition(t)
        return None

    def _static_argument(self, frame, plan: Plan) -> bool:
        """Whether `range(n)` reads `n`, a Python int argument of the traced function
        itself: the generated code then loops `range(n)` and checks n's value."""
        code = frame.f_code
        if code is not self.top or plan.stop_name not in code.co_varnames[:code.co_argcount]:
            return False
        value = frame.f_locals.get(plan.stop_name)
        return isinstance(value, int) and not isinstance(value, bool) and \
            value == plan.start + plan.step * plan.count and plan.step == 1

    def check_escapes(self, graph: Graph) -> None:
        """A value of a placeholder iteration read after its loop (through a list, an
        attribute, a container) would be wrong: unroll that loop instead."""
        if not self.cuts:
            return
        reads = set(graph.outputs)
        for node in graph.nodes:
            reads.update(node.inputs if node.op != ELEMENTWISE else
                         (graph.by_symbol[s] for s in node.expr.free_symbols))
        for where, cut in self.cuts:
            if reads & cut:
                raise Unfold(where, "a value computed in the loop is used after it other "
                             "than through a variable the loop assigns")
