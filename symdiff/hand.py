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

import dataclasses
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import sympy as sp

from . import functions as _functions
from . import progress
from .differentiate import vjp_graph
from .errors import InputError
from .formula import Formula, parse_formula, symbol
from .ir import CONST, ELEMENTWISE, INPUT, Graph, Var
from .ops import PRIMITIVES
from .simplify import optimize
from .stable import sigmoid
from .trace import ArgSpec, describe_args, function_location, parameter_names, trace
from .tracer import Tracer, as_tracer, number
from .verify import abs_errors

__all__ = ["check_derivative", "DerivativeCheck", "ArgumentVerdict", "Counterexample",
           "Status", "POINTS", "RTOL", "ATOL", "MAX_SYMBOLIC_ELEMENTS", "PROOF_SECONDS"]

#: Points (the given one first) at which the two derivatives must agree.
POINTS = 20
#: Both derivatives are exact formulas evaluated in float64: only rounding separates
#: them, so the tolerance is tight. ``|mine - yours| <= ATOL*max(1, |mine|) + RTOL*|mine|``.
RTOL, ATOL = 1e-7, 1e-9
#: Symbolic proofs instantiate array arguments element by element up to this many
#: elements in all; larger arguments are checked numerically only.
MAX_SYMBOLIC_ELEMENTS = 64
#: Time budget of the symbolic proof (simplification can take long on big expressions).
PROOF_SECONDS = 10.0
#: Differences with more operations than this are not simplified.
PROOF_MAX_OPS = 600
#: Float64 disagreements re-evaluated in high precision, per argument.
MAX_CANDIDATES = 5
#: Digits of the high-precision re-evaluation that tells rounding from a real difference.
DIGITS = 30


#: Elementwise functions of symdiff's with NumPy semantics -> their definition, for
#: proofs (SymPy's own functions, and log1p/expm1 of sympy.codegen, need no entry).
DEFINITIONS = {
    cls: definition for cls, definition in (
        (getattr(_functions, "LogAddExp", None), lambda a, b: sp.log(sp.exp(a) + sp.exp(b))),
        (getattr(_functions, "LogAddExp2", None),
         lambda a, b: sp.log(2**a + 2**b) / sp.log(2)),
        (sigmoid, lambda x: 1 / (1 + sp.exp(-x))),
    ) if cls is not None
}


class Status(str, Enum):
    PROVED = "PROVED"
    AGREES = "AGREES"
    REFUTED = "REFUTED"

    def __str__(self) -> str:
        return self.value


@dataclass
class Counterexample:
    """A point where symdiff's derivative and the user's differ."""

    point: dict[str, Any]
    argument: str
    component: tuple[int, ...]  # () for a scalar argument
    symdiff: float
    yours: float

    @property
    def where(self) -> str:
        """`w[1]`, or `w` for a scalar."""
        return _component_name(self.argument, self.component)

    def __str__(self) -> str:
        point = ", ".join(f"{k} = {_show(v)}" for k, v in self.point.items())
        return (f"at {point}: d/d{self.where} is {self.symdiff:.10g} (symdiff) but "
                f"{self.yours:.10g} (yours)")


@dataclass
class ArgumentVerdict:
    """The verdict on the derivative with respect to one argument."""

    name: str
    shape: tuple[int, ...]
    status: Status
    difference: sp.Expr | None = None  # symdiff's minus yours, at `component`
    component: tuple[int, ...] | None = None
    counterexample: Counterexample | None = None
    note: str = ""


