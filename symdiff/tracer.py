"""Tracer values and the small op layer that builds graph nodes from them.

A `Tracer` stands for an array of known shape and dtype while the user's function
runs. Python operators and NumPy's `__array_ufunc__` / `__array_function__`
protocols route every operation here; each appends one node to the graph. Sugar
lowers to few primitives: `a - b` is an elementwise SymPy expression, `mean` is a
`sum` times `1/n`. Derivative rules are written with the same functions, so a
gradient graph is a graph of the same kind.
"""

from __future__ import annotations

import functools
import math
import numbers
import sys
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from . import functions as F
from .errors import ShapeError, TraceError, UnsupportedOpError, _is_internal, user_location
from .indexing import IndexArg, canonical, materialize
from .ir import CONST, ELEMENTWISE, Graph, Node, Var
from .ops import PRIMITIVES, normalize_axes

__all__ = [
    "Tracer",
    "elementwise",
    "bind",
    "const",
    "cast",
    "constant_value",
    "promote",
    "reduce_sum",
    "matmul",
    "reshape",
    "transpose",
    "broadcast_to",
    "UFUNCS",
    "FUNCTIONS",
]

# Filled by numpy_api: NumPy ufunc / function -> implementation on tracers.
UFUNCS: dict[Any, Callable] = {}
FUNCTIONS: dict[Any, Callable] = {}

_WHERE_HINT = "use np.where(condition, a, b) to choose between values elementwise"


class _ValueOrVariance:
    """`t.var`: the tracer's graph value (a `Var`) for symdiff's own code, NumPy's
    ``x.var(...)`` method (the variance) for the user's code. The two names collide;
    which one is meant is decided by where the attribute is read."""

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        if _internal_file(sys._getframe(1).f_code.co_filename):
            if obj._stale is not None:
                raise TraceError(obj._stale, user_location())
            return obj._var
        return functools.partial(FUNCTIONS[np.var], obj)

    def __set__(self, obj, value):
        obj._var = value


@functools.cache
def _internal_file(filename: str) -> bool:
    return _is_internal(filename)


