"""The public surface: `grad`, `value_and_grad`, and the compile pipeline they share.

    trace -> optimize (fuse) -> differentiate -> optimize (simplify, CSE) -> emit -> load
"""

from __future__ import annotations

import functools
import os
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from .differentiate import diagonal_grad_graph, jvp_graph, vjp_graph
from .emit import (
    ConstantPool,
    forward_doc,
    grad_doc,
    module_code,
    print_function,
    render_module,
    value_and_grad_doc,
)
from .errors import InputError, ShapeError, SymdiffError, TraceError, user_location
from .ir import ELEMENTWISE, INPUT, Graph, Node, Var
from .load import load_module
from .simplify import optimize, to_program
from .trace import ArgSpec, describe_args, function_location, parameter_names, trace
from .tracer import Tracer, as_tracer, bind, concatenate, const, expression, reshape

__all__ = [
    "grad",
    "value_and_grad",
    "jacobian",
    "jacfwd",
    "jacrev",
    "hessian",
    "vjp",
    "jvp",
    "hvp",
    "stop_gradient",
    "compile_gradient",
    "Compiled",
    "KINDS",
    "write_atomic",
]

@dataclass
class Compiled:
    """A generated module and its functions, for one set of argument shapes."""

    name: str
    source: str
    module: Any
    argnums: int | tuple[int, ...]
    specs: list[ArgSpec]
    graph: Graph = field(repr=False)

    @property
    def forward(self) -> Callable:
        return getattr(self.module, self.name)

    @property
    def grad(self) -> Callable:
        return getattr(self.module, f"grad_{self.name}")

    @property
    def value_and_grad(self) -> Callable:
        return getattr(self.module, f"value_and_grad_{self.name}")

    def function(self, kind: str) -> Callable:
        """The generated function of a derivative kind ("grad", "hessian", ...)."""
        return getattr(self.module, f"{kind}_{self.name}")

    def save(self, path: str) -> None:
        """Write the module atomically (a temporary file, then a rename)."""
        write_atomic(path, self.source)

    # Rich display in notebooks: the derivative as LaTeX, the module highlighted.
    def _repr_latex_(self) -> str:
        from .display import to_latex

        return to_latex(self)

    def _repr_html_(self) -> str:
        from .display import to_html

        return to_html(self)

    def _repr_markdown_(self) -> str:
        from .display import to_markdown

        return to_markdown(self)


def write_atomic(path: str, text: str | bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:  # bytes: the same file on every platform
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _normalize_argnums(argnums) -> tuple[int, ...]:
    if not isinstance(argnums, (int, tuple, list)):
        raise InputError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(i, int) for i in nums):
        raise InputError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
    return nums


def compile_gradient(
    fn: Callable,
    args: Sequence[Any],
    argnums: int | tuple[int, ...] = 0,
    source_name: str | None = None,
    kinds: Sequence[str] = ("grad", "value_and_grad"),
    command: Sequence[str] | None = None,
) -> Compiled:
    """Trace `fn` at `args`, build the derivatives named by `kinds` (see `KINDS`) with
    respect to `argnums`, emit one module holding them all, and load it. `command`
    (the words of a `symdiff emit` command line) is recorded in the header."""
    ctx = _prepare(fn, args, argnums)
    constants = ConstantPool()
    functions = [print_function(to_program(optimize(d.graph)), d.fname, d.doc, d.returns,
                                ctx.out_name, d.backward_from, extra_params=d.extra_params,
                                constants=constants)
                 for d in derivations(ctx, kinds)]
    source = render_module(module_code(fn, ctx.name, ctx.specs, ctx.nums, functions,
                                       source_name, command))
    module = load_module(source, f"symdiff_generated_{ctx.name}")
    return Compiled(ctx.name, source, module, argnums, ctx.specs, ctx.graph)


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


