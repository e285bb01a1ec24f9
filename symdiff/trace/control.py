"""Python control flow on traced values: `if`/`elif`/`else`, conditional expressions,
`and`/`or`/`not`, the builtins `max`/`min`, early returns and `while` loops.

`Tracer.__bool__` asks the recorder of the trace in progress for the truth of a
condition (`truth`). `trace_paths` runs the user's function under a recorder in one
of two modes:

* **explore**: the function is run once per path, each condition's outcome forced
  from a prefix (unforced ones are True), until every combination of outcomes has
  been traced. The paths become branch nodes: `if`/`else` in the generated code, each
  side differentiated as written. No concrete values are needed.
* **follow**: the function is run once, each condition taking its value at the call's
  arguments (computed by a small interpreter of the graph traced so far). The
  conditions become *guards* the generated code checks before anything else.

Exploration gives up, and following takes over, when the function has more than
`MAX_PATHS` paths, more than `MAX_DECISIONS` conditions on one path, tests a condition
twice from the same place (a `while` loop, an `if` inside a Python loop: loops are
specialised per iteration count), or when a side cannot be traced on its own (it
raises while traced with its condition forced).
"""

from __future__ import annotations

import functools
import math
import re
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from ..errors import BranchError, TraceError, _is_internal, user_location
from ..ir.elementwise import NumPyFunctionBase
from ..ir.graph import CONST, ELEMENTWISE, INPUT, Graph, Var
from ..ir.loops import LOOP
from ..ir.primitives import PRIMITIVES, normalize_axes
from .args import ShapeDtype
from .captured import CapturedArrayWarning
from .function import _RUNNING
from .loops import Unfold
from .numpy_api import implements
from .refusals import BOOL_HOOK
from .tracer import Tracer, as_tracer, bind

__all__ = ["truth", "trace_paths", "Decision", "Path", "Traced", "StandInArguments", "crossing_values",
           "MAX_PATHS", "MAX_DECISIONS"]

#: Exploration traces at most this many paths through a function ...
MAX_PATHS = 16
#: ... and at most this many conditions on one path; beyond, conditions become guards.
MAX_DECISIONS = 8
#: A followed path testing more conditions than this is a loop that does not end.
MAX_FOLLOWED = 100_000


@dataclass(frozen=True, eq=False)
class Decision:
    """One condition met while tracing: its value (a 0-d bool Var), the outcome the
    trace followed, where the user's code tested it, and how many graph nodes existed
    once it was computed (the end of the segment of the path before it)."""

    cond: Var
    outcome: bool
    loc: str | None
    stack: tuple = field(repr=False)
    position: int = 0
    key: tuple = field(default=(), repr=False)  # the computation, to spot a repeated test


@dataclass
class Path:
    """One traced path: its graph and the decisions that led there, in order."""

    graph: Graph
    decisions: list[Decision]

    @property
    def outcomes(self) -> tuple[bool, ...]:
        return tuple(d.outcome for d in self.decisions)


@dataclass
class Traced:
    """The paths of a function: one with no decisions (straight-line code), all of
    them (branch nodes), or the one the arguments take (`guarded`)."""

    paths: list[Path]
    guarded: bool = False
    reason: str = ""  # why exploration gave way to guards
    delegated: bool = False  # the path an enclosing trace's conditions chose

    @property
    def branched(self) -> bool:
        return not self.guarded and not self.delegated and len(self.paths) > 1


class _GiveUp(Exception):
    """Exploration stops (too many paths, a loop, a side that cannot be traced)."""


_state = threading.local()


class StandInArguments(list):
    """Arguments made up from shapes alone (the CLI's `--shape`): a condition's value
    at them means nothing, so a function that needs guards asks for examples. With
    `symbolic`, they are real arguments, but the sizes became symbols: a path taken
    at one size says nothing of the others."""

    def __init__(self, args=(), symbolic: bool = False):
        super().__init__(args)
        self.symbolic = symbolic


