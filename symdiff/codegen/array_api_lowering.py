"""Lowerings of NumPy calls the Array API standard lacks, for `ArrayApiPrinter`:
`einsum` into `tensordot` (two operands, no batch index) or a broadcast product
summed over the contracted indices, and `pad` into `concat` with constant blocks."""

from __future__ import annotations

from sympy.printing.precedence import PRECEDENCE

from ..ir import dims
from .literals import dtype_name
from .precedence import Printed, operand

__all__ = ["einsum", "pad", "scattered"]


def _parse(subscripts: str, count: int) -> tuple[list[str], str]:
    inputs, _, output = subscripts.replace(" ", "").partition("->")
    terms = inputs.split(",")
    if not _:  # implicit output: the indices used once, in alphabetical order
        letters = "".join(terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, output


def einsum(printer, node, ops, subscripts: str):
    """`np.einsum(subscripts, *ops)` as standard calls; a repeated index within one
    operand (a diagonal) or an ellipsis has no lowering."""
    terms, out = _parse(subscripts, len(ops))
    if "." in subscripts or any(len(set(t)) != len(t) for t in terms):
        printer.refuse(f"np.einsum({subscripts!r}) (a diagonal or an ellipsis)", node.loc)
    xp = printer.xp
    ops = list(ops)
    for i, term in enumerate(terms):  # an index only this operand has, not kept: sum it
        alone = [k for k, c in enumerate(term) if c not in out and
                 sum(c in t for t in terms) == 1]
        if alone and len(terms) > 1:
            ops[i] = _sum(xp, ops[i], alone)
            terms[i] = "".join(c for k, c in enumerate(term) if k not in alone)
    if len(terms) == 2 and not set(terms[0]) & set(terms[1]) & set(out):
        a, b = terms
        shared = [c for c in a if c in b]
        text = f"{xp}.tensordot({ops[0]}, {ops[1]}, axes=({_axes(a, shared)}, " \
               f"{_axes(b, shared)}))"
        got = "".join(c for c in a if c not in shared) + "".join(c for c in b if c not in shared)
        return _permuted(xp, text, got, out)
    letters = out + "".join(dict.fromkeys(c for t in terms for c in t if c not in out))
    factors = [_aligned(xp, op, term, letters) for op, term in zip(ops, terms)]
    product = Printed(" * ".join(operand(f) for f in factors), PRECEDENCE["Mul"])
    summed = list(range(len(out), len(letters)))
    return _sum(xp, product, summed) if summed else product


def _axes(term: str, shared: list[str]) -> str:
    return "[" + ", ".join(str(term.index(c)) for c in shared) + "]"


def _sum(xp: str, text: str, axes: list[int]) -> str:
    axis = axes[0] if len(axes) == 1 else tuple(axes)
    return f"{xp}.sum({text}, axis={axis})"


def _permuted(xp: str, text: str, got: str, want: str) -> str:
    if got == want:
        return text
    return f"{xp}.permute_dims({text}, {tuple(got.index(c) for c in want)})"


def _aligned(xp: str, op: str, term: str, letters: str) -> str:
    """`op` (indexed by `term`) with its axes in the order of `letters` and a new axis
    of length 1 for each letter it lacks, to broadcast against the other operands."""
    order = "".join(c for c in letters if c in term)
    text = _permuted(xp, op, term, order)
    if len(order) == len(letters):
        return text
    entries = [":" if c in term else "None" for c in letters]  # (every axis named)
    return f"{operand(text)}[{', '.join(entries)}]"


def pad(printer, x: str, shape, dtype, widths, value) -> str:
    """`np.pad(x, widths, constant_values=value)` of `x` (of `shape` and `dtype`) as
    one `concat` per padded axis with blocks of `value` (of the sizes the axes have by
    then) on either side."""
    xp, shape, dtype = printer.xp, list(shape), dtype_name(dtype, printer.xp)
    text = x
    for axis, (before, after) in enumerate(widths):
        if not before and not after:
            continue
        sides = [_block(xp, tuple(shape[:axis]) + (w,) + tuple(shape[axis + 1:]), value,
                        dtype) if w else None for w in (before, after)]
        pieces = [p for p in (sides[0], text, sides[1]) if p is not None]
        where = f", axis={axis}" if axis else ""
        text = f"{xp}.concat([{', '.join(pieces)}]{where})"
        shape[axis] = dims.canon(shape[axis] + before + after)
    return text


def _block(xp: str, shape: tuple, value, dtype: str) -> str:
    text = dims.shape_text(shape)
    if not value:
        return f"{xp}.zeros({text}, dtype={dtype})"
    return f"{xp}.full({text}, {value!r}, dtype={dtype})"


def scattered(printer, values: str, index, shape, dtype) -> str | None:
    """Zeros of `shape` with `values` at `index`, as an expression without writes in
    place (immutable arrays such as JAX's take it): the values padded by zeros, an
    integer entry first made an axis of length 1. None unless every entry is an int
    or a slice of step 1."""
    if len(index) > len(shape) or not all(
            isinstance(e, int) or isinstance(e, slice) and e.step == 1 for e in index):
        return None
    widths, full = [], list(shape)
    for axis, (e, n) in enumerate(zip(index, shape)):
        if isinstance(e, int):
            widths.append((e, dims.canon(n - e - 1)))
            full[axis] = 1
        else:
            widths.append((e.start, dims.canon(n - e.stop)))
            full[axis] = dims.canon(e.stop - e.start)
    widths += [(0, 0)] * (len(shape) - len(index))
    if any(isinstance(e, int) for e in index):
        values = f"{printer.xp}.reshape({values}, {dims.shape_text(tuple(full))})"
    return pad(printer, values, full, dtype, widths, 0)
