"""Tracer values and the small op layer that builds graph nodes from them.

A `Tracer` stands for an array of known shape and dtype while the user's function
runs. Python operators and NumPy's `__array_ufunc__` / `__array_function__`
protocols route every operation here; each appends one node to the graph. Sugar
lowers to few primitives: `a - b` is an elementwise SymPy expression, `mean` is a
`sum` times `1/n`. Derivative rules are written with the same functions, so a
gradient graph is a graph of the same kind.
"""

from __future__ import annotations

import operator
import sys
import weakref
from collections.abc import Callable

import numpy as np
import sympy as sp

from ..errors import ShapeError, TraceError, UnsupportedOpError, user_location
from ..ir import dims
from ..ir import elementwise as F
from ..ir.elementwise import number
from ..ir.graph import CONST, ELEMENTWISE, Graph, Node, Var
from ..ir.primitives import PRIMITIVES
from .construct import build
from .dtypes import _printed_dtype, _result_dtype, _value_symbols, _weak, promote
from .hook import without_loop_hook
from .refusals import Refusals
from .registry import (
    FUNCTIONS,
    STAND_INS,
    UFUNC_METHODS,
    UFUNCS,
    _internal_file,
    _no_kwargs,
    _public_name,
    _ufunc_name,
    _unsupported,
)
from .sizes import size_value

__all__ = [
    "Tracer",
    "elementwise",
    "bind",
    "const",
    "cast",
    "matmul",
    "transpose",
    "broadcast_to",
    "UFUNCS",
    "FUNCTIONS",
]


def _as_seen(shape):
    """A shape (or size) as its reader sees it: symdiff's own code works with SymPy
    dimensions, the user's code gets `dims.Size` objects, which refuse comparisons
    that depend on the sizes."""
    if not dims.is_symbolic(shape) or _internal_file(sys._getframe(2).f_code.co_filename):
        return shape
    if isinstance(shape, tuple):
        return tuple(dims.user_size(d) for d in shape)
    return dims.user_size(shape)


