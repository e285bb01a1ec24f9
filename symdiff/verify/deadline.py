"""A hard wall-clock limit for work that cannot check a clock itself (SymPy's simplify).

`run_with_deadline(work, seconds, fallback)` runs `work()` in a forked worker process
and returns its result; when the limit passes first, the worker is stopped (SIGTERM,
then SIGKILL) and `fallback(reason)` is returned instead (also when the worker dies or
its answer cannot be pickled). Ctrl-C in the parent stops the
worker before the KeyboardInterrupt propagates, so no worker outlives the call.
Where `fork` is not available (Windows; macOS defaults to spawn, but has fork) the
work runs in this process, bounded only by its own checks between steps.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["run_with_deadline", "can_fork"]

T = TypeVar("T")

#: Seconds a stopped worker gets to exit after SIGTERM before SIGKILL.
STOP_GRACE = 1.0


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def run_with_deadline(work: Callable[[], T], seconds: float,
                      fallback: Callable[[str], T]) -> T:
    """`work()` computed in a worker stopped after `seconds`; else `fallback(reason)`.
    An exception of `work` is raised here (as `RuntimeError` if it cannot be pickled)."""
    if not can_fork():
        return work()
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_serve, args=(work, sender), daemon=True)
    worker.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            return fallback(f"the work was stopped at its limit of {seconds:g} s")
        try:
            ok, value = receiver.recv()
        except EOFError:  # the worker died without an answer (killed, out of memory)
            return fallback("the worker process died")
    finally:
        _stop(worker)
        receiver.close()
    if ok is None:
        return fallback(value)
    if ok:
        return value
    raise value


def _serve(work: Callable[[], Any], sender) -> None:
    """In the worker: run `work`, send (True, result), (False, exception) or (None,
    why the answer cannot be sent)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        message = (True, work())
    except Exception as e:  # noqa: BLE001 - handed to the parent, which raises it
        message = (False, e)
    try:
        sender.send(message)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        sender.send((None, f"the answer could not be sent back ({e})"))
    sender.close()
    os._exit(0)  # skip the atexit handlers and buffers inherited from the parent


def _stop(worker) -> None:
    """Stop `worker` if it still runs, and reap it."""
    if worker.is_alive():
        worker.terminate()
        worker.join(STOP_GRACE)
    if worker.is_alive():
        worker.kill()
    worker.join()
