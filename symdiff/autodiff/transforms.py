"""The derivatives a generated module can hold (`KINDS`), each built as a graph from
the traced forward graph: gradients, Jacobians, Hessians, and their products."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from ..errors import InputError, TraceError, located
from ..ir import dims
from ..ir.graph import Graph, Var
from ..trace.args import ArgSpec, function_location
from ..trace.structured import concatenate, reshape
from ..trace.tracer import Tracer, const, expression
from .differentiate import diagonal_grad_graph, jvp_graph, vjp_graph


def _wrt(specs, nums) -> str:
    return ", ".join(specs[i].name for i in nums)



def forward_doc(name: str, specs) -> str:
    """Summary line of the forward function."""
    return f"Value of {name}, as traced."



def grad_doc(name: str, specs, nums) -> str:
    """Summary line of `grad_<name>`."""
    return f"Gradient of {name} with respect to {_wrt(specs, nums)}."



def value_and_grad_doc(name: str, specs, nums) -> str:
    """Summary line of `value_and_grad_<name>`."""
    return (f"Value of {name} and its gradient with respect to {_wrt(specs, nums)}, "
            "computed together.")


@dataclass
class _Context:
    """What every derivative of one traced function shares."""

    fn: Callable
    name: str
    specs: list[ArgSpec]
    nums: tuple[int, ...]
    argnums: int | tuple[int, ...]
    graph: Graph  # as traced
    forward: Graph  # fused, before differentiation
    wrt: list[Var]
    out_name: str
    traced: Any = None  # control.Traced: the paths of a function that branches
    _full: Graph | None = None

    @property
    def out(self) -> Var:
        return self.forward.outputs[0]

    def full(self) -> Graph:
        """The reverse-mode graph: outputs are the value, then one gradient per wrt."""
        if self._full is None:
            _check_scalar_output(self.fn, self.out)
            self._full = diagonal_grad_graph(self.forward, self.wrt) or \
                vjp_graph(self.forward, self.wrt)
        return self._full

    def pack(self, values: Sequence[Var]):
        """One Var for an int `argnums`, a tuple for a tuple (jax's convention)."""
        return values[0] if isinstance(self.argnums, int) else tuple(values)



@dataclass
class Derivation:
    """One generated function: its graph, what it returns, and its signature."""

    fname: str
    graph: Graph
    returns: list
    doc: str
    backward_from: int | None = None
    extra_params: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)



def _d_forward(ctx: _Context) -> Derivation:
    return Derivation(ctx.name, ctx.forward, [ctx.out], forward_doc(ctx.name, ctx.specs))



def _d_grad(ctx: _Context) -> Derivation:
    full = ctx.full()
    grads = full.outputs[1:]
    return Derivation(f"grad_{ctx.name}", full.derive(full.nodes, grads), [ctx.pack(grads)],
                      grad_doc(ctx.name, ctx.specs, ctx.nums), ctx.forward._next_id)



def _d_value_and_grad(ctx: _Context) -> Derivation:
    full = ctx.full()
    return Derivation(f"value_and_grad_{ctx.name}", full,
                      [ctx.out, ctx.pack(full.outputs[1:])],
                      value_and_grad_doc(ctx.name, ctx.specs, ctx.nums), ctx.forward._next_id)



def _extra_input(g: Graph, ctx: _Context, base: str, shape, dtype) -> Var:
    """A new parameter of the generated function (a tangent or cotangent)."""
    taken = {s.name for s in ctx.specs} | set(g.names.values())
    name = base
    while name in taken:
        name += "_"
    return g.add_input(shape, dtype, name)



def _d_vjp(ctx: _Context) -> Derivation:
    g = ctx.forward.derive(ctx.forward.nodes, ctx.forward.outputs)
    ct = _extra_input(g, ctx, "cotangent", ctx.out.shape, ctx.out.dtype)
    full = vjp_graph(g, ctx.wrt, cotangent=ct)
    cts = full.outputs[1:]
    doc = (f"Vector-Jacobian product of {ctx.name}: the cotangents of "
           f"{', '.join(ctx.specs[i].name for i in ctx.nums)} for `{g.names[ct]}` "
           f"(shape {ctx.out.shape}).")
    return Derivation(f"vjp_{ctx.name}", full.derive(full.nodes, cts), [tuple(cts)], doc,
                      ctx.forward._next_id, [(g.names[ct], ctx.out.shape)])



def _tangent_inputs(g: Graph, ctx: _Context) -> list[Var]:
    return [_extra_input(g, ctx, f"tangent_{ctx.specs[i].name}", w.shape, w.dtype)
            for i, w in zip(ctx.nums, ctx.wrt)]



def _d_jvp(ctx: _Context) -> Derivation:
    g = ctx.forward.derive(ctx.forward.nodes, ctx.forward.outputs)
    tangents = _tangent_inputs(g, ctx)
    jg = jvp_graph(g, ctx.wrt, tangents)
    tangent_out = jg.outputs[0]
    jg.outputs = [ctx.out, tangent_out]
    jg.names.setdefault(tangent_out, f"tangent_{ctx.out_name}")
    doc = (f"Jacobian-vector product of {ctx.name}: ({ctx.name}(...), its directional "
           "derivative along the tangents).")
    return Derivation(f"jvp_{ctx.name}", jg, [ctx.out, tangent_out], doc,
                      ctx.forward._next_id, [(g.names[t], t.shape) for t in tangents])



