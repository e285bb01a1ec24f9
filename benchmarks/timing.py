"""Timing: timeit-style autorange, median and interquartile spread, time limits and
runs in a separate process (for work that may never finish)."""

from __future__ import annotations

import multiprocessing
import signal
import threading
import timeit
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Timing", "ratio", "measure", "measure_many", "time_limit", "TimeLimitExceeded", "run_isolated",
           "describe_error", "format_seconds"]


@dataclass(frozen=True)
class Timing:
    """Seconds per call over `repeats` repetitions of `number` calls each."""

    median: float
    q25: float
    q75: float
    number: int
    repeats: int
    samples: tuple[float, ...] = ()     # seconds per call, one per repetition, in order

    @property
    def iqr(self) -> float:
        return self.q75 - self.q25


def ratio(a: Timing, b: Timing) -> float:
    """How many times slower `a` is than `b`. For timings taken in the same interleaved
    rounds, the median of the per-round ratios, which cancels load that drifts between
    rounds; otherwise the ratio of the medians."""
    if a.samples and len(a.samples) == len(b.samples):
        return float(np.median(np.array(a.samples) / np.array(b.samples)))
    return a.median / b.median


def _timer(fn: Callable, args: Sequence[Any], clock: Callable[[], float] = timeit.default_timer
           ) -> timeit.Timer:
    """A timeit.Timer whose statement is the plain call ``f(a0, a1, ...)`` on locals,
    read with `clock` (wall time by default)."""
    names = [f"a{i}" for i in range(len(args))]
    setup = "; ".join(["f = _fn"] + [f"{n} = _args[{i}]" for i, n in enumerate(names)])
    stmt = f"f({', '.join(names)})"
    return timeit.Timer(stmt, setup, clock, globals={"_fn": fn, "_args": tuple(args)})


def _autorange(timer: timeit.Timer, min_time: float) -> int:
    """The smallest count in 1, 2, 5, 10, 20, ... whose total time is at least `min_time`."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            number = step * scale
            if timer.timeit(number) >= min_time:
                return number
        scale *= 10


def _summary(per_call: list[float], number: int) -> Timing:
    q25, median, q75 = np.percentile(per_call, [25, 50, 75])
    return Timing(float(median), float(q25), float(q75), number, len(per_call),
                  tuple(per_call))


def measure_many(calls: Sequence[tuple[Callable, Sequence[Any]]], min_time: float = 0.2,
                 repeats: int = 7, clock: Callable[[], float] = timeit.default_timer
                 ) -> list[Timing | BaseException]:
    """Time each ``fn(*args)`` in `calls`, interleaved so that a change in machine load
    hits every implementation alike (their ratios are what the report is about).

    Each loop count is autoranged first (which also warms up); then each of `repeats`
    rounds runs every loop once. Garbage collection is off while timing, as in timeit.
    A call that raises gets its exception in place of a Timing. `clock` may be
    `time.thread_time` (CPU time: a sub-microsecond call on a loaded machine is not
    billed for the time it waits for a core)."""
    timers = [_timer(fn, args, clock) for fn, args in calls]
    numbers: list[int | BaseException] = []
    for timer in timers:
        try:
            numbers.append(_autorange(timer, min_time))
        except Exception as exc:
            numbers.append(exc)
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for k, timer in enumerate(timers):
            number = numbers[k]
            if isinstance(number, BaseException):
                continue
            try:
                samples[k].append(timer.timeit(number) / number)
            except Exception as exc:
                numbers[k] = exc
    return [n if isinstance(n, BaseException) else _summary(s, n)
            for n, s in zip(numbers, samples)]


def measure(fn: Callable, args: Sequence[Any], min_time: float = 0.2,
            repeats: int = 7) -> Timing:
    """Time ``fn(*args)`` alone (see `measure_many`); exceptions propagate."""
    outcome = measure_many([(fn, args)], min_time, repeats)[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


class TimeLimitExceeded(BaseException):
    """Raised by `time_limit`. A BaseException, so that broad ``except Exception``
    clauses inside the code being limited (SymPy has some) cannot swallow it."""


@contextmanager
def time_limit(seconds: float | None):
    """Interrupt the body after `seconds` (SIGALRM; main thread on Unix, else no limit)."""
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise TimeLimitExceeded(f"did not finish in {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def describe_error(exc: BaseException) -> str:
    """``error: <ExceptionType>: <first line of the message>``."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    return f"error: {type(exc).__name__}: {first}" if first else f"error: {type(exc).__name__}"


def _child(conn, func: Callable, args: tuple) -> None:
    try:
        result = ("ok", func(*args))
    except BaseException as exc:  # report everything, including time limits
        result = ("error", describe_error(exc))
    conn.send(result)
    conn.close()


def run_isolated(func: Callable, args: tuple, timeout: float) -> tuple[str, Any]:
    """Run ``func(*args)`` in a fresh (spawned) process; kill it after `timeout` seconds.

    Returns ``("ok", value)`` or ``("error", message)``. `func` must be importable by
    name and its arguments and result picklable."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(sender, func, args), daemon=True)
    proc.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            return "error", f"did not finish in {timeout:g} s (process killed)"
        return receiver.recv()
    except EOFError:
        proc.join(5)
        return "error", f"worker process died (exit code {proc.exitcode})"
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        receiver.close()


def format_seconds(seconds: float, unit: str | None = None) -> str:
    """Format a duration in `unit` (ns, us, ms, s), or in the unit that suits it."""
    unit = unit or pick_unit(seconds)
    value = seconds / UNITS[unit]
    return f"{value:.3g} {UNIT_LABELS[unit]}" if value < 1000 else f"{value:,.0f} {UNIT_LABELS[unit]}"


UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
UNIT_LABELS = {"ns": "ns", "us": "µs", "ms": "ms", "s": "s"}


def pick_unit(seconds: float) -> str:
    """The largest unit in which `seconds` is at least 1."""
    for unit in ("s", "ms", "us"):
        if seconds >= UNITS[unit]:
            return unit
    return "ns"
