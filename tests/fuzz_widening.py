"""More of NumPy for the fuzzer (fuzz_strategies.py builds on these steps and checks).

Steps: comparisons and logical ufuncs (as np.where conditions and as 0/1 factors),
reflected operators (`2.0 - t`, `0.5 / t`, `3.0 // t`), keyword parameters (ddof,
ord and axis of norm, batched solve, general einsum and tensordot, pad widths and
constant values), array methods, constant boolean masks, traced integer indices
(an integer array argument), static int and str arguments, empty arguments,
stop_gradient, and naive forms at magnitudes where only a stable evaluation is finite
(softplus, log cosh, sigmoid, sqrt(t**2 + eps), softmax, logsumexp, at |t| ~ 1e3).

Programs can be checked through every transform: jacobian, hessian, vjp, jvp, hvp
(Hessians against central differences of the gradient, which is itself checked
against differences of the function). Kink programs sit exactly on a kink or tie (or
1e-9 from it): the derivative there must lie between the two one-sided differences,
which every documented convention (the average for ties and |x|, the branch taken for
np.where, the inside for clip) does.
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable

import numpy as np
from fuzz_strategies import (
    MARGIN,
    MAX_SIZE,
    Program,
    _apart,
    _Builder,
    _call,
    _fits,
    _no_jump,
    _paren,
    _spread,
    _unique_extreme,
    _with,
    finite_difference,
)
from hypothesis import strategies as st

import symdiff

__all__ = ["extra_steps", "big_inputs", "kink_program", "pick_transform", "check_transform"]

_CMP = [">", ">=", "<", "<="]


# -- comparisons, logic, operators ---------------------------------------------------------
def _condition(b: _Builder) -> str | None:
    """`a > c` (a comparison away from a tie) on a value of the pool."""
    a = b.pick()
    other = b.partner(b.value(a).shape)
    value = b.evaluate(other)
    if value is None or not _fits(b.value(a).shape, value.shape, b.max_size) or \
            not _apart(b.value(a), value):
        return None
    return f"({a} {b.draw(st.sampled_from(_CMP))} {_paren(other)})"


def _compare(b: _Builder) -> bool:
    """Comparisons and logical ufuncs: np.where conditions and 0/1 factors."""
    first = _condition(b)
    if first is None:
        return False
    how = b.draw(st.sampled_from(["and", "or", "xor", "not", "&", "|", "single"]))
    cond = first
    if how in ("and", "or", "xor", "&", "|"):
        second = _condition(b)
        if second is None:
            return False
        cond = f"np.logical_{how}({first}, {second})" if how.isalpha() else \
            f"({first} {how} {second})"
    elif how == "not":
        cond = f"np.logical_not({first})"
    x, y = b.pick(), b.pick()
    if b.draw(st.booleans()):
        return b.assign(f"np.where({cond}, {x}, {y})", "compare")
    return b.assign(f"{cond} * {_paren(x)}", "compare")


def _reflected(b: _Builder) -> bool:
    """A Python number on the left of an operator (the reflected methods)."""
    t = b.pick()
    number = b.draw(st.sampled_from(["2.0", "-1.5", "0.5", "3.0"]))
    op = b.draw(st.sampled_from(["+", "-", "*", "/", "**", "//", "%"]))
    value = b.value(t)
    if op in ("/", "//", "%") and not np.all(np.abs(value) >= 0.3):
        return False
    if op in ("//", "%") and not _no_jump(np.full(value.shape, float(number)), value):
        return False
    if op == "**":
        if number.startswith("-"):
            return False
        text = b.operand(t, "unit")
        return text is not None and b.assign(f"{number} ** {_paren(text)}", "reflected")
    return b.assign(f"{number} {op} {_paren(t)}", "reflected")


# -- keyword parameters --------------------------------------------------------------------
def _keywords(b: _Builder) -> bool:
    kind = b.draw(st.sampled_from(["ddof", "ord", "solve", "einsum", "tensordot", "pad"]))
    return {"ddof": _ddof, "ord": _ord, "solve": _solve, "einsum": _einsum,
            "tensordot": _tensordot, "pad": _pad}[kind](b)


def _ddof(b: _Builder) -> bool:
    t = b.pick(ndim_min=1)
    if t is None or b.value(t).shape[-1] < 2 or not _spread(b.value(t), -1):
        return False
    fn = b.draw(st.sampled_from(["var", "std"]))
    return b.assign(f"np.{fn}({t}, axis=-1, ddof=1)", f"{fn}(ddof)")


def _ord(b: _Builder) -> bool:
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    value = b.value(t)
    order = b.draw(st.sampled_from(["1", "2", "np.inf", "-np.inf", "3"]))
    if np.any(np.abs(value) < MARGIN) or order in ("np.inf", "-np.inf") and \
            not _unique_extreme(np.abs(value), -1):
        return False
    return b.assign(f"np.linalg.norm({t}, ord={order}, axis=-1)", "norm(ord)")


def _solve(b: _Builder) -> bool:
    """A batch of well-conditioned systems whose matrices depend on a traced scalar."""
    t = b.pick(ndim_min=1)
    s = next((n for n in reversed(b.pool) if b.value(n).ndim == 0), None)
    if t is None or s is None or b.value(t).ndim > 2:
        return False
    n = b.value(t).shape[-1]
    batch = b.value(t).shape[:-1]
    base = np.round(3 * np.eye(n) + b.rng.uniform(-0.5, 0.5, size=batch + (n, n)), 3)
    scaled = b.operand(s, "unit")
    if scaled is None:
        return False
    matrix = f"(np.array({base.tolist()!r}) + 0.2 * {_paren(scaled)})"
    return b.assign(f"np.linalg.solve({matrix}, {t}[..., None])[..., 0]", "solve(batched)")


def _einsum(b: _Builder) -> bool:
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    shape = b.value(t).shape
    if len(shape) == 1:
        spec = b.draw(st.sampled_from(["i,i->", "i,j->ij", "i->"]))
        other = b.constant(shape)
    elif len(shape) == 2:
        spec = b.draw(st.sampled_from(["ij->ji", "ij->", "ij,kj->ik", "ij,ij->i", "ij,jk->ik"]))
        other = b.constant({"ij,kj->ik": (2, shape[1]), "ij,jk->ik": (shape[1], 2)}.get(spec, shape))
    else:
        return False
    if spec.count(",") == 0:
        return b.assign(f"np.einsum('{spec}', {t})", "einsum(general)")
    return b.assign(f"np.einsum('{spec}', {t}, {other})", "einsum(general)")


def _tensordot(b: _Builder) -> bool:
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    shape = b.value(t).shape
    if b.draw(st.booleans()):
        other = b.constant((shape[0], 2))
        return b.assign(f"np.tensordot({t}, {other}, axes=([0], [0]))", "tensordot(axes)")
    other = b.constant((2,))
    return int(np.prod(shape)) * 2 <= b.max_size and \
        b.assign(f"np.tensordot({t}, {other}, axes=0)", "tensordot(axes)")


def _pad(b: _Builder) -> bool:
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    ndim = b.value(t).ndim
    widths = tuple((int(b.rng.integers(0, 2)), int(b.rng.integers(0, 3))) for _ in range(ndim))
    return b.assign(f"np.pad({t}, {widths!r}, constant_values=1.5)", "pad(widths)")


# -- methods, masks, indices -----------------------------------------------------------------
def _method(b: _Builder) -> bool:
    t = b.pick()
    value = b.value(t)
    if value.ndim == 0:
        return False  # a scalar may be a Python float (an argument, or `0.5 * x0`)
    name = b.draw(st.sampled_from(["clip", "cumsum", "flatten", "transpose", "copy", "mean",
                                   "prod", "max", "dot", "squeeze", "swapaxes", "astype"]))
    if name == "clip":
        if np.any(np.abs(np.abs(value) - 0.5) < MARGIN):
            return False
        return b.assign(f"{t}.clip(-0.5, 0.5)", ".clip")
    if name == "max" and not _unique_extreme(value, None):
        return False
    if name == "dot":
        if value.ndim == 0:
            return False
        return b.assign(f"{t}.dot({b.constant((value.shape[-1],))})", ".dot")
    if name == "swapaxes":
        return value.ndim >= 2 and b.assign(f"{t}.swapaxes(0, -1)", ".swapaxes")
    if name == "astype":
        return b.assign(f"{t}.astype({t}.dtype)", ".astype")
    if name in ("cumsum", "flatten", "squeeze") and value.ndim == 0:
        return False
    return b.assign(f"{t}.{name}()", f".{name}")


def _mask(b: _Builder) -> bool:
    """A constant boolean mask: indexing with it, or choosing with it."""
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    mask = b.rng.random(b.value(t).shape) < 0.6
    mask.flat[0] = True
    if b.draw(st.booleans()):
        return b.assign(f"{t}[np.array({mask.tolist()!r})]", "mask")
    return b.assign(f"np.where(np.array({mask.tolist()!r}), {t}, 0.5)", "mask")


def _int_index(b: _Builder) -> bool:
    """Indices from an integer array argument (traced, not differentiated)."""
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    n = b.value(t).shape[0]
    idx = b.rng.integers(-n, n, size=int(b.rng.integers(1, 4)))
    name = f"i{len(b.params)}"
    b.params.append(name)
    b.args.append(idx.astype(np.int64))
    b.env[name] = idx
    if b.draw(st.booleans()):
        return b.assign(f"{t}[{name}]", "int index")
    return b.assign(f"np.take({t}, {name}, axis=0)", "int index")


def _static(b: _Builder) -> bool:
    """A static int (an exponent, a repeat count) or str (a mode) argument."""
    t = b.pick()
    name = f"s{len(b.params)}"
    if b.draw(st.booleans()):
        value = int(b.draw(st.sampled_from([2, 3])))
        text = f"{_paren(t)} ** {name}"
    else:
        value = b.draw(st.sampled_from(["sum", "mean"]))
        text = f"(np.sum({t}) if {name} == 'sum' else np.mean({t}))"
    b.params.append(name)
    b.args.append(value)
    b.env[name] = value
    if b.assign(text, "static"):
        return True
    b.params.pop(), b.args.pop(), b.env.pop(name)
    return False


def _empty(b: _Builder) -> bool:
    """An empty float argument, reduced into a value (its gradient is empty too)."""
    t = b.pick()
    shape = b.draw(st.sampled_from([(0,), (0, 3), (2, 0)]))
    name = b.new_input(shape)
    b.pool.remove(name)  # no other step draws a zero-size operand
    how = b.draw(st.sampled_from(["np.sum({e} * 2.0)", "np.sum(np.exp({e}))",
                                  "np.prod({e})", "np.mean({e} ** 2, axis=0).sum()"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the mean of nothing
        return b.assign(f"{_paren(t)} + {how.format(e=name)}", "empty")


def _stop(b: _Builder) -> bool:
    """stop_gradient(t): differences run the program with its value as a constant."""
    t = b.pick()
    value = b.value(t)
    if value.size > MAX_SIZE or value.dtype != np.float64:
        return False
    constant = repr(float(value)) if value.ndim == 0 else f"np.array({value.tolist()!r})"
    other = b.pick()
    return b.assign(f"stop_gradient({t}) * {_paren(other)}", "stop_gradient",
                    reference=f"{constant} * {_paren(other)}")


# -- naive forms at large magnitudes ---------------------------------------------------------
#: (naive form symdiff must make finite, an equal form NumPy evaluates stably)
STABLE_PAIRS = [
    ("np.log(1 + np.exp({u}))", "np.logaddexp(0, {u})"),
    ("np.log(np.cosh({u}))", "(np.logaddexp({u}, -{u}) - np.log(2))"),
    ("1 / (1 + np.exp(-{u}))", "(0.5 * (1 + np.tanh({u} / 2)))"),
    ("np.sqrt({u} ** 2 + 1e-12)", "np.hypot({u}, 1e-6)"),
    ("np.exp({u}) / np.sum(np.exp({u}))",
     "(np.exp({u} - np.max({u})) / np.sum(np.exp({u} - np.max({u}))))"),
    ("np.log(np.sum(np.exp({u})))", "(np.max({u}) + np.log(np.sum(np.exp({u} - np.max({u})))))"),
    ("np.log(np.prod(1 / (1 + np.exp(-{u}))))", "(-np.sum(np.logaddexp(0, -{u})))"),
]


def _stable(b: _Builder) -> bool:
    """A naive formula at |u| ~ 1e3, where its float64 evaluation overflows but its
    value and derivative are finite."""
    t = b.pick()
    if b.dtype != np.float64 or np.max(np.abs(b.value(t)), initial=0) > 3:
        return False
    naive, stable = b.draw(st.sampled_from(STABLE_PAIRS))
    u = f"({_paren(t)} * 400.0)"
    if "max" in stable and not _unique_extreme(b.value(t), None):
        return False  # (a tie in the shift's max is no problem, but differences jump)
    limit, b.limit = b.limit, max(b.limit, 1e6)
    try:
        return b.assign(naive.format(u=u), "stable", reference=stable.format(u=u))
    finally:
        b.limit = limit


def extra_steps() -> list[tuple[str, Callable[[_Builder], bool]]]:
    return [("compare", _compare), ("reflected", _reflected), ("keywords", _keywords),
            ("method", _method), ("mask", _mask), ("int index", _int_index),
            ("static", _static), ("empty", _empty), ("stop_gradient", _stop),
            ("stable", _stable)]


_BIG_STEPS = {"add", "subtract", "multiply", "divide", "sum", "mean", "var", "std", "norm",
              "maximum", "minimum", "absolute", "sqrt", "where", "compare", "reflected", "**",
              "[]", "[]=", "cumsum", "max", "min", "method"}


def big_inputs(b: _Builder, steps: list) -> list:
    """Arguments up to 1e6 in magnitude and the steps that make sense there."""
    b.input_scale = float(10 ** b.draw(st.integers(3, 6)))
    b.limit = 1e14
    return [s for s in steps if s[0] in _BIG_STEPS]


# -- other transforms ---------------------------------------------------------------------------
_TRANSFORMS = ["jacobian", "hessian", "vjp", "jvp", "hvp"]


def pick_transform(draw, program: Program, kind: str) -> str:
    """value_and_grad mostly; another transform for about one float64 program in six
    whose arguments are all small float arrays (those transforms differentiate every
    argument, and a Hessian costs one gradient per element)."""
    plain = kind == "float64" and program.reference is None and all(
        isinstance(a, float) or isinstance(a, np.ndarray) and a.dtype == np.float64
        and 0 < a.size <= 6 for a in program.args)
    if not plain:
        return "value_and_grad"
    return draw(st.sampled_from(["value_and_grad"] * 5 + _TRANSFORMS))


def _tolerance(program: Program, fd1, fd2):
    scale = max(1.0, program.scale)
    return 1e-6 * (scale + np.abs(fd2)) + 30 * np.abs(fd1 - fd2)


def _compare_arrays(what: str, got, fd1, fd2, program: Program) -> str | None:
    got = np.asarray(got, dtype=np.float64)
    if got.shape != np.shape(fd2):
        return f"{what} has shape {got.shape}, not {np.shape(fd2)}"
    bad = ~(np.abs(got - fd2) <= _tolerance(program, fd1, fd2))
    if np.any(bad):
        return f"{what}: symdiff {got[bad]!r} vs finite differences {np.asarray(fd2)[bad]!r}"
    return None


def _gradient_differences(f, args, i, fn=None):
    """Differences of f (or of `fn`, an array-valued function) with two steps."""
    if fn is None:
        return finite_difference(f, args, i, 1e-3), finite_difference(f, args, i, 5e-4)
    return _array_difference(fn, args, i, 1e-3), _array_difference(fn, args, i, 5e-4)


def _array_difference(fn, args, i, h):
    """d fn / d args[i] for an array-valued fn: shape fn.shape + args[i].shape."""
    x0 = np.asarray(args[i], dtype=np.float64)
    out0 = np.asarray(fn(*args), dtype=np.float64)
    out = np.zeros(out0.shape + x0.shape)
    for k in range(x0.size):
        step = h * max(1.0, abs(x0.flat[k]))
        vals = []
        for offset in (-2, -1, 1, 2):
            x = x0.copy()
            x.flat[k] += offset * step
            vals.append(np.asarray(fn(*_with(args, i, x)), dtype=np.float64))
        d = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * step)
        out[(...,) + np.unravel_index(k, x0.shape)] = d
    return out


def check_transform(program: Program) -> str | None:
    """The program's transform against differences of the function (jacobian, vjp,
    jvp) or of symdiff's gradient (hessian, hvp); kink programs by one-sided ones."""
    if program.transform == "kink":
        return check_kink(program)
    f = program.function()
    args = [np.array(a) if isinstance(a, np.ndarray) else a for a in program.args]
    nums = program.argnums
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", symdiff.CapturedArrayWarning)
            return _check_one_transform(program, f, args, nums)
    except Exception as e:  # noqa: BLE001 - any failure to compile is a finding
        return f"symdiff raised {type(e).__name__}: {e}\n{traceback.format_exc(limit=-3)}"