class Tracer(Refusals):
    """An array under tracing: a `Var` of a `Graph` (what it refuses, `Refusals`, is its
    base class; its ndarray methods are installed by `array_methods`)."""

    __slots__ = ("graph", "_var", "_view", "_views", "_stale", "__weakref__")
    __array_priority__ = 1000.0
    __hash__ = object.__hash__

    def __init__(self, graph: Graph, var: Var):
        self.graph = graph
        self._view = None  # (root tracer, its flat positions) when a NumPy view of root
        self._views = None  # weak references to the views taken of this tracer
        self._stale = None  # why this value may no longer be read (see _note_write)
        self._var = var

    @property
    def graph_var(self) -> Var:
        """The value in the graph this tracer stands for (`x.var()` is NumPy's variance)."""
        if self._stale is not None:
            raise TraceError(self._stale, user_location())
        return self._var

    @graph_var.setter
    def graph_var(self, var: Var) -> None:
        self._var = var

    # -- array attributes -----------------------------------------------------------
    shape = property(lambda self: _as_seen(self._var.shape))
    dtype = property(lambda self: self._var.dtype)
    ndim = property(lambda self: len(self._var.shape))
    size = property(lambda self: _as_seen(self._var.size))
    T = property(lambda self: _viewed(self, transpose(self), np.transpose))
    mT = property(lambda self: _viewed(self, matrix_transpose(self),
                                       lambda p: np.swapaxes(p, -1, -2)))

    def __repr__(self) -> str:
        return f"Tracer<{self._var.type_str()}>"

    def __len__(self) -> int:
        if not self.shape:
            raise TraceError("len() of a 0-d traced array", user_location())
        return dims.concrete(self.shape[0], "takes len() of an array of that length")

    # -- NumPy protocols ------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" and (ufunc, method) in UFUNC_METHODS:  # np.add.reduce(x)
            return _new_array(UFUNC_METHODS[ufunc, method](*inputs, **kwargs))
        impl = UFUNCS.get(ufunc)
        if method != "__call__" or impl is None:
            name = _ufunc_name(ufunc) + ("" if method == "__call__" else f".{method}")
            raise _unsupported(name, "elementwise" if method == "__call__" else "method")
        out = kwargs.pop("out", None)
        if out is not None:
            if not any(isinstance(o, Tracer) for o in out):  # y = np.zeros(n); y[i] += x
                raise TraceError(
                    f"np.{ufunc.__name__} writes a traced value in place into a NumPy array "
                    "(y[...] += ... on y = np.zeros(...)); make y a traced array, "
                    "y = np.zeros_like(x, shape=...), whose writes symdiff follows",
                    user_location())
            raise TraceError(f"np.{ufunc.__name__}(..., out=...) writes in place; "
                             "assign the result to a new variable instead", user_location())
        _no_kwargs(f"np.{ufunc.__name__}", kwargs, allowed=("dtype",))
        result = impl(*inputs)
        dtype = kwargs.get("dtype")
        return _new_array(astype(result, dtype) if dtype is not None else result)

    def __array_function__(self, func, types, args, kwargs):
        impl = FUNCTIONS.get(func)
        if impl is None:
            raise _unsupported(f"np.{_public_name(func)}", "structured")
        result = impl(*args, **kwargs)
        if func not in VIEW_FUNCTIONS:
            return _new_array(result)
        return _viewed(args[0], result, lambda p: func(p, *args[1:], **kwargs))

    # -- operators ------------------------------------------------------------------
    def __add__(self, o): return elementwise(sp.Add, self, o)
    def __radd__(self, o): return elementwise(sp.Add, o, self)
    def __sub__(self, o): return elementwise(operator.sub, self, o)
    def __rsub__(self, o): return elementwise(operator.sub, o, self)
    def __mul__(self, o): return elementwise(sp.Mul, self, o)
    def __rmul__(self, o): return elementwise(sp.Mul, o, self)
    def __truediv__(self, o): return elementwise(operator.truediv, self, o, kind="float")
    def __rtruediv__(self, o): return elementwise(operator.truediv, o, self, kind="float")
    def __pow__(self, o): return power(self, o)
    def __rpow__(self, o): return power(o, self)
    def __neg__(self): return elementwise(lambda a: -a, self)
    def __pos__(self): return _new_array(self)
    def __matmul__(self, o): return matmul(self, o)
    def __rmatmul__(self, o): return matmul(o, self)
    def __lt__(self, o): return elementwise(sp.StrictLessThan, self, o, kind="bool")
    def __le__(self, o): return elementwise(sp.LessThan, self, o, kind="bool")
    def __gt__(self, o): return elementwise(sp.StrictGreaterThan, self, o, kind="bool")
    def __ge__(self, o): return elementwise(sp.GreaterThan, self, o, kind="bool")
    def __eq__(self, o): return elementwise(sp.Eq, self, o, kind="bool")
    def __ne__(self, o): return elementwise(sp.Ne, self, o, kind="bool")
    def __abs__(self): return UFUNCS[np.absolute](self)
    def __floordiv__(self, o): return UFUNCS[np.floor_divide](self, o)
    def __rfloordiv__(self, o): return UFUNCS[np.floor_divide](o, self)
    def __mod__(self, o): return UFUNCS[np.remainder](self, o)
    def __rmod__(self, o): return UFUNCS[np.remainder](o, self)
    def __and__(self, o): return _logical(sp.And, "&", self, o)
    def __rand__(self, o): return _logical(sp.And, "&", o, self)
    def __or__(self, o): return _logical(sp.Or, "|", self, o)
    def __ror__(self, o): return _logical(sp.Or, "|", o, self)
    def __xor__(self, o): return _logical(sp.Xor, "^", self, o)
    def __rxor__(self, o): return _logical(sp.Xor, "^", o, self)
    def __invert__(self): return _logical(sp.Not, "~", self)

    def __iadd__(self, o): return self + o  # rebinding, never in place
    def __isub__(self, o): return self - o
    def __imul__(self, o): return self * o
    def __itruediv__(self, o): return self / o
    def __ipow__(self, o): return self ** o



#: NumPy functions whose result is a view of their argument. Item assignment rebinds
#: the tracer assigned into (`Tracer.__setitem__`), so when one of these is a no-op and
#: returns its argument, the two names share one tracer and see each other's writes, as
#: a NumPy view and its base do. Every other function returns a new array, and so a new
#: tracer (`_new_array`): `y = x.copy(); y[0] = 0` must leave `x` alone.
VIEW_FUNCTIONS = {np.reshape, np.ravel, np.transpose, np.swapaxes, np.moveaxis,
                  np.expand_dims, np.squeeze, np.atleast_1d, np.atleast_2d, np.atleast_3d,
                  np.broadcast_to, np.real, np.diagonal, np.flip, np.fliplr, np.flipud,
                  np.split, np.array_split}


