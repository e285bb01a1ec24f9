"""The backward pass as the autograd tutorials draw it: a picture model, not a program.

The gradient program symdiff emits is optimised (adjoints that are equal share one
value, chains fuse), which is right for code and wrong for teaching. This module
builds the textbook picture from the traced forward graph instead:

- one node per forward value (`u = b*c`), edges from the values it reads;
- one node per adjoint of a value on the way from the output to the differentiated
  arguments (`dJ_du`, named as the generated module names them), starting from the
  seed `dJ_dJ = 1`;
- an edge from the adjoint of each result to the adjoint of each operand, labelled
  with the local derivative (`du/db = c`) or, for a structured operation, with its
  vector-Jacobian product in names (`dloss_dlogits @ W2.T`);
- a dashed edge from every forward value that local derivative reads (c into dJ_db);
- with argument values, the forward values and adjoints computed at that point, with
  each adjoint the sum over its incoming edges of upstream adjoint times local
  derivative, so the numbers in the picture follow the chain rule step by step.

`to_dot` in graphviz.py draws the model; `Picture.values` holds the numbers.
"""

from __future__ import annotations

import linecache
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy.printing.precedence import precedence

from ..autodiff.differentiate import _node_vjp, active_vars, differentiable
from ..codegen.module import runtime_namespace
from ..codegen.precedence import ATOM, MATMUL, UNARY, Printed
from ..codegen.precedence import operand as grouped
from ..codegen.printer import SymdiffPrinter
from ..ir.graph import CONST, ELEMENTWISE, INPUT, Graph, Node, Var
from ..ir.primitives import PRIMITIVES
from ..trace.tracer import Tracer

__all__ = ["Picture", "Box", "Arrow", "build_picture", "evaluate"]

#: Longest operation text drawn in a node or on an edge; longer ones are cut with "...".
MAX_LABEL = 48
#: Arrays of at most this many elements have their values drawn.
MAX_SHOWN_ELEMENTS = 6


@dataclass
class Box:
    """A drawn value: `id` in the DOT text, `kind` picks the style."""

    id: str
    text: str  # "u = b*c", "dJ_du"
    kind: str  # input, const, value, result, seed, adjoint, adjoint_result
    var: Var
    line: str | None = None  # "path:line" of the source line that computes it


@dataclass
class Arrow:
    src: str
    dst: str
    kind: str  # forward, backward, reads
    label: str = ""


@dataclass
class Picture:
    title: str
    boxes: list[Box] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    values: dict[str, np.ndarray] = field(default_factory=dict)  # box id -> value


# -- names and formulas ----------------------------------------------------------------
def value_names(graph: Graph, out_name: str) -> dict[Var, str]:
    """The user's names of forward values, the output named `out_name` when the user
    gave it none (as the generated module does), others `t<id>`."""
    names = {node.out: graph.names.get(node.out, f"t{node.out.id}") for node in graph.nodes}
    if graph.outputs and graph.outputs[0] not in graph.names:
        names[graph.outputs[0]] = out_name
    return names


def _structured_text(op: str, args: list[str], params: dict, ndim: int) -> str:
    """A structured operation in the notation of NumPy code (`X @ w`, `sum(x, axis=0)`)."""
    if op == "matmul":
        return f"{args[0]} @ {args[1]}"
    if op == "transpose" and _reverses(params.get("axes")):
        return f"{args[0]}.T"
    if op == "sum":
        axes = params.get("axes")
        every = axes is None or sorted(axes) == list(range(ndim))
        return f"sum({args[0]})" if every else f"sum({args[0]}, axis={_axes(axes)})"
    shown = {k: v for k, v in params.items() if v is not False and v is not None}
    extra = "".join(f", {k}={_short_repr(v)}" for k, v in sorted(shown.items()))
    return f"{op}({', '.join(args)}{extra})"