@dataclass
class DerivativeCheck:
    """The answer of `check_derivative`: a status per argument and overall."""

    function: str
    arguments: list[ArgumentVerdict]
    points: int  # points where the derivatives were compared numerically
    rtol: float
    atol: float
    latex_names: dict[sp.Symbol, str] = field(default_factory=dict, repr=False)

    @property
    def status(self) -> Status:
        statuses = {a.status for a in self.arguments}
        for s in (Status.REFUTED, Status.AGREES):
            if s in statuses:
                return s
        return Status.PROVED

    @property
    def ok(self) -> bool:
        """PROVED or AGREES."""
        return self.status != Status.REFUTED

    @property
    def refuted(self) -> list[ArgumentVerdict]:
        return [a for a in self.arguments if a.status == Status.REFUTED]

    @property
    def difference(self) -> sp.Expr | None:
        """The symbolic difference (symdiff's minus yours) of the first refuted argument
        (or the first unproved one); 0 when PROVED."""
        if self.status == Status.PROVED:
            return sp.Integer(0)
        first = (self.refuted or [a for a in self.arguments if a.status == Status.AGREES])[0]
        return first.difference

    @property
    def counterexample(self) -> Counterexample | None:
        return self.refuted[0].counterexample if self.refuted else None

    def __str__(self) -> str:
        lines = [f"check_derivative of {self.function}: {self.status}"]
        for a in self.arguments:
            lines += self._lines(a)
        lines.append(f"  (compared at {_plural(self.points, 'point')}: |symdiff - yours| <= "
                     f"{self.atol:g}*max(1, |symdiff|) + {self.rtol:g}*|symdiff|)")
        return "\n".join(lines)

    def _lines(self, a: ArgumentVerdict) -> list[str]:
        head = f"  d {self.function} / d {a.name}: {a.status}"
        detail = {Status.PROVED: " (symdiff's derivative minus yours simplifies to 0)",
                  Status.AGREES: f" at {_plural(self.points, 'point')}",
                  Status.REFUTED: ""}[a.status]
        lines = [head + detail]
        if a.difference is not None and a.status != Status.PROVED:
            where = _component_name(a.name, a.component or ())
            lines.append(f"      symdiff - yours (d/d{where}) = {a.difference}")
        if a.counterexample is not None:
            lines.append(f"      counterexample {a.counterexample}")
        if a.note:
            lines.append(f"      {a.note}")
        return lines

    def latex(self) -> str:
        """The verdicts and symbolic differences as a LaTeX `aligned` block."""
        rows = []
        for a in self.arguments:
            d = rf"\frac{{\partial\, \mathrm{{{_tex_name(self.function)}}}}}" \
                rf"{{\partial {_tex_component(a.name, a.component or ())}}}"
            if a.status == Status.PROVED:
                rows.append(rf"{d} &: \text{{PROVED}}")
            elif a.difference is not None:
                diff = sp.latex(a.difference, symbol_names=self.latex_names)
                rows.append(rf"{d}\Big|_{{\text{{symdiff}}}} - {d}\Big|_{{\text{{yours}}}} "
                            rf"&= {diff} \quad \text{{{a.status}}}")
            else:
                rows.append(rf"{d} &: \text{{{a.status}}}")
        return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"


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
                         "compare at 1 point (the one given) or more")
    args = _default_args(f) if not args else _as_float64(args)
    nums = _argnums(f, argnums, len(args))
    names = parameter_names(f, len(args))
    hand = _Hand(df, names, nums)
    from .api import compile_gradient  # the pipeline's entry; verify is its last stage

    compiled = compile_gradient(f, args, nums)
    shapes = [np.shape(args[i]) for i in nums]
    sampler = _Sampler(compiled.forward, args, seed)
    numeric, n_points = _compare_numerically(compiled.grad, hand, sampler, names, nums,
                                             shapes, points, rtol, atol)
    proof = _Proof(f, args, nums, hand, time.monotonic() + proof_seconds, rtol, atol)
    # a difference left by the proof may be non-zero only on a region the random points
    # missed (a wrong threshold in np.where): compare also across its thresholds
    for k in range(len(nums)):
        if not numeric[k] and proof.first_unproved(k) is not None:
            extra = [p for p in proof.threshold_points(k, args) if sampler.finite(p)]
            more, count = _compare_numerically(compiled.grad, hand, iter(extra), names, nums,
                                           shapes, len(extra), rtol, atol)
            numeric[k], n_points = more[k], n_points + count
    verdicts = [_verdict(names[i], shapes[k], numeric[k], proof, k)
                for k, i in enumerate(nums)]
    return DerivativeCheck(_function_name(f), verdicts, n_points, rtol, atol,
                           proof.latex_names)


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
            self.formulas: list[Formula] | None = [parse_formula(t, names) for t in texts]
            self.fn = None
        elif callable(df):
            self.formulas, self.fn = None, df
        else:
            raise InputError(f"the derivative must be a function of ({', '.join(names)}) or "
                             f"a formula string, got {type(df).__name__}")

    def numeric(self, args) -> tuple:
        if self.formulas is not None:
            values = dict(zip(self.names, args))
            with np.errstate(all="ignore"):
                return tuple(form.numpy(values) for form in self.formulas)
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


def _all_strings(df) -> bool:
    return isinstance(df, (tuple, list)) and bool(df) and all(isinstance(t, str) for t in df)


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
    outs = [as_tracer(graph, r) for r in split(fn(*call))]
    graph.outputs = [t.var for t in outs]
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


