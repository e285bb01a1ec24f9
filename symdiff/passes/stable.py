"""Numerically stable rewrites: equal formulas that do not overflow or cancel.

A symbolic derivative is exact, but its floating-point evaluation need not be:
``d/dx log(1 + exp(x)) = exp(x)/(1 + exp(x))`` is ``inf/inf = nan`` at x = 1000,
where the true value is 1. This pass rewrites each elementwise expression with a
small table of rules (after the ones of `sympy.codegen.rewriting`, adapted to NumPy
and to gradients), bottom-up, until none applies:

    log(1 + exp(u))                  ->  np.logaddexp(0, u)          (softplus)
    log(exp(a) + exp(b))             ->  np.logaddexp(a, b)
    log(sigmoid(u))                  ->  -np.logaddexp(0, -u)
    log(1 + u)                       ->  np.log1p(u)
    exp(u) - 1                       ->  np.expm1(u)
    1/(1 + exp(-u))                  ->  sigmoid(u)
    exp(k*u)/(1 + exp(u))**m         ->  sigmoid(u)**k * sigmoid(-u)**(m-k), 0 <= k <= m
    exp(u)*sigmoid(-u)               ->  sigmoid(u)
    1 - sigmoid(u)                   ->  sigmoid(-u)
    sqrt(x**2 + y**2)                ->  np.hypot(x, y)     (also y**2 a constant)
    log(cosh(u))                     ->  np.logaddexp(u, -u) - log(2)
    1 - tanh(u)**2                   ->  1/cosh(u)**2
    log(sum(exp(z))), across nodes   ->  m + log(sum(exp(z - m))), m = max(z)
    log(prod(u)), across nodes       ->  sum(log(u)), for positive u (sigmoid, exp)
    exp(z)/sum(exp(z)), across nodes ->  exp(z - m)/sum(exp(z - m)), m = max(z)

The last spans a structured ``sum``: it is a graph rewrite, ``m`` a ``max``
reduction behind a ``stop_gradient`` (so its derivative, which cancels exactly, is
not computed) and replaced by 0 where it is not finite (as in `jax.nn.logsumexp`).
Since `optimize` runs before differentiation too, the gradient is then the stable
softmax ``exp(z - m)/sum(exp(z - m))``.

``sigmoid(u)`` is written out before CSE as ``exp(min(u, 0))/(1 + exp(-|u|))``,
within an ulp or two of ``1/(1 + exp(-u))`` in relative terms everywhere; it never
overflows. A value that is itself a sigmoid and is read through ``log``, ``1 - s``
or a division elsewhere is looked through, so the two-line binary cross-entropy
``s = 1/(1 + exp(-z)); -y*log(s) - (1-y)*log(1-s)`` becomes
``y*logaddexp(0, -z) + (1-y)*logaddexp(0, z)``.

Rules keep NaN and inf where the true value has them (``np.log1p(-2)`` is NaN like
``np.log(-1)``); they only remove the ones rounding introduced. Each rule applied is
recorded on the graph (`Graph.stable_rewrites`) and listed in the emitted module's
header.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp
from sympy.codegen.cfunctions import expm1, hypot, log1p
from sympy.codegen.numpy_nodes import logaddexp

from ..ir.elementwise import Absolute, _sigmoid_formula, sigmoid
from ..ir.graph import ELEMENTWISE, Graph, Node, Var
from ..ir.primitives import PRIMITIVES

__all__ = ["sigmoid", "lower_sigmoid", "SIGMOID_FORM", "SIGMOID_PAIR_FORM", "finite_or_zero",
           "Rule", "RULES", "LOGSUMEXP", "stabilize",
           "stabilize_expr"]


#: Header lines for how sigmoids are printed (`lower_sigmoid`).
SIGMOID_FORM = "sigmoid(u) = np.exp(np.minimum(u, 0))/(1 + np.exp(-np.abs(u)))"
SIGMOID_PAIR_FORM = "sigmoid(u)*sigmoid(-u) = np.exp(-np.abs(u))/(1 + np.exp(-np.abs(u)))**2"


def lower_sigmoid(expr: sp.Expr, forms: set[str] | None = None) -> sp.Expr:
    """`expr` with every sigmoid written out in NumPy functions (before CSE); the
    header lines of the forms used are added to `forms`. The logistic function's
    derivative s(u)*s(-u) becomes one exp of -|u| (s(u)*s(-u) = e^-|u|/(1 + e^-|u|)^2
    for either sign of u) instead of four exps."""
    if not expr.has(sigmoid):
        return expr
    paired = expr.replace(lambda e: e.is_Mul and _sigmoid_pair(e) is not None, _lower_pair)
    if forms is not None:
        forms.update([SIGMOID_PAIR_FORM] * (paired != expr) + [SIGMOID_FORM] * paired.has(sigmoid))
    return paired.replace(sigmoid, _sigmoid_formula)


def _sigmoid_powers(mul: sp.Expr) -> dict[sp.Expr, int]:
    """u -> k for each factor sigmoid(u)**k (k a positive integer) of a product."""
    powers = {}
    for f in mul.args:
        base, k = f.as_base_exp()
        if isinstance(base, sigmoid) and k.is_Integer and k > 0:
            powers[base.args[0]] = int(k)
    return powers


def _sigmoid_pair(mul: sp.Expr) -> sp.Expr | None:
    """The u (not -u) of a product holding both sigmoid(u) and sigmoid(-u), or None."""
    powers = _sigmoid_powers(mul)
    for u in sorted(powers, key=sp.default_sort_key):
        if -u in powers and not u.could_extract_minus_sign():
            return u
    return None


def _lower_pair(mul: sp.Expr) -> sp.Expr:
    u = _sigmoid_pair(mul)
    powers = _sigmoid_powers(mul)
    m = min(powers[u], powers[-u])
    t = sp.exp(-Absolute(u))
    return mul / (sigmoid(u) * sigmoid(-u)) ** m * (t / (1 + t) ** 2) ** m


class finite_or_zero(sp.Function):
    """`x` where it is finite, else 0: the shift of a logsumexp (no derivative: it is
    only ever used behind a stop_gradient)."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sp.S.Zero

    def _eval_is_real(self):
        return self.args[0].is_real

    def _numpycode(self, printer) -> str:
        x = printer._print(self.args[0])
        return f"{printer._module_format('numpy.nan_to_num')}({x}, posinf=0, neginf=0)"


