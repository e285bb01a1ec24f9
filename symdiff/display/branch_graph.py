"""`symdiff graph` of a function that branches on traced values: its paths in one
picture. What the paths share (the values computed before a condition) is drawn once;
each condition is a diamond fed by its value; what follows a combination of outcomes
is drawn in a box labelled by those outcomes (with `--grad`, each path's reverse pass
in its box). A function specialised to one path (a loop) is drawn as that path, its
conditions as diamonds."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp

from ..autodiff.differentiate import vjp_graph
from ..errors import TraceError
from ..ir.graph import Graph, dce
from ..trace.control import Path, Traced, trace_paths
from ..trace.function import describe_args, function_location, trace
from .graphviz import _draw, _quote, value_names

__all__ = ["function_paths", "paths_to_dot"]


def function_paths(fn: Callable, args: Sequence[Any], argnums: Sequence[int]) \
        -> tuple[Traced, list[int]]:
    """The traced paths of `fn` at `args` (one path for straight-line code), and the
    positions among the graph's inputs of the arguments `argnums`."""
    specs = describe_args(fn, args, tuple(argnums))
    traced = [i for i, s in enumerate(specs) if s.traced]
    return trace_paths(trace, fn, specs, args), [traced.index(i) for i in argnums]


def paths_to_dot(fn, traced: Traced, argnums: Sequence[int], grad: bool, title: str) -> str:
    """DOT text drawing every path of `traced` (see the module docstring); `argnums`:
    positions among the graph's inputs (`function_paths`)."""
    lines = [f"digraph {_quote(title or 'symdiff')} {{",
             '  graph [fontname="Helvetica", labelloc=t, compound=true' +
             (f", label={_quote(title)}]" if title else "]"),
             '  node [fontname="Helvetica"]', '  edge [fontname="Helvetica"]']
    clusters: dict[tuple, list[str]] = {}
    seen: set[str] = set()
    for path in traced.paths:
        for prefix, line in _path_lines(fn, path, argnums, grad):
            if line not in seen:  # what paths share is drawn once
                seen.add(line)
                clusters.setdefault(prefix, []).append(line)
    for prefix in sorted(clusters, key=lambda p: (len(p), p)):
        body = clusters[prefix]
        if not prefix:
            lines += body
            continue
        label = _quote(", ".join(f"{_condition_text(d)}: {o}" for d, o in
                                 zip(_decisions(traced, prefix), prefix)))
        lines += [f"  subgraph cluster_{_tag(prefix)} {{", f"    label={label}",
                  *("  " + line for line in body), "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _path_lines(fn, path: Path, argnums, grad: bool) -> list[tuple[tuple, str]]:
    """(owning outcomes, DOT line) for the values, operations and conditions of a path."""
    graph, first_adjoint, results = _path_graph(fn, path, argnums, grad)
    owner = _owners(path)

    def owner_of(i: int) -> tuple:
        return owner.get(i, path.outcomes)

    def reverse(var) -> bool:
        return first_adjoint is not None and var.id >= first_adjoint

    names = value_names(graph)
    lines = [(owner_of(node.out.id), _rename(line, owner_of))
             for node in graph.nodes
             for line in _draw(graph, node, names, reverse, node.out in results)]
    for k, d in enumerate(path.decisions):
        diamond = f"b{_tag(path.outcomes[:k])}"
        lines += [(path.outcomes[:k], f"  {diamond} [label={_quote(_condition_text(d))}, "
                                      "shape=diamond]"),
                  (path.outcomes[:k], f"  v{d.cond.id}_{_tag(owner_of(d.cond.id))} -> {diamond}")]
    return lines


def _path_graph(fn, path: Path, argnums, grad: bool) -> tuple[Graph, int | None, set]:
    """The path's graph (with `grad`, its reverse pass too) keeping its conditions;
    the id of its first adjoint value; its results."""
    graph = path.graph
    conds = [d.cond for d in path.decisions]
    first_adjoint = None
    if grad:
        out = graph.outputs[0]
        if out.shape != () or out.dtype.kind != "f":
            raise TraceError(f"the gradient graph needs a real scalar output, but "
                             f"{fn.__qualname__} returns {out.type_str()}; draw it without "
                             "--grad, or reduce the output (e.g. with np.sum)",
                             function_location(fn))
        first_adjoint = graph._next_id
        graph = vjp_graph(graph, [graph.inputs[i] for i in argnums])
    results = set(graph.outputs)
    return dce(graph.derive(graph.nodes, graph.outputs + conds)), first_adjoint, results


def _owners(path: Path) -> dict[int, tuple]:
    """Var id -> the outcomes under which the path computed it (shared values: fewer)."""
    owner: dict[int, tuple] = {}
    start = 0
    for k, d in enumerate(path.decisions):
        for node in path.graph.nodes[start:d.position]:
            owner[node.out.id] = path.outcomes[:k]
        start = d.position
    return owner


def _decisions(traced: Traced, prefix: tuple):
    path = next(p for p in traced.paths if p.outcomes[:len(prefix)] == prefix)
    return path.decisions[:len(prefix)]


def _tag(prefix: tuple) -> str:
    return "".join("T" if o else "F" for o in prefix)


def _rename(line: str, owner_of) -> str:
    """`v3`, `op3` -> `v3_TF`: ids qualified by the outcomes that own them (only in
    the part of a DOT line before its attributes)."""
    head, sep, attrs = line.partition(" [")
    head = re.sub(r"\b(v|op)(\d+)\b", lambda m: f"{m.group(1)}{m.group(2)}_"
                  f"{_tag(owner_of(int(m.group(2))))}", head)
    return head + sep + attrs


def _condition_text(d) -> str:
    """The user's line of a condition (`if x > 1.0:`), else where it is."""
    import linecache

    filename, _, line = (d.loc or "?:0").rpartition(":")
    text = linecache.getline(filename, int(line)).strip() if line.isdigit() else ""
    return text.removesuffix(":") or sp.sstr(d.cond.symbol)