def _reverses(axes) -> bool:
    """Whether a transpose's `axes` reverse the axes (what `.T` does)."""
    return axes is None or tuple(axes) == tuple(reversed(range(len(axes))))


def _axes(axes) -> str:
    axes = tuple(axes)
    return str(axes[0]) if len(axes) == 1 else str(axes)


def _short_repr(value) -> str:
    text = repr(value) if not isinstance(value, np.ndarray) else f"array{list(value.shape)}"
    return text if len(text) <= 24 else text[:21] + "..."


def formula(graph: Graph, var: Var, names: dict[Var, str], top: bool = True) -> str:
    """Text of how `var` is computed from named values: a named operand is its name,
    others are expanded (elementwise expressions, structured operations)."""
    if not top and var in names:
        return names[var]
    node = _definition(graph, var)
    if node is None:
        return names.get(var, f"t{var.id}")
    if node.op == CONST:
        return _const_text(node.value)
    if node.op == INPUT:
        return names.get(var, f"t{var.id}")
    parts = [formula(graph, v, names, top=False) for v in graph.operands(node)]
    if node.op == ELEMENTWISE:
        subs = {v.symbol: sp.Symbol(grouped(p)) for v, p in zip(graph.operands(node), parts)}
        expr = node.expr.xreplace(subs)
        atomic = expr.is_Atom and not expr.could_extract_minus_sign() or expr.is_Function
        return Printed(sp.sstr(expr), ATOM if atomic else precedence(expr))
    # only the infix operator needs its operands parenthesised
    wrapped = [grouped(p) for p in parts] if node.op == "matmul" else parts
    text = _structured_text(node.op, wrapped, node.p, node.inputs[0].ndim if node.inputs else 0)
    return Printed(text, MATMUL) if node.op == "matmul" else text


def _definition(graph: Graph, var: Var) -> Node | None:
    for node in reversed(graph.nodes):
        if node.out is var:
            return node
    return None


def _const_text(value: np.ndarray) -> str:
    if value.ndim == 0:
        item = value.item()
        return Printed(repr(item), UNARY if item < 0 else ATOM)
    if value.size and not np.any(value != value.flat[0]):
        return f"full({list(value.shape)}, {value.flat[0]!r})"
    return f"const{list(value.shape)}"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 3] + "..."


# -- numbers ---------------------------------------------------------------------------
def _numeric(expr: sp.Expr, values: dict[sp.Symbol, np.ndarray]):
    """`expr` at the given values of its symbols, computed by NumPy as the generated
    code computes it: printed by the code printer, then evaluated. The text holds only
    `np.` calls, numbers and the identifiers made here, never user text."""
    names = {sym: f"_v{k}" for k, sym in enumerate(sorted(expr.free_symbols, key=str))}
    code = SymdiffPrinter(names).doprint(expr)
    scope = {**runtime_namespace(), **{names[sym]: values[sym] for sym in names}}
    with np.errstate(all="ignore"):
        return eval(code, {"__builtins__": {}}, scope)


def evaluate(graph: Graph, nodes: Sequence[Node], values: dict[Var, np.ndarray]) -> None:
    """Compute `nodes` of `graph` in float arithmetic into `values` (given: the inputs)."""
    for node in nodes:
        var = node.out
        if var in values:
            continue
        if node.op == CONST:
            result = node.value
        elif node.op == ELEMENTWISE:
            result = _numeric(node.expr, {v.symbol: values[v] for v in graph.operands(node)})
        elif node.op == INPUT:
            raise KeyError(f"no value for input v{var.id}")
        else:
            with np.errstate(all="ignore"):
                result = PRIMITIVES[node.op].impl(*[values[v] for v in node.inputs], **node.p)
        values[var] = np.broadcast_to(np.asarray(result, dtype=var.dtype), var.shape).copy()