@dataclass(frozen=True)
class Rule:
    """``apply(expr)`` returns the rewritten expression, or None where the rule does
    not match; `name` is the line listed in a module header."""

    name: str
    apply: Callable[[sp.Expr], sp.Expr | None]


# -- the rules ---------------------------------------------------------------------------
def _exp_exponent(term: sp.Expr) -> sp.Expr | None:
    """`u` for ``exp(u)``, ``u + log(c)`` for ``c*exp(u)`` with c > 0, `log(c)` for c > 0."""
    if isinstance(term, sp.exp):
        return term.args[0]
    if term.is_Number and term.is_positive:
        return sp.log(term)
    coeff, rest = term.as_coeff_Mul()
    if isinstance(rest, sp.exp) and coeff.is_positive and coeff is not sp.S.One:
        return rest.args[0] + sp.log(coeff)
    return None


def _softplus(expr):
    """log(1 + exp(u)) -> logaddexp(0, u)."""
    if isinstance(expr, sp.log):
        u = _one_plus_exp(expr.args[0])
        if u is not None:
            return logaddexp(0, u)
    return None


def _logaddexp(expr):
    """log(exp(a) + exp(b) + ...) -> logaddexp(logaddexp(a, b), ...)."""
    if not isinstance(expr, sp.log) or not expr.args[0].is_Add:
        return None
    terms = sp.Add.make_args(expr.args[0])
    if not any(isinstance(t, sp.exp) or isinstance(t.as_coeff_Mul()[1], sp.exp) for t in terms):
        return None
    exponents = [_exp_exponent(t) for t in terms]
    if any(e is None for e in exponents):
        return None
    result = exponents[0]
    for e in exponents[1:]:
        result = logaddexp(result, e)
    return result