def _prepare(fn: Callable, args: Sequence[Any], argnums) -> _Context:
    nums = _normalize_argnums(argnums)
    for i in nums:
        if not -len(args) <= i < len(args):
            raise InputError(f"argnums {argnums!r} out of range for {len(args)} arguments",
                             function_location(fn))
    nums = tuple(i % len(args) for i in nums)
    specs = describe_args(fn, args, nums)
    graph = trace(fn, specs)
    forward = optimize(graph, simplify=False)
    traced = [i for i, s in enumerate(specs) if s.traced]
    wrt = [forward.inputs[traced.index(i)] for i in nums]
    name = fn.__name__ if getattr(fn, "__name__", "").isidentifier() else "f"
    if name == "<lambda>" or not name.isidentifier():
        name = "f"
    out_name = graph.names.get(graph.outputs[0]) or name
    return _Context(fn, name, specs, nums, argnums, graph, forward, wrt, out_name)


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
        seed = expression(g, sp.Integer(1), (), w.dtype)
        jg = jvp_graph(g.derive(g.nodes, outputs), [w], [seed.var], upto=upto)
        return jg, list(jg.outputs)
    k = w.size
    seed = const(g, np.eye(k, dtype=w.dtype).reshape(w.shape + (k,)))
    identity = [seed.var] if w.ndim == 1 else []
    jg = jvp_graph(g.derive(g.nodes, outputs), [w], [seed.var], batch=k, identity=identity,
                   upto=upto)
    cols = [reshape(Tracer(jg, t), out.shape + w.shape).var for t, out in zip(jg.outputs, outputs)]
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
    if out.size > MAX_REVERSE_ROWS:
        raise InputError(f"a reverse-mode Jacobian of {ctx.name} would unroll {out.size} "
                         f"backward passes (more than {MAX_REVERSE_ROWS}); use "
                         "mode='forward' (or symdiff.jacfwd)", function_location(ctx.fn))
    g = ctx.forward.derive(ctx.forward.nodes, ctx.forward.outputs)
    rows: list[list[Var]] = [[] for _ in ctx.wrt]
    for m in range(out.size):
        onehot = np.zeros(out.shape, dtype=out.dtype)
        onehot.flat[m] = 1
        seed = const(g, onehot) if out.shape else expression(g, sp.Integer(1), (), out.dtype)
        g.outputs = [out]
        g = vjp_graph(g, ctx.wrt, cotangent=seed.var)
        for row, grad in zip(rows, g.outputs[1:]):
            row.append(grad)
    jacs = []
    for w, row in zip(ctx.wrt, rows):
        stacked = concatenate([reshape(Tracer(g, v), (1,) + w.shape) for v in row], axis=0)
        jacs.append(reshape(stacked, out.shape + w.shape).var)
    return g, jacs


def _jacobian_derivation(ctx: _Context, mode: str, fname: str) -> Derivation:
    if mode == "auto":
        inputs = sum(w.size for w in ctx.wrt)
        reverse = ctx.out.size < inputs and ctx.out.size <= MAX_REVERSE_ROWS
        mode = "reverse" if reverse else "forward"
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
        first = _jacobian_reverse if ctx.out.size <= MAX_REVERSE_ROWS else _jacobian_forward
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


# -- the decorator surface ---------------------------------------------------------------
def _cache_key(args) -> tuple | None:
    """What compiled code depends on: shapes and dtypes, static values; None when an
    argument is a tracer (the call is inside another transform)."""
    key = []
    for a in args:
        kind = type(a)
        if kind is float:  # the hot path first: this runs on every call
            key.append(float)
        elif kind is np.ndarray:
            key.append((a.shape, a.dtype))
        elif isinstance(a, Tracer):
            return None
        elif isinstance(a, float):
            key.append(float)
        elif isinstance(a, (bool, int, str)) or a is None:  # static: keyed by value
            key.append((type(a), a))
        else:
            try:
                arr = np.asarray(a)
            except ValueError:  # ragged: tracing rejects it with a typed error
                key.append((type(a), id(a)))
                continue
            key.append((arr.shape, arr.dtype.str, type(a)))
    return tuple(key)


def call(run: Callable, args: Sequence[Any]):
    """Run generated code. Python floats take the fast scalar path, but their arithmetic
    raises where NumPy's gives inf or nan (1/0.0, 10.0**400: a derivative such as 1/x
    of log at 0); then the call is repeated with them as np.float64, as NumPy would."""
    try:
        result = run(*args)
        if not _has_complex(result):  # (-2.0)**0.5 is complex in Python, nan in NumPy
            return result
    except ArithmeticError:
        if not any(type(a) is float for a in args):
            raise
    return run(*(np.float64(a) if type(a) is float else a for a in args))


def _has_complex(result) -> bool:
    if isinstance(result, tuple):
        return any(_has_complex(r) for r in result)
    return type(result) is complex


