"""Compile time of symdiff on P1-P8 and on unrolled P6 at depths 10/100/1,000.

    python benchmarks/compile_time.py                      # prints a Markdown table
    python benchmarks/compile_time.py --depths 10,100 --repeats 3 --out FILE
    python benchmarks/compile_time.py --only none --depths 1000 --p6 loop

Each row is the median of `--repeats` compiles (trace to loaded module) of a fresh
function object with SymPy's cache cleared, after one warm-up compile of the same
problem (imports and first-call costs are not compile time). Depths are compiled in
the same process, after a depth-1 warm-up. The machine and its load average are
recorded with the numbers: on a shared machine, a loaded run is slower, never faster;
the CPU time of the process is recorded beside the wall time for that reason.

P6 at depth d is by default written out: a module (in a temporary directory) whose
function has d statements ``x = np.sin(x) * x + np.cos(x)`` and no loop, the program a
straight-line model of d layers is; `--p6 loop` compiles the `for` loop of
`problems.make_iterated_map`, which symdiff keeps as a loop (constant compile time).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import time
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


def timed_compile(symdiff, problem, case) -> tuple[object, float, float]:
    """(module, wall seconds, CPU seconds) of one compile."""
    cpu = time.process_time()
    compiled, wall = compile_once(symdiff, problem, case, limit=600)
    return compiled, wall, time.process_time() - cpu


def median_compile(symdiff, problem, case, repeats: int) -> tuple[float, float]:
    compile_once(symdiff, problem, case, limit=600)  # warm-up
    times = [timed_compile(symdiff, problem, case)[1:] for _ in range(repeats)]
    return (statistics.median(t[0] for t in times), statistics.median(t[1] for t in times))


def make_unrolled_map(depth: int, directory: str):
    """`make_iterated_map(depth)` written out as `depth` statements, no loop, in a module
    file of its own (the generated comments quote its lines)."""
    name = f"unrolled_p6_{depth}"
    path = os.path.join(directory, name + ".py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("import numpy as np\n\n\ndef unrolled_map(x):\n"
                 + "    x = np.sin(x) * x + np.cos(x)\n" * depth + "    return np.sum(x)\n")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.unrolled_map


def problem_rows(symdiff, repeats: int) -> list[tuple[str, str, float]]:
    rows = []
    for name in SELECTION:
        problem = PROBLEMS[name]
        case = problem.setup("full", np.random.default_rng(0))
        rows.append((name, case.sizes, *median_compile(symdiff, problem, case, repeats)))
        print(f"{name}: {rows[-1][2]:.3f} s", file=sys.stderr)
    return rows


def depth_rows(symdiff, depths, repeats: int, form: str = "unrolled") -> list[tuple]:
    problem, x = PROBLEMS["P6"], np.random.default_rng(0).standard_normal(1000)
    directory = tempfile.mkdtemp(prefix="symdiff-p6-")
    make = make_iterated_map if form == "loop" else \
        (lambda depth: make_unrolled_map(depth, directory))
    compile_once(symdiff, problem, types.SimpleNamespace(forward=make(1), args=(x,)), limit=600)
    rows = []
    for depth in depths:
        case = types.SimpleNamespace(forward=make(depth), args=(x,))
        times = []
        for _ in range(repeats if depth < 1000 else 1):
            compiled, wall, cpu = timed_compile(symdiff, problem, case)
            times.append((wall, cpu))
        rows.append((depth, statistics.median(t[0] for t in times),
                     statistics.median(t[1] for t in times), compiled.source.count("\n")))
        print(f"P6 depth {depth}: {rows[-1][1]:.3f} s", file=sys.stderr)
    return rows


def report(problems, depths, load_before, load_after, form: str = "unrolled") -> str:
    lines = ["# symdiff compile time", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}; load average (1, 5, 15 min) before "
             f"{load_before}, after {load_after}.", "",
             "| problem | sizes | compile (s) | CPU (s) | target (s) |",
             "|---|---|---|---|---|"]
    for name, sizes, seconds, cpu in problems:
        target = TARGETS.get(name)
        lines.append(f"| {name} | {sizes} | {seconds:.3f} | {cpu:.3f} | "
                     f"{f'< {target}' if target else '-'} |")
    lines += ["", f"| P6 depth ({form}) | compile (s) | CPU (s) | CPU s per step "
              "| module lines | target (s) |", "|---|---|---|---|---|---|"]
    for depth, seconds, cpu, n_lines in depths:
        target = TARGETS.get(depth)
        lines.append(f"| {depth:,} | {seconds:.3f} | {cpu:.3f} | {cpu / depth:.4f} | "
                     f"{n_lines} | {f'< {target}' if target else '-'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="10,100,1000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="problems, e.g. P1,P4, or none (default: P1-P8)")
    parser.add_argument("--p6", choices=("unrolled", "loop"), default="unrolled",
                        help="depth rows: P6 written out (default) or as a for loop")
    parser.add_argument("--out", default="-", help="write the table here ('-': stdout)")
    args = parser.parse_args(argv)
    import symdiff

    global SELECTION
    SELECTION = tuple(args.only.split(",")) if args.only else SELECTION
    SELECTION = () if SELECTION == ("none",) else SELECTION
    depths = [int(d) for d in args.depths.split(",") if d] if args.depths != "none" else []
    before = tuple(round(v, 2) for v in os.getloadavg())
    problems = problem_rows(symdiff, args.repeats)
    depth_points = depth_rows(symdiff, depths, args.repeats, args.p6)
    text = report(problems, depth_points, before, tuple(round(v, 2) for v in os.getloadavg()),
                  args.p6)
    if args.out == "-":
        print(text, end="")
    else:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
