"""The cost of calling a transform: `symdiff.grad(f)(x)` against the generated function
it dispatches to and against the hand-written derivative, as medians of paired ratios.

    python benchmarks/call_overhead.py                  # CPU time per call (thread_time)
    python benchmarks/call_overhead.py --wall --repeats 21

Cases: P1 (the scalar polynomial at a Python float), tiny arrays through the one-argument
fast path (P2 at n = 3, P7 at n = 4), and P3 at n = 4 (four arguments: the general path,
keyed by `_cache_key`). All three implementations of a case run interleaved round by
round; each ratio is the median of the per-round ratios. The targets (issue 18) are the
public call within 1.3x the generated function and P1 within 1.5x the hand-written
derivative; the numbers are printed, never asserted. The default clock is the thread's
CPU time, so that waiting for a core on a shared machine is not counted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import timeit

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.problems import (  # noqa: E402
    linreg_mse,
    linreg_mse_grad,
    mean_square,
    mean_square_grad,
    polynomial,
    polynomial_grad,
    rosenbrock,
    rosenbrock_grad,
)
from benchmarks.timing import measure_many, ratio  # noqa: E402


def cases(rng) -> list[tuple[str, object, object, tuple, object]]:
    """(label, function, hand-written gradient, arguments, argnums)."""
    x3, x4, y4 = rng.standard_normal(3), rng.standard_normal(4), rng.standard_normal(4)
    return [("P1 x = 2.0", polynomial, polynomial_grad, (2.0,), 0),
            ("P2 n = 3", mean_square, mean_square_grad, (x3,), 0),
            ("P7 n = 4", rosenbrock, rosenbrock_grad, (x4,), 0),
            ("P3 n = 4 (4 arguments)", linreg_mse, linreg_mse_grad, (0.5, -0.25, x4, y4),
             (0, 1))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--min-time", type=float, default=0.05)
    parser.add_argument("--wall", action="store_true", help="wall time instead of CPU time")
    args = parser.parse_args(argv)
    import symdiff

    clock = timeit.default_timer if args.wall else time.thread_time
    print(f"load average {tuple(round(v, 2) for v in os.getloadavg())}, clock "
          f"{'wall' if args.wall else 'thread CPU time'}, {args.repeats} rounds")
    print("| case | hand (ns) | generated (ns) | public (ns) | public / generated "
          "| public / hand |")
    print("|---|---|---|---|---|---|")
    for label, fn, hand, a, argnums in cases(np.random.default_rng(0)):
        public = symdiff.grad(fn, argnums=argnums)
        generated = public.compile(*a).grad
        want = hand(*a)
        for got in (public(*a), generated(*a)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        t_hand, t_gen, t_pub = measure_many([(hand, a), (generated, a), (public, a)],
                                            args.min_time, args.repeats, clock)
        print(f"| {label} | {t_hand.median * 1e9:.0f} | {t_gen.median * 1e9:.0f} | "
              f"{t_pub.median * 1e9:.0f} | {ratio(t_pub, t_gen):.2f} | "
              f"{ratio(t_pub, t_hand):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