def _check_one_transform(program, f, args, nums) -> str | None:
    kind = program.transform
    if kind in ("jacobian", "vjp"):
        if kind == "jacobian":
            got = symdiff.jacobian(f, argnums=nums)(*args)
        else:
            _, pullback = symdiff.vjp(f, *args)
            got = [pullback(1.0)[i] for i in nums]
        for i, g in zip(nums, got):
            problem = _compare_arrays(f"{kind} of argument {i}", g,
                                      *_gradient_differences(f, program.args, i), program)
            if problem:
                return problem
        return None
    rng = np.random.default_rng(len(program.source))
    tangents = [rng.standard_normal(np.shape(a)) if np.ndim(a) else float(rng.standard_normal())
                for a in args]
    if kind == "jvp":
        _, got = symdiff.jvp(f, args, tangents)
        fds = [_gradient_differences(f, program.args, i) for i in range(len(args))]
        fd1 = sum(np.sum(d1 * t) for (d1, _), t in zip(fds, tangents))
        fd2 = sum(np.sum(d2 * t) for (_, d2), t in zip(fds, tangents))
        return _compare_arrays("jvp", got, fd1, fd2, program)
    grad = symdiff.grad(f, argnums=tuple(range(len(args))))
    if kind == "hessian":
        i = nums[0]
        got = symdiff.hessian(f, argnums=i)(*args)
        gi = symdiff.grad(f, argnums=i)
        return _compare_arrays(f"hessian of argument {i}", got,
                               *_gradient_differences(f, args, i, gi), program)
    got = symdiff.hvp(f, args, tangents)
    got = got if isinstance(got, tuple) else (got,)
    fd1, fd2 = (_directional_gradient(grad, args, tangents, h) for h in (1e-3, 5e-4))
    for k, (g, d1, d2) in enumerate(zip(got, fd1, fd2)):
        problem = _compare_arrays(f"hvp, argument {k}", g, d1, d2, program)
        if problem:
            return problem
    return None


