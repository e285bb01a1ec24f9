"""symdiff's own work, run without the loop folder's trace hook.

The loop folder (trace/loops.py) sets a trace function for the whole trace, to see the
user's loops run. While a trace function is set, CPython runs every frame without its
specialised instructions, and SymPy's construction of the traced expressions, most of
a trace's time, took about three times as long. The tracer's own operations run user
code of no loop, so they take the hook off while they run and put it back after.
Another trace function (a debugger, coverage) stays on: the folder is off then anyway.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

__all__ = ["without_loop_hook"]

F = TypeVar("F", bound=Callable)


def without_loop_hook(fn: F) -> F:
    """`fn`, run with the loop folder's trace function off (a hook that says it may be
    suspended: `suspendable` on the object of its bound method)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        hook = sys.gettrace()
        if hook is None or not getattr(getattr(hook, "__self__", None), "suspendable", False):
            return fn(*args, **kwargs)
        sys.settrace(None)
        try:
            return fn(*args, **kwargs)
        finally:
            sys.settrace(hook)

    return run  # type: ignore[return-value]
