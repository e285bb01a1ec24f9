"""Pictures of computational graphs: a traced function, and its backward pass, as Graphviz DOT.

Drawn as the autograd tutorials draw them (backprop.py builds the picture): every
value is a box holding how it is computed (`u = b*c`; inputs blue, the result bold
green), with arrows from the values it reads. With the backward pass, every adjoint
(`dJ_du`, the generated module's names) is an orange box below, the seed `dJ_dJ = 1`
first; an orange arrow from the adjoint of a result to the adjoint of each operand
carries the local derivative (`du/db = c`), and a dashed arrow brings each forward
value that local derivative reads. Given argument values, every box shows its number
at that point. The forward pass runs left to right on top, the backward pass right
to left below it, each adjoint under its value.

Large graphs stay legible by collapsing chains: unnamed single-use elementwise
temporaries fuse into the value that reads them (as the compiler fuses them), while
every value the user named keeps its box; in SVG, hovering a box shows its source
line. (Frames per source line were tried: Graphviz then stops keeping the forward
pass above the backward pass.)

    dot_text = to_dot(function_picture(fn, args, argnums=(0,), grad=True, values=True))
    render(dot_text, "svg")   # needs Graphviz's `dot` program
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import SymdiffError, TraceError
from ..ir.graph import Graph, dce
from ..passes.simplify import fuse
from ..trace.args import describe_args, function_location
from ..trace.function import trace
from .backprop import MAX_SHOWN_ELEMENTS, Picture, build_picture, format_number, source_line

__all__ = ["function_picture", "traced_picture", "to_dot", "render", "require_graphviz", "GraphPicture",
           "RenderError", "FORMATS", "STYLES"]

#: DOT attributes per kind of drawn box or arrow.
STYLES = {
    "input": 'shape=box, style="filled", fillcolor="#cfe2f3"',
    "value": 'shape=box, style="rounded"',
    "result": 'shape=box, style="filled,bold", fillcolor="#d9ead3"',
    "const": 'shape=box, style="dashed"',
    "seed": 'shape=box, style="rounded,filled", fillcolor="#fce5cd"',
    "adjoint": 'shape=box, style="rounded,filled", fillcolor="#fce5cd"',
    "adjoint_result": 'shape=box, style="filled,bold", fillcolor="#f9cb9c"',
    "forward": "",
    "backward": 'color="#e69138", fontcolor="#b45f06"',
    "reads": 'style=dashed, color="#999999", arrowsize=0.6, constraint=false',
}

#: Output formats `render` accepts, by file extension (None: DOT text itself).
FORMATS = {".dot": None, ".gv": None, ".svg": "svg", ".png": "png", ".pdf": "pdf"}


class RenderError(SymdiffError):
    """Graphviz is missing or failed to draw the graph."""


def function_picture(fn: Callable, args: Sequence[Any], argnums: Sequence[int], grad: bool,
                     values: bool = False, title: str | None = None) -> Picture:
    """The picture of `fn` traced at `args` (one box per operation the function
    performed) and, with `grad`, of its backward pass by `argnums`; with `values`,
    the numbers of every value and adjoint at `args`."""
    specs = describe_args(fn, args, tuple(argnums))
    graph = trace(fn, specs, fold=False)  # one box per operation performed: loops unrolled
    out = graph.outputs[0]
    if grad and (out.shape != () or out.dtype.kind != "f"):
        raise TraceError(f"the gradient graph needs a real scalar output, but "
                         f"{fn.__qualname__} returns {out.type_str()}; draw it without "
                         "--grad, or reduce the output (e.g. with np.sum)",
                         function_location(fn))
    return traced_picture(graph, specs, argnums if grad else (), args if values else None,
                          fn.__name__, title or fn.__qualname__)


def traced_picture(graph: Graph, specs, argnums: Sequence[int], args: Sequence[Any] | None,
                   name: str, title: str) -> Picture:
    """The picture of a traced `graph` (arguments described by `specs`), with the
    backward pass by `argnums` (none: the forward graph alone) and the numbers at
    `args` when given."""
    graph = _collapse_temporaries(dce(graph))
    traced = [i for i, s in enumerate(specs) if s.traced]
    wrt = [graph.inputs[traced.index(i)] for i in argnums]
    inputs = None
    if args is not None:
        inputs = {graph.inputs[k]: np.asarray(args[i], dtype=graph.inputs[k].dtype)
                  for k, i in enumerate(traced)}
    name = name if name.isidentifier() else "f"  # a lambda: as compile names it
    out_name = graph.names.get(graph.outputs[0]) or name  # as the generated module names it
    return build_picture(graph, title, out_name, wrt, inputs)


def _collapse_temporaries(graph: Graph) -> Graph:
    """Fuse chains of unnamed single-use elementwise values into their consumer (as
    the compiler does), keeping every value the user named: `u` and `v` of
    J = 3(a + b*c) stay boxes of their own, `t7 = b1 + t6` goes into `hidden`."""
    named = [var for var in graph.names if var not in graph.inputs]
    fused = fuse(graph.derive(graph.nodes, graph.outputs + named))  # outputs stay
    return dce(fused.derive(fused.nodes, graph.outputs))


def to_dot(picture: Picture) -> str:
    """DOT text drawing `picture`: forward values above, adjoints below."""
    title = picture.title
    lines = [f"digraph {_quote(title)} {{",
             f'  graph [fontname="Helvetica", labelloc=t, label={_quote(title)}, rankdir=LR, '
             'newrank=true]',
             '  node [fontname="Helvetica"]', '  edge [fontname="Helvetica", fontsize=11]']
    for box in picture.boxes:
        label = _quote(*_box_lines(box, picture.values.get(box.id)))
        where = source_line(box.line)  # shown on hover in SVG
        if where and box.id.startswith("g"):
            where = f"gradient of {where}"
        tooltip = f", tooltip={_quote(where)}" if where else ""
        lines.append(f"  {box.id} [label={label}, {STYLES[box.kind]}{tooltip}]")
    lines += _ranks(picture)
    for arrow in picture.arrows:
        attrs = [a for a in (f"label={_quote(*arrow.label.split(chr(10)))}" if arrow.label
                             else "", STYLES[arrow.kind]) if a]
        lines.append(f"  {arrow.src} -> {arrow.dst}" + (f" [{', '.join(attrs)}]" if attrs else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _box_lines(box, value: np.ndarray | None) -> list[str]:
    """The text of a box: `u = b*c = 6` for a float64 scalar; the type and small values
    on lines of their own for arrays."""
    var = box.var
    scalar = var.shape == () and var.dtype == np.float64
    if value is None and box.kind == "seed":  # the seed is 1 at every point
        value = np.ones(var.shape, var.dtype)
    if value is None:
        return [box.text] if scalar else [box.text, var.type_str()]
    if scalar:
        return [f"{box.text} = {format_number(value)}"]
    if value.size <= MAX_SHOWN_ELEMENTS:
        shown = np.array2string(value, separator=", ", formatter={"all": format_number})
        return [box.text, var.type_str(), shown.replace("\n", "")]
    return [box.text, var.type_str()]


def _ranks(picture: Picture) -> list[str]:
    """Each adjoint in the column of its value (forward left to right on top, the
    backward pass right to left below it), the inputs and theirs in the first column.
    An invisible edge from a value to its adjoint puts the value above."""
    adjoint = {box.var: box.id for box in picture.boxes if box.id.startswith("g")}
    inputs = [box.id for box in picture.boxes if box.kind == "input"]
    lines = [f"  {{rank=same; {'; '.join(inputs)}}}"] if len(inputs) > 1 else []
    for box in picture.boxes:
        if box.id.startswith("v") and box.var in adjoint:
            lines.append(f"  {{rank=same; {box.id} -> {adjoint[box.var]} [style=invis]}}")
    return lines


def _quote(*lines: str) -> str:
    """A DOT string literal of `lines`, one below the other."""
    escaped = (line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)
    return '"' + "\\n".join(escaped) + '"'


def require_graphviz(fmt: str) -> str:
    """The path of Graphviz's `dot` program, or a RenderError saying how to get it."""
    dot = shutil.which("dot")
    if dot is None:
        raise RenderError(f"drawing {fmt.upper()} needs Graphviz's `dot` program, which is "
                          "not installed (Debian/Ubuntu: apt-get install graphviz; macOS: "
                          "brew install graphviz); or write DOT text with -o FILE.dot")
    return dot


