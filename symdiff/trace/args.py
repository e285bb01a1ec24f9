"""Arguments of a traced function: what tracing sees of each (`ArgSpec`, `describe_args`
and its typed errors for values that cannot be traced), the parameter names, and the one
normaliser of `argnums` every transform and check uses."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError, TraceError, user_location
from ..ir import dims
from .tracer import Tracer

__all__ = ["ArgSpec", "ShapeDtype", "describe_args", "function_location", "normalize_argnums",
           "parameter_names", "static_value", "duck_array"]



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