def _log1p(expr):
    if not isinstance(expr, sp.log) or not expr.args[0].is_Add:
        return None
    const, rest = expr.args[0].as_coeff_Add()
    if const != 1 or rest == 0:
        return None
    return log1p(rest)


def _expm1(expr):
    """exp(u) - 1 -> expm1(u), also c*exp(u) - c -> c*expm1(u)."""
    if not expr.is_Add:
        return None
    const, rest = expr.as_coeff_Add()
    if const == 0:
        return None
    terms = list(sp.Add.make_args(rest))
    for i, term in enumerate(terms):
        coeff, e = term.as_coeff_Mul()
        if isinstance(e, sp.exp) and coeff == -const:
            terms[i] = coeff * expm1(e.args[0])
            return sp.Add(*terms)
    return None


def _one_plus_exp(base: sp.Expr) -> sp.Expr | None:
    """`u` when `base` is ``1 + exp(u)``."""
    if not base.is_Add:
        return None
    const, rest = base.as_coeff_Add()
    if const == 1 and isinstance(rest, sp.exp):
        return rest.args[0]
    return None


def _sigmoid_factors(expr, powers):
    """exp(k*u)/(1 + exp(u))**m -> sigmoid(u)**k * sigmoid(-u)**(m - k), 0 <= k <= m,
    for m in `powers`."""
    factors = list(sp.Mul.make_args(expr)) if expr.is_Mul else [expr] if expr.is_Pow else []
    for i, f in enumerate(factors):
        if not (f.is_Pow and f.exp.is_Integer and f.exp < 0):
            continue
        u = _one_plus_exp(f.base)
        if u is None:
            continue
        m = int(-f.exp)
        if m not in powers:
            continue
        k, j = 0, None
        for jj, g in enumerate(factors):
            if isinstance(g, sp.exp):
                k = next((k for k in range(m + 1) if sp.expand(g.args[0] - k * u) == 0), None)
                j = jj if k is not None else None
                k = k or 0
                break
        rest = [g for jj, g in enumerate(factors) if jj not in (i, j)]
        return sp.Mul(*rest) * sigmoid(u) ** k * sigmoid(-u) ** (m - k)
    return None


def _one_minus_sigmoid(expr):
    """c - c*sigmoid(u) -> c*sigmoid(-u)."""
    if not expr.is_Add:
        return None
    const, rest = expr.as_coeff_Add()
    if const == 0:
        return None
    terms = list(sp.Add.make_args(rest))
    for i, term in enumerate(terms):
        coeff, s = term.as_coeff_Mul()
        if isinstance(s, sigmoid) and coeff == -const:
            terms[i] = const * sigmoid(-s.args[0])
            return sp.Add(*terms)
    return None


def _exp_times_sigmoid(expr):
    """exp(k*u) * sigmoid(-u)**n -> sigmoid(u)**k * sigmoid(-u)**(n-k), 1 <= k <= n
    (since exp(u)/(1 + exp(u)) = sigmoid(u))."""
    if not expr.is_Mul:
        return None
    factors = list(expr.args)
    for i, f in enumerate(factors):
        if not isinstance(f, sp.exp):
            continue
        for j, g in enumerate(factors):
            base, n = (g.base, g.exp) if g.is_Pow else (g, sp.S.One)
            if not (isinstance(base, sigmoid) and n.is_Integer and n > 0):
                continue
            u = -base.args[0]
            k = next((k for k in range(1, int(n) + 1)
                      if sp.expand(f.args[0] - k * u) == 0), None)
            if k is not None:
                rest = [h for m, h in enumerate(factors) if m not in (i, j)]
                return sp.Mul(*rest) * sigmoid(u) ** k * sigmoid(-u) ** (int(n) - k)
    return None


