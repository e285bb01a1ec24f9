"""Branches and loops on traced values: compile time per function of the control-flow
table, and the run time of generated gradients against hand-written ones (medians of
paired ratios in one run; reported, never asserted).

    python benchmarks/control_flow.py
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests", "programs")]

import control_flow as cf  # noqa: E402

import symdiff  # noqa: E402


def compile_table() -> None:
    print("| function | code | paths or guards | compile (ms) | module lines |")
    print("|---|---|---|---|---|")
    for fn, argnums, points in cf.CASES + [(cf.bisection_sqrt, 0, [(2.0,)])]:
        start = time.perf_counter()
        compiled = symdiff.compile_gradient(fn, points[0], argnums)
        ms = (time.perf_counter() - start) * 1e3
        traced = compiled.traced
        kind = "guards" if traced.guarded else "if/else" if traced.branched else "straight"
        count = len(traced.paths) if traced.branched else len(traced.paths[0].decisions)
        print(f"| {fn.__name__} | {kind} | {count} | {ms:.0f} | "
              f"{compiled.source.count(chr(10))} |")


def hand_huber(r, delta):
    if abs(r) <= delta:
        return r, 0.0
    return delta * np.sign(r), abs(r) - delta


def hand_newton(a):
    """The derivative of Newton's iterates, carried forward by hand."""
    y, dy = a, 1.0
    while abs(y * y - a) > 1e-12 * a:
        y, dy = 0.5 * (y + a / y), 0.5 * (dy + 1.0 / y - a * dy / (y * y))
    return dy


def paired_ratio(pairs, repeats: int) -> float:
    """Median over rounds and points of time(generated) / time(hand), each pair
    (generated function, hand-written function, arguments) timed back to back."""
    ratios = []
    for _ in range(5):
        for generated, hand, args in pairs:
            t0 = time.perf_counter()
            for _ in range(repeats):
                generated(*args)
            t1 = time.perf_counter()
            for _ in range(repeats):
                hand(*args)
            t2 = time.perf_counter()
            ratios.append((t1 - t0) / (t2 - t1))
    return float(np.median(ratios))


def hand_softplus_regularised(w, X, y):
    z = X @ w
    t = -y * z
    dz = -y * np.exp(t - np.logaddexp(0.0, t)) / len(y)  # d mean(logaddexp(0, t)) / dz
    g = X.T @ dz
    norm = np.sqrt(np.sum(w**2))
    if norm < 1.0:
        return g
    return g + (norm - 1.0) * w / norm


def runtime() -> None:
    """Generated functions called directly (the decorator's own per-call cost, a few
    microseconds whatever the function, is not what is measured here)."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(2000, 20)), rng.choice([-1.0, 1.0], size=2000)
    w_in, w_out = 0.1 * rng.normal(size=20), rng.normal(size=20)
    cases = [
        ("huber, scalar (if/else, both sides)", cf.huber, (0, 1), hand_huber,
         [(-2.5, 1.0), (0.4, 1.0), (1.8, 1.0)]),
        ("softplus_regularised, X 2000x20 (if/else, both sides)", cf.softplus_regularised,
         0, hand_softplus_regularised, [(w_in, X, y), (w_out, X, y)]),
        ("newton_sqrt, scalar (guards, 2 iteration counts)", cf.newton_sqrt, 0,
         hand_newton, [(2.0,), (30.0,)]),
    ]
    print()
    print("| gradient | generated / hand-written (median of paired ratios) |")
    print("|---|---|")
    for name, fn, argnums, hand, points in cases:
        pairs = []
        for args in points:  # one module per path for a loop; one for every side otherwise
            run = symdiff.grad(fn, argnums=argnums).compile(*args).function("grad")
            np.testing.assert_allclose(run(*args), hand(*args), rtol=1e-10, atol=1e-12)
            pairs.append((run, hand, args))
        repeats = 20 if np.ndim(points[0][-1]) else 5000
        print(f"| {name} | {paired_ratio(pairs, repeats):.2f} |")


if __name__ == "__main__":
    compile_table()
    runtime()
