"""Structured primitives: what a node can be besides an elementwise SymPy expression.

Each primitive has a shape rule and a NumPy reference implementation (used to
evaluate graphs directly, in tests and for constant folding). Its derivative rules
live in `autodiff/rules.py` (VJP and JVP tables) and its printer in `codegen/node_printer.py`
(`_print_op_<name>`); a test checks that every primitive has all of them.
Elementwise math needs no entry here: it is SymPy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import dims
from .indexing import index_shape, materialize

__all__ = ["Primitive", "PRIMITIVES", "primitive", "normalize_axes"]


@dataclass(frozen=True)
class Primitive:
    """A structured op: ``shape_rule(*input_shapes, **params) -> shape``."""

    name: str
    impl: Callable[..., Any]
    shape_rule: Callable[..., tuple]
    dtype_rule: Callable[..., Any] | None = None
    doc: str = ""

    def out_dtype(self, *dtypes, **params) -> np.dtype:
        if self.dtype_rule is not None:
            return np.dtype(self.dtype_rule(*dtypes, **params))
        return np.result_type(*dtypes)


PRIMITIVES: dict[str, Primitive] = {}


def primitive(name: str, impl, shape_rule, dtype_rule=None, doc: str = "") -> Primitive:
    """Register a structured primitive (the extension point for new structured ops)."""
    prim = Primitive(name, impl, shape_rule, dtype_rule, doc)
    PRIMITIVES[name] = prim
    return prim


def normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    """`axis` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    out = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim)
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


# -- shape rules ------------------------------------------------------------------
def _reduce_shape(shape, *, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _matmul_shape(a, b):
    if not a or not b:
        raise ValueError("operands must be at least 1-d (use * for scalars)")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if not dims.equal(a2[-1], b2[-2]):
        raise ValueError(f"inner dimensions differ: {a} @ {b}")
    batch = dims.broadcast_shapes(a2[:-2], b2[:-2])
    out = batch + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def _transpose_shape(shape, *, axes):
    return tuple(shape[i] for i in axes)


def _given_shape(s, *, shape):
    return tuple(shape)


def _same_shape(s, **_):
    return tuple(s)


def _same_dtype(dt, *_, **__):
    return dt


primitive(
    "sum",
    lambda x, *, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims),
    _reduce_shape,
    doc="sum over `axes` (a tuple), keeping them as size 1 when `keepdims`",
)
primitive("matmul", np.matmul, _matmul_shape, doc="NumPy's matmul / `@`")
primitive("reshape", lambda x, *, shape: np.reshape(x, shape), _given_shape, _same_dtype,
          doc="reshape to `shape`")
primitive("transpose", lambda x, *, axes: np.transpose(x, axes), _transpose_shape, _same_dtype,
          doc="permute axes")
primitive("broadcast_to", lambda x, *, shape: np.broadcast_to(x, shape), _given_shape,
          _same_dtype, doc="broadcast to `shape` (NumPy rules)")


def _size_impl(*, expr):
    raise TypeError(f"the size {expr} is symbolic: instantiate the graph first")


primitive("dim", _size_impl, lambda *, expr: (), lambda **_: np.int64,
          doc="a symbolic size (`expr`, e.g. n or n - 1) as a number: mean is sum / n")
primitive("full", lambda *, dtype, shape, value: np.full(shape, value, dtype=dtype),
          lambda *, dtype, shape, value: tuple(shape), lambda *, dtype, **_: np.dtype(dtype),
          doc="an array of one value (`np.zeros((n, 3))`), for symbolic shapes")
primitive("arange", lambda *, dtype, shape: np.arange(shape[0], dtype=dtype),
          lambda *, dtype, shape: tuple(shape), lambda *, dtype, **_: np.dtype(dtype),
          doc="0, 1, ..., n - 1 (`np.arange(n)`) for a symbolic n: the rows and columns "
          "of eye, tri and cumprod's triangle")
primitive("stop_gradient", lambda x: x, _same_shape, _same_dtype,
          doc="identity whose derivative is zero (jax.lax.stop_gradient, torch detach)")


# -- reductions beyond sum -----------------------------------------------------------------
def _reduction(name: str, fn, doc: str) -> Primitive:
    return primitive(name, lambda x, *, axes, keepdims: fn(x, axis=axes, keepdims=keepdims),
                     _reduce_shape, doc=doc)


_reduction("max", np.max, "largest element over `axes` (ties share the gradient)")
_reduction("min", np.min, "smallest element over `axes` (ties share the gradient)")
_reduction("prod", np.prod, "product over `axes`")


primitive("cumsum", lambda x, *, axis: np.cumsum(x, axis=axis), _same_shape,
          doc="running sum along `axis`")
primitive("cumprod", lambda x, *, axis: np.cumprod(x, axis=axis), _same_shape,
          doc="running product along `axis`")


# -- linear algebra ----------------------------------------------------------------------------
def einsum_letters(subscripts: str) -> tuple[list[str], str]:
    """``"ij,jk->ik"`` as (["ij", "jk"], "ik")."""
    ins, out = subscripts.split("->")
    return ins.split(","), out


