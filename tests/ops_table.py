"""The supported NumPy surface as a table of test cases, in the style of JAX's
LAX_GRAD_OPS: each row is a function, its arguments' shapes with a domain-aware
sampler, and tolerances. Every function ends in a weighted sum so that its
gradient is a generic cotangent pulled back through the op under test.

Expected values are independent of symdiff: the forward value comes from running
the same function on NumPy arrays, derivatives from central differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


# -- samplers: (rng, shape) -> array inside the op's domain, away from its kinks ------------
def normal(rng, shape):
    return rng.normal(size=shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


def unit(rng, shape):
    return rng.uniform(-0.8, 0.8, size=shape)


def above_one(rng, shape):
    return rng.uniform(1.3, 3.0, size=shape)


def nonzero(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.3, 2.0, size=shape)


def off_integers(rng, shape):
    """Values whose fractional part is in (0.1, 0.4) or (0.6, 0.9): no rounding edge."""
    frac = rng.choice([0.25, 0.75], size=shape) + rng.uniform(-0.1, 0.1, size=shape)
    return rng.integers(-3, 3, size=shape) + frac


def distinct(rng, shape):
    """Values at least 0.25 apart: no ties for max/min, even under a finite difference."""
    size = int(np.prod(shape, dtype=int))
    return (rng.permutation(size) * 0.3 - 0.1 * size + rng.uniform(0, 0.05, size)).reshape(shape)


def well_conditioned(rng, shape):
    """Square matrices (stacked) with a dominant diagonal."""
    return rng.normal(size=shape) * 0.3 + 2.0 * np.eye(shape[-1])


def labels(n, classes):
    return lambda rng, shape: rng.integers(0, classes, size=n)


def weights(shape) -> np.ndarray:
    """A fixed, generic cotangent of a given shape (no symmetry to hide mistakes)."""
    size = int(np.prod(shape, dtype=int))
    return np.cos(np.arange(size) * 1.3).reshape(shape) + 1.5


def wsum(y):
    return np.sum(y * weights(np.shape(y)))


@dataclass
class Case:
    """One row: `fn(*args)` with args drawn by `samplers` [(sampler, shape), ...]."""

    name: str
    fn: object
    args: list
    argnums: tuple[int, ...] | None = None  # default: every float argument
    rtol: float = 1e-5
    atol: float = 1e-6
    jvp: bool = True
    tags: set = field(default_factory=set)

    def sample(self, seed: int = 0) -> list:
        rng = np.random.default_rng(seed)
        return [sampler(rng, shape) for sampler, shape in self.args]

    def wrt(self, args) -> tuple[int, ...]:
        if self.argnums is not None:
            return self.argnums
        return tuple(i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f")


CASES: list[Case] = []


def case(name, fn, *args, **kw):
    CASES.append(Case(name, fn, list(args), **kw))


M = (3, 4)

# -- elementwise, one argument ---------------------------------------------------------------
UNARY = [
    (np.negative, normal), (np.positive, normal), (np.square, normal), (np.abs, nonzero),
    (np.reciprocal, nonzero), (np.exp, normal), (np.exp2, normal), (np.expm1, normal),
    (np.log, positive), (np.log2, positive), (np.log10, positive), (np.log1p, positive),
    (np.sqrt, positive), (np.cbrt, nonzero), (np.sin, normal), (np.cos, normal),
    (np.tan, unit), (np.arcsin, unit), (np.arccos, unit), (np.arctan, normal),
    (np.sinh, normal), (np.cosh, normal), (np.tanh, normal), (np.arcsinh, normal),
    (np.arccosh, above_one), (np.arctanh, unit), (np.deg2rad, normal), (np.rad2deg, normal),
]
for op, sampler in UNARY:
    case(f"np.{op.__name__}", lambda x, op=op: wsum(op(x)), (sampler, M))

# piecewise constant: zero derivative, so d/dx [op(x) * x] = op(x)
for op in (np.sign, np.floor, np.ceil, np.trunc, np.rint, np.round, np.around, np.fix):
    case(f"np.{op.__name__} (zero derivative)", lambda x, op=op: wsum(op(x) * x),
         (off_integers, M))
case("np.round(decimals=1)", lambda x: wsum(np.round(x, 1) * x + x),
     (lambda rng, s: off_integers(rng, s) / 10 + 0.003, M))

# -- elementwise, two arguments, with broadcasting -------------------------------------------
BINARY = [
    (np.add, normal, normal), (np.subtract, normal, normal), (np.multiply, normal, normal),
    (np.divide, normal, nonzero), (np.true_divide, normal, nonzero),
    (np.power, positive, normal), (np.float_power, positive, normal),
    (np.maximum, normal, normal), (np.minimum, normal, normal), (np.fmax, normal, normal),
    (np.fmin, normal, normal), (np.arctan2, nonzero, nonzero), (np.hypot, nonzero, nonzero),
    (np.logaddexp, normal, normal), (np.logaddexp2, normal, normal),
    (np.mod, off_integers, lambda rng, s: np.ones(s)),
]
BROADCASTS = [(M, M), (M, (4,)), ((3, 1), (1, 4)), ((), M)]
for op, sa, sb in BINARY:
    for shape_a, shape_b in BROADCASTS:
        # (the extra terms keep the two gradients apart, so swapping them is caught)
        case(f"np.{op.__name__} {shape_a} {shape_b}",
             lambda a, b, op=op: wsum(op(a, b)) + np.sum(a**2) / 10 + np.sum(b**4) / 10,
             (sa, shape_a), (sb, shape_b))
case("operators + - * / ** //", lambda a, b: wsum((a + b) * a - b / a + a**2 - (2.0 - b) ** 3
                                                + (a // 0.7) * b),
     (nonzero, M), (normal, (4,)))
case("operators % abs -x", lambda a, b: wsum(-abs(a) + (a % 1.5) * b), (off_integers, M),
     (normal, M))
case("scalar ** array", lambda a: wsum(2.0 ** a + np.e ** (-a)), (normal, M))
case("mod by a traced divisor", lambda a, b: wsum(np.mod(a, b)),
     (lambda rng, s: rng.uniform(0.2, 0.8, s), M), (lambda rng, s: rng.uniform(1.0, 2.0, s), M))

# -- choosing: where, clip, comparisons and logic as masks -------------------------------
case("np.where with comparisons", lambda x, y: wsum(np.where(x > y, x * y, np.sin(y))
                                                    + np.where(x <= 0.3, x, 0.0)),
     (normal, M), (normal, (4,)))
case("np.where with logic", lambda x, y: wsum(
    np.where((x > 0) & (y < 0.5) | ~(x < -1), x**2, y)
    + np.where(np.logical_and(x > 0, np.logical_not(y > 1)), x, 2 * y)
    + np.where(np.logical_or(x == y, np.logical_xor(x > 0, y > 0)), y, x)
    + np.where(np.equal(x, 0.5) | np.not_equal(y, y), 0.0, x)), (normal, M), (normal, M))
case("comparison ufuncs", lambda x, y: wsum(
    np.where(np.greater(x, y), x, 0.0) + np.where(np.greater_equal(x, 0.5), y, x)
    + np.where(np.less(y, x), y * x, 1.0) + np.where(np.less_equal(x, y), x, y)),
    (normal, M), (normal, M))
case("np.where(mask as number)", lambda x: wsum(np.where(x, x, 1.0)), (nonzero, M))
case("np.clip(x, -0.5, 0.5)", lambda x: wsum(np.clip(x, -0.5, 0.5)), (distinct, M))
case("np.clip(x, None, 0.2)", lambda x: wsum(np.clip(x, None, 0.2)), (distinct, M))
case("np.clip traced bounds", lambda x, lo, hi: wsum(np.clip(x, lo, hi)),
     (distinct, M), (lambda rng, s: -0.2 + rng.uniform(0, 0.05, s), (4,)),
     (lambda rng, s: 0.5 + rng.uniform(0, 0.05, s), (3, 1)))
case("x.clip(min=0)", lambda x: wsum(x.clip(min=0.0) + x.clip(-1, 1)), (distinct, M))

# -- reductions over int, tuple, None and negative axes, keepdims ------------------------------
T3 = (2, 3, 4)
AXES = [None, 0, -1, (0, 2), (1,)]
for name, op, sampler in [("sum", np.sum, normal), ("mean", np.mean, normal),
                          ("max", np.max, distinct), ("min", np.min, distinct),
                          ("amax", np.amax, distinct), ("amin", np.amin, distinct),
                          ("prod", np.prod, normal), ("var", np.var, normal),
                          ("std", np.std, normal)]:
    for axis in AXES:
        case(f"np.{name}(axis={axis})", lambda x, op=op, axis=axis: wsum(op(x, axis=axis)),
             (sampler, T3))
    case(f"np.{name}(axis=1, keepdims)", lambda x, op=op: wsum(op(x, axis=1, keepdims=True)),
         (sampler, T3))
case("np.var/std(ddof=1)", lambda x: wsum(np.var(x, axis=0, ddof=1) + np.std(x, ddof=1)),
     (normal, M))
for name, op in [("cumsum", np.cumsum), ("cumprod", np.cumprod)]:
    for axis in (None, 0, 1, -1):
        case(f"np.{name}(axis={axis})", lambda x, op=op, axis=axis: wsum(op(x, axis=axis)),
             (normal, M))
case("np.average(weights)", lambda x, w: wsum(np.average(x, axis=1, weights=w)) + np.average(x),
     (normal, M), (positive, (4,)))

# -- linear algebra -----------------------------------------------------------------------------
for sa, sb in [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
               ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((4,), (2, 4, 5)),
               ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (4,))]:
    case(f"a @ b {sa} {sb}", lambda a, b: wsum(a @ b), (normal, sa), (normal, sb))
for sa, sb in [((3, 4), (4, 5)), ((4,), (4,)), ((3, 4), (4,)), ((), (3,)), ((2, 3, 4), (5, 4, 2))]:
    case(f"np.dot {sa} {sb}", lambda a, b: wsum(np.dot(a, b)), (normal, sa), (normal, sb))
case("np.matmul", lambda a, b: wsum(np.matmul(a, b)), (normal, (3, 4)), (normal, (4, 2)))
case("np.vdot", lambda a, b: np.vdot(a, b), (normal, M), (normal, M))
case("np.inner", lambda a, b: wsum(np.inner(a, b)) + np.inner(a[0], b[1]), (normal, M),
     (normal, (5, 4)))
case("np.outer", lambda a, b: wsum(np.outer(a, b)), (normal, (3,)), (normal, (2, 2)))
case("np.tensordot(axes=1)", lambda a, b: wsum(np.tensordot(a, b, 1)), (normal, T3),
     (normal, (4, 2)))
case("np.tensordot(axes=([0, 2], [2, 0]))", lambda a, b: wsum(np.tensordot(a, b, ([0, 2], [2, 0]))),
     (normal, T3), (normal, (4, 5, 2)))
for subscripts, shapes in [("ij,jk->ik", [(3, 4), (4, 2)]), ("ij,jk", [(3, 4), (4, 2)]),
                           ("ii->", [(3, 3)]), ("ii->i", [(3, 3)]), ("ij->", [M]),
                           ("ij->j", [M]), ("ji", [M]), ("i,i", [(4,), (4,)]),
                           ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
                           ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 2)]),
                           ("ij,j->i", [M, (4,)]), ("i,j,k->ijk", [(2,), (3,), (2,)]),
                           ("iij->j", [(3, 3, 2)]), ("ij,ij->i", [M, M])]:
    fn = [lambda a, s=subscripts: wsum(np.einsum(s, a)),
          lambda a, b, s=subscripts: wsum(np.einsum(s, a, b)),
          lambda a, b, c, s=subscripts: wsum(np.einsum(s, a, b, c))][len(shapes) - 1]
    case(f"np.einsum({subscripts!r})", fn, *[(normal, sh) for sh in shapes])
case("np.trace", lambda a: np.trace(a) + wsum(np.trace(a, 1)) + np.trace(a[None], 0, 1, 2).sum(),
     (normal, (3, 3)))
case("np.diagonal", lambda a: wsum(np.diagonal(a)) + wsum(np.diagonal(a, -1)) +
     wsum(np.diagonal(a[None], 0, 1, 2)), (normal, M))
case("np.diag", lambda v, a: wsum(np.diag(v)) + wsum(np.diag(v, 1)) + wsum(np.diag(v, -2)) +
     wsum(np.diag(a)), (normal, (3,)), (normal, M))
for label, kwargs, shape in [("vector", {}, (4,)), ("frobenius", {}, M),
                             ("axis=1", {"axis": 1}, M),
                             ("axis=0 keepdims", {"axis": 0, "keepdims": True}, M),
                             ("ord=1", {"ord": 1}, (4,)), ("ord=inf", {"ord": np.inf}, (4,)),
                             ("ord=-inf", {"ord": -np.inf}, (4,)), ("ord=3", {"ord": 3}, (4,)),
                             ("fro", {"ord": "fro"}, M), ("matrix ord=1", {"ord": 1}, M),
                             ("matrix ord=inf", {"ord": np.inf}, M),
                             ("axis=(0, 2)", {"axis": (0, 2)}, T3)]:
    case(f"np.linalg.norm {label}", lambda x, kw=kwargs: wsum(np.linalg.norm(x, **kw)),
         (distinct, shape))
case("np.linalg.inv", lambda a: wsum(np.linalg.inv(a)), (well_conditioned, (3, 3)))
case("np.linalg.inv batched", lambda a: wsum(np.linalg.inv(a)), (well_conditioned, (2, 3, 3)))
case("np.linalg.det", lambda a: wsum(np.linalg.det(a)), (well_conditioned, (2, 3, 3)))
case("np.linalg.slogdet", lambda a: wsum(np.linalg.slogdet(a)[1]) +
     np.linalg.slogdet(a[0]).logabsdet * np.linalg.slogdet(a[1]).sign,
     (well_conditioned, (2, 3, 3)))
for sa, sb in [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 2)), ((2, 3, 3), (3,)),
               ((2, 3, 3), (3, 2))]:
    case(f"np.linalg.solve {sa} {sb}", lambda a, b: wsum(np.linalg.solve(a, b)),
         (well_conditioned, sa), (normal, sb))

# -- shapes --------------------------------------------------------------------------------------
SHAPE_OPS = {
    "np.reshape(-1)": lambda x: np.reshape(x, (-1, 2)),
    "x.reshape(4, 6)": lambda x: x.reshape(4, 6),
    "x.reshape((6, -1))": lambda x: x.reshape((6, -1)),
    "np.transpose(axes)": lambda x: np.transpose(x, (1, 2, 0)),
    "x.T": lambda x: x.T,
    "x.transpose(2, 0, 1)": lambda x: x.transpose(2, 0, 1),
    "x.mT": lambda x: x.mT,
    "np.swapaxes": lambda x: np.swapaxes(x, 0, 2),
    "np.moveaxis": lambda x: np.moveaxis(x, 0, -1),
    "np.moveaxis(list)": lambda x: np.moveaxis(x, [0, 1], [2, 0]),
    "np.expand_dims": lambda x: np.expand_dims(x, (0, 3)),
    "np.squeeze": lambda x: np.squeeze(x[:, :1]),
    "np.squeeze(axis)": lambda x: np.squeeze(x[:1], axis=0),
    "np.broadcast_to": lambda x: np.broadcast_to(x[:, :1], (2, 3, 4)),
    "np.ravel": lambda x: np.ravel(x),
    "x.flatten()": lambda x: x.flatten(),
    "np.concatenate(axis=0)": lambda x: np.concatenate([x, x * 2], axis=0),
    "np.concatenate(axis=-1)": lambda x: np.concatenate([x, x[..., :1] ** 2, x], axis=-1),
    "np.concatenate(axis=None)": lambda x: np.concatenate([x, x[0]], axis=None),
    "np.stack": lambda x: np.stack([x, x**2]),
    "np.stack(axis=-1)": lambda x: np.stack([x[0], x[1], np.ones((3, 4))], axis=-1),
    "np.hstack": lambda x: np.hstack([x[0], x[1] * 2]),
    "np.hstack 1-d": lambda x: np.hstack([x[0, 0], x[1, 1]]),
    "np.vstack": lambda x: np.vstack([x[0], x[1, 0] * 2]),
    "np.column_stack": lambda x: np.column_stack([x[0, 0], x[1].T]),
    "np.split": lambda x: np.split(x, 2, axis=2)[1] * np.split(x, [1, 2], axis=1)[2][..., 1:3],
    "np.array_split": lambda x: np.array_split(x, 3, axis=2)[0],
    "np.tile": lambda x: np.tile(x, (2, 1, 3)),
    "np.tile(int)": lambda x: np.tile(x[0, 0], 3),
    "np.tile(more dims)": lambda x: np.tile(x[0], (2, 1, 1)),
    "np.repeat": lambda x: np.repeat(x, 2, axis=1),
    "np.repeat(axis=None)": lambda x: np.repeat(x, 3),
    "np.repeat(counts)": lambda x: np.repeat(x, [1, 0, 3, 2], axis=-1),
    "x.repeat": lambda x: x.repeat(2, axis=0),
    "np.flip": lambda x: np.flip(x, 1),
    "np.flip(all)": lambda x: np.flip(x),
    "np.fliplr/flipud": lambda x: np.fliplr(x[0]) * np.flipud(x[1]),
    "np.roll": lambda x: np.roll(x, 2, axis=2),
    "np.roll(axis=None)": lambda x: np.roll(x, -5),
    "np.roll(tuple)": lambda x: np.roll(x, (1, -1), axis=(0, 1)),
    "np.pad": lambda x: np.pad(x, 1),
    "np.pad(widths, value)": lambda x: np.pad(x, ((0, 1), (2, 0), (1, 1)), constant_values=0.5),
    "np.atleast_1d/2d": lambda x: np.atleast_2d(x[0, 0, 0]) * np.atleast_1d(x[0, 0, 1]),
    "np.tril": lambda x: np.tril(x) + np.tril(x, -1) * np.tril(x, 2),
    "np.triu": lambda x: np.triu(x, 1) + np.triu(x[0, 0], -1)[:3],
    "np.vander": lambda x: np.vander(x[0, 0], 3) * np.vander(x[1, 1], 3, increasing=True),
    "np.vander(N)": lambda x: np.vander(x[0, :, 0], 5),
    "np.take": lambda x: np.take(x, [1, 0, 1], axis=1) * np.take(x, 5),
    "np.take(axis=None)": lambda x: np.take(x, [[0, 23], [7, 7]]),
    "np.take_along_axis": lambda x: np.take_along_axis(
        x, np.array([[[3, 0, 3], [1, 1, 2], [0, 0, 0]]] * 2).transpose(0, 2, 1)[:, :, :1],
        axis=2),
    "np.take_along_axis(axis=None)": lambda x: np.take_along_axis(x, np.array([4, 0, 4]), None),
    "x.swapaxes": lambda x: x.swapaxes(0, 1),
    "x.squeeze()": lambda x: x[:, :1].squeeze(),
    "x.ravel()": lambda x: x.ravel(),
}
for name, op in SHAPE_OPS.items():
    case(name, lambda x, op=op: wsum(op(x)), (normal, T3))

# -- indexing ---------------------------------------------------------------------------------
INDEXING = {
    "x[1:]": lambda x: x[1:],
    "x[-2:]": lambda x: x[-2:],
    "x[::-1]": lambda x: x[::-1],
    "x[::2, 1]": lambda x: x[::2, 1],
    "x[1, -1]": lambda x: x[1, -1],
    "x[-1:0:-2, ::3]": lambda x: x[-1:0:-2, ::3],
    "x[None, :, 1:3]": lambda x: x[None, :, 1:3],
    "x[np.newaxis]": lambda x: x[np.newaxis, 0, np.newaxis],
    "x[..., 0]": lambda x: x[..., 0],
    "x[0, ..., None]": lambda x: x[0, ..., None],
    "x[[0, 2, 2]]": lambda x: x[[0, 2, 2]],
    "x[[0, 1], [1, 3]]": lambda x: x[[0, 1], [1, 3]],
    "x[:, [3, 0, 3]]": lambda x: x[:, [3, 0, 3]],
    "x[1:, [0, 0]]": lambda x: x[1:, [0, 0]],
    "x[np.array([[0, 1], [2, 2]])]": lambda x: x[np.array([[0, 1], [2, 2]])],
    "x[[-1, 0]]": lambda x: x[[-1, 0]],
    "x[const mask]": lambda x: x[np.array([True, False, True])],
    "x[const 2-d mask]": lambda x: x[np.arange(12).reshape(3, 4) % 3 == 0],
    "x[:, const mask]": lambda x: x[:, np.array([False, True, True, False])],
    "x[:, None, [0, 1]]": lambda x: x[:, None, [0, 1]],
    "iteration": lambda x: np.stack([row * i for i, row in enumerate(x)]),
    "x[()]": lambda x: x[()],
}
for name, op in INDEXING.items():
    case(name, lambda x, op=op: wsum(op(x)), (normal, M))
case("x[traced ints]", lambda x, idx: wsum(x[idx]), (normal, M), (labels(6, 3), ()))
case("x[np.arange(n), y] (cross-entropy)", lambda x, y: wsum(x[np.arange(5), y]),
     (normal, (5, 3)), (labels(5, 3), ()))
case("np.take_along_axis(traced labels)",
     lambda x, y: wsum(np.take_along_axis(x, y[:, None], axis=1)) + wsum(np.take(x, y, 1)),
     (normal, (5, 3)), (labels(5, 3), ()))
case("x[:, traced ints]", lambda x, y: wsum(x[:, y]) + wsum(x[y[0]]), (normal, (4, 4)),
     (labels(5, 4), ()))


# -- item assignment, traced functionally ----------------------------------------------------------
def _assign(x, v):
    y = x * 1.0
    y[0] = v[0]
    y[:, 1] += v[1:]
    y[[2, 0], 3] *= v[0]
    y[y.shape[0] - 1, ::2] = 0.5
    return y


def _assign_mask(x, v):
    y = np.zeros_like(x)
    y[np.array([True, False, True])] = x[1] * v[:, None]
    y[1] = x[1] ** 2
    return y


def _assign_traced_index(x, v, idx):
    y = np.ones_like(x)
    y[idx] = v
    y[0] -= x[0]
    return y


def _assign_repeats(x, v, idx):
    y = x * 1.0
    y[[0, 0, 2]] += v[0]
    y[[1, 1], [3, 3]] = v[1, :2]
    y[idx] = v[0] * x[2]
    return y


case("y[i] = v, y[:, j] += w", lambda x, v: wsum(_assign(x, v)), (normal, M), (normal, (4,)))
case("y[mask] = v", lambda x, v: wsum(_assign_mask(x, v)), (normal, M), (normal, (2,)))
case("y[repeated idx] = v", lambda x, v, idx: wsum(_assign_repeats(x, v, idx)), (normal, M),
     (normal, (2, 4)), (lambda rng, s: np.array([1, 0, 1]), ()))
case("y[traced idx] = v", lambda x, v, idx: wsum(_assign_traced_index(x, v, idx)), (normal, M),
     (normal, (2, 4)), (lambda rng, s: np.array([1, 2]), ()))

# -- methods ------------------------------------------------------------------------------------
METHODS = {
    "x.sum()": lambda x: x.sum(),
    "x.sum(axis=0)": lambda x: x.sum(axis=0),
    "x.mean(axis=(0, 1))": lambda x: x.mean(axis=(0, 1)),
    "x.max(1)": lambda x: x.max(1),
    "x.min(axis=-1, keepdims=True)": lambda x: x.min(axis=-1, keepdims=True),
    "x.prod(0)": lambda x: x.prod(0),
    "x.std(ddof=1)": lambda x: x.std(ddof=1),
    "x.var(axis=2)": lambda x: x.var(axis=2),
    "x.cumsum(0)": lambda x: x.cumsum(0),
    "x.cumprod(axis=2)": lambda x: x.cumprod(axis=2),
    "x.dot(w)": lambda x: x.dot(np.ones(4)),
    "x.astype(float)": lambda x: x.astype(float) * x.astype(np.float64),
    "x.copy(), np.copy": lambda x: x.copy() * np.copy(x),
    "x.round() (zero derivative)": lambda x: x.round() * x,
    "round(x[0, 0, 0]) (zero derivative)": lambda x: round(x[0, 0, 0]) * x,
    "x.trace()": lambda x: x[0].trace(),
    "x.diagonal()": lambda x: x[0].diagonal(),
    "x.conj().real": lambda x: x.conj().real,
    "np.abs via abs()": lambda x: abs(x),
}
for name, op in METHODS.items():
    case(name, lambda x, op=op: wsum(op(x)), (distinct, T3))

# -- constants built inside the function ---------------------------------------------------------
case("np.ones/zeros/full/eye/arange/linspace", lambda x: wsum(
    x @ np.eye(4) + np.ones((3, 4)) * x - np.zeros(4) + np.full(4, 2.5) * x
    + np.arange(4) * x + np.linspace(0, 1, 4) * x**2), (normal, M))
case("*_like", lambda x: wsum(np.zeros_like(x) + np.ones_like(x) * x + np.full_like(x, 3.0) * x
                             + np.empty_like(x) * 0.0 + np.full_like(x, x[0, 0]) * x), (normal, M))
case("NumPy scalars", lambda x: wsum(np.float64(2.5) * x + np.float32(0.5) + np.int64(3) * x
                                    + np.pi * x), (normal, M))
case("np.shape/ndim/size", lambda x: wsum(x * np.shape(x)[0] * np.ndim(x) / np.size(x)),
     (normal, M))

import ops_table_more  # noqa: E402,F401  (rows for NumPy as people write it)
