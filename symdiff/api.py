"""The public surface: `grad`, `value_and_grad`, and the compile pipeline they share.

    trace -> optimize (fuse) -> differentiate -> optimize (simplify, CSE) -> emit -> load
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .autodiff.transforms import KINDS, _d_forward
from .codegen import branches
from .codegen.numba_backend import compile_error
from .compile import Compiled, _prepare, array_api_backend, backend_layout, compile_gradient
from .errors import InputError, SymdiffError, user_location
from .fast_path import FastPath, has_complex
from .ir.graph import ELEMENTWISE, INPUT, Graph, Node, Var
from .passes.simplify import optimize
from .trace.args import duck_array, normalize_argnums
from .trace.keywords import bind_keywords, keyword_parameters
from .trace.tracer import Tracer, as_tracer, bind

__all__ = [
    "grad",
    "value_and_grad",
    "jacobian",
    "jacfwd",
    "jacrev",
    "hessian",
    "stop_gradient",
    "compile_gradient",
    "Compiled",
    "KINDS",
]


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
        elif duck_array(a):  # a Dask array: its metadata, never its values
            key.append((tuple(a.shape), np.dtype(a.dtype).str, type(a)))
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
    of log at 0); then the call is repeated with them as np.float64, as NumPy would.
    Lists become arrays first (the code casts with `.astype`, which keeps a Dask array)."""
    args = [np.asarray(a) if type(a) is list else a for a in args]
    try:
        result = run(*args)
        if not has_complex(result):  # (-2.0)**0.5 is complex in Python, nan in NumPy
            return result
    except ArithmeticError:
        if not any(type(a) is float for a in args):
            raise
    return run(*(np.float64(a) if type(a) is float else a for a in args))


#: Exact argument shapes whose generated function a transform remembers for its fast
#: path; past this many (one per batch size seen) it starts over, the modules stay.
MAX_SHAPES_REMEMBERED = 4096

CacheInfo = namedtuple("CacheInfo", "compiles hits modules")
CacheInfo.__doc__ = """Compilations so far, calls served by a compiled module, and the
modules held (one per rank, dtype and pattern of size-1 dimensions under dims="auto")."""


def _pattern_key(args) -> tuple | None:
    """What a module compiled with dims="auto" depends on: each array's rank, dtype and
    which of its dimensions are 1 (those broadcast), static values; None for tracers."""
    key = _cache_key(args)
    if key is None:
        return None
    return tuple((len(k[0]), k[1], tuple(d == 1 for d in k[0]), *k[2:])
                 if isinstance(k, tuple) and k and isinstance(k[0], tuple) else k for k in key)


def _accepts(compiled: Compiled, args) -> bool:
    """Whether `compiled` was generated for these arguments: its fixed sizes match
    (its symbolic ones bind whatever the arguments hold; its module checks them)."""
    for spec, a in zip(compiled.specs, args):
        if spec.traced and spec.shape:
            shape = np.shape(a)
            if len(shape) != len(spec.shape) or any(
                    isinstance(d, int) and d != size for d, size in zip(spec.shape, shape)):
                return False
    return True


class _Modules:
    """Generated modules of one product (vjp, jvp, hvp) of a function, per rank, dtype
    and pattern of size-1 dimensions, as `_Transformed.compile` keeps them, with the
    counts of `cache_info`. It holds no reference to the function."""

    def __init__(self):
        self.cache: dict[tuple, list[Compiled]] = {}  # pattern -> modules
        self.counts = [0, 0]  # compilations, calls served

    def get(self, fn: Callable, args, argnums, kind: str) -> Compiled:
        key = _pattern_key(args)
        modules = self.cache.setdefault(key, [])
        for compiled in modules:  # (a module specialised to a path must hold for args)
            if _accepts(compiled, args) and branches.path_holds(compiled, args):
                return compiled
        compiled = compile_gradient(fn, args, argnums, kinds=(kind,), dims="auto")
        self.counts[0] += 1
        modules.append(compiled)
        return compiled

    def size(self) -> int:
        return sum(len(m) for m in self.cache.values())


