"""The products of a function with a direction: `vjp`, `jvp` and `hvp`, as JAX names
them. They return no transformed function, so their modules are cached per function
(weakly) here; like the decorators, one module per rank, dtype and pattern of size-1
dimensions of the primals."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .api import CacheInfo, _Modules, call, inline
from .compile import Compiled
from .errors import InputError, ShapeError, user_location
from .trace.args import parameter_names
from .trace.tracer import Tracer

__all__ = ["vjp", "jvp", "hvp"]


#: The caches of vjp, jvp and hvp, which return no transformed function to hold one:
#: per function (weakly, so a cache dies with its function), then per (kind, argnums).
#: The values hold only generated modules, never the function itself.
_PRODUCT_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compile_product(fn: Callable, args: Sequence[Any], argnums, kind: str) -> Compiled:
    """The module holding `kind` (vjp, jvp, hvp) of `fn` for these arguments: one per
    rank, dtype and pattern of size-1 dimensions, as the decorators compile."""
    try:
        per_fn = _PRODUCT_CACHES.get(fn)
        if per_fn is None:
            per_fn = _PRODUCT_CACHES[fn] = {}
    except TypeError:  # not weakly referenceable (or unhashable): compile every call
        per_fn = {}
    modules = per_fn.setdefault((kind, argnums), _Modules())
    compiles = modules.counts[0]
    compiled = modules.get(fn, args, argnums, kind)
    modules.counts[1] += compiles == modules.counts[0]
    return compiled


def _product_cache_info(kind: str) -> Callable:
    def cache_info(fn: Callable) -> CacheInfo:
        """Compilations of this product of `fn` so far (over every `argnums`), calls
        served by a module already compiled, and the modules held."""
        held = [m for (k, _), m in _PRODUCT_CACHES.get(fn, {}).items() if k == kind]
        return CacheInfo(sum(m.counts[0] for m in held), sum(m.counts[1] for m in held),
                         sum(m.size() for m in held))

    return cache_info


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
    traced) both inline into the enclosing trace, so vjp composes with every transform.

    The module is compiled once per rank, dtype and pattern of size-1 dimensions of
    the primals (symbolic sizes, as the decorators' dims="auto"); ``vjp.cache_info(fn)``
    counts compilations (likewise for `jvp` and `hvp`)."""
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


for _product in (vjp, jvp, hvp):  # `symdiff.jvp.cache_info(f)`, as a decorator's
    _product.cache_info = _product_cache_info(_product.__name__)


