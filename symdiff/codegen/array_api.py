"""The Array-API mode: a printer that writes only functions of the Array API standard
(2023.12) on a namespace `xp` the module takes from its arguments.

What the standard lacks is lowered into what it has: `einsum` into `tensordot` or a
broadcast product and `sum`, `pad` into `concat` with constant blocks, numbers in
`where`/`maximum`/`logaddexp` into 0-d arrays of the statement's dtype, `cumsum` into
`cumulative_sum`, array casts into `xp.astype`, fresh copies into `xp.asarray(...,
copy=True)`. An op with no such lowering raises `ArrayAPIError` naming the op and the
user's line: the NumPy module (without --xp) runs it.
"""

from __future__ import annotations

import re

import numpy as np
import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from ..errors import ArrayAPIError
from ..ir import dims
from ..ir.indexing import IndexArg, is_basic
from .index_text import format_index
from .literals import _unit_axes_inserted, dtype_name
from .node_printer import Block
from .precedence import MATMUL, Printed, operand
from .printer import SymdiffPrinter

__all__ = ["ARRAY_API", "XP", "ArrayApiPrinter", "STANDARD"]

#: The backend name of the Array-API mode, and the namespace's name in its modules.
ARRAY_API, XP = "array-api", "xp"

#: The functions and constants of the Array API standard 2023.12 (with its linalg
#: extension): all an Array-API module may call.
STANDARD = frozenset("""
abs acos acosh add all any arange argmax argmin argsort asarray asin asinh astype atan
atan2 atanh bitwise_and bitwise_invert bitwise_left_shift bitwise_or bitwise_right_shift
bitwise_xor bool broadcast_arrays broadcast_shapes broadcast_to can_cast ceil clip
complex128 complex64 concat conj copysign cos cosh cumulative_sum divide e empty
empty_like equal exp expand_dims expm1 eye finfo flip float32 float64 floor floor_divide
full full_like greater greater_equal hypot iinfo imag inf int16 int32 int64 int8 isdtype
isfinite isin isinf isnan less less_equal linspace log log10 log1p log2 logaddexp
logical_and logical_not logical_or logical_xor matmul matrix_transpose max maximum mean
meshgrid min minimum moveaxis multiply nan negative newaxis nonzero not_equal ones
ones_like permute_dims pi positive pow prod real remainder repeat reshape result_type
roll round searchsorted sign signbit sin sinh sort sqrt square squeeze stack std
subtract sum take tan tanh tensordot tile tril triu trunc uint16 uint32 uint64 uint8
unique_all unique_counts unique_inverse unique_values unstack var vecdot where zeros
zeros_like linalg.cholesky linalg.det linalg.eigh linalg.eigvalsh linalg.inv
linalg.matrix_norm linalg.qr linalg.slogdet linalg.solve linalg.svd linalg.svdvals
linalg.vector_norm linalg.diagonal linalg.outer linalg.trace
""".split())

#: NumPy's names of functions the standard spells otherwise.
RENAMED = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
           "arccosh": "acosh", "arctanh": "atanh", "arctan2": "atan2", "power": "pow",
           "absolute": "abs", "mod": "remainder", "concatenate": "concat",
           "bool_": "bool"}

#: Structured ops the printer writes in standard calls (the rest raise ArrayAPIError).
_OPS = frozenset("""const matmul reshape transpose broadcast_to einsum inv det slogdet solve
cholesky eigh svd qr concatenate roll pad index scatter_add index_update add_at full arange
dim stop_gradient sum max min prod cumsum argsort""".split())

_CALL = re.compile(r"(?<![\w.])xp\.((?:linalg\.)?\w+)")


