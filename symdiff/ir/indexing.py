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
import sympy as sp

from . import dims

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
            out.append(_slice(it, n) if not dims.is_symbolic(n) else _symbolic_slice(it, n))
            continue
        if dims.is_symbolic(it):  # an index of sizes, x[n - 1]: within the axis, checked
            dims.require_nonnegative(it, f"the index {it}")
            dims.require_nonnegative(n - 1 - it, f"the index {it}")
            out.append(dims.canon(it))
            continue
        k = int(it)
        if dims.is_symbolic(n):  # k < n, and -n <= k for negatives: checked at run time
            dims.require_nonnegative(n - (k + 1 if k >= 0 else -k), f"index {k}")
            out.append(k if k >= 0 else dims.canon(n + k))
            continue
        if not -n <= k < n:
            raise IndexError(f"index {k} is out of bounds for axis {axis - 1} with size {n}")
        out.append(k % n)
    return tuple(out)


def _slice(s: slice, n: int) -> slice:
    start, stop, step = s.indices(n)
    if step < 0 and stop < 0:
        stop = None  # ran past the start: there is no int bound for that
    return slice(start, stop, step)


def _symbolic_slice(s: slice, n) -> slice:
    """A slice with int bounds over an axis of symbolic length `n`: bounds become
    expressions (`x[1:-1]` is `slice(1, n - 1, 1)`), and the sizes they need (n >= 2)
    are required of the arguments. A step k > 1 selects ceil((stop - start)/k)
    elements (`x[::2]` has (n + 1)//2); negative steps need a concrete size, but for
    the whole axis reversed (`x[::-1]`)."""
    start, stop = (None if b is None else dims.canon(b) for b in (s.start, s.stop))
    step = None if s.step is None else int(s.step)
    if step == -1 and start is None and stop is None:
        return slice(dims.canon(n - 1), None, -1)
    if step is not None and step < 1:
        dims.concrete(n, f"slices it with step {step}")
    start, stop = _from_start(start, n, 0), _from_start(stop, n, n)
    where = f"the slice [{_text(s)}]"
    for bound in (start, stop):  # (Python would clamp a bound past the end to n)
        dims.require_nonnegative(bound, where)
        dims.require_nonnegative(n - bound, where)
    dims.require_nonnegative(sp.sympify(stop) - start, where)
    return slice(start, stop, step or 1)


def _from_start(bound, n, default):
    """A slice bound counted from the start: a negative int counts from the end; an
    expression of sizes (x[:n - 1] with n from x.shape) is taken as it is."""
    if bound is None:
        return default
    return dims.canon(n + bound) if isinstance(bound, int) and bound < 0 else bound


def _text(s: slice) -> str:
    text = ":".join("" if b is None else dims.text(b) for b in (s.start, s.stop, s.step))
    return text[:-1] if text.endswith(":") else text


def materialize(index: tuple, arrays: Sequence) -> tuple:
    """The NumPy index: `IndexArg(k)` replaced by `arrays[k]`."""
    return tuple(arrays[e.k] if isinstance(e, IndexArg) else e for e in index)


def index_shape(shape: tuple[int, ...], array_shapes: Sequence[tuple[int, ...]],
                index: tuple) -> tuple[int, ...]:
    """Shape of ``x[index]`` for ``x`` of `shape`, asking NumPy on a zero-size stand-in
    (or, for symbolic shapes, by NumPy's rules written out)."""
    if dims.is_symbolic(tuple(shape)) or any(dims.is_symbolic(tuple(s)) for s in array_shapes):
        return _symbolic_index_shape(tuple(shape), array_shapes, index)
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


def slice_length(s: slice, n):
    """The number of elements a canonical slice selects from an axis of length n."""
    if not dims.is_symbolic(n) and not dims.is_symbolic(s.start) and \
            not dims.is_symbolic(s.stop):
        return len(range(n)[s])
    if s.step == -1:
        return dims.canon(s.start + 1)
    if s.step > 1:  # ceil((stop - start)/step), stop >= start being checked
        return dims.canon(sp.floor((s.stop - s.start + s.step - 1) / s.step))
    return dims.canon(s.stop - s.start)


def _symbolic_index_shape(shape: tuple, array_shapes: Sequence[tuple], index: tuple) -> tuple:
    """NumPy's indexing rule: basic entries give their lengths in place; the index
    arrays (and ints, when there are arrays) broadcast together, and their shape goes
    where the first of them stands when they are adjacent, else in front."""
    advanced = any(isinstance(e, IndexArg) for e in index)
    parts: list = []  # a dimension, or "adv" where an advanced index stands
    adv_shapes, adv_at, axis = [], [], 0
    for pos, e in enumerate(index):
        if e is None:
            parts.append(1)
            continue
        if isinstance(e, IndexArg) or (advanced and not isinstance(e, slice)):
            adv_shapes.append(tuple(array_shapes[e.k]) if isinstance(e, IndexArg) else ())
            adv_at.append(pos)
            parts.append("adv")
        elif isinstance(e, slice):
            parts.append(slice_length(e, shape[axis]))
        axis += 1
    parts += list(shape[axis:])
    if not adv_at:
        return tuple(parts)
    broadcast = dims.broadcast_shapes(*adv_shapes)
    basic = [p for p in parts if not (isinstance(p, str) and p == "adv")]
    if adv_at[-1] - adv_at[0] + 1 == len(adv_at):  # adjacent: in place of the first
        first = next(i for i, p in enumerate(parts) if isinstance(p, str) and p == "adv")
        before = [p for p in parts[:first] if not (isinstance(p, str) and p == "adv")]
        return tuple(before) + broadcast + tuple(basic[len(before):])
    return broadcast + tuple(basic)
