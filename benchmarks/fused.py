"""The fused backend's rows: symdiff's derivative with ``backend="numba"``, the
memory-copy bound, and the numba compile cost (first call in this process; first call
in a second process, which loads the kernels numba cached).

numba is optional: without it the row says "not installed".
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import time

import numpy as np

from .results import ProblemResult, Row, Settings, checked_row
from .symdiff_slot import fresh_copy, load_symdiff, raw_derivative
from .timing import TimeLimitExceeded, describe_error, run_isolated, time_limit

__all__ = ["bench_fused", "use_fresh_cache", "FUSED_LABEL", "COPY_LABEL", "TARGETS"]

#: problem -> (numba time ÷ the NumPy module's, numba time ÷ JAX jit(grad)): at most.
TARGETS = {"P2": (None, 1.0), "P3": (1.0, None), "P4": (1.0, None), "P5": (1.0, None),
           "P6": (None, 1.0), "P7": (0.2, 1.0), "P8": (1.0, None)}

FUSED_LABEL = "symdiff numba backend (raw generated)"
COPY_LABEL = "memory-copy bound (np.copy of every array argument)"


def use_fresh_cache() -> str:
    """A new directory for generated modules and numba's cache, so that the first call
    really compiles (a previous run's cache would hide it); kept if already set."""
    if not os.environ.get("SYMDIFF_CACHE_DIR"):
        os.environ["SYMDIFF_CACHE_DIR"] = tempfile.mkdtemp(prefix="symdiff-bench-cache-")
    return os.environ["SYMDIFF_CACHE_DIR"]


def _copy_bound(*args):
    return [np.copy(a) for a in args if isinstance(a, np.ndarray)]


#: Problems that also time the prange variant: large elementwise arrays.
PARALLEL = ("P2", "P6", "P7")


def _transform(symdiff, problem, fn, backend="numba"):
    make = symdiff.hessian if problem.kind == "hessian" else symdiff.grad
    return make(fn, argnums=problem.argnums, backend=backend)


def first_call(problem_name: str, preset: str, seed: int, limit: float) -> float:
    """In a worker process: trace, emit, load and call the numba derivative once (numba
    and symdiff imported beforehand, as in the first process)."""
    import numba  # noqa: F401

    import symdiff

    from .problems import PROBLEMS
    from .run import _rng

    problem = PROBLEMS[problem_name]
    case = problem.setup(preset, _rng(problem_name, Settings(seed=seed)))
    start = time.perf_counter()
    with time_limit(limit):
        _transform(symdiff, problem, case.forward)(*case.args)
    return time.perf_counter() - start


def bench_fused(result: ProblemResult, case, reference, settings: Settings) -> None:
    """Append the numba row (with its compile costs as a note) and the copy bound."""
    problem = result.problem
    symdiff, error = load_symdiff()
    if symdiff is None or importlib.util.find_spec("numba") is None:
        result.rows.append(Row(FUSED_LABEL, "numba", status=error or "not installed"))
        return
    try:
        fn = _transform(symdiff, problem, fresh_copy(case.forward))
        start = time.perf_counter()
        with time_limit(settings.compile_timeout):
            fn(*case.args)  # trace, emit, load, and numba compiles the kernels
        first = time.perf_counter() - start
        compiled = fn.compile(*case.args)
    except (Exception, TimeLimitExceeded) as exc:
        result.rows.append(Row(FUSED_LABEL, "numba", status=describe_error(exc)))
        return
    status, second = run_isolated(first_call, (problem.name, settings.preset, settings.seed,
                                               settings.compile_timeout),
                                  timeout=settings.compile_timeout + 60)
    second_note = f"{second:.3g} s" if status == "ok" else second
    kernels = compiled.source.count("@njit(") - compiled.source.count("def _accumulate")
    note = (f"{kernels} kernel(s) in the module; first call (trace, emit, numba compile) {first:.3g} s; "
            f"first call in a second process (numba's cache) {second_note}")
    result.rows.append(checked_row(FUSED_LABEL, "numba", raw_derivative(compiled, problem.kind),
                                   case.args, reference, settings, note))
    result.rows.append(checked_row(COPY_LABEL, "copy", _copy_bound, case.args, None, settings))
    result.fused_compile = (first, second if status == "ok" else None)
    if problem.name in PARALLEL:
        result.rows.append(_parallel_row(symdiff, problem, case, reference, settings))


def _parallel_row(symdiff, problem, case, reference, settings: Settings) -> Row:
    """The prange variant, on every core numba uses (not comparable with the one-thread
    rows: reported apart)."""
    import numba

    label = f"symdiff numba-parallel backend ({numba.get_num_threads()} threads)"
    try:
        fn = _transform(symdiff, problem, fresh_copy(case.forward), "numba-parallel")
        with time_limit(settings.compile_timeout):
            compiled = fn.compile(*case.args)
    except (Exception, TimeLimitExceeded) as exc:
        return Row(label, "numba-parallel", status=describe_error(exc))
    return checked_row(label, "numba-parallel", raw_derivative(compiled, problem.kind),
                       case.args, reference, settings)
