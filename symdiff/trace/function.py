"""Stage 1: run the user's function on tracers and record a `Graph`.

Bad input stops here, with a typed error naming the user's file and line and saying
what to write instead: arguments that cannot be traced (`describe_args`, in `args`),
random numbers drawn while tracing (their one sample would be baked into the code),
and Python operations a traced value does not support. Arrays a function reads from a
closure or a global are constants of the generated code, as under `jax.jit`; since
that is easy to miss, tracing warns with `CapturedArrayWarning` (see `captured`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp

from ..errors import (
    SymbolicDimError,
    SymdiffError,
    TraceError,
    recording_trace_errors,
    traceback_location,
)
from ..ir import dims
from ..ir.graph import Graph, graph_pass
from .args import ArgSpec, function_location
from .captured import captured_values, check_captured, name_captured_constants, random_forbidden
from .loops import LoopFolder, Unfold
from .rebind import rebound_names
from .registry import UFUNCS
from .sizes import RUNNING, size_value
from .tracer import Tracer, as_tracer

__all__ = ["trace"]


_log = logging.getLogger("symdiff.trace")


#: The graphs of the traces running (innermost last): where `np.sqrt(d)` of a size `d`
#: is recorded (see `dims.Dim.__array_ufunc__`).
_RUNNING = RUNNING


class running:
    """Within this context, `graph` is the trace that sizes' NumPy math goes to."""

    def __init__(self, graph: Graph):
        self.graph = graph

    def __enter__(self):
        _RUNNING.append(self.graph)

    def __exit__(self, *exc):
        _RUNNING.pop()


def _size_ufunc(ufunc, method, *inputs, **kwargs):
    if method != "__call__" or not _RUNNING or ufunc not in UFUNCS or kwargs:
        return NotImplemented
    graph = _RUNNING[-1]
    args = [Tracer(graph, graph.by_symbol[size_value(graph, a)])
            if isinstance(a, (sp.Basic, dims.Size)) and dims.is_symbolic(a) else a
            for a in inputs]
    return UFUNCS[ufunc](*args)


dims.UFUNC_HOOK = _size_ufunc


@graph_pass
def trace(fn: Callable, specs: Sequence[ArgSpec], fold: bool = True) -> Graph:
    """Run `fn` on tracers shaped like `specs`; the graph's single output is its result.
    Loops fold into loop nodes where they can (`trace/loops.py`; `fold=False`: never,
    every operation performed is a node, as pictures of the graph show it); a loop that
    turns out not to fold is traced again unrolled."""
    unrolled: set[str] = set()
    while True:
        try:
            return _trace(fn, specs, unrolled, fold)
        except Unfold as e:
            _log.info("the loop at %s stays unrolled: %s", e.where, e.why)
            if e.where in unrolled:
                raise TraceError(f"internal: the loop at {e.where} did not unroll: {e.why}",
                                 e.where) from None
            unrolled.add(e.where)


def _trace(fn: Callable, specs: Sequence[ArgSpec], unrolled: set[str], fold: bool) -> Graph:
    graph = Graph()
    call_args = []
    for spec in specs:
        if spec.traced:
            call_args.append(Tracer(graph, graph.add_input(spec.shape, spec.dtype, spec.name)))
        else:
            call_args.append(spec.static)
    captured = captured_values(fn)
    check_captured(fn, captured)
    folder = LoopFolder(graph, unrolled, fn, enabled=fold)
    try:
        with random_forbidden(), rebound_names(fn), dims.requirements() as required, \
                running(graph), folder, recording_trace_errors():
            try:
                result, local_names, returned_at = _call_recording_locals(fn, call_args)
            except SymbolicDimError as e:
                raise _naming_holders(e, specs) from None
    except Unfold:
        raise
    except Exception as e:
        if folder.pending is not None:  # (an `if` on the loop index, say): unroll it
            raise Unfold(folder.pending, f"{type(e).__name__}: {e}") from e
        raise
    graph.requirements = required
    graph.outputs = [_output(fn, graph, result, returned_at or function_location(fn)).graph_var]
    folder.check_escapes(graph)
    name_captured_constants(captured, graph)
    for name, value in local_names.items():
        # (_var: a local that may no longer be read, see Tracer.__setitem__, still names)
        if isinstance(value, Tracer) and value.graph is graph and value._var not in graph.names:
            graph.names[value._var] = name
    return graph