def render(dot_text: str, fmt: str) -> bytes:
    """`dot_text` drawn by Graphviz's `dot` as `fmt` (svg, png, pdf)."""
    dot = require_graphviz(fmt)
    proc = subprocess.run([dot, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"Graphviz's dot failed to draw the graph: "
                          f"{message[0] if message else f'exit status {proc.returncode}'}")
    return proc.stdout


class GraphPicture:
    """A picture that shows itself in a notebook: SVG drawn by Graphviz when its `dot`
    program is installed (`_repr_svg_`), else the DOT text with a word on how to
    draw it. `.dot` is the DOT text; `.save(path)` writes .dot/.gv/.svg/.png/.pdf."""

    def __init__(self, picture: Picture):
        self.picture = picture
        self.dot = to_dot(picture)

    def _repr_svg_(self) -> str | None:
        if shutil.which("dot") is None:
            return None  # the notebook falls back to __repr__
        return render(self.dot, "svg").decode("utf-8")

    def __repr__(self) -> str:
        boxes = self.picture.boxes
        adjoints = sum(1 for b in boxes if b.id.startswith("g"))
        head = f"<graph of {self.picture.title}: {len(boxes) - adjoints} values, " \
               f"{adjoints} adjoints>"
        if shutil.which("dot") is None:
            head += ("\n(install Graphviz to see it drawn: apt-get install graphviz, or "
                     "brew install graphviz; .dot holds the DOT text)")
        return head

    def save(self, path: str) -> None:
        """Write the picture; the extension picks the format (see FORMATS)."""
        ext = os.path.splitext(path)[1].lower()
        if ext not in FORMATS:
            raise RenderError(f"cannot save a graph as {ext or 'a file without extension'}: "
                              f"use one of {', '.join(FORMATS)}")
        fmt = FORMATS[ext]
        data = self.dot.encode("utf-8") if fmt is None else render(self.dot, fmt)
        with open(path, "wb") as fh:
            fh.write(data)