def _log_sigmoid(expr):
    if isinstance(expr, sp.log) and isinstance(expr.args[0], sigmoid):
        return -logaddexp(0, -expr.args[0].args[0])
    return None


def _hypot(expr):
    """(x**2 + y**2)**(n/2) -> hypot(x, y)**n for odd n; a positive constant c among
    the terms is sqrt(c)**2 (sqrt(x**2 + eps) at x = 1e200 is 1e200, not inf)."""
    if not (expr.is_Pow and expr.exp.is_Rational and expr.exp.q == 2 and expr.base.is_Add):
        return None
    terms = sp.Add.make_args(expr.base)
    bases = [t.base if t.is_Pow and t.exp == 2 else
             sp.sqrt(t) if t.is_Number and t.is_positive else None for t in terms]
    if len(terms) < 2 or None in bases or all(t.is_Number for t in terms):
        return None
    result = bases[0]
    for b in bases[1:]:
        result = hypot(result, b)
    return result ** expr.exp.p


def _log_cosh(expr):
    """log(cosh(u)) -> logaddexp(u, -u) - log(2): cosh overflows at |u| > 710."""
    if isinstance(expr, sp.log) and isinstance(expr.args[0], sp.cosh):
        u = expr.args[0].args[0]
        return logaddexp(u, -u) - sp.log(2)
    return None


def _sech_squared(expr):
    """c - c*tanh(u)**2 -> c/cosh(u)**2 (tanh' = 1 - tanh**2 cancels to 0 for |u| > 19,
    where it is about 4*exp(-2|u|))."""
    if not expr.is_Add:
        return None
    const, rest = expr.as_coeff_Add()
    if const == 0:
        return None
    terms = list(sp.Add.make_args(rest))
    for i, term in enumerate(terms):
        coeff, t = term.as_coeff_Mul()
        if coeff == -const and t.is_Pow and t.exp == 2 and isinstance(t.base, sp.tanh):
            terms[i] = const / sp.cosh(t.base.args[0]) ** 2
            return sp.Add(*terms)
    return None


#: Near a removable singularity at u = 0 (``(1 - cos(u))/u**2``) the expression is
#: replaced by its Taylor polynomial of `SERIES_ORDER` terms for |u| < `SERIES_RADIUS`;
#: the direct form cancels catastrophically there (1e8 instead of -8e-10 at 1e-8) and
#: is accurate beyond (its terms are at most ~1/u**3 there).
SERIES_RADIUS = sp.Rational(1, 4)
SERIES_ORDER = 14
_DIRECT: set = set()  # expressions given a series branch in this `stabilize_expr` call
_TRANSCENDENTAL = (sp.sin, sp.cos, sp.tan, sp.exp, sp.log, sp.sinh, sp.cosh, sp.tanh,
                   expm1, log1p)


def _removable_singularity(expr):
    """f(u) -> where(|u| < r, taylor(f), f) where f is undefined at u = 0 (0/0) but
    has a finite Taylor series there (SymPy finds it); None otherwise. In a sum only
    the terms singular at 0 are expanded (the others are left as they are, and SymPy's
    series of a long sum is slow)."""
    if not (expr.is_Add or expr.is_Mul) or len(expr.free_symbols) != 1 or \
            expr in _DIRECT or not expr.has(*_TRANSCENDENTAL):
        return None
    (u,) = expr.free_symbols
    if not u.is_real or not _singular_at_zero(expr, u):
        return None
    regular = [t for t in expr.args if expr.is_Add and not _singular_at_zero(t, u)]
    singular = sp.Add(*[t for t in expr.args if t not in regular]) if regular else expr
    if sp.count_ops(singular) > 30 or not singular.has(*_TRANSCENDENTAL):
        return None
    form = _series_form(singular, u)
    if form is None:
        return None
    _DIRECT.add(singular)  # the branch away from 0 keeps the direct form: no second match
    _DIRECT.add(expr)
    return sp.Add(*regular, form)


