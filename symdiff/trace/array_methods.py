"""The ndarray methods of tracers, in one place: `x.name(...)` as `np.name(x, ...)`.

Most are `method_of(np.name)`, the NumPy function's tracer implementation with `x`
first; the few whose signature or result differs from the function's (`x.sum`,
`x.reshape(2, 3)`, `x.astype`, `x.copy`, ...) are written out in `WrittenOut`. All are
installed on `Tracer` when the trace package is imported (`trace/__init__.py`).
"""

from __future__ import annotations

import numpy as np

from .registry import FUNCTIONS
from .tracer import VIEW_FUNCTIONS, Tracer, _new_array, _viewed, astype, transpose

__all__ = ["method_of", "WrittenOut"]


def method_of(func):
    """`x.name(...)` as `np.name(x, ...)`, whose tracer implementation is in FUNCTIONS."""
    def method(self, *args, **kwargs):
        result = FUNCTIONS[func](self, *args, **kwargs)
        if func not in VIEW_FUNCTIONS:
            return _new_array(result)
        return _viewed(self, result, lambda p: func(p, *args, **kwargs))

    method.__name__ = func.__name__
    method.__doc__ = f"As np.{func.__name__}(self, ...)."
    return method


class WrittenOut:
    """The methods written out, copied onto `Tracer` below (a namespace, never
    instantiated: tracer.py's builders make tracers, so Tracer cannot inherit from a
    module that imports them)."""

    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        return _new_array(FUNCTIONS[np.sum](self, axis=axis, dtype=dtype, out=out,
                                            keepdims=keepdims))

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        return _new_array(FUNCTIONS[np.mean](self, axis=axis, dtype=dtype, out=out,
                                             keepdims=keepdims))

    def reshape(self, *shape, order="C"):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return _viewed(self, FUNCTIONS[np.reshape](self, shape, order=order),
                       lambda p: np.reshape(p, shape, order=order))

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes
        axes = tuple(axes) if axes else None
        return _viewed(self, transpose(self, axes), lambda p: np.transpose(p, axes))

    def dot(self, other):
        return FUNCTIONS[np.dot](self, other)

    def astype(self, dtype, copy=True):
        result = astype(self, dtype)
        return _new_array(result) if copy else result

    def copy(self, order="C"):
        return _new_array(self)

    def __round__(self, ndigits=None):
        return FUNCTIONS[np.round](self, ndigits or 0)

    def flatten(self, order="C"):
        return _new_array(FUNCTIONS[np.ravel](self, order=order))

    def conj(self):
        return _new_array(self)

    conjugate = conj
    real = property(lambda self: self)


for _name in ("sum", "mean", "reshape", "transpose", "dot", "astype", "copy", "__round__",
              "flatten", "conj", "conjugate", "real"):
    setattr(Tracer, _name, WrittenOut.__dict__[_name])

for _func in (np.max, np.min, np.prod, np.var, np.std, np.clip, np.cumsum, np.cumprod,
              np.squeeze, np.swapaxes, np.repeat, np.round, np.trace, np.diagonal, np.ravel,
              np.all, np.any):
    setattr(Tracer, _func.__name__, method_of(_func))
