"""Index expressions in canonical form, for the `index`, `scatter_add` and
`index_update` primitives.

An index is a tuple of entries, one of: a `slice` with int bounds (``stop`` None
when a negative step runs past the start), a non-negative `int`, `None` (a new
axis), or `IndexArg(k)` standing for the k-th integer index array, which is an
operand of the node (a traced array or a constant). Ellipsis is expanded and
boolean masks have become integer arrays before this point, so two spellings of
the same selection are the same entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["IndexArg", "canonical", "materialize", "index_shape", "is_basic", "is_full",
           "reshaping_inverse"]


@dataclass(frozen=True)
class IndexArg:
    """The k-th index-array operand of an indexing node."""

    k: int

    def __repr__(self) -> str:
        return f"IndexArg({self.k})"


def _consumes(item) -> int:
    return 0 if item is None else 1


def canonical(items: Sequence, shape: tuple[int, ...]) -> tuple:
    """Expand Ellipsis and normalize slices and ints against `shape`.

    Raises IndexError (with NumPy's wording) for too many indices or an int out of
    range."""
    items = list(items)
    n_ellipsis = sum(1 for it in items if it is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(_consumes(it) for it in items if it is not Ellipsis)
    if used > len(shape):
        raise IndexError(f"too many indices for array: array is {len(shape)}-dimensional, "
                         f"but {used} were indexed")
    if n_ellipsis:
        at = items.index(Ellipsis)
        items[at:at + 1] = [slice(None)] * (len(shape) - used)
    out, axis = [], 0
    for it in items:
        if it is None or isinstance(it, IndexArg):
            out.append(it)
            axis += it is not None
            continue
        n = shape[axis]
        axis += 1
        if isinstance(it, slice):
            out.append(_slice(it, n))
            continue
        k = int(it)
        if not -n <= k < n:
            raise IndexError(f"index {k} is out of bounds for axis {axis - 1} with size {n}")
        out.append(k % n)
    return tuple(out)


def _slice(s: slice, n: int) -> slice:
    start, stop, step = s.indices(n)
    if step < 0 and stop < 0:
        stop = None  # ran past the start: there is no int bound for that
    return slice(start, stop, step)


def materialize(index: tuple, arrays: Sequence) -> tuple:
    """The NumPy index: `IndexArg(k)` replaced by `arrays[k]`."""
    return tuple(arrays[e.k] if isinstance(e, IndexArg) else e for e in index)


def index_shape(shape: tuple[int, ...], array_shapes: Sequence[tuple[int, ...]],
                index: tuple) -> tuple[int, ...]:
    """Shape of ``x[index]`` for ``x`` of `shape`, asking NumPy on a zero-size stand-in."""
    probe = np.broadcast_to(np.empty((), np.int8), shape)
    arrays = [np.zeros(s, dtype=np.intp) for s in array_shapes]
    return tuple(probe[materialize(index, arrays)].shape)


def is_basic(index: tuple) -> bool:
    """No index arrays: a view in NumPy, every element selected at most once."""
    return not any(isinstance(e, IndexArg) for e in index)


def is_full(index: tuple, shape: tuple[int, ...]) -> bool:
    """Every entry a slice over a whole axis in either direction (a flip or nothing):
    the index is then its own inverse."""
    if len(index) != len(shape):
        return False
    for e, n in zip(index, shape):
        if not isinstance(e, slice):
            return False
        if (e.start, e.stop, e.step) not in ((0, n, 1), (n - 1, None, -1)):
            return False
    return True


def reshaping_inverse(index: tuple, shape: tuple[int, ...]) -> tuple | None:
    """For an index that only inserts axes (None), drops axes of length 1 (an int) and
    keeps whole axes (``x[:, None]``, ``x[0]`` of a (1, n) array), the index of its
    result that gives `x` back (``y[:, 0]``, ``y[None]``); None for any other index."""
    inverse, axis = [], 0
    for e in index:
        if e is None:
            inverse.append(0)
        elif isinstance(e, slice) and (e.start, e.stop, e.step) == (0, shape[axis], 1):
            inverse.append(e)
            axis += 1
        elif isinstance(e, int) and shape[axis] == 1:
            inverse.append(None)
            axis += 1
        else:
            return None
    return tuple(inverse)
