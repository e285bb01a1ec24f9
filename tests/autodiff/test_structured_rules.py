"""Each structured primitive's JVP rule against central differences of its NumPy
implementation, and its VJP rule against its JVP rule (<v, J t> = <J^T v, t>), on
one-node graphs evaluated by a small interpreter (primitives by their NumPy `impl`,
elementwise nodes by printing their expression)."""

import numpy as np
import pytest

from symdiff.autodiff.differentiate import jvp_graph, vjp_graph
from symdiff.codegen.printer import SymdiffPrinter
from symdiff.ir.graph import CONST, ELEMENTWISE, INPUT, Graph
from symdiff.ir.indexing import IndexArg
from symdiff.ir.primitives import PRIMITIVES
from symdiff.trace.tracer import Tracer, bind

F = np.float64
S = slice


def sq(n):
    return ("square", (n, n))


def _spread(n, values, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return (q * np.asarray(values)) @ q.T


#: eigenvalues and singular values well apart (their vectors' rules divide by gaps)
SPREAD = _spread(3, [1.0, 2.0, 3.5], 1)
TALL = _spread(4, [1.0, 2.0, 3.5, 5.0], 2)[:, :3]


#: primitive -> [(inputs as (shape, dtype) or ("square", shape) or an int array, params)]
SAMPLES = {
    "sum": [([((3, 4), F)], dict(axes=(1,), keepdims=False)),
            ([((2, 3, 4), F)], dict(axes=(0, 2), keepdims=True))],
    "max": [([((3, 4), F)], dict(axes=(0,), keepdims=False))],
    "min": [([((3, 4), F)], dict(axes=(0, 1), keepdims=True))],
    "prod": [([((3, 4), F)], dict(axes=(1,), keepdims=False)),
             ([((2, 3, 2), F)], dict(axes=(0, 2), keepdims=True))],
    "cumsum": [([((3, 4), F)], dict(axis=1))],
    "cumprod": [([((3, 4), F)], dict(axis=0))],
    "matmul": [([((3, 4), F), ((4, 2), F)], {}), ([((2, 3, 4), F), ((4,), F)], {})],
    "einsum": [([((3, 4), F), ((4, 2), F)], dict(subscripts="ij,jk->ik")),
               ([((3, 3), F)], dict(subscripts="ii->")),
               ([((2, 3), F), ((3,), F)], dict(subscripts="ij,j->ij"))],
    "inv": [([sq(3)], {}), ([("square", (2, 3, 3))], {})],
    "det": [([("square", (2, 3, 3))], {})],
    "cofactor": [([sq(3)], {}), ([("square", (2, 3, 3))], {})],
    "slogdet": [([sq(3)], dict(part=1)), ([sq(3)], dict(part=0))],
    "solve": [([sq(3), ((3,), F)], {}), ([sq(3), ((3, 2), F)], {}),
              ([("square", (2, 3, 3)), ((3,), F)], {})],
    "reshape": [([((3, 4), F)], dict(shape=(2, 6)))],
    "transpose": [([((2, 3, 4), F)], dict(axes=(2, 0, 1)))],
    "broadcast_to": [([((3, 1), F)], dict(shape=(2, 3, 4)))],
    "concatenate": [([((2, 3), F), ((1, 3), F), ((2, 3), F)], dict(axis=0))],
    "roll": [([((3, 4), F)], dict(shift=3, axis=1))],
    "pad": [([((3, 4), F)], dict(widths=((1, 0), (2, 1)), value=0.5))],
    "index": [([((3, 4), F)], dict(index=(S(2, None, -1), 1))),
              ([((3, 4), F), np.array([2, 0, 2])], dict(index=(S(0, 3, 1), IndexArg(0)))),
              ([((3, 4), F)], dict(index=(None, S(0, 3, 2))))],
    "scatter_add": [([((3,), F), np.array([1, 1, 3])],
                     dict(index=(S(0, 2, 1), IndexArg(0)), shape=(2, 4))),
                    ([((2,), F)], dict(index=(S(1, 4, 2), 0), shape=(4, 3)))],
    "index_update": [([((3, 4), F), ((3,), F)], dict(index=(S(0, 3, 1), 1))),
                      ([((3, 4), F), ((), F), np.array([0, 2])], dict(index=(IndexArg(0),)))],
    "add_at": [([((3, 4), F), ((2, 4), F)], dict(index=(S(1, 3, 1),), inplace=False)),
               ([((5,), F), ((), F)], dict(index=(S(0, 5, 2),), inplace=True))],
    "stop_gradient": [([((3,), F)], {})],
    # (decompositions and convolution: ir/decompositions.py)
    "cholesky": [([sq(3)], {}), ([("square", (2, 3, 3))], {})],
    "eigh": [([SPREAD], dict(part=0)), ([SPREAD], dict(part=1))],
    "inverse_gaps": [([np.array([0.5, 1.5, 3.0])], dict(what="eigenvector"))],
    "svd": [([TALL], dict(part=p)) for p in range(3)] + [([TALL.T], dict(part=0)),
                                                        ([TALL.T], dict(part=2))],
    "qr": [([TALL], dict(part=0)), ([TALL], dict(part=1))],
    "convolve": [([((5,), F), ((3,), F)], {})],
    "argsort": [([((5,), F)], dict(axis=0, kth=None)), ([((2, 5), F)], dict(axis=1, kth=2))],
}


def test_every_primitive_has_samples():
    # (a user's registrations, made by tests of register_primitive, are not symdiff's; a
    # size and a constant of symbolic shape have no inputs, hence no derivative to check)
    assert set(SAMPLES) == {name for name in PRIMITIVES
                            if not name.startswith("user_")} - {"dim", "full"}


def _value(spec, rng):
    if isinstance(spec, np.ndarray):
        return spec
    if spec[0] == "square":
        shape = spec[1]
        return rng.normal(size=shape) * 0.3 + 2 * np.eye(shape[-1])
    shape, dtype = spec
    return rng.normal(size=shape).astype(dtype)


def evaluate(graph: Graph, values: dict) -> list:
    """Run a graph: inputs from `values` (by Var), primitives by their NumPy impl."""
    env = dict(values)
    names = {v.symbol: f"v{v.id}" for v in graph.by_symbol.values()}
    printer = SymdiffPrinter(names)
    for node in graph.nodes:
        if node.op == INPUT:
            continue
        if node.op == CONST:
            env[node.out] = node.value
        elif node.op == ELEMENTWISE:
            scope = {f"v{v.id}": env[v] for v in graph.operands(node)}
            result = eval(printer.doprint(node.expr), {"np": np}, scope)  # noqa: S307
            env[node.out] = np.broadcast_to(np.asarray(result, dtype=node.out.dtype),
                                            node.out.shape)
        else:
            env[node.out] = PRIMITIVES[node.op].impl(*(env[v] for v in node.inputs), **node.p)
    return [env[v] for v in graph.outputs]


def one_node(name, specs, params, rng):
    graph = Graph()
    values = {}
    for i, spec in enumerate(specs):
        value = _value(spec, rng)
        values[graph.add_input(value.shape, value.dtype, f"x{i}")] = value
    bind(name, *(Tracer(graph, v) for v in values), **params)
    graph.outputs = [graph.nodes[-1].out]
    return graph, values, [v for v in values if v.dtype.kind == "f"]


CASES = [(name, specs, params) for name, rows in SAMPLES.items() for specs, params in rows]


@pytest.mark.parametrize("name, specs, params", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_jvp_matches_differences_and_vjp_is_its_transpose(name, specs, params):
    rng = np.random.default_rng(0)
    graph, values, wrt = one_node(name, specs, params, rng)
    (out,) = evaluate(graph, values)
    np.testing.assert_allclose(out, PRIMITIVES[name].impl(*values.values(), **params))

    # forward mode: J t, against (f(x + h t) - f(x - h t)) / 2h
    tangents = {w: rng.normal(size=w.shape) for w in wrt}
    jg = graph.derive(graph.nodes, graph.outputs)
    tvars = [jg.add_input(w.shape, w.dtype, f"t{w.id}") for w in wrt]
    jg = jvp_graph(jg, wrt, tvars)
    (jt,) = evaluate(jg, {**values, **dict(zip(tvars, tangents.values()))})
    h = 1e-6
    moved = [{**values, **{w: values[w] + s * h * t for w, t in tangents.items()}} for s in (1, -1)]
    fd = (evaluate(graph, moved[0])[0] - evaluate(graph, moved[1])[0]) / (2 * h)
    if name == "stop_gradient":
        fd = np.zeros_like(fd)  # by definition
    np.testing.assert_allclose(jt, fd, rtol=1e-5, atol=1e-6, err_msg=f"{name} jvp")

    # reverse mode: <v, J t> == sum_i <(J^T v)_i, t_i>
    vg = graph.derive(graph.nodes, graph.outputs)
    cvar = vg.add_input(out.shape, out.dtype, "v")
    cotangent = rng.normal(size=out.shape)
    vg = vjp_graph(vg, wrt, cotangent=cvar)
    cts = evaluate(vg, {**values, cvar: cotangent})[1:]
    lhs = np.sum(cotangent * jt)
    rhs = sum(np.sum(ct * t) for ct, t in zip(cts, tangents.values()))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9, err_msg=f"{name} vjp")
