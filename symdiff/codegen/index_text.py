"""Subscripts as printed: a canonical index (`ir/indexing.py`) as its shortest
spelling, `x[1:, ::2, None, idx]`, with bounds on symbolic axes counted from the end."""

from __future__ import annotations

from collections.abc import Sequence

from ..ir import dims
from ..ir.indexing import IndexArg
from .literals import _format_entries

__all__ = ["format_index", "format_slice"]


def _bound(b, n) -> str:
    """An index or slice bound: `n - 1` on an axis of symbolic length n is `-1`."""
    if dims.is_symbolic(b) or dims.is_symbolic(n):
        offset = dims.canon(b - n)
        if isinstance(offset, int) and offset < 0:
            return str(offset)
    return dims.text(b)


def format_slice(s: slice, n: int) -> str:
    """The shortest spelling of a canonical slice over an axis of length n."""
    step = s.step
    if dims.is_symbolic(n) or dims.is_symbolic(s.start) or dims.is_symbolic(s.stop):
        if step < 0:  # only the whole axis reversed has a symbolic form
            return "::-1"
        start = "" if s.start == 0 else _bound(s.start, n)
        stop = "" if dims.equal(s.stop, n) else _bound(s.stop, n)
        return f"{start}:{stop}" if step == 1 else f"{start}:{stop}:{step}"
    if step > 0:
        start = "" if s.start == 0 else str(s.start)
        stop = "" if s.stop is None or s.stop >= n else str(s.stop)
    else:
        start = "" if s.start >= n - 1 else str(s.start)
        stop = "" if s.stop is None else str(s.stop)
    text = f"{start}:{stop}"
    return text if step == 1 else f"{text}:{step}"


def format_index(index: tuple, arrays: Sequence[str], shape: tuple[int, ...]) -> str:
    """``1:, ::2, None, idx`` for a canonical index (see `symdiff.indexing`)."""
    entries, axis = [], 0
    for e in index:
        if e is None:
            entries.append("None")
            continue
        if isinstance(e, IndexArg):
            entries.append(arrays[e.k])
        elif isinstance(e, slice):
            entries.append(format_slice(e, shape[axis]))
        else:
            entries.append(_bound(e, shape[axis]))
        axis += 1
    return _format_entries(entries)
