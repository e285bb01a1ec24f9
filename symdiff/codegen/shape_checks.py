"""Input checks of a module generated for symbolic dimensions.

`_check_inputs` binds each dimension from the first argument that holds it
(``n, d = np.shape(X)``), checks every other argument against the shapes the
bindings give (``w`` must have shape ``(d,)`` where ``X`` has ``(n, d)``), and rejects
sizes below 1 and sizes the program cannot use (``x[2:]`` under a mean needs
``n >= 3``). Each function then binds the sizes its body reads (`binding_lines`: a
mean prints as a division by ``n``). Only names of dimensions (validated identifiers)
and of arguments enter the code; the messages quote shapes through f-strings.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Sequence

import sympy as sp

from ..errors import EmitError
from ..ir import dims
from ..trace.symbolic import NAMES

__all__ = ["symbolic_checks", "bound_dims", "dims_read", "binding_lines"]


def _binding_order(specs) -> list:
    """Traced arguments, those of most dimensions first: `n, d = np.shape(X)` binds
    both sizes, and `w` is then checked against `X`."""
    return sorted((s for s in specs if s.traced),
                  key=lambda s: (-len(s.shape), min(map(_name_rank, s.shape), default=0)))


def _name_rank(d) -> int:
    """Conventional size names bind in their order (`n` first), others after them."""
    return NAMES.index(str(d)) if str(d) in NAMES else len(NAMES)


def bound_dims(specs) -> list:
    """The dimension symbols the arguments bind, in order of binding."""
    order: list = []
    for s in _binding_order(specs):
        if s.traced:
            for d in s.shape:
                for sym in sorted(dims.symbols_of(d), key=str):
                    if sym not in order:
                        order.append(sym)
    return order


def symbolic_checks(specs, requirements, check, if_, raise_) -> list[str]:
    """Body of `_check_inputs` for arguments with symbolic shapes (the helpers of
    checks.py build the `_check` call of an argument's shape (None: checked here) and
    dtype, and `if`/`raise`)."""
    lines: list[str] = []
    origin: dict = {}  # dimension -> (argument, its shape) that binds it
    later: list = []  # arguments whose shape reads a size a later argument binds
    for s in _binding_order(specs):
        if not dims.is_symbolic(s.shape):
            lines += check(s.name, s.shape, s.dtype)
            continue
        lines += _rank_check(s, if_, raise_)
        fresh = [d if isinstance(d, sp.Symbol) and d not in origin and
                 d not in s.shape[:i] else None for i, d in enumerate(s.shape)]
        if any(fresh):
            targets = ", ".join(str(d) if d is not None else "_" for d in fresh)
            lines.append(f"{targets} = np.shape({s.name})"
                         if len(fresh) > 1 else f"({targets},) = np.shape({s.name})")
            for d in fresh:
                if d is not None:
                    origin[d] = s
            lines += _positive_check(s, [d for d in fresh if d is not None], if_, raise_)
        if any(d is None for d in fresh):
            if all(sym in origin for d in s.shape for sym in dims.symbols_of(d)):
                lines += _relation_check(s, origin, if_, raise_)
            else:  # x2 of shape (n, 2*d) before the x3 of shape (k, d) that binds d
                later.append(s)
        lines += check(s.name, None, s.dtype)
    for s in later:
        lines += _relation_check(s, origin, if_, raise_)
    for expr, why in requirements:
        lines += _requirement_check(expr, why, origin, if_, raise_)
    unbound = [d for d in bound_dims(specs) if d not in origin]
    if unbound:  # (only shapes like (n + 1,) name it: nothing gives its value)
        raise EmitError(f"no argument has a dimension of exactly {unbound[0]}, so the "
                        "generated code cannot know it; declare it alone on some axis")
    return lines


def _requirement_check(expr, why: str, origin: dict, if_, raise_) -> list[str]:
    """`x[2:]` needs n >= 2: `if n < 2: raise ValueError(...)`."""
    syms = sorted(expr.free_symbols, key=str)
    sym = syms[0]
    if isinstance(expr, sp.Mod):  # np.split into k equal sections: k divides the size
        size, k = expr.args
        test, need = f"{dims.text(expr)} != 0", f"{dims.text(size)} divisible by {k}"
    elif len(syms) == 1 and sp.expand(expr - sym).is_Integer:
        test, need = f"{sym} < {-(expr - sym)}", f"{sym} >= {-(expr - sym)}"
    else:
        test, need = f"{dims.text(expr)} < 0", f"{dims.text(expr)} >= 0"
    got = ", ".join(f"{s} = {{{s}}}" for s in syms)
    shapes = " and ".join(f"{origin[s].name} has shape {dims.shape_text(origin[s].shape)}"
                          for s in syms if s in origin)
    why = why.replace("{", "(").replace("}", ")").replace('"', "'")  # (inside an f-string)
    return [if_(test), *raise_(f'f"{why} needs {need}, but {got} ({shapes})"')]


def _rank_check(s, if_, raise_) -> list[str]:
    shape = dims.shape_text(s.shape)
    rank = f"{len(s.shape)} dimension" + ("s" if len(s.shape) > 1 else "")
    return [if_(f"np.ndim({s.name}) != {len(s.shape)}"),
            *raise_(f'f"{s.name} must have shape {shape} ({rank}), got '
                    f'{{np.shape({s.name})}}"')]


def _positive_check(s, fresh: Sequence, if_, raise_) -> list[str]:
    """Sizes below 1, and nan sizes (a Dask array of unknown chunk sizes), which every
    comparison would let through."""
    names = [str(d) for d in fresh]
    test = f"not {names[0]} >= 1" if len(names) == 1 else \
        "not (" + " and ".join(f"{d} >= 1" for d in names) + ")"
    shape = dims.shape_text(s.shape)
    which = names[0] if len(names) == 1 else " and ".join(names)
    return [if_(test),
            *raise_(f'f"{s.name} must have shape {shape} with {which} at least 1, got '
                    f'{{np.shape({s.name})}} (a Dask array of unknown chunk sizes has nan: '
                    f'call {s.name}.compute_chunk_sizes() first)"')]


def _relation_check(s, origin: dict, if_, raise_) -> list[str]:
    """Shape equality for an argument some of whose dimensions were bound before (by
    another argument, or an earlier axis of its own) or are numbers or expressions."""
    shape = dims.shape_text(s.shape)
    sources = []
    for d in s.shape:
        for sym in sorted(dims.symbols_of(d), key=str):
            src = origin.get(sym)
            if src is not None and src is not s and src not in sources:
                sources.append(src)
    where = "".join(f" where {src.name} has shape {dims.shape_text(src.shape)} = "
                    f"{{np.shape({src.name})}}" if i == 0 else
                    f" and {src.name} has shape {dims.shape_text(src.shape)} = "
                    f"{{np.shape({src.name})}}" for i, src in enumerate(sources))
    return [if_(f"np.shape({s.name}) != {shape}"),
            *raise_(f'f"{s.name} must have shape {shape} = {{{shape}}}{where}, got '
                    f'{{np.shape({s.name})}}"')]


def dims_read(body: Sequence[str], order: Sequence) -> list:
    """The dimensions among `order` that the function body's code reads (by name:
    dimension names are reserved, so no other value is called so)."""
    names = {str(d): d for d in order}
    text = "\n".join(body) + "\n"
    if not any(re.search(rf"\b{re.escape(name)}\b", text) for name in names):
        return []  # (no word of the code is a name: tokenizing finds none either)
    found = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME and tok.string in names:
                found.add(tok.string)
    except (tokenize.TokenError, IndentationError):
        found = set(names)
    return [d for d in order if str(d) in found]


def _origins(specs) -> dict:
    """Dimension -> (argument, axis) of its first lone occurrence in binding order."""
    origin: dict = {}
    for s in _binding_order(specs):
        for axis, d in enumerate(s.shape):
            if isinstance(d, sp.Symbol) and d not in origin:
                origin[d] = (s, axis)
    return origin


def binding_lines(specs, used: Sequence) -> list[str]:
    """`n, d = np.shape(X)`: the sizes a function body reads, from the arguments that
    bind them (`_` for the axes it does not read; `_check_inputs` has checked them)."""
    origin = _origins(specs)
    lines = []
    for s in _binding_order(specs):
        mine = {origin[d][1]: d for d in used if origin[d][0] is s}
        if not mine:
            continue
        if len(s.shape) == 1:
            lines.append(f"{mine[0]} = np.shape({s.name})[0]")
        else:
            targets = ", ".join(str(mine[a]) if a in mine else "_" for a in range(len(s.shape)))
            lines.append(f"{targets} = np.shape({s.name})")
    return lines
