"""Stage 4: the passes that rewrite a graph before it becomes a straight-line program
(`program.to_program`).

Passes, each a function of a graph: dead-code elimination, value numbering (one node
per distinct computation), fusion (a single-use elementwise value is inlined into its
elementwise consumer; a broadcast feeding elementwise math is dropped where NumPy's
own broadcasting does the same) and simplification of every expression under a size
budget.
"""

from __future__ import annotations

import functools
from collections import Counter

import numpy as np
import sympy as sp

from ..ir import dims
from ..ir.canonical import canonical, rename
from ..ir.elementwise import number
from ..ir.graph import CONST, ELEMENTWISE, INPUT, Graph, Node, Var, dce, graph_pass, is_size_symbol
from .loops import optimize_loops
from .reductions import rewrite_reductions
from .shift import stop_cancelling_shifts
from .stable import stabilize
from .unit_floats import without_unit_floats

__all__ = [
    "optimize",
    "dce",
    "value_number",
    "fuse",
    "simplify_expressions",
    "simplify_expr",
    "SIMPLIFY_MAX_OPS",
]

#: Expressions with more operations than this are left as they are: simplification
#: time grows much faster than size, and big expressions are rarely improved.
SIMPLIFY_MAX_OPS = 40


def optimize(graph: Graph, simplify: bool = True) -> Graph:
    """All graph passes, in order (and inside loop bodies)."""
    graph = optimize_loops(dce(graph), lambda body: optimize(body, simplify))
    graph = fuse(value_number(collapse_scalar_broadcasts(graph)))
    if not simplify:  # (before differentiation) a max shift the value does not depend on
        graph = stop_cancelling_shifts(graph)
    stable = stabilize(graph)  # numerically stable forms; may leave values single-use
    graph = fuse(stable) if stable is not graph else graph
    if not simplify:
        return graph
    reduced = rewrite_reductions(graph)  # scalars out of sums, dot products
    graph = fuse(value_number(reduced)) if reduced is not graph else graph
    return constant_broadcasts(simplify_expressions(graph))


#: Structured ops that move elements without changing them: uniform in, uniform out.
_REARRANGING = ("broadcast_to", "reshape", "transpose", "index")


@graph_pass
def constant_broadcasts(graph: Graph) -> Graph:
    """Constants of one value everywhere, folded: a broadcast of a constant scalar that
    fusion could not remove (a gradient of ones or zeros), rearrangements of such
    arrays, elementwise math on them alone, and their sums. Arrays become constant
    arrays, printed `np.zeros(shape)`, `np.ones(shape)` or `np.full(shape, c)` (their
    values are broadcast views, so no memory is spent); scalars become numbers, which
    fusion then writes into the expressions that read them."""
    nodes, changed = [], False
    uniform: dict[Var, np.ndarray] = {}  # Var -> its one value (0-d)
    for node in graph.nodes:
        value = None
        if node.op == CONST:
            if node.value.size and (node.value == node.value.flat[0]).all():
                uniform[node.out] = np.asarray(node.value.flat[0])
        elif node.op == ELEMENTWISE and not node.expr.free_symbols:  # a number
            number = _numpy_scalar(node.expr, node.out.dtype)
            if number is not None and node.out.shape == ():
                uniform[node.out] = number
        elif node.op == "sum" and dims.is_symbolic(node.inputs[0].shape):
            pass  # (n times the value: not a number)
        elif node.op in _REARRANGING and node.inputs[0] in uniform and node.out.size:
            value = uniform[node.inputs[0]]
        elif node.op == ELEMENTWISE and all(v in uniform for v in graph.operands(node)):
            folded = node.expr.xreplace({v.symbol: sp.sympify(uniform[v].item())
                                         for v in graph.operands(node)})  # 2*ones(n)
            value = _numpy_scalar(folded, node.out.dtype)
        elif node.op == "sum" and node.inputs[0] in uniform:  # sum(ones(n)) -> n
            count = node.inputs[0].size // max(node.out.size, 1)
            value = np.asarray(uniform[node.inputs[0]] * count, dtype=node.out.dtype)
        elif node.op == ELEMENTWISE and node.out.dtype.kind == "f":
            new = _uniform_operands_as_numbers(graph, node, uniform)
            node, changed = (new, True) if new is not None else (node, changed)
        if value is not None and value.dtype == node.out.dtype:
            uniform[node.out] = value
            node, changed = _constant_node(node, value), True
        nodes.append(node)
    return fuse(dce(graph.derive(nodes, graph.outputs))) if changed else graph


