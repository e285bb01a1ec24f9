"""Loop nodes: a Python `for` loop kept as one node of the graph (a scan).

A ``loop`` node runs its body graph for ``t`` in ``range(start, stop)`` (backwards
when ``reverse``). The body's inputs are, in order: the iteration index ``t``
(int64, 0-d), the carried values, one row of each per-iteration input (``xs[t]``)
and the values it reads from outside (closed over). Its outputs are the carried
values of the next iteration, then one value per iteration to stack (``ys``).

The node itself defines a token; ``loop_output`` nodes project its results: output
``k < n_carry`` is the final value of carry ``k``, the others are the stacked ys,
of shape ``(stop,) + y.shape``, row ``t`` written by iteration ``t`` (rows below
`start` are not written). The node's inputs are the carries' initial values, the
per-iteration arrays (leading axis at least ``stop`` long) and the closed-over
values, in the body's order.

A *while* loop (`cond` set) runs its body while `cond`, a SymPy boolean in the body's
input symbols (the carried and closed-over values), holds: the trip count is known
only when it runs. Its stacked ys have `STEPS` rows, and the output `COUNT` is the
number of iterations it ran. The reverse of a while loop is a `counted` loop: its
node's last input is that count, and it runs `t` over `range(count)` (backwards).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import sympy as sp

from . import dims
from .graph import ELEMENTWISE, INPUT, Graph, Node, Var

__all__ = ["Loop", "BodyGraph", "LOOP", "LOOP_OUTPUT", "loop_outputs", "output_types",
           "loop_node", "substitute", "fresh_inputs", "bodies", "COUNT", "STEPS",
           "node_parts", "WhileFallback"]

LOOP = "loop"
LOOP_OUTPUT = "loop_output"

#: The token a loop node defines: loop_output nodes read it, nothing else does.
TOKEN_SHAPE = ()
TOKEN_DTYPE = np.dtype(np.float64)

#: The output index of a while loop's trip count (an int64 0-d value).
COUNT = -1
#: The leading dimension of a while loop's stacks: as many rows as iterations ran.
STEPS = dims.Dim("steps")


class WhileFallback(Exception):
    """Internal: a derivative a while loop node does not have (forward mode through
    it); the function is traced again with the loop specialised per trip count."""


class BodyGraph(Graph):
    """A loop body. Its values are SymPy Dummy symbols, so that the bodies of the
    loops of one program (and the graphs derived from them while differentiating)
    never share a symbol with each other or with the program around them."""

    def new_var(self, shape, dtype) -> Var:
        vid = self._next_id
        self._next_id += 1
        var = Var(vid, dims.canon_shape(shape), np.dtype(dtype),
                  sp.Dummy(f"v{vid}", real=True))
        self.by_symbol[var.symbol] = var
        return var


@dataclass(frozen=True, eq=False)
class Loop:
    """What a loop node runs. `names` are print hints: the loop variable's name, and
    the name of the static argument the step count came from (or None)."""

    body: Graph
    start: int
    stop: int
    n_carry: int
    n_xs: int
    reverse: bool = False
    index_name: str = "t"
    stop_name: str | None = None
    source: str | None = None  # file:line of the `for` statement
    serial: int = field(default=0)
    cond: sp.Basic | None = None  # a while loop's condition, in the body's input symbols
    counted: bool = False  # runs range(count), the count being the node's last input

    @property
    def is_while(self) -> bool:
        return self.cond is not None

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def n_consts(self) -> int:
        return len(self.body.inputs) - 1 - self.n_carry - self.n_xs

    @property
    def carry_in(self) -> list[Var]:
        return self.body.inputs[1:1 + self.n_carry]

    @property
    def xs_in(self) -> list[Var]:
        return self.body.inputs[1 + self.n_carry:1 + self.n_carry + self.n_xs]

    @property
    def consts_in(self) -> list[Var]:
        return self.body.inputs[1 + self.n_carry + self.n_xs:]

    @property
    def index(self) -> Var:
        return self.body.inputs[0]

    @property
    def carry_out(self) -> list[Var]:
        return self.body.outputs[:self.n_carry]

    @property
    def ys(self) -> list[Var]:
        return self.body.outputs[self.n_carry:]

    def with_body(self, body: Graph, **changes) -> Loop:
        return replace(self, body=body, **changes)

    def __repr__(self) -> str:
        # value numbering keys nodes by repr(params): two loops are one computation
        # only when they run the very same body
        direction = "reversed " if self.reverse else ""
        span = f"while {self.cond}" if self.is_while else \
            f"range({'count' if self.counted else f'{self.start}, {self.stop}'})"
        return (f"Loop({direction}{span}, {self.n_carry} carried, "
                f"{self.n_xs} xs, {len(self.body.outputs) - self.n_carry} ys, "
                f"body@{id(self.body):x})")


def output_types(loop: Loop) -> list[tuple[tuple[int, ...], np.dtype]]:
    """(shape, dtype) of each loop output: final carries, then stacked ys."""
    out = [(v.shape, v.dtype) for v in loop.carry_out]
    rows = STEPS if loop.is_while else loop.stop
    out += [((rows,) + v.shape, v.dtype) for v in loop.ys]
    return out


def node_parts(node: Node) -> tuple[list[Var], list[Var], list[Var], list[Var]]:
    """A loop node's inputs: carries' initial values, per-iteration arrays, closed-over
    values, and (a counted loop) the trip count, as a list of one."""
    loop: Loop = node.p["loop"]
    ins = list(node.inputs)
    count = [ins.pop()] if loop.counted else []
    n_c, n_x = loop.n_carry, loop.n_xs
    return ins[:n_c], ins[n_c:n_c + n_x], ins[n_c + n_x:], count


def loop_outputs(graph: Graph, token: Var) -> dict[int, Var]:
    """Output index -> the Var a loop_output node of `graph` projects it to."""
    return {n.p["index"]: n.out for n in graph.nodes
            if n.op == LOOP_OUTPUT and n.inputs[0] is token}


def loop_node(graph: Graph, loop: Loop, inputs: list[Var], loc: str | None) -> list[Var]:
    """Append a loop node and one loop_output node per output; the output Vars."""
    token = graph.new_var(TOKEN_SHAPE, TOKEN_DTYPE)
    graph.add(Node(token, LOOP, tuple(inputs), (("loop", loop),), loc=loc))
    outs = []
    for k, (shape, dtype) in enumerate(output_types(loop)):
        var = graph.new_var(shape, dtype)
        graph.add(Node(var, LOOP_OUTPUT, (token,),
                       (("index", k), ("shape", shape), ("dtype", dtype.str)), loc=loc))
        outs.append(var)
    return outs


def substitute(node: Node, subs: dict[Var, Var]) -> Node:
    """`node` reading `subs[v]` wherever it read `v`."""
    if node.op == ELEMENTWISE:
        repl = {v.symbol: w.symbol for v, w in subs.items() if v.symbol in node.expr.free_symbols}
        if not repl:
            return node
        return Node(node.out, ELEMENTWISE, params=node.params, expr=node.expr.xreplace(repl),
                    loc=node.loc)
    if not any(v in subs for v in node.inputs):
        return node
    return Node(node.out, node.op, tuple(subs.get(v, v) for v in node.inputs), node.params,
                node.expr, node.value, node.loc)


def fresh_inputs(body: Graph, old: list[Var], nodes: list[Node], outputs: list[Var],
                 names: dict) -> tuple[list[Node], list[Var]]:
    """Make `old` (values of another body) the inputs of `body` as new Vars of its own:
    `nodes` and `outputs` rewritten to read them, their name hints copied. A value is
    then a symbol of one loop body only."""
    subs: dict[Var, Var] = {}
    for v in old:
        if v not in subs:
            subs[v] = body.new_var(v.shape, v.dtype)
            if v in names:
                body.names[subs[v]] = names[v]
    for v in old:
        body.add(Node(subs[v], INPUT, params=(("name", ""),)))
    return [substitute(n, subs) for n in nodes], [subs.get(v, v) for v in outputs]


def bodies(graph: Graph):
    """The body graphs of the loops of `graph`, nested ones too."""
    for node in graph.nodes:
        if node.op == LOOP:
            body = node.p["loop"].body
            yield body
            yield from bodies(body)
