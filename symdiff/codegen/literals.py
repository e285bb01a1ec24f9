"""NumPy literals in generated code: dtypes, arrays at full precision, and the calls that
build common constant arrays (np.full, np.eye, np.arange, np.tri) instead of their
elements."""

from __future__ import annotations

import sys

import numpy as np

from .precedence import UNARY, Printed


def dtype_name(dtype, xp: str = "np") -> str:
    name = np.dtype(dtype).name
    if name == "bool":  # np.bool is NumPy 2 only; the Array API's namespaces have bool
        return "np.bool_" if xp == "np" else f"{xp}.bool"
    return f"{xp}.{name}"



def array_literal(value: np.ndarray, xp: str = "np", prefix: str = "",
                  width: int | None = None) -> str:
    """`np.array([...], dtype=...)` that evaluates to `value` exactly (shortest round-trip
    digits, unpadded; nan and inf as `np.nan`, `np.inf`), on one line or, given a
    `width`, wrapped with continuation lines aligned after `prefix` (the text before it)."""
    head, tail = f"{xp}.array(", f", dtype={dtype_name(value.dtype, xp)})"
    formatter = {"float_kind": lambda v: _float_literal(v, xp), "int_kind": str, "bool": str}
    body = np.array2string(value, separator=", ", threshold=sys.maxsize, formatter=formatter,
                           max_line_width=width or sys.maxsize, prefix=prefix + head,
                           suffix=tail)
    return head + body + tail



def _float_literal(v, xp: str) -> str:
    if np.isnan(v):
        return f"{xp}.nan"
    if np.isinf(v):
        return f"{xp}.inf" if v > 0 else f"-{xp}.inf"
    return str(v)  # NumPy's shortest round-trip digits



def _format_entries(entries) -> str:
    while len(entries) > 1 and entries[-1] == ":":
        entries = entries[:-1]  # trailing full slices are implied
    return ", ".join(entries) if entries else "()"



def _unit_axes_inserted(old: tuple, new: tuple) -> list[str] | None:
    """Index entries (":" and "None") when `new` is `old` with size-1 axes added."""
    entries, i = [], 0
    for d in new:
        if i < len(old) and d == old[i]:
            entries.append(":")
            i += 1
        elif d == 1:
            entries.append("None")
        else:
            return None
    return entries if i == len(old) and len(new) > len(old) else None



def _const_uniform(printer, value):
    shape, dtype = value.shape, printer._dtype_arg(value.dtype)
    if value.size == 0:
        return f"{printer.xp}.zeros({shape}{dtype})"
    first = value.flat[0]
    nan = value.dtype.kind == "f" and np.isnan(first)
    if not (np.isnan(value) if nan else value == first).all():
        return None
    if first == 0:
        return f"{printer.xp}.zeros({shape}{dtype})"
    if first == 1:
        return f"{printer.xp}.ones({shape}{dtype})"
    return f"{printer.xp}.full({shape}, {printer._item(first.item())}{dtype})"



def _const_eye(printer, value):
    if value.ndim == 2 and value.shape[0] == value.shape[1] and value.size > 1 and \
            np.array_equal(value, np.eye(len(value), dtype=value.dtype)):
        return f"{printer.xp}.eye({len(value)}{printer._dtype_arg(value.dtype)})"
    return None



def _const_arange(printer, value):
    if value.dtype.kind not in "iu" or value.size < 2 or \
            not np.array_equal(value.ravel(), np.arange(value.size)):
        return None
    text = f"{printer.xp}.arange({value.size}{printer._dtype_arg(value.dtype, np.int64)})"
    inserted = _unit_axes_inserted((value.size,), value.shape)
    if value.ndim == 1:
        return text
    if inserted is not None:
        return f"{text}[{_format_entries(inserted)}]"
    return f"{text}.reshape({value.shape})"



#: Constants a person would write as a call: zeros/ones/full, the identity, a range.
def _const_tri(printer, value):
    """A triangular mask (np.tril/np.triu): `np.tri(n, m, k, dtype=bool)` or its `~`."""
    if value.dtype != bool or value.ndim != 2 or value.size < 2:
        return None
    n, m = value.shape
    for negate, mask in ((False, value), (True, ~value)):
        k = int(mask[0].sum()) - 1  # row 0 of np.tri(n, m, k) is true up to column k
        if np.array_equal(mask, np.tri(n, m, k, dtype=bool)):
            text = f"{printer.xp}.tri({n}, {m}, {k}, dtype=bool)"
            return Printed("~" + text, UNARY) if negate else text
    return None



_CONST_PATTERNS = (_const_uniform, _const_eye, _const_arange, _const_tri)