# -- the hook: Tracer.__bool__ ----------------------------------------------------------------
def truth(t: Tracer) -> bool:
    """The outcome of `bool(t)` in the trace in progress."""
    where = user_location()
    if t.size != 1:
        raise BranchError(
            f"the truth value of a traced array with {t.size} elements (shape {t.shape}) "
            "is ambiguous, as in NumPy: choose elementwise with np.where(condition, a, b), "
            "or test a single value with (condition).any() or (condition).all()", where)
    folder = getattr(sys.gettrace(), "__self__", None)  # loops.LoopFolder, when folding
    if getattr(folder, "pending", None) is not None:
        answer = folder.condition(t)  # the test of a while loop being folded
        if answer is not None:
            return answer
        # a loop's placeholder iteration stands for every step: a condition in it must
        # make the trace start over with that loop unrolled (trace() does, on any error)
        raise TraceError("a condition on a traced value inside a loop being folded", where)
    recorders = getattr(_state, "recorders", None)
    if not recorders:
        raise TraceError(
            "Python control flow (`if`, `while`, `and`, `or`, `not`) on a traced value where "
            "symdiff follows one path only (the hand-derivative checker: symdiff check, "
            "symdiff.check_derivative): "
            "choose with np.where(condition, a, b) there; symdiff.grad and symdiff emit "
            "handle if/while", where)
    if recorders[-1].graph_of(t) is None:
        raise TraceError(
            "Python control flow (`if`, `while`, `and`, `or`, `not`) on a traced value "
            "inside a function that is itself traced by another transform (grad of grad, "
            "jvp of grad ...): only the outermost transform can branch; use "
            "np.where(condition, a, b) in the inner function", where)
    return recorders[-1].decide(t, where)


BOOL_HOOK[:] = [truth]


def _user_stack() -> tuple:
    """(code, instruction offset) of the user's frames around the current condition, innermost first:
    the frames outside symdiff and NumPy up to the first one inside them again."""
    frame, found = sys._getframe(2), []
    while frame is not None:
        if _is_internal(frame.f_code.co_filename):
            if found:
                break
        else:
            found.append((frame.f_code, frame.f_lasti))  # the instruction: two tests on
            # one line differ, one test repeated by a loop does not
        frame = frame.f_back
    return tuple(found)


class _Recorder:
    """Answers the conditions of one run of the user's function."""

    def __init__(self, fn: Callable, forced: tuple[bool, ...], values: list | None,
                 delegate: Callable | None = None):
        self.fn = fn
        self.delegate = delegate
        self.forced = forced
        self.values = values  # concrete traced arguments (follow mode), else None
        self.decisions: list[Decision] = []
        self.graph: Graph | None = None
        self._known: dict[Var, np.ndarray] = {}
        self._done = 0
        self._scanned = 0  # nodes looked at for loops

    def graph_of(self, t: Tracer) -> Graph | None:
        if self.graph is not None and all(g is not self.graph for g in _RUNNING) and \
                any(g is t.graph for g in _RUNNING):
            # the trace started over (a loop unrolled): so do its decisions
            self.graph, self.decisions, self._known, self._done = None, [], {}, 0
            self._scanned = 0
        if self.graph is None:
            self.graph = t.graph
        return self.graph if t.graph is self.graph else None

    def decide(self, t: Tracer, where: str | None) -> bool:
        self._no_loop_before(t.graph)
        stack = _user_stack()
        _refuse_recursion(self.fn, stack, where)
        cond = t if t.dtype == np.dtype(bool) else (t != 0)
        cond = cond.reshape(()) if cond.shape != () else cond
        key = _computation(t.graph, cond.graph_var)
        for earlier in self.decisions:  # `if x > 0: ... elif x > 0 or y > 0:` tests once
            if earlier.key == key:
                return earlier.outcome
        k = len(self.decisions)
        if self.delegate is not None:
            outcome = self._delegated(t.graph, cond.graph_var)
        elif k < len(self.forced):
            outcome = self.forced[k]
        elif self.values is None:
            if any(d.stack == stack for d in self.decisions):
                raise _GiveUp(f"a loop tests the condition at {where} repeatedly")
            if k >= MAX_DECISIONS:
                raise _GiveUp(f"more than {MAX_DECISIONS} conditions on one path")
            outcome = True
        else:
            if k >= MAX_FOLLOWED:
                raise BranchError(f"more than {MAX_FOLLOWED} conditions tested while tracing "
                                  "one call: a loop that does not end at these arguments?",
                                  where)
            outcome = self._evaluate(cond.graph_var)
        self.decisions.append(Decision(cond.graph_var, outcome, where, stack, len(t.graph.nodes),
                                       key))
        return outcome

    def _no_loop_before(self, graph: Graph) -> None:
        """The blocks of if/else (and guards) print no loop nodes: a loop folded before a
        condition is traced again, unrolled (`trace` does, on `Unfold`)."""
        nodes = graph.nodes
        start = self._scanned if self._scanned <= len(nodes) else 0
        for node in nodes[start:]:
            source = node.p["loop"].source if node.op == LOOP else None
            if source is not None:
                raise Unfold(source, "a condition on a traced value follows the loop")
        self._scanned = len(nodes)

    def _delegated(self, graph: Graph, var: Var) -> bool:
        """The enclosing trace's answer (its recorder, not this one, hears the `if`)."""
        recorders = _state.recorders
        recorders.remove(self)
        try:
            return self.delegate(graph, var)
        finally:
            recorders.append(self)

    def _evaluate(self, var: Var) -> bool:
        """The concrete value of `var` at the call's arguments."""
        graph = self.graph
        with np.errstate(all="ignore"):
            for node in graph.nodes[self._done:]:
                try:
                    self._known[node.out] = _evaluate_node(graph, node, self._known,
                                                           self.values)
                except Exception as e:  # noqa: BLE001 - whatever it is, say where
                    raise BranchError(
                        f"symdiff could not compute the value of {node.op} (traced at "
                        f"{node.loc}) to decide a condition at these arguments "
                        f"({type(e).__name__}: {e}); branch with np.where instead",
                        user_location()) from e
        self._done = len(graph.nodes)
        return bool(np.asarray(self._known[var]).reshape(()))