def _einsum_shape(*shapes, subscripts):
    ins, out = einsum_letters(subscripts)
    if len(ins) != len(shapes):
        raise ValueError(f"{subscripts!r} names {len(ins)} operands, got {len(shapes)}")
    sizes: dict[str, int] = {}
    for letters, shape in zip(ins, shapes):
        if len(letters) != len(shape):
            raise ValueError(f"subscripts {letters!r} do not match an operand of shape {shape}")
        for letter, d in zip(letters, shape):
            if not dims.equal(sizes.setdefault(letter, d), d):
                raise ValueError(f"index {letter!r} has sizes {sizes[letter]} and {d} "
                                 "(symdiff does not broadcast inside einsum; use "
                                 "np.broadcast_to first)")
    return tuple(sizes[letter] for letter in out)


primitive("einsum", lambda *ops, subscripts: np.einsum(subscripts, *ops), _einsum_shape,
          doc="Einstein summation with explicit subscripts (`ij,jk->ik`)")


def _square_matrices(s, **_):
    """The shape rule of ops on stacks of square matrices (bind names the op)."""
    if len(s) < 2 or not dims.equal(s[-1], s[-2]):
        raise ValueError(f"needs square matrices (..., n, n), got shape {s}")
    return s


def _float_dtype(dt, *others, **_):
    return np.result_type(dt, *others, np.float64) if np.dtype(dt).kind in "biu" else \
        np.result_type(dt, *others)


primitive("inv", np.linalg.inv, _square_matrices, _float_dtype,
          doc="matrix inverse over the last two axes")
primitive("det", np.linalg.det, lambda s: _square_matrices(s)[:-2], _float_dtype,
          doc="determinant over the last two axes")
primitive("slogdet", lambda x, *, part: np.linalg.slogdet(x)[part],
          lambda s, *, part: _square_matrices(s)[:-2], _float_dtype,
          doc="`part` 0: the sign of the determinant, 1: log(abs(det))")


def _solve_shape(a, b):
    _square_matrices(a)
    if len(b) == 1:  # NumPy 2: b is a vector only when it is 1-d
        if not dims.equal(b[0], a[-1]):
            raise ValueError(f"a {a} and b {b} do not fit")
        return a[:-1]
    if not dims.equal(b[-2], a[-1]):
        raise ValueError(f"a {a} and b {b} do not fit")
    return dims.broadcast_shapes(a[:-2], b[:-2]) + b[-2:]


primitive("solve", np.linalg.solve, _solve_shape, _float_dtype,
          doc="x with a @ x = b (b a vector when 1-d, else a stack of matrices)")


# -- joining and moving ------------------------------------------------------------------------
def _concatenate_shape(*shapes, axis):
    first = shapes[0]
    for s in shapes[1:]:
        if len(s) != len(first) or any(not dims.equal(a, b) for i, (a, b)
                                       in enumerate(zip(s, first)) if i != axis):
            raise ValueError(f"shapes {first} and {s} differ off the joining axis {axis}")
    return first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1:]


primitive("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis), _concatenate_shape,
          doc="join along an existing `axis`")
primitive("roll", lambda x, *, shift, axis: np.roll(x, shift, axis=axis), _same_shape,
          _same_dtype, doc="rotate elements by `shift` along `axis`")


def _pad_shape(s, *, widths, value):
    return tuple(d + lo + hi for d, (lo, hi) in zip(s, widths))


primitive("pad", lambda x, *, widths, value: np.pad(x, widths, constant_values=value),
          _pad_shape, _same_dtype,
          doc="surround with `value`: `widths` is ((before, after), ...) per axis")


# -- indexing ----------------------------------------------------------------------------------
def _index_impl(x, *arrays, index):
    return x[materialize(index, arrays)]


def _scatter_add_impl(values, *arrays, index, shape):
    out = np.zeros(shape, dtype=values.dtype)
    np.add.at(out, materialize(index, arrays), values)
    return out


def _index_update_impl(base, values, *arrays, index):
    out = np.array(base)
    out[materialize(index, arrays)] = values
    return out


def _index_update_shape(base, values, *arrays, index):
    target = index_shape(base, arrays, index)
    if dims.broadcast_shapes(values, target) != target:
        raise ValueError(f"a value of shape {values} does not fit a selection of shape {target}")
    return tuple(base)


primitive("index", _index_impl,
          lambda s, *arrays, index: index_shape(s, arrays, index),
          _same_dtype, doc="x[index]: slices, ints, None and integer index arrays")
def _scatter_add_shape(values, *arrays, index, shape):
    target = index_shape(tuple(shape), arrays, index)
    if dims.broadcast_shapes(values, target) != target:
        raise ValueError(f"values of shape {values} do not fit a selection of shape {target}")
    return tuple(shape)


primitive("scatter_add", _scatter_add_impl, _scatter_add_shape, _same_dtype,
          doc="zeros of `shape` with values added at index (repeats accumulate)")
primitive("index_update", _index_update_impl, _index_update_shape, _same_dtype,
          doc="a copy of base with base[index] = values (item assignment, functionally)")


def _add_at_impl(base, values, *, index, inplace):
    out = np.array(base)
    out[materialize(index, ())] += values
    return out


def _add_at_shape(base, values, *, index, inplace):
    target = index_shape(base, (), index)
    if dims.broadcast_shapes(values, target) != target:
        raise ValueError(f"values of shape {values} do not fit a selection of shape {target}")
    return tuple(base)


primitive("add_at", _add_at_impl, _add_at_shape, _same_dtype,
          doc="base with values added at a basic index (no repeats); `inplace` when base is "
              "a fresh array read by nothing else, so its buffer can be reused")