class _Transformed:
    """A function transformed by symdiff; compiles once per argument ranks, dtypes and
    pattern of size-1 dimensions (dims="auto", the default: the module holds for every
    size), or once per shapes (dims="fixed"), or for the shapes of a `dims` mapping.

    Called on tracers (inside another transform) it does not compile: it inlines its
    derivative graph into the enclosing trace, so transforms compose."""

    def __init__(self, fn: Callable, argnums, kind: str, dims="auto",
                 backend: str = "numpy", xp: bool = False):
        if not callable(fn):
            raise InputError(f"symdiff.{kind} takes the function to differentiate, got "
                             f"{type(fn).__name__} {fn!r}; pass the function itself: "
                             f"symdiff.{kind}(f)(x), not symdiff.{kind}(f(x))", user_location())
        normalize_argnums(argnums)
        backend = array_api_backend(backend, xp)
        backend_layout(backend)  # an unknown backend, or numba missing: a usage error now
        self.backend = backend
        self.fn = fn
        self.parameters = keyword_parameters(fn)  # (the names a call may give)
        self.argnums = argnums
        self.kind = kind
        self.dims = dims
        self._cache: dict[tuple, list[Compiled]] = {}  # pattern -> modules
        self._functions: dict[tuple, Callable] = {}  # key -> generated function, for __call__
        self._counts = [0, 0]  # compilations, calls served
        self.public: Callable | None = None  # the function handed out, see `_public`
        self.fast: FastPath | None = None  # its code and hit count
        functools.update_wrapper(self, fn, updated=())  # keep our own __dict__

    def compile(self, *args, dims=None) -> Compiled:
        """The generated module for these arguments (cached); `dims` as for
        `compile_gradient` (default: the transform's)."""
        dims = self.dims if dims is None else dims
        key = (_pattern_key(args) if dims != "fixed" else _cache_key(args), repr(dims))
        modules = self._cache.setdefault(key, [])
        for compiled in modules:  # (a module specialised to a path must hold for args)
            if _accepts(compiled, args) and branches.path_holds(compiled, args):
                return compiled
        kinds = ("grad", "value_and_grad") if self.kind in ("grad", "value_and_grad") \
            else (self.kind,)
        compiled = compile_gradient(self.fn, args, self.argnums, kinds=kinds, dims=dims,
                                    backend=self.backend)
        self._counts[0] += 1
        modules.append(compiled)
        if self.public is not None:
            self.public.source = compiled.source
        return compiled

    def cache_info(self) -> CacheInfo:
        """How many modules were compiled, and how many calls ran without compiling."""
        return CacheInfo(self._counts[0], self._counts[1] + (self.fast.hits if self.fast else 0),
                         sum(len(m) for m in self._cache.values()))

    @property
    def source(self) -> str:
        """Source of the most recently compiled module."""
        if not self._cache:
            raise SymdiffError("nothing compiled yet: call the function (or .compile) first")
        return next(reversed(self._cache.values()))[-1].source

    def _call(self, args, kwargs):
        """Every call the fast path does not serve: keyword arguments (bound by name), several
        or other arguments, a first call for these shapes, tracers (inline)."""
        if kwargs:
            args = bind_keywords(self.parameters, args, kwargs, repr(self))
        key = _cache_key(args)
        run = self._functions.get(key)
        if run is None:
            if key is None:
                return inline(self.fn, args, self.argnums, self.kind)
            run = self._remember(key, args)
        else:
            self._counts[1] += 1
        if self.backend == "numpy":
            result = call(run, args)
            if self.fast is not None:
                self.fast.learn(key, run)
            return result
        try:  # numba compiles a kernel at its first call
            return call(run, args)
        except Exception as exc:
            error = compile_error(exc)
            if error is None:
                raise
            raise error from None

    def _remember(self, key: tuple, args) -> Callable:
        """The function serving calls keyed `key`, compiled (or found) and remembered."""
        compiles = self._counts[0]
        if len(self._functions) >= MAX_SHAPES_REMEMBERED:  # (a service sees many sizes)
            self._functions.clear()
        run = branches.specialised_function(
            self.compile(*args), self.kind, lambda a: self.compile(*a))
        if any(_foreign(a) for a in args):
            run = _converting(run)
        self._functions[key] = run
        self._counts[1] += compiles == self._counts[0]  # a module of other sizes
        return run

    def __repr__(self) -> str:
        return f"<symdiff.{self.kind} of {getattr(self.fn, '__qualname__', self.fn)}>"


def _public(state: _Transformed) -> Callable:
    """The function `grad(f)` and the other transforms return: a plain function (a call
    of a class instance costs more than the generated function of a scalar polynomial)
    with `state`'s `compile`, `cache_info` and, once compiled, `source` as attributes.

    Its code serves the calls it has seen succeed without a scan of the arguments'
    values: after a call with Python floats and ndarrays, a guard on their types, shapes
    and dtypes followed by the generated code (see `fast_path`); every other call goes
    to `state._call`."""
    fast = FastPath(getattr(state.fn, "__name__", state.kind), state._functions,
                    state._call, state.backend == "numpy", MAX_SHAPES_REMEMBERED,
                    state.parameters)
    transformed = fast.function
    functools.update_wrapper(transformed, state.fn, updated=())
    transformed.compile = state.compile
    transformed.cache_info = state.cache_info
    transformed._functions, transformed._cache = state._functions, state._cache
    transformed.fn, transformed.argnums, transformed.kind = state.fn, state.argnums, state.kind
    transformed.dims, transformed.backend = state.dims, state.backend
    state.public, state.fast = transformed, fast
    return transformed