def _computation(graph: Graph, var: Var) -> tuple:
    """What computes `var` (its node's value-numbering key; the Var itself for others)."""
    for node in reversed(graph.nodes):
        if node.out is var:
            return node.key() if node.op == ELEMENTWISE else (id(var),)
    return (id(var),)


def _refuse_recursion(fn: Callable, stack: tuple, where: str | None) -> None:
    codes = [code for code, _ in stack]
    for code in codes:
        if codes.count(code) > 1:
            raise BranchError(
                f"{code.co_name} calls itself and tests a condition on a traced value: "
                "symdiff does not unroll a recursion whose depth the values decide; write "
                "it as a while loop (traced once per iteration count) or a Python loop "
                "over a fixed count", where)


# -- concrete values (follow mode) -------------------------------------------------------
def _evaluate_node(graph: Graph, node, known: dict, inputs: list) -> np.ndarray:
    """One node on NumPy arrays: an elementwise expression through SymPy's lambdify
    (NumPy's functions; symdiff's own by their print templates), a structured op by
    its NumPy reference implementation."""
    out = node.out
    if node.op == INPUT:
        value = inputs[graph.inputs.index(out)]
    elif node.op == CONST:
        value = node.value
    elif node.op == ELEMENTWISE:
        operands = graph.operands(node)
        symbols, values = tuple(v.symbol for v in operands), [known[v] for v in operands]
        try:
            value = _numeric(node.expr, symbols)(*values)
        except RecursionError:  # lambdify on deeply nested conditions: element by element
            value = _substituted(node.expr, symbols, values, out.shape)
    else:
        value = PRIMITIVES[node.op].impl(*[known[v] for v in node.inputs], **node.p)
    return np.broadcast_to(np.asarray(value).astype(out.dtype, copy=False), out.shape)


@functools.lru_cache(maxsize=4096)
def _numeric(expr: sp.Expr, symbols: tuple) -> Callable:
    own = {type(f).__name__: _from_template(type(f))
           for f in expr.atoms(sp.Function) if isinstance(f, NumPyFunctionBase)}
    printer = _NumPyConditions({"fully_qualified_modules": False, "inline": True,
                                "allow_unknown_functions": True, "user_functions": {}})
    return sp.lambdify(symbols, expr, modules=[own, "numpy"], printer=printer)


