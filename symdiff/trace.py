"""Stage 1: run the user's function on tracers and record a `Graph`."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import numpy_api  # noqa: F401  (registers the NumPy surface on tracers)
from .errors import InputError, TraceError, UnsupportedOpError
from .ir import Graph
from .tracer import Tracer, as_tracer

__all__ = ["trace", "ArgSpec", "describe_args", "function_location"]


@dataclass(frozen=True)
class ArgSpec:
    """What the trace saw of one argument: traced (shape, dtype) or static (a value)."""

    name: str
    shape: tuple[int, ...] | None
    dtype: np.dtype | None
    static: Any = None

    @property
    def traced(self) -> bool:
        return self.shape is not None

    def describe(self) -> str:
        if not self.traced:
            return f"{self.name}={self.static!r} (static)"
        return f"{self.name}: {self.dtype.name}{list(self.shape)}"


def function_location(fn: Callable) -> str:
    """`file:line` where `fn` is defined."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return getattr(fn, "__qualname__", repr(fn))
    return f"{code.co_filename}:{code.co_firstlineno}"


def parameter_names(fn: Callable, nargs: int) -> list[str]:
    """Names of the first `nargs` positional parameters, rejecting *args/**kwargs."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return [f"arg{i}" for i in range(nargs)]
    names = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TraceError(
                f"{fn.__qualname__} takes *{p.name}: symdiff needs a fixed list of named "
                "arguments (the generated code has one parameter per argument); write them "
                "out", function_location(fn))
        if p.kind == p.KEYWORD_ONLY:
            continue
        names.append(p.name)
    if len(names) < nargs:
        raise TraceError(f"{fn.__qualname__} takes {len(names)} positional arguments but "
                         f"{nargs} were given", function_location(fn))
    return names[:nargs]


def describe_args(fn: Callable, args: Sequence[Any], argnums: tuple[int, ...]) -> list[ArgSpec]:
    """Classify arguments: differentiated ones must be real floating point."""
    names = parameter_names(fn, len(args))
    specs = []
    for i, (name, a) in enumerate(zip(names, args)):
        specs.append(_spec(fn, i, name, a, i in argnums))
    return specs


def _spec(fn, i: int, name: str, a, wrt: bool) -> ArgSpec:
    where = function_location(fn)
    if isinstance(a, Tracer):
        return ArgSpec(name, a.shape, a.dtype)
    if isinstance(a, (bool, np.bool_)) or (isinstance(a, int) and not isinstance(a, np.generic)):
        if wrt:
            raise InputError(f"argument {i} ({name}) is a Python {type(a).__name__}; "
                             "differentiate with respect to floats: pass float(...) or an "
                             "array of dtype float64", where)
        return ArgSpec(name, None, None, static=a)
    if isinstance(a, float):
        return ArgSpec(name, (), np.dtype(np.float64))
    if isinstance(a, (np.ndarray, np.generic)):
        arr = a
    elif isinstance(a, (list, tuple)) and wrt:
        raise InputError(f"argument {i} ({name}) is a {type(a).__name__}; pass a NumPy array "
                         f"(np.asarray({name}, dtype=float))", where)
    else:
        try:
            arr = np.asarray(a)
        except Exception:  # noqa: BLE001 - anything unconvertible is the same user error
            arr = np.asarray(None)
    kind = arr.dtype.kind
    if kind == "f":
        return ArgSpec(name, tuple(arr.shape), arr.dtype)
    if wrt:
        what = {"i": "integer", "u": "unsigned integer", "b": "boolean", "c": "complex",
                "O": "object"}.get(kind, str(arr.dtype))
        raise InputError(f"argument {i} ({name}) has dtype {arr.dtype} ({what}); gradients "
                         f"are taken with respect to real floating-point arrays: pass "
                         f"{name}.astype(np.float64)", where)
    if kind in "iub":
        return ArgSpec(name, tuple(arr.shape), arr.dtype)
    raise InputError(f"argument {i} ({name}) of type {type(a).__name__} (dtype {arr.dtype}) "
                     "cannot be traced; pass floats or NumPy arrays", where)


def trace(fn: Callable, specs: Sequence[ArgSpec]) -> Graph:
    """Run `fn` on tracers shaped like `specs`; the graph's single output is its result."""
    graph = Graph()
    call_args = []
    for spec in specs:
        if spec.traced:
            call_args.append(Tracer(graph, graph.add_input(spec.shape, spec.dtype, spec.name)))
        else:
            call_args.append(spec.static)
    local_names: dict[str, Any] = {}
    result = _call_recording_locals(fn, call_args, local_names)
    if isinstance(result, tuple):
        raise TraceError(f"{fn.__qualname__} returns a tuple of {len(result)} values; return "
                         "one array (differentiate each output separately, or stack them)",
                         function_location(fn))
    if result is None:
        raise TraceError(f"{fn.__qualname__} returned None; `return` the value to "
                         "differentiate", function_location(fn))
    if not isinstance(result, Tracer):
        try:
            result = as_tracer(graph, result)
        except Exception:  # noqa: BLE001
            raise TraceError(f"{fn.__qualname__} returned a {type(result).__name__}; return "
                             "a NumPy array or float", function_location(fn)) from None
    graph.outputs = [result.var]
    for name, value in local_names.items():
        if isinstance(value, Tracer) and value.graph is graph and value.var not in graph.names:
            graph.names[value.var] = name
    return graph


def _call_recording_locals(fn, args, sink: dict) -> Any:
    """Call `fn`, keeping the locals its frame holds at return (names for the printer)."""
    code = getattr(fn, "__code__", None)
    previous = sys.getprofile()

    def profiler(frame, event, arg):
        if event == "return" and frame.f_code is code:
            sink.clear()
            sink.update(frame.f_locals)

    # Under another profiler (cProfile, a debugger) leave it alone: names are a nicety.
    hooked = code is not None and previous is None
    if hooked:
        sys.setprofile(profiler)
    try:
        return fn(*args)
    except RecursionError:
        raise TraceError(f"{fn.__qualname__} recursed without end while tracing: a recursion "
                         "whose depth depends on a traced value cannot be unrolled; use a "
                         "Python loop over a fixed count", function_location(fn)) from None
    except (TraceError, UnsupportedOpError, InputError):
        raise
    finally:
        if hooked:
            sys.setprofile(None)
