"""Fuzzer builders for NumPy as people write it (issue 17): differences and filters,
decompositions, sorting, more shapes, and the constructs NumPy does not dispatch
(np.array of traced values, lists given to NumPy, buffers, the math module). Each
keeps its operation away from kinks and ties by a margin, as fuzz_strategies does."""

from __future__ import annotations

import numpy as np
from fuzz_strategies import EXTRA_STEPS, MARGIN, _Builder, _register
from hypothesis import strategies as st


def _gap(values) -> float:
    """The smallest distance between two of `values` (inf for one value)."""
    v = np.sort(np.ravel(values))
    return float(np.min(np.diff(v))) if v.size > 1 else np.inf


def _diff(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    shape = b.value(t).shape
    axis = b.draw(st.integers(0, len(shape) - 1))
    if shape[axis] < 3:
        return False
    if name == "gradient":
        return b.assign(f"np.gradient({t}, axis={axis})", name)
    n = b.draw(st.sampled_from(["", ", n=2", ", prepend=0.5"]))
    return b.assign(f"np.diff({t}, axis={axis}{n})", name)


def _filter(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=1)
    if t is None or b.value(t).ndim != 1:
        return False
    k = b.draw(st.integers(1, 4))
    other = b.new_input((k,)) if b.draw(st.booleans()) else b.constant((k,))
    mode = b.draw(st.sampled_from(["full", "same", "valid"]))
    return b.assign(f"np.{name}({t}, {other}, mode={mode!r})", name)


def _order(b: _Builder, name: str) -> bool:
    """Sorting and order statistics of values at least a margin apart (no ties)."""
    t = b.pick(ndim_min=1)
    if t is None or _gap(b.value(t)) < 2 * MARGIN:
        return False
    text = {"sort": f"np.sort({t}, axis=None)", "median": f"np.median({t})",
            "quantile": f"np.quantile({t}, 0.3)", "partition": f"np.partition({t}.ravel(), 0)",
            "percentile": f"np.percentile({t}, [25.0, 75.0])"}[name]
    return b.assign(text, name)


def _decomposition(b: _Builder, name: str) -> bool:
    """Cholesky of t t^T + 2I; eigenvalues and singular values well apart."""
    t = b.pick(ndim_min=2)
    if t is None or b.value(t).ndim != 2:
        return False
    value = b.value(t)
    n = value.shape[0]
    if name == "cholesky":
        return b.assign(f"np.linalg.cholesky({t} @ {t}.T + 2.0 * np.eye({n}))", name)
    if name == "eigvalsh":
        spd = value @ value.T + np.diag(np.arange(n) * 0.7)
        return _gap(np.linalg.eigvalsh(spd)) > 0.2 and \
            b.assign(f"np.linalg.eigvalsh({t} @ {t}.T + np.diag({list(np.arange(n) * 0.7)}))",
                     name)
    s = np.linalg.svd(value, compute_uv=False)
    return _gap(s) > 0.2 and s.min() > 0.2 and \
        b.assign(f"np.linalg.svd({t}, compute_uv=False)", name)


def _product(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    shape = b.value(t).shape
    if name == "cross":
        return shape[-1] == 3 and b.assign(f"np.cross({t}, {b.constant((3,))})", name)
    return b.assign(f"np.kron({t}, {b.constant((2,))})", name)


def _reshuffle(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    shape = b.value(t).shape
    text = {"rot90": f"np.rot90({t})" if len(shape) >= 2 else None,
            "append": f"np.append({t}, 1.5)",
            "delete": f"np.delete({t}, 0, axis=0)" if shape[0] >= 2 else None,
            "insert": f"np.insert({t}, 1, 0.5, axis=0)" if shape[0] >= 2 else None,
            "atleast_3d": f"np.atleast_3d({t})"}[name]
    return text is not None and b.assign(text, name)


_register([np.diff, np.gradient], _diff)
_register([np.convolve, np.correlate], _filter)
_register([np.sort, np.median, np.quantile, np.partition, np.percentile], _order)
_register([np.linalg.cholesky, np.linalg.eigvalsh, np.linalg.svd], _decomposition)
_register([np.kron, np.cross], _product)
_register([np.rot90, np.append, np.delete, np.insert, np.atleast_3d], _reshuffle)


# -- constructs NumPy does not dispatch --------------------------------------------------------------
def _array_of_values(b: _Builder) -> bool:
    t = b.pick()
    same = [n for n in b.pool if b.value(n).shape == b.value(t).shape]
    u = same[-1 - b.draw(st.integers(0, len(same) - 1))]
    form = b.draw(st.sampled_from(["np.array([{t}, {u}])", "np.asarray(({t}, {u} * 2.0))",
                                   "np.sum([{t}, {u}], axis=0)", "np.mean([{t}, 1.5, {u}])"]))
    return b.assign(form.format(t=t, u=u), "np.array")


def _math(b: _Builder) -> bool:
    t = b.pick()
    scalar = f"{t}.ravel()[0]" if b.value(t).ndim else t
    name = b.draw(st.sampled_from(["exp", "sin", "tanh", "log", "sqrt", "erf", "atan2"]))
    if name in ("log", "sqrt"):
        scalar = b.operand(scalar, "pos")
        if scalar is None:
            return False
    args = f"{scalar}, 1.5" if name == "atan2" else scalar
    return b.assign(f"{t} * math.{name}({args})", "math")


def _buffer(b: _Builder) -> bool:
    """out = np.zeros(shape); out[key] = traced value."""
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    shape = b.value(t).shape
    if not b.assign(f"np.zeros({shape!r})", "np.zeros"):
        return False
    buffer = b.pool[-1]
    key = b.draw(st.sampled_from(["0", "-1", "...", "1:"]))
    op = b.draw(st.sampled_from(["=", "+="]))
    return b.store(buffer, key, op, f"{t}[{key}]")


EXTRA_STEPS[:] = [s for s in EXTRA_STEPS if s[0] not in ("np.array", "math", "buffer")] + [
    ("np.array", _array_of_values), ("math", _math), ("buffer", _buffer)]


#: the step names above, for `main`
NEW_STEPS = {"diff", "gradient", "convolve", "correlate", "sort", "median", "quantile",
             "partition", "percentile", "cholesky", "eigvalsh", "svd", "kron", "cross", "rot90",
             "append", "delete", "insert", "atleast_3d", "np.array", "math", "np.zeros"}


def main(argv=None) -> int:
    """`python tests/fuzz_more.py N [SEED]`: draw N programs and check those that use a
    step of this file; print how often each step was drawn and every failure."""
    import collections
    import sys

    from fuzz_strategies import check, programs
    from hypothesis import HealthCheck, given, seed, settings

    argv = sys.argv[1:] if argv is None else argv
    count, rng_seed = int(argv[0]), int(argv[1]) if len(argv) > 1 else 17
    drawn, failures = collections.Counter(), []

    @seed(rng_seed)
    @settings(max_examples=count, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(programs())
    def run(program):
        used = NEW_STEPS & set(program.ops)
        drawn.update(used)
        if used and (report := check(program)):
            failures.append(f"{report}\n{program}")

    run()
    print(f"{count} programs (seed {rng_seed}); steps of fuzz_more.py drawn: {dict(drawn)}")
    print(f"failures: {len(failures)}", *failures[:5], sep="\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
