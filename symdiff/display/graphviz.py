"""Pictures of computational graphs: a traced function, and its gradient, as Graphviz DOT.

Drawn as in the autograd tutorials: every value is a box (inputs filled blue, results
bold green), every operation an ellipse between its operands and its result, labelled
with the operation or with the SymPy expression it computes in terms of its operands'
names. The gradient graph adds the reverse pass in orange: adjoint values
`d<out>_d<var>` and the operations computing them, reading forward values where the
chain rule needs them. The user's own variable names label values where the trace
recovered them; others are `t<k>`.

    dot_text = to_dot(*function_graphs(fn, args, argnums=(0,), grad=True))
    render(dot_text, "svg")   # needs Graphviz's `dot` program
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy as sp

from ..autodiff.differentiate import vjp_graph
from ..errors import SymdiffError, TraceError
from ..ir.graph import CONST, ELEMENTWISE, INPUT, Graph, Node, Var, dce
from ..trace.function import describe_args, function_location, normalize_argnums, trace

__all__ = ["function_graphs", "to_dot", "render", "RenderError", "FORMATS", "STYLES"]

#: DOT attributes per kind of drawn node.
STYLES = {
    "input": 'shape=box, style="filled", fillcolor="#cfe2f3"',
    "value": 'shape=box, style="rounded"',
    "result": 'shape=box, style="filled,bold", fillcolor="#d9ead3"',
    "const": 'shape=box, style="dashed"',
    "op": 'shape=ellipse, style="filled", fillcolor="#eeeeee"',
    "adjoint": 'shape=box, style="rounded,filled", fillcolor="#fce5cd"',
    "adjoint_result": 'shape=box, style="filled,bold", fillcolor="#f9cb9c"',
    "adjoint_op": 'shape=ellipse, style="filled", fillcolor="#f6b26b"',
}

#: Output formats `render` accepts, by file extension (None: DOT text itself).
FORMATS = {".dot": None, ".gv": None, ".svg": "svg", ".png": "png", ".pdf": "pdf"}


class RenderError(SymdiffError):
    """Graphviz is missing or failed to draw the graph."""


def function_graphs(fn: Callable, args: Sequence[Any], argnums: int | Sequence[int],
                    grad: bool) -> tuple[Graph, int | None]:
    """The graph of `fn` traced at `args` (one node per operation the function
    performed) and, with `grad`, its reverse-mode extension by `argnums`; returns the
    graph and the id of its first adjoint value (None without `grad`)."""
    argnums = normalize_argnums(argnums, len(args), where=function_location(fn))
    specs = describe_args(fn, args, argnums)
    graph = dce(trace(fn, specs))
    if not grad:
        return graph, None
    out = graph.outputs[0]
    if out.shape != () or out.dtype.kind != "f":
        raise TraceError(f"the gradient graph needs a real scalar output, but "
                         f"{fn.__qualname__} returns {out.type_str()}; draw it without "
                         "--grad, or reduce the output (e.g. with np.sum)",
                         function_location(fn))
    traced = [i for i, s in enumerate(specs) if s.traced]
    wrt = [graph.inputs[traced.index(i)] for i in argnums]
    first_adjoint = graph._next_id
    return dce(vjp_graph(graph, wrt)), first_adjoint


def to_dot(graph: Graph, first_adjoint: int | None = None, title: str = "") -> str:
    """DOT text drawing `graph`; values with id >= `first_adjoint` belong to the
    reverse pass."""
    names = value_names(graph)
    reverse = (lambda var: var.id >= first_adjoint) if first_adjoint is not None \
        else (lambda var: False)
    results = set(graph.outputs)
    lines = [f"digraph {_quote(title or 'symdiff')} {{",
             '  graph [fontname="Helvetica", labelloc=t' +
             (f", label={_quote(title)}]" if title else "]"),
             '  node [fontname="Helvetica"]', '  edge [fontname="Helvetica"]']
    for node in graph.nodes:
        lines += _draw(graph, node, names, reverse, node.out in results)
    lines.append("}")
    return "\n".join(lines) + "\n"


def value_names(graph: Graph) -> dict[Var, str]:
    """Labels: the user's names, adjoints `d<out>_d<var>`, otherwise `t<id>`."""
    out = graph.outputs[0] if graph.outputs else None
    names = {node.out: graph.names.get(node.out, f"t{node.out.id}") for node in graph.nodes}
    out_name = names.get(out, "f")
    for cot, primal in graph.adjoint_of.items():
        if cot in names:
            names[cot] = f"d{out_name}_d{names.get(primal, f't{primal.id}')}"
    return names