def _d_hvp(ctx: _Context) -> Derivation:
    _check_scalar_output(ctx.fn, ctx.out, "hvp")
    full = ctx.full()
    base = full.derive(full.nodes, full.outputs[1:])
    tangents = _tangent_inputs(base, ctx)
    hg = jvp_graph(base, ctx.wrt, tangents)
    for i, var in zip(ctx.nums, hg.outputs):
        hg.names.setdefault(var, f"hvp_{ctx.specs[i].name}")
    doc = f"Hessian-vector product of {ctx.name}: d/dt grad_{ctx.name}(x + t v) at t = 0."
    return Derivation(f"hvp_{ctx.name}", hg, [ctx.pack(hg.outputs)], doc,
                      ctx.forward._next_id, [(base.names[t], t.shape) for t in tangents])



def _jacobian_columns(g: Graph, outputs: list[Var], w: Var, upto: int) -> tuple[Graph, list[Var]]:
    """d outputs / d w by batched forward mode seeded with the identity."""
    if w.shape == ():
        with located(None):  # seeds belong to no source line
            seed = expression(g, sp.Integer(1), (), w.dtype)
        jg = jvp_graph(g.derive(g.nodes, outputs), [w], [seed.graph_var], upto=upto)
        return jg, list(jg.outputs)
    k = dims.concrete(w.size, "differentiates twice (or takes a Jacobian) with respect to "
                      "an argument of that size: one column per element")
    with located(None):
        seed = const(g, np.eye(k, dtype=w.dtype).reshape(w.shape + (k,)))
    identity = [seed.graph_var] if w.ndim == 1 else []
    jg = jvp_graph(g.derive(g.nodes, outputs), [w], [seed.graph_var], batch=k, identity=identity,
                   upto=upto)
    cols = [reshape(Tracer(jg, t), out.shape + w.shape).graph_var for t, out in zip(jg.outputs, outputs)]
    return jg, cols



#: Reverse accumulation unrolls one backward pass per output element; past this many,
#: a reverse-mode Jacobian is refused (forward accumulation batches instead).
MAX_REVERSE_ROWS = 64



def _jacobian_forward(ctx: _Context) -> tuple[Graph, list[Var]]:
    g = ctx.forward.derive(ctx.forward.nodes, ctx.forward.outputs)
    upto, jacs = len(ctx.forward.nodes), []
    for w in ctx.wrt:
        g, cols = _jacobian_columns(g, [ctx.out], w, upto)
        jacs.append(cols[0])
    return g, jacs



def _jacobian_reverse(ctx: _Context) -> tuple[Graph, list[Var]]:
    """One vector-Jacobian product per output element (a one-hot cotangent), stacked."""
    out = ctx.out
    dims.concrete(out.size, "takes a reverse-mode Jacobian of an output of that size (one "
                  "backward pass per element; mode='forward' has none)")
    if out.size > MAX_REVERSE_ROWS:
        raise InputError(f"a reverse-mode Jacobian of {ctx.name} would unroll {out.size} "
                         f"backward passes (more than {MAX_REVERSE_ROWS}); use "
                         "mode='forward' (or symdiff.jacfwd)", function_location(ctx.fn))
    g = ctx.forward.derive(ctx.forward.nodes, ctx.forward.outputs)
    rows: list[list[Var]] = [[] for _ in ctx.wrt]
    for m in range(out.size):
        onehot = np.zeros(out.shape, dtype=out.dtype)
        onehot.flat[m] = 1
        with located(None):
            seed = const(g, onehot) if out.shape else expression(g, sp.Integer(1), (),
                                                                 out.dtype)
        g.outputs = [out]
        g = vjp_graph(g, ctx.wrt, cotangent=seed.graph_var)
        for row, grad in zip(rows, g.outputs[1:]):
            row.append(grad)
    jacs = []
    for w, row in zip(ctx.wrt, rows):
        stacked = concatenate([reshape(Tracer(g, v), (1,) + w.shape) for v in row], axis=0)
        jacs.append(reshape(stacked, out.shape + w.shape).graph_var)
    return g, jacs



def _reverse_rows(out: Var) -> int | None:
    """The backward passes a reverse-mode Jacobian of `out` takes, when it can."""
    size = out.size
    return size if isinstance(size, int) and size <= MAX_REVERSE_ROWS else None


def _auto_mode(ctx: _Context) -> str:
    """Reverse when the output is the smaller side and has at most MAX_REVERSE_ROWS
    elements. With symbolic sizes, the side that holds for every size: forward for a
    symbolic output (its rows are unbounded), reverse for symbolic inputs and a small
    fixed output; both symbolic, forward, whose columns need the inputs' size as a
    number (under dims="auto" it stays fixed and a batch output stays symbolic)."""
    rows = _reverse_rows(ctx.out)
    inputs = dims.canon(sum(w.size for w in ctx.wrt))
    if not isinstance(dims.canon(ctx.out.size), int) and not isinstance(inputs, int):
        dims.concrete(inputs, "takes a Jacobian with respect to it where the output's size "
                      "is symbolic too (forward accumulation: one column per element)")
    if rows is None:
        return "forward"
    return "reverse" if not isinstance(inputs, int) or rows < inputs else "forward"