def _compile_cached(cache: dict[tuple, Compiled], fn: Callable, args: Sequence[Any],
                    argnums, kind: str) -> Compiled:
    """The module holding `kind` of `fn` for these argument shapes, from `cache` (keyed
    by `_cache_key`) or compiled into it."""
    key = _cache_key(args)
    compiled = cache.get(key)
    if compiled is None:
        kinds = ("grad", "value_and_grad") if kind in ("grad", "value_and_grad") else (kind,)
        compiled = cache[key] = compile_gradient(fn, args, argnums, kinds=kinds)
    return compiled


#: The caches of vjp, jvp and hvp, which return no transformed function to hold one:
#: per function (weakly, so a cache dies with its function), then per (kind, argnums).
#: The values hold only generated modules, never the function itself.
_PRODUCT_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compile_product(fn: Callable, args: Sequence[Any], argnums, kind: str) -> Compiled:
    try:
        per_fn = _PRODUCT_CACHES.get(fn)
        if per_fn is None:
            per_fn = _PRODUCT_CACHES[fn] = {}
    except TypeError:  # not weakly referenceable (or unhashable): compile every call
        per_fn = {}
    cache = per_fn.setdefault((kind, argnums), {})
    return _compile_cached(cache, fn, args, argnums, kind)


class _Transformed:
    """A function transformed by symdiff; compiles once per argument shapes/dtypes.

    Called on tracers (inside another transform) it does not compile: it inlines its
    derivative graph into the enclosing trace, so transforms compose."""

    def __init__(self, fn: Callable, argnums, kind: str):
        _normalize_argnums(argnums)
        self.fn = fn
        self.argnums = argnums
        self.kind = kind
        self._cache: dict[tuple, Compiled] = {}
        self._functions: dict[tuple, Callable] = {}  # key -> generated function, for __call__
        functools.update_wrapper(self, fn, updated=())  # keep our own __dict__

    def compile(self, *args) -> Compiled:
        """The generated module for these argument shapes (cached)."""
        return _compile_cached(self._cache, self.fn, args, self.argnums, self.kind)

    @property
    def source(self) -> str:
        """Source of the most recently compiled module."""
        if not self._cache:
            raise SymdiffError("nothing compiled yet: call the function (or .compile) first")
        return next(reversed(self._cache.values())).source

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise InputError(
                f"{self!r} called with keyword arguments ({', '.join(kwargs)}): the "
                "generated code takes its arguments by position; pass them positionally, "
                "or fix them first with functools.partial(f, name=value)")
        key = _cache_key(args)
        run = self._functions.get(key)
        if run is None:
            if key is None:
                return inline(self.fn, args, self.argnums, self.kind)
            run = self._functions[key] = self.compile(*args).function(self.kind)
        return call(run, args)

    def __repr__(self) -> str:
        return f"<symdiff.{self.kind} of {getattr(self.fn, '__qualname__', self.fn)}>"


def _transform(kind: str, doc: str):
    def transform(fn: Callable | None = None, argnums: int | tuple[int, ...] = 0):
        if fn is None:
            return lambda f: _Transformed(f, argnums, kind)
        return _Transformed(fn, argnums, kind)

    transform.__name__ = transform.__qualname__ = kind
    transform.__doc__ = doc
    return transform


grad = _transform("grad", """Gradient of a scalar-valued NumPy function, as `jax.grad`.

    Usable as ``grad(f)``, ``grad(f, argnums=(0, 1))``, ``@grad`` or
    ``@grad(argnums=1)``. The returned callable gives one array for an int
    `argnums` and a tuple for a tuple. Its ``.compile(*args)`` returns the
    generated module (``.source``, ``.grad``, ``.value_and_grad``, ``.save``).
    Transforms compose: ``grad(grad(f))`` is the second derivative.
    """)

value_and_grad = _transform("value_and_grad", """Like `grad`, returning ``(value, gradient)``,
    as `jax.value_and_grad`.""")

_JACOBIAN_DOC = """Jacobian of a NumPy function, as `jax.jacobian`.

    The result has shape ``out.shape + arg.shape`` (a tuple of such for a tuple
    `argnums`). `mode` picks the accumulation: "forward" batches one direction per
    input element (products like ``X @ I`` stay in closed form), "reverse" runs one
    backward pass per output element (at most 64), "auto" takes reverse when the
    output is the smaller side. `jacfwd` and `jacrev` name the two modes.
    """
