"""Lowerings of NumPy calls the Array API standard lacks, for `ArrayApiPrinter`:
`einsum` into `tensordot` (two operands, no batch index) or a broadcast product
summed over the contracted indices, and `pad` into `concat` with constant blocks."""

from __future__ import annotations

from ..ir import dims
from .literals import dtype_name
from .printer import Block, _operand

__all__ = ["einsum", "pad"]


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
    product = " * ".join(_operand(f) for f in factors)
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
    return f"{_operand(text)}[{', '.join(entries)}]"


def pad(printer, node, x: str, widths, value):
    """`np.pad(x, widths, constant_values=value)` as one `concat` per padded axis with
    blocks of `value` (of the sizes the axes have by then) on either side."""
    xp, shape = printer.xp, list(node.inputs[0].shape)
    dtype = dtype_name(node.out.dtype, xp)
    lines = [f"{{out}} = {x}"]
    for axis, (before, after) in enumerate(widths):
        if not before and not after:
            continue
        parts = []
        for width in (before, after):
            if width:
                block = tuple(shape[:axis]) + (width,) + tuple(shape[axis + 1:])
                parts.append(_block(xp, block, value, dtype))
            else:
                parts.append(None)
        pieces = [p for p in (parts[0], "{out}", parts[1]) if p is not None]
        where = f", axis={axis}" if axis else ""
        lines.append(f"{{out}} = {xp}.concat([{', '.join(pieces)}]{where})")
        shape[axis] = dims.canon(shape[axis] + before + after)
    return Block(*lines)


def _block(xp: str, shape: tuple, value, dtype: str) -> str:
    text = dims.shape_text(shape)
    if not value:
        return f"{xp}.zeros({text}, dtype={dtype})"
    return f"{xp}.full({text}, {value!r}, dtype={dtype})"