def _nested_series(expr):
    """where(c, a, where(c, a, b)) -> where(c, a, b): the derivative of a series form
    is a series form, whose direct branch the rule above would wrap again."""
    if isinstance(expr, sp.Piecewise) and len(expr.args) == 2:
        (a, c), (inner, _) = expr.args
        if isinstance(inner, sp.Piecewise) and len(inner.args) == 2 and \
                inner.args[0] == (a, c):
            return inner
    return None


def _singular_at_zero(expr, u) -> bool:
    """Whether `expr` divides by something that vanishes at u = 0."""
    return any(p.exp.is_negative and p.base.has(u) and p.base.subs(u, 0) == 0
               for p in expr.atoms(sp.Pow))


@functools.lru_cache(maxsize=1024)
def _series_form(expr, u):
    try:
        series = sp.series(expr, u, 0, SERIES_ORDER + 1).removeO()
    except (NotImplementedError, ValueError, TypeError, sp.PoleError):
        return None
    powers = [t.as_coeff_exponent(u)[1] for t in sp.Add.make_args(series)]
    if series.has(sp.Order) or any(not (p.is_Integer and p >= 0) for p in powers) or \
            series.free_symbols - {u} or series.has(*_TRANSCENDENTAL):
        return None
    near = sp.Lt(Absolute(u), SERIES_RADIUS)
    return sp.Piecewise((series, near), (expr, True))


#: In the order they are tried on each subexpression; the first that matches wins.
RULES: tuple[Rule, ...] = (
    Rule("log(1 + exp(u)) -> np.logaddexp(0, u)", _softplus),
    Rule("log(exp(a) + exp(b)) -> np.logaddexp(a, b)", _logaddexp),
    Rule("log(sigmoid(u)) -> -np.logaddexp(0, -u)", _log_sigmoid),
    Rule("log(1 + u) -> np.log1p(u)", _log1p),
    Rule("exp(u) - 1 -> np.expm1(u)", _expm1),
    Rule("1/(1 + exp(-u)) -> sigmoid(u) = np.exp(np.minimum(u, 0))/(1 + np.exp(-np.abs(u)))",
         lambda e: _sigmoid_factors(e, (1,))),
    Rule("exp(k*u)/(1 + exp(u))**m -> sigmoid(u)**k*sigmoid(-u)**(m-k)",
         lambda e: _sigmoid_factors(e, range(2, 9))),
    Rule("exp(u)*sigmoid(-u) -> sigmoid(u)", _exp_times_sigmoid),
    Rule("1 - sigmoid(u) -> sigmoid(-u)", _one_minus_sigmoid),
    Rule("sqrt(x**2 + y**2) -> np.hypot(x, y)", _hypot),
    Rule("log(cosh(u)) -> np.logaddexp(u, -u) - log(2)", _log_cosh),
    Rule("1 - tanh(u)**2 -> 1/cosh(u)**2", _sech_squared),
    Rule(f"f(u) undefined at u = 0 (0/0) -> its Taylor polynomial for |u| < "
         f"{SERIES_RADIUS}", _removable_singularity),
    Rule("where(c, a, where(c, a, b)) -> where(c, a, b)", _nested_series),
)

_MAX_PASSES = 8


def stabilize_expr(expr: sp.Expr, applied: set[str] | None = None) -> sp.Expr:
    """`expr` with every rule applied bottom-up; the names of the rules used are
    added to `applied`."""
    applied = set() if applied is None else applied
    memo: dict[sp.Basic, sp.Basic] = {}
    _DIRECT.clear()
    return _rewrite(expr, applied, memo)