def _directional_gradient(grad, args, tangents, h):
    """d/ds grad(args + s*tangents) at 0, by the 4-point central stencil."""
    at = [grad(*[a + o * h * t for a, t in zip(args, tangents)]) for o in (-2, -1, 1, 2)]
    return [(m2 - 8 * m1 + 8 * p1 - p2) / (12 * h) for m2, m1, p1, p2 in zip(*at)]


# -- kinks and ties -----------------------------------------------------------------------------
#: (template over x, how x's values are placed on the kink): the point is exactly on
#: a kink or tie, or 1e-9 from it
_KINKS = [
    "np.abs(x - {c})", "np.maximum(x, {c})", "np.minimum(x, {c})", "np.maximum(x - {c}, 0.0)",
    "np.fmax(x, {c})", "np.clip(x, {c}, {c} + 1.0)", "np.clip(x, {c} - 1.0, {c})",
    "np.where(x > {c}, 2.0 * (x - {c}), 0.5 * (x - {c}))", "np.max(np.concatenate([x, {c}]))",
    "np.min(np.concatenate([x, {c}]))", "np.sign(x - {c}) * (x - {c})",
]


def kink_program(draw) -> Program:
    """f(x) = sum(w * kink(x)) with x on the kink (c a constant equal to x, or to x
    plus 1e-9), checked by `check_kink`."""
    template = draw(st.sampled_from(_KINKS))
    n = draw(st.integers(1, 3))
    x = np.round(np.array(draw(st.lists(st.sampled_from([-1.5, -0.5, 0.25, 1.0, 2.0]),
                                        min_size=n, max_size=n))), 3)
    offset = draw(st.sampled_from([0.0, 0.0, 1e-9, -1e-9]))
    c = x + offset
    w = np.array(draw(st.lists(st.sampled_from([1.0, -2.0, 0.5, 3.0]), min_size=n,
                               max_size=n)))
    body = template.format(c=f"np.array({c.tolist()!r})")
    if "concatenate" in template:
        w_text = "1.0"
    else:
        w_text = f"np.array({w.tolist()!r})"
    source = f"def f(x):\n    return np.sum({w_text} * {body})\n"
    return Program(source, (x,), (0,), ["kink"], 3.0, n, transform="kink")


def check_kink(program: Program) -> str | None:
    """symdiff's derivative lies between the one-sided differences of f, per element."""
    f = program.function()
    x0 = np.asarray(program.args[0], dtype=np.float64)
    try:
        with np.errstate(all="ignore"):
            g = np.asarray(symdiff.grad(f)(x0.copy()), dtype=np.float64)
    except Exception as e:  # noqa: BLE001
        return f"symdiff raised {type(e).__name__}: {e}"
    base = _call(f, (x0,))
    for k in range(x0.size):
        h = 1e-6
        lo, hi = x0.copy(), x0.copy()
        lo.flat[k] -= h
        hi.flat[k] += h
        left = (base - _call(f, (lo,))) / h
        right = (_call(f, (hi,)) - base) / h
        tol = 1e-4 * (1 + abs(left) + abs(right))
        if not min(left, right) - tol <= g.flat[k] <= max(left, right) + tol:
            return (f"derivative {g.flat[k]!r} at element {k} is outside the one-sided "
                    f"differences [{left!r}, {right!r}]")
    return None

