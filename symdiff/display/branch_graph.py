"""`symdiff graph` of a function that branches on traced values: its paths in one
picture, each path (the picture `symdiff graph` draws for straight-line code, with its
backward pass under `--grad`) in a box labelled by the outcomes of the conditions that
lead to it. A function specialised to one path (a loop) is drawn as that path."""

from __future__ import annotations

import linecache
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..trace.args import describe_args
from ..trace.control import Traced, trace_paths
from ..trace.function import trace
from .graphviz import _quote, to_dot, traced_picture

__all__ = ["function_paths", "paths_to_dot"]


def function_paths(fn: Callable, args: Sequence[Any], argnums: Sequence[int]):
    """The traced paths of `fn` at `args` (one path for straight-line code) and the
    argument specs."""
    specs = describe_args(fn, args, tuple(argnums))
    return trace_paths(trace, fn, specs, args), specs


def paths_to_dot(fn, traced: Traced, specs, argnums: Sequence[int], grad: bool,
                 args: Sequence[Any] | None, title: str) -> str:
    """DOT text of every path of `traced`, one cluster each; with `args`, the numbers
    at them (on the path they take; the others show their own formulas only)."""
    head, clusters = None, []
    for k, path in enumerate(traced.paths):
        picture = traced_picture(path.graph, specs, argnums if grad else (),
                                 args if k == 0 and traced.guarded else None,
                                 getattr(fn, "__name__", "f"), title)
        lines = to_dot(picture).splitlines()
        head = head or lines[:4]  # digraph, graph, node and edge attributes
        label = _outcomes_text(path)
        clusters += [f"  subgraph cluster_{k} {{", f"    label={_quote(label)}",
                     *("  " + _rename(line, f"p{k}_") for line in lines[4:-1]), "  }"]
    return "\n".join(head + clusters + ["}"]) + "\n"


def _outcomes_text(path) -> str:
    """`if x > 1.0: False, elif x > -1.0: True`; a loop's run of equal outcomes as
    `while ...: True x5, False`."""
    runs: list[list] = []
    for d, outcome in zip(path.decisions, path.outcomes):
        text = _condition_text(d)
        if runs and runs[-1][0] == text and runs[-1][1] == outcome:
            runs[-1][2] += 1
        else:
            runs.append([text, outcome, 1])
    parts, previous = [], None
    for text, outcome, count in runs:
        head = "" if text == previous else f"{text}: "
        parts.append(f"{head}{outcome}" + (f" x{count}" if count > 1 else ""))
        previous = text
    return ", ".join(parts)


_QUOTED = re.compile(r'"(?:\\.|[^"\\])*"')


def _rename(line: str, prefix: str) -> str:
    """Box ids (`v3`, `g5`) qualified by their path, outside the quoted labels."""
    parts, last = [], 0
    for m in _QUOTED.finditer(line):
        parts.append(re.sub(r"\b([vg]\d+)\b", prefix + r"\1", line[last:m.start()]))
        parts.append(m.group(0))
        last = m.end()
    parts.append(re.sub(r"\b([vg]\d+)\b", prefix + r"\1", line[last:]))
    return "".join(parts)


def _condition_text(d) -> str:
    """The user's line of a condition (`if x > 1.0`), else where it is."""
    filename, _, line = (d.loc or "?:0").rpartition(":")
    text = linecache.getline(filename, int(line)).strip() if line.isdigit() else ""
    return text.removesuffix(":") or (d.loc or "?")