def _rewrite(expr, applied: set[str], memo: dict):
    if expr.is_Atom or not isinstance(expr, sp.Basic):
        return expr
    done = memo.get(expr)
    if done is not None:
        return done
    args = [_rewrite(a, applied, memo) for a in expr.args]
    new = expr.func(*args) if any(a is not b for a, b in zip(args, expr.args)) else expr
    for _ in range(_MAX_PASSES):
        for rule in RULES:
            out = rule.apply(new) if isinstance(new, sp.Expr) else None
            if out is not None and out != new:
                applied.add(rule.name)
                new = _rewrite(out, applied, memo) if out.args else out
                break
        else:
            break
    memo[expr] = new
    return new


# -- the graph pass ----------------------------------------------------------------------
LOGSUMEXP = "log(sum(exp(z))) -> m + log(sum(exp(z - m))), m = max(z)"
LOG_PROD = "log(prod(u)) -> sum(log(u)) for positive u"
SOFTMAX = "exp(z)/sum(exp(z)) -> exp(z - m)/sum(exp(z - m)), m = max(z)"


def stabilize(graph: Graph) -> Graph:
    """Rewrite `graph` into stable forms: logsumexp shifts, then every real
    elementwise expression by `RULES`. Returns `graph` itself when nothing applies."""
    applied: set[str] = set()
    summed = _sum_logs(graph)
    if summed is not None:
        applied.add(LOG_PROD)
        graph = graph.derive(summed, graph.outputs)
    softmax = _shift_softmax(graph)
    if softmax is not None:
        applied.add(SOFTMAX)
        graph = graph.derive(softmax, graph.outputs)
    shifted = _shift_logsumexp(graph)
    if shifted is not None:
        applied.add(LOGSUMEXP)
    sigmoids: dict[sp.Symbol, sp.Expr] = {}  # values that are a sigmoid, to look through
    nodes = []
    for node in shifted or graph.nodes:
        if node.op == ELEMENTWISE and node.out.dtype.kind == "f":
            expr = _look_through(node.expr, sigmoids, graph, node.out.dtype)
            new = stabilize_expr(expr, applied)
            if isinstance(new, sigmoid):
                sigmoids[node.out.symbol] = new
            if new != node.expr:
                node = Node(node.out, ELEMENTWISE, params=node.params, expr=new, loc=node.loc)
        nodes.append(node)
    if not applied:
        return graph
    result = graph.derive(nodes, graph.outputs)
    order = {rule.name: i for i, rule in enumerate(RULES)}
    result.stable_rewrites = sorted(set(graph.stable_rewrites) | applied,
                                    key=lambda name: order.get(name, len(order)))
    return result


def _sum_logs(graph: Graph) -> list[Node] | None:
    """New node list where each ``log(p)``, p = prod(e) with e positive (a sigmoid, an
    exp), reads ``sum(log(e))`` instead: the product underflows to 0 (log gives -inf)
    long before the sum of logs leaves the float range. None when there is none."""
    defs = graph.definitions()
    after: dict[Var, list[Node]] = {}
    summed: dict[sp.Expr, sp.Expr] = {}
    for node in graph.nodes:
        if node.op != ELEMENTWISE or node.out.dtype.kind != "f":
            continue
        for log in node.expr.atoms(sp.log):
            p = graph.by_symbol.get(log.args[0])
            prod = defs.get(p)
            if log in summed or prod is None or prod.op != "prod":
                continue
            src = prod.inputs[0]
            e = defs.get(src)
            factor = e.expr if e is not None and e.op == ELEMENTWISE else src.symbol
            if src.dtype != p.dtype or not factor.is_positive:
                continue
            logs = graph.new_var(src.shape, src.dtype)
            total = graph.new_var(p.shape, p.dtype)
            after.setdefault(p, []).extend([
                Node(logs, ELEMENTWISE, expr=sp.log(factor), loc=prod.loc),
                Node(total, "sum", (logs,), prod.params, loc=prod.loc)])
            summed[log] = total.symbol
    if not summed:
        return None
    nodes = []
    for node in graph.nodes:
        if node.op == ELEMENTWISE and node.expr.has(sp.log):
            new_expr = node.expr.xreplace(summed)
            if new_expr != node.expr:
                node = Node(node.out, ELEMENTWISE, params=node.params, expr=new_expr, loc=node.loc)
        nodes.append(node)
        nodes.extend(after.get(node.out, ()))
    return nodes


