"""The printers of structured nodes: one `_print_op_<name>` method each, given the
node and its printed arguments, returning an expression or a `Block` of statements.
`NodePrinter` is the half of `SymdiffPrinter` that prints them (printer.py prints the
elementwise SymPy expressions)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import sympy as sp
from sympy.printing.precedence import precedence

from ..errors import EmitError
from ..ir import dims
from ..ir.graph import Node
from ..ir.indexing import IndexArg, is_basic
from .index_text import format_index
from .literals import (
    _CONST_PATTERNS,
    _float_literal,
    _format_entries,
    _unit_axes_inserted,
    array_literal,
    dtype_name,
)
from .precedence import ATOM, MATMUL, Printed, check_atomic, operand

__all__ = ["NodePrinter", "Block", "ONE_HOT_MAX"]

ONE_HOT_MAX = 2**16  # elements of the one-hot matrix of a scatter-add
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


class Block:
    """A value printed as statements rather than one expression (a fresh array filled
    in place, e.g. by ``np.add.at``). `lines` name the target ``{out}``."""

    def __init__(self, *lines: str):
        self.lines = lines

    def statements(self, target: str) -> list[str]:
        return [line.replace("{out}", target) for line in self.lines]

    def __str__(self) -> str:
        return "\n".join(self.lines)


class NodePrinter:
    """Structured nodes as NumPy code (a base class of `SymdiffPrinter`, which sets
    `xp`, the namespace's name, and `like`, an array argument to make buffers like)."""

    def print_node(self, node: Node, args: Sequence[str]) -> str:
        """The right-hand side for a structured node, given its printed arguments."""
        method = getattr(self, f"_print_op_{node.op}", None)
        if method is None:
            raise EmitError(f"no printer for the primitive {node.op!r}; register one with "
                            "symdiff.register_primitive")
        text = method(node, *args, **node.p)
        if isinstance(text, str):
            check_atomic(node.op, text)
        return text

    def _print_op_const(self, node):
        value = node.value
        dtype = dtype_name(value.dtype, self.xp)
        if value.ndim == 0:
            return f"{dtype}({self._item(value.item())})"
        return self.const_call(value) or array_literal(value, self.xp)

    def const_call(self, value: np.ndarray) -> str | None:
        """An array as the call a person would write (np.zeros, np.eye, ...), or None."""
        for pattern in _CONST_PATTERNS:
            text = pattern(self, value)
            if text is not None:
                return text
        return None

    def _item(self, item) -> str:
        """A Python scalar as source: nan and inf by their NumPy names."""
        return _float_literal(item, self.xp) if isinstance(item, float) else repr(item)

    def _dtype_arg(self, dtype, default=np.float64) -> str:
        return "" if np.dtype(dtype) == np.dtype(default) else \
            f", dtype={dtype_name(dtype, self.xp)}"

    #: reductions of arrays as their methods, `x.sum(axis=0)`: np.sum's Python wrapper
    #: costs about a microsecond a call, as much as summing a few hundred numbers
    array_methods = True

    def _reduction(self, fn, node, x, axes, keepdims):
        axis = "" if len(axes) == node.inputs[0].ndim else \
            f", axis={axes[0] if len(axes) == 1 else axes}"
        keep = ", keepdims=True" if keepdims else ""
        if self.array_methods and node.inputs[0].ndim:  # (a 0-d value may be a float)
            return f"{operand(x)}.{fn}({(axis + keep)[2:]})"
        return f"{self.xp}.{fn}({x}{axis}{keep})"

    def _print_op_matmul(self, node, a, b):
        return Printed(f"{operand(a)} @ {operand(b)}", MATMUL)

    def _print_op_reshape(self, node, x, *, shape):
        inserted = _unit_axes_inserted(node.inputs[0].shape, tuple(shape))
        if inserted is not None and node.inputs[0].shape:  # x[:, None]; 0-d may be a float
            return f"{operand(x)}[{_format_entries(inserted)}]"
        return f"{self.xp}.reshape({x}, {dims.shape_text(tuple(shape))})"

    def _print_op_transpose(self, node, x, *, axes):
        if axes == tuple(reversed(range(len(axes)))):
            return f"{operand(x)}.T"
        return f"{self.xp}.transpose({x}, {axes})"

    def _print_op_broadcast_to(self, node, x, *, shape):
        return f"{self.xp}.broadcast_to({x}, {dims.shape_text(tuple(shape))})"

    def _print_op_einsum(self, node, *ops, subscripts):
        return f"{self.xp}.einsum('{subscripts}', {', '.join(ops)})"

    def _print_op_inv(self, node, x):
        return f"{self.xp}.linalg.inv({x})"

    def _print_op_det(self, node, x):
        return f"{self.xp}.linalg.det({x})"

    def _print_op_slogdet(self, node, x, *, part):
        return f"{self.xp}.linalg.slogdet({x}).{('sign', 'logabsdet')[part]}"

    def _print_op_solve(self, node, a, b):
        return f"{self.xp}.linalg.solve({a}, {b})"

    def _print_op_concatenate(self, node, *xs, axis):
        where = f", axis={axis}" if axis else ""
        return f"{self.xp}.concatenate([{', '.join(xs)}]{where})"

    def _print_op_roll(self, node, x, *, shift, axis):
        return f"{self.xp}.roll({x}, {shift}, axis={axis})"

    def _print_op_pad(self, node, x, *, widths, value):
        fill = f", constant_values={value!r}" if value else ""
        return f"{self.xp}.pad({x}, {widths}{fill})"

    # -- indexing: x[...] reads; writes fill a fresh array in place --------------------------
    def _print_op_index(self, node, x, *arrays, index):
        return f"{operand(x)}[{format_index(index, arrays, node.inputs[0].shape)}]"

    def _print_op_scatter_add(self, node, values, *arrays, index, shape):
        fresh = f"{{out}} = {self._zeros(node, values, shape)}"
        where = format_index(index, arrays, shape)
        if is_basic(index):  # each element is selected at most once
            return Block(fresh, f"{{out}}[{where}] = {values}")
        one_hot = self._one_hot_sum(node, values, arrays, index, shape)
        if one_hot is not None:
            return one_hot
        if all(isinstance(e, IndexArg) for e in index):
            where = ", ".join(arrays[e.k] for e in index) + ("," if len(index) == 1 else "")
            return Block(fresh, f"{self.xp}.add.at({{out}}, ({where}), {values})")
        return Block(fresh, f"{self.xp}.add.at({{out}}, {self.xp}.s_[{where}], {values})")

    def _zeros(self, node, values: str, shape) -> str:
        """A zero array to fill in place, made like `values` when that is a name
        (`np.zeros_like(g, shape=...)` is a Dask or CuPy array when `g` is one)."""
        shape = dims.shape_text(tuple(shape))
        if _IDENTIFIER.fullmatch(values) and node.inputs[0].shape:
            dt = self._dtype_arg(node.out.dtype, default=node.inputs[0].dtype)
            return f"{self.xp}.zeros_like({values}, shape={shape}{dt})"
        if self.like is not None:  # an array argument of the function
            like, like_dtype = self.like
            dt = self._dtype_arg(node.out.dtype, default=like_dtype)
            return f"{self.xp}.zeros_like({like}, shape={shape}{dt})"
        return f"{self.xp}.zeros({shape}{self._dtype_arg(node.out.dtype)})"

    def _one_hot_sum(self, node, values: str, arrays, index, shape) -> str | None:
        """`out[idx] += values` for repeated indices as a product with a one-hot matrix,
        `(np.arange(n)[:, None] == idx % n).astype(dtype) @ values`: one expression, so it
        runs on any array NumPy dispatches to (Dask has no `np.add.at`). Only for one
        index array on the first axis of a small result (n * len(idx) <= ONE_HOT_MAX
        elements; beyond that `np.add.at` is faster)."""
        if len(index) != 1 or not isinstance(index[0], IndexArg) or len(shape) > 2:
            return None
        idx = node.inputs[1 + index[0].k]
        n = shape[0]
        if len(idx.shape) != 1 or not all(isinstance(d, int) for d in (n, *idx.shape)) \
                or n * idx.shape[0] > ONE_HOT_MAX or node.out.dtype.kind != "f":
            return None
        cast = dtype_name(node.out.dtype, self.xp)
        idx = f"{operand(arrays[index[0].k])} % {n}"  # (negative indices count from the end)
        return Printed(f"({self.xp}.arange({n})[:, None] == {idx}).astype({cast}) @ "
                       f"{operand(values)}", MATMUL)

    def _print_op_index_update(self, node, base, values, *arrays, index):
        where = format_index(index, arrays, node.out.shape)
        return Block(f"{{out}} = {operand(base)}.copy()", f"{{out}}[{where}] = {values}")

    def _print_op_add_at(self, node, base, values, *, index, inplace):
        where = format_index(index, (), node.out.shape)
        start = f"{{out}} = {base}" if inplace else f"{{out}} = {operand(base)}.copy()"
        return Block(start, f"{{out}}[{where}] += {values}")

    def _print_op_full(self, node, *, dtype, shape, value):
        shape, dt = dims.shape_text(tuple(shape)), self._dtype_arg(dtype)
        if value == 0 or value == 1:
            return f"{self.xp}.{'zeros' if value == 0 else 'ones'}({shape}{dt})"
        return f"{self.xp}.full({shape}, {self._item(value)}{dt})"

    def _print_op_arange(self, node, *, dtype, shape):
        dt = self._dtype_arg(dtype, default=np.int64)
        return f"{self.xp}.arange({dims.text(shape[0])}{dt})"

    def _print_op_dim(self, node, *, expr):
        d = dims.canon(expr)  # (n//2, not np.floor(n/2): a size is an int)
        atomic = isinstance(d, int) and d >= 0 or isinstance(d, sp.Basic) and d.is_Symbol
        return Printed(dims.text(d), ATOM if atomic else precedence(sp.sympify(d)))

    def _print_op_stop_gradient(self, node, x):
        return x  # codegen/function.py writes a comment line saying no derivative flows here


# Reductions and scans print alike: one printer per name, from a table (as SymPy's
# NumPyPrinter sets its `_print_<function>` methods).
#: The max/min of booleans (how np.any/np.all are traced) prints as NumPy's any/all.
_OF_BOOLEANS = {"max": "any", "min": "all"}


def _reduction_printer(name: str):
    def print_reduction(self, node, x, *, axes, keepdims):
        boolean = node.inputs[0].dtype.kind == "b"
        return self._reduction(_OF_BOOLEANS.get(name, name) if boolean else name, node, x,
                               axes, keepdims)

    return print_reduction


def _scan_printer(name: str):
    def print_scan(self, node, x, *, axis):
        return f"{self.xp}.{name}({x}, axis={axis})"

    return print_scan


for _name in ("sum", "max", "min", "prod"):
    setattr(NodePrinter, f"_print_op_{_name}", _reduction_printer(_name))
for _name in ("cumsum", "cumprod"):
    setattr(NodePrinter, f"_print_op_{_name}", _scan_printer(_name))
