"""Indexing under tracing: `x[key]` and `x[key] = value` lowered to `index` and
`index_update` nodes, and the views that an assignment makes unreadable."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError, user_location
from ..ir import dims
from ..ir.graph import CONST, Graph, Var
from ..ir.indexing import IndexArg, canonical, index_shape, materialize
from .structured import reshape
from .tracer import _UNTRACKED, Tracer, _untracked, _viewed, as_tracer, bind, const

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
    value = _drop_leading_ones(value, x.shape, index, arrays)
    try:
        return bind("index_update", x, value, *arrays, index=index)
    except (ValueError, IndexError) as e:
        raise ShapeError(f"assignment into an array of shape {x.shape}: {e}",
                         user_location()) from None



def _drop_leading_ones(value: Tracer, shape, index, arrays) -> Tracer:
    """NumPy assigns a value with more dimensions than the selection when the extra
    leading ones have length 1 (``y[-1] = [[2.0]]`` into a (3, 1) array)."""
    try:
        extra = value.ndim - len(index_shape(shape, [a.shape for a in arrays], index))
    except (ValueError, IndexError, TypeError):
        return value  # the update reports the misfit (TypeError: a symbolic size)
    if extra > 0 and all(d == 1 for d in value.shape[:extra]):
        return reshape(value, value.shape[extra:])
    return value


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
        elif dims.is_symbolic(item):  # x[x.shape[0] - 1]: an index of symbolic sizes
            flat.append(dims.canon(item))
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



def _require_sizes(*exprs_and_why) -> None:
    *exprs, why = exprs_and_why
    try:
        for expr in exprs:
            dims.require_nonnegative(expr, why)
    except ValueError as e:
        raise ShapeError(str(e), user_location()) from None


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
            if value is not None and value.size and dims.is_symbolic(x.shape[axis]):
                n = x.shape[axis]  # (checked by the module: NumPy would raise IndexError)
                where = f"an index array with values in [{value.min()}, {value.max()}]"
                _require_sizes(n - int(value.max()) - 1, n + int(value.min()), where)
            elif value is not None and value.size and not (
                    -x.shape[axis] <= value.min() and value.max() < x.shape[axis]):
                raise ShapeError(f"index array with values in [{value.min()}, "
                                 f"{value.max()}] is out of bounds for axis {axis} with "
                                 f"size {x.shape[axis]}", user_location())
        axis += entry is not None


# -- Tracer's subscripts: installed here, where keys are parsed (tracer.py, which this
# module builds on, cannot import it) ------------------------------------------------
def _tracer_getitem(self, key):
    index, arrays = index_operands(self, key)
    result = index_node(self, index, arrays)
    return result if arrays else _viewed(self, result, lambda p: p[index])

def _tracer_setitem(self, key, value):
    """Item assignment, traced functionally: this tracer now stands for a new
    value (a copy with the selection replaced). NumPy would also change the views
    that share the written elements; since the trace cannot, reading such a view
    afterwards is an error (`_note_write`)."""
    new = setitem(self, key, value)
    node = self.graph.nodes[-1]
    _note_write(self, node.p["index"], node.inputs[2:])
    self.graph_var = new.graph_var

def _tracer_iter(self):
    if not self.shape:
        raise TraceError("iteration over a 0-d traced array", user_location())
    return (getitem(self, i) for i in range(self.shape[0]))


Tracer.__getitem__ = _tracer_getitem
Tracer.__setitem__ = _tracer_setitem
Tracer.__iter__ = _tracer_iter


def _note_write(t, index: tuple, arrays) -> None:
    """`t[index] = ...` was traced as a new value of `t`. In NumPy the write also shows
    in every view sharing the written elements, and through a view it changes the
    root array; the trace cannot follow either, so those tracers become unreadable."""
    root, pos = t._view or (t, None)
    if t._view is None and not root._views:
        return
    untracked = pos is _UNTRACKED or _untracked(root)
    if not untracked:
        pos = np.arange(root.size).reshape(root.shape) if pos is None else pos
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
        if view is not t and view._stale is None and (
                untracked or hit[np.ravel(view._view[1])].any()):
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

