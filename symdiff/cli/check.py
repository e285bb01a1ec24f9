"""`symdiff check` and `symdiff gradcheck`, and the check `symdiff emit` runs before
writing: thin commands over `check_derivative`, `gradcheck` and `verify_compiled`.

    symdiff check FILE.py:f FILE.py:df [--wrt A,B] [--shape NAME=D0,D1 ...]
    symdiff check FILE.py:f --expect 'EXPR' [--expect 'EXPR' ...] [--wrt x]
    symdiff gradcheck FILE.py:f [--wrt A,B] [--shape NAME=D0,D1 ...]

Exit status: 0 PROVED, AGREES or passed; 1 REFUTED or failed (or a symdiff error);
2 usage errors, a formula outside the safe language among them.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .. import progress
from ..errors import ExpressionError, GradcheckError
from ..ir import dims
from ..trace.args import ArgSpec, ShapeDtype
from ..trace.symbolic import instantiate, small_sizes
from ..verify.hand import POINTS, check_derivative
from ..verify.numerical import gradcheck as run_gradcheck
from ..verify.numerical import sample_args, verify_compiled
from .args import UsageError, _add_inputs, _conventional_example, _inputs, _wrt, argnums_of, load_function

__all__ = ["add_commands", "verify_emitted", "SEED"]

#: Seed of the random points: the same command gives the same answer.
SEED = 0

CHECK_EXAMPLES = """\
examples:
  symdiff check examples/hand_derived.py:loss1 examples/hand_derived.py:right1 --wrt w,b
  symdiff check examples/polynomial.py:y --expect '6*x + 4'
  symdiff check examples/hand_derived.py:loss2 wrong2 --wrt w2,w1,b   # exit 1

exit status: 0 PROVED or AGREES, 1 REFUTED (or a symdiff error), 2 usage error.
"""

GRADCHECK_EXAMPLES = """\
examples:
  symdiff gradcheck examples/polynomial.py:f
  symdiff gradcheck examples/logistic_regression.py:loss --wrt w,b --shape w=3 \\
      --shape X=100,3 --shape y=100

exit status: 0 passed, 1 failed (or a symdiff error), 2 usage error.
"""


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Register `check` and `gradcheck` on the subparsers of `symdiff`."""
    check = sub.add_parser(
        "check", parents=[common], epilog=CHECK_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="prove or refute a derivative worked out by hand",
        description="Compare a derivative worked out by hand with symdiff's: PROVED (the "
        "symbolic difference simplifies to 0), AGREES (equal at random points, no proof) "
        "or REFUTED (the difference and a counterexample).")
    _add_inputs(check)
    check.add_argument("derivative", nargs="?", metavar="FILE.py:DF",
                       help="your derivative: a function of the same arguments returning "
                       "one value per --wrt parameter (a bare DF is looked up in FILE.py)")
    check.add_argument("--expect", action="append", default=[], metavar="EXPR",
                       help="your derivative as a formula over the parameters (numbers, "
                       "+ - * / **, exp, log, sqrt, sin, cos, tanh, sigmoid, abs ...); "
                       "one per --wrt parameter")
    check.add_argument("--points", type=_positive, default=POINTS,
                       help=f"random points to compare at (default {POINTS})")
    check.set_defaults(run=_cmd_check)
    grad = sub.add_parser(
        "gradcheck", parents=[common], epilog=GRADCHECK_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="check symdiff's gradient of a function against central differences",
        description="Compare symdiff's gradient with central differences at a random "
        "point (uniform in [0.5, 1.5), or the arguments of --example).")
    _add_inputs(grad)
    grad.set_defaults(run=_cmd_gradcheck)


def _cmd_check(ns) -> int:
    fn, path = load_function(ns.target)
    params, args = _point(fn, ns)
    wrt = _wrt(fn, params, ns.wrt)
    df = _derivative(ns, path, wrt)
    argnums = argnums_of(params, wrt)
    try:
        with progress.task(f"checking your derivative of {fn.__name__}"):
            result = check_derivative(fn, df, *args, argnums=argnums, points=ns.points,
                                      seed=SEED)
    except ExpressionError as e:
        raise UsageError(f"--expect: {e.message}") from None  # (no file: a command-line text)
    print(result)
    return 0 if result.ok else 1


