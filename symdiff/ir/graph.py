"""The IR: a DAG of SymPy expressions with shapes, in SSA definition order.

A `Var` is a value: an array of known shape and dtype, standing in expressions for
itself by a SymPy symbol (elementwise, with NumPy broadcasting). A `Node` defines one
Var, by one of:

- ``input``: an argument of the function;
- ``const``: a NumPy array baked into the program;
- ``elementwise``: a SymPy expression in other Vars' symbols;
- a structured primitive (``sum``, ``matmul``, ``reshape`` ...) with parameters.

Names are a printing concern: a Var carries only an id, a shape and a dtype; the
graph keeps name hints recovered from the user's code on the side.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from . import dims
from .primitives import PRIMITIVES

__all__ = ["Var", "Node", "Graph", "check_graph", "graph_pass", "dump", "is_size_symbol",
           "ELEMENTWISE", "INPUT", "CONST"]

ELEMENTWISE = "elementwise"
INPUT = "input"
CONST = "const"


@dataclass(frozen=True, eq=False)
class Var:
    """One SSA value. Identity is the object; `symbol` names it inside expressions."""

    id: int
    shape: tuple  # ints and SymPy expressions of dimension symbols (see dims)
    dtype: np.dtype
    symbol: sp.Symbol = field(repr=False)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self):
        """The number of elements: an int, or an expression of dimension symbols."""
        return dims.prod(self.shape)

    def type_str(self) -> str:
        """`f64[5,3]`, as in a dump."""
        kind = {"f": "f", "i": "i", "u": "u", "b": "bool", "c": "c"}.get(self.dtype.kind, "?")
        bits = "" if kind == "bool" else str(self.dtype.itemsize * 8)
        return f"{kind}{bits}[{','.join(map(str, self.shape))}]"


@dataclass(frozen=True, eq=False)
class Node:
    """The definition of `out`."""

    out: Var
    op: str
    inputs: tuple[Var, ...] = ()
    params: tuple[tuple[str, Any], ...] = ()
    expr: sp.Expr | None = None
    value: np.ndarray | None = None
    loc: str | None = None

    @property
    def p(self) -> dict[str, Any]:
        return dict(self.params)

    def key(self) -> tuple:
        """Hashable identity of the computation, for value numbering."""
        if self.op == ELEMENTWISE:
            return (self.op, self.expr, self.out.shape, self.out.dtype.str)
        if self.op == CONST:
            uniform = self.value.size and not any(self.value.strides)  # a broadcast scalar
            data = self.value.flat[0].tobytes() if uniform else self.value.tobytes()
            return (self.op, self.value.dtype.str, self.value.shape, bool(uniform), data)
        if self.op == INPUT:
            return (self.op, self.out.id)
        return (self.op, tuple(v.id for v in self.inputs), repr(self.params))


class Graph:
    """Nodes in definition order, the inputs in argument order, and the outputs."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.inputs: list[Var] = []
        self.outputs: list[Var] = []
        self.names: dict[Var, str] = {}
        self.by_symbol: dict[sp.Symbol, Var] = {}
        self.adjoint_of: dict[Var, Var] = {}  # cotangent -> primal, a naming hint
        self.expr_names: dict[sp.Expr, str] = {}  # user names of values fused away
        #: an elementwise value's operands in the order the user wrote them (`X @ w`
        #: before `b` in `X @ w + b`), which SymPy's canonical order forgets
        self.operand_order: dict[sp.Symbol, tuple[sp.Symbol, ...]] = {}
        self.stable_rewrites: list[str] = []  # rules of passes/stable.py applied, for the header
        self.requirements: list = []  # (expression of sizes that must be >= 0, why)
        self._next_id = 0

    # -- building ---------------------------------------------------------------
    def new_var(self, shape: Iterable[int], dtype: Any) -> Var:
        vid = self._next_id
        self._next_id += 1
        var = Var(vid, dims.canon_shape(shape), np.dtype(dtype), sp.Symbol(f"v{vid}", real=True))
        self.by_symbol[var.symbol] = var
        return var

    def new_size_var(self) -> Var:
        """A Var for a size (a `dim` node): its symbol is a positive integer, which tells
        it apart from array values (`is_size_symbol`) and lets SymPy simplify with it."""
        vid = self._next_id
        self._next_id += 1
        var = Var(vid, (), np.dtype(np.int64), sp.Symbol(f"v{vid}", integer=True, positive=True))
        self.by_symbol[var.symbol] = var
        return var

    def add(self, node: Node) -> Var:
        self.nodes.append(node)
        if node.op == INPUT:
            self.inputs.append(node.out)
        return node.out

    def add_input(self, shape, dtype, name: str) -> Var:
        var = self.new_var(shape, dtype)
        self.names[var] = name
        return self.add(Node(var, INPUT, params=(("name", name),)))

    def derive(self, nodes: list[Node], outputs: list[Var]) -> Graph:
        """A graph over the same Vars with other nodes/outputs (passes stay functional)."""
        g = type(self)()  # (a loop body stays one)
        g.nodes = list(nodes)
        g.inputs = list(self.inputs)
        g.outputs = list(outputs)
        g.names = dict(self.names)
        g.by_symbol = dict(self.by_symbol)  # siblings may add different Vars
        g.adjoint_of = dict(self.adjoint_of)
        g.expr_names = dict(self.expr_names)
        g.operand_order = self.operand_order  # (only ever added to: shared)
        g.stable_rewrites = list(self.stable_rewrites)
        g.requirements = list(self.requirements)
        g._next_id = self._next_id
        return g

    # -- queries ----------------------------------------------------------------
    def operands(self, node: Node) -> tuple[Var, ...]:
        """The Vars a node reads: its inputs, or the free symbols of its expression."""
        if node.op == ELEMENTWISE:
            return tuple(self.by_symbol[s] for s in _operand_symbols(node))
        return node.inputs

    def use_counts(self) -> dict[Var, int]:
        counts: dict[Var, int] = {}
        for node in self.nodes:
            for var in self.operands(node):
                counts[var] = counts.get(var, 0) + 1
        for var in self.outputs:
            counts[var] = counts.get(var, 0) + 1
        return counts

    def definitions(self) -> dict[Var, Node]:
        return {node.out: node for node in self.nodes}

    def defining(self, var: Var) -> Node | None:
        """The node that defines `var`, or None. Indexed as nodes are appended (a pass
        that builds a new node list is seen as a new graph), so rules can ask for the
        node behind any value, however far back."""
        nodes, seen, table = getattr(self, "_defining", (None, 0, {}))
        if nodes is not self.nodes or seen > len(self.nodes):
            seen, table = 0, {}
        for i in range(seen, len(self.nodes)):
            table[self.nodes[i].out] = i
        self._defining = (self.nodes, len(self.nodes), table)
        i = table.get(var)  # a position: a node replaced in place is found as it is now
        return self.nodes[i] if i is not None and self.nodes[i].out == var else None

    def __repr__(self) -> str:
        return dump(self)