_jacobian_auto = _transform("jacobian", _JACOBIAN_DOC)
jacfwd = _transform("jacfwd", "Forward-accumulation Jacobian, as `jax.jacfwd`.")
jacrev = _transform("jacrev", "Reverse-accumulation Jacobian, as `jax.jacrev`.")
_JACOBIAN_MODES = {"auto": _jacobian_auto, "forward": jacfwd, "reverse": jacrev}


def jacobian(fn: Callable | None = None, argnums: int | tuple[int, ...] = 0, mode: str = "auto"):
    if mode not in _JACOBIAN_MODES:
        raise InputError(f"jacobian mode {mode!r}: choose 'auto', 'forward' or 'reverse'")
    return _JACOBIAN_MODES[mode](fn, argnums)


jacobian.__doc__ = _JACOBIAN_DOC


hessian = _transform("hessian", """Hessian of a function, as `jax.hessian`: the Jacobian
    of its gradient (of its Jacobian for an array output), shape
    ``out.shape + arg.shape + arg.shape`` (nested tuples for a tuple `argnums`).
    Emitted in closed form where the algebra allows, e.g. ``X.T @ (d[:, None] * X)``
    for a generalized linear model.
    """)


def _all_argnums(primals) -> tuple[int, ...]:
    return tuple(range(len(primals)))


def _traced(*values) -> bool:
    return any(isinstance(v, Tracer) for v in values)


def _dtype(value) -> np.dtype | None:
    """The dtype `value` would have as an array; None when it cannot be one (ragged)."""
    if isinstance(value, Tracer):
        return value.dtype
    try:
        return np.asarray(value).dtype
    except ValueError:
        return None


def _direction(fn: Callable, label: str, value, shape: tuple[int, ...], of: str,
               dtype: np.dtype | None, what: str):
    """Check a tangent or cotangent of `what` (jvp, vjp, hvp) before it reaches generated
    code: real numbers, shaped exactly like `of` (a primal or the output), and a float
    array must have `of`'s float `dtype`, as JAX requires. Python numbers, lists and
    integers have no float width of their own: they are converted to `dtype`. Errors
    point at the caller."""
    if isinstance(value, Tracer):
        got, got_dtype = value.shape, value.dtype
    else:
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged
            arr = np.asarray(None)
        got, got_dtype = arr.shape, arr.dtype
    name = getattr(fn, "__qualname__", "f")
    if got_dtype.kind not in "fiu":
        raise InputError(f"{label} of {name} must be real floating point like {of}, got "
                         f"dtype {got_dtype}; pass a float array of shape {shape}",
                         user_location())
    if tuple(got) != tuple(shape):
        raise ShapeError(f"{label} must have shape {shape}, got {tuple(got)}: it pairs with "
                         f"{of} of {name}, so pass an array of the same shape",
                         user_location())
    if dtype is None or dtype.kind != "f" or got_dtype == dtype:
        return value
    typed = isinstance(value, (np.ndarray, np.generic, Tracer))
    if typed and got_dtype.kind == "f":
        raise InputError(f"{label} has dtype {got_dtype}, but {of} of {name} is {dtype}; {what} "
                         f"needs the same dtype for both (as JAX does): convert it with "
                         f".astype(np.{dtype.name})", user_location())
    return value if isinstance(value, Tracer) else np.asarray(value, dtype=dtype)


def _tangents(fn: Callable, primals, tangents, what: str) -> tuple[tuple, tuple]:
    for given, role in ((primals, "primals"), (tangents, "tangents")):
        if not isinstance(given, (tuple, list)):
            raise InputError(f"{what}: {role} must be a tuple with one entry per argument, "
                             f"got {type(given).__name__}; write {what}(f, (x,), (t,))",
                             user_location())
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise InputError(f"{what}: {len(primals)} primals but {len(tangents)} tangents; give "
                         "one tangent per primal", user_location())
    names = parameter_names(fn, len(primals))
    return primals, tuple(_direction(fn, f"tangent_{n}", t, np.shape(p), f"the primal {n}",
                                     _dtype(p), what)
                          for n, p, t in zip(names, primals, tangents))