# -- the picture -----------------------------------------------------------------------
def build_picture(graph: Graph, title: str, out_name: str, wrt: Sequence[Var] = (),
                  inputs: dict[Var, np.ndarray] | None = None) -> Picture:
    """The forward graph and, when `wrt` is given, its backward pass by `wrt`; with
    `inputs` (a value per input Var), the numbers at that point."""
    names = value_names(graph, out_name)
    pic = Picture(title)
    values = dict(inputs) if inputs is not None else None
    if values is not None:
        evaluate(graph, graph.nodes, values)
    _forward(pic, graph, names)
    if wrt:
        _backward(pic, graph, names, out_name, list(wrt), values)
    if values is not None:
        drawn = {b.id for b in pic.boxes}
        pic.values.update({f"v{v.id}": x for v, x in values.items() if f"v{v.id}" in drawn})
    return pic


def _forward(pic: Picture, graph: Graph, names: dict[Var, str]) -> None:
    results = set(graph.outputs)
    for node in graph.nodes:
        var = node.out
        if node.op == INPUT:
            pic.boxes.append(Box(f"v{var.id}", names[var], "input", var))
            continue
        kind = "const" if node.op == CONST else "result" if var in results else "value"
        text = formula(graph, var, names) if node.op == CONST else \
            f"{names[var]} = {_cut(formula(graph, var, names))}"
        pic.boxes.append(Box(f"v{var.id}", text, kind, var, node.loc))
        for operand in dict.fromkeys(graph.operands(node)):
            pic.arrows.append(Arrow(f"v{operand.id}", f"v{var.id}", "forward"))


def _backward(pic: Picture, graph: Graph, names, out_name: str, wrt: list[Var],
              values: dict[Var, np.ndarray] | None) -> None:
    """Adjoint boxes and arrows, from the seed at the output back to `wrt`."""
    out = graph.outputs[0]
    active = active_vars(graph, wrt)
    scratch = graph.derive(graph.nodes, graph.outputs)
    adjoint: dict[Var, list[Var]] = {}  # forward value -> its contributions (scratch Vars)
    lines: dict[Var, set] = {}  # forward value -> source lines whose rules gave them
    seed = scratch.new_var(out.shape, out.dtype)
    adjoint[out] = [seed]
    names = dict(names)  # + earlier adjoints (scratch Vars) by the name of their value
    names[seed] = f"d{out_name}_d{names[out]}"
    if values is not None:
        values[seed] = np.ones(out.shape, out.dtype)
    pic.boxes.append(Box(f"g{out.id}", f"d{out_name}_d{names[out]}", "seed", out))
    for node in reversed(graph.nodes):
        if node.out not in adjoint or node.op in (INPUT, CONST):
            continue
        upstream = _total(scratch, adjoint[node.out], values)
        names[upstream] = f"d{out_name}_d{names[node.out]}"
        first_new = len(scratch.nodes)
        steps = list(_contributions(scratch, graph, node, upstream, names, out_name, values))
        made = scratch.nodes[first_new:]  # what the derivative rule built
        for operand, contribution, label in steps:
            if operand not in active:
                continue
            adjoint.setdefault(operand, []).append(contribution)
            names.setdefault(contribution, f"d{out_name}_d{names[operand]}")
            lines.setdefault(operand, set()).add(node.loc)
            pic.arrows.append(Arrow(f"g{node.out.id}", f"g{operand.id}", "backward", label))
            needed = _needed(scratch, made, contribution)
            for read in _reads(scratch, needed, contribution, graph._next_id):
                pic.arrows.append(Arrow(f"v{read.id}", f"g{operand.id}", "reads"))
            if values is not None:
                evaluate(scratch, needed, values)
    for var in wrt:  # an argument the output does not depend on: its gradient is 0
        if var not in adjoint:
            adjoint[var], lines[var] = [], {None}
    for var, contributions in adjoint.items():
        if var is out:
            continue
        kind = "adjoint_result" if var in wrt else "adjoint"
        where = lines[var].pop() if len(lines[var]) == 1 else None
        pic.boxes.append(Box(f"g{var.id}", f"d{out_name}_d{names[var]}", kind, var, where))
        if values is not None:
            pic.values[f"g{var.id}"] = sum((values[c] for c in contributions),
                                           np.zeros(var.shape, var.dtype))
    if values is not None:
        pic.values[f"g{out.id}"] = values[seed]
    _dedupe(pic)


