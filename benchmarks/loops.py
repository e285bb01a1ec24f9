"""Loops that stay loops (issue 15): compile times of time-stepping programs, module
size against the step count, P6 written as a loop (compile time at depth 10,000 and
its gradient against the hand-written one at n = 1e5).

    python benchmarks/loops.py            # prints a Markdown report
    python benchmarks/loops.py --quick    # small sizes: a smoke run in seconds

Timings are reported, never asserted. Ratios are medians of paired ratios (both
implementations timed in the same interleaved rounds, `timing.measure_many`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import sympy as sp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "tests"), ROOT]

import problems  # noqa: E402
import timing  # noqa: E402
from programs import euler, kalman, leapfrog, p6, rnn  # noqa: E402

import symdiff  # noqa: E402

#: name -> (function, make_inputs, argnums, steps in the issue)
PROGRAMS = {
    "Kalman filter log-likelihood": (kalman.kalman_loglik, kalman.make_inputs, (0,), 40),
    "leapfrog spring chain": (leapfrog.leapfrog_loss, leapfrog.make_inputs, (0, 1, 2), 100),
    "tanh RNN": (rnn.rnn_loss, rnn.make_inputs, (0, 1, 2, 3, 4), 50),
    "Euler steps of Lotka-Volterra": (euler.euler_loss, euler.make_inputs, (0, 1), 200),
}


#: Programs whose step count is the length of an argument: under the default
#: dims="auto" one module loops over the symbolic number of steps.
SYMBOLIC_STEPS = {
    "Kalman filter log-likelihood (range(y.shape[0]))": (kalman.kalman_loglik,
                                                         kalman.make_inputs, (0,)),
    "tanh RNN (for x in xs)": (rnn.rnn_loss, rnn.make_inputs, (0, 1, 2, 3, 4)),
    "Euler fit to observations (for z_obs in observed)": (euler.euler_fit_loss,
                                                          euler.make_fit_inputs, (0, 1)),
}


def compile_seconds(fn, args, argnums, repeats: int = 3, dims="auto") -> float:
    """Median time of `symdiff.grad(fn, argnums, dims=dims).compile(*args)`, from a
    fresh transform and SymPy's cache cleared each time (as benchmarks/run.py measures)."""
    times = []
    for _ in range(repeats):
        sp.core.cache.clear_cache()
        start = time.perf_counter()
        symdiff.grad(fn, argnums=argnums, dims=dims).compile(*args)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def lines(fn, args, argnums, dims="fixed") -> int:
    return len(symdiff.grad(fn, argnums=argnums, dims=dims).compile(*args).source.splitlines())


def programs_table(quick: bool) -> list[str]:
    rows = ["| program | steps | compile (median of 3, dims=\"auto\") | target | module "
            "lines at 10 / 1,000 fixed steps |", "|---|---|---|---|---|"]
    for name, (fn, make, argnums, steps) in PROGRAMS.items():
        seconds = compile_seconds(fn, make(steps), argnums, 1 if quick else 3)
        sizes = (lines(fn, make(10), argnums), lines(fn, make(100 if quick else 1000), argnums))
        rows.append(f"| {name} | {steps} | {seconds:.3f} s | < 2 s | {sizes[0]} / {sizes[1]} |")
    return rows


def symbolic_steps_table(quick: bool) -> list[str]:
    """One module per program for every step count: compile time, its size, and its
    gradient at two step counts it was not traced at (against the fixed-size module)."""
    rows = ["| program (steps symbolic) | compile (median of 3) | module lines | the loop | "
            "gradient at 10 / 1,000 steps equals the fixed-size module's |",
            "|---|---|---|---|---|"]
    for name, (fn, make, argnums) in SYMBOLIC_STEPS.items():
        seconds = compile_seconds(fn, make(40), argnums, 1 if quick else 3)
        compiled = symdiff.grad(fn, argnums=argnums).compile(*make(40))
        head = next(line.strip() for line in compiled.source.splitlines()
                    if line.strip().startswith("for ") and "reversed" not in line)
        same = []
        for steps in (10, 100 if quick else 1000):
            args = make(steps, seed=steps)
            fixed = symdiff.grad(fn, argnums=argnums, dims="fixed").compile(*args).grad(*args)
            mine = compiled.grad(*args)
            pairs = zip(mine, fixed) if isinstance(mine, tuple) else [(mine, fixed)]
            same.append(all(np.allclose(a, b, rtol=1e-9, atol=1e-12) for a, b in pairs))
        rows.append(f"| {name} | {seconds:.3f} s | {len(compiled.source.splitlines())} | "
                    f"`{head}` | {' / '.join('yes' if s else 'NO' for s in same)} |")
    return rows


def p6_table(quick: bool) -> list[str]:
    depth, n = (200, 1000) if quick else (10_000, 10**5)
    x = np.random.default_rng(0).standard_normal(n)
    seconds = compile_seconds(p6.p6, (x, depth), (0,), 1)
    sizes = [lines(p6.p6, (x[:5], d), (0,)) for d in (10, depth)]
    rows = ["| P6 as a loop | measured | target |", "|---|---|---|",
            f"| compile at depth {depth:,} | {seconds:.2f} s | < 10 s |",
            f"| module lines at depth 10 / {depth:,} | {sizes[0]} / {sizes[1]} | equal |"]
    depth = 4 if quick else 50
    compiled = symdiff.grad(p6.p6).compile(x, depth)
    generated = compiled.grad
    hand = problems.make_iterated_map_grad(depth)  # the benchmark suite's expert gradient
    stacked = p6.grad_p6_by_hand  # an expert's reverse mode: store the iterates
    assert np.allclose(generated(x, depth), hand(x), rtol=1e-10, atol=1e-12)
    runs = timing.measure_many([(generated, (x, depth)), (hand, (x,)), (stacked, (x, depth))],
                               repeats=3 if quick else 9)
    rows += [f"| gradient at n = {n:,}, depth {depth} vs hand-written (forward, in place) | "
             f"{timing.ratio(runs[0], runs[1]):.3f}x ({runs[0].median * 1e3:.1f} ms vs "
             f"{runs[1].median * 1e3:.1f} ms) | <= 1.15x |",
             f"| same vs hand-written reverse mode with a stack | "
             f"{timing.ratio(runs[0], runs[2]):.3f}x | |"]
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # (the Kalman filter's F is a captured constant)
    report = ["# Loops that stay loops", "", f"symdiff {symdiff.__version__}, "
              f"numpy {np.__version__}, sympy {sp.__version__}", "",
              *programs_table(args.quick), "", *symbolic_steps_table(args.quick), "",
              *p6_table(args.quick)]
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