class Tracer:
    """An array under tracing: a `Var` of a `Graph`."""

    __slots__ = ("graph", "_var", "_view", "_views", "_stale", "__weakref__")
    var = _ValueOrVariance()
    __array_priority__ = 1000.0
    __hash__ = object.__hash__

    def __init__(self, graph: Graph, var: Var):
        self.graph = graph
        self._view = None  # (root tracer, its flat positions) when a NumPy view of root
        self._views = None  # weak references to the views taken of this tracer
        self._stale = None  # why this value may no longer be read (see _note_write)
        self.var = var

    # -- array attributes -----------------------------------------------------------
    shape = property(lambda self: self._var.shape)
    dtype = property(lambda self: self._var.dtype)
    ndim = property(lambda self: len(self._var.shape))
    size = property(lambda self: self._var.size)
    T = property(lambda self: _viewed(self, transpose(self), np.transpose))
    mT = property(lambda self: _viewed(self, transpose(self, _swap_last(self.ndim)),
                                       lambda p: np.swapaxes(p, -1, -2)))

    def __repr__(self) -> str:
        return f"Tracer<{self._var.type_str()}>"

    def __len__(self) -> int:
        if not self.shape:
            raise TraceError("len() of a 0-d traced array", user_location())
        return self.shape[0]

    # -- NumPy protocols ------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        impl = UFUNCS.get(ufunc)
        if method != "__call__" or impl is None:
            name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
            raise _unsupported(name)
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
            raise _unsupported(f"np.{_public_name(func)}")
        result = impl(*args, **kwargs)
        if func not in VIEW_FUNCTIONS:
            return _new_array(result)
        return _viewed(args[0], result, lambda p: func(p, *args[1:], **kwargs))

    def __array__(self, dtype=None, copy=None):
        raise TraceError(
            "a traced value was converted to a concrete NumPy array (np.asarray/np.array, "
            "assignment into a NumPy array, a NumPy array indexed by a traced index, or a "
            "library outside NumPy); keep it a NumPy expression (np.stack to build arrays, "
            "y = np.zeros_like(x, shape=...) then y[i] = ... to fill one, one-hot rows "
            "np.eye(k)[labels] as labels[:, None] == np.arange(k)), e.g. " + _WHERE_HINT,
            user_location())

    # -- values a trace cannot know -------------------------------------------------
    def __bool__(self):
        raise TraceError(
            "Python control flow (`if`, `while`, `and`, `or`, `not`) or bool() on a traced "
            "value: its truth is only known when the generated code runs; keep it an array "
            "expression: " + _WHERE_HINT
            + ", or branch on shapes and Python values instead", user_location())

    def _concrete(self, kind: str):
        raise TraceError(
            f"{kind}() of a traced value: the number is only known when the generated "
            "code runs; keep it an array expression (np.where for choices, x.astype(float)"
            " for casts; to fill an array with traced values, start from a traced one, "
            "e.g. y = np.zeros_like(x), or build it with np.stack)", user_location())

    def __float__(self):
        self._concrete("float")

    def __int__(self):
        self._concrete("int")

    def __index__(self):
        self._concrete("int")

    def __complex__(self):
        self._concrete("complex")

    def item(self, *args):
        self._concrete(".item")

    def tolist(self):
        self._concrete(".tolist")

    # -- operators ------------------------------------------------------------------
    def __add__(self, o): return elementwise(sp.Add, self, o)
    def __radd__(self, o): return elementwise(sp.Add, o, self)
    def __sub__(self, o): return elementwise(_sub, self, o)
    def __rsub__(self, o): return elementwise(_sub, o, self)
    def __mul__(self, o): return elementwise(sp.Mul, self, o)
    def __rmul__(self, o): return elementwise(sp.Mul, o, self)
    def __truediv__(self, o): return elementwise(_div, self, o, kind="float")
    def __rtruediv__(self, o): return elementwise(_div, o, self, kind="float")
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

    # -- indexing -------------------------------------------------------------------
    def __getitem__(self, key):
        index, arrays = index_operands(self, key)
        result = index_node(self, index, arrays)
        return result if arrays else _viewed(self, result, lambda p: p[index])

    def __setitem__(self, key, value):
        """Item assignment, traced functionally: this tracer now stands for a new
        value (a copy with the selection replaced). NumPy would also change the views
        that share the written elements; since the trace cannot, reading such a view
        afterwards is an error (`_note_write`)."""
        new = setitem(self, key, value)
        node = self.graph.nodes[-1]
        _note_write(self, node.p["index"], node.inputs[2:])
        self.var = new.var

    def __iter__(self):
        if not self.shape:
            raise TraceError("iteration over a 0-d traced array", user_location())
        return (getitem(self, i) for i in range(self.shape[0]))

    # -- methods --------------------------------------------------------------------
    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        return _new_array(FUNCTIONS[np.sum](self, axis=axis, dtype=dtype, out=out,
                                            keepdims=keepdims))

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        return _new_array(FUNCTIONS[np.mean](self, axis=axis, dtype=dtype, out=out,
                                             keepdims=keepdims))

    def reshape(self, *shape, order="C"):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return _viewed(self, FUNCTIONS[np.reshape](self, shape, order=order),
                       lambda p: np.reshape(p, shape, order=order))

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes
        axes = tuple(axes) if axes else None
        return _viewed(self, transpose(self, axes), lambda p: np.transpose(p, axes))

    def dot(self, other):
        return FUNCTIONS[np.dot](self, other)

    def astype(self, dtype, copy=True):
        result = astype(self, dtype)
        return _new_array(result) if copy else result

    def copy(self, order="C"):
        return _new_array(self)

    def __round__(self, ndigits=None):
        return FUNCTIONS[np.round](self, ndigits or 0)

    def __getattr__(self, name):
        """An ndarray attribute symdiff does not trace gets a typed error, not AttributeError."""
        if not name.startswith("__") and hasattr(np.ndarray, name):
            raise _unsupported(f"the array method .{name}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def flatten(self, order="C"):
        return _new_array(FUNCTIONS[np.ravel](self, order=order))

    def conj(self):
        return _new_array(self)

    conjugate = conj
    real = property(lambda self: self)


def _method(func):
    """`x.name(...)` as `np.name(x, ...)`, whose tracer implementation is in FUNCTIONS."""
    def method(self, *args, **kwargs):
        result = FUNCTIONS[func](self, *args, **kwargs)
        if func not in VIEW_FUNCTIONS:
            return _new_array(result)
        return _viewed(self, result, lambda p: func(p, *args, **kwargs))

    method.__name__ = func.__name__
    method.__doc__ = f"As np.{func.__name__}(self, ...)."
    return method


for _func in (np.max, np.min, np.prod, np.std, np.clip, np.cumsum, np.cumprod,
              np.squeeze, np.swapaxes, np.repeat, np.round, np.trace, np.diagonal, np.ravel):
    setattr(Tracer, _func.__name__, _method(_func))


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
    return Tracer(result.graph, result.var) if isinstance(result, Tracer) else result


def _viewed(base, result, positions):
    """Record that `result` is a NumPy view of `base`: which elements of their root
    (the array that is no one's view) it shows, `positions(p)` applied to base's."""
    if not isinstance(result, Tracer) or not isinstance(base, Tracer) or result is base:
        return result
    root, pos = base._view or (base, None)
    if pos is None:
        pos = np.arange(root.size).reshape(root.shape)
    result._view = (root, np.asarray(positions(pos)))
    root._views = (root._views or []) + [weakref.ref(result)]
    return result


def _note_write(t, index: tuple, arrays) -> None:
    """`t[index] = ...` was traced as a new value of `t`. In NumPy the write also shows
    in every view sharing the written elements, and through a view it changes the
    root array; the trace cannot follow either, so those tracers become unreadable."""
    root, pos = t._view or (t, None)
    if t._view is None and not root._views:
        return
    if pos is None:
        pos = np.arange(root.size).reshape(root.shape)
    known = [constant_value(t.graph, a) for a in arrays]
    written = pos[materialize(index, known)] if all(k is not None for k in known) else pos
    hit = np.zeros(root.size, dtype=bool)
    hit[np.ravel(written)] = True
    where = user_location()
    live = []
    for ref in root._views or ():
        view = ref()
        if view is None:
            continue
        live.append(ref)
        if view is not t and view._stale is None and hit[np.ravel(view._view[1])].any():
            view._stale = (
                f"this array is a view (a slice, reshape or transpose) of an array that "
                f"was assigned into after the view was taken, at {where}: NumPy's view "
                "would show the new values, which symdiff does not follow; take the view "
                "after the assignment, or take it with .copy() to keep the old values")
    root._views = live
    if t._view is not None and root._stale is None:
        root._stale = (
            f"this array was changed through a view of it (a slice, reshape or transpose "
            f"assigned into) at {where}, which symdiff does not follow; assign into the "
            "array itself (e.g. y[0, 1:] = v rather than row = y[0]; row[1:] = v), or "
            "take the view with .copy() if the array should keep its values")


def constant_value(graph: Graph, var: Var):
    """The value of `var` when a `const` node defines it (an index array), else None."""
    for node in reversed(graph.nodes):
        if node.out == var:
            return node.value if node.op == CONST else None
    return None


# -- helpers for building ---------------------------------------------------------------
def _sub(a, b):
    return a - b


def _div(a, b):
    return a / b


def _swap_last(ndim: int) -> tuple[int, ...]:
    if ndim < 2:
        raise TraceError(".mT needs at least 2 dimensions", user_location())
    return tuple(range(ndim - 2)) + (ndim - 1, ndim - 2)


def _public_name(func) -> str:
    mod = getattr(func, "__module__", "") or ""
    name = getattr(func, "__name__", repr(func))
    return f"linalg.{name}" if "linalg" in mod else name


def _unsupported(name: str) -> UnsupportedOpError:
    return UnsupportedOpError(
        f"{name} has no derivative rule in symdiff yet; rewrite it with supported "
        "NumPy operations, or register it with symdiff.register_primitive "
        "(see docs/extending.md)", user_location())


def _no_kwargs(name: str, kwargs: dict, allowed=()) -> None:
    bad = sorted(k for k, v in kwargs.items() if k not in allowed and v is not None)
    if bad:
        raise UnsupportedOpError(f"{name}: argument(s) {', '.join(bad)} are not supported "
                                 "under tracing; drop them or compute the result another way",
                                 user_location())


def _graph_of(args) -> Graph:
    graph = None
    for a in args:
        if isinstance(a, Tracer):
            if graph is None:
                graph = a.graph
            elif a.graph is not graph:
                raise TraceError("values from two different traces were mixed (a traced "
                                 "value leaked out of its function?)", user_location())
    if graph is None:
        raise TraceError("internal: no traced operand", user_location())
    return graph


def number(value) -> sp.Expr:
    """A Python/NumPy scalar as an exact SymPy number (integral floats become Integers)."""
    if isinstance(value, (bool, np.bool_)):
        return sp.Integer(int(value))
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isfinite(f) and f.is_integer() and abs(f) < 2**53:
            return sp.Integer(int(f))
        if math.isnan(f):
            return sp.nan
        if math.isinf(f):
            return sp.oo if f > 0 else -sp.oo
        return sp.Float(f, 17)
    raise TypeError(value)


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


#: NumPy's default dtype for a Python scalar that meets no array (NEP 50).
_DEFAULT_DTYPE = {bool: np.dtype(bool), int: np.dtype(np.int64), float: np.dtype(np.float64)}
_KIND_ORDER = {"b": 0, "u": 1, "i": 1, "f": 2}


def promote(*operands) -> np.dtype:
    """The dtype of an operation on `operands` by NumPy's promotion rules (NEP 50), on
    every NumPy version: a `np.dtype` stands for an array, a NumPy scalar or a 0-d
    array (strong); a Python bool, int or float (weak) takes the dtype of the strong
    operands when it is of a lower or equal kind, and NumPy's default dtype otherwise
    (`int8_array + 1.5` is float64, `float32_array + 1.5` is float32)."""
    strong = [o for o in operands if isinstance(o, np.dtype)]
    weak = [_DEFAULT_DTYPE[_python_type(o)] for o in operands if not isinstance(o, np.dtype)]
    if not strong:
        return np.result_type(*weak)
    dt = np.result_type(*strong)
    for w in weak:
        if _KIND_ORDER.get(w.kind, 3) > _KIND_ORDER.get(dt.kind, 3):
            dt = np.result_type(dt, w)
    return dt


def _python_type(value) -> type:
    for t in (bool, int, float):
        if isinstance(value, t):
            return t
    raise TypeError(value)


def _weak(dtype: np.dtype):
    """A Python scalar of `dtype`'s kind: how a number reads once printed as a literal."""
    return {"b": False, "u": 0, "i": 0}.get(dtype.kind, 0.0)


def _atom(graph: Graph, a):
    """(SymPy atom, shape, dtype or weak Python scalar, whether it becomes a literal)
    for one elementwise operand. NumPy scalars and 0-d arrays are strong (NEP 50)."""
    if isinstance(a, Tracer):
        return a.var.symbol, a.shape, a.dtype, False
    if isinstance(a, (bool, int, float)) and not isinstance(a, np.generic):
        return number(a), (), a, True
    if isinstance(a, np.generic) or (isinstance(a, np.ndarray) and a.ndim == 0):
        a = np.asarray(a)
        if a.dtype.kind not in "biuf":
            raise TraceError(f"scalar of dtype {a.dtype} in traced arithmetic", user_location())
        return number(a.item()), (), a.dtype, True
    if isinstance(a, (np.ndarray, list, tuple)):
        t = const(graph, a)
        return t.var.symbol, t.shape, t.dtype, False
    raise TraceError(f"cannot use a value of type {type(a).__name__} in traced arithmetic; "
                     "use floats or NumPy arrays", user_location())


def _result_dtype(common: np.dtype, kind: str) -> np.dtype:
    if kind == "bool":
        return np.dtype(bool)
    if kind == "float" and common.kind in "biu":
        return np.dtype(np.float64)
    if kind == "arith" and common.kind == "b":
        return promote(common, 0)
    return common


#: nan and +-inf constants become `const` nodes, not SymPy numbers: SymPy folds
#: x*nan to nan and x + inf to oo, whose derivatives are then a silent 0, where NumPy's
#: would be nan (and x*inf's inf).
_NONFINITE = (sp.nan, sp.oo, -sp.oo)


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
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError("operands could not be broadcast together with shapes "
                         + " ".join(map(str, shapes)), user_location()) from None
    values = range(conditions, len(args))
    common = promote(*(dtypes[i] for i in values))
    printed = promote(*(_weak(dtypes[i]) if literal[i] and isinstance(dtypes[i], np.dtype)
                        else dtypes[i] for i in values))
    for i in values:  # see _opaque_nonfinite
        if literal[i] and atoms[i] in _NONFINITE and common.kind == "f":
            atoms[i] = const(graph, np.asarray(float(atoms[i]), common)).var.symbol
    if printed != common:
        for i in values:
            if not literal[i] and dtypes[i] != common:
                atoms[i] = cast(Tracer(graph, graph.by_symbol[atoms[i]]), common).var.symbol
    return expression(graph, sp.sympify(fn(*atoms)), shape, _result_dtype(common, kind))


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
            expr = expr.xreplace({v.symbol: _cast_node(graph, v, dtype).var.symbol
                                  for v in ints})
    syms = [graph.by_symbol[s] for s in expr.free_symbols]
    natural = np.broadcast_shapes(*(v.shape for v in syms)) if syms else ()
    computed = _printed_dtype(graph, expr)
    if dtype.kind == "f" and computed is not None and computed != dtype:
        inner = graph.new_var(natural, computed)
        graph.add(Node(inner, ELEMENTWISE, expr=expr, loc=user_location()))
        return broadcast_to(_cast_node(graph, inner, dtype), shape)
    var = graph.new_var(natural, dtype)
    graph.add(Node(var, ELEMENTWISE, expr=expr, loc=user_location()))
    return broadcast_to(Tracer(graph, var), shape)


def _printed_dtype(graph: Graph, expr: sp.Expr) -> np.dtype | None:
    """The float dtype NumPy computes `expr` in once printed: the promotion of the
    arrays it reads as values (numbers print as weak literals). None when unknown
    (only integer or boolean values, which a float function may widen either way)."""
    dtypes = [graph.by_symbol[s].dtype for s in _value_symbols(expr)]
    dt = np.result_type(*dtypes) if dtypes else None
    return dt if dt is not None and dt.kind == "f" else None


def _value_symbols(expr: sp.Expr) -> set:
    """Symbols of `expr` outside conditions (of Piecewise, comparisons, logic)."""
    if isinstance(expr, sp.Symbol):
        return {expr}
    if isinstance(expr, (sp.Piecewise)):
        return set().union(*(_value_symbols(v) for v, _ in expr.args))
    if isinstance(expr, (sp.core.relational.Relational, sp.logic.boolalg.Boolean)):
        return set()
    return set().union(set(), *(_value_symbols(a) for a in expr.args))


def _cast_node(graph: Graph, var: Var, dtype: np.dtype) -> Tracer:
    """`var` converted to `dtype`, as a value of its own: fusing it into its readers
    would drop the conversion from the printed code."""
    out = graph.new_var(var.shape, dtype)
    graph.add(Node(out, ELEMENTWISE, params=(("materialize", True),), expr=var.symbol,
                   loc=user_location()))
    return Tracer(graph, out)


def cast(x: Tracer, dtype) -> Tracer:
    """`x` in `dtype` (any numeric dtype; symdiff's own conversions)."""
    return expression(x.graph, x.var.symbol, x.shape, dtype)


def astype(x, dtype) -> Tracer:
    """A cast: a node whose expression is the operand itself, with another dtype."""
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    if dtype.kind != "f":
        raise TraceError(f"cast of a traced value to {dtype}: only casts to float can be "
                         "traced", user_location())
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
    node = Node(var, name, tuple(t.var for t in ins), tuple(sorted(params.items())),
                loc=user_location())
    graph.add(node)
    return Tracer(graph, var)


def as_tracer(graph: Graph, a) -> Tracer:
    if isinstance(a, Tracer):
        return a
    # (a 0-d array too: as a number, fusion would inline it where it prints weak)
    return const(graph, np.asarray(a))


def reduce_sum(x: Tracer, axis=None, keepdims: bool = False) -> Tracer:
    axes = normalize_axes(axis, x.ndim)
    if not axes:
        return x
    return bind("sum", x, axes=axes, keepdims=bool(keepdims))


def matmul(a, b) -> Tracer:
    return bind("matmul", a, b)


def reshape(x: Tracer, shape) -> Tracer:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    try:
        shape = np.empty(x.shape, dtype=np.int8).reshape(shape).shape
    except ValueError as e:
        raise ShapeError(f"cannot reshape {x.shape} to {shape}: {e}", user_location()) from None
    if shape == x.shape:
        return x
    return bind("reshape", x, shape=shape)


def transpose(x: Tracer, axes=None) -> Tracer:
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation of {x.ndim} axes",
                         user_location())
    if axes == tuple(range(x.ndim)):
        return x
    return bind("transpose", x, axes=axes)


