"""Peer implementations: JAX, PyTorch, HIPS autograd and naive SymPy.

Every peer runs the problem's own forward function, with its global ``np`` rebound to
the peer's NumPy-like namespace (`rebind`). Imports are lazy: a peer that is not
installed raises `PeerUnavailable`, and nothing is imported unless it is used.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .timing import run_isolated, time_limit

__all__ = ["PEER_LABELS", "Prepared", "PeerUnavailable", "PeerFailed", "prepare", "rebind",
           "installed"]

PEER_LABELS = {
    ("jax", "grad"): "JAX jit(grad)",
    ("jax", "hessian"): "JAX jit(hessian)",
    ("torch", "grad"): "PyTorch eager backward",
    ("torch", "hessian"): "PyTorch torch.func.hessian",
    ("autograd", "grad"): "autograd grad",
    ("autograd", "hessian"): "autograd hessian",
    ("sympy", "grad"): "SymPy diff + lambdify",
}

#: Generated SymPy code longer than this is reported instead of run.
SYMPY_MAX_SOURCE_CHARS = 2_000_000
#: Address-space cap of the process that runs SymPy (expression blow-up eats memory).
SYMPY_MEMORY_BYTES = 4 << 30


class PeerUnavailable(Exception):
    """The peer's package is not installed, or the peer does not apply."""


class PeerFailed(Exception):
    """The peer could not build the derivative; the message is reported as is."""


@dataclass
class Prepared:
    """A ready-to-time derivative: ``fn(*args)`` returns it in NumPy-convertible form."""

    fn: Callable
    args: tuple
    setup_seconds: float
    note: str = ""


def installed(peer: str) -> bool:
    """Whether the peer's package can be imported (without importing it)."""
    return importlib.util.find_spec(peer) is not None


def rebind(fn: Callable, namespace: Any) -> Callable:
    """A copy of `fn` whose global ``np`` is `namespace` (closures are kept)."""
    scope = dict(fn.__globals__)
    scope["np"] = namespace
    copy = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__,
                              fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


def _argnum_tuple(argnums) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def prepare(peer: str, problem, case, options) -> Prepared:
    """Build the peer's derivative for `case`; raises PeerUnavailable or the peer's error."""
    if not installed(peer):
        raise PeerUnavailable("not installed")
    builder = {"jax": _prepare_jax, "torch": _prepare_torch, "autograd": _prepare_autograd,
               "sympy": _prepare_sympy}[peer]
    return builder(problem, case, options)


def _importing(load: Callable) -> Callable:
    """Turn an ImportError of a found-but-broken package into PeerUnavailable."""
    @functools.wraps(load)
    def loader():
        try:
            return load()
        except ImportError as exc:
            raise PeerUnavailable(f"not importable: {exc}") from exc
    return loader


# -- JAX ---------------------------------------------------------------------------------
@_importing
@functools.cache
def _jax():
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    return jax, jnp


def _prepare_jax(problem, case, options) -> Prepared:
    jax, jnp = _jax()
    f = rebind(case.forward, jnp)
    transform = jax.hessian if problem.kind == "hessian" else jax.grad
    compiled = jax.jit(transform(f, argnums=problem.argnums))

    def derivative(*args):
        return jax.block_until_ready(compiled(*args))

    args = tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in case.args)
    start = time.perf_counter()
    derivative(*args)
    return Prepared(derivative, args, time.perf_counter() - start,
                    "inputs pre-placed as jax arrays; setup = trace + XLA compile")


# -- PyTorch -------------------------------------------------------------------------------
@_importing
@functools.cache
def _torch():
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:            # only allowed before any inter-op work
        pass
    return torch, _torch_namespace(torch)


def _torch_namespace(torch) -> types.SimpleNamespace:
    """The part of NumPy the problems use, on torch tensors."""
    def reduction(op):
        def reduce(x, axis=None, keepdims=False):
            return op(x) if axis is None else op(x, dim=axis, keepdim=keepdims)
        return reduce

    def logaddexp(a, b):
        a, b = (v if torch.is_tensor(v) else torch.tensor(v, dtype=torch.float64)
                for v in (a, b))
        return torch.logaddexp(a, b)

    return types.SimpleNamespace(
        exp=torch.exp, log=torch.log, sqrt=torch.sqrt, sin=torch.sin, cos=torch.cos,
        tanh=torch.tanh, sum=reduction(torch.sum), mean=reduction(torch.mean),
        max=reduction(torch.amax), logaddexp=logaddexp)


def _to_tensor(torch, value, requires_grad: bool):
    if isinstance(value, np.ndarray):
        tensor = torch.from_numpy(value)
        return tensor.requires_grad_() if requires_grad else tensor
    if requires_grad:
        return torch.tensor(value, dtype=torch.float64, requires_grad=True)
    return value