def _draw(graph: Graph, node: Node, names, reverse, is_result: bool) -> list[str]:
    """The value box of `node` and, unless it is an input or a constant, the ellipse of
    its operation with edges from the operands; `reverse(var)` tells adjoint values."""
    var = node.out
    is_reverse = reverse(var)
    value_id = f"v{var.id}"
    kind = _value_kind(node, is_reverse, is_result)
    head = _const_text(node.value) if node.op == CONST else names[var]
    constant = node.op == ELEMENTWISE and not node.expr.free_symbols  # e.g. the seed 1
    if constant:
        head = f"{head} = {sp.sstr(node.expr)}"
    lines = [f"  {value_id} [label={_quote(head, var.type_str())}, {STYLES[kind]}]"]
    if node.op in (INPUT, CONST) or constant:
        return lines
    op_id = f"op{var.id}"
    op_style = STYLES["adjoint_op" if is_reverse else "op"]
    lines.append(f"  {op_id} [label={_quote(_op_label(graph, node, names))}, {op_style}]")
    for operand in graph.operands(node):
        # forward values read by the reverse pass: the chain rule's dependencies
        dashed = is_reverse and not reverse(operand)
        lines.append(f"  v{operand.id} -> {op_id}" + (" [style=dashed]" if dashed else ""))
    lines.append(f"  {op_id} -> {value_id}")
    return lines


def _value_kind(node: Node, is_reverse: bool, is_result: bool) -> str:
    if node.op == INPUT:
        return "input"
    if node.op == CONST:
        return "const"
    if is_reverse:
        return "adjoint_result" if is_result else "adjoint"
    return "result" if is_result else "value"


def _op_label(graph: Graph, node: Node, names) -> str:
    """The expression, in operand names, of an elementwise node; else the primitive
    and its parameters (`sum axes=(0,)`)."""
    if node.op == ELEMENTWISE:
        subs = {v.symbol: sp.Symbol(names[v]) for v in graph.operands(node)}
        return sp.sstr(node.expr.xreplace(subs))
    params = " ".join(f"{k}={v!r}" for k, v in node.params if v is not False)
    return f"{node.op} {params}".rstrip()


def _const_text(value: np.ndarray) -> str:
    if value.ndim == 0:
        return repr(value.item())
    return f"const {np.array2string(value, threshold=4, separator=',')}".replace("\n", "")


def _quote(*lines: str) -> str:
    """A DOT string literal of `lines`, one below the other."""
    escaped = (line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)
    return '"' + "\\n".join(escaped) + '"'


def render(dot_text: str, fmt: str) -> bytes:
    """`dot_text` drawn by Graphviz's `dot` as `fmt` (svg, png, pdf)."""
    dot = shutil.which("dot")
    if dot is None:
        raise RenderError(f"drawing {fmt.upper()} needs Graphviz's `dot` program, which is "
                          "not installed (Debian/Ubuntu: apt-get install graphviz; macOS: "
                          "brew install graphviz); or write DOT text with -o FILE.dot")
    proc = subprocess.run([dot, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"Graphviz's dot failed to draw the graph: "
                          f"{message[0] if message else f'exit status {proc.returncode}'}")
    return proc.stdout