def broadcast_to(x: Tracer, shape) -> Tracer:
    shape = tuple(shape)
    if x.shape == shape:
        return x
    try:
        np.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ShapeError(f"cannot broadcast {x.shape} to {shape}", user_location()) from None
    return bind("broadcast_to", x, shape=shape)


def zeros(graph: Graph, shape, dtype) -> Tracer:
    """A zero array (a scalar 0 broadcast: it costs nothing until used)."""
    return expression(graph, sp.Integer(0), tuple(shape), np.dtype(dtype))


def concatenate(xs, axis: int = 0) -> Tracer:
    graph = _graph_of(xs)
    xs = [as_tracer(graph, x) for x in xs]
    if not xs[0].ndim:
        raise ShapeError("zero-dimensional arrays cannot be concatenated", user_location())
    axis = normalize_axes(axis, xs[0].ndim)[0]
    if len(xs) == 1:
        return xs[0]
    return bind("concatenate", *xs, axis=axis)


# -- indexing ---------------------------------------------------------------------------
_MASK_HINT = ("a traced boolean mask (computed from traced values, or an argument) selects "
              "a data-dependent number of elements; keep the shape fixed with "
              "np.where(mask, x, 0) (and np.sum over it) instead of x[mask], or read a mask "
              "that never changes from a global or closure, where it is a constant")


