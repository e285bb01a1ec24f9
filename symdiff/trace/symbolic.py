"""Which dimensions of a trace are symbolic: declared by name, or found automatically.

`declared_specs` applies shapes given by the user (`--shape X=n,d`,
``dims={"X": ("n", "d")}``): names are dimension symbols, ints fixed sizes.
`auto_specs` (the decorator's default, `--dims auto`) makes every dimension of the
example arguments a symbol of its own, except sizes 1 (which broadcast), and traces:
where the program requires two dimensions equal (``X @ w``, ``p - y``) the trace
stops with `dims.Unify` and runs again with the two merged; where it needs a number
(`range(n)`) that dimension keeps its example size. The result is the most general
shapes the program allows, named `n, d, k, ...` in the order `_check_inputs` binds
them.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import sympy as sp

from ..errors import InputError, ShapeError, SymbolicDimError, SymdiffError, TraceError, raised_in_symdiff
from ..ir import dims
from .args import ArgSpec, function_location
from .control import StandInArguments, trace_paths
from .function import trace
from .while_loops import FOLD_WHILE

__all__ = ["declared_specs", "auto_specs", "trace_reuse", "reused_trace", "fix_dims",
           "instantiate", "NAMES", "small_sizes", "needs_fixed_sizes"]

#: Names of automatic dimensions, in binding order (then n1, n2, ...).
NAMES = ("n", "d", "k", "m", "p", "q", "r", "s", "t", "u")


def declared_specs(fn: Callable, specs: Sequence[ArgSpec], declared: Mapping) -> list[ArgSpec]:
    """`specs` with the shapes of `declared` (argument name -> entries: an int, a
    dimension name, or None for the example's size)."""
    params = {s.name for s in specs}
    unknown = sorted(set(declared) - params)
    if unknown:
        raise InputError(f"dims names {', '.join(unknown)}, which are not arguments of "
                         f"{getattr(fn, '__qualname__', fn)}({', '.join(s.name for s in specs)})",
                         function_location(fn))
    out = []
    for s in specs:
        if s.name not in declared:
            out.append(s)
            continue
        entries = tuple(declared[s.name]) if not isinstance(declared[s.name], str) \
            else tuple(e.strip() for e in declared[s.name].split(","))
        if not s.traced or len(entries) != len(s.shape):
            raise InputError(f"dims gives {s.name} {len(entries)} dimensions, but it has "
                             f"shape {s.shape if s.traced else '(static)'}",
                             function_location(fn))
        shape = tuple(_entry(fn, e, d, params) for e, d in zip(entries, s.shape))
        out.append(replace(s, shape=shape))
    return out


def _entry(fn, entry, example, params):
    if entry is None:
        return example
    if isinstance(entry, sp.Symbol):
        entry = entry.name
    if isinstance(entry, str):
        try:
            return dims.dim(dims.check_name(entry, params))
        except ValueError as e:
            raise InputError(str(e), function_location(fn)) from None
    if isinstance(entry, int) and entry >= 0:
        return entry
    raise InputError(f"a dimension must be a name or a size >= 0, got {entry!r}",
                     function_location(fn))


def auto_specs(fn: Callable, specs: Sequence[ArgSpec], fixed: Sequence[str] = ()) -> list[ArgSpec]:
    """The most general symbolic shapes for `specs` (see the module docstring); the
    dimensions named in `fixed` (of an earlier attempt) keep their example sizes."""
    example: dict = {}
    shapes = []
    for i, s in enumerate(specs):
        if not s.traced:
            shapes.append(None)
            continue
        shape = []
        for axis, size in enumerate(s.shape):
            if isinstance(size, int) and size > 1 and f"{s.name}.{axis}" not in fixed:
                sym = dims.dim(f"_a{i}_{axis}")
                example[sym] = size
                shape.append(sym)
            else:
                shape.append(size)
        shapes.append(tuple(shape))
    assign: dict = {}
    for _ in range(len(example) + 2):
        current = _specs(specs, shapes, assign)
        rename = _renaming(current, specs)  # (traced under the names it will compile with)
        back = {new: old for old, new in rename.items()}
        pretty = _renamed(current, rename)
        try:
            with dims.unifying({new: example[old] for old, new in rename.items() if old in example},
                               {new: old.name for old, new in rename.items()}):
                traced = trace_paths(trace, fn, pretty, StandInArguments(symbolic=True))
        except dims.Unify as u:
            assign.update({back.get(k, k): v.xreplace(back) if isinstance(v, sp.Basic) else v
                           for k, v in u.subs.items()})
            continue
        except SymbolicDimError as e:
            was = {new.name: old.name for old, new in rename.items()}
            names = {was.get(name, name) for name in e.dims}
            stuck = {s: example[s] for s in example if s.name in names}
            if not stuck:
                raise
            assign.update(stuck)
            continue
        except Exception as e:  # noqa: BLE001 - sorted by needs_fixed_sizes
            if not needs_fixed_sizes(e):
                raise
            return list(specs)  # a limit of symbolic shapes: keep every size
        _keep_trace(fn, pretty, traced)
        return pretty
    return _pretty(_specs(specs, shapes, assign), specs)


#: Within `trace_reuse`: the trace `auto_specs` ended with, (fn, specs, fold, Traced).
_KEPT: contextvars.ContextVar[list | None] = contextvars.ContextVar("auto_trace", default=None)


@contextlib.contextmanager
def trace_reuse():
    """Within this context, `reused_trace` gives the trace `auto_specs` made at the
    shapes it returns: compiling at them traces the same program again."""
    token = _KEPT.set([])
    try:
        yield
    finally:
        _KEPT.reset(token)


def _keep_trace(fn, specs, traced) -> None:
    kept = _KEPT.get()
    if kept is not None:
        kept[:] = [(fn, specs, FOLD_WHILE.get(), traced)]


def reused_trace(fn, specs: Sequence[ArgSpec]):
    """The trace `auto_specs` made of `fn` at these very `specs` (the objects it
    returned; the trace under `unifying` that raised nothing is the one made without
    it), given once; else None."""
    kept = _KEPT.get()
    if not kept:
        return None
    kept_fn, kept_specs, fold, traced = kept.pop()
    if kept_fn is fn and fold == FOLD_WHILE.get() and len(kept_specs) == len(specs) and \
            all(a is b for a, b in zip(kept_specs, specs)):
        return traced
    return None


def needs_fixed_sizes(exc: BaseException) -> bool:
    """Whether `exc`, raised while tracing or compiling at symbolic sizes (dims="auto"),
    is answered by compiling at the example sizes: symdiff's errors about the program
    (TraceError, ShapeError, InputError: at fixed sizes it compiles, or the same problem
    is reported in the arguments' own sizes), or an exception the user's code raised on
    a symbolic size (a dict keyed by a size, a library wanting an int). An exception
    raised in symdiff's own code, or another of its errors (EmitError ...), is a bug or
    not about sizes: it surfaces rather than being hidden by a silent retry."""
    if isinstance(exc, (TraceError, ShapeError, InputError)):
        return True
    return not isinstance(exc, SymdiffError) and not raised_in_symdiff(exc.__traceback__)


def _resolve(d, assign: dict):
    for _ in range(len(assign) + 1):
        new = d.xreplace(assign) if isinstance(d, sp.Basic) else d
        if new == d:
            break
        d = new
    return dims.canon(d)


def _specs(specs, shapes, assign) -> list[ArgSpec]:
    return [s if shape is None else replace(s, shape=tuple(_resolve(d, assign) for d in shape))
            for s, shape in zip(specs, shapes)]


def _pretty(specs: list[ArgSpec], examples: Sequence[ArgSpec]) -> list[ArgSpec]:
    return _renamed(specs, _renaming(specs, examples))


def _renaming(specs: list[ArgSpec], examples: Sequence[ArgSpec]) -> dict:
    """Placeholders renamed n, d, k, ... skipping argument names, in the order of the
    arguments of most dimensions and then most elements (the data, whose first axis
    is the batch: X of (n, d), W of (d, k))."""
    taken = {s.name for s in specs}
    names = [n for n in NAMES if n not in taken]
    extra = (f"n{i}" for i in range(1, 1000) if f"n{i}" not in taken)
    rename: dict = {}
    order = sorted((i for i, s in enumerate(specs) if s.traced),
                   key=lambda i: (-len(specs[i].shape), -dims.prod(examples[i].shape)))
    for s in (specs[i] for i in order):
        for d in s.shape:
            for sym in sorted(dims.symbols_of(d), key=str):
                if sym not in rename:
                    rename[sym] = dims.dim(names.pop(0) if names else next(extra))
    return rename


def _renamed(specs: list[ArgSpec], rename: dict) -> list[ArgSpec]:
    return [s if not s.traced else replace(s, shape=tuple(
        dims.canon(d.xreplace(rename)) if isinstance(d, sp.Basic) else d for d in s.shape))
        for s in specs]


def small_sizes(specs: Sequence[ArgSpec], variant: int, requirements=()) -> dict:
    """Distinct small sizes for the dimension symbols of `specs`: variant 0 gives
    3, 4, 5, ..., variant 1 gives 6, 8, 10, ... (two instantiations that differ in
    every dimension, and never make two dimensions equal). Where the program's
    `requirements` (see `dims.requirements`: x[:, :n] needs d >= n, np.split into 3
    needs n % 3 == 0) do not hold there, those sizes in another order or times 2, 3,
    4, 6 or 12, the first that meets them (variant 1 differing from variant 0 in every
    size)."""
    syms = []
    for s in specs:
        if s.traced:
            for sym in sorted(dims.symbols_of(s.shape), key=str):
                if sym not in syms:
                    syms.append(sym)
    start, step = ((3, 1), (6, 2))[variant]
    sizes = [start + step * i for i in range(len(syms))]
    first = dict(zip(syms, sizes))
    if not requirements or len(syms) > 4:
        return first
    other = small_sizes(specs, 0, requirements) if variant else {}
    for factor in (1, 2, 3, 4, 6, 12):
        for order in itertools.permutations(sizes):
            candidate = {sym: size * factor for sym, size in zip(syms, order)}
            if all(_holds(expr, candidate) for expr, _ in requirements) and \
                    not any(other.get(s) == v for s, v in candidate.items()):
                return candidate
    return first


def _holds(requirement, sizes: Mapping) -> bool:
    """A requirement of `dims.requirements` at these sizes: Mod(e, k) must be 0, any
    other expression at least 0."""
    value = requirement.xreplace({s: sp.Integer(sizes[s]) for s in requirement.free_symbols
                                  if s in sizes})
    if not value.is_number:
        return True  # (a symbol no argument binds: nothing to choose)
    return value == 0 if isinstance(requirement, sp.Mod) else value >= 0


def fix_dims(specs: Sequence[ArgSpec], example: Sequence[ArgSpec], names) -> list[ArgSpec]:
    """`specs` with the dimensions called `names` back at their sizes in `example`
    (the concrete specs they were made from), the others named n, d, ... afresh."""
    names = set(names)
    out = []
    for s, e in zip(specs, example):
        if not s.traced:
            out.append(s)
            continue
        shape = tuple(size if any(x.name in names for x in dims.symbols_of(d)) else d
                      for d, size in zip(s.shape, e.shape))
        out.append(replace(s, shape=shape))
    return _pretty(out, example)


def instantiate(specs: Sequence[ArgSpec], sizes: Mapping) -> list[ArgSpec]:
    """`specs` at concrete sizes (dimension symbol -> int)."""
    return [replace(s, shape=dims.instantiate(s.shape, sizes)) if s.traced else s
            for s in specs]
