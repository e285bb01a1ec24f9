"""Time symdiff's generated gradients against hand-written NumPy and peers, in one run.

    python benchmarks/run.py                      # everything, writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick              # tiny sizes, a smoke test in seconds
    python benchmarks/run.py --only P1,P4
    python benchmarks/run.py --selfcheck          # hand-written derivatives vs finite differences

Timings are reported, never asserted: the exit status is 0 unless --selfcheck fails.
"""

from __future__ import annotations

import os
import sys


def _pin_threads() -> None:
    """One thread for BLAS, OpenMP and XLA. Must run before NumPy (or JAX) is imported."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[name] = "1"
    xla = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in xla:
        os.environ["XLA_FLAGS"] = (xla + " --xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1").strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


_pin_threads()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import zlib  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Appended, not prepended: an installed symdiff wins; the checkout's is the fallback.
    sys.path.append(str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.checks import selfcheck_case  # noqa: E402
from benchmarks.fused import bench_fused, use_fresh_cache  # noqa: E402
from benchmarks.peers import PEER_LABELS, PeerFailed, PeerUnavailable, prepare  # noqa: E402
from benchmarks.problems import DEFAULT_SELECTION, PROBLEMS  # noqa: E402
from benchmarks.report import load_average, machine_info, render  # noqa: E402
from benchmarks.results import ProblemResult, Row, Settings, checked_row, log, measure_rows  # noqa: E402
from benchmarks.symdiff_slot import bench_symdiff, depth_scan, load_symdiff  # noqa: E402
from benchmarks.timing import describe_error, format_seconds  # noqa: E402

ALL_PEERS = ("jax", "torch", "autograd", "sympy")
QUICK = dict(min_time=0.005, repeats=3, compile_repeats=1, sympy_timeout=10.0,
             depths=(10,), depth_limit=10.0)


# -- command line ---------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and few repeats: a smoke test, not a measurement")
    parser.add_argument("--only", help="comma-separated problems, e.g. P1,P4 (P5s = stable P5)")
    parser.add_argument("--out", help="Markdown output; '-' for none (default "
                                      "benchmarks/RESULTS.md, with --quick RESULTS-quick.md)")
    parser.add_argument("--selfcheck", action="store_true",
                        help="check the hand-written derivatives against finite differences")
    parser.add_argument("--stable-softmax", action="store_true",
                        help="P5 with the max-shifted logsumexp (needs np.max)")
    parser.add_argument("--peers", default=",".join(ALL_PEERS),
                        help="comma-separated subset of jax,torch,autograd,sympy, or 'none'")
    parser.add_argument("--no-symdiff", action="store_true", help="skip symdiff entirely")
    parser.add_argument("--no-numba", action="store_true",
                        help="skip symdiff's numba backend (and the memory-copy bound)")
    parser.add_argument("--repeats", type=int, help="timing repetitions (default 7)")
    parser.add_argument("--min-time", type=float, help="seconds per repetition (default 0.2)")
    parser.add_argument("--rtol", type=float, help="agreement tolerance (default 1e-6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dims", choices=("auto", "fixed"), default="auto",
                        help="symdiff's modules: auto (symbolic sizes, the decorators' "
                        "default) or fixed (one module per shape), to compare the two")
    parser.add_argument("--compile-timeout", type=float, help="seconds (default 120)")
    parser.add_argument("--sympy-timeout", type=float, help="seconds (default 30)")
    parser.add_argument("--depths", help="P6 depth scan, e.g. 10,50,200,1000, or 'none'")
    parser.add_argument("--depth-limit", type=float,
                        help="skip larger depths once one takes longer (default 30 s)")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """Defaults, then the --quick preset, then explicit options."""
    settings = Settings(preset="quick" if args.quick else "full", seed=args.seed,
                        symdiff=not args.no_symdiff, peers=_peer_list(args.peers),
                        numba=not args.no_numba, dims=args.dims)
    if args.quick:
        for name, value in QUICK.items():
            setattr(settings, name, value)
    for name in ("repeats", "min_time", "rtol", "compile_timeout", "sympy_timeout",
                 "depth_limit"):
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    if args.depths is not None:
        settings.depths = () if args.depths == "none" else \
            tuple(int(d) for d in args.depths.split(",") if d)
    return settings


def _peer_list(text: str) -> tuple[str, ...]:
    if text.strip() == "none":
        return ()
    peers = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = set(peers) - set(ALL_PEERS)
    if unknown:
        raise SystemExit(f"unknown peers: {', '.join(sorted(unknown))}")
    return peers


def selection(args: argparse.Namespace) -> list[str]:
    """Problem names to run, in order."""
    if args.only:
        spelled = {name.lower(): name for name in PROBLEMS}
        names = [spelled.get(n.strip().lower(), n.strip()) for n in args.only.split(",")
                 if n.strip()]
    elif args.selfcheck:
        names = list(PROBLEMS)
    else:
        names = list(DEFAULT_SELECTION)
    if args.stable_softmax:
        names = ["P5s" if n == "P5" else n for n in names]
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in PROBLEMS]
    if unknown:
        raise SystemExit(f"unknown problems: {', '.join(unknown)} (have {', '.join(PROBLEMS)})")
    return names


def _rng(name: str, settings: Settings) -> np.random.Generator:
    """The same inputs for a problem whatever else is selected."""
    return np.random.default_rng([settings.seed, zlib.crc32(name.encode())])


# -- one problem ----------------------------------------------------------------------------
def _log_row(name: str, row: Row) -> None:
    shown = format_seconds(row.timing.median) if row.timing else row.status
    log(f"  {name:4} {row.label:42} {shown}")


def peer_row(peer: str, problem, case, reference, settings: Settings) -> Row:
    """Build and check one peer; any failure becomes the row's status."""
    label, kind = PEER_LABELS.get((peer, problem.kind), peer), f"peer:{peer}"
    try:
        prepared = prepare(peer, problem, case, settings)
    except (PeerUnavailable, PeerFailed) as exc:
        return Row(label, kind, status=str(exc))
    except Exception as exc:
        return Row(label, kind, status=describe_error(exc))
    note = "; ".join(filter(None, [f"setup {prepared.setup_seconds:.3g} s", prepared.note]))
    return checked_row(label, kind, prepared.fn, prepared.args, reference, settings, note)


