"""The NumPy printer: SymPy's NumPyPrinter, made strict and readable.

Elementwise expressions print through SymPy's printer machinery with a few
readability fixes (`x/3` rather than `(1/3)*x`, `1/x` rather than `x**(-1.0)`,
`np.where` for two-way choices, floats at full precision). Structured nodes print
through one `_print_op_<name>` method each.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np
import sympy as sp
from sympy.core.mul import _keep_coeff
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from ..errors import EmitError
from ..ir import dims
from ..ir.dims import Dim
from ..ir.graph import Node
from ..ir.indexing import IndexArg, is_basic
from .horner import horner_form
from .index_text import format_index
from .literals import (
    _CONST_PATTERNS,
    _float_literal,
    _format_entries,
    _unit_axes_inserted,
    array_literal,
    dtype_name,
)

__all__ = ["SymdiffPrinter", "Block", "dtype_name", "array_literal"]

_ATOM = PRECEDENCE["Atom"]


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


class SymdiffPrinter(NumPyPrinter):
    """Prints SymPy expressions and structured nodes as NumPy code.

    `names` maps symbols to identifiers; `xp` is the array namespace's name.
    """

    _default_settings = dict(NumPyPrinter._default_settings, strict=True,
                             fully_qualified_modules=True)

    def __init__(self, names: dict[sp.Symbol, str] | None = None, xp: str = "np", settings=None):
        super().__init__(settings or {})
        self.names = names or {}
        self.xp = xp
        self.like: tuple | None = None  # (name, dtype) of an array argument to make buffers like
        self.dtype = None  # of the statement being printed, when known
        self.compound: set[sp.Symbol] = set()  # symbols named by an inlined `a @ b`
        self.sizes: set = set()  # symbols of sizes (`dim` nodes): scalars, printed first
        self.large = False  # whether that statement's array is big enough for NumPy to
        # compute `temporary + b` in place (`numbers_last` in `_print_Add`)

    weak_scalars = False  # whether constants of sizes need no cast to a narrow float
    stacks_by_append = False  # loops stack rows into lists (not writes into np.empty)

    # -- casts and copies of whole values (codegen/function.py) ------------------------
    def cast(self, text: str, dtype) -> str:
        """An array as `dtype` (.astype keeps the array type: np.asarray pulls Dask's)."""
        return f"{_operand(text)}.astype({dtype_name(dtype)})"

    def scalar(self, text: str, dtype) -> str:
        """A 0-d value as a scalar of `dtype`."""
        return f"{dtype_name(dtype)}({text})"

    def fresh(self, text: str, dtype=None) -> str:
        """A fresh, writable copy (of `dtype` when given)."""
        dt = "" if dtype is None else f", dtype={dtype_name(dtype)}"
        return f"{self.xp}.array({text}{dt})"

    def row(self, text: str, t: str, ndim: int) -> str:
        """Row `t` of an array of `ndim` axes (a loop's step of a stacked value)."""
        return f"{_operand(text)}[{t}]"

    # -- modules: `np.exp`, never `numpy.exp` ----------------------------------------
    def _module_format(self, fqn, register=True):
        if fqn.startswith("numpy."):
            fqn = self.xp + fqn[len("numpy"):]
        return super()._module_format(fqn, register=False)

    def _print(self, expr, **kwargs):
        """A constant such as `log(2)` prints as a call that returns a float64 NumPy
        scalar, strong under NEP 50, which would widen float32 code: in a statement
        of a narrower float it is converted to that dtype. So is a function of sizes
        (`np.sqrt(n)` of the int n is a float64 scalar too)."""
        dtype = self.dtype
        if dtype is None or np.dtype(dtype).kind != "f" or np.dtype(dtype) == np.float64 \
                or not isinstance(expr, sp.Expr) or expr.is_Atom or \
                not (expr.is_number or self._function_of_sizes(expr)):
            return super()._print(expr, **kwargs)
        self.dtype = None  # (the parts of the constant print as they are)
        try:
            return f"{dtype_name(dtype, self.xp)}({super()._print(expr, **kwargs)})"
        finally:
            self.dtype = dtype

    def _function_of_sizes(self, expr) -> bool:
        """Whether `expr` reads sizes only and calls a function on them (`1/np.sqrt(n)`,
        `np.log(n)`); `1/n` or `n - 1` are Python numbers, which NEP 50 keeps weak."""
        symbols = expr.free_symbols
        if not symbols or not symbols <= self.sizes:
            return False
        return bool(expr.atoms(sp.Function)) or any(
            not p.exp.is_Integer for p in expr.atoms(sp.Pow))

    # -- atoms --------------------------------------------------------------------------
    def _print_Symbol(self, expr):
        if isinstance(expr, Dim):  # a size, bound by _check_inputs under its own name
            return expr.name
        try:
            return self.names[expr]
        except KeyError:
            raise EmitError(f"internal: symbol {expr} has no name in the generated code") from None

    _print_Dummy = _print_Symbol  # (the values of loop bodies)

    def parenthesize(self, item, level, strict=False):
        if item in self.compound:  # `(a @ b)*y`; a call's argument needs no parentheses
            return f"({self._print(item)})"
        if self._repeated(item):  # 1/(x*x*x), not 1/x*x*x (a -3*x**3/y Mul asks at Add level)
            return f"({self._print(item)})"
        return super().parenthesize(item, level, strict)

    def _repeated(self, expr) -> str | None:
        """The name `x` when `expr` is x**3 or x**4 of a named value: printed as x*x*x,
        two or three multiplications, where NumPy's float power costs about eight
        times as much on arrays (and CPython's about twice on floats)."""
        if expr.is_Pow and expr.exp.is_Integer and int(expr.exp) in (3, 4) and \
                expr.base.is_Symbol:
            name = self._print(expr.base)
            return name if name.isidentifier() else None
        return None

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        return f"{expr.p}/{expr.q}"

    def _print_Infinity(self, expr):
        return f"{self.xp}.inf"

    def _print_NegativeInfinity(self, expr):
        return f"-{self.xp}.inf"

    def _print_NaN(self, expr):
        return f"{self.xp}.nan"

    def _print_ComplexInfinity(self, expr):
        """SymPy's `zoo`, c/0 for a nonzero c whose sign it no longer tracks. It reaches
        a module only as a branch of a derivative where a masked zero is divided by
        (the second derivative of 1/np.triu(x) where triu writes 0): NumPy's chain rule
        gives inf*0 there, nan, and the sign of the infinity is unknown, so nan."""
        return f"{self.xp}.nan"

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"

    # -- arithmetic -----------------------------------------------------------------------
    def _print_Mul(self, expr):
        scalar, arrays = self._sizes_first(expr)
        if scalar is not None:  # `8/n*x`: Python folds 8/n first, x is touched once
            text = self._print(scalar)  # (a product or quotient reads left to right)
            text = f"({text})" if scalar.is_Add else text
            return f"{text}*{self.parenthesize(arrays, PRECEDENCE['Mul'])}"
        coeff, rest = expr.as_coeff_Mul()
        if coeff.is_negative and coeff.is_Rational and coeff.q != 1:
            return "-" + self._print_Mul(_keep_coeff(-coeff, rest))
        if coeff.is_Rational and coeff.q != 1 and rest is not sp.S.One:
            # `8/3*x`: Python folds the scalar first, so arrays are touched once
            if rest.is_Pow and rest.exp.is_Rational and rest.exp < 0:  # 1/(3*y), not 1/3*1/y
                denominator = sp.Mul(coeff.q, sp.Pow(rest.base, -rest.exp), evaluate=False)
                return f"{coeff.p}/({self._print(denominator)})"
            text = self.parenthesize(rest, PRECEDENCE["Mul"], strict=True)
            return f"{coeff.p}/{coeff.q}*{text}"
        if any(self._repeated(f) for f in expr.args) and \
                not any(f.is_Pow and f.exp.is_negative for f in expr.args):
            return self._print_product(expr)
        return super()._print_Mul(expr)

    def _print_product(self, expr) -> str:
        """A product without a denominator, its powers x**3 and x**4 written out:
        ``8*x*x*x``."""
        coeff, _ = expr.as_coeff_Mul()
        sign = "-" if coeff.is_negative else ""
        parts = []
        for f in (-expr if sign else expr).as_ordered_factors():
            name = self._repeated(f)
            parts.append("*".join([name] * int(f.exp)) if name else
                         self.parenthesize(f, PRECEDENCE["Mul"], strict=False))
        return sign + "*".join(parts)

    def _sizes_first(self, expr):
        """(numbers and sizes, the rest) of a product of both, else (None, None)."""
        if not self.sizes:
            return None, None
        scalar, arrays = [], []
        for factor in expr.args:
            is_scalar = factor.free_symbols <= self.sizes
            (scalar if is_scalar else arrays).append(factor)
        if not arrays or not any(f.free_symbols for f in scalar):
            return None, None
        return sp.Mul(*scalar), sp.Mul(*arrays)

    def _print_Add(self, expr, order=None):
        nested = horner_form(expr, self.sizes)
        return self._print(nested) if nested is not None else super()._print_Add(expr, order)

    def _as_ordered_terms(self, expr, order=None):  # the order _print_Add prints
        order = order or self.order
        terms = super()._as_ordered_terms(expr, order=order) if order in ("old", "none") \
            else list(_ordered_terms(expr, order))
        return numbers_last(terms) if self.large else terms

    def _handle_UnevaluatedExpr(self, expr):  # (SymPy rebuilds every expression to find re)
        return super()._handle_UnevaluatedExpr(expr) if expr.has(sp.re) else expr

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.base, expr.exp
        prec = precedence(expr)
        if exp is sp.S.Half:
            return f"{self.xp}.sqrt({self._print(base)})"
        if exp == -sp.S.Half:
            return f"1/{self.xp}.sqrt({self._print(base)})"
        if exp.is_Integer and exp < 0:
            inverse = base if exp == -1 else sp.Pow(base, -exp, evaluate=False)
            return f"1/{self.parenthesize(inverse, prec, strict=True)}"
        name = self._repeated(expr)
        if name:
            return "*".join([name] * int(exp))
        if base is sp.E:
            return f"{self.xp}.exp({self._print(exp)})"
        # ** groups to the right: a base that is itself a power needs parentheses
        return f"{self.parenthesize(base, prec, strict=False)}**{self.parenthesize(exp, prec, strict=True)}"

    def _print_Relational(self, expr):
        op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[expr.rel_op]
        prec = PRECEDENCE["Relational"]
        return (f"{self.parenthesize(expr.lhs, prec, strict=True)} {op} "
                f"{self.parenthesize(expr.rhs, prec, strict=True)}")

    def _print_Piecewise(self, expr):
        *branches, (last, last_cond) = expr.args
        if last_cond is not sp.true:
            raise EmitError(f"internal: Piecewise without a default branch: {expr}")
        values = [v for v, _ in branches] + [last]
        if all(v.is_Number for v in values):  # np.where(c, 1, 0) would be an int array
            show = self._typed_number
        else:
            show = self._print
        text = show(last)
        for value, cond in reversed(branches):
            text = f"{self.xp}.where({self._print(cond)}, {show(value)}, {text})"
        return text

    def _typed_number(self, value) -> str:
        """A number as a literal of the statement's float dtype (`1.0`, `np.float32(1.0)`)."""
        dtype = np.dtype(self.dtype if self.dtype is not None else np.float64)
        if dtype.kind != "f":
            return self._print(value)
        literal = repr(float(value))
        if not np.isfinite(float(value)):  # nan, inf: names, not literals
            literal = self._print(value)
        return literal if dtype == np.float64 else f"{dtype_name(dtype, self.xp)}({literal})"

    def _print_IsNan(self, expr):
        return f"{self.xp}.isnan({self._print(expr.args[0])})"

    def _print_And(self, expr):
        return " & ".join(self.parenthesize(a, _ATOM, strict=True) for a in expr.args)

    def _print_Or(self, expr):
        return " | ".join(self.parenthesize(a, _ATOM, strict=True) for a in expr.args)

    def _print_Not(self, expr):
        return "~" + self.parenthesize(expr.args[0], _ATOM, strict=True)

    # -- functions with NumPy semantics (symdiff.functions, register_primitive) ------------
    def _print_NumPyFunctionBase(self, expr):  # (the "Base" suffix lets SymPy dispatch here)
        args = [self._print(a) for a in expr.args]

        def argument(m):  # parenthesized unless it is a whole argument of a call
            text = args[int(m.group(1))]
            before = expr.template[:m.start()].rstrip()[-1:]
            after = expr.template[m.end():].lstrip()[:1]
            whole = before in ("(", ",") and after in (")", ",")
            return text if whole else self.parenthesize(expr.args[int(m.group(1))], _ATOM, True)

        text = re.sub(r"\{(\d+)\}", argument, expr.template)
        if self.xp != "np":
            text = re.sub(r"\bnp\.", f"{self.xp}.", text)
        return text if _balanced_call(text) else f"({text})"

    def _print_np_clip(self, expr):
        x, lo, hi = (None if a.is_infinite else self._print(a) for a in expr.args)
        return f"{self.xp}.clip({x}, {lo}, {hi})"

    def emptyPrinter(self, expr):
        raise EmitError(f"symdiff cannot print {type(expr).__name__} ({expr}) as NumPy code")

    # -- structured nodes -----------------------------------------------------------------
    def print_node(self, node: Node, args: Sequence[str]) -> str:
        """The right-hand side for a structured node, given its printed arguments."""
        method = getattr(self, f"_print_op_{node.op}", None)
        if method is None:
            raise EmitError(f"no printer for the primitive {node.op!r}; register one with "
                            "symdiff.register_primitive")
        return method(node, *args, **node.p)

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

    def _reduction(self, fn, node, x, axes, keepdims):
        axis = "" if len(axes) == node.inputs[0].ndim else \
            f", axis={axes[0] if len(axes) == 1 else axes}"
        keep = ", keepdims=True" if keepdims else ""
        return f"{self.xp}.{fn}({x}{axis}{keep})"

    def _print_op_matmul(self, node, a, b):
        return f"{_operand(a)} @ {_operand(b)}"

    def _print_op_reshape(self, node, x, *, shape):
        inserted = _unit_axes_inserted(node.inputs[0].shape, tuple(shape))
        if inserted is not None and node.inputs[0].shape:  # x[:, None]; 0-d may be a float
            return f"{_operand(x)}[{_format_entries(inserted)}]"
        return f"{self.xp}.reshape({x}, {dims.shape_text(tuple(shape))})"

    def _print_op_transpose(self, node, x, *, axes):
        if axes == tuple(reversed(range(len(axes)))):
            return f"{_operand(x)}.T"
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
        return f"{_operand(x)}[{format_index(index, arrays, node.inputs[0].shape)}]"

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
        idx = f"{_operand(arrays[index[0].k])} % {n}"  # (negative indices count from the end)
        return f"({self.xp}.arange({n})[:, None] == {idx}).astype({cast}) @ {_operand(values)}"

    def _print_op_index_update(self, node, base, values, *arrays, index):
        where = format_index(index, arrays, node.out.shape)
        return Block(f"{{out}} = {_operand(base)}.copy()", f"{{out}}[{where}] = {values}")

    def _print_op_add_at(self, node, base, values, *, index, inplace):
        where = format_index(index, (), node.out.shape)
        start = f"{{out}} = {base}" if inplace else f"{{out}} = {_operand(base)}.copy()"
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
        return dims.text(expr)  # (n//2, not np.floor(n/2): a size is an int)

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
    setattr(SymdiffPrinter, f"_print_op_{_name}", _reduction_printer(_name))
for _name in ("cumsum", "cumprod"):
    setattr(SymdiffPrinter, f"_print_op_{_name}", _scan_printer(_name))


def numbers_last(terms: list) -> list:
    """`-400*t + 2` rather than `2 - 400*t` for large arrays: NumPy reuses the temporary
    `-400*t` for the sum (it computes `temporary + 2` in place), but `2 - temporary`
    needs a new array, and allocating large arrays costs as much as a pass over them.
    Only when that term has a number factor of its own, so no negation is added."""
    if len(terms) < 2 or not terms[0].is_Number:
        return terms
    coeff, _ = terms[1].as_coeff_Mul()
    if coeff in (1, -1):
        return terms
    return [*terms[1:], terms[0]]


def _operand(text: str) -> str:
    """Parenthesize a printed argument unless it is a name, a call or a row `x[t]`."""
    if text.isidentifier() or (text.endswith(")") and _balanced_call(text)):
        return text
    if re.fullmatch(r"[A-Za-z_]\w*\[[A-Za-z_]\w*\]", text):  # a loop's row of an array
        return text
    if text.endswith(".T") and _operand(text[:-2]) == text[:-2]:  # X.T, f(x).T; not a @ b.T
        return text
    return f"({text})"


def _balanced_call(text: str) -> bool:
    """True for `f(...)` whose outer parentheses enclose the whole tail."""
    head = text.split("(", 1)[0]
    if not head.replace(".", "").replace("_", "").isalnum():
        return False
    depth = 0
    for i, ch in enumerate(text[len(head):]):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(text) - len(head) - 1:
            return False
    return True


@functools.lru_cache(maxsize=4096)
def _ordered_terms(expr: sp.Add, order) -> tuple:
    """`expr.as_ordered_terms(order)`, once per sum: SymPy evaluates every coefficient
    to sort, and the functions of a module print the same sums."""
    return tuple(expr.as_ordered_terms(order=order))