def getitem(x: Tracer, key) -> Tracer:
    """``x[key]`` for slices, ints, None, Ellipsis, integer arrays (traced or constant)
    and constant boolean masks."""
    index, arrays = index_operands(x, key)
    return index_node(x, index, arrays)


def index_node(x: Tracer, index: tuple, arrays=()) -> Tracer:
    """``x[index]`` for an index already in canonical form (see `indexing`)."""
    if not arrays and index == tuple(slice(0, n, 1) for n in x.shape[:len(index)]):
        return x
    try:
        return bind("index", x, *arrays, index=index)
    except IndexError as e:
        raise ShapeError(f"indexing an array of shape {x.shape}: {e}", user_location()) from None


def setitem(x: Tracer, key, value) -> Tracer:
    """A copy of `x` with ``x[key] = value``."""
    index, arrays = index_operands(x, key)
    value = as_tracer(x.graph, value)
    if value.dtype.kind not in "biuf":
        raise TraceError(f"cannot assign a value of dtype {value.dtype}", user_location())
    try:
        return bind("index_update", x, value, *arrays, index=index)
    except (ValueError, IndexError) as e:
        raise ShapeError(f"assignment into an array of shape {x.shape}: {e}",
                         user_location()) from None


def index_operands(x: Tracer, key) -> tuple[tuple, list[Tracer]]:
    """The canonical index of ``x[key]`` and its index-array operands."""
    items = list(key) if isinstance(key, tuple) else [key]
    arrays: list[Tracer] = []
    masks: dict[int, tuple] = {}  # first array of a constant mask -> the mask's shape
    constants: dict[int, np.ndarray] = {}  # constant integer index arrays, for bounds
    flat = []
    for item in items:
        if item is None or item is Ellipsis:
            flat.append(item)
        elif isinstance(item, slice):
            flat.append(_static_slice(item))
        elif isinstance(item, (bool, np.bool_)):
            raise TraceError("a bool scalar as an index; use None (np.newaxis) to add an "
                             "axis", user_location())
        elif isinstance(item, (int, np.integer)):
            flat.append(int(item))
        else:
            flat.extend(_array_entries(x.graph, item, arrays, masks, constants))
    try:
        index = canonical(flat, x.shape)
    except IndexError as e:
        raise ShapeError(f"indexing an array of shape {x.shape}: {e}", user_location()) from None
    _check_constant_arrays(x, index, masks, constants)
    return index, arrays