def _prepare_torch(problem, case, options) -> Prepared:
    torch, tnp = _torch()
    f = rebind(case.forward, tnp)
    nums = _argnum_tuple(problem.argnums)
    if problem.kind == "hessian":
        derivative = _torch_hessian(torch, f, problem.argnums)
    else:
        def derivative(*args):
            tensors = [_to_tensor(torch, a, i in nums) for i, a in enumerate(args)]
            f(*tensors).backward()
            grads = tuple(tensors[i].grad.numpy() for i in nums)
            return grads[0] if isinstance(problem.argnums, int) else grads
    start = time.perf_counter()
    derivative(*case.args)
    return Prepared(derivative, case.args, time.perf_counter() - start,
                    "torch.from_numpy inputs, 1 thread")


def _torch_hessian(torch, f, i: int) -> Callable:
    def hessian(*args):
        tensors = [_to_tensor(torch, a, False) for a in args]

        def along(v):
            return f(*tensors[:i], v, *tensors[i + 1:])
        return torch.func.hessian(along)(tensors[i]).numpy()
    return hessian


# -- HIPS autograd -----------------------------------------------------------------------
@_importing
@functools.cache
def _autograd():
    import autograd
    import autograd.numpy as anp

    return autograd, anp


def _prepare_autograd(problem, case, options) -> Prepared:
    autograd, anp = _autograd()
    f = rebind(case.forward, anp)
    if problem.kind == "hessian":
        derivative = autograd.hessian(f, problem.argnums)
    elif isinstance(problem.argnums, int):
        derivative = autograd.grad(f, problem.argnums)
    else:
        derivative = _autograd_multi(autograd, f, problem.argnums)
    start = time.perf_counter()
    derivative(*case.args)
    return Prepared(derivative, case.args, time.perf_counter() - start)


def _autograd_multi(autograd, f: Callable, nums: tuple[int, ...]) -> Callable:
    """autograd.grad takes one argnum: differentiate w.r.t. a tuple of the arguments."""
    def packed(wrt, args):
        full = list(args)
        for i, value in zip(nums, wrt):
            full[i] = value
        return f(*full)
    grad_packed = autograd.grad(packed, 0)

    def derivative(*args):
        return grad_packed(tuple(args[i] for i in nums), args)
    return derivative


# -- naive SymPy ---------------------------------------------------------------------------
def _sympy_namespace(sp) -> types.SimpleNamespace:
    return types.SimpleNamespace(exp=sp.exp, log=sp.log, sqrt=sp.sqrt, sin=sp.sin,
                                 cos=sp.cos, tanh=sp.tanh)


def sympy_derivative_source(problem_name: str, preset: str, seconds: float) -> tuple:
    """In a worker process: diff the elementwise core with SymPy and lambdify it.

    Returns (generated source, seconds taken). Runs under a time limit and a memory cap:
    naive differentiation of deep nests is exponential in the depth."""
    import sympy as sp

    from .problems import PROBLEMS

    _cap_memory(SYMPY_MEMORY_BYTES)
    case = PROBLEMS[problem_name].setup(preset, np.random.default_rng(0))
    x = sp.Symbol("x", real=True)
    start = time.perf_counter()
    with time_limit(seconds):
        expr = rebind(case.sympy_core, _sympy_namespace(sp))(x) / sp.Integer(case.sympy_divisor)
        fn = sp.lambdify(x, sp.diff(expr, x), "numpy")
        source = inspect.getsource(fn)
    if len(source) > SYMPY_MAX_SOURCE_CHARS:
        raise OverflowError(f"generated code too large ({len(source):,} characters)")
    return source, time.perf_counter() - start


def _cap_memory(limit: int) -> None:
    try:
        import resource
    except ImportError:                 # not on Unix: no cap
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _prepare_sympy(problem, case, options) -> Prepared:
    if case.sympy_core is None:
        raise PeerUnavailable("not an elementwise problem")
    status, value = run_isolated(sympy_derivative_source,
                                 (problem.name, options.preset, options.sympy_timeout),
                                 timeout=options.sympy_timeout + 60)
    if status != "ok":
        raise PeerFailed(value.removeprefix("error: TimeLimitExceeded: "))
    source, seconds = value
    scope = dict(vars(np))
    exec(source, scope)  # noqa: S102 - SymPy's lambdify output for our own expression
    derivative = scope["_lambdifygenerated"]
    return Prepared(derivative, case.args, seconds,
                    f"setup = diff + lambdify ({len(source):,} chars of code)")
