"""What a run measures: settings, rows of timings, per-problem results, and the
check-then-time step shared by every implementation."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .checks import compare
from .timing import Timing, describe_error, measure_many, ratio

__all__ = ["Settings", "Row", "DepthPoint", "ProblemResult", "checked_row", "measure_rows",
           "samples_timing",
           "log"]


def log(message: str) -> None:
    """Progress goes to stderr; the final table goes to stdout."""
    print(message, file=sys.stderr, flush=True)


@dataclass
class Settings:
    """Run-wide options (see ``run.py --help``)."""

    preset: str = "full"
    min_time: float = 0.2           # seconds per timing repetition (autorange target)
    repeats: int = 7
    rtol: float = 1e-6              # agreement with the hand-written derivative
    seed: int = 0
    peers: tuple[str, ...] = ("jax", "torch", "autograd", "sympy")
    symdiff: bool = True
    numba: bool = True              # symdiff's numba backend and the memory-copy bound
    compile_repeats: int = 3
    compile_timeout: float = 120.0
    sympy_timeout: float = 30.0
    depths: tuple[int, ...] = (10, 50, 200, 1000)
    depth_limit: float = 30.0
    dims: str = "auto"              # symdiff's dims: "auto" (symbolic sizes) or "fixed"


@dataclass
class Row:
    """One implementation of one problem: a timing, or a status saying why there is none.

    kind: "forward", "hand", "symdiff", "symdiff-forward", "compile" or "peer"."""

    label: str
    kind: str
    timing: Timing | None = None
    status: str = ""
    note: str = ""
    pending: tuple | None = field(default=None, repr=False)   # (fn, args) awaiting timing


@dataclass
class DepthPoint:
    """symdiff compile time and generated module size for P6 at one depth."""

    depth: int
    seconds: float | None = None
    module_bytes: int | None = None
    module_lines: int | None = None
    status: str = ""


@dataclass
class ProblemResult:
    problem: Any
    sizes: str
    rows: list[Row] = field(default_factory=list)
    module_bytes: int | None = None
    module_lines: int | None = None
    depth_scan: list[DepthPoint] = field(default_factory=list)
    fused_compile: tuple | None = None  # numba backend: (first call, in a second process)

    def first(self, kind: str) -> Row | None:
        """The first row of `kind` (e.g. "hand", "forward", "symdiff")."""
        return next((r for r in self.rows if r.kind == kind), None)

    def seconds(self, kind: str) -> float | None:
        row = self.first(kind)
        return row.timing.median if row and row.timing else None

    def ratio(self, row: Row | None, kind: str) -> float | None:
        """`row`'s time over that of the first row of `kind` (see `timing.ratio`)."""
        reference = self.first(kind)
        if row is None or row.timing is None or reference is None or reference.timing is None:
            return None
        return ratio(row.timing, reference.timing)


def checked_row(label: str, kind: str, fn: Callable, args: tuple, reference: Any,
                settings: Settings, note: str = "") -> Row:
    """Call once and compare with `reference` (skipped when it is None). A row that
    agrees is left pending for `measure_rows`; failures become its status."""
    try:
        value = fn(*args)
    except Exception as exc:
        return Row(label, kind, status=describe_error(exc), note=note)
    if reference is not None:
        agreement = compare(value, reference, settings.rtol)
        if not agreement.ok:
            return Row(label, kind, status=f"disagrees with hand-written: "
                                           f"{agreement.describe()}", note=note)
        note = "; ".join(filter(None, [note, agreement.describe()]))
    return Row(label, kind, note=note, pending=(fn, tuple(args)))


def measure_rows(rows: list[Row], settings: Settings) -> None:
    """Time every pending row, interleaved (see `timing.measure_many`)."""
    pending = [row for row in rows if row.pending is not None]
    outcomes = measure_many([row.pending for row in pending], settings.min_time,
                            settings.repeats)
    for row, outcome in zip(pending, outcomes):
        if isinstance(outcome, Timing):
            row.timing = outcome
        else:
            row.status = describe_error(outcome)
        row.pending = None


def samples_timing(samples: list[float]) -> Timing:
    """A Timing from individually measured samples (one call each)."""
    q25, median, q75 = np.percentile(samples, [25, 50, 75])
    return Timing(float(median), float(q25), float(q75), 1, len(samples))
