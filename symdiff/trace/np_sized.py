"""NumPy constructors called with a symbolic size in the traced function:
`np.eye(n)`, `np.identity(n)`, `np.tri(n)` and `np.arange(n)` where `n = X.shape[0]`.

Called with ints they are NumPy's own (constants of the trace). With a size they
build their arrays from `np.arange(n)` nodes of the running trace, so the module
holds for every n (`np.eye` as the cast mask `np.arange(n)[:, None] == np.arange(n)`).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, user_location
from ..ir import dims
from . import rebind
from .sizes import running_graph
from .structured import diagonal_mask, index_range
from .tracer import astype


def _sized(*args, **kwargs) -> bool:
    return running_graph() is not None and any(
        isinstance(a, dims.Size) for a in (*args, *kwargs.values()))


def _float(dtype) -> np.dtype:
    dtype = np.dtype(float if dtype is None else dtype)
    if dtype.kind != "f":
        raise InputError(f"an array of a symbolic size with dtype {dtype}: symdiff builds "
                         "such arrays in float (or fix that size with --shape)",
                         user_location())
    return dtype


def _eye(N, M=None, k=0, dtype=float, **kwargs):
    M = N if M is None else M
    return astype(diagonal_mask(running_graph(), dims.canon(N), dims.canon(M), int(k)),
                  _float(dtype))


def _identity(n, dtype=None, **kwargs):
    return _eye(n, dtype=float if dtype is None else dtype)


def _tri(N, M=None, k=0, dtype=float, **kwargs):
    M = N if M is None else M
    mask = diagonal_mask(running_graph(), dims.canon(N), dims.canon(M), int(k), lower=True)
    return mask if np.dtype(dtype) == bool else astype(mask, _float(dtype))


def _arange(*args, dtype=None, **kwargs):
    """np.arange(n) (or np.arange(0, n)) of a size: the ints 0..n-1; as floats with a
    float dtype."""
    if len(args) == 2 and isinstance(args[0], int) and args[0] == 0:
        args = args[1:]
    if len(args) != 1 or kwargs:
        dims.concrete(next(a for a in args if isinstance(a, dims.Size)).expr,
                      "takes np.arange with a start or step over it (np.arange(n) is "
                      "supported)")
    out = index_range(running_graph(), dims.canon(args[0]))
    return out if dtype is None or np.dtype(dtype).kind in "iu" else astype(out, _float(dtype))


for _real, _stand_in in ((np.eye, _eye), (np.identity, _identity), (np.tri, _tri),
                         (np.arange, _arange)):
    rebind.override(_real, rebind.pass_through(_real, _stand_in, _sized))
