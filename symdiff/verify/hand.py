"""Checking a derivative worked out by hand: PROVED, AGREES or REFUTED.

`check_derivative(f, df, *args)` compares symdiff's gradient of `f` with the user's
`df` (a Python function of the same arguments, or for formulas a string such as
``'2*x*(w*x + b - y)'``):

1. numerically, at the given point and at random points of similar magnitude, half
   of them with random signs, skipping points where f itself is not finite; a float64
   disagreement that persists when both are evaluated from their symbolic forms with
   30 digits (or, without those, as it stands), or that is a NaN or inf on one side
   only, is a counterexample: REFUTED;
2. symbolically: both derivatives are traced into SymPy expressions over the
   arguments, array arguments instantiated element by element at their shapes
   (matmul and sum become explicit sums), and each difference is simplified under
   a time budget. All zero: PROVED (for these shapes). Otherwise the thresholds of
   the difference's conditions and kinks are tried as points too (a derivative wrong
   only for x > 3 is refuted from x = 1), and failing a counterexample the answer is
   AGREES, with the number of points and the tolerance that support it.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp

from .. import progress
from ..compile import compile_gradient
from ..errors import ExpressionError, InputError, recording_trace_errors, user_location
from ..ir.graph import Graph
from ..trace.args import ArgSpec, function_location, normalize_argnums, parameter_names
from ..trace.tracer import Tracer, as_tracer
from .deadline import run_with_deadline
from .formula import Formula, parse_formula, symbol
from .proof import (
    DIGITS,
    MAX_PRECISE,
    Counterexample,
    _differs,
    _Proof,
    evaluate,
)
from .verdict import ArgumentVerdict, DerivativeCheck, Status

__all__ = ["check_derivative", "POINTS", "RTOL", "ATOL", "PROOF_SECONDS"]

#: Points (the given one first) at which the two derivatives must agree.
POINTS = 20
#: Both derivatives are exact formulas evaluated in float64: only rounding separates
#: them, so the tolerance is tight. ``|mine - yours| <= ATOL*max(1, |mine|) + RTOL*|mine|``.
RTOL, ATOL = 1e-7, 1e-9
#: Time budget of the symbolic proof (simplification can take long on big expressions).
PROOF_SECONDS = 10.0
#: The proof's worker is stopped after `PROOF_HARD_FACTOR * proof_seconds +
#: PROOF_GRACE_SECONDS` (35 s by default): the budget bounds the simplification steps,
#: and building the symbolic derivatives and showing the difference need time too, more
#: on a loaded machine; the hard limit only has to stop what never ends.
PROOF_HARD_FACTOR = 3.0
PROOF_GRACE_SECONDS = 5.0
#: Float64 disagreements re-evaluated in high precision, per argument.
MAX_CANDIDATES = 5


# -- the checker ------------------------------------------------------------------------
def check_derivative(f: Callable, df: Callable | str | Sequence[str], *args,
                     argnums: int | tuple[int, ...] = 0, points: int = POINTS,
                     rtol: float = RTOL, atol: float = ATOL, seed: int = 0,
                     proof_seconds: float = PROOF_SECONDS) -> DerivativeCheck:
    """Prove or refute a derivative worked out by hand.

    `df` is a Python function of the same arguments as `f` returning the derivative
    with respect to ``args[argnums]`` (a tuple of them for a tuple `argnums`), or a
    formula string over the argument names (one per argnum) in the safe language of
    `symdiff.formula` (numbers, arguments, ``+ - * / **``, exp, log, sqrt, sin, cos,
    tan, tanh, sigmoid, abs ...). `args` is the point (and fixes the shapes); without
    it every parameter is the scalar 1.0.

    Returns a `DerivativeCheck`: ``.status`` is PROVED (the symbolic difference
    simplifies to zero, at these shapes), AGREES (no proof, but agreement at
    ``points`` points within `rtol`/`atol`) or REFUTED (``.difference``, the symbolic
    difference, and ``.counterexample``, a point with both values).
    """
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise InputError(f"check_derivative of {_function_name(f)}: points={points!r}; "
                         "compare at 1 point (the one given) or more", user_location())
    if isinstance(proof_seconds, bool) or not isinstance(proof_seconds, (int, float)) \
            or not proof_seconds > 0:
        raise InputError(f"check_derivative of {_function_name(f)}: proof_seconds="
                         f"{proof_seconds!r}; give the symbolic proof a positive number of "
                         f"seconds (default {PROOF_SECONDS:g}; it is stopped at 3 times that "
                         "plus 5 s)", user_location())
    args = _default_args(f) if not args else _as_float64(args)
    nums = normalize_argnums(argnums, len(args),
                             f"check_derivative of {_function_name(f)}")
    names = parameter_names(f, len(args))
    hand = _Hand(df, names, nums)
    compiled = compile_gradient(f, args, nums)
    shapes = [np.shape(args[i]) for i in nums]
    sampler = _Sampler(compiled.forward, args, seed)
    numeric, n_points = _compare_numerically(compiled.grad, hand, sampler, names, nums,
                                             shapes, points, rtol, atol)

    def prove():
        proof = _Proof(f, args, nums, hand, time.monotonic() + proof_seconds, rtol, atol)
        # a difference left by the proof may be non-zero only on a region the random
        # points missed (a wrong threshold in np.where): compare also across its thresholds
        candidates, count = list(numeric), n_points
        for k in range(len(nums)):
            if not candidates[k] and proof.first_unproved(k) is not None:
                extra = [p for p in proof.threshold_points(k, args) if sampler.finite(p)]
                more, n = _compare_numerically(compiled.grad, hand, iter(extra), names, nums,
                                               shapes, len(extra), rtol, atol)
                candidates[k], count = more[k], count + n
        verdicts = [_verdict(names[i], shapes[k], candidates[k], proof, k)
                    for k, i in enumerate(nums)]
        return verdicts, count, proof.latex_names

    def sampled(reason: str):
        return [_sampled_verdict(names[i], shapes[k], numeric[k], reason)
                for k, i in enumerate(nums)], n_points, {}

    # SymPy checks no clock inside one simplification: the proof runs in a worker
    # stopped at a hard limit, after which the points compared already answer
    verdicts, n_points, latex_names = run_with_deadline(
        prove, PROOF_HARD_FACTOR * proof_seconds + PROOF_GRACE_SECONDS,
        lambda reason: sampled(reason.replace("the work", "the proof")))
    return DerivativeCheck(_function_name(f), verdicts, n_points, rtol, atol, latex_names)


def _sampled_verdict(name, shape, candidates, reason: str) -> ArgumentVerdict:
    """The verdict from the points compared alone, when the proof did not finish."""
    stopped = f"no symbolic proof: {reason}"
    if candidates:
        cx = candidates[0]
        return ArgumentVerdict(name, shape, Status.REFUTED, None, cx.component, cx,
                               f"{stopped}; this float64 disagreement was not re-checked "
                               "in high precision")
    return ArgumentVerdict(name, shape, Status.AGREES, None, None, None,
                           f"{stopped}; the derivatives agree at every point compared")


def _verdict(name, shape, candidates, proof: _Proof, k: int) -> ArgumentVerdict:
    confirmed = (proof.confirm(k, cx) for cx in candidates)
    counterexample = next((cx for cx in confirmed if cx is not None), None)
    if counterexample is not None:
        component = counterexample.component
        difference = proof.shown_difference(k, component)
        note = proof.reason
        if difference == 0:  # equal formulas, but one side's float64 code fails here
            side = "your derivative" if not np.isfinite(counterexample.yours) else "symdiff's"
            value = counterexample.yours if side[0] == "y" else counterexample.symdiff
            difference, note = None, (f"the two are equal as formulas, but {side} evaluates "
                                      f"to {value:g} in float64 at this point (a square root "
                                      "or log of a negative number, an overflow, ...)")
        return ArgumentVerdict(name, shape, Status.REFUTED, difference, component,
                               counterexample, note)
    remainder = proof.first_unproved(k)
    if proof.reason or remainder is not None:
        component, diff, timed_out = remainder if remainder is not None else (None, None, False)
        if proof.reason:
            note = proof.reason
        elif timed_out:
            note = ("symbolic proof inconclusive: the difference did not simplify to 0 "
                    "within the time budget")
        else:
            diff = proof.shown_difference(k, component)
            note = ("no proof: the difference does not simplify to 0, yet it is within the "
                    "tolerance at every point compared (a tiny factor such as 1 + 1e-12, a "
                    "kink convention, or a region no point fell in)")
        return ArgumentVerdict(name, shape, Status.AGREES, diff, component, None, note)
    return ArgumentVerdict(name, shape, Status.PROVED, sp.Integer(0))


# -- the user's derivative ---------------------------------------------------------------
class _Hand:
    """The user's derivative: a Python function or formulas, numeric and symbolic."""

    def __init__(self, df, names: list[str], nums: tuple[int, ...]):
        self.names, self.nums = names, nums
        texts = [df] if isinstance(df, str) else df if _all_strings(df) else None
        if texts is not None:
            if len(texts) != len(nums):
                raise InputError(f"{len(texts)} formula(s) for {len(nums)} argument(s) "
                                 f"({', '.join(names[i] for i in nums)}); give one per "
                                 "argument differentiated")
            self.formulas: list[Formula] | None = [
                _parsed(t, names, names[i], len(texts)) for t, i in zip(texts, nums)]
            self.fn = None
        elif callable(df):
            self.formulas, self.fn = None, df
        else:
            raise InputError(f"the derivative must be a function of ({', '.join(names)}) or "
                             f"a formula string, got {type(df).__name__}")

    def numeric(self, args) -> tuple:
        if self.formulas is not None:
            values = dict(zip(self.names, args))
            return tuple(_formula_numeric(form, values) for form in self.formulas)
        with np.errstate(all="ignore"):
            return self._tuple(self.fn(*args))

    def _tuple(self, result) -> tuple:
        if len(self.nums) == 1 and isinstance(result, list) and len(result) != 1:
            return (np.stack(result),)  # [d/dx[0], d/dx[1], ...]: one gradient by element
        results = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        if len(results) != len(self.nums):
            raise InputError(f"{_function_name(self.fn)} returned {len(results)} value(s) for "
                             f"{len(self.nums)} argument(s) differentiated "
                             f"({', '.join(self.names[i] for i in self.nums)}); return one "
                             "derivative per argument, a tuple when there are several",
                             function_location(self.fn))
        return results

    def symbolic(self, specs: list[ArgSpec], env: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self.formulas is not None:
            return [_formula_values(form, env) for form in self.formulas]
        graph = _trace_outputs(self.fn, specs, self._tuple)
        inputs = dict(zip(graph.inputs, [env[s.name] for s in specs if s.traced]))
        values = evaluate(graph, inputs)
        return [values[v] for v in graph.outputs]


def _parsed(text: str, names: list[str], wrt: str, count: int) -> Formula:
    """`text` parsed; an error names the derivative it was given for and the user's
    file:line that called check_derivative (the CLI drops the latter: --expect came
    from the command line)."""
    try:
        return parse_formula(text, names)
    except ExpressionError as e:
        which = f"the formula for d/d{wrt}" + (f" (one of {count})" if count > 1 else "")
        raise ExpressionError(f"{which}: {e.message}", user_location()) from None


def _all_strings(df) -> bool:
    return isinstance(df, (tuple, list)) and bool(df) and all(isinstance(t, str) for t in df)


def _formula_numeric(form: Formula, values: dict) -> np.ndarray:
    """A formula in float64, and where float64 gives inf or NaN, in `DIGITS` digits
    (an intermediate overflow such as ``0*x**x`` at x = 300 need not make the value
    infinite), for up to `MAX_PRECISE` elements."""
    out = np.array(form.numpy(values), dtype=np.float64)
    bad = ~np.isfinite(out)
    if not bad.any() or bad.sum() > MAX_PRECISE:
        return out
    used = [n for n in form.names if symbol(n) in form.expr.free_symbols]
    arrays = {n: np.broadcast_to(np.asarray(values[n], dtype=np.float64), out.shape)
              for n in used}
    for idx in zip(*np.nonzero(bad)) if out.ndim else [()]:
        out[idx] = form.precise({n: a[idx] for n, a in arrays.items()}, DIGITS)
    return out


def _formula_values(form: Formula, env: dict[str, np.ndarray]) -> np.ndarray:
    """A formula applied elementwise to symbol arrays (NumPy broadcasting)."""
    used = [n for n in form.names if symbol(n) in form.expr.free_symbols]
    arrays = np.broadcast_arrays(*[env[n] for n in used]) if used else []
    shape = arrays[0].shape if arrays else ()
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        out[idx] = form.sympy({n: a[idx] for n, a in zip(used, arrays)})
    return out


def _trace_outputs(fn, specs: list[ArgSpec], split) -> Graph:
    """Trace `fn` (which may return a tuple) into a graph with one output per value."""
    graph = Graph()
    call = [Tracer(graph, graph.add_input(s.shape, s.dtype, s.name)) if s.traced else s.static
            for s in specs]
    with recording_trace_errors():  # a TraceError your derivative caught still counts
        result = fn(*call)
    outs = [as_tracer(graph, r) for r in split(result)]
    graph.outputs = [t.graph_var for t in outs]
    return graph


# -- numbers -----------------------------------------------------------------------------
class _Sampler:
    """Points to compare at: the given one, then random ones where f is finite."""

    def __init__(self, forward, args, seed: int):
        self.forward, self.args = forward, args
        self.rng = np.random.default_rng(seed)
        self.floats = [i for i, a in enumerate(args) if _is_float(a)]

    def points(self, n: int):
        """Up to `n` points: the given one, then each value scaled by a factor in
        [0.5, 1.5], keeping its sign on even draws and taking a random one on odd
        draws (zeros become uniform in [-1, 1]); magnitudes stay those of the given
        point, where the float64 evaluation of either formula is well conditioned."""
        yield list(self.args)
        found, tries = 1, 0
        while found < n and tries < 5 * n:
            tries += 1
            point = self._draw(flip=tries % 2 == 0)
            if self.finite(point):
                found += 1
                yield point

    def finite(self, point) -> bool:
        """Whether f is finite at `point` (its derivative is compared only there)."""
        with np.errstate(all="ignore"):
            return bool(np.all(np.isfinite(np.asarray(self.forward(*point), dtype=float))))

    def _draw(self, flip: bool) -> list:
        point = list(self.args)
        for i in self.floats:
            v = np.asarray(self.args[i], dtype=np.float64)
            sign = self.rng.choice([-1.0, 1.0], v.shape) if flip else 1.0
            new = np.where(v == 0, self.rng.uniform(-1, 1, v.shape),
                           sign * v * self.rng.uniform(0.5, 1.5, v.shape))
            point[i] = float(new) if isinstance(self.args[i], float) else new
        return point


def _compare_numerically(grad, hand: _Hand, sampler: _Sampler, names, nums, shapes,
                         n: int, rtol: float, atol: float):
    """Candidate counterexamples per argument (float64 disagreements, at most
    `MAX_CANDIDATES` each), and the number of points compared."""
    found: list[list[Counterexample]] = [[] for _ in nums]
    count = 0
    for point in (sampler.points(n) if isinstance(sampler, _Sampler) else sampler):
        count += 1
        progress.step()  # points compared, on the CLI's progress line
        with np.errstate(all="ignore"):
            mine = grad(*point)
        yours = hand.numeric(point)
        for k, i in enumerate(nums):
            cx = _disagreement(np.asarray(mine[k], dtype=np.float64),
                               _shaped(yours[k], shapes[k], names[i], hand),
                               point, names, names[i], rtol, atol)
            if cx is not None and len(found[k]) < MAX_CANDIDATES:
                found[k].append(cx)
    return found, count


def _shaped(value, shape, name: str, hand: _Hand) -> np.ndarray:
    """Your derivative at `shape`: a function's must have the argument's shape (a
    missing axis or a scalar would broadcast and hide the mistake); a formula's is
    elementwise and broadcasts."""
    arr = np.asarray(value, dtype=np.float64)
    exact = hand.fn is None or arr.shape == tuple(shape) or arr.size == 1 == int(np.prod(shape))
    try:
        if not exact:
            raise ValueError
        return np.broadcast_to(arr, shape)
    except ValueError:
        hint = (f"; for a constant use np.full_like({name}, value)" if arr.ndim == 0 else "")
        raise InputError(f"your derivative with respect to {name} has shape {arr.shape}, but "
                         f"{name} has shape {tuple(shape)}: a gradient is shaped like its "
                         f"argument{hint}",
                         function_location(hand.fn) if hand.fn else None) from None


def _disagreement(mine, yours, point, names, name, rtol, atol) -> Counterexample | None:
    """The component where the two differ most (relative to the tolerance), or None."""
    bad = _differs(mine, yours, rtol, atol)
    if not np.any(bad):
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(bad, np.nan_to_num(np.abs(mine - yours) / (np.abs(mine) + atol),
                                            nan=np.inf), -1.0)
    idx = np.unravel_index(int(np.argmax(ratio)), mine.shape) if mine.shape else ()
    return Counterexample(dict(zip(names, point)), name, tuple(int(i) for i in idx),
                          float(mine[idx]), float(yours[idx]))


# -- helpers ---------------------------------------------------------------------------
def _function_name(f) -> str:
    name = getattr(f, "__name__", "f")
    return "f" if name == "<lambda>" else name


def _is_float(a) -> bool:
    return isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")


def _as_float64(args) -> list:
    """The point in float64: a derivative is checked as mathematics, in full precision."""
    out = []
    for a in args:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            out.append(a.astype(np.float64))
        elif isinstance(a, np.floating):
            out.append(float(a))
        else:
            out.append(a)
    return out


def _default_args(f) -> list[float]:
    """Every positional parameter the scalar 1.0."""
    params = inspect.signature(f).parameters.values()
    return [1.0 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]