class ArrayApiPrinter(SymdiffPrinter):
    """SymdiffPrinter writing Array API standard calls on `xp`; `loc` is the user's
    line of the statement being printed (for errors)."""

    array_methods = False  # (the standard's arrays have no reduction methods)
    weak_scalars = True  # Python numbers do not widen arrays: no casts of constants
    stacks_by_append = True  # loops append rows and stack them: immutable arrays (JAX)

    def __init__(self, names=None, xp: str = XP, settings=None):
        super().__init__(names, xp=xp, settings=settings)
        self.loc: str | None = None

    def refuse(self, what: str, loc: str | None = None):
        raise ArrayAPIError(
            f"{what} is outside the Array API standard (2023.12) and symdiff has no "
            "lowering of it; drop --xp (xp=True) for a NumPy module, which runs it",
            loc or self.loc)

    def standard_only(self, text: str, loc: str | None = None) -> str:
        """`text`, after checking that every `xp.` call in it is a standard one."""
        for name in _CALL.findall(text):
            if name not in STANDARD:
                self.refuse(f"{name} (printed as xp.{name})", loc)
        return text

    def doprint(self, expr, assign_to=None):
        return self.standard_only(super().doprint(expr, assign_to))

    # -- elementwise ------------------------------------------------------------------------
    def _module_format(self, fqn, register=True):
        head, _, name = fqn.rpartition(".")
        if head == "numpy" and name in RENAMED:
            fqn = f"numpy.{RENAMED[name]}"
        return super()._module_format(fqn, register)

    def _print(self, expr, **kwargs):
        """Constants (`log(2)`) as float literals and functions of sizes (`sqrt(n)`)
        through Python's math: the standard's functions take arrays only."""
        if isinstance(expr, sp.Expr) and not expr.is_Atom and expr.is_number:
            return repr(float(expr))
        if isinstance(expr, sp.Expr) and not expr.is_Atom and self._function_of_sizes(expr):
            xp, self.xp = self.xp, "math"
            try:
                return SymdiffPrinter._print(self, expr, **kwargs)
            finally:
                self.xp = xp
        return super()._print(expr, **kwargs)

    def _dtype(self) -> str:
        dtype = np.dtype(self.dtype if self.dtype is not None else np.float64)
        return dtype_name(dtype if dtype.kind == "f" else np.float64, self.xp)

    def _typed_number(self, value) -> str:
        """A number as a 0-d array of the statement's float dtype (the standard's
        functions take arrays only)."""
        text = repr(float(value)) if value.is_finite else super()._print(value)
        return f"{self.xp}.asarray({text}, dtype={self._dtype()})"

    def _print_Piecewise(self, expr):
        *branches, (last, _) = expr.args
        show = [(self._typed_number if v.is_Number else self._print) for v, _ in branches]
        text = (self._typed_number if last.is_Number else self._print)(last)
        for (value, cond), print_value in zip(reversed(branches), reversed(show)):
            text = f"{self.xp}.where({self._print(cond)}, {print_value(value)}, {text})"
        return text

    def _print_NumPyFunctionBase(self, expr):
        match = re.match(r"np\.(\w+)\(", expr.template)
        if match is None or expr.template.count("np.") != 1:
            self.refuse(f"{type(expr).__name__} (printed as {expr.template})")
        name = RENAMED.get(match.group(1), match.group(1))
        if name not in STANDARD:
            self.refuse(f"np.{match.group(1)}")
        args = [self._typed_number(a) if a.is_Number else self._print(a) for a in expr.args]
        return f"{self.xp}.{name}({', '.join(args)})"

    def _print_logaddexp(self, expr):  # (sympy.codegen.numpy_nodes, the stable rewrites')
        args = [self._typed_number(a) if a.is_Number else self._print(a) for a in expr.args]
        return f"{self.xp}.logaddexp({', '.join(args)})"

    # -- structured nodes -------------------------------------------------------------------
    def print_node(self, node, args):
        if node.op not in _OPS:
            self.refuse(f"the op {node.op!r}", node.loc)
        text = super().print_node(node, args)
        lines = text.lines if isinstance(text, Block) else (text,)
        for line in lines:
            self.standard_only(line, node.loc)
        return text

    def const_call(self, value):
        """Every constant is a call (standard constructors or `xp.asarray` of a list):
        a module in this mode has no namespace at import time for module constants."""
        if value.dtype == bool and value.ndim == 2:  # (np.tri is not standard)
            return self.literal(value)
        text = super().const_call(value)
        if text is not None and ".reshape(" not in text:
            return text
        return self.literal(value)

    def literal(self, value: np.ndarray) -> str:
        return f"{self.xp}.asarray({value.tolist()!r}, dtype={dtype_name(value.dtype, self.xp)})"

    def _print_op_const(self, node):
        value = node.value
        if value.ndim == 0:
            return f"{self.xp}.asarray({self._item(value.item())}, " \
                   f"dtype={dtype_name(value.dtype, self.xp)})"
        return self.const_call(value)

    def _print_op_transpose(self, node, x, *, axes):
        if len(axes) == 2 and axes == (1, 0):
            return f"{operand(x)}.T"
        return f"{self.xp}.permute_dims({x}, {axes})"

    def _print_op_reshape(self, node, x, *, shape):
        inserted = _unit_axes_inserted(node.inputs[0].shape, tuple(shape))
        if inserted is not None and node.inputs[0].shape:
            return f"{operand(x)}[{', '.join(inserted)}]"  # (every axis named)
        return f"{self.xp}.reshape({x}, {dims.shape_text(tuple(shape))})"

    def _print_op_concatenate(self, node, *xs, axis):
        where = f", axis={axis}" if axis else ""
        return f"{self.xp}.concat([{', '.join(xs)}]{where})"

    def _print_op_cumsum(self, node, x, *, axis):
        return f"{self.xp}.cumulative_sum({x}, axis={axis})"

    def _print_op_argsort(self, node, x, *, axis, kth):
        if kth is not None:
            self.refuse("np.argpartition", node.loc)
        return f"{self.xp}.argsort({x}, axis={axis}, stable=True)"

    def _print_op_einsum(self, node, *ops, subscripts):
        from .array_api_lowering import einsum

        return einsum(self, node, ops, subscripts)

    def _print_op_pad(self, node, x, *, widths, value):
        from .array_api_lowering import pad

        return pad(self, x, node.inputs[0].shape, node.out.dtype, widths, value)

    # -- indexing ---------------------------------------------------------------------------
    def _where(self, index, arrays, shape) -> str:
        """An index closed by `...` on arrays of two or more axes: the standard leaves
        an index naming fewer axes than the array has undefined."""
        text = format_index(index, arrays, shape)
        if len(shape) < 2:
            return text
        return "..." if text == "()" else f"{text}, ..."

    def row(self, text: str, t: str, ndim: int) -> str:
        return f"{operand(text)}[{t}, ...]" if ndim > 1 else f"{operand(text)}[{t}]"

    def _dtype_arg(self, dtype, default=None) -> str:
        return f", dtype={dtype_name(dtype, self.xp)}"  # (a library's default may differ)

    def _print_op_index(self, node, x, *arrays, index):
        if is_basic(index):
            return f"{operand(x)}[{self._where(index, arrays, node.inputs[0].shape)}]"
        shape = node.inputs[0].shape
        at = [i for i, e in enumerate(index) if isinstance(e, IndexArg)]
        rest = [e for i, e in enumerate(index) if i != at[0]]
        whole = all(isinstance(e, slice) and (e.start, e.stop, e.step) == (0, n, 1)
                    for e, n in zip(rest, shape[:at[0]] + shape[at[0] + 1:]))
        if len(at) == 1 and None not in index and whole and \
                node.inputs[1 + index[at[0]].k].ndim == 1:
            return f"{self.xp}.take({x}, {arrays[index[at[0]].k]}, axis={at[0]})"
        self.refuse("indexing with index arrays other than one 1-d array on one axis "
                    "(xp.take)", node.loc)

    def _zeros(self, node, values, shape):
        return f"{self.xp}.zeros({dims.shape_text(tuple(shape))}, " \
               f"dtype={dtype_name(node.out.dtype, self.xp)})"

    def _print_op_scatter_add(self, node, values, *arrays, index, shape):
        from .array_api_lowering import scattered

        text = scattered(self, values, index, shape, node.out.dtype)
        if text is not None:  # x[1:] read: its adjoint is the values with zeros around
            return text
        if is_basic(index):
            where = self._where(index, arrays, shape)
            return Block(f"{{out}} = {self._zeros(node, values, shape)}",
                         f"{{out}}[{where}] = {values}")
        if len(index) == 1 and len(shape) <= 2 and node.inputs[1 + index[0].k].ndim == 1:
            n, idx = dims.text(shape[0]), operand(arrays[index[0].k])
            cast = dtype_name(node.out.dtype, self.xp)
            return Printed(f"{self.xp}.astype({self.xp}.arange({n})[:, None] == {idx} % {n}, "
                           f"{cast}) @ {operand(values)}", MATMUL)
        self.refuse("a scatter-add of repeated indices (np.add.at)", node.loc)

    def _print_op_index_update(self, node, base, values, *arrays, index):
        if not is_basic(index):
            self.refuse("an update through index arrays", node.loc)
        where = self._where(index, arrays, node.out.shape)
        return Block(f"{{out}} = {self.xp}.asarray({base}, copy=True)",
                     f"{{out}}[{where}] = {values}")

    def _print_op_add_at(self, node, base, values, *, index, inplace):
        from .array_api_lowering import scattered

        text = scattered(self, values, index, node.out.shape, node.out.dtype)
        if text is not None:  # base + the values with zeros around: no write in place
            return Printed(f"{operand(base)} + {operand(text)}", PRECEDENCE["Add"])
        where = self._where(index, (), node.out.shape)
        start = f"{{out}} = {base}" if inplace else \
            f"{{out}} = {self.xp}.asarray({base}, copy=True)"
        return Block(start, f"{{out}}[{where}] = {{out}}[{where}] + {values}")

    # -- what codegen/function.py asks of a printer -----------------------------------------
    def cast(self, text: str, dtype) -> str:
        return f"{self.xp}.astype({text}, {dtype_name(dtype, self.xp)})"

    def scalar(self, text: str, dtype) -> str:
        return f"{self.xp}.asarray({text}, dtype={dtype_name(dtype, self.xp)})"

    def fresh(self, text: str, dtype=None) -> str:
        dt = "" if dtype is None else f", dtype={dtype_name(dtype, self.xp)}"
        return f"{self.xp}.asarray({text}{dt}, copy=True)"