def _shift_logsumexp(graph: Graph) -> list[Node] | None:
    """New node list where each ``log(s)``, s = sum(exp(z)), reads the max-shifted
    sum instead; None when there is no such pattern (or no `max` primitive)."""
    if "max" not in PRIMITIVES:
        return None
    defs = graph.definitions()
    after: dict[Var, list[Node]] = {}  # new nodes, placed after the sum they replace
    shifted: dict[sp.Expr, sp.Expr] = {}  # log(s) -> m + log(s')
    for node in graph.nodes:
        if node.op != ELEMENTWISE or node.out.dtype.kind != "f":
            continue
        for log in node.expr.atoms(sp.log):
            s = graph.by_symbol.get(log.args[0])
            if log in shifted or s is None or s not in defs:
                continue
            new = _shifted_sum(graph, defs, defs[s])
            if new is not None:
                after[s], shifted[log] = new
    if not shifted:
        return None
    nodes = []
    for node in graph.nodes:
        if node.op == ELEMENTWISE and node.expr.has(sp.log):
            new_expr = node.expr.xreplace(shifted)
            if new_expr != node.expr:
                node = Node(node.out, ELEMENTWISE, params=node.params, expr=new_expr, loc=node.loc)
        nodes.append(node)
        nodes.extend(after.get(node.out, ()))
    return nodes


def _is_shifted(graph: Graph, defs: dict, z: sp.Expr, axes: tuple) -> bool:
    """Whether `z` already subtracts a logsumexp shift: this rewrite's (it is
    idempotent), or the user's own ``z = a - np.max(a, axis, keepdims=True)``."""
    forms = [z] + [defs[v].expr for v in map(graph.by_symbol.get, z.free_symbols)
                   if v in defs and defs[v].op == ELEMENTWISE]
    return any(e.has(finite_or_zero) or _minus_own_max(graph, defs, e, axes) for e in forms)


def _minus_own_max(graph: Graph, defs: dict, e: sp.Expr, axes: tuple) -> bool:
    """Whether `e` is ``a - m`` with m the keepdims max of a over `axes`."""
    for m in e.free_symbols:
        node = defs.get(graph.by_symbol.get(m))
        if node is not None and node.op == "max" and node.p["keepdims"] and \
                tuple(node.p["axes"]) == tuple(axes) and \
                sp.expand(e - (node.inputs[0].symbol - m)) == 0:
            return True
    return False


def _shifted_sum(graph: Graph, defs: dict, total: Node):
    """(new nodes, m + log(s')) for ``total = sum(exp(z))``, or None."""
    parts = _shifted_parts(graph, defs, total)
    if parts is None:
        return None
    new, m, _, s = parts
    return new, m.symbol + sp.log(s.symbol)


def _shifted_parts(graph: Graph, defs: dict, total: Node):
    """(new nodes, m, t, s') for ``total = sum(exp(z))``: t = exp(z - m) and
    s' = sum(t), so that total = exp(m)*s' with m = max(z) (held, 0 where not
    finite); None when `total` is no such sum or z is already shifted."""
    if total.op != "sum":
        return None
    e = defs.get(total.inputs[0])
    if e is None or e.op != ELEMENTWISE or not isinstance(e.expr, sp.exp) or \
            not e.expr.free_symbols or e.out.dtype.kind != "f":
        return None
    z, params, loc = e.expr.args[0], total.p, total.loc
    if _is_shifted(graph, defs, z, params["axes"]):
        return None
    shape, dtype = e.out.shape, e.out.dtype
    kept = tuple(1 if i in params["axes"] else d for i, d in enumerate(shape))
    new: list[Node] = []

    def add(shape_, op, inputs=(), params_=(), expr=None, at=loc) -> Var:
        var = graph.new_var(shape_, dtype)
        new.append(Node(var, op, tuple(inputs), tuple(params_), expr=expr, loc=at))
        return var

    zvar = graph.by_symbol.get(z)
    if zvar is None or zvar.shape != shape:
        zvar = add(shape, ELEMENTWISE, expr=z)
    held = add(shape, "stop_gradient", (zvar,), at=None)  # no source line: not the user's
    peak = add(kept, "max", (held,), (("axes", params["axes"]), ("keepdims", True)))
    m = add(kept, ELEMENTWISE, expr=finite_or_zero(peak.symbol))
    terms = add(shape, ELEMENTWISE, expr=sp.exp(z - m.symbol))
    s = add(total.out.shape, "sum", (terms,), total.params)
    if not params["keepdims"]:
        m = add(total.out.shape, "reshape", (m,), (("shape", total.out.shape),))
    return new, m, terms, s


