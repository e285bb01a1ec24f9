"""Values a traced function reads from outside its arguments: arrays from a closure, a
global or a bound object (constants of the generated code, so tracing warns with
`CapturedArrayWarning` and names the constants after them), random generators (refused),
and `np.random` functions called while tracing (refused: one sample would be baked in)."""

from __future__ import annotations

import dis
import inspect
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import TraceError, user_location
from ..ir.graph import CONST, Graph
from ..ir.loops import bodies
from .args import function_location

__all__ = ["CapturedArrayWarning", "captured_values", "check_captured",
           "name_captured_constants", "random_forbidden"]


class CapturedArrayWarning(UserWarning):
    """A traced function reads a NumPy array from a closure or a global: its value at
    compile time is baked into the generated code as a constant."""


_RANDOM_TYPES = (np.random.Generator, np.random.RandomState)


def name_captured_constants(captured: list, graph: Graph) -> None:
    """A constant equal to an array the function read from a global or closure (an
    entry of `captured_values`) takes its name."""
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


def check_captured(fn, captured: list) -> None:
    """Warn about captured arrays; refuse captured random generators (`captured`: what
    `captured_values(fn)` found)."""
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


def captured_values(fn) -> list[tuple[str, str, Any, str]]:
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


class random_forbidden:
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
