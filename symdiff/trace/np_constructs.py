"""Building arrays from traced values, as people write it.

- `np.array` / `np.asarray` of traced values, of (nested) lists and tuples of them,
  mixed with numbers: a stack of the items (their shapes must agree);
- NumPy's scalar types called on a traced value (`np.float64(t)`): a cast;
- `np.r_[...]` and `np.c_[...]` of traced values: a concatenation;
- buffers: `out = np.zeros((n, 3))` (and `np.ones`, `np.empty`, `np.full`) inside a
  traced function is a NumPy array until a traced value is written into it
  (`out[i] = t`); from then on it stands for a traced value, the writes traced
  functionally as item assignment into a traced array is.

These calls reach NumPy without dispatching to a tracer; `rebind` routes them here
while a function is traced.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ShapeError, TraceError, UnsupportedOpError, user_location
from ..ir import dims
from . import rebind
from .sizes import RUNNING
from .tracer import FUNCTIONS, STAND_INS, Tracer, as_tracer, astype, const, expression

__all__ = ["traced_array", "TracedBuffer", "resolve"]


# -- np.array / np.asarray ---------------------------------------------------------------------
def _leaves_graph(obj):
    """The graph of the first tracer inside `obj` (a tracer, list or tuple), or None."""
    obj = resolve(obj)
    if isinstance(obj, Tracer):
        return obj.graph
    if isinstance(obj, (list, tuple)):
        for item in obj:
            graph = _leaves_graph(item)
            if graph is not None:
                return graph
    return None


def _check_dtype(dtype, where: str) -> np.dtype | None:
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TraceError(f"{where}(..., dtype={dtype!r}) of traced values: not a NumPy "
                         "dtype; use dtype=float", user_location()) from None
    if dt.kind not in "f":
        raise TraceError(
            f"{where}(..., dtype={dt}) of traced values: a traced value is a float array "
            f"and cannot become {'Python objects' if dt.kind == 'O' else dt}; leave dtype "
            "out (or dtype=float), and keep strings and objects out of the traced "
            "computation", user_location())
    return dt


def _stacked(items: list, graph) -> Tracer:
    """One traced array from a list of items (tracers, nested lists, numbers)."""
    parts = [_as_part(item, graph) for item in items]
    shapes = {p.shape for p in parts}
    if len(shapes) > 1:
        raise ShapeError(
            "a list of traced values of different shapes ("
            + ", ".join(str(p.shape) for p in parts) + ") cannot be one array (NumPy would "
            "make a ragged object array); make the items one shape (np.broadcast_to, "
            "indexing), or join them with np.concatenate", user_location())
    if not parts:
        raise ShapeError("np.array of an empty list inside a traced value", user_location())
    return FUNCTIONS[np.stack](parts, axis=0)


def _as_part(item, graph) -> Tracer:
    item = resolve(item)
    if isinstance(item, Tracer):
        return item
    if isinstance(item, (list, tuple)) and rebind.holds_tracer(item):
        return _stacked(list(item), graph)
    value = np.asarray(item)
    if value.dtype.kind not in "biuf":
        raise TraceError(f"an item of dtype {value.dtype} among traced values in "
                         "np.array; use numbers", user_location())
    return as_tracer(graph, value)


def traced_array(obj, dtype=None, *args, ndmin: int = 0, **kwargs):
    """`np.array(obj)` where obj is, or holds, traced values."""
    dt = _check_dtype(dtype, "np.array")
    graph = _leaves_graph(obj)
    obj = resolve(obj)
    if isinstance(obj, Tracer):
        result = Tracer(obj.graph, obj.graph_var)  # a copy: a new array, never an alias
    else:
        result = _stacked(list(obj), graph)
    if dt is not None and dt != result.dtype:
        result = astype(result, dt)
    if result.ndim < ndmin:
        result = FUNCTIONS[np.reshape](result, (1,) * (ndmin - result.ndim) + result.shape)
    return result


def traced_asarray(obj, dtype=None, *args, **kwargs):
    """`np.asarray(obj)`: a traced array is returned itself (no copy), as NumPy does."""
    obj = resolve(obj)
    if isinstance(obj, Tracer):
        dt = _check_dtype(dtype, "np.asarray")
        return obj if dt is None or dt == obj.dtype else astype(obj, dt)
    return traced_array(obj, dtype)


def _holds(*args, **kwargs) -> bool:
    return bool(args) and rebind.holds_tracer(args[0])


for _real, _traced in ((np.array, traced_array), (np.asarray, traced_asarray),
                       (np.asanyarray, traced_asarray),
                       (np.ascontiguousarray, traced_asarray)):
    rebind.override(_real, rebind.pass_through(_real, _traced, _holds))


# -- np.float64(t) and friends -----------------------------------------------------------------
class _ScalarTypeMeta(type):
    """A stand-in for a NumPy scalar type: calling it on a traced value casts it; as a
    type (isinstance, np.dtype(...), dtype=) it is NumPy's."""

    def __call__(cls, *args, **kwargs):
        if rebind.tracing() and args and rebind.holds_tracer(args[0]):
            value = resolve(args[0])
            if not isinstance(value, Tracer):
                value = traced_array(value)
            if np.dtype(cls.real).kind != "f":
                raise TraceError(
                    f"np.{cls.real.__name__}() of a traced value: its number is only known "
                    "when the generated code runs, and only casts to float can be traced; "
                    "use np.floor/np.round (zero derivative) for rounding, or compute "
                    "indices from shapes and Python ints", user_location())
            return astype(value, cls.real)
        return cls.real(*args, **kwargs)

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls.real)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls.real)

    def __repr__(cls):
        return repr(cls.real)