def _new_array(result):
    """`result` as a tracer object of its own (a new array, never an alias of an operand)."""
    return Tracer(result.graph, result.graph_var) if isinstance(result, Tracer) else result


#: Views of arrays with symbolic or more than this many elements do not track which
#: elements they show (that would take an array of positions as large as the data).
MAX_TRACKED_ELEMENTS = 1 << 20
_UNTRACKED = "untracked"


def _untracked(root: Tracer) -> bool:
    size = root.size
    return not isinstance(size, int) or size > MAX_TRACKED_ELEMENTS


def _viewed(base, result, positions):
    """Record that `result` is a NumPy view of `base`: which elements of their root
    (the array that is no one's view) it shows, `positions(p)` applied to base's."""
    if not isinstance(result, Tracer) or not isinstance(base, Tracer) or result is base:
        return result
    root, pos = base._view or (base, None)
    if pos is None and _untracked(root):
        pos = _UNTRACKED  # (positions unknown: every write makes every view stale)
    elif pos is None:
        pos = np.arange(root.size).reshape(root.shape)
    result._view = (root, pos if pos is _UNTRACKED else np.asarray(positions(pos)))
    root._views = (root._views or []) + [weakref.ref(result)]
    return result


# -- helpers for building ---------------------------------------------------------------
def _swap_last(ndim: int) -> tuple[int, ...]:
    if ndim < 2:
        raise TraceError(".mT needs at least 2 dimensions", user_location())
    return tuple(range(ndim - 2)) + (ndim - 1, ndim - 2)


def _stand_in(a):
    resolve = STAND_INS.get(type(a))
    return a if resolve is None else resolve(a)


def _graph_of(args) -> Graph:
    graph = None
    for a in args:
        a = _stand_in(a)
        if isinstance(a, Tracer):
            if graph is None:
                graph = a.graph
            elif a.graph is not graph:
                raise TraceError("values from two different traces were mixed (a traced "
                                 "value leaked out of its function?)", user_location())
    if graph is None:
        raise TraceError("internal: no traced operand", user_location())
    return graph


def const(graph: Graph, value) -> Tracer:
    """A NumPy array baked into the program as a `const` node."""
    arr = np.array(value)
    if arr.dtype.kind not in "biuf":
        raise TraceError(f"constant of dtype {arr.dtype} cannot be used in traced "
                         "arithmetic; use a float array", user_location())
    var = graph.new_var(arr.shape, arr.dtype)
    arr.setflags(write=False)
    graph.add(Node(var, CONST, value=arr, loc=user_location()))
    return Tracer(graph, var)


def _atom(graph: Graph, a):
    """(SymPy atom, shape, dtype or weak Python scalar, whether it becomes a literal)
    for one elementwise operand. NumPy scalars and 0-d arrays are strong (NEP 50)."""
    a = _stand_in(a)
    if isinstance(a, Tracer):
        return a.graph_var.symbol, a.shape, a.dtype, False
    if isinstance(a, (bool, int, float)) and not isinstance(a, np.generic):
        return number(a), (), a, True
    if isinstance(a, np.generic) or (isinstance(a, np.ndarray) and a.ndim == 0):
        a = np.asarray(a)
        if a.dtype.kind not in "biuf":
            raise TraceError(f"scalar of dtype {a.dtype} in traced arithmetic", user_location())
        return number(a.item()), (), a.dtype, True
    if isinstance(a, (np.ndarray, list, tuple)):
        t = const(graph, a)
        return t.graph_var.symbol, t.shape, t.dtype, False
    if isinstance(a, (sp.Basic, dims.Size)) and dims.is_symbolic(a):  # x / X.shape[0]
        return size_value(graph, a), (), 0, True
    raise TraceError(f"cannot use a value of type {type(a).__name__} in traced arithmetic; "
                     "use floats or NumPy arrays", user_location())


#: nan and +-inf constants become `const` nodes, not SymPy numbers: SymPy folds
#: x*nan to nan and x + inf to oo, whose derivatives are then a silent 0, where NumPy's
#: would be nan (and x*inf's inf).
_NONFINITE = (sp.nan, sp.oo, -sp.oo)


