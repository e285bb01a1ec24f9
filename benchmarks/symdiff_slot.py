"""The symdiff slot: compile time, generated module size, the raw generated derivative,
the ``symdiff.grad(f)`` wrapper, the generated forward, and the P6 depth scan.

symdiff is work in progress, so every step is guarded: a failing import, compile or
call becomes ``error: <ExceptionType>: <first line>`` in the report and the run goes on.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from .results import DepthPoint, ProblemResult, Row, Settings, checked_row, log, samples_timing
from .timing import TimeLimitExceeded, describe_error, run_isolated, time_limit

__all__ = ["load_symdiff", "bench_symdiff", "depth_scan"]


def load_symdiff() -> tuple[Any, str]:
    """(the symdiff module, "") or (None, the error)."""
    try:
        import symdiff
    except Exception as exc:
        return None, describe_error(exc)
    return symdiff, ""


def fresh_copy(fn: Callable) -> Callable:
    """A new function object with the same code, so no per-function cache can hit."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                              fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__qualname__ = fn.__qualname__
    copy.__module__ = fn.__module__
    return copy


#: The `dims` every symdiff transform of a run gets (`run.py --dims`): "auto", the
#: decorators' default (modules for every size), or "fixed" (one module per shape).
DIMS = "auto"


def transform(symdiff, problem, fn: Callable):
    """``symdiff.grad(fn, argnums)``, or ``symdiff.hessian`` for Hessian problems."""
    make = symdiff.hessian if problem.kind == "hessian" else symdiff.grad
    return make(fn, argnums=problem.argnums, dims=DIMS)


def raw_derivative(compiled, kind: str) -> Callable:
    """The generated derivative function itself, without the wrapper's dispatch."""
    if kind == "hessian":
        if hasattr(compiled, "function"):
            return compiled.function("hessian")
        return compiled.hessian
    return compiled.grad


def _clear_sympy_cache() -> None:
    try:
        from sympy.core.cache import clear_cache
    except ImportError:
        return
    clear_cache()


def compile_once(symdiff, problem, case, limit: float) -> tuple[Any, float]:
    """Trace to loaded module for a fresh function object, with SymPy's cache cleared."""
    _clear_sympy_cache()
    fn = transform(symdiff, problem, fresh_copy(case.forward))
    start = time.perf_counter()
    with time_limit(limit):
        compiled = fn.compile(*case.args)
    return compiled, time.perf_counter() - start


def _compile_row(symdiff, problem, case, settings: Settings) -> tuple[Row, Any]:
    samples, compiled = [], None
    try:
        for _ in range(max(1, settings.compile_repeats)):
            compiled, seconds = compile_once(symdiff, problem, case, settings.compile_timeout)
            samples.append(seconds)
    except (Exception, TimeLimitExceeded) as exc:
        return Row("symdiff compile (trace to loaded module)", "compile",
                   status=describe_error(exc)), None
    note = f"fresh function each time, SymPy cache cleared; first {samples[0]:.3g} s"
    return Row("symdiff compile (trace to loaded module)", "compile",
               timing=samples_timing(samples), note=note), compiled


def bench_symdiff(result: ProblemResult, case, reference, settings: Settings) -> None:
    """Append symdiff's rows to `result`: compile, raw derivative, wrapper, forward."""
    global DIMS
    DIMS = settings.dims
    problem = result.problem
    what = "hessian" if problem.kind == "hessian" else "grad"
    symdiff, error = load_symdiff()
    if symdiff is None:
        result.rows.append(Row(f"symdiff {what}", "symdiff", status=error))
        return
    row, compiled = _compile_row(symdiff, problem, case, settings)
    result.rows.append(row)
    if compiled is not None:
        _module_size(result, compiled)
        result.rows.append(_guarded(f"symdiff {what} (raw generated)", "symdiff",
                                    lambda: raw_derivative(compiled, problem.kind),
                                    case, reference, settings))
    result.rows.append(_guarded(f"symdiff {what} (wrapper)", "symdiff-wrapper",
                                lambda: _warm_wrapper(symdiff, problem, case, settings),
                                case, reference, settings))
    if compiled is not None:
        value = case.forward(*case.args)
        result.rows.append(_guarded("symdiff forward (generated)", "symdiff-forward",
                                    lambda: compiled.forward, case, value, settings))


def _warm_wrapper(symdiff, problem, case, settings: Settings) -> Callable:
    """The wrapper, called once so that its compile is not timed."""
    fn = transform(symdiff, problem, fresh_copy(case.forward))
    with time_limit(settings.compile_timeout):
        fn(*case.args)
    return fn


def _guarded(label: str, kind: str, get: Callable[[], Callable], case, reference,
             settings: Settings) -> Row:
    try:
        fn = get()
    except (Exception, TimeLimitExceeded) as exc:
        return Row(label, kind, status=describe_error(exc))
    return checked_row(label, kind, fn, case.args, reference, settings)


def _module_size(result: ProblemResult, compiled) -> None:
    source = getattr(compiled, "source", None)
    if isinstance(source, str):
        result.module_bytes = len(source.encode())
        result.module_lines = source.count("\n")


# -- P6: compile time and module size against depth -----------------------------------------
def compile_depth(depth: int, n: int, limit: float) -> tuple[float, int, int]:
    """In a worker process: symdiff compile of P6 at `depth`, after a warm-up compile.

    Returns (seconds, module bytes, module lines)."""
    import symdiff

    from .problems import PROBLEMS, make_iterated_map

    problem = PROBLEMS["P6"]
    x = np.random.default_rng(0).standard_normal(n)
    warm = types.SimpleNamespace(forward=make_iterated_map(1), args=(x,))
    compile_once(symdiff, problem, warm, limit)
    case = types.SimpleNamespace(forward=make_iterated_map(depth), args=(x,))
    compiled, seconds = compile_once(symdiff, problem, case, limit)
    return seconds, len(compiled.source.encode()), compiled.source.count("\n")


def depth_scan(n: int, settings: Settings) -> list[DepthPoint]:
    """Compile P6 at each depth in a fresh process, each killed after 4x the depth limit;
    once one depth takes longer than the limit, larger depths are skipped."""
    points: list[DepthPoint] = []
    hard = 4 * settings.depth_limit
    for depth in settings.depths:
        reason = _skip_reason(points, settings.depth_limit)
        if reason:
            points.append(DepthPoint(depth, status=reason))
            continue
        status, value = run_isolated(compile_depth, (depth, n, hard), timeout=hard + 60)
        if status == "ok":
            seconds, size, lines = value
            points.append(DepthPoint(depth, seconds, size, lines))
        else:
            points.append(DepthPoint(depth, status=value))
        log(f"  P6 depth {depth}: {points[-1].status or f'{points[-1].seconds:.3g} s'}")
    return points


def _skip_reason(points: list[DepthPoint], limit: float) -> str:
    if not points:
        return ""
    last = points[-1]
    if last.seconds is None:
        return f"skipped: depth {last.depth} did not compile"
    if last.seconds > limit:
        return f"skipped: depth {last.depth} took more than {limit:g} s"
    return ""