def _total(scratch: Graph, contributions: list[Var], values) -> Var:
    """The adjoint as one scratch Var: a sum node when several contributions meet."""
    if len(contributions) == 1:
        return contributions[0]
    var = scratch.new_var(contributions[0].shape, contributions[0].dtype)
    scratch.add(Node(var, ELEMENTWISE, expr=sp.Add(*[c.symbol for c in contributions])))
    if values is not None:
        values[var] = sum(values[c] for c in contributions)
    return var


def _contributions(scratch: Graph, graph: Graph, node: Node, upstream: Var, names, out_name,
                   values):
    """(operand, contribution Var, edge label) for each differentiable operand."""
    for operand, ct in _node_vjp(scratch, node, Tracer(scratch, upstream)):
        if ct is None or not differentiable(operand):
            continue
        if node.op == ELEMENTWISE:
            partial = sp.diff(node.expr, operand.symbol)
            if partial == 0:
                continue
            if not node.expr.is_Symbol:
                partial = partial.xreplace({node.expr: node.out.symbol})
            local = sp.sstr(partial.xreplace({v.symbol: sp.Symbol(names[v])
                                              for v in graph.operands(node) + (node.out,)}))
            label = f"d{names[node.out]}/d{names[operand]} = {local}"
            number = _scalar_value(partial, scratch, values) if partial.free_symbols else None
            if number is not None:
                label += f" = {number}"
            if operand.shape != node.out.shape:
                label += "\n(summed over broadcast axes)"
        else:
            label = formula(scratch, ct.graph_var, names)
        yield operand, ct.graph_var, _cut(label) if "\n" not in label else label


def _scalar_value(expr: sp.Expr, graph: Graph, values) -> str | None:
    """`expr` (in forward values' symbols) at the point, when it is one number."""
    if values is None:
        return None
    args = {sym: values[graph.by_symbol[sym]] for sym in expr.free_symbols}
    if any(np.shape(a) != () for a in args.values()):
        return None
    return format_number(_numeric(expr, args))


def format_number(x) -> str:
    """A number as a picture shows it: integers without a point, others to 6 digits."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:.6g}"


def _needed(scratch: Graph, made: list[Node], var: Var) -> list[Node]:
    """The nodes among `made` (one rule's) that computing `var` needs, in order."""
    defs = {n.out: n for n in made}
    needed, stack = set(), [var]
    while stack:
        v = stack.pop()
        if v in defs and v not in needed:
            needed.add(v)
            stack.extend(scratch.operands(defs[v]))
    return [n for n in made if n.out in needed]


def _reads(scratch: Graph, needed: list[Node], var: Var, first_scratch_id: int) -> list[Var]:
    """Forward values (ids below `first_scratch_id`) that computing `var` reads."""
    candidates = [var] + [o for n in needed for o in scratch.operands(n)]
    return list(dict.fromkeys(v for v in candidates if v.id < first_scratch_id))


def _dedupe(pic: Picture) -> None:
    seen, arrows = set(), []
    for a in pic.arrows:
        key = (a.src, a.dst, a.kind, a.label)
        if key not in seen:
            seen.add(key)
            arrows.append(a)
    pic.arrows = arrows


def source_line(loc: str | None) -> str | None:
    """`line 23: u = b * c` for a location `path:23`, or None."""
    if not loc or ":" not in loc:
        return None
    path, _, line = loc.rpartition(":")
    if not line.isdigit():
        return None
    text = linecache.getline(path, int(line)).strip()
    return f"line {line}: {text}" if text else f"line {line}"