def _output(fn, graph: Graph, result, where: str) -> Tracer:
    """The traced result as one Tracer, or an error saying what to return instead."""
    qualname = getattr(fn, "__qualname__", repr(fn))
    if isinstance(result, Tracer):
        return result
    if isinstance(result, (tuple, list)):
        raise TraceError(f"{qualname} returns a {type(result).__name__} of {len(result)} "
                         "values; return one array (differentiate each output separately, "
                         "or np.stack them into one)", where)
    if result is None:
        raise TraceError(f"{qualname} returned None; `return` the value to differentiate",
                         where)
    if isinstance(result, (str, bytes, dict, set)):
        raise TraceError(f"{qualname} returned a {type(result).__name__}; return a NumPy "
                         "array or float computed from the arguments", where)
    try:
        return as_tracer(graph, result)
    except Exception:  # noqa: BLE001 - whatever it is, it is not an array
        raise TraceError(f"{qualname} returned a {type(result).__name__}; return a NumPy "
                         "array or float", where) from None


def _call_recording_locals(fn, args) -> tuple[Any, dict, str | None]:
    """Call `fn`: its result, the locals its frame holds at return (names for the
    printer) and the `file:line` it returned from."""
    code = getattr(fn, "__code__", None)
    previous = sys.getprofile()
    frames: list = []

    # The hook takes the call's frame and then goes: a hook on every call of a long
    # trace cost a tenth of its time, and the frame keeps its locals once it returns.
    def profiler(frame, event, arg):
        if event == "call" and frame.f_code is code:
            frames.append(frame)
            sys.setprofile(None)

    # Under another profiler (cProfile, a debugger) leave it alone: names are a nicety.
    hooked = code is not None and previous is None
    if hooked:
        sys.setprofile(profiler)
    try:
        result = fn(*args)
    except RecursionError:
        raise TraceError(f"{fn.__qualname__} recursed without end while tracing: a recursion "
                         "whose depth depends on a traced value cannot be unrolled; use a "
                         "Python loop over a fixed count", function_location(fn)) from None
    except SymdiffError:
        raise
    except TypeError as e:
        if _symbolic_size_misuse(e, args):
            raise SymbolicDimError(", ".join(sorted({str(x) for a in args if isinstance(a, Tracer)
                                                     for x in dims.symbols_of(a.shape)})),
                                   f"needs a concrete size ({e})",
                                   traceback_location(e.__traceback__)) from e
        if "Tracer" not in str(e):
            raise
        raise _misuse(fn, e) from e
    except (AttributeError, IndexError, ValueError) as e:
        if "Tracer" not in str(e):
            raise  # the user's own bug, not a limit of tracing
        raise _misuse(fn, e) from e
    finally:
        if hooked:
            sys.setprofile(None)
    if not frames:
        return result, {}, None
    return result, dict(frames[0].f_locals), f"{code.co_filename}:{frames[0].f_lineno}"


def _naming_holders(e: SymbolicDimError, specs: Sequence[ArgSpec]) -> SymbolicDimError:
    """`e` saying which argument's axis the size is, and the `--shape` that fixes it."""
    for s in specs:
        for axis, d in enumerate(s.shape or ()):
            if str(d) in e.dims:
                fix = ",".join("<size>" if i == axis else str(x) for i, x in enumerate(s.shape))
                return SymbolicDimError(", ".join(e.dims), e.what, e.where,
                                        f" (axis {axis} of {s.name}, of shape "
                                        f"{dims.shape_text(s.shape)})", f"--shape {s.name}={fix}")
    return e


def _symbolic_size_misuse(e: TypeError, args) -> bool:
    """A TypeError from a symbolic size used as a number (`range(n - 1)`, `if n > 3`)."""
    text = str(e)
    return any(isinstance(a, Tracer) and dims.is_symbolic(a.shape) for a in args) and (
        "Relational" in text or "cannot be interpreted as an integer" in text
        or "Symbol" in text or "convert expression" in text or "Dim" in text
        or "sequence of integers" in text)


def _misuse(fn, e: Exception) -> TraceError:
    """A Python error about a tracer, as a TraceError at the user's line."""
    where = traceback_location(e.__traceback__) or function_location(fn)
    text = str(e)
    if "item assignment" in text:
        return TraceError("assignment into a traced array is not supported here; build a "
                          "new array instead (np.where(mask, new, x), np.concatenate)", where)
    if "not iterable" in text:
        return TraceError("iteration over a traced value; loop over range(x.shape[0]) and "
                          "index, or use whole-array NumPy operations", where)
    if isinstance(e, AttributeError):
        attr = getattr(e, "name", None) or text.rsplit("'", 2)[-2]
        return TraceError(f"traced arrays have no attribute {attr!r} under symdiff; use the "
                          f"NumPy function (np.{attr}(x)) if symdiff supports it, or compute "
                          "it from supported operations", where)
    return TraceError(f"a traced value reached an operation that needs a concrete array "
                      f"({type(e).__name__}: {text}); use NumPy operations on it instead",
                      where)