def _scalar_type(real: type) -> type:
    return _ScalarTypeMeta(real.__name__, (), {"real": real, "dtype": np.dtype(real),
                                               "__doc__": real.__doc__})


for _real in (np.float64, np.float32, np.float16, np.longdouble, np.int64, np.int32,
              np.int16, np.int8, np.uint64, np.uint32, np.uint16, np.uint8, np.intp):
    rebind.override(_real, _scalar_type(_real))


# -- np.r_ and np.c_ ---------------------------------------------------------------------------
class _TracedConcatenator:
    """np.r_ / np.c_ where the items hold traced values; NumPy's object otherwise."""

    def __init__(self, real, columns: bool):
        self.real = real
        self.columns = columns

    def __getitem__(self, key):
        items = key if isinstance(key, tuple) else (key,)
        if not (rebind.tracing() and any(rebind.holds_tracer(i) for i in items)):
            return self.real[key]
        axis = -1 if self.columns else 0
        if items and isinstance(items[0], str):
            axis = _directive_axis(items[0])
            items = items[1:]
        graph = _leaves_graph(list(items))
        parts = [self._part(item, graph) for item in items]
        return FUNCTIONS[np.concatenate](parts, axis=axis)

    def _part(self, item, graph) -> Tracer:
        if isinstance(item, slice):
            item = self.real[item]  # np.r_[0:5], np.r_[0:1:5j]: a constant range
        item = resolve(item)
        if isinstance(item, (list, tuple)):
            item = traced_array(item) if rebind.holds_tracer(item) else np.asarray(item)
        t = as_tracer(graph, item)
        if t.ndim == 0:
            t = FUNCTIONS[np.reshape](t, (1,))
        if self.columns and t.ndim == 1:
            t = FUNCTIONS[np.reshape](t, (t.shape[0], 1))
        return t

    def __len__(self):
        return 0