def _differs(mine, yours, rtol: float, atol: float) -> np.ndarray:
    """Where |mine - yours| > atol*max(1, max|mine|) + rtol*|mine| (equal nans agree)."""
    mine, yours = np.asarray(mine, dtype=np.float64), np.asarray(yours, dtype=np.float64)
    err = abs_errors(mine, yours)
    with np.errstate(invalid="ignore"):
        tol = atol * max(1.0, float(np.nanmax(np.abs(mine), initial=0.0))) + rtol * np.abs(mine)
        return (err > 0) & ~(err <= tol)


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


# -- symbols -----------------------------------------------------------------------------
class _NoProof(Exception):
    """The symbolic side cannot be built; the reason is the message."""


class _Proof:
    """Symbolic derivatives (symdiff's and the user's), element by element, and the
    simplification of their differences within a deadline."""

    def __init__(self, f, args, nums, hand: _Hand, deadline: float, rtol: float,
                 atol: float):
        self.deadline, self.rtol, self.atol = deadline, rtol, atol
        self.reason = ""
        self.env: dict[str, np.ndarray] = {}
        self.latex_names: dict[sp.Symbol, str] = {}
        self.mine: list[np.ndarray] = []
        self.yours: list[np.ndarray] = []
        self._unproved: dict[int, tuple | None] = {}
        self.index: dict[str, int] = {}
        try:
            self._build(f, args, nums, hand)
        except _NoProof as e:
            self.reason = f"no symbolic proof: {e}"

    def _build(self, f, args, nums, hand: _Hand) -> None:
        specs = describe_args(f, args, nums)
        self.index = {s.name: i for i, s in enumerate(specs)}
        size = sum(int(np.prod(s.shape)) for s in specs if s.traced)
        if size > MAX_SYMBOLIC_ELEMENTS:
            raise _NoProof(f"the arguments have {size} elements, more than "
                           f"{MAX_SYMBOLIC_ELEMENTS}; call check_derivative with smaller "
                           "shapes for a proof")
        env = self.env = {s.name: self._symbols(s, a) for s, a in zip(specs, args)
                          if s.traced}
        forward = optimize(trace(f, specs), simplify=False)
        traced = [i for i, s in enumerate(specs) if s.traced]
        full = vjp_graph(forward, [forward.inputs[traced.index(i)] for i in nums])
        values = evaluate(full, dict(zip(full.inputs, [env[s.name] for s in specs
                                                       if s.traced])))
        self.mine = [values[v] for v in full.outputs[1:]]
        scope = dict(env, **{s.name: _object_array(number(s.static)) for s in specs
                             if not s.traced and isinstance(s.static, (int, float))})
        try:
            yours = hand.symbolic(specs, scope)
        except Exception as e:  # noqa: BLE001 - the user's code: the numbers still answer
            raise _NoProof(f"tracing your derivative failed ({type(e).__name__}: {e})") \
                from None
        self.yours = [np.broadcast_to(y, m.shape) for y, m in zip(yours, self.mine)]

    def _symbols(self, spec: ArgSpec, value) -> np.ndarray:
        """Real symbols named like the argument (`w`, `X[1, 2]`); integers stay numbers."""
        if spec.dtype.kind != "f":
            return _object_array(np.vectorize(number, otypes=[object])(np.asarray(value)))
        out = np.empty(spec.shape, dtype=object)
        for idx in np.ndindex(spec.shape):
            if not idx:
                out[idx] = symbol(spec.name)
                continue
            sym = sp.Symbol(f"{spec.name}[{', '.join(map(str, idx))}]", real=True)
            self.latex_names[sym] = _tex_component(spec.name, idx)
            out[idx] = sym
        return out

    def first_unproved(self, k: int):
        """(component, difference, timed out) of the first component not proved zero,
        or None."""
        if self.reason or k >= len(self.mine):
            return None
        if k not in self._unproved:
            self._unproved[k] = None
            for idx in np.ndindex(self.mine[k].shape):
                d = _exact(self.mine[k][idx] - self.yours[k][idx])
                zero = _is_zero(d, self.deadline)
                if not zero:
                    self._unproved[k] = (idx, d, zero is None)
                    break
        return self._unproved[k]

    def confirm(self, k: int, cx: Counterexample) -> Counterexample | None:
        """`cx` re-evaluated from the symbolic derivatives with `DIGITS` digits: None
        when the float64 disagreement was rounding (an ill-conditioned formula)."""
        if self.reason or k >= len(self.mine):
            return cx
        if np.isfinite(cx.symdiff) != np.isfinite(cx.yours):
            # nan or inf on one side only is no rounding: the float64 code itself fails
            # there (sqrt(x)/sqrt(x) at x < 0), even where SymPy's forms cancel
            return cx
        subs = {}
        for name, symbols in self.env.items():
            values = np.broadcast_to(np.asarray(cx.point[name], dtype=np.float64), symbols.shape)
            subs.update((s, sp.Float(float(v), DIGITS)) for s, v in
                        zip(symbols.flat, values.flat) if isinstance(s, sp.Symbol))
        c = cx.component
        try:
            mine, yours = (float(e[c].evalf(DIGITS, subs=subs)) for e in
                           (self.mine[k], self.yours[k]))
        except (TypeError, ValueError):  # complex, or not a number: keep the float64 verdict
            return cx
        if not _differs(mine, yours, self.rtol, self.atol):
            return None
        return dataclasses.replace(cx, symdiff=mine, yours=yours)

    def threshold_points(self, k: int, args) -> list[list]:
        """Points on both sides of, and between, the thresholds of the conditions in
        the unproved difference (``x > 3`` against ``x > 16/5``): the given point with
        one element moved to each."""
        _, diff, _ = self.first_unproved(k)
        where = {s: (name, idx) for name, arr in self.env.items()
                 for idx, s in np.ndenumerate(arr) if isinstance(s, sp.Symbol)}
        at = {s: float(np.asarray(args[self.index[name]])[idx]) for s, (name, idx)
              in where.items()}
        roots: dict[sp.Symbol, set[float]] = {}
        for edge in _edges(diff):
            for s in edge.free_symbols & set(where):
                others = {t: sp.Float(at[t]) for t in edge.free_symbols - {s} if t in at}
                root = _linear_root(edge.xreplace(others), s)
                if root is not None:
                    roots.setdefault(s, set()).add(root)
        points = []
        for s, rs in roots.items():
            rs = sorted(rs)
            values = [r + sign * 1e-3 * max(1.0, abs(r)) for r in rs for sign in (-1, 1)]
            values += [(a + b) / 2 for a, b in zip(rs, rs[1:])]
            name, idx = where[s]
            for v in values:
                point = list(args)
                arr = np.array(point[self.index[name]], dtype=np.float64)
                arr[idx] = v
                point[self.index[name]] = (float(arr) if isinstance(args[self.index[name]], float)
                                           else arr)
                points.append(point)
        return points

    def shown_difference(self, k: int, component) -> sp.Expr | None:
        """The difference at `component`, in its shortest form found in time."""
        if self.reason or k >= len(self.mine):
            return None
        d = _exact(self.mine[k][component] - self.yours[k][component])
        return _shortest(d, self.deadline)


