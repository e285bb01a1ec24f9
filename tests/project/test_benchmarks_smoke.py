"""The benchmark runner at tiny sizes: every problem compiles and agrees with the
hand-written derivative. A smoke test only: no timing is asserted."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository


def run(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_hand_written_baselines_match_finite_differences():
    res = run("--selfcheck")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]


def test_benchmark_runner_quick_smoke():
    res = run("--quick", "--peers", "none", "--out", "-", "--depths", "10")
    assert res.returncode == 0, res.stderr[-2000:]
    symdiff_rows = [line for line in res.stdout.splitlines() if line.startswith("| symdiff")]
    assert len(symdiff_rows) >= 8 * 3, res.stdout[-3000:]  # compile, raw, wrapper per problem
    bad = [line for line in symdiff_rows if re.search(r"\berror\b|disagrees", line)]
    assert not bad, bad
