"""Peak memory and time of `symdiff emit` for a large batch: tracing needs shapes only.

    python -m benchmarks.emit_memory [--rows 200000000] [--features 10]

Runs `symdiff emit examples/logistic_regression.py:loss` in a fresh subprocess, once
with the rows fixed (`--shape X=ROWS,FEATURES`) and once symbolic (`--shape X=n,FEATURES`,
checked numerically at two small sizes), and reports each run's wall time and the peak
resident set size of the child (`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`, so
one child per measurement). The targets of issue 14: under 300 MB and 10 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_MB, TARGET_SECONDS = 300.0, 10.0


def _command(rows: str, features: int) -> list[str]:
    return [sys.executable, "-m", "symdiff", "emit", "examples/logistic_regression.py:loss",
            "--wrt", "w,b", "--shape", f"w={features}", "--shape", f"X={rows},{features}",
            "--shape", f"y={rows}"]


def measure(rows: str, features: int) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit status) of one `symdiff emit` in a child process.

    A measuring child runs the command as its own child, so that RUSAGE_CHILDREN of
    the measuring process sees exactly one run."""
    probe = ("import resource, subprocess, sys, time\n"
             "start = time.perf_counter()\n"
             f"status = subprocess.run({_command(rows, features)!r}, stdout=subprocess.DEVNULL,"
             " stderr=subprocess.PIPE).returncode\n"
             "seconds = time.perf_counter() - start\n"
             "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
             "print(seconds, rss, status)\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": ROOT})
    seconds, rss_kb, status = out.stdout.split()
    return float(seconds), int(rss_kb) / 1024, int(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000_000)
    parser.add_argument("--features", type=int, default=10)
    args = parser.parse_args(argv)
    ok = True
    print(f"{'shape of X':>24}  {'seconds':>8}  {'peak MB':>8}  status")
    for rows in (str(args.rows), "n"):
        seconds, mb, status = measure(rows, args.features)
        ok &= status == 0 and seconds < TARGET_SECONDS and mb < TARGET_MB
        print(f"{f'({rows}, {args.features})':>24}  {seconds:8.2f}  {mb:8.1f}  {status}")
    print(f"targets: < {TARGET_MB:g} MB and < {TARGET_SECONDS:g} s: "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