def _uniform_operands_as_numbers(graph: Graph, node: Node, uniform: dict) -> Node | None:
    """`node` with its operands of one value everywhere written as that number, where
    the others alone give the result its shape and dtype (``ones((1, 1))*inv(A).T`` is
    ``inv(A).T``); None when there is none such."""
    operands = graph.operands(node)
    others = [v for v in operands if v not in uniform]
    if not others or not _same_shape(dims.broadcast_shapes(*(v.shape for v in others)),
                                     node.out.shape) or \
            np.result_type(*(v.dtype for v in others)) != node.out.dtype:  # (zeros + x32)
        return None
    repl = {v.symbol: number(uniform[v]) for v in operands  # (not 0: x*0 -> 0 would
            if v in uniform and uniform[v].dtype == node.out.dtype  # drop x's nan and
            and uniform[v] != 0 and np.isfinite(uniform[v])  # shape; a 0-d float64
            and v.shape != ()}  # keeps its own rule: np.float64(2)*x32 is float64)
    expr = node.expr.xreplace(repl) if repl else None
    if expr is None or {v.symbol for v in others} - expr.free_symbols:
        return None
    return Node(node.out, ELEMENTWISE, params=node.params, expr=expr, loc=node.loc)


def _same_shape(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(dims.equal(x, y) for x, y in zip(a, b))


def _constant_node(node: Node, value: np.ndarray) -> Node:
    """A number for a float scalar (fusion writes it into its readers), else a constant
    array, a broadcast view of the one value."""
    if node.out.shape == () and value.dtype.kind == "f":
        return Node(node.out, ELEMENTWISE, expr=number(value), loc=node.loc)
    if dims.is_symbolic(node.out.shape):  # np.zeros((n, 3)): no array to hold
        return Node(node.out, "full", params=(("dtype", value.dtype.str), ("shape", node.out.shape),
                                              ("value", value.item())), loc=node.loc)
    return Node(node.out, CONST, value=np.broadcast_to(value, node.out.shape), loc=node.loc)


def _numpy_scalar(expr: sp.Expr, dtype: np.dtype) -> np.ndarray | None:
    """`expr` as a 0-d array of `dtype` when it is a plain number, else None."""
    if not expr.is_Number or dtype.kind not in "fiu":
        return None
    try:
        return np.asarray(float(expr) if dtype.kind == "f" else int(expr), dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        return None


# -- shapes of broadcast scalars -----------------------------------------------------------
_SHAPE_OPS = ("broadcast_to", "reshape")


@graph_pass
def collapse_scalar_broadcasts(graph: Graph) -> Graph:
    """A reshape or broadcast of a broadcast scalar is that scalar broadcast once
    (adjoints of means arrive as such chains); fusion can then inline the scalar."""
    scalar_source: dict[Var, Var] = {}
    nodes = []
    changed = False
    for node in graph.nodes:
        if node.op in _SHAPE_OPS:
            (x,) = node.inputs
            src = scalar_source.get(x, x if x.shape == () and node.op == "broadcast_to" else None)
            if src is not None:
                scalar_source[node.out] = src
                if x is not src or node.op != "broadcast_to":
                    node = Node(node.out, "broadcast_to", (src,), (("shape", node.out.shape),),
                                loc=node.loc)
                    changed = True
        nodes.append(node)
    return dce(graph.derive(nodes, graph.outputs)) if changed else graph


# -- value numbering ---------------------------------------------------------------------
@graph_pass
def value_number(graph: Graph) -> Graph:
    """Merge nodes that compute the same thing from the same operands."""
    seen: dict[tuple, Var] = {}
    alias: dict[Var, Var] = {}
    subs: dict[sp.Symbol, sp.Symbol] = {}
    outputs = set(graph.outputs)  # kept: callers name results by these Vars
    nodes = []
    for node in graph.nodes:
        if node.op == ELEMENTWISE and subs:
            new_expr = node.expr.xreplace(subs)
            if new_expr is not node.expr:
                node = Node(node.out, node.op, params=node.params, expr=new_expr, loc=node.loc)
        elif node.inputs and any(v in alias for v in node.inputs):
            node = Node(node.out, node.op, tuple(alias.get(v, v) for v in node.inputs),
                        node.params, loc=node.loc)
        key = node.key()
        if node.op != INPUT and key in seen and node.out not in outputs:
            alias[node.out] = seen[key]
            subs[node.out.symbol] = seen[key].symbol
            continue
        seen[key] = node.out
        nodes.append(node)
    g = graph.derive(nodes, [alias.get(v, v) for v in graph.outputs])
    for old, new in alias.items():
        if old in graph.names and new not in g.names:
            g.names[new] = graph.names[old]
    return g


# -- fusion ------------------------------------------------------------------------------
def _occurrences(graph: Graph) -> tuple[Counter, dict[Var, list[Node]], dict[Var, int]]:
    """How often each Var is read (counting repeats inside one expression), by whom,
    and the size (tree nodes) of each elementwise expression."""
    uses: Counter = Counter()
    consumers: dict[Var, list[Node]] = {}
    sizes: dict[Var, int] = {}
    for node in graph.nodes:
        if node.op == ELEMENTWISE:
            atoms = list(sp.preorder_traversal(node.expr))
            sizes[node.out] = len(atoms)
            counts = Counter(s for s in atoms if isinstance(s, sp.Symbol))
            for sym, n in counts.items():
                var = graph.by_symbol[sym]
                uses[var] += n
                consumers.setdefault(var, []).append(node)
        else:
            for var in node.inputs:
                uses[var] += 1
                consumers.setdefault(var, []).append(node)
    for var in graph.outputs:
        uses[var] += 1
    return uses, consumers, sizes


@graph_pass
def fuse(graph: Graph, rounds: int = 3) -> Graph:
    """Inline single-use elementwise values and scalar constants into elementwise
    consumers; read broadcasts' sources directly where NumPy broadcasts the same way.
    A round can expose more (a broadcast gone leaves a single use), hence `rounds`."""
    for _ in range(rounds):
        before = len(graph.nodes)
        graph = _fuse_once(graph)
        if len(graph.nodes) == before:
            break
    return graph


#: Fusion stops growing an expression past this many tree nodes: a long single-use
#: chain (the adjoints of a deep network) would otherwise become one huge product,
#: slow for SymPy to build and unreadable to print.
MAX_FUSED_SIZE = 60


def _fuse_once(graph: Graph) -> Graph:
    uses, consumers, sizes = _occurrences(graph)
    outputs = set(graph.outputs)
    defs = graph.definitions()
    inline: dict[Var, sp.Expr] = {}
    expr_names = dict(graph.expr_names)
    nodes = []
    for node in graph.nodes:
        if node.op != ELEMENTWISE:
            nodes.append(node)
            continue
        expr = _substitute(graph, node, inline, defs)
        var = node.out
        sizes[var] += sum(sizes.get(v, 0) for v in graph.operands(node) if v in inline)
        only_elementwise = all(c.op == ELEMENTWISE and c.out.dtype == var.dtype
                               for c in consumers.get(var, ()))
        constant = not expr.free_symbols and var.shape == () and var.dtype.kind != "b"
        small = sizes[var] <= MAX_FUSED_SIZE and not node.p.get("materialize")
        if var not in outputs and only_elementwise and (constant or uses[var] == 1 and small):
            inline[var] = expr
            if var in graph.names and expr.free_symbols:
                expr_names.setdefault(expr, graph.names[var])
            continue
        if expr is node.expr:
            nodes.append(node)
        else:
            nodes.extend(_keep_shape(graph, Node(var, ELEMENTWISE, node.inputs, node.params,
                                                 expr=expr, loc=node.loc)))
    fused = graph.derive(nodes, graph.outputs)
    fused.expr_names = expr_names
    return dce(fused)


def _keep_shape(graph: Graph, node: Node) -> list[Node]:
    """`node`, or, when substitution left its expression without the operands that gave
    it its shape (where(t < 2, t, x) with t a broadcast of x is just x), the expression
    at its own shape followed by a broadcast to the node's."""
    shapes = [graph.by_symbol[s].shape for s in node.expr.free_symbols]
    natural = dims.broadcast_shapes(*shapes) if shapes else ()
    if natural == node.out.shape:
        return [node]
    inner = graph.new_var(natural, node.out.dtype)
    return [Node(inner, ELEMENTWISE, expr=node.expr, loc=node.loc),
            Node(node.out, "broadcast_to", (inner,), (("shape", node.out.shape),), loc=node.loc)]


def _substitute(graph: Graph, node: Node, inline: dict, defs: dict) -> sp.Expr:
    """`node.expr` with inlined operands replaced by their expressions."""
    operands = graph.operands(node)
    shapes = {v: v.shape for v in operands}
    repl = {}
    for var in operands:
        if var in inline:
            repl[var.symbol] = inline[var]
            continue
        src_node = defs.get(var)
        if src_node is not None and src_node.op == "broadcast_to":
            src = src_node.inputs[0]
            others = [s for v, s in shapes.items() if v is not var]
            if src.dtype == var.dtype and dims.broadcast_shapes(src.shape, *others) == node.out.shape:
                repl[var.symbol] = inline.get(src, _constant_of(defs.get(src)) or src.symbol)
                shapes[var] = src.shape
    return node.expr.xreplace(repl) if repl else node.expr


def _constant_of(node: Node | None) -> sp.Expr | None:
    if node is not None and node.op == ELEMENTWISE and not node.expr.free_symbols:
        return node.expr
    return None


# -- simplification ----------------------------------------------------------------------
@graph_pass
def simplify_expressions(graph: Graph) -> Graph:
    nodes = []
    for node in graph.nodes:
        if node.op == ELEMENTWISE and node.out.dtype.kind != "b":
            new = simplify_expr(without_unit_floats(graph, node))
            new = _distribute_sizes(new) if any(map(is_size_symbol, new.free_symbols)) else new
            if new is not node.expr:
                node = Node(node.out, ELEMENTWISE, params=node.params, expr=new, loc=node.loc)
        nodes.append(node)
    return graph.derive(nodes, graph.outputs)


def _distribute_sizes(expr: sp.Expr) -> sp.Expr:
    """`(8*x + 12)/n` as `8*x/n + 12/n`, printed `8/n*x + 12/n`: a size is a scalar, so
    where every term has a number, the numbers absorb it and the quotient of the sum (a
    pass over the array) is saved, as SymPy does by itself for a number; otherwise the
    sum's common number joins the sizes (`2/n*(b - y)`), one scalar for one pass."""
    def scalar(f):
        return f.free_symbols and all(is_size_symbol(s) for s in f.free_symbols)

    def distribute(m):
        sizes = [f for f in m.args if scalar(f)]
        rest = [f for f in m.args if not scalar(f)]
        if not sizes or len(rest) != 1 or not rest[0].is_Add:
            return m
        content, terms = rest[0].primitive()  # 2*b - 2*y: 2, b - y
        factor = sp.Mul(content, *sizes)
        if all(t.is_Number or t.as_coeff_Mul()[0] not in (1, -1) for t in terms.args):
            return sp.Add(*[factor * t for t in terms.args])  # every term has a number
        return sp.Mul(factor, terms, evaluate=False)  # printed 2/n*(b - y)

    return expr.replace(lambda e: e.is_Mul, distribute)


@functools.lru_cache(maxsize=8192)
def simplify_expr(expr: sp.Expr, max_ops: int = SIMPLIFY_MAX_OPS) -> sp.Expr:
    """The cheapest of a few deterministic rewritings; big expressions are left alone.

    A rewriting must have fewer operations and print no longer. Memoized, also up to
    the names of the symbols (`canonical`): the forward, gradient and value-and-gradient
    programs share most expressions, and an unrolled loop repeats one in new names."""
    if expr.is_Atom or expr.has(sp.Piecewise):
        return expr
    canon, back = canonical(expr)
    best_ops = _count_ops(canon)
    if best_ops > max_ops:
        return expr
    best, best_len = expr, None
    for candidate, ops in _rewritings(canon):
        if ops >= best_ops:
            continue
        candidate = rename(candidate, back)
        best_len = best_len if best_len is not None else len(str(best))
        length = len(str(candidate))  # (in the user's names: lengths differ by name)
        if length <= best_len:
            best, best_ops, best_len = candidate, ops, length
    return best


@functools.lru_cache(maxsize=8192)
def _count_ops(expr: sp.Expr) -> int:
    return sp.count_ops(expr)


@functools.lru_cache(maxsize=8192)
def _rewritings(expr: sp.Expr) -> tuple[tuple[sp.Expr, int], ...]:
    """(rewriting, its operation count) for each rewriting of `expr` that keeps its
    floats and its symbols, in the order they are tried."""
    out = []
    for rewrite in (sp.factor_terms, _expand_small, sp.cancel, *_collectors(expr)):
        try:
            candidate = rewrite(expr)
        except (sp.PolynomialError, NotImplementedError, TypeError):
            continue
        if candidate.atoms(sp.Float) - expr.atoms(sp.Float) or \
                candidate.free_symbols != expr.free_symbols:  # (a dropped one may give the shape)
            continue  # (no arithmetic on the user's floats: 6*1e-05 is 6.000000000000001e-05)
        out.append((candidate, _count_ops(candidate)))
    return tuple(out)


def _collectors(expr: sp.Expr) -> list:
    """Factoring one symbol out of the terms of a sum that have it as a factor
    (x*(2 - 400*t) - 2 for -400*x*t + 2*x - 2) saves an array pass per term; tried
    for up to four symbols, in name order."""
    if not expr.is_Add:
        return []
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)[:4]
    return [functools.partial(_factor_out, symbol=s) for s in symbols]


def _factor_out(expr: sp.Expr, symbol: sp.Symbol) -> sp.Expr:
    """symbol * (sum of the terms having it as a factor, divided by it) + the rest."""
    inner, rest = [], []
    for term in sp.Add.make_args(expr):
        factors = list(sp.Mul.make_args(term))
        if symbol in factors:
            factors.remove(symbol)
            inner.append(sp.Mul(*factors, evaluate=False))  # keep -400*(a - b) whole
        else:
            rest.append(term)
    if len(inner) < 2:
        return expr
    return sp.Add(sp.Mul(symbol, sp.Add(*inner), evaluate=False), *rest)


def _expand_small(expr: sp.Expr) -> sp.Expr:
    """`expand`, unless a power of a sum is large enough to blow up."""
    for p in expr.atoms(sp.Pow):
        if p.base.is_Add and p.exp.is_Integer and abs(int(p.exp)) > 4:
            return expr
    return sp.expand(expr)
