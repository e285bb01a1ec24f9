"""Typed errors. Every message says what went wrong, where, and what to do instead."""

from __future__ import annotations

import functools
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterable

import numpy as _np
import sympy as _sp

__all__ = [
    "SymdiffError",
    "TraceError",
    "BranchError",
    "UnsupportedOpError",
    "InputError",
    "ShapeError",
    "SymbolicDimError",
    "EmitError",
    "ArrayAPIError",
    "GradcheckError",
    "ExpressionError",
    "user_location",
    "traceback_location",
    "raised_in_symdiff",
    "located",
    "recording_trace_errors",
    "forgive",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_NUMPY_DIR = os.path.dirname(os.path.abspath(_np.__file__)) + os.sep
_SYMPY_DIR = os.path.dirname(os.path.abspath(_sp.__file__)) + os.sep


class SymdiffError(Exception):
    """Base class of every error symdiff raises on purpose."""

    def __init__(self, message: str, where: str | None = None):
        self.where, self.message = where, message
        super().__init__(f"{where}: {message}" if where else message)


class TraceError(SymdiffError):
    """The function does something tracing cannot follow (e.g. `if` on a traced value).

    A TraceError poisons the trace it belongs to: if the user's code catches it
    (``try: ... except Exception: pass``) and returns normally, the trace fails with it
    anyway (`recording_trace_errors`), since what follows was computed from a value
    tracing could not give."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(message, where)
        stack = getattr(_traces, "stack", None)
        if stack:
            stack[-1].append(self)


class BranchError(TraceError):
    """Python control flow on traced values that symdiff cannot follow (the truth of
    an array, recursion, sides returning different types, a guard without values)."""


class SymbolicDimError(TraceError, TypeError):
    """A program needs the concrete value of a symbolic dimension (`range(n)`, a
    reshape that the sizes do not determine)."""

    def __init__(self, dim: str, what: str, where: str | None = None, holders: str = "",
                 fix: str = "--shape ARG=...,<size>,..."):
        self.dims = tuple(name.strip() for name in dim.split(","))
        self.what = what
        super().__init__(
            f"the size{'s' * (len(self.dims) > 1)} {dim}{holders} "
            f"{'are' if len(self.dims) > 1 else 'is'} symbolic, but the program {what}; fix "
            f"that dimension to a number: symdiff emit {fix} (or dims={{...}} with an int in "
            "its place in the Python API)", where)


class UnsupportedOpError(TraceError):
    """A NumPy function or operator that has no derivative rule."""


class InputError(SymdiffError, TypeError):
    """An argument cannot be differentiated (integer, complex, object, ...)."""


class ShapeError(SymdiffError, ValueError):
    """Shapes do not fit together."""


class EmitError(SymdiffError):
    """Code generation met something it cannot print."""


class ArrayAPIError(EmitError):
    """An op the Array API standard lacks, in a module asked for in Array-API mode
    (`symdiff emit --xp`, `xp=True`) when symdiff has no lowering of it."""


class GradcheckError(SymdiffError):
    """An analytic gradient disagrees with central differences (`.report` has details)."""

    def __init__(self, message: str, report=None, where: str | None = None):
        self.report = report
        super().__init__(message, where)


class ExpressionError(SymdiffError, ValueError):
    """A derivative written as a string uses something outside the safe formula language."""


_traces = threading.local()  # .stack: one list of TraceErrors per trace in progress


class recording_trace_errors:
    """Within this context (one trace), every TraceError created is recorded; on a
    normal exit the first one is raised again, even if the traced code caught it.
    symdiff code that catches a TraceError on purpose passes it to `forgive`."""

    def __enter__(self) -> list:
        if not hasattr(_traces, "stack"):
            _traces.stack = []
        _traces.stack.append([])
        return _traces.stack[-1]

    def __exit__(self, kind, value, tb):
        raised = _traces.stack.pop()
        if not raised or (kind is not None and not issubclass(kind, Exception)):
            return False
        if kind is None:
            error = raised[0]
            if hasattr(error, "add_note"):  # Python 3.11+
                error.add_note("(raised while tracing and caught by the traced code: the "
                               "values after it cannot be traced, so compiling fails)")
            raise error
        if not isinstance(value, SymdiffError):
            # NumPy (or the user) turned our error into its own, such as the ValueError
            # "setting an array element with a sequence": ours says what and where
            raise raised[0] from value
        return False


def forgive(error: TraceError) -> None:
    """Unrecord `error`: symdiff caught it on purpose and traced another way."""
    stack = getattr(_traces, "stack", None)
    if stack and error in stack[-1]:
        stack[-1].remove(error)


_LOCATION_OVERRIDE: list[str | None] = []


class located:
    """Within this context, new nodes are attributed to `loc` (used by differentiation,
    whose nodes belong to the source line they differentiate)."""

    def __init__(self, loc: str | None):
        self.loc = loc

    def __enter__(self):
        _LOCATION_OVERRIDE.append(self.loc)

    def __exit__(self, *exc):
        _LOCATION_OVERRIDE.pop()


def user_location() -> str | None:
    """`file:line` of the innermost stack frame outside the symdiff package and NumPy."""
    if _LOCATION_OVERRIDE:
        return _LOCATION_OVERRIDE[-1]
    return _first_outside(traceback.walk_stack(sys._getframe(1)))


def traceback_location(tb, internal: Callable[[str], bool] | None = None) -> str | None:
    """`file:line` of the innermost frame of traceback `tb` outside the symdiff package
    and NumPy (or outside the files `internal` accepts)."""
    return _first_outside(reversed(list(traceback.walk_tb(tb))), internal or _is_internal)


def raised_in_symdiff(tb) -> bool:
    """Whether the innermost frame of traceback `tb` outside NumPy and SymPy is in the
    symdiff package: the exception came from symdiff's own code (or a library it
    called), not from the user's."""
    for frame, _ in reversed(list(traceback.walk_tb(tb))):
        path = os.path.abspath(frame.f_code.co_filename)
        if not (path.startswith(_NUMPY_DIR) or path.startswith(_SYMPY_DIR)):
            return path.startswith(_PACKAGE_DIR + os.sep)
    return False


def _first_outside(frames: Iterable, internal: Callable[[str], bool] | None = None) -> str | None:
    """The one finder of the user's frame: `file:line` of the first of `frames`
    ((frame, line) pairs, innermost first) whose file is not `internal`."""
    internal = internal or _is_internal
    for frame, line in frames:
        if not internal(frame.f_code.co_filename):
            return f"{frame.f_code.co_filename}:{line}"
    return None


def _is_internal(filename: str) -> bool:
    if filename.startswith("<__array_function__"):
        return True
    # (asked for every frame of every traced operation: the answer per file is kept)
    return _is_internal_path(filename if os.path.isabs(filename) else os.path.abspath(filename))


@functools.lru_cache(maxsize=1024)
def _is_internal_path(filename: str) -> bool:
    path = os.path.normpath(filename)
    if path.startswith(_PACKAGE_DIR + os.sep):
        return True
    # NumPy's Python-level wrappers (np.mean, np.sum ...) sit between the user and us,
    # and SymPy's between a user's comparison of symbolic sizes and the error it raises.
    # (Their own directories: a user's project may well live in a folder named numpy.)
    return path.startswith(_NUMPY_DIR) or path.startswith(_SYMPY_DIR)
