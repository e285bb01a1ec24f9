"""Random NumPy programs: symdiff's value against NumPy, its gradient against finite
differences (programs and checks in fuzz_strategies.py).

Two Hypothesis profiles, chosen by the environment variable SYMDIFF_FUZZ_PROFILE:

- ``ci`` (default): 300 programs, derandomized (the same programs every run),
  stopping at the first disagreement and shrinking it to a minimal program;
- ``long``: SYMDIFF_FUZZ_EXAMPLES programs (default 10,000) from seed SYMDIFF_FUZZ_SEED
  (default 0); every disagreement is collected rather than raised, and the run is recorded
  in tests/fuzz_long_result.md, or the file SYMDIFF_FUZZ_RECORD names (count, failures
  with their programs, time, seed, transforms); shards of one run use different seeds::

      SYMDIFF_FUZZ_PROFILE=long python -m pytest tests/api/test_fuzz.py -q

Every disagreement found becomes a test in test_fuzz_regressions.py.
"""

import collections
import os
import platform
import time

import numpy as np
import pytest
import sympy
from fuzz_strategies import check, programs, unary_ops, unfuzzed
from hypothesis import HealthCheck, Phase, given, seed, settings

PROFILE = os.environ.get("SYMDIFF_FUZZ_PROFILE", "ci")
SEED = int(os.environ.get("SYMDIFF_FUZZ_SEED", "0"))
EXAMPLES = int(os.environ.get("SYMDIFF_FUZZ_EXAMPLES", "10000"))
RESULT_FILE = os.environ.get("SYMDIFF_FUZZ_RECORD") or os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "fuzz_long_result.md")

settings.register_profile(
    "symdiff-fuzz-ci", max_examples=300, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck), print_blob=True)
settings.register_profile(
    "symdiff-fuzz-long", max_examples=EXAMPLES, deadline=None, database=None,
    phases=[Phase.generate], suppress_health_check=list(HealthCheck))


@pytest.mark.skipif(PROFILE != "ci", reason="SYMDIFF_FUZZ_PROFILE is not ci")
@settings(settings.get_profile("symdiff-fuzz-ci"))
@given(programs())
def test_random_programs_agree_with_numpy_and_finite_differences(program):
    problem = check(program)
    assert problem is None, f"{program!r}\n{problem}"


@pytest.mark.skipif(PROFILE != "long", reason="SYMDIFF_FUZZ_PROFILE is not long")
def test_long_profile_and_record_the_result():
    outcomes = []

    @seed(SEED)
    @settings(settings.get_profile("symdiff-fuzz-long"))
    @given(programs())
    def run(program):
        outcomes.append((program, check(program)))

    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    failures = [(p, problem) for p, problem in outcomes if problem is not None]
    _record(outcomes, failures, elapsed)
    assert not failures, f"{len(failures)} failing programs; see {RESULT_FILE}"


def _record(outcomes, failures, elapsed: float) -> None:
    ops = collections.Counter(op for p, _ in outcomes for op in p.ops)
    sizes = collections.Counter(len(p.ops) for p, _ in outcomes)
    transforms = collections.Counter(p.transform for p, _ in outcomes)
    distinct = len({p.source for p, _ in outcomes})
    lines = [
        "# Long fuzzing profile: last result",
        "",
        "Random NumPy programs (tests/fuzz_strategies.py and tests/fuzz_widening.py), each",
        "compiled with `symdiff.value_and_grad` (one in six small float64 programs through",
        "jacobian, hessian, vjp, jvp or hvp instead; kink programs by one-sided differences);",
        "the value is compared with NumPy running the original function (or its stable",
        "reference form), the gradient with 4-point central differences. Reproduce with:",
        "",
        f"    SYMDIFF_FUZZ_PROFILE=long SYMDIFF_FUZZ_SEED={SEED} python -m pytest "
        "tests/api/test_fuzz.py -q",
        "",
        f"- programs checked: {len(outcomes)} ({distinct} distinct sources)",
        f"- failures: {len(failures)}",
        f"- time: {elapsed:.0f} s ({elapsed / max(len(outcomes), 1) * 1000:.0f} ms per program)",
        f"- seed: {SEED}",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, SymPy {sympy.__version__}",
        "- transforms: " + ", ".join(f"{k} {v}" for k, v in sorted(transforms.items())),
        "- statements per program: " + ", ".join(f"{k}: {v}" for k, v in sorted(sizes.items())),
        "",
        "## Operations drawn (statements containing each)",
        "",
        ", ".join(f"`{op}` {n}" for op, n in sorted(ops.items())),
        "",
        "Unary ufuncs and their sampling domains: "
        + ", ".join(f"{k} ({v})" for k, v in sorted(unary_ops().items())) + ".",
        "",
        "Traced functions no builder draws: " + (", ".join(unfuzzed()) or "none") + ".",
        "",
        "## Failures",
        "",
    ]
    if not failures:
        lines.append("None.")
    for program, problem in failures:
        lines += ["```python", repr(program).rstrip(), "```", "", "    " +
                  problem.strip().splitlines()[0], ""]
    with open(RESULT_FILE, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines).rstrip() + "\n")
