"""Typed errors. Every message says what went wrong, where, and what to do instead."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterable

import numpy as _np
import sympy as _sp

__all__ = [
    "SymdiffError",
    "TraceError",
    "UnsupportedOpError",
    "InputError",
    "ShapeError",
    "SymbolicDimError",
    "EmitError",
    "GradcheckError",
    "ExpressionError",
    "user_location",
    "traceback_location",
    "located",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_NUMPY_DIR = os.path.dirname(os.path.abspath(_np.__file__)) + os.sep
_SYMPY_DIR = os.path.dirname(os.path.abspath(_sp.__file__)) + os.sep


class SymdiffError(Exception):
    """Base class of every error symdiff raises on purpose."""

    def __init__(self, message: str, where: str | None = None):
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class TraceError(SymdiffError):
    """The function does something tracing cannot follow (e.g. `if` on a traced value)."""


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


class GradcheckError(SymdiffError):
    """An analytic gradient disagrees with central differences (`.report` has details)."""

    def __init__(self, message: str, report=None, where: str | None = None):
        self.report = report
        super().__init__(message, where)


class ExpressionError(SymdiffError, ValueError):
    """A derivative written as a string uses something outside the safe formula language."""


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


def _first_outside(frames: Iterable, internal: Callable[[str], bool] | None = None) -> str | None:
    """The one finder of the user's frame: `file:line` of the first of `frames`
    ((frame, line) pairs, innermost first) whose file is not `internal`."""
    internal = internal or _is_internal
    for frame, line in frames:
        if not internal(frame.f_code.co_filename):
            return f"{frame.f_code.co_filename}:{line}"
    return None


def _is_internal(filename: str) -> bool:
    path = os.path.abspath(filename)
    if path.startswith(_PACKAGE_DIR + os.sep):
        return True
    # NumPy's Python-level wrappers (np.mean, np.sum ...) sit between the user and us,
    # and SymPy's between a user's comparison of symbolic sizes and the error it raises.
    # (Their own directories: a user's project may well live in a folder named numpy.)
    return path.startswith(_NUMPY_DIR) or path.startswith(_SYMPY_DIR) or \
        filename.startswith("<__array_function__")