def _foreign(a) -> bool:
    """An argument the generated code would get as it is but may not use as an array:
    a list, or an object NumPy converts through `__array__` (a duck array with its own
    shape and dtype, such as a Dask array, is passed through as documented)."""
    if a is None or isinstance(a, (float, int, str, np.ndarray, np.generic, Tracer)):
        return False
    return not (hasattr(a, "shape") and hasattr(a, "dtype"))


def _converting(run: Callable) -> Callable:
    """`run` on its arguments converted as tracing saw them (`np.asarray` of each
    `_foreign` one); only the cache entries of calls with such arguments pay for it."""

    @functools.wraps(run)
    def converted(*args):
        return run(*(np.asarray(a) if _foreign(a) else a for a in args))

    return converted


def _transform(kind: str, doc: str):
    def transform(fn: Callable | None = None, argnums: int | tuple[int, ...] = 0,
                  dims: str | Mapping = "auto", backend: str = "numpy", xp: bool = False):
        if fn is None:
            return lambda f: _public(_Transformed(f, argnums, kind, dims, backend, xp))
        return _public(_Transformed(fn, argnums, kind, dims, backend, xp))

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


def jacobian(fn: Callable | None = None, argnums: int | tuple[int, ...] = 0, mode: str = "auto",
             dims: str | Mapping = "auto"):
    if mode not in _JACOBIAN_MODES:
        raise InputError(f"jacobian mode {mode!r}: choose 'auto', 'forward' or 'reverse'",
                         user_location())
    return _JACOBIAN_MODES[mode](fn, argnums, dims)


jacobian.__doc__ = _JACOBIAN_DOC


hessian = _transform("hessian", """Hessian of a function, as `jax.hessian`: the Jacobian
    of its gradient (of its Jacobian for an array output), shape
    ``out.shape + arg.shape + arg.shape`` (nested tuples for a tuple `argnums`).
    Emitted in closed form where the algebra allows, e.g. ``X.T @ (d[:, None] * X)``
    for a generalized linear model.
    """)


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
    ctx = _prepare(fn, args, argnums, lambda specs: _outer_conditions(outer, args, specs))
    d = KINDS[kind](ctx) if kind in KINDS else _d_forward(ctx)
    inner = optimize(d.graph, simplify=False)
    mapping: dict[Var, Var] = {}
    traced_args = [a for a, s in zip(args, ctx.specs) if s.traced] + list(extras)
    for var, arg in zip(inner.inputs, traced_args, strict=True):
        mapping[var] = as_tracer(outer, arg).graph_var
    splice(outer, inner, mapping)

    def out(v):
        return tuple(out(x) for x in v) if isinstance(v, tuple) else Tracer(outer, mapping[v])

    results = [out(v) for v in d.returns]
    return results[0] if len(results) == 1 else tuple(results)


def _outer_conditions(outer: Graph, args: Sequence[Any], specs) -> Callable:
    """The answer to a condition of a function traced inside another transform: its
    value is copied into the enclosing trace, whose own `if` decides (a branch or a
    guard there), so transforms of branching functions compose."""
    mapping: dict[Var, Var] = {}
    done = [0]  # nodes of the inner graph copied so far

    def decide(inner: Graph, cond: Var) -> bool:
        if not mapping:
            traced = [a for a, s in zip(args, specs) if s.traced]
            mapping.update((v, as_tracer(outer, a).graph_var)
                           for v, a in zip(inner.inputs, traced, strict=True))
        splice(outer, inner.derive(inner.nodes[done[0]:], []), mapping)
        done[0] = len(inner.nodes)
        return bool(Tracer(outer, mapping[cond]))

    return decide


def splice(outer: Graph, inner: Graph, mapping: dict[Var, Var]) -> None:
    """Copy `inner`'s nodes into `outer`, renaming Vars through `mapping` (extended)."""
    for node in inner.nodes:
        if node.op == INPUT:
            continue
        var = outer.new_size_var() if node.op == "dim" else \
            outer.new_var(node.out.shape, node.out.dtype)
        if node.op == ELEMENTWISE:
            subs = {v.symbol: mapping[v].symbol for v in inner.operands(node)}
            outer.add(Node(var, ELEMENTWISE, expr=node.expr.xreplace(subs), loc=node.loc))
        else:
            outer.add(Node(var, node.op, tuple(mapping[v] for v in node.inputs), node.params,
                           value=node.value, loc=node.loc))
        mapping[node.out] = var
