"""Python's cyclic garbage collector, run less often while a module is compiled.

A compile builds a great many small SymPy objects that live until it ends. CPython
collects its youngest generation every 700 net allocations and, after every hundred
such collections, may traverse every object of the process: three of those full
passes were a tenth of the compile of unrolled P6 at depth 1,000 (0.25 s of 2.5 s,
measured with `gc.callbacks`). While a compile runs, the youngest generation's threshold
is raised, as mypy does for its whole run; garbage in cycles is still collected, and
the thresholds are restored after.
"""

from __future__ import annotations

import contextlib
import gc

__all__ = ["fewer_collections", "YOUNG_THRESHOLD"]

#: The youngest generation's threshold during a compile (CPython's default is 700).
YOUNG_THRESHOLD = 20_000


@contextlib.contextmanager
def fewer_collections():
    """Within this context, the collector's youngest threshold is at least
    `YOUNG_THRESHOLD` (unless automatic collection is off: a threshold of 0)."""
    before = gc.get_threshold()
    if before[0] == 0 or before[0] >= YOUNG_THRESHOLD:  # (off, or an outer compile's)
        yield
        return
    gc.set_threshold(YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
