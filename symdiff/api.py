"""The public surface: `grad`, `value_and_grad`, and the compile pipeline they share.

    trace -> optimize (fuse) -> differentiate -> optimize (simplify, CSE) -> emit -> load
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .differentiate import vjp_graph
from .emit import (
    forward_doc,
    grad_doc,
    module_code,
    print_function,
    render_module,
    value_and_grad_doc,
)
from .errors import InputError, SymdiffError, TraceError
from .ir import Graph, Var
from .load import load_module
from .simplify import optimize, to_program
from .trace import ArgSpec, describe_args, function_location, trace

__all__ = ["grad", "value_and_grad", "compile_gradient", "Compiled", "write_atomic"]

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

    def save(self, path: str) -> None:
        """Write the module atomically (a temporary file, then a rename)."""
        write_atomic(path, self.source)

    def _repr_markdown_(self) -> str:
        return f"```python\n{self.source}```"


def write_atomic(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _normalize_argnums(argnums) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(i, int) for i in nums):
        raise InputError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
    return nums


def compile_gradient(
    fn: Callable,
    args: Sequence[Any],
    argnums: int | tuple[int, ...] = 0,
    source_name: str | None = None,
) -> Compiled:
    """Trace `fn` at `args`, differentiate with respect to `argnums`, emit and load."""
    nums = _normalize_argnums(argnums)
    for i in nums:
        if not -len(args) <= i < len(args):
            raise InputError(f"argnums {argnums!r} out of range for {len(args)} arguments",
                             function_location(fn))
    nums = tuple(i % len(args) for i in nums)
    specs = describe_args(fn, args, nums)
    graph = trace(fn, specs)
    out = graph.outputs[0]
    _check_scalar_output(fn, out)
    forward = optimize(graph, simplify=False)
    traced = [i for i, s in enumerate(specs) if s.traced]
    wrt = [forward.inputs[traced.index(i)] for i in nums]
    full = vjp_graph(forward, wrt)
    value, grads = full.outputs[0], full.outputs[1:]
    ret = grads[0] if isinstance(argnums, int) else tuple(grads)
    name = fn.__name__ if fn.__name__.isidentifier() else "f"
    out_name = graph.names.get(out) or name
    backward_from = forward._next_id
    programs = [
        (name, [value], forward_doc(name, specs), None, forward),
        (f"grad_{name}", [ret], grad_doc(name, specs, nums), backward_from,
         full.derive(full.nodes, grads)),
        (f"value_and_grad_{name}", [value, ret], value_and_grad_doc(name, specs, nums),
         backward_from, full),
    ]
    functions = []
    for fname, returns, doc, bfrom, g in programs:
        program = to_program(optimize(g))
        functions.append(print_function(program, fname, doc, returns, out_name, bfrom))
    source = render_module(module_code(fn, name, specs, nums, functions, source_name))
    module = load_module(source, f"symdiff_generated_{name}")
    return Compiled(name, source, module, argnums, specs, graph)


def _check_scalar_output(fn, out: Var) -> None:
    if out.shape != ():
        raise TraceError(f"grad needs a scalar output, but {fn.__qualname__} returns an array "
                         f"of shape {out.shape}; use symdiff.jacobian for the full derivative "
                         "or symdiff.vjp for a vector-Jacobian product (or reduce the output, "
                         "e.g. with np.sum)", function_location(fn))
    if out.dtype.kind != "f":
        raise TraceError(f"grad needs a real floating-point output, but {fn.__qualname__} "
                         f"returns dtype {out.dtype}", function_location(fn))


# -- the decorator surface ---------------------------------------------------------------
def _cache_key(args) -> tuple:
    key = []
    for a in args:
        if isinstance(a, float):
            key.append(float)
        elif isinstance(a, np.ndarray):
            key.append((a.shape, a.dtype.str))
        elif isinstance(a, (bool, int)):
            key.append((type(a), a))
        else:
            arr = np.asarray(a)
            key.append((arr.shape, arr.dtype.str, type(a)))
    return tuple(key)


class _Transformed:
    """A function transformed by symdiff; compiles once per argument shapes/dtypes."""

    def __init__(self, fn: Callable, argnums, with_value: bool):
        _normalize_argnums(argnums)
        self.fn = fn
        self.argnums = argnums
        self.with_value = with_value
        self._cache: dict[tuple, Compiled] = {}
        functools.update_wrapper(self, fn)

    def compile(self, *args) -> Compiled:
        """The generated module for these argument shapes (cached)."""
        key = _cache_key(args)
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = compile_gradient(self.fn, args, self.argnums)
            self._cache[key] = compiled
        return compiled

    @property
    def source(self) -> str:
        """Source of the most recently compiled module."""
        if not self._cache:
            raise SymdiffError("nothing compiled yet: call the function (or .compile) first")
        return next(reversed(self._cache.values())).source

    def __call__(self, *args):
        compiled = self.compile(*args)
        if self.with_value:
            return compiled.value_and_grad(*args)
        return compiled.grad(*args)

    def __repr__(self) -> str:
        kind = "value_and_grad" if self.with_value else "grad"
        return f"<symdiff.{kind} of {getattr(self.fn, '__qualname__', self.fn)}>"


def grad(fn: Callable | None = None, argnums: int | tuple[int, ...] = 0):
    """Gradient of a scalar-valued NumPy function, as `jax.grad`.

    Usable as ``grad(f)``, ``grad(f, argnums=(0, 1))``, ``@grad`` or
    ``@grad(argnums=1)``. The returned callable gives one array for an int
    `argnums` and a tuple for a tuple. Its ``.compile(*args)`` returns the
    generated module (``.source``, ``.grad``, ``.value_and_grad``, ``.save``).
    """
    if fn is None:
        return lambda f: _Transformed(f, argnums, with_value=False)
    return _Transformed(fn, argnums, with_value=False)


def value_and_grad(fn: Callable | None = None, argnums: int | tuple[int, ...] = 0):
    """Like `grad`, returning ``(value, gradient)``, as `jax.value_and_grad`."""
    if fn is None:
        return lambda f: _Transformed(f, argnums, with_value=True)
    return _Transformed(fn, argnums, with_value=True)
