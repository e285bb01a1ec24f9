"""`symdiff graph`: the traced (or gradient) graph as Graphviz DOT or an image."""

from __future__ import annotations

import argparse
import os

from ..display.graphviz import FORMATS, function_graphs, render, to_dot
from .args import EXAMPLES, UsageError, _add_inputs, _deliver, _inputs, _wrt, argnums_of, load_function


def _cmd_graph(ns) -> int:
    fmt = _graph_format(ns.output)
    fn, path = load_function(ns.target)
    params, args, _ = _inputs(fn, ns)
    wrt = _wrt(fn, params, ns.wrt)
    graph, first_adjoint = function_graphs(fn, args, argnums_of(params, wrt),
                                           ns.grad)
    title = f"{path}:{fn.__name__}" + (f", gradient by {', '.join(wrt)}" if ns.grad else "")
    text = to_dot(graph, first_adjoint, title)
    return _deliver(text if fmt is None else render(text, fmt), ns.output)



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
                       help="add the reverse pass (adjoints d<out>_d<var>, in orange)")
    graph.add_argument("-o", "--output", metavar="FILE",
                       help=f"write here; the extension ({', '.join(FORMATS)}) picks the "
                       "format (default: DOT on stdout)")
    graph.set_defaults(run=_cmd_graph)