def _cmd_gradcheck(ns) -> int:
    fn, _ = load_function(ns.target)
    params, args = _point(fn, ns)
    argnums = argnums_of(params, _wrt(fn, params, ns.wrt))
    with progress.task(f"checking the gradient of {fn.__name__} against central differences"):
        report = run_gradcheck(fn, *args, argnums=argnums, seed=SEED)
    print(report)
    return 0 if report.passed else 1


#: Fixed sizes with more elements than this are not checked numerically (the check
#: would allocate and difference arrays of that size); symbolic ones always are, at
#: small sizes.
MAX_VERIFY_ELEMENTS = 1 << 20


def verify_emitted(compiled, fn, example=None) -> None:
    """Gradcheck a generated module at random arguments in [0.5, 1.5) (fixed seed),
    differencing the user's `fn`; on failure print the report and raise. Symbolic
    dimensions are checked at two different small sizes each; fixed sizes only when
    the arguments are small (else a note on stderr says so). A module specialised to
    the path of its `example` arguments is checked there."""
    if compiled.traced is not None and compiled.traced.guarded and example is not None:
        report = verify_compiled(compiled, example, fn=fn)
        if not report.passed:
            print(report, file=sys.stderr)
            raise GradcheckError(f"{report.summary()}. Nothing was written; --no-verify "
                                 "writes the module anyway", report=report)
        return
    specs = compiled.specs
    symbolic = any(s.traced and dims.is_symbolic(s.shape) for s in specs)
    required = compiled.graph.requirements
    points = [instantiate(specs, small_sizes(specs, v, required)) for v in (0, 1)] if symbolic \
        else [specs]
    total = sum(int(np.prod(s.shape)) for s in points[0] if s.traced)
    if total > MAX_VERIFY_ELEMENTS:
        print(f"symdiff emit: not checked numerically: the arguments have {total} elements "
              "(declare the large sizes symbolic, e.g. --shape X=n,10, to check the module "
              "at small sizes)", file=sys.stderr)
        return
    for point in points:
        report = verify_compiled(compiled, sample_args(point, seed=SEED), fn=fn)
        if not report.passed:
            print(report, file=sys.stderr)
            raise GradcheckError(f"{report.summary()}. Nothing was written; --no-verify "
                                 "writes the module anyway", report=report)


# -- helpers ---------------------------------------------------------------------------
def _point(fn, ns) -> tuple[list[str], list]:
    """Parameter names and the point: the arguments of an example function when there
    is one, else random floats of the requested shapes in [0.5, 1.5)."""
    params, args, _ = _inputs(fn, ns)
    if ns.example or (not ns.shape and not ns.dtype and _conventional_example(fn)):
        return params, args
    rng = np.random.default_rng(SEED)
    sizes = small_sizes([ArgSpec(p, a.shape, np.dtype(a.dtype)) for p, a in zip(params, args)
                         if isinstance(a, ShapeDtype)], 0)  # symbolic sizes: small ones
    return params, [_random_like(a, rng, sizes) for a in args]


def _positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of points >= 1")
    return n


def _random_like(a, rng, sizes):
    if isinstance(a, float):
        return float(rng.uniform(0.5, 1.5))
    if isinstance(a, ShapeDtype):
        a = np.zeros(dims.instantiate(a.shape, sizes), dtype=a.dtype)
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return rng.uniform(0.5, 1.5, a.shape).astype(a.dtype)
    return a


def _derivative(ns, path: str, wrt: list[str]):
    """The user's derivative: a loaded function or the --expect formulas."""
    if ns.derivative and ns.expect:
        raise UsageError("give the derivative once: FILE.py:DF or --expect, not both")
    if ns.derivative:
        target = ns.derivative if ":" in ns.derivative else f"{path}:{ns.derivative}"
        return load_function(target)[0]
    if not ns.expect:
        raise UsageError("give your derivative: FILE.py:DF, or --expect 'EXPR'")
    if len(ns.expect) != len(wrt):
        raise UsageError(f"{len(ns.expect)} --expect formula(s) for {len(wrt)} --wrt "
                             f"parameter(s) ({', '.join(wrt)}); give one per parameter, in "
                             "the same order")
    return ns.expect[0] if len(wrt) == 1 else list(ns.expect)