class _NumPyConditions(NumPyPrinter):
    """SymPy's NumPy printer, knowing symdiff's own condition IsNan (np.isnan)."""

    def _print_IsNan(self, expr):
        return f"{self._module_format('numpy.isnan')}({self._print(expr.args[0])})"


def _from_template(cls) -> Callable:
    """A NumPy function from the print template of a symdiff function (``np.abs({0})``,
    ``math.erf({0})``, ``scipy.special.ndtr({0})``)."""
    body = re.sub(r"\{(\d+)\}", lambda m: f"(a[{m.group(1)}])", cls.template)
    namespace = {"np": np, "math": math}
    if "scipy." in body:
        import scipy.special  # (an optional dependency, only where a template uses it)

        namespace["scipy"] = scipy
    return eval(f"lambda *a: {body}", namespace)  # noqa: S307 - validated print templates


def _substituted(expr: sp.Expr, symbols: tuple, values: list, shape) -> np.ndarray:
    """`expr` evaluated by SymPy at each element (slow; where lambdify cannot print it)."""
    arrays = np.broadcast_arrays(*[np.asarray(v) for v in values]) if values else []
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        number = expr.xreplace({s: sp.sympify(a[idx].item()) for s, a in zip(symbols, arrays)})
        out[idx] = bool(number) if number.is_Boolean else complex(number.evalf()).real
    return out


# -- running the function ---------------------------------------------------------------------
def _run(trace: Callable, fn: Callable, specs, forced=(), values=None, again=False,
         delegate=None) -> Path:
    """One run of `fn` under a recorder; `again`: not the first run of this trace, whose
    warnings (an array read from a global) were given already."""
    recorder = _Recorder(fn, tuple(forced), values, delegate)
    stack = _state.__dict__.setdefault("recorders", [])
    stack.append(recorder)
    try:
        with warnings.catch_warnings():
            if again:
                warnings.simplefilter("ignore", CapturedArrayWarning)
            graph = trace(fn, specs)
    finally:
        stack.pop()
    return Path(graph, recorder.decisions)


def trace_paths(trace: Callable, fn: Callable, specs: Sequence, args: Sequence[Any] | None,
                delegate: Callable | None = None) -> Traced:
    """Trace `fn` (with `trace(fn, specs)`): every path when exploration succeeds, else
    the path `args` take, with its decisions as guards. Inside another transform,
    `delegate(graph, cond)` answers each condition (the enclosing trace decides) and
    the one path it leads to is returned."""
    if delegate is not None:
        return Traced([_run(trace, fn, specs, delegate=delegate)], delegated=True)
    try:
        paths = _explore(trace, fn, specs)
    except _GiveUp as e:
        reason = str(e)
    else:
        _check_same_type(fn, paths)
        return Traced(paths)
    if args is None:
        raise TraceError(
            f"{getattr(fn, '__qualname__', fn)} branches on traced values ({reason}) and is "
            "itself traced by another transform (grad of grad, jvp of grad ...): only the "
            "outermost transform can branch; write the inner condition with "
            "np.where(condition, a, b)", _location(fn))
    if getattr(args, "symbolic", False):
        raise BranchError(
            f"{getattr(fn, '__qualname__', fn)} branches on traced values in a way symdiff "
            f"specialises to the path the arguments take ({reason}); with symbolic sizes "
            "the path taken at one size does not hold for the others: give the sizes as "
            "numbers (--shape X=100,3 rather than X=n,3; dims='fixed' or ints in dims={...} "
            "in the Python API, whose default dims='auto' does so by itself)", _location(fn))
    if isinstance(args, StandInArguments) or any(isinstance(a, ShapeDtype) for a in args):
        raise BranchError(
            f"{getattr(fn, '__qualname__', fn)} branches on traced values in a way symdiff "
            f"specialises to the path the arguments take ({reason}), so it needs real "
            "example arguments, not only shapes: give --example FUNC (a function in the "
            "same file returning example arguments)", _location(fn))
    values = [np.asarray(a, dtype=s.dtype) for s, a in zip(specs, args) if s.traced]
    return Traced([_run(trace, fn, specs, values=values, again=True)], guarded=True,
                  reason=reason)


