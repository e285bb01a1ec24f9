"""The NumPy surface's tables (filled by `numpy_api` and its sections, read by the
Tracer class) and the errors for what tracing refuses, said one way everywhere."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import UnsupportedOpError, _is_internal, user_location

# Filled by numpy_api: NumPy ufunc / function -> implementation on tracers.
UFUNCS: dict[Any, Callable] = {}



FUNCTIONS: dict[Any, Callable] = {}
#: (ufunc, method) -> implementation of `ufunc.reduce(...)` etc. on tracers
UFUNC_METHODS: dict[tuple[Any, str], Callable] = {}
#: type -> resolver, for array types standing for traced values (np_constructs'
#: buffers): the resolver gives the Tracer, or a plain array when none is written yet
STAND_INS: dict[type, Callable] = {}



@functools.cache
def _internal_file(filename: str) -> bool:
    return _is_internal(filename)



def _public_name(func) -> str:
    mod = getattr(func, "__module__", "") or ""
    name = getattr(func, "__name__", repr(func))
    return f"linalg.{name}" if "linalg" in mod else name



#: what to register, by the kind of function without a rule (see docs/extending.md)
_REGISTRATIONS = {
    "elementwise": "teach it with symdiff.register_primitive({name}, derivatives=[...]) "
                   "(one partial derivative per argument, written in NumPy)",
    "structured": "teach it with symdiff.register_primitive({name}, shape=..., vjp=..., "
                  "numpy=...) (its output shape, its vector-Jacobian product written in "
                  "NumPy, and its printed form)",
    "method": "write it with supported functions (np.sum, np.max, np.cumsum ...)",
}


def _unsupported(name: str, kind: str = "structured") -> UnsupportedOpError:
    return UnsupportedOpError(
        f"{name} has no derivative rule in symdiff yet; "
        + _REGISTRATIONS[kind].format(name=name)
        + ", or rewrite it with supported NumPy operations (see docs/extending.md)",
        user_location())


def _ufunc_name(ufunc) -> str:
    """`np.sinc`, `scipy.special.jv`: where the user's code finds the ufunc."""
    name = ufunc.__name__
    if getattr(np, name, None) is ufunc:
        return f"np.{name}"
    special = sys.modules.get("scipy.special")
    if special is not None and getattr(special, name, None) is ufunc:
        return f"scipy.special.{name}"
    return name


def _no_kwargs(name: str, kwargs: dict, allowed=()) -> None:
    bad = sorted(k for k, v in kwargs.items() if k not in allowed and v is not None)
    if bad:
        raise UnsupportedOpError(f"{name}: argument(s) {', '.join(bad)} are not supported "
                                 "under tracing; drop them or compute the result another way",
                                 user_location())

