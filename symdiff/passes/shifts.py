"""Stable rewrites across nodes: shifts by a maximum and logs of products.

An elementwise rule (passes/stable.py) sees one expression; these see the graph, since
the quantities they relate live in different nodes:

    log(sum(exp(z)))     ->  m + log(sum(exp(z - m))), m = max(z)
    exp(z)/sum(exp(z))   ->  exp(z - m)/sum(exp(z - m))   (where exp(m) cancels)
    log(prod(u))         ->  sum(log(u)), for positive u (sigmoid, exp)

``m`` is a ``max`` reduction behind a ``stop_gradient`` (its derivative cancels
exactly, so it is not computed) and replaced by 0 where it is not finite (as in
`jax.nn.logsumexp`). Since `optimize` runs before differentiation too, gradients are
then the stable softmax ``exp(z - m)/sum(exp(z - m))``. Each function returns a new
node list, or None when its pattern does not occur.
"""

from __future__ import annotations

import sympy as sp

from ..ir.graph import ELEMENTWISE, Graph, Node, Var
from ..ir.primitives import PRIMITIVES

__all__ = ["finite_or_zero", "LOGSUMEXP", "LOG_PROD", "SOFTMAX", "sum_logs", "shift_softmax",
           "shift_logsumexp"]


class finite_or_zero(sp.Function):
    """`x` where it is finite, else 0: the shift of a logsumexp (no derivative: it is
    only ever used behind a stop_gradient)."""

    nargs = 1
    prints_argument_twice = True  # (codegen gives the argument a name of its own)

    def fdiff(self, argindex=1):
        return sp.S.Zero

    def _eval_is_real(self):
        return self.args[0].is_real

    def _numpycode(self, printer) -> str:
        # np.where(np.isfinite(x), x, 0) is np.nan_to_num(x, nan=0, posinf=0, neginf=0)
        # at a quarter of its cost (nan_to_num is Python code with several passes).
        x = printer._print(self.args[0])
        if not self.args[0].is_Symbol:
            return f"{printer._module_format('numpy.nan_to_num')}({x}, posinf=0, neginf=0)"
        where, isfinite = (printer._module_format(f"numpy.{f}") for f in ("where", "isfinite"))
        return f"{where}({isfinite}({x}), {x}, 0)"


LOGSUMEXP = "log(sum(exp(z))) -> m + log(sum(exp(z - m))), m = max(z)"
LOG_PROD = "log(prod(u)) -> sum(log(u)) for positive u"
SOFTMAX = "exp(z)/sum(exp(z)) -> exp(z - m)/sum(exp(z - m)), m = max(z)"


def sum_logs(graph: Graph) -> list[Node] | None:
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
    return _logs_replaced(graph, summed, after) if summed else None


def shift_logsumexp(graph: Graph) -> list[Node] | None:
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
    return _logs_replaced(graph, shifted, after) if shifted else None


def _logs_replaced(graph: Graph, logs: dict, after: dict) -> list[Node]:
    """The graph's nodes with the `logs` (log(x) -> its new form) replaced in every
    elementwise expression, and the new nodes `after` each value placed behind it."""
    nodes = []
    for node in graph.nodes:
        if node.op == ELEMENTWISE and node.expr.has(sp.log):
            new_expr = node.expr.xreplace(logs)
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
        if node is not None and node.op == "stop_gradient":  # (passes/shift.py's)
            node = defs.get(node.inputs[0])
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


def shift_softmax(graph: Graph) -> list[Node] | None:
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