def _shift_softmax(graph: Graph) -> list[Node] | None:
    """New node list where an expression reading both ``e = exp(z)`` and
    ``s = sum(e)`` (the softmax ``e/s``, unshifted) reads ``t = exp(z - m)`` and
    ``s' = sum(t)`` instead, where the factor exp(m) cancels; None when none does."""
    defs = graph.definitions()
    scale = sp.Dummy("scale", positive=True)  # stands for exp(m), which must cancel
    after: dict[Var, list[Node]] = {}
    parts: dict[Var, tuple | None] = {}
    rewritten: dict[Var, sp.Expr] = {}
    for node in graph.nodes:
        if node.op != ELEMENTWISE or node.out.dtype.kind != "f":
            continue
        expr = node.expr
        for sym in sorted(node.expr.free_symbols, key=str):
            total = defs.get(graph.by_symbol.get(sym))
            if total is None or total.op != "sum" or total.inputs[0].symbol not in \
                    expr.free_symbols or total.out.shape != node.out.shape and \
                    total.out.shape != () and not total.p["keepdims"]:
                continue
            if total.out not in parts:
                parts[total.out] = _shifted_parts(graph, defs, total)
            if parts[total.out] is None:
                continue
            new, _, terms, s = parts[total.out]
            trial = expr.xreplace({total.inputs[0].symbol: terms.symbol * scale,
                                   sym: s.symbol * scale})
            if scale not in trial.free_symbols:
                expr = trial
                after[total.out] = new
        if expr is not node.expr:
            rewritten[node.out] = expr
    if not rewritten:
        return None
    nodes = []
    for node in graph.nodes:
        if node.out in rewritten:
            node = Node(node.out, ELEMENTWISE, params=node.params, expr=rewritten[node.out],
                        loc=node.loc)
        nodes.append(node)
        nodes.extend(after.get(node.out, ()))
    return nodes


def _look_through(expr, sigmoids: dict, graph: Graph, dtype) -> sp.Expr:
    """Replace a sigmoid-valued operand by its formula where a rule can use it: inside
    ``log``, in ``1 - s``, and as a divisor (where it cancels a sigmoid factor)."""
    usable = {s: e for s, e in sigmoids.items()
              if s in expr.free_symbols and graph.by_symbol[s].dtype == dtype}
    if not usable:
        return expr

    def query(e):
        if e.is_Mul and any(isinstance(f, sp.exp) for f in e.args):
            return any((f.base if f.is_Pow else f) in usable for f in e.args)
        if isinstance(e, sp.log):
            return e.args[0] in usable
        if e.is_Pow:
            return e.base in usable and e.exp.is_negative
        if e.is_Add:
            const, rest = e.as_coeff_Add()
            return const == 1 and any(-t in usable for t in sp.Add.make_args(rest))
        return False

    def value(e):
        if isinstance(e, sp.log):
            return sp.log(usable[e.args[0]])
        if e.is_Pow and e.base in usable:
            return usable[e.base] ** e.exp
        return e.xreplace({s: f for s, f in usable.items()})

    return expr.replace(query, value)