def _static_slice(item: slice) -> slice:
    for bound in (item.start, item.stop, item.step):
        if isinstance(bound, Tracer):
            raise TraceError("a slice bound is a traced value, so the result's shape is "
                             "only known at run time; slice with Python ints, or select "
                             "with np.where", user_location())
    return item


def _array_entries(graph: Graph, item, arrays: list, masks: dict, constants: dict):
    """IndexArg entries for an index array (a constant boolean mask gives one per axis)."""
    if isinstance(item, Tracer):
        if item.dtype == bool:
            raise TraceError(_MASK_HINT, user_location())
        if item.dtype.kind not in "iu":
            raise TraceError(f"an index of dtype {item.dtype}: indices must be integers",
                             user_location())
        arrays.append(item)
        return [IndexArg(len(arrays) - 1)]
    arr = np.asarray(item)
    if arr.dtype == bool:
        masks[len(arrays)] = arr.shape
        parts = np.nonzero(arr)
    elif arr.dtype.kind in "iu" or arr.size == 0:
        parts = (arr.astype(np.intp),)
        constants[len(arrays)] = parts[0]
    else:
        raise TraceError(f"an index of type {type(item).__name__} (dtype {arr.dtype}): use "
                         "ints, slices, None, integer arrays or constant boolean masks",
                         user_location())
    entries = []
    for part in parts:
        arrays.append(const(graph, part))
        entries.append(IndexArg(len(arrays) - 1))
    return entries


def _check_constant_arrays(x: Tracer, index: tuple, masks: dict, constants: dict) -> None:
    """Bounds of constant index arrays, and mask shapes, as NumPy would check them."""
    axis = 0
    for entry in index:
        if isinstance(entry, IndexArg):
            k = entry.k
            if k in masks and x.shape[axis:axis + len(masks[k])] != masks[k]:
                raise ShapeError(f"boolean index of shape {masks[k]} does not match the "
                                 f"indexed axes {x.shape[axis:axis + len(masks[k])]}",
                                 user_location())
            value = constants.get(k)
            if value is not None and value.size and not (
                    -x.shape[axis] <= value.min() and value.max() < x.shape[axis]):
                raise ShapeError(f"index array with values in [{value.min()}, "
                                 f"{value.max()}] is out of bounds for axis {axis} with "
                                 f"size {x.shape[axis]}", user_location())
        axis += entry is not None