def bench_problem(name: str, settings: Settings) -> ProblemResult:
    """Forward, hand-written, symdiff and peers for one problem: build and check every
    implementation, then time them all together."""
    problem = PROBLEMS[name]
    case = problem.setup(settings.preset, _rng(name, settings))
    result = ProblemResult(problem, case.sizes)
    log(f"{name}: {problem.title} ({case.sizes})")
    reference = case.hand(*case.args)
    what = "Hessian" if problem.kind == "hessian" else "gradient"
    result.rows += [
        checked_row("NumPy forward (the traced function)", "forward", case.forward, case.args,
                    None, settings),
        checked_row(f"hand-written NumPy {what}", "hand", case.hand, case.args, None, settings),
    ]
    if settings.symdiff:
        bench_symdiff(result, case, reference, settings)
        if settings.numba:
            bench_fused(result, case, reference, settings)
    result.rows += [peer_row(peer, problem, case, reference, settings)
                    for peer in problem.peers if peer in settings.peers]
    measure_rows(result.rows, settings)
    for row in result.rows:
        _log_row(name, row)
    if name == "P6" and settings.symdiff and settings.depths and load_symdiff()[0]:
        result.depth_scan = depth_scan(case.args[0].size, settings)
    return result


# -- modes ----------------------------------------------------------------------------------
def run_selfcheck(names: list[str], settings: Settings) -> int:
    """Hand-written derivatives against central finite differences at small sizes."""
    failed = 0
    for name in names:
        problem = PROBLEMS[name]
        case = problem.setup("check", _rng(name, settings))
        for what, agreement in selfcheck_case(problem, case):
            failed += not agreement.ok
            verdict = "ok" if agreement.ok else "FAILED"
            print(f"{name:4} {case.sizes:48} {what:28} {verdict:6} {agreement.describe()}")
    print(f"selfcheck: {'all passed' if not failed else f'{failed} FAILED'}")
    return 1 if failed else 0


def _output_path(args: argparse.Namespace) -> Path | None:
    if args.out == "-":
        return None
    if args.out:
        return Path(args.out)
    return ROOT / "benchmarks" / ("RESULTS-quick.md" if args.quick else "RESULTS.md")


def _thread_limits():
    """threadpoolctl's limit to one thread if installed (covers BLAS loaded before us)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    settings = settings_from(args)
    names = selection(args)
    load_at_start = load_average()
    use_fresh_cache()  # the numba backend's first call then includes its compilation
    with _thread_limits():
        if args.selfcheck:
            return run_selfcheck(names, settings)
        results = [bench_problem(name, settings) for name in names]
        symdiff_module, symdiff_error = load_symdiff()
        info = machine_info(ROOT, symdiff_module, symdiff_error, load_at_start)
    command = " ".join(["python benchmarks/run.py", *argv])
    report = render(results, info, settings, command)
    print(report)
    out = _output_path(args)
    if out is not None:
        out.write_text(report, encoding="utf-8")
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
