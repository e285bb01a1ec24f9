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


def paired_ratio(generated, hand, points, repeats=2000) -> float:
    ratios = []
    for _ in range(5):
        for args in points:
            t0 = time.perf_counter()
            for _ in range(repeats):
                generated(*args)
            t1 = time.perf_counter()
            for _ in range(repeats):
                hand(*args)
            t2 = time.perf_counter()
            ratios.append((t1 - t0) / (t2 - t1))
    return float(np.median(ratios))


def runtime() -> None:
    huber = symdiff.grad(cf.huber, argnums=(0, 1))
    newton = symdiff.grad(cf.newton_sqrt)
    points = [(-2.5, 1.0), (0.4, 1.0), (1.8, 1.0)]
    for args in points:
        np.testing.assert_allclose(huber(*args), hand_huber(*args))
    roots = [(2.0,), (30.0,)]
    for args in roots:
        np.testing.assert_allclose(newton(*args), hand_newton(*args), rtol=1e-12)
    print()
    print("| gradient | generated / hand-written (median of paired ratios) |")
    print("|---|---|")
    print(f"| huber (if/else, both sides) | {paired_ratio(huber, hand_huber, points):.2f} |")
    print(f"| newton_sqrt (guards, 2 counts) | {paired_ratio(newton, hand_newton, roots):.2f} |")


if __name__ == "__main__":
    compile_table()
    runtime()