def _directive_axis(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise UnsupportedOpError(
            f"np.r_[{text!r}, ...] with traced values: only an axis number is traced as "
            "the directive; use np.concatenate / np.stack with axis=", user_location()) \
            from None


rebind.override(np.r_, _TracedConcatenator(np.r_, columns=False))
rebind.override(np.c_, _TracedConcatenator(np.c_, columns=True))


# -- buffers filled with traced values ---------------------------------------------------------
class TracedBuffer(np.ndarray):
    """An array made inside a traced function by np.zeros/ones/empty/full: NumPy's
    until a traced value is written into it; then it stands for that traced value
    (`_symdiff_traced`, a Tracer whose writes and views symdiff follows)."""

    def __array_finalize__(self, obj):
        self._symdiff_traced = None
        self._symdiff_pending = None  # a traced value for a view of it, to be written back

    # -- writes ----------------------------------------------------------------------------
    def __setitem__(self, key, value):
        if np.ndarray.__getattribute__(self, "_symdiff_pending") is value:
            self._symdiff_pending = None
        traced = np.ndarray.__getattribute__(self, "_symdiff_traced")
        if traced is None and not (rebind.tracing() and (rebind.holds_tracer(value)
                                                          or rebind.holds_tracer(key))):
            _readable(self)
            return np.ndarray.__setitem__(self, key, value)
        if traced is None:
            traced = self._start_tracing(value, key)
        value = resolve(value)
        if isinstance(value, (list, tuple)):
            value = traced_array(value)
        if isinstance(value, Tracer) and value.dtype.kind == "f" and self.dtype.kind != "f":
            raise TraceError(
                f"a traced float value is written into an array of dtype {self.dtype} "
                "(NumPy would truncate it); make the array a float array, e.g. "
                "np.zeros(shape) or dtype=float", user_location())
        traced[key] = value

    def _start_tracing(self, value, key) -> Tracer:
        if isinstance(self.base, TracedBuffer) or _root(self) is not None:
            raise TraceError(
                "a traced value is written into a view (a slice, row or reshape) of an "
                "array made with np.zeros/np.empty/...: NumPy would change that array too, "
                "which symdiff does not follow; assign into the array itself "
                "(out[i, 1:] = v rather than row = out[i]; row[1:] = v)", user_location())
        graph = _leaves_graph([value, key])
        traced = const(graph, np.array(self))  # (a Tracer of its own, so views are tracked)
        self._symdiff_traced = traced
        if self.dtype.kind == "f":
            np.ndarray.fill(self, np.nan)  # any read that bypasses the tracer shows nan
        return traced

    # -- reads -----------------------------------------------------------------------------
    def __getattribute__(self, name):
        if name[0] != "_" or name in ("__len__", "__iter__"):
            traced = np.ndarray.__getattribute__(self, "_symdiff_traced")
            if traced is not None:
                return getattr(traced, name)
            if name not in ("base", "shape", "dtype", "ndim", "size"):
                _readable(self)
        return np.ndarray.__getattribute__(self, name)

    def __getitem__(self, key):
        traced = np.ndarray.__getattribute__(self, "_symdiff_traced")
        if traced is not None:
            return traced[resolve(key)]
        _readable(self)
        if rebind.tracing() and rebind.holds_tracer(key):
            return as_tracer(_leaves_graph(key), np.array(self))[resolve(key)]
        return np.ndarray.__getitem__(self, key)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.pop("out", None) or ()
        args = [resolve(a) for a in inputs]
        traced = any(isinstance(a, Tracer) for a in args) or any(
            isinstance(o, TracedBuffer) and resolve(o) is not o.view(np.ndarray) and
            isinstance(resolve(o), Tracer) for o in out)
        if not traced:
            plain = tuple(o.view(np.ndarray) if isinstance(o, TracedBuffer) else o for o in out)
            result = getattr(ufunc, method)(*args, **kwargs, **({"out": plain} if out else {}))
            return (out[0] if len(out) == 1 else out) if out else result
        result = getattr(ufunc, method)(*args, **kwargs)
        if not out:
            return result
        if len(out) != 1 or not isinstance(out[0], TracedBuffer):
            raise TraceError(f"np.{ufunc.__name__}(..., out=...) writes a traced value in "
                             "place; assign the result to a new variable instead",
                             user_location())
        root = _root(out[0])
        if root is None:
            out[0][...] = result  # out += t: traced as out[...] = out + t
            return out[0]
        # out[i] += t: Python writes the result back with out[i] = result next; until
        # then the array may not be read (row = out[i]; row += t would not write back)
        root._symdiff_pending = result
        return result

    def __array_function__(self, func, types, args, kwargs):
        return func(*_resolve_all(args), **{k: _resolve_all(v) for k, v in kwargs.items()})

    def __reduce__(self):
        return np.ndarray.__reduce__(np.asarray(self))


def _root(buffer: TracedBuffer):
    """The buffer `buffer` is a view of, or None."""
    base = np.ndarray.__getattribute__(buffer, "base")
    while base is not None and not isinstance(base, TracedBuffer):
        base = getattr(base, "base", None)
    return base


def _readable(buffer: TracedBuffer) -> None:
    """Refuse reading a view of a buffer a traced value was written into since, and a
    buffer changed in place through a view of it."""
    for b in (buffer, _root(buffer)):
        if b is not None and np.ndarray.__getattribute__(b, "_symdiff_pending") is not None:
            raise TraceError(
                "this array was changed in place through a view of it (row = out[i]; "
                "row += t) with a traced value, which symdiff does not follow; write into "
                "the array itself: out[i] += t", user_location())
    root = _root(buffer)
    if root is not None and np.ndarray.__getattribute__(root, "_symdiff_traced") is not None:
        raise TraceError(
            "this array is a view (a slice, row or reshape) of an array made with "
            "np.zeros/np.empty/..., taken before a traced value was written into that "
            "array: NumPy's view would show the new values, which symdiff does not follow; "
            "take the view after the assignment", user_location())


def resolve(a):
    """A buffer as what it stands for: its tracer, or a plain ndarray (anything else
    is returned as it is)."""
    if not isinstance(a, TracedBuffer):
        return a
    traced = np.ndarray.__getattribute__(a, "_symdiff_traced")
    if traced is not None:
        return traced
    _readable(a)
    return a.view(np.ndarray)


def _resolve_all(value):
    if isinstance(value, TracedBuffer):
        return resolve(value)
    if isinstance(value, list):
        return [_resolve_all(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve_all(v) for v in value)
    return value


STAND_INS[TracedBuffer] = resolve
rebind.TO_ARRAY.append(traced_array)


def _buffer(real):
    def make(*args, **kwargs):
        shape = args[0] if args else kwargs.get("shape")
        if RUNNING and dims.is_symbolic(tuple(shape) if isinstance(shape, (tuple, list))
                                        else shape):
            return _symbolic_filled(real, *args, **kwargs)
        return np.asarray(real(*args, **kwargs)).view(TracedBuffer)
    return make


def _symbolic_filled(real, shape, *args, **kwargs) -> Tracer:
    """`np.zeros((n, 3))` of a symbolic size: a traced constant of that shape (written
    into, it is a traced array: `h[0] = x` as for any)."""
    fill = {np.zeros: 0, np.empty: 0, np.ones: 1}.get(real)
    if real is np.full:
        fill, args = (args[0], args[1:]) if args else (kwargs.pop("fill_value", None), args)
    dtype = args[0] if args else kwargs.pop("dtype", None)
    if not isinstance(fill, (int, float, np.integer, np.floating)) or isinstance(fill, bool) \
            or set(kwargs) - {"dtype", "order"} or len(args) > 2:
        raise UnsupportedOpError(f"np.{real.__name__} of a symbolic size with these "
                                 "arguments; give a number to fill with and a dtype",
                                 user_location())
    if dtype is None:
        dtype = np.float64 if real is not np.full else np.asarray(fill).dtype
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    return expression(RUNNING[-1], sp.sympify(fill), dims.canon_shape(shape), dtype)


for _real in (np.zeros, np.ones, np.empty, np.full):
    rebind.override(_real, rebind.pass_through(_real, _buffer(_real),
                                               lambda *a, **k: "like" not in k))
rebind.NESTED_FUNCTIONS.add(np.block)
rebind.SEQUENCE_FUNCTIONS.update({
    np.stack, np.concatenate, np.hstack, np.vstack, np.dstack, np.column_stack,
    np.block, np.select, np.piecewise, np.linalg.multi_dot, np.broadcast_arrays,
    np.meshgrid, np.einsum, np.ix_, np.lexsort, np.array, np.asarray,
})