def _explore(trace: Callable, fn: Callable, specs) -> list[Path]:
    """Every path, depth first, the True side first."""
    done: list[Path] = []
    pending: list[tuple[bool, ...]] = [()]
    while pending:
        forced = pending.pop()
        try:
            path = _run(trace, fn, specs, forced, again=bool(done))
        except (_GiveUp, BranchError):
            raise
        except Exception as e:  # noqa: BLE001 - a side that cannot be traced on its own
            if not forced:
                raise
            raise _GiveUp(f"the side {_describe(forced)} raised {type(e).__name__} when "
                          "traced on its own") from e
        done.append(path)
        outcomes = path.outcomes
        for k in reversed(range(len(forced), len(outcomes))):
            pending.append(outcomes[:k] + (not outcomes[k],))
        if len(done) + len(pending) > MAX_PATHS:
            raise _GiveUp(f"more than {MAX_PATHS} paths")
    return done


def crossing_values(path: Path) -> list[Var]:
    """The values a path computes before one of its conditions and reads after it (the
    generated code computes them once, before the `if`, and reads them by name)."""
    graph, found = path.graph, {}
    for d in path.decisions:
        before = {n.out for n in graph.nodes[:d.position]}
        for node in graph.nodes[d.position:]:
            for var in graph.operands(node):
                if var in before and var not in found and var.dtype.kind != "b":
                    found[var] = None
    return list(found)


def _describe(outcomes) -> str:
    return "(" + ", ".join("True" if o else "False" for o in outcomes) + ")"


def _location(fn) -> str | None:
    code = getattr(fn, "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code else None


def _check_same_type(fn, paths: list[Path]) -> None:
    """Every path returns one shape and dtype (the generated function has one)."""
    first = paths[0].graph.outputs[0]
    for path in paths[1:]:
        out = path.graph.outputs[0]
        if out.shape != first.shape or out.dtype != first.dtype:
            k = next(i for i, (a, b) in enumerate(zip(paths[0].outcomes, path.outcomes))
                     if a != b)
            raise BranchError(
                f"the two sides of this condition make {fn.__qualname__} return different "
                f"types: {first.type_str()} when it is {paths[0].outcomes[k]}, "
                f"{out.type_str()} when it is {path.outcomes[k]}; return the same shape "
                "and dtype on every path (np.broadcast_to, .astype, or np.where instead "
                "of if)", paths[0].decisions[k].loc)


# -- truth of reductions: np.all, np.any, x.all(), x.any() -------------------------------------
def _truth_reduction(name: str, a, axis, out, keepdims, where):
    """np.all / np.any as the min / max of a boolean mask (printed as np.all / np.any)."""
    if out is not None or where is not None:
        raise TraceError(f"np.{name}(..., out=/where=) is not supported under tracing; "
                         "drop the argument", user_location())
    t = a if isinstance(a, Tracer) else None
    if t is None:
        return getattr(np, name)(a, axis=axis, keepdims=keepdims)
    mask = t if t.dtype == np.dtype(bool) else (t != 0)
    axes = normalize_axes(axis, mask.ndim)
    if not axes:
        return mask
    if any(mask.shape[i] == 0 for i in axes):  # NumPy: all() of nothing is True
        shape = tuple(1 if i in axes else n for i, n in enumerate(mask.shape)) if keepdims \
            else tuple(n for i, n in enumerate(mask.shape) if i not in axes)
        return as_tracer(t.graph, np.full(shape, name == "all"))
    return bind("min" if name == "all" else "max", mask, axes=axes, keepdims=bool(keepdims))


@implements(np.all, group="reductions")
def _all(a, axis=None, out=None, keepdims=False, *, where=None):
    return _truth_reduction("all", a, axis, out, keepdims, where)


@implements(np.any, group="reductions")
def _any(a, axis=None, out=None, keepdims=False, *, where=None):
    return _truth_reduction("any", a, axis, out, keepdims, where)