@without_loop_hook
def elementwise(fn: Callable[..., sp.Expr], *args, kind: str = "arith",
                conditions: int = 0) -> Tracer:
    """Apply a SymPy function elementwise; `kind` is arith, float (true division,
    transcendental) or bool (comparisons, logic). The first `conditions` operands
    are boolean conditions (of np.where): they take no part in dtype promotion.

    The operation runs in the dtype NumPy would use. A NumPy scalar operand becomes
    a literal in the generated code, where NumPy would read it as a weak Python
    number; when it is what widens the result (a float32 array times
    np.float64(0.1) is float64), the arrays are cast to that dtype first."""
    graph = _graph_of(args)
    atoms, shapes, dtypes, literal = (list(c) for c in zip(*(_atom(graph, a) for a in args)))
    try:
        shape = dims.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError("operands could not be broadcast together with shapes "
                         + " ".join(map(str, shapes)), user_location()) from None
    values = range(conditions, len(args))
    common = promote(*(dtypes[i] for i in values))
    printed = promote(*(_weak(dtypes[i]) if literal[i] and isinstance(dtypes[i], np.dtype)
                        else dtypes[i] for i in values))
    for i in values:  # see _opaque_nonfinite
        if literal[i] and atoms[i] in _NONFINITE and common.kind == "f":
            atoms[i] = const(graph, np.asarray(float(atoms[i]), common)).graph_var.symbol
    if printed != common:
        for i in values:
            if not literal[i] and dtypes[i] != common:
                atoms[i] = cast(Tracer(graph, graph.by_symbol[atoms[i]]), common).graph_var.symbol
    result = expression(graph, build(fn, atoms), shape, _result_dtype(common, kind))
    graph.operand_order.setdefault(result.graph_var.symbol, tuple(_symbols_in_order(atoms)))
    return result


def _symbols_in_order(atoms):
    """The symbols of `atoms` (symbols, numbers, the odd expression) in their order."""
    for a in atoms:
        if isinstance(a, sp.Symbol):
            yield a
        elif isinstance(a, sp.Basic):
            yield from sorted(a.free_symbols, key=sp.default_sort_key)


@without_loop_hook
def expression(graph: Graph, expr: sp.Expr, shape, dtype) -> Tracer:
    """A node for `expr` of the given shape (broadcast when the symbols are smaller)
    and dtype: when the printed expression would compute another float dtype (a
    float64 adjoint of a float32 value), a cast follows it."""
    shape, dtype = tuple(shape), np.dtype(dtype)
    if expr.has(sp.zoo):  # SymPy's 1/0: neither inf nor nan, and no code prints it
        raise TraceError(
            "division by zero: the divisor is 0 whatever the inputs (x / (x - x), "
            "np.var with ddof equal to the number of elements, ...), so NumPy would give "
            "inf or nan everywhere; divide by a nonzero expression", user_location())
    if isinstance(expr, sp.Symbol) and expr in graph.by_symbol:
        var = graph.by_symbol[expr]
        if var.dtype == dtype:
            return broadcast_to(Tracer(graph, var), shape)
        return broadcast_to(_cast_node(graph, var, dtype), shape)
    if expr.is_Boolean and not expr.free_symbols and not isinstance(expr, sp.Symbol):
        expr = sp.Integer(1 if expr == sp.true else 0)
        dtype = np.dtype(bool)
    if dtype.kind == "f":
        # Integer and boolean values are converted to the float dtype, as NumPy would,
        # before fusion changes what they meet: `0.5*n` is float64 for an integer n
        # but float32 within `0.5*n*x` for a float32 x, and `ct*(n + 1)` is an integer
        # array once a constant cotangent ct is inlined as 1.
        ints = [graph.by_symbol[s] for s in _value_symbols(expr)
                if graph.by_symbol[s].dtype.kind in "biu"]
        if ints:
            expr = expr.xreplace({v.symbol: _cast_node(graph, v, dtype).graph_var.symbol
                                  for v in ints})
    syms = [graph.by_symbol[s] for s in expr.free_symbols]
    natural = dims.broadcast_shapes(*(v.shape for v in syms)) if syms else ()
    computed = _printed_dtype(graph, expr)
    if dtype.kind == "f" and computed is not None and computed != dtype:
        inner = graph.new_var(natural, computed)
        graph.add(Node(inner, ELEMENTWISE, expr=expr, loc=user_location()))
        return broadcast_to(_cast_node(graph, inner, dtype), shape)
    var = graph.new_var(natural, dtype)
    graph.add(Node(var, ELEMENTWISE, expr=expr, loc=user_location()))
    return broadcast_to(Tracer(graph, var), shape)