def evaluate(graph: Graph, inputs: dict[Var, np.ndarray]) -> dict[Var, np.ndarray]:
    """Every node of `graph` as an object array of SymPy expressions, from the inputs'."""
    values: dict[Var, np.ndarray] = {}
    for node in graph.nodes:
        if node.op == INPUT:
            values[node.out] = inputs[node.out]
        elif node.op == CONST:
            values[node.out] = _object_array(np.vectorize(number, otypes=[object])(node.value))
        elif node.op == ELEMENTWISE:
            values[node.out] = _elementwise(graph, node, values)
        else:
            values[node.out] = _structured(node, values)
    return values


def _elementwise(graph: Graph, node, values) -> np.ndarray:
    operands = graph.operands(node)
    shape = node.out.shape
    arrays = [np.broadcast_to(values[v], shape) for v in operands]
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        out[idx] = node.expr.xreplace({v.symbol: a[idx] for v, a in zip(operands, arrays)})
    return out


def _structured(node, values) -> np.ndarray:
    """A structured op applied to object arrays by its own NumPy implementation."""
    try:
        result = _object_array(PRIMITIVES[node.op].impl(*[values[v] for v in node.inputs],
                                                        **node.p))
    except Exception as e:  # noqa: BLE001 - any failure means: no symbolic form
        raise _NoProof(f"{node.op} has no element-by-element symbolic form "
                       f"({type(e).__name__})") from None
    if result.shape != node.out.shape:
        raise _NoProof(f"{node.op} gave shape {result.shape} on symbols, not {node.out.shape}")
    return result


def _object_array(x) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x.astype(object)
    out = np.empty((), dtype=object)
    out[()] = x
    return out


def _exact(expr) -> sp.Expr:
    """`expr` with floats replaced by the decimal they print as (0.1 -> 1/10), so
    that a literal in f and the same literal in df cancel exactly."""
    expr = sp.sympify(expr)
    floats = {a: sp.Rational(repr(float(a))) for a in expr.atoms(sp.Float)
              if np.isfinite(float(a))}
    return expr.xreplace(floats) if floats else expr


