"""Stage 1: run the user's function on tracers and record a `Graph`.

Bad input stops here, with a typed error naming the user's file and line and saying
what to write instead: arguments that cannot be traced (`describe_args`), random
numbers drawn while tracing (their one sample would be baked into the code), and
Python operations a traced value does not support. Arrays a function reads from a
closure or a global are constants of the generated code, as under `jax.jit`; since
that is easy to miss, tracing warns with `CapturedArrayWarning`.
"""

from __future__ import annotations

import dis
import inspect
import logging
import sys
import threading
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from ..errors import (
    InputError,
    SymbolicDimError,
    SymdiffError,
    TraceError,
    recording_trace_errors,
    traceback_location,
    user_location,
)
from ..ir import dims
from ..ir.graph import CONST, Graph, graph_pass
from ..ir.loops import bodies
from .loops import LoopFolder, Unfold
from .rebind import rebound_names
from .registry import UFUNCS
from .sizes import RUNNING, size_value
from .tracer import Tracer, as_tracer

__all__ = ["trace", "ArgSpec", "describe_args", "function_location", "CapturedArrayWarning"]


_log = logging.getLogger("symdiff.trace")


class CapturedArrayWarning(UserWarning):
    """A traced function reads a NumPy array from a closure or a global: its value at
    compile time is baked into the generated code as a constant."""


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
            return f"{self.name}={self.static!r} (static)"  # an exact builtin: a literal
        return f"{self.name}: {self.dtype.name}{list(self.shape)}"


def static_value(value):
    """A static argument as its exact builtin type (an IntEnum as its int, a str
    subclass as a str), so that printing and comparing it later runs no user code."""
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, int):
        return int.__index__(value)
    return str.__str__(value)


@dataclass(frozen=True)
class ShapeDtype:
    """An argument known only by its shape and dtype (as `jax.ShapeDtypeStruct`): what
    tracing needs, without the data. Dimensions may be symbolic (see `dims`)."""

    shape: tuple
    dtype: Any = np.float64


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


