"""Symbolic proof for the hand-derivative checker: evaluate the traced gradient and
the hand formula as SymPy expressions and simplify their difference, under a budget."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from ..autodiff.differentiate import vjp_graph
from ..ir import elementwise as _functions
from ..ir.elementwise import logistic, number, sigmoid
from ..ir.graph import Graph, Var
from ..ir.interpret import apply_primitive, interpret, object_array
from ..passes.simplify import optimize
from ..trace.args import ArgSpec, describe_args
from ..trace.function import trace
from .formula import symbol
from .numerical import abs_errors


# -- symbols -----------------------------------------------------------------------------
class _NoProof(Exception):
    """The symbolic side cannot be built; the reason is the message."""



class _Proof:
    """Symbolic derivatives (symdiff's and the user's), element by element, and the
    simplification of their differences within a deadline."""

    def __init__(self, f, args, nums, hand, deadline: float, rtol: float,
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

    def _build(self, f, args, nums, hand) -> None:
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
        scope = dict(env, **{s.name: object_array(number(s.static)) for s in specs
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
            return object_array(np.vectorize(number, otypes=[object])(np.asarray(value)))
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
    return interpret(graph, inputs, _structured)


def _structured(node, args) -> np.ndarray:
    """A structured op applied to object arrays by its own NumPy implementation."""
    try:
        return apply_primitive(node, args)
    except Exception as e:  # noqa: BLE001 - any failure means: no symbolic form
        raise _NoProof(f"{node.op} has no element-by-element symbolic form "
                       f"({type(e).__name__}: {e})") from None


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


#: Symbolic proofs instantiate array arguments element by element up to this many
#: elements in all; larger arguments are checked numerically only.
MAX_SYMBOLIC_ELEMENTS = 64



#: Differences with more operations than this are not simplified.
PROOF_MAX_OPS = 600



#: Digits of the high-precision re-evaluation that tells rounding from a real difference.
DIGITS = 30
#: Elements of a formula's value re-evaluated in `DIGITS` digits where float64 is not
#: finite, per point.
MAX_PRECISE = 64



#: Elementwise functions of symdiff's with NumPy semantics -> their definition, for
#: proofs (SymPy's own functions, and log1p/expm1 of sympy.codegen, need no entry).
DEFINITIONS = {
    cls: definition for cls, definition in (
        (getattr(_functions, "LogAddExp", None), lambda a, b: sp.log(sp.exp(a) + sp.exp(b))),
        (getattr(_functions, "LogAddExp2", None),
         lambda a, b: sp.log(2**a + 2**b) / sp.log(2)),
        (sigmoid, logistic),
    ) if cls is not None
}



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



def _differs(mine, yours, rtol: float, atol: float) -> np.ndarray:
    """Where |mine - yours| > atol*max(1, max|mine|) + rtol*|mine| (equal nans agree)."""
    mine, yours = np.asarray(mine, dtype=np.float64), np.asarray(yours, dtype=np.float64)
    err = abs_errors(mine, yours)
    with np.errstate(invalid="ignore"):
        tol = atol * max(1.0, float(np.nanmax(np.abs(mine), initial=0.0))) + rtol * np.abs(mine)
        return (err > 0) & ~(err <= tol)



def _component_name(name: str, component: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, component))}]" if component else name



def _tex_component(name: str, component: tuple[int, ...]) -> str:
    """`w_{1}` for w1, `X_{1,2}` for X[1, 2] (as SymPy prints symbols)."""
    base = sp.latex(sp.Symbol(name))
    return f"{base}_{{{','.join(map(str, component))}}}" if component else base



def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = np.array2string(np.asarray(value), precision=6, threshold=12, separator=", ")
    return " ".join(text.split())