def _jacobian_derivation(ctx: _Context, mode: str, fname: str) -> Derivation:
    if mode == "auto":
        mode = _auto_mode(ctx)
    g, jacs = (_jacobian_reverse if mode == "reverse" else _jacobian_forward)(ctx)
    for i, v in zip(ctx.nums, jacs):
        g.names.setdefault(v, f"d{ctx.out_name}_d{ctx.specs[i].name}")
    g.outputs = list(jacs)
    doc = (f"Jacobian of {ctx.name} with respect to "
           f"{', '.join(ctx.specs[i].name for i in ctx.nums)} ({mode} accumulation): "
           "shape out.shape + arg.shape.")
    return Derivation(f"{fname}_{ctx.name}", g, [ctx.pack(jacs)], doc, ctx.forward._next_id)



def _d_jacobian(ctx: _Context) -> Derivation:
    return _jacobian_derivation(ctx, "auto", "jacobian")



def _d_jacfwd(ctx: _Context) -> Derivation:
    return _jacobian_derivation(ctx, "forward", "jacfwd")



def _d_jacrev(ctx: _Context) -> Derivation:
    return _jacobian_derivation(ctx, "reverse", "jacrev")



def _d_hessian(ctx: _Context) -> Derivation:
    if ctx.out.shape == ():
        full = ctx.full()
        grads = list(full.outputs[1:])
    else:  # as jax.hessian, jacfwd of jacrev: shape out.shape + arg.shape + arg.shape
        first = _jacobian_reverse if _reverse_rows(ctx.out) is not None else _jacobian_forward
        full, grads = first(ctx)
    g, upto = full.derive(full.nodes, grads), len(full.nodes)
    rows: list[list[Var]] = [[] for _ in grads]
    names = [ctx.specs[i].name for i in ctx.nums]
    for j, w in enumerate(ctx.wrt):
        g, cols = _jacobian_columns(g, grads, w, upto)
        for i, (row, col) in enumerate(zip(rows, cols)):
            row.append(col)
            # d2f_dx2, but d2f_dW1_dW1: "dW12" would read as a variable W12
            square = i == j and not names[i][-1].isdigit()
            second = f"{names[i]}2" if square else f"{names[i]}_d{names[j]}"
            g.names.setdefault(col, f"d2{ctx.out_name}_d{second}")
    g.outputs = [v for row in rows for v in row]
    ret = rows[0][0] if isinstance(ctx.argnums, int) else tuple(tuple(r) for r in rows)
    doc = (f"Hessian of {ctx.name} with respect to "
           f"{', '.join(ctx.specs[i].name for i in ctx.nums)}: shape "
           f"{'out.shape + ' if ctx.out.shape else ''}arg.shape + arg.shape.")
    return Derivation(f"hessian_{ctx.name}", g, [ret], doc, ctx.forward._next_id)



#: Every function a generated module can hold, by kind.
KINDS: dict[str, Callable[[_Context], Derivation]] = {
    "grad": _d_grad,
    "value_and_grad": _d_value_and_grad,
    "vjp": _d_vjp,
    "jvp": _d_jvp,
    "jacobian": _d_jacobian,
    "jacfwd": _d_jacfwd,
    "jacrev": _d_jacrev,
    "hessian": _d_hessian,
    "hvp": _d_hvp,
}



def derivations(ctx: _Context, kinds: Sequence[str]) -> list[Derivation]:
    """The forward function followed by the requested derivatives."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise InputError(f"unknown derivative kind(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(KINDS)}")
    return [_d_forward(ctx)] + [KINDS[k](ctx) for k in kinds]



#: What to use instead of a transform that needs a scalar output, for an array output.
_INSTEAD_OF_SCALAR = {
    "grad": "use symdiff.jacobian for the full derivative or symdiff.vjp for a "
            "vector-Jacobian product",
    "hvp": "use symdiff.jvp(symdiff.jacobian(f), primals, tangents)[1] for every output "
           "element's Hessian times the tangents, symdiff.hessian for the full Hessians, or "
           "a jvp of a vjp for the Hessian of a weighted sum of the outputs",
}



def _check_scalar_output(fn, out: Var, what: str = "grad") -> None:
    if out.shape != ():
        raise TraceError(f"{what} needs a scalar output, but {fn.__qualname__} returns an "
                         f"array of shape {out.shape}; {_INSTEAD_OF_SCALAR[what]} (or reduce "
                         "the output, e.g. with np.sum)", function_location(fn))
    if out.dtype.kind != "f":
        raise TraceError(f"{what} needs a real floating-point output, but {fn.__qualname__} "
                         f"returns dtype {out.dtype}", function_location(fn))

