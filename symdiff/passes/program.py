"""Stage 4's last step: a graph as a straight-line program of statements, with a
deterministic common-subexpression elimination over the whole graph; a CSE temporary
is placed just before its first reader."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..ir.graph import CONST, ELEMENTWISE, INPUT, Graph, Node, Var, is_size_symbol
from ..ir.loops import LOOP
from .loops import loop_statements, with_bodies
from .stable import lower_sigmoid

__all__ = ["Program", "Statement", "to_program"]


@dataclass
class Statement:
    """`target = expr` (elementwise or a CSE temporary) or `target = op(args)`."""

    target: sp.Symbol
    var: Var | None
    expr: sp.Expr | None = None
    node: Node | None = None
    args: tuple = ()
    loc: str | None = None
    depth: int = 0  # how many loops enclose it (passes/loops.py)
    scope: Var | None = None  # the innermost enclosing loop's node
    _symbols: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def symbols(self) -> frozenset:
        """The free symbols of `expr` (none without one), found once per expression: the
        module's passes and its printer ask for them again and again."""
        cached = self._symbols
        if cached is None or cached[0] is not self.expr:
            found = frozenset(self.expr.free_symbols) if self.expr is not None else frozenset()
            cached = self._symbols = (self.expr, found)
        return cached[1]

    @property
    def reads(self) -> frozenset:
        """The symbols the statement reads: its expression's, or its node's arguments."""
        return self.symbols if self.expr is not None else frozenset(self.args)


@dataclass
class Program:
    inputs: list[Var]
    outputs: list[Var]
    statements: list[Statement]
    names: dict[Var, str] = field(default_factory=dict)
    temps: list[sp.Symbol] = field(default_factory=list)
    by_symbol: dict[sp.Symbol, Var] = field(default_factory=dict)
    adjoint_of: dict[Var, Var] = field(default_factory=dict)
    expr_names: dict[sp.Expr, str] = field(default_factory=dict)
    temp_defs: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)
    stable_rewrites: list[str] = field(default_factory=list)
    #: the dtype of each CSE temporary a value is an alias of (the value's own)
    temp_dtypes: dict[sp.Symbol, np.dtype] = field(default_factory=dict)
    #: the statements of the whole module's program this one was sliced from
    #: (passes/whole_module.py), where a shared temporary's first reader is
    module_statements: list[Statement] | None = None
    #: Graph.operand_order: the user's order of an elementwise value's operands
    operand_order: dict[sp.Symbol, tuple[sp.Symbol, ...]] = field(default_factory=dict)
    #: the optimised graph the statements were ordered from (the derivatives' notation)
    graph: Graph | None = field(default=None, repr=False, compare=False)

    def size_symbols(self) -> set[sp.Symbol]:
        """The symbols of sizes and of temporaries that are functions of sizes alone
        (`_t0 = 1/n`): scalars a printer puts first in a product (`8/n*x`)."""
        sizes = {s for s in self.by_symbol if is_size_symbol(s)}
        return sizes | {t for t, e in self.temp_defs.items()
                        if e.free_symbols and e.free_symbols <= sizes}


def _common_subexpressions(body, exprs, temp_symbols):
    """(temporaries, the expressions reading them): SymPy's canonical CSE, then bare
    temporaries absorbed and number-only ones inlined."""
    temps, reduced = sp.cse(exprs, symbols=temp_symbols or sp.numbered_symbols(
        "c", real=True), order="canonical", list=True)
    temps, reduced = _absorb_bare_temporaries(body, temps, reduced)
    return _inline_numbers(temps, reduced)


def _absorb_bare_temporaries(body, temps, reduced):
    """A statement whose whole expression is a CSE temporary takes the temporary's
    definition (no `_t1 = _t0`), when it is the temporary's first user."""
    temp_defs = dict(temps)
    elementwise = [n for n in body if n.op == ELEMENTWISE]
    first_use: dict[sp.Symbol, int] = {}

    def mark(sym, i):
        if sym not in first_use:
            first_use[sym] = i
            for dep in temp_defs[sym].free_symbols & temp_defs.keys():
                mark(dep, i)

    for i, expr in enumerate(reduced):
        for sym in expr.free_symbols & temp_defs.keys():
            mark(sym, i)
    rename = {}
    for i, (node, expr) in enumerate(zip(elementwise, reduced)):
        if expr in temp_defs and expr not in rename and first_use.get(expr) == i:
            rename[expr] = node.out.symbol
    if not rename:
        return temps, reduced
    new_reduced = [temp_defs[e].xreplace(rename) if e in rename and rename[e] == n.out.symbol
                   else e.xreplace(rename) for n, e in zip(elementwise, reduced)]
    new_temps = [(t, e.xreplace(rename)) for t, e in temps if t not in rename]
    return new_temps, new_reduced


def _size_ratio(expr: sp.Expr) -> bool:
    """A ratio of sizes (`1/n`, `2/(d*n)`): a Python number once printed, which costs
    nothing to compute twice and reads better in place (`8/n*x + 12/n`)."""
    return bool(expr.free_symbols) and all(map(is_size_symbol, expr.free_symbols)) and \
        all(p.exp.is_Integer for p in expr.atoms(sp.Pow)) and not expr.atoms(sp.Function)


