"""A progress line on stderr for work that takes more than about a second.

Off by default, so the Python API prints nothing; `symdiff` (the CLI) turns it on
when stderr is a terminal and `--quiet` is not given, and a notebook or script can
ask for it with `symdiff.progress.enable()`. Work is announced with `task`, and long
loops may count their steps with `step`:

    with progress.task("verifying the gradient", total=len(points)):
        for p in points:
            ...
            progress.step()

Nothing is drawn for a task that ends within `DELAY` seconds. After that a
background thread redraws one line (`symdiff: tracing loss ... 3/20, 2.4 s`) a few
times a second, and clears it when the task ends, so the output of the command is
left as it would be without progress.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import TextIO

__all__ = ["enable", "disable", "enabled", "task", "step", "DELAY"]

#: Seconds a task runs before its progress line appears.
DELAY = 1.0
#: Seconds between redraws.
INTERVAL = 0.25

_state = threading.local()  # per thread: the stack of running tasks
_lock = threading.Lock()
_stream: TextIO | None = None


def enable(stream: TextIO | None = None) -> None:
    """Draw progress on `stream` (default: sys.stderr at the time of drawing)."""
    global _stream
    _stream = stream if stream is not None else _StderrProxy()


def disable() -> None:
    global _stream
    _stream = None


def enabled() -> bool:
    return _stream is not None


class _StderrProxy:
    """Whatever sys.stderr is when a line is drawn (tests replace it)."""

    def write(self, text: str) -> None:
        sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _Task:
    def __init__(self, label: str, total: int | None):
        self.label, self.total, self.done = label, total, 0
        self.start = time.monotonic()

    def line(self, outer: _Task | None = None) -> str:
        """`symdiff: OUTER: LABEL ... DONE/TOTAL, 2.4 s` (the time of the outermost task)."""
        count = f"{self.done}/{self.total}, " if self.total else \
            f"{self.done}, " if self.done else ""
        label = f"{outer.label}: {self.label}" if outer is not None and outer is not self \
            else self.label
        start = (outer or self).start
        return f"symdiff: {label} ... {count}{time.monotonic() - start:.1f} s"


@contextmanager
def task(label: str, total: int | None = None):
    """Announce a piece of work; a nested task shows as `outer: inner`."""
    if _stream is None:
        yield
        return
    stack = _tasks()
    current = _Task(label, total)
    stack.append(current)
    outermost = len(stack) == 1
    drawer = _Drawer(_stream, stack) if outermost else None
    try:
        yield
    finally:
        stack.pop()
        if drawer is not None:
            drawer.stop()


def step(n: int = 1) -> None:
    """Count `n` steps of the innermost task (nothing when progress is off)."""
    stack = _tasks() if _stream is not None else None
    if stack:
        stack[-1].done += n


def _tasks() -> list[_Task]:
    if not hasattr(_state, "stack"):
        _state.stack = []
    return _state.stack


class _Drawer:
    """The thread redrawing the line of the innermost task of `stack`."""

    def __init__(self, stream: TextIO, stack: list[_Task]):
        self.stream, self.stack = stream, stack
        self.done = threading.Event()
        self.drawn = 0  # width of the line on screen
        self.thread = threading.Thread(target=self._run, name="symdiff-progress", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        if self.done.wait(DELAY):
            return
        while not self.done.is_set():
            stack = list(self.stack)
            if stack:
                self._draw(stack[-1].line(stack[0]))
            self.done.wait(INTERVAL)

    def _draw(self, text: str) -> None:
        with _lock:
            pad = " " * max(0, self.drawn - len(text))
            self.stream.write("\r" + text + pad)
            self.stream.flush()
            self.drawn = len(text)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()
        if self.drawn:
            with _lock:
                self.stream.write("\r" + " " * self.drawn + "\r")
                self.stream.flush()
