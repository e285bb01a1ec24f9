"""Compile time of symdiff on P1-P8 and on unrolled P6 at depths 10/100/1,000.

    python benchmarks/compile_time.py                      # prints a Markdown table
    python benchmarks/compile_time.py --depths 10,100 --repeats 3 --out FILE

Each row is the median of `--repeats` compiles (trace to loaded module) of a fresh
function object with SymPy's cache cleared, after one warm-up compile of the same
problem (imports and first-call costs are not compile time). Depths are compiled in
the same process, after a depth-1 warm-up. The machine and its load average are
recorded with the numbers: on a shared machine, a loaded run is slower, never faster.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import types

import numpy as np

if __package__ in (None, ""):  # run as a script: import the benchmarks package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"

from benchmarks.problems import PROBLEMS, make_iterated_map  # noqa: E402
from benchmarks.symdiff_slot import compile_once  # noqa: E402

#: Targets: P1-P5 and P8 under 0.2 s each, depth 1,000 of P6 under 4 s.
TARGETS = {"P1": 0.2, "P2": 0.2, "P3": 0.2, "P4": 0.2, "P5": 0.2, "P8": 0.2, 1000: 4.0}
SELECTION = ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8")


def median_compile(symdiff, problem, case, repeats: int) -> float:
    compile_once(symdiff, problem, case, limit=600)  # warm-up
    return statistics.median(compile_once(symdiff, problem, case, limit=600)[1]
                             for _ in range(repeats))


def problem_rows(symdiff, repeats: int) -> list[tuple[str, str, float]]:
    rows = []
    for name in SELECTION:
        problem = PROBLEMS[name]
        case = problem.setup("full", np.random.default_rng(0))
        rows.append((name, case.sizes, median_compile(symdiff, problem, case, repeats)))
        print(f"{name}: {rows[-1][2]:.3f} s", file=sys.stderr)
    return rows


def depth_rows(symdiff, depths, repeats: int) -> list[tuple[int, float, int]]:
    problem, x = PROBLEMS["P6"], np.random.default_rng(0).standard_normal(1000)
    compile_once(symdiff, problem, types.SimpleNamespace(forward=make_iterated_map(1),
                                                         args=(x,)), limit=600)
    rows = []
    for depth in depths:
        case = types.SimpleNamespace(forward=make_iterated_map(depth), args=(x,))
        times = []
        for _ in range(repeats if depth < 1000 else 1):
            compiled, seconds = compile_once(symdiff, problem, case, limit=600)
            times.append(seconds)
        rows.append((depth, statistics.median(times), compiled.source.count("\n")))
        print(f"P6 depth {depth}: {rows[-1][1]:.3f} s", file=sys.stderr)
    return rows


def report(problems, depths, load_before, load_after) -> str:
    lines = ["# symdiff compile time", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}; load average (1, 5, 15 min) before "
             f"{load_before}, after {load_after}.", "",
             "| problem | sizes | compile (s) | target (s) |", "|---|---|---|---|"]
    for name, sizes, seconds in problems:
        target = TARGETS.get(name)
        lines.append(f"| {name} | {sizes} | {seconds:.3f} | "
                     f"{f'< {target}' if target else '-'} |")
    lines += ["", "| P6 depth | compile (s) | s per step | module lines | target (s) |",
              "|---|---|---|---|---|"]
    for depth, seconds, n_lines in depths:
        target = TARGETS.get(depth)
        lines.append(f"| {depth:,} | {seconds:.3f} | {seconds / depth:.4f} | {n_lines} | "
                     f"{f'< {target}' if target else '-'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="10,100,1000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="problems, e.g. P1,P4 (default: P1-P8)")
    parser.add_argument("--out", default="-", help="write the table here ('-': stdout)")
    args = parser.parse_args(argv)
    import symdiff

    global SELECTION
    SELECTION = tuple(args.only.split(",")) if args.only else SELECTION
    depths = [int(d) for d in args.depths.split(",") if d] if args.depths != "none" else []
    before = tuple(round(v, 2) for v in os.getloadavg())
    problems = problem_rows(symdiff, args.repeats)
    depth_points = depth_rows(symdiff, depths, args.repeats)
    text = report(problems, depth_points, before, tuple(round(v, 2) for v in os.getloadavg()))
    if args.out == "-":
        print(text, end="")
    else:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
