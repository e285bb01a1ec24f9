"""`symdiff graph`: the traced graph (and its backward pass) as Graphviz DOT or an image."""

from __future__ import annotations

import argparse
import os

from .. import progress
from ..display.graphviz import FORMATS, function_picture, render, require_graphviz, to_dot
from .args import (
    EXAMPLES,
    UsageError,
    _add_inputs,
    _deliver,
    _example_name,
    _inputs,
    _wrt,
    load_function,
)
from .point import apply_at, parse_at


def _cmd_graph(ns) -> int:
    fmt = _graph_format(ns.output)
    if fmt is not None:
        require_graphviz(fmt)  # before the work, not after
    fn, path = load_function(ns.target)
    at = parse_at(ns.at) if ns.at else {}
    params, args, _ = _inputs(fn, ns, also=at)
    from_example = _example_name(fn, ns) is not None
    args = apply_at(fn, params, args, at, from_example)
    wrt = _wrt(fn, params, ns.wrt)
    title = f"{path}:{fn.__name__}" + (f", gradient by {', '.join(wrt)}" if ns.grad else "")
    with progress.task(f"tracing {fn.__name__}"):
        picture = function_picture(fn, args, [params.index(w) for w in wrt], ns.grad,
                                   values=bool(at) or from_example, title=title)
    text = to_dot(picture)
    if fmt is None:
        return _deliver(text, ns.output)
    with progress.task("drawing with Graphviz"):
        drawn = render(text, fmt)
    return _deliver(drawn, ns.output)


def _graph_format(output: str | None) -> str | None:
    if output is None:
        return None
    ext = os.path.splitext(output)[1].lower()
    if ext not in FORMATS:
        raise UsageError(f"-o {output}: write {', '.join(FORMATS)} (the extension picks the "
                         "format)")
    return FORMATS[ext]


def _add_graph(sub, common) -> None:
    graph = sub.add_parser("graph", parents=[common], epilog=EXAMPLES,
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           help="draw the computational graph (Graphviz DOT, SVG, PNG)",
                           description="Draw the traced computational graph of a function, "
                           "and with --grad its gradient graph, as Graphviz DOT; SVG, PNG "
                           "and PDF need Graphviz's `dot` program.")
    _add_inputs(graph)
    graph.add_argument("--grad", action="store_true",
                       help="add the backward pass (adjoints d<out>_d<var>, in orange, with "
                       "the local derivatives on the arrows)")
    graph.add_argument("--at", metavar="A=1,B=[1,2]", help="draw the values and gradients at "
                       "this point (with --example or example_inputs_FUNC, they are drawn at "
                       "its arguments; --at overrides some of them)")
    graph.add_argument("-o", "--output", metavar="FILE",
                       help=f"write here; the extension ({', '.join(FORMATS)}) picks the "
                       "format (default: DOT on stdout)")
    graph.set_defaults(run=_cmd_graph)