def vjp(fn: Callable, *primals):
    """``(fn(*primals), vjp_fn)`` as `jax.vjp`: ``vjp_fn(cotangent)`` returns one
    cotangent per primal, as a tuple. Inside another transform (primals or cotangent
    traced) both inline into the enclosing trace, so vjp composes with every transform."""
    argnums = _all_argnums(primals)
    if _traced(*primals):
        out = inline(fn, primals, argnums, "forward")
        run = None
    else:
        compiled = _compile_product(fn, primals, argnums, "vjp")
        out = compiled.forward(*primals)
        run = compiled.function("vjp")
    out_shape = np.shape(out)
    out_dtype = _dtype(out) if run is None else compiled.graph.outputs[0].dtype

    def vjp_fn(cotangent):
        cotangent = _direction(fn, "cotangent", cotangent, out_shape, "the output", out_dtype,
                               "vjp")
        if run is None or isinstance(cotangent, Tracer):
            return inline(fn, primals, argnums, "vjp", (cotangent,))
        return call(run, (*primals, cotangent))

    return out, vjp_fn


def jvp(fn: Callable, primals: Sequence[Any], tangents: Sequence[Any]):
    """``(fn(*primals), J @ tangents)`` as `jax.jvp`."""
    primals, tangents = _tangents(fn, primals, tangents, "jvp")
    if _traced(*primals, *tangents):
        return inline(fn, primals, _all_argnums(primals), "jvp", tangents)
    compiled = _compile_product(fn, primals, _all_argnums(primals), "jvp")
    return call(compiled.function("jvp"), (*primals, *tangents))


def hvp(fn: Callable, primals: Sequence[Any], tangents: Sequence[Any]):
    """Hessian-vector product ``H(primals) @ tangents`` of a scalar function, by
    forward mode over its gradient (one tuple entry per primal when several)."""
    primals, tangents = _tangents(fn, primals, tangents, "hvp")
    argnums = 0 if len(primals) == 1 else _all_argnums(primals)
    if _traced(*primals, *tangents):
        return inline(fn, primals, argnums, "hvp", tangents)
    compiled = _compile_product(fn, primals, argnums, "hvp")
    return call(compiled.function("hvp"), (*primals, *tangents))


def stop_gradient(x):
    """The value of `x`, through which no derivative flows (as `jax.lax.stop_gradient`,
    PyTorch's `detach`)."""
    if isinstance(x, Tracer):
        return bind("stop_gradient", x)
    return x


# -- composition: a transform called inside another one -------------------------------------
def inline(fn: Callable, args: Sequence[Any], argnums, kind: str, extras: Sequence[Any] = ()):
    """Build `kind` of `fn` as a graph and splice it into the trace the tracers in
    `args` and `extras` (the tangents or cotangent of jvp, hvp, vjp) belong to; returns
    tracers shaped like the generated function's result."""
    outer = next(a for a in (*args, *extras) if isinstance(a, Tracer)).graph
    ctx = _prepare(fn, args, argnums)
    d = KINDS[kind](ctx) if kind in KINDS else _d_forward(ctx)
    inner = optimize(d.graph, simplify=False)
    mapping: dict[Var, Var] = {}
    traced_args = [a for a, s in zip(args, ctx.specs) if s.traced] + list(extras)
    for var, arg in zip(inner.inputs, traced_args, strict=True):
        mapping[var] = as_tracer(outer, arg).var
    splice(outer, inner, mapping)

    def out(v):
        return tuple(out(x) for x in v) if isinstance(v, tuple) else Tracer(outer, mapping[v])

    results = [out(v) for v in d.returns]
    return results[0] if len(results) == 1 else tuple(results)


def splice(outer: Graph, inner: Graph, mapping: dict[Var, Var]) -> None:
    """Copy `inner`'s nodes into `outer`, renaming Vars through `mapping` (extended)."""
    for node in inner.nodes:
        if node.op == INPUT:
            continue
        var = outer.new_var(node.out.shape, node.out.dtype)
        if node.op == ELEMENTWISE:
            subs = {v.symbol: mapping[v].symbol for v in inner.operands(node)}
            outer.add(Node(var, ELEMENTWISE, expr=node.expr.xreplace(subs), loc=node.loc))
        else:
            outer.add(Node(var, node.op, tuple(mapping[v] for v in node.inputs), node.params,
                           value=node.value, loc=node.loc))
        mapping[node.out] = var