def _inline_numbers(temps, reduced):
    """Put a temporary that is only a number (`sqrt(6)`), or a ratio of sizes, back where
    it is read: printed inside a float32 statement a number becomes
    `np.float32(np.sqrt(6))`, but as a statement of its own it would be a float64 scalar
    that widens every float32 array it meets."""
    numbers: dict = {}
    for t, e in temps:  # (in order: a number may read an earlier one)
        e = e.xreplace(numbers)
        if e.is_number or _size_ratio(e):
            numbers[t] = e
    if not numbers:
        return temps, reduced
    return ([(t, e.xreplace(numbers)) for t, e in temps if t not in numbers],
            [e.xreplace(numbers) for e in reduced])


def to_program(graph: Graph, cse: bool = True, temp_symbols=None, depth: int = 0) -> Program:
    """Order the nodes as statements, with CSE temporaries placed before first use; a
    loop's body follows its head, one level deeper (`depth` counts the enclosing loops;
    a body's temporaries are `temp_symbols`, unlike any other's)."""
    body = [n for n in graph.nodes if n.op not in (INPUT,)]
    temps, reduced, rewrites = _reduced(graph, body, cse, temp_symbols)
    reduced_iter = iter(reduced)
    temp_defs = dict(temps)
    placed: set[sp.Symbol] = set()
    statements: list[Statement] = []

    def place(sym, loc):
        if sym in placed:
            return
        for dep in sorted(temp_defs[sym].free_symbols & temp_defs.keys(), key=sp.default_sort_key):
            place(dep, loc)
        placed.add(sym)
        expr = temp_defs[sym].xreplace(alias) if alias else temp_defs[sym]  # aliases too
        statements.append(Statement(sym, None, expr=expr, loc=loc))

    alias: dict[sp.Symbol, sp.Symbol] = {}  # values that are just another name
    temp_dtypes: dict[sp.Symbol, np.dtype] = {}
    outputs = set(graph.outputs)
    bodies: list[Program] = []
    for node in body:
        if node.op == ELEMENTWISE:
            expr = next(reduced_iter)
            expr = expr.xreplace(alias) if alias else expr
            if expr.is_Symbol and node.out not in outputs and \
                    _dtype_of(graph, temp_dtypes, expr, node.out) == node.out.dtype:
                alias[node.out.symbol] = expr
                if expr in temp_defs:  # (a cast of this value reads the temporary)
                    temp_dtypes.setdefault(expr, node.out.dtype)
                    place(expr, node.loc)
                continue
            for sym in sorted(expr.free_symbols & temp_defs.keys(), key=sp.default_sort_key):
                place(sym, node.loc)
            statements.append(Statement(node.out.symbol, node.out, expr=expr, loc=node.loc))
        elif node.op == CONST:
            statements.append(Statement(node.out.symbol, node.out, node=node, loc=node.loc))
        else:
            args = tuple(alias.get(v.symbol, v.symbol) for v in node.inputs)
            for sym in sorted(set(args) & temp_defs.keys(), key=sp.default_sort_key):
                place(sym, node.loc)
            if node.op == LOOP:
                inner, program = loop_statements(node, args, to_program, Statement, depth)
                statements.extend(inner)
                bodies.append(program)
                continue
            statements.append(Statement(node.out.symbol, node.out, node=node, args=args,
                                        loc=node.loc))
    for stmt in statements:
        stmt.depth = max(stmt.depth, depth)
    result = Program(list(graph.inputs), list(graph.outputs), statements, dict(graph.names),
                     [s for s, _ in temps], graph.by_symbol, dict(graph.adjoint_of),
                     dict(graph.expr_names), temp_defs, rewrites, temp_dtypes, graph=graph,
                     operand_order=graph.operand_order)
    return with_bodies(result, bodies) if bodies else result


def _reduced(graph: Graph, body: list, cse: bool, temp_symbols):
    """(CSE temporaries, the elementwise expressions reading them, the stable rewrites
    the header lists): sigmoid lowered to the forms NumPy computes, each form listed."""
    forms: set[str] = set()
    exprs = [lower_sigmoid(n.expr, forms) for n in body if n.op == ELEMENTWISE]
    rewrites = list(graph.stable_rewrites)
    rewrites += sorted(f for f in forms if not any(f in r for r in rewrites))
    temps, reduced = _common_subexpressions(body, exprs, temp_symbols) if cse and exprs \
        else ([], [n.expr for n in body if n.op == ELEMENTWISE])
    return temps, reduced, rewrites


def _dtype_of(graph: Graph, temp_dtypes: dict, symbol: sp.Symbol, default: Var) -> np.dtype:
    """The dtype of a value or of a CSE temporary some value of that dtype is an alias
    of; `default`'s for a temporary no value is an alias of yet."""
    if symbol in graph.by_symbol:
        return graph.by_symbol[symbol].dtype
    return temp_dtypes.get(symbol, default.dtype)