def function_location(fn: Callable) -> str:
    """`file:line` where `fn` is defined."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return getattr(fn, "__qualname__", repr(fn))
    return f"{code.co_filename}:{code.co_firstlineno}"


def parameter_names(fn: Callable, nargs: int) -> list[str]:
    """Names of the first `nargs` positional parameters, rejecting *args/**kwargs,
    required keyword-only parameters and a wrong number of arguments."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return [f"arg{i}" for i in range(nargs)]
    where, qualname = function_location(fn), getattr(fn, "__qualname__", repr(fn))
    names, required = [], 0
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            stars = "*" if p.kind == p.VAR_POSITIONAL else "**"
            raise TraceError(
                f"{qualname} takes {stars}{p.name}: symdiff needs a fixed list of named "
                "arguments (the generated code has one parameter per argument); write them "
                "out, e.g. def f(w, b, X) instead of def f(*args)", where)
        if p.kind == p.KEYWORD_ONLY:
            if p.default is p.empty:
                raise TraceError(f"{qualname} has the required keyword-only parameter "
                                 f"{p.name!r}; symdiff passes arguments by position: give it "
                                 "a default or make it positional", where)
            continue
        names.append(p.name)
        required += p.default is p.empty
    if not required <= nargs <= len(names):
        takes = f"{required} to {len(names)}" if required != len(names) else str(required)
        raise InputError(f"{qualname}({', '.join(names)}) takes {takes} positional "
                         f"arguments but {nargs} were given; pass one value per parameter",
                         where)
    return names[:nargs]


def normalize_argnums(argnums, nargs: int | None = None, who: str = "",
                      where: str | None = None) -> tuple[int, ...]:
    """`argnums` (an int, or a tuple or list of ints) as a tuple of argument positions,
    made non-negative when `nargs`, the number of arguments, is known. `who` names the
    call in the error ("gradcheck of f"), `where` the user's line."""
    nums = (argnums,) if isinstance(argnums, int) else \
        tuple(argnums) if isinstance(argnums, (tuple, list)) else ()
    said = f"{who}: " if who else ""
    if not nums or not all(isinstance(i, int) and not isinstance(i, bool) for i in nums):
        raise InputError(f"{said}argnums must be an int or a tuple of ints, got {argnums!r}; "
                         "e.g. argnums=0 for the first argument, argnums=(0, 2) for two",
                         where or user_location())
    if nargs is not None and not all(-nargs <= i < nargs for i in nums):
        raise InputError(f"{said}argnums {argnums!r} does not name arguments among the "
                         f"{nargs} given; pass an int or a tuple of ints (argnums counts the "
                         "positional arguments from 0)", where or user_location())
    return nums if nargs is None else tuple(i % nargs for i in nums)


def describe_args(fn: Callable, args: Sequence[Any], argnums: tuple[int, ...]) -> list[ArgSpec]:
    """Classify arguments: differentiated ones must be real floating point."""
    names = parameter_names(fn, len(args))
    specs = []
    for i, (name, a) in enumerate(zip(names, args)):
        specs.append(_spec(fn, i, name, a, i in argnums))
    return specs


_KINDS = {"i": "integer", "u": "unsigned integer", "b": "boolean", "c": "complex",
          "O": "object", "U": "string", "S": "bytes", "M": "datetime", "m": "timedelta"}


def _spec(fn, i: int, name: str, a, wrt: bool) -> ArgSpec:
    where = function_location(fn)
    arg = f"argument {i} ({name})"
    if isinstance(a, Tracer):
        return ArgSpec(name, a.shape, a.dtype)
    if isinstance(a, ShapeDtype):
        if wrt and np.dtype(a.dtype).kind != "f":
            raise InputError(f"{arg} has dtype {np.dtype(a.dtype)}; gradients are taken with "
                             "respect to real floating-point arrays", where)
        return ArgSpec(name, dims.canon_shape(a.shape), np.dtype(a.dtype))
    if isinstance(a, (bool, np.bool_)) or (isinstance(a, int) and not isinstance(a, np.generic)):
        if wrt:
            raise InputError(f"{arg} is a Python {type(a).__name__}; differentiate with "
                             "respect to floats: pass float(...) or an array of dtype float64",
                             where)
        return ArgSpec(name, None, None, static=static_value(a))
    if isinstance(a, float):
        return ArgSpec(name, (), np.dtype(np.float64))
    if isinstance(a, str) or a is None:
        if wrt:
            raise InputError(f"{arg} is {a!r}, which has no derivative; differentiate with "
                             "respect to float arrays and leave it out of argnums", where)
        # configuration, fixed in the code
        return ArgSpec(name, None, None, static=static_value(a))
    if isinstance(a, (np.ndarray, np.generic)):
        arr = a
    elif duck_array(a):  # (a Dask array's shape and dtype, read without computing it)
        if not all(isinstance(d, int) for d in a.shape):
            raise InputError(f"{arg} has shape {a.shape}: a Dask array of unknown chunk "
                             f"sizes (nan); call {name}.compute_chunk_sizes() first", where)
        arr = a
    elif isinstance(a, (list, tuple, dict, set)):
        arr = _container_array(a, arg, name, wrt, where)
    else:
        try:
            arr = np.asarray(a)
        except Exception:  # noqa: BLE001 - anything unconvertible is the same user error
            arr = np.asarray(None)
    kind = arr.dtype.kind
    if kind == "f":
        return ArgSpec(name, tuple(arr.shape), arr.dtype)
    what = _KINDS.get(kind, str(arr.dtype))
    if kind == "c":
        raise InputError(f"{arg} has dtype {arr.dtype} (complex); symdiff differentiates "
                         f"real functions: pass {name}.real and {name}.imag as two float "
                         "arguments", where)
    if wrt:
        raise InputError(f"{arg} has dtype {arr.dtype} ({what}); gradients are taken with "
                         f"respect to real floating-point arrays: pass "
                         f"{name}.astype(np.float64)", where)
    if kind in "iub":
        return ArgSpec(name, tuple(arr.shape), arr.dtype)
    raise InputError(f"{arg} of type {type(a).__name__} (dtype {arr.dtype}, {what}) cannot "
                     "be traced; pass floats or NumPy arrays of numbers", where)


def duck_array(a) -> bool:
    """An array that states its shape and a NumPy dtype without being converted (Dask,
    CuPy): `np.asarray(a)` would compute a Dask array."""
    try:
        return isinstance(a.shape, tuple) and isinstance(a.dtype, np.dtype)
    except AttributeError:
        return False


def _container_array(a, arg: str, name: str, wrt: bool, where: str) -> np.ndarray:
    """A list/tuple of numbers as an array; containers of arrays are rejected."""
    what = type(a).__name__
    if isinstance(a, (dict, set)) or _holds_arrays(a):
        raise InputError(f"{arg} is a {what}{' of arrays' if _holds_arrays(a) else ''}; "
                         "symdiff traces arrays, not containers: pass each array as its own "
                         f"argument, or stack them into one (np.stack({name}))", where)
    if wrt:
        raise InputError(f"{arg} is a {what}; pass a NumPy array "
                         f"(np.asarray({name}, dtype=float))", where)
    try:
        return np.asarray(a)
    except ValueError:
        raise InputError(f"{arg} is a ragged {what} (its items differ in length); pass a "
                         "NumPy array, or each item as its own argument", where) from None


def _holds_arrays(a) -> bool:
    if isinstance(a, (list, tuple)):
        return any(isinstance(x, (np.ndarray, Tracer)) or _holds_arrays(x) for x in a)
    return False


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
    captured = _captured(fn)
    _check_captured(fn, captured)
    folder = LoopFolder(graph, unrolled, fn, enabled=fold)
    try:
        with _random_forbidden(), rebound_names(fn), dims.requirements() as required, \
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
    graph.outputs = [_output(fn, graph, result, returned_at or function_location(fn)).var]
    folder.check_escapes(graph)
    _name_captured_constants(captured, graph)
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
    sink: dict[str, Any] = {}
    returned_at: list[str] = []

    def profiler(frame, event, arg):
        if event == "return" and frame.f_code is code:
            sink.clear()
            sink.update(frame.f_locals)
            returned_at[:] = [f"{code.co_filename}:{frame.f_lineno}"]

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
    return result, sink, (returned_at[0] if returned_at else None)


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



# -- values a function reads from outside its arguments ------------------------------------
_RANDOM_TYPES = (np.random.Generator, np.random.RandomState)


def _name_captured_constants(captured: list, graph: Graph) -> None:
    """A constant equal to an array the function read from a global or closure (an
    entry of `_captured`) takes its name."""
    arrays = [(name, v) for name, _, v, _ in captured if isinstance(v, np.ndarray)]
    for g in [graph, *bodies(graph)]:
        for node in g.nodes:
            if node.op == CONST and node.out not in g.names:
                for name, value in arrays:
                    if value.shape == node.value.shape and value.dtype == node.value.dtype \
                            and np.array_equal(value, node.value,
                                               equal_nan=value.dtype.kind == "f"):
                        g.names[node.out] = name
                        break


def _check_captured(fn, captured: list) -> None:
    """Warn about captured arrays; refuse captured random generators (`captured`: what
    `_captured(fn)` found)."""
    qualname = getattr(fn, "__qualname__", repr(fn))
    for name, scope, value, where in captured:
        owner = getattr(value, "__self__", None) if callable(value) else None
        if isinstance(value, _RANDOM_TYPES) or isinstance(owner, _RANDOM_TYPES):
            raise TraceError(
                f"{qualname} draws random numbers through {name!r} (a {scope} "
                f"{type(owner if owner is not None else value).__name__}): a sample drawn "
                "while tracing would be baked into the generated code as a constant; draw "
                "the random values outside and pass them in as an argument", where)
        if isinstance(value, np.ndarray):
            _warn_captured(qualname, f"the {scope} array {name!r}", name, value, where)
        else:
            for path, array in _arrays_inside(value, name, _loaded_attributes(fn)):
                _warn_captured(qualname, f"{path}, an array inside the {scope} "
                               f"{type(value).__name__} {name!r},", path, array, where)
    owner = getattr(fn, "__self__", None)
    if inspect.ismethod(fn) and not isinstance(owner, type):
        self_name = next(iter(inspect.signature(fn.__func__).parameters), "self")
        for path, array in _arrays_inside(owner, self_name, _loaded_attributes(fn)):
            _warn_captured(qualname, f"{path} (an attribute of the bound object)", path,
                           array, function_location(fn))


def _warn_captured(qualname: str, what: str, name: str, value: np.ndarray, where: str):
    dtype = f"{value.dtype.name}{list(value.shape)}"
    filename, _, line = where.rpartition(":")
    warnings.warn_explicit(
        f"{where}: {qualname} reads {what} ({dtype}); its current value is baked into the "
        "generated code as a constant: no gradient flows to it and later changes to "
        f"{name} are not seen. Pass it as an argument if it should vary",
        CapturedArrayWarning, filename, int(line) if line.isdigit() else 0)


def _loaded_attributes(fn) -> set[str]:
    """Names `fn`'s code (and code nested in it) reads as attributes."""
    names: set[str] = set()
    todo = [getattr(fn, "__code__", None)]
    while todo:
        code = todo.pop()
        if code is not None:
            names.update(code.co_names)
            todo += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return names


def _arrays_inside(value, name: str, attributes: set[str]) -> list[tuple[str, np.ndarray]]:
    """(`name[key]` or `name.attr`, array) for the arrays one level inside a mutable
    container or object the traced code reads (attributes only those it names): their
    values, too, are baked into the generated code."""
    if isinstance(value, (list, tuple)):
        return [(f"{name}[{i}]", v) for i, v in enumerate(value[:1000])
                if isinstance(v, np.ndarray)]
    if isinstance(value, dict):
        return [(f"{name}[{k!r}]", v) for k, v in list(value.items())[:1000]
                if isinstance(v, np.ndarray)]
    if isinstance(value, (types.ModuleType, type, types.FunctionType, np.generic)) \
            or callable(value):
        return []
    fields = getattr(value, "__dict__", None)
    if not isinstance(fields, dict):
        return []
    return [(f"{name}.{k}", v) for k, v in fields.items()
            if k in attributes and isinstance(v, np.ndarray)]


def _captured(fn) -> list[tuple[str, str, Any, str]]:
    """(name, "global" or "closure", value, file:line) for each value from outside
    its arguments that `fn`'s code (and code nested in it) loads, first load only."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    cells = {}
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            cells[name] = cell.cell_contents
        except ValueError:  # an empty cell: assigned later in the enclosing function
            pass
    scopes = {"global": getattr(fn, "__globals__", {}), "closure": cells}
    found: dict[str, tuple[str, str, Any, str]] = {}

    def scan(c: types.CodeType) -> None:
        line = c.co_firstlineno
        for ins in dis.get_instructions(c):
            positions = getattr(ins, "positions", None)
            line = (positions.lineno if positions and positions.lineno else
                    ins.starts_line if isinstance(ins.starts_line, int) and
                    not isinstance(ins.starts_line, bool) else line)
            scope = {"LOAD_GLOBAL": "global", "LOAD_NAME": "global",
                     "LOAD_DEREF": "closure"}.get(ins.opname)
            if scope and ins.argval not in found and ins.argval in scopes[scope]:
                found[ins.argval] = (ins.argval, scope, scopes[scope][ins.argval],
                                     f"{c.co_filename}:{line}")
        for const in c.co_consts:
            if isinstance(const, types.CodeType):
                scan(const)

    scan(code)
    return list(found.values())


# -- random numbers while tracing ----------------------------------------------------------
_RANDOM_KEEP = {"BitGenerator", "Generator", "MT19937", "PCG64", "PCG64DXSM", "Philox",
                "SFC64", "SeedSequence", "get_state", "set_state", "get_bit_generator",
                "set_bit_generator"}
_random_lock = threading.Lock()
_random_saved: dict[str, Any] = {}
_random_users = [0]  # threads tracing now; np.random is patched while > 0
_tracing = threading.local()


class _random_forbidden:
    """While tracing, `np.random.<f>(...)` raises a TraceError in this thread (other
    threads get the real function); the module is restored afterwards, also on error."""

    def __enter__(self):
        with _random_lock:
            if _random_users[0] == 0:
                for name in getattr(np.random, "__all__", ()):
                    original = getattr(np.random, name, None)
                    if name not in _RANDOM_KEEP and callable(original):
                        _random_saved[name] = original
                        setattr(np.random, name, _guarded(name, original))
            _random_users[0] += 1
        _tracing.depth = getattr(_tracing, "depth", 0) + 1

    def __exit__(self, *exc):
        _tracing.depth -= 1
        with _random_lock:
            _random_users[0] -= 1
            if _random_users[0] == 0:
                for name, original in _random_saved.items():
                    setattr(np.random, name, original)
                _random_saved.clear()


def _guarded(name: str, original: Callable) -> Callable:
    def call(*args, **kwargs):
        if getattr(_tracing, "depth", 0):
            raise TraceError(
                f"np.random.{name}(...) called while tracing: its one sample would be baked "
                "into the generated code as a constant; draw the random values outside the "
                "function and pass them in as an argument", user_location())
        return original(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = original.__doc__
    call.__wrapped__ = original
    return call