def _cast_node(graph: Graph, var: Var, dtype: np.dtype) -> Tracer:
    """`var` converted to `dtype`, as a value of its own: fusing it into its readers
    would drop the conversion from the printed code."""
    out = graph.new_var(var.shape, dtype)
    graph.add(Node(out, ELEMENTWISE, params=(("materialize", True),), expr=var.symbol,
                   loc=user_location()))
    return Tracer(graph, out)


def materialized(x: Tracer) -> Tracer:
    """`x` as a value of its own that fusion does not inline: its readers (and their
    derivatives) read it whole instead of expanding it (``x - mean(x)`` stays centred,
    where SymPy would distribute ``2/3*(3*x - sum(x))`` into a cancelling difference)."""
    return _cast_node(x.graph, x.graph_var, x.dtype)


def cast(x: Tracer, dtype) -> Tracer:
    """`x` in `dtype` (any numeric dtype; symdiff's own conversions)."""
    return expression(x.graph, x.graph_var.symbol, x.shape, dtype)


def astype(x, dtype) -> Tracer:
    """A cast: a node whose expression is the operand itself, with another dtype."""
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    if dtype.kind != "f":
        raise TraceError(f"cast of a traced value to {dtype}: only casts to float can be "
                         "traced (an integer made from a float has no derivative); for "
                         "rounding use np.floor(x) or np.round(x), which stay floats, and "
                         "for one-hot rows compare: labels[:, None] == np.arange(k)",
                         user_location())
    return cast(x, dtype)


def _logical(fn, symbol: str, *args) -> Tracer:
    """`&`, `|`, `^`, `~` on boolean masks (logical, as NumPy's on bool arrays)."""
    for a in args:
        dtype = a.dtype if isinstance(a, Tracer) else np.asarray(a).dtype
        if dtype.kind != "b":
            raise UnsupportedOpError(
                f"`{symbol}` on a traced array of dtype {dtype}: only boolean masks (from "
                "comparisons) combine with & | ^ ~ under tracing", user_location())
    return elementwise(fn, *args, kind="bool")


def power(a, b) -> Tracer:
    """`a ** b`; integer exponents stay exact."""
    kind = "float" if isinstance(b, Tracer) and b.dtype.kind == "f" else "arith"
    return elementwise(F.Power, a, b, kind=kind)


# -- structured primitives ------------------------------------------------------------------
def bind(name: str, *args, **params) -> Tracer:
    """Append a structured node `name(*args, **params)`."""
    graph = _graph_of(args)
    prim = PRIMITIVES[name]
    ins = [a if isinstance(a, Tracer) else as_tracer(graph, a) for a in args]
    try:
        shape = prim.shape_rule(*[t.shape for t in ins], **params)
    except ValueError as e:
        raise ShapeError(f"{name}: {e}", user_location()) from None
    dtype = prim.out_dtype(*[t.dtype for t in ins], **params)
    var = graph.new_var(shape, dtype)
    node = Node(var, name, tuple(t.graph_var for t in ins), tuple(sorted(params.items())),
                loc=user_location())
    graph.add(node)
    return Tracer(graph, var)


def as_tracer(graph: Graph, a) -> Tracer:
    if isinstance(a, Tracer):
        return a
    a = _stand_in(a)
    if isinstance(a, Tracer):
        return a
    # (a 0-d array too: as a number, fusion would inline it where it prints weak)
    return const(graph, np.asarray(a))


def matmul(a, b) -> Tracer:
    return bind("matmul", a, b)


def transpose(x: Tracer, axes=None) -> Tracer:
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation of {x.ndim} axes",
                         user_location())
    if axes == tuple(range(x.ndim)):
        return x
    return bind("transpose", x, axes=axes)


def matrix_transpose(x: Tracer) -> Tracer:
    """`x` with its last two axes swapped (NumPy's ``x.mT``), the one axis swap."""
    return transpose(x, _swap_last(x.ndim))


def broadcast_to(x: Tracer, shape) -> Tracer:
    shape = tuple(shape)
    if x.shape == shape:
        return x
    try:
        dims.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ShapeError(f"cannot broadcast {x.shape} to {shape}", user_location()) from None
    return bind("broadcast_to", x, shape=shape)


