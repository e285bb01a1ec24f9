"""What a traced value refuses: the conversions to a concrete value (bool, float,
int, a NumPy array, `.item()`) that only the generated code's run can know, and the
ndarray attributes symdiff does not trace, each with a typed error saying what to
write instead."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import TraceError, user_location
from .registry import _unsupported

__all__ = ["Refusals", "BOOL_HOOK"]

WHERE_HINT = "use np.where(condition, a, b) to choose between values elementwise"

#: `bool(tracer)` calls BOOL_HOOK[0](tracer) when set: control.py (if/while on traced
#: values) builds on the tracers, so it installs itself here rather than being imported.
BOOL_HOOK: list[Callable] = []


class Refusals:
    """The refusing half of `Tracer` (its base class)."""

    __slots__ = ()

    def __array__(self, dtype=None, copy=None):
        raise TraceError(
            "a traced value was converted to a concrete NumPy array (np.asarray/np.array, "
            "assignment into a NumPy array, a NumPy array indexed by a traced index, or a "
            "library outside NumPy); keep it a NumPy expression (np.stack to build arrays, "
            "y = np.zeros_like(x, shape=...) then y[i] = ... to fill one, one-hot rows "
            "np.eye(k)[labels] as labels[:, None] == np.arange(k)), e.g. " + WHERE_HINT,
            user_location())

    def __bool__(self):
        """`if`, `while`, `and`, `or`, `not` on a traced value: answered by the hook
        control.py installs (a branch of the trace, or a TraceError)."""
        if BOOL_HOOK:
            return BOOL_HOOK[0](self)
        raise TraceError(
            "Python control flow (`if`, `while`, `and`, `or`, `not`) or bool() on a traced "
            "value: its truth is only known when the generated code runs; keep it an array "
            "expression: " + WHERE_HINT
            + ", or branch on shapes and Python values instead", user_location())

    def _concrete(self, kind: str):
        raise TraceError(
            f"{kind}() of a traced value: the number is only known when the generated "
            "code runs; keep it an array expression (np.where for choices, x.astype(float)"
            " for casts; to fill an array with traced values, start from a traced one, "
            "e.g. y = np.zeros_like(x), or build it with np.stack)", user_location())

    def __float__(self):
        self._concrete("float")

    def __int__(self):
        self._concrete("int")

    def __index__(self):
        self._concrete("int")

    def __complex__(self):
        self._concrete("complex")

    def item(self, *args):
        self._concrete(".item")

    def tolist(self):
        self._concrete(".tolist")

    def __getattr__(self, name):
        """An ndarray attribute symdiff does not trace gets a typed error, not AttributeError."""
        if not name.startswith("__") and hasattr(np.ndarray, name):
            raise _unsupported(f"the array method .{name}", "method")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