def _is_zero(d: sp.Expr, deadline: float) -> bool | None:
    """True when `d` simplifies to 0, False when every attempt finished without 0,
    None when the expression was too large or the deadline passed first."""
    if d == 0:
        return True
    if sp.count_ops(d) > PROOF_MAX_OPS:
        return None
    for attempt in (_expand, sp.cancel, lambda e: sp.simplify(_elementary(e))):
        if time.monotonic() > deadline:
            return None
        if attempt(d) == 0:
            return True
    return False


#: Functions whose value or derivative jumps where their argument crosses 0.
KINKS = (sp.Abs, sp.sign, sp.Heaviside, _functions.Sign, _functions.Absolute)


def _edges(expr: sp.Expr) -> list[sp.Expr]:
    """Expressions whose zeros bound the pieces of `expr`: the sides of its conditions
    subtracted, and the arguments of its kinks."""
    edges = [r.lhs - r.rhs for r in expr.atoms(sp.core.relational.Relational)]
    edges += [a.args[0] for a in expr.atoms(sp.Function) if isinstance(a, KINKS)]
    return edges


def _linear_root(expr: sp.Expr, s: sp.Symbol) -> float | None:
    """The root of `expr`, when it is linear in its only symbol `s`."""
    if expr.free_symbols != {s}:
        return None
    try:
        poly = sp.Poly(expr, s)
    except sp.PolynomialError:
        return None
    if poly.degree() != 1:
        return None
    a, b = poly.all_coeffs()
    root = -float(b) / float(a)
    return root if np.isfinite(root) else None


def _elementary(expr: sp.Expr) -> sp.Expr:
    """NumPy-flavoured functions (logaddexp, log1p, expm1 ...) by their definitions in
    exp and log, which `simplify` knows."""
    numpy_like = {a: DEFINITIONS[type(a)](*a.args) for a in expr.atoms(sp.Function)
                  if type(a) in DEFINITIONS}
    if numpy_like:
        expr = expr.xreplace(numpy_like)
    return sp.expand_func(expr)


def _expand(expr: sp.Expr) -> sp.Expr:
    """`expand`, unless a power of a sum would expand into too many terms."""
    for p in expr.atoms(sp.Pow):
        if p.base.is_Add and p.exp.is_Integer and abs(int(p.exp)) > 16:
            return expr
    return sp.expand(expr)


def _factor_polynomial(expr: sp.Expr) -> sp.Expr:
    """The factored form of a polynomial (others are returned as they are)."""
    expanded = _expand(expr)
    return sp.factor(expanded) if expanded.is_polynomial() else expanded


def _collected(expr: sp.Expr) -> sp.Expr:
    """Terms collected by their symbol factors, each coefficient simplified: a sum
    over array elements (from matmul or sum) stays a sum of short terms."""
    parts = sp.collect(_expand(expr), sorted(expr.free_symbols, key=str), evaluate=False)
    return sp.Add(*[k * sp.factor_terms(sp.simplify(v)) for k, v in parts.items()])


def _shortest(d: sp.Expr, deadline: float) -> sp.Expr:
    """The form of `d` with the fewest operations among a few rewritings tried in time."""
    best = d
    if sp.count_ops(d) > PROOF_MAX_OPS:
        return best
    for rewrite in (_factor_polynomial, sp.cancel, _collected, sp.simplify):
        if time.monotonic() > deadline or sp.count_ops(best) <= 1:
            break
        try:
            candidate = rewrite(d)
        except (sp.PolynomialError, NotImplementedError, TypeError):
            continue
        if sp.count_ops(candidate) < sp.count_ops(best):
            best = candidate
    return best


# -- helpers ---------------------------------------------------------------------------
def _function_name(f) -> str:
    name = getattr(f, "__name__", "f")
    return "f" if name == "<lambda>" else name


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _component_name(name: str, component: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, component))}]" if component else name


def _tex_name(name: str) -> str:
    return name.replace("_", r"\_")


def _tex_component(name: str, component: tuple[int, ...]) -> str:
    """`w_{1}` for w1, `X_{1,2}` for X[1, 2] (as SymPy prints symbols)."""
    base = sp.latex(sp.Symbol(name))
    return f"{base}_{{{','.join(map(str, component))}}}" if component else base


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = np.array2string(np.asarray(value), precision=6, threshold=12, separator=", ")
    return " ".join(text.split())


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


def _argnums(f, argnums, nargs: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(i, int) and -nargs <= i < nargs for i in nums):
        raise InputError(f"check_derivative of {_function_name(f)}: argnums {argnums!r} does "
                         f"not name arguments among the {nargs} given; pass an int or a "
                         "tuple of ints")
    return tuple(i % nargs for i in nums)