def is_size_symbol(sym: sp.Symbol) -> bool:
    """True for the symbol of a size Var (`Graph.new_size_var`)."""
    return bool(sym.is_positive) and bool(sym.is_integer)


def _operand_symbols(node: Node) -> tuple:
    """The free symbols of an elementwise node's expression in id order, found once per
    node (a Node does not change; every pass asks for its operands)."""
    symbols = node.__dict__.get("_operand_symbols")
    if symbols is None:
        symbols = tuple(sorted(node.expr.free_symbols, key=_sym_id))
        node.__dict__["_operand_symbols"] = symbols
    return symbols


def _sym_id(sym: sp.Symbol) -> int:
    return int(sym.name[1:])


def check_graph(graph: Graph) -> None:
    """Validate definition before use, elementwise shapes, and that outputs are defined."""
    defined: set[Var] = set()
    for node in graph.nodes:
        for var in graph.operands(node):
            if var not in defined:
                raise AssertionError(f"v{node.out.id} uses v{var.id} before its definition")
        if node.op == ELEMENTWISE:
            shapes = [v.shape for v in graph.operands(node)]
            want = dims.broadcast_shapes(*shapes) if shapes else ()
            if want != node.out.shape:
                raise AssertionError(f"v{node.out.id}: expression shape {want} != {node.out.shape}")
        elif node.op in ("loop", "loop_output"):
            pass  # shapes fixed when the loop is built (ir/loops.py output_types)
        elif node.op not in (INPUT, CONST):
            prim = PRIMITIVES[node.op]
            want = prim.shape_rule(*[v.shape for v in node.inputs], **node.p)
            if tuple(want) != node.out.shape:
                raise AssertionError(f"v{node.out.id}: {node.op} gives {want}, node says {node.out.shape}")
        if node.out in defined:
            raise AssertionError(f"v{node.out.id} defined twice")
        defined.add(node.out)
    for var in graph.outputs:
        if var not in defined:
            raise AssertionError(f"output v{var.id} is not defined")


#: Set to 1 (the test suite does) to validate the graph after every pass.
CHECK_IR_VARIABLE = "SYMDIFF_CHECK_IR"


def graph_pass(fn: Callable[..., Graph | None]) -> Callable[..., Graph | None]:
    """Mark `fn`, which returns a graph, as a pass: with SYMDIFF_CHECK_IR=1 in the
    environment its result goes through `check_graph`, so a pass that breaks the IR
    fails loudly where it broke it, not later as wrong printed code."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        out = fn(*args, **kwargs)
        if out is not None and os.environ.get(CHECK_IR_VARIABLE) == "1":
            try:
                check_graph(out)
            except AssertionError as e:
                raise AssertionError(f"the IR is broken after {fn.__name__}: {e}") from None
        return out

    return run


def dump(graph: Graph) -> str:
    """One line per node, e.g. ``v3: f64[5,3] = matmul v1 v2``."""
    lines = []
    for node in graph.nodes:
        head = f"v{node.out.id}: {node.out.type_str()} = "
        if node.op == ELEMENTWISE:
            body = str(node.expr)
        elif node.op == INPUT:
            body = f"input {graph.names.get(node.out, '')}".rstrip()
        elif node.op == CONST:
            body = f"const {np.array2string(node.value, threshold=6)}"
        else:
            args = " ".join(f"v{v.id}" for v in node.inputs)
            params = " ".join(f"{k}={v!r}" for k, v in node.params)
            body = f"{node.op} {args} {params}".rstrip()
        lines.append(head + body)
    lines.append("outputs: " + ", ".join(f"v{v.id}" for v in graph.outputs))
    return "\n".join(lines)


# -- dead code ---------------------------------------------------------------------------
@graph_pass
def dce(graph: Graph) -> Graph:
    """Keep the nodes the outputs need (and all inputs, which are the signature)."""
    live = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):
        if node.out in live or node.op == INPUT:
            kept.append(node)
            live.update(graph.operands(node))
    return graph.derive(kept[::-1], graph.outputs)

