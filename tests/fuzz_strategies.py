"""Random NumPy programs for fuzzing symdiff against NumPy and finite differences.

`programs()` is a Hypothesis strategy. A program is Python source text, such as::

    def f(x0, x1):
        t0 = np.exp(x0)
        t1 = t0 @ x1
        t2 = np.where(t1 > 0.5, t1, np.sin(t1))
        return np.sum(t2)

with the arguments to call it at and the argnums to differentiate. It is built one
statement at a time while evaluating each statement on the arguments, so every
operation is applied inside its domain with a margin (a positive operand for
`log`, |x| < 1 for `arcsin`, no kink of `abs` or `maximum` and no branch switch of
`np.where` within reach of a finite-difference step). An operand outside a domain
is first mapped into it (`t*t + 0.5` for positivity, `t/(1 + t*t)` into (-1, 1));
an operation that would still leave it, or make a value larger than `LIMIT`, is
skipped.

The operations come from the package's own tables, so the fuzzer grows with
coverage: every ufunc registered on tracers (`symdiff.trace.tracer.UFUNCS`), with a
domain from `UNARY_DOMAINS` / `BINARY_RULES` or, for a ufunc not listed there, one
found by probing it; and every function in `symdiff.trace.tracer.FUNCTIONS` that has a
builder in `FUNCTION_BUILDERS` (the rest are listed by `unfuzzed()`). Operators
(`+ - * / ** @`, `.T`, indexing) are drawn too.

`check(program)` compiles the program with `symdiff.value_and_grad` and returns a
description of any disagreement: the value against NumPy running the original,
the gradient against 4-point central differences in float64.
"""

from __future__ import annotations

import hashlib
import linecache
import math
import re
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

import symdiff
from symdiff.trace import tracer

__all__ = ["Program", "programs", "check", "unary_ops", "binary_ops", "unfuzzed", "LIMIT"]

LIMIT = 1e3  # every intermediate value stays below this in magnitude
MARGIN = 0.05  # distance kept from kinks, jumps and branch switches
MAX_SIZE = 24  # elements per value: keeps finite differences cheap
MAX_STEPS = 8

# -- domains -----------------------------------------------------------------------------
# name -> (test on the operand's values, source-text map into the domain or None)
_POS = (lambda v: np.all(v >= 0.3), lambda t: f"({t} * {t} + 0.5)")
_UNIT = (lambda v: np.all(np.abs(v) <= 0.9), lambda t: f"({t} / (1 + {t} * {t}))")
DOMAINS: dict[str, tuple[Callable, Callable | None]] = {
    "any": (lambda v: True, None),
    "pos": _POS,
    "nonzero": (lambda v: np.all(np.abs(v) >= 0.3), _POS[1]),
    "unit": _UNIT,
    "ge1": (lambda v: np.all(v >= 1.3), lambda t: f"({t} * {t} + 1.5)"),
    "gt-1": (lambda v: np.all(v >= -0.7), lambda t: f"({t} * {t})"),
    "small": (lambda v: np.all(np.abs(v) <= 6), _UNIT[1]),  # exp-like growth
    "tan": (lambda v: np.all(np.abs(v) <= 1.2), _UNIT[1]),
    "kink0": (lambda v: np.all(np.abs(v) >= MARGIN), None),
    "nonint": (lambda v: np.all(np.abs(v - np.round(v)) >= MARGIN), None),
    "nonhalf": (lambda v: np.all(np.abs(v - np.floor(v) - 0.5) >= MARGIN), None),
}

UNARY_DOMAINS = {
    "log": "pos", "log2": "pos", "log10": "pos", "sqrt": "pos", "log1p": "gt-1",
    "reciprocal": "nonzero", "arcsin": "unit", "arccos": "unit", "arctanh": "unit",
    "arccosh": "ge1", "tan": "tan", "exp": "small", "exp2": "small", "expm1": "small",
    "sinh": "small", "cosh": "small", "absolute": "kink0", "fabs": "kink0",
    "sign": "kink0", "cbrt": "kink0", "floor": "nonint", "ceil": "nonint",
    "trunc": "nonint", "fix": "nonint", "rint": "nonhalf", "round": "nonhalf",
    "around": "nonhalf",
}
_SMOOTH = {"negative", "positive", "square", "sin", "cos", "tanh", "arctan", "arcsinh",
           "deg2rad", "rad2deg", "degrees", "radians", "conjugate"}
_NOT_FUZZED = {"spacing", "signbit", "isnan", "isinf", "isfinite", "logical_not", "frexp",
               "modf", "invert", "bitwise_not", "matmul", "nextafter", "ldexp"}


def _apart(a, b):
    return np.all(np.abs(a - b) >= MARGIN)


def _off_origin(a, b):
    return np.all(a * a + b * b >= 0.1)


def _no_jump(a, b):
    """a/b stays away from an integer (where mod and floor_divide jump)."""
    q = a / b
    return np.all(np.abs(b) >= 0.3) and np.all(np.abs(q - np.round(q)) >= MARGIN)


# name -> (domain of a, domain of b, joint test or None)
BINARY_RULES = {
    "add": ("any", "any", None), "subtract": ("any", "any", None),
    "multiply": ("any", "any", None), "divide": ("any", "nonzero", None),
    "true_divide": ("any", "nonzero", None), "logaddexp": ("any", "any", None),
    "logaddexp2": ("any", "any", None), "power": ("pos", "unit", None),
    "float_power": ("pos", "unit", None), "maximum": ("any", "any", _apart),
    "minimum": ("any", "any", _apart), "fmax": ("any", "any", _apart),
    "fmin": ("any", "any", _apart), "arctan2": ("any", "any", _off_origin),
    "hypot": ("any", "any", _off_origin), "copysign": ("any", "kink0", None),
    "remainder": ("any", "nonzero", _no_jump), "mod": ("any", "nonzero", _no_jump),
    "fmod": ("any", "nonzero", _no_jump), "floor_divide": ("any", "nonzero", _no_jump),
    "heaviside": ("kink0", "any", None),
}
_OPERATORS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "**",
              "floor_divide": "//", "remainder": "%"}
_COMPARISONS = {"greater": ">", "greater_equal": ">=", "less": "<", "less_equal": "<="}


def _float_ufunc(uf, nin: int) -> bool:
    return uf.nout == 1 and uf.nin == nin and "d" * nin + "->d" in uf.types and \
        getattr(np, uf.__name__, None) is uf


def _probe(uf) -> str | None:
    """A domain where an unlisted unary ufunc is finite and smooth, or None."""
    for name, lo, hi in (("any", -3, 3), ("pos", 0.3, 3), ("ge1", 1.3, 3), ("unit", -0.9, 0.9)):
        x = np.linspace(lo, hi, 97) + 0.0123
        with np.errstate(all="ignore"):
            y = uf(x)
            d1 = (uf(x + 1e-4) - uf(x - 1e-4)) / 2e-4
            d2 = (uf(x + 5e-5) - uf(x - 5e-5)) / 1e-4
        if np.all(np.isfinite(y)) and np.all(np.isfinite(d1)) and \
                np.allclose(d1, d2, rtol=1e-3, atol=1e-6):
            return name
    return None


def unary_ops() -> dict[str, str]:
    """Unary ufuncs registered on tracers -> domain name (probed when not listed)."""
    ops = {}
    for uf in tracer.UFUNCS:
        name = uf.__name__
        if name in _NOT_FUZZED or not _float_ufunc(uf, 1):
            continue
        domain = UNARY_DOMAINS.get(name) or ("any" if name in _SMOOTH else _probe(uf))
        if domain is not None:
            ops[name] = domain
    return ops


def binary_ops() -> dict[str, tuple]:
    """Binary ufuncs registered on tracers -> (domain a, domain b, joint test)."""
    return {uf.__name__: BINARY_RULES[uf.__name__] for uf in tracer.UFUNCS
            if _float_ufunc(uf, 2) and uf.__name__ in BINARY_RULES}


def comparisons() -> list[str]:
    return [uf.__name__ for uf in tracer.UFUNCS if uf.__name__ in _COMPARISONS]


# -- programs ------------------------------------------------------------------------------
@dataclass
class Program:
    """A generated function: its source, the arguments to call it at, and argnums."""

    source: str
    args: tuple
    argnums: tuple[int, ...]
    ops: list[str] = field(default_factory=list)
    scale: float = 1.0  # largest magnitude of any intermediate value
    size: int = 1  # most elements of any value (sums of many terms round more)
    literals: dict[int, str] = field(default_factory=dict)  # argument -> source text
    # the program NumPy and finite differences run, where it differs from `source`:
    # stable forms of what symdiff must stabilize, stop_gradient values as constants
    reference: str | None = None
    transform: str = "value_and_grad"  # or jacobian, hessian, vjp, jvp, hvp, kink

    def function(self, reference: bool = False) -> Callable:
        source = self.reference if reference and self.reference else self.source
        digest = hashlib.sha1(source.encode()).hexdigest()[:10]
        filename = f"<fuzz {digest}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace = {"np": np, "math": math, "stop_gradient": symdiff.stop_gradient}
        exec(compile(source, filename, "exec"), namespace)
        # constants captured from a closure: `make` holds them and returns f
        return namespace["make"]() if "make" in namespace else namespace["f"]

    def __repr__(self) -> str:
        args = ", ".join(self.literals.get(i) or _literal(a) for i, a in enumerate(self.args))
        how = "" if self.transform == "value_and_grad" else f", transform={self.transform!r}"
        return f"Program(argnums={self.argnums}, args=({args},){how})\n{self.source}"


def _literal(value) -> str:
    if isinstance(value, (float, int, str)):
        return repr(value)
    value = np.asarray(value)
    dtype = ", dtype=np.float32" if value.dtype == np.float32 else ""
    return f"np.array({value.tolist()!r}{dtype})"


class _Builder:
    """Program under construction: statements, arguments, and every value so far."""

    def __init__(self, draw, rng: np.random.Generator, dtype=np.float64,
                 max_size: int = MAX_SIZE):
        self.draw, self.rng = draw, rng
        self.dtype, self.max_size = dtype, max_size
        self.lines: list[str] = []
        self.writes: list[str | None] = []  # per line: the array item assignment writes
        self.closure: list[str] = []  # constants the function captures from make()
        self.literals: dict[int, str] = {}
        self.params: list[str] = []
        self.args: list = []
        self.env: dict[str, np.ndarray] = {}
        self.pool: list[str] = []
        self.ops: list[str] = []
        self.scale = 1.0
        self.assigned: dict[str, int] = {}  # name -> line of its last write
        self.limit = LIMIT
        self.input_scale = 1.0  # magnitude of new arguments (`fuzz_widening.big_inputs`)
        self.references: dict[int, str] = {}  # line -> its text in the reference program
        self.floats: list[int] = []  # parameters that may be differentiated

    def value(self, name: str) -> np.ndarray:
        return np.asarray(self.env[name])

    def new_input(self, shape: tuple[int, ...]) -> str:
        name = f"x{len(self.params)}"
        if int(np.prod(shape, dtype=int)) > MAX_SIZE:  # large: reproducible from a seed
            s = int(self.rng.integers(2**16))
            value = np.random.default_rng(s).uniform(-2, 2, size=shape).astype(self.dtype)
            dtype = ".astype(np.float32)" if self.dtype == np.float32 else ""
            self.literals[len(self.params)] = \
                f"np.random.default_rng({s}).uniform(-2, 2, size={shape!r}){dtype}"
        else:
            value = (self.rng.uniform(-2, 2, size=shape) * self.input_scale).astype(self.dtype)
        self.floats.append(len(self.params))
        self.params.append(name)
        self.args.append(float(value) if shape == () and self.draw(st.booleans()) else value)
        self.env[name] = value if value.dtype == np.float32 else np.asarray(value, dtype=float)
        self.pool.append(name)
        return name

    def constant(self, shape: tuple[int, ...]) -> str:
        if int(np.prod(shape, dtype=int)) > MAX_SIZE:
            shape = ()
        value = np.round(self.rng.uniform(-2, 2, size=shape), 3)
        text = repr(float(value)) if shape == () else f"np.array({value.tolist()!r})"
        if shape and self.draw(st.integers(0, 3)) == 0:  # captured from the closure
            name = f"c{len(self.closure)}"
            self.closure.append(f"    {name} = {text}")
            self.env[name] = value
            return name
        return text

    def pick(self, ndim_min: int = 0) -> str | None:
        names = [n for n in self.pool if self.value(n).ndim >= ndim_min]
        if not names:
            return None
        # recent values first: chains grow deep, and shrinking still reaches the inputs
        return names[-1 - self.draw(st.integers(0, len(names) - 1))]

    def evaluate(self, text: str) -> np.ndarray | None:
        with np.errstate(all="ignore"):
            try:
                value = eval(text, {"np": np, "math": math}, dict(self.env))
            except (ValueError, TypeError, IndexError, np.linalg.LinAlgError):
                return None
        value = np.asarray(value)
        if value.dtype.kind != "f" or value.size > self.max_size or value.size == 0:
            return None
        if not np.all(np.isfinite(value)) or np.max(np.abs(value)) > self.limit:
            return None
        return value

    def operand(self, text: str, domain: str) -> str | None:
        """`text` (a name or an expression), or it mapped into `domain`; None when that
        is impossible."""
        test, adapt = DOMAINS[domain]
        value = self.evaluate(text)
        if value is not None and test(value):
            return text
        if adapt is None:
            return None
        text = adapt(_paren(text))
        value = self.evaluate(text)
        return text if value is not None and test(value) else None

    def assign(self, text: str, op: str, reference: str | None = None) -> bool:
        """`t<n> = text`; NumPy and finite differences run `reference` instead where
        given (an equal, stable form, or a constant for stop_gradient)."""
        value = self.evaluate(reference or text)
        if value is None:
            return False
        name = f"t{len(self.lines)}"
        if reference is not None:
            self.references[len(self.lines)] = f"    {name} = {reference}"
        self.lines.append(f"    {name} = {text}")
        self.writes.append(None)
        self.env[name] = value
        self.pool.append(name)
        self.assigned[name] = len(self.lines) - 1
        self.ops.append(op)
        self.scale = max(self.scale, float(np.max(np.abs(value))))
        return True

    def read_after(self, name: str, line: int) -> bool:
        """Whether a statement after `line` reads `name`."""
        pattern = re.compile(rf"\b{name}\b")
        return any(pattern.search(text.split("=", 1)[1] if w == name else text)
                   for text, w in zip(self.lines[line + 1:], self.writes[line + 1:]))

    def store(self, target: str, key: str, op: str, text: str) -> bool:
        """`target[key] = text` (or `+=`, `*=`...), on a value nothing has read yet, so
        that no view of it (which NumPy would change too) exists."""
        value = self.evaluate(text)
        old = self.env[target]
        if value is None or old.ndim == 0:
            return False
        new = np.array(old)
        try:
            with np.errstate(all="ignore"):
                exec(f"new[{key}] {op} value", {"np": np}, {"new": new, "value": value})
        except (ValueError, TypeError, IndexError):
            return False
        if not np.all(np.isfinite(new)) or np.max(np.abs(new)) > self.limit:
            return False
        self.lines.append(f"    {target}[{key}] {op} {text}")
        self.writes.append(target)
        self.env[target] = new
        self.assigned.pop(target, None)
        self.assigned[target] = len(self.lines) - 1
        self.ops.append("[]=")
        self.scale = max(self.scale, float(np.max(np.abs(new))))
        return True

    def partner(self, shape: tuple[int, ...]) -> str:
        """A second operand: a value of a broadcast-compatible shape, a new argument,
        a constant array or a Python number."""
        kind = self.draw(st.sampled_from(["pool", "input", "number", "const"]))
        choices = _broadcast_partners(shape)
        if kind == "pool":
            fits = [n for n in self.pool if _fits(self.value(n).shape, shape, self.max_size)]
            if fits:
                return fits[-1 - self.draw(st.integers(0, len(fits) - 1))]
        if kind == "number":
            return repr(self.draw(st.sampled_from([0.5, 2.0, -1.5, 3.0, 0.25])))
        target = self.draw(st.sampled_from(choices))
        return self.new_input(target) if kind == "input" else self.constant(target)


def _fits(a, b, limit: int = MAX_SIZE) -> bool:
    try:
        return int(np.prod(np.broadcast_shapes(a, b))) <= limit
    except ValueError:
        return False


def _broadcast_partners(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Shapes that broadcast with `shape`: equal, trailing, with ones, or one more axis."""
    out = [shape, ()]
    if shape:
        out += [shape[1:], (1,) + shape[1:], shape[:-1] + (1,)]
    if int(np.prod(shape, dtype=int)) * 2 <= MAX_SIZE:
        out.append((2,) + shape)
    if len(shape) == 1:
        out.append((shape[0], 1) if shape[0] * 3 <= MAX_SIZE else (1,))
    return sorted(set(out), key=lambda s: (len(s), s))


# -- steps ---------------------------------------------------------------------------------
def _unary(b: _Builder, name: str, domain: str) -> bool:
    t = b.pick()
    text = b.operand(t, domain) if t else None
    return text is not None and b.assign(f"np.{name}({text})", name)


def _binary(b: _Builder, name: str, rule: tuple) -> bool:
    da, db, joint = rule
    a = b.pick()
    other = b.partner(b.value(a).shape)
    other_value = b.evaluate(other)
    if other_value is None or not _fits(b.value(a).shape, other_value.shape, b.max_size):
        return False
    ta, tb = b.operand(a, da), b.operand(other, db)
    if ta is None or tb is None:
        return False
    if joint is not None and not joint(b.evaluate(ta), b.evaluate(tb)):
        return False
    operator = _OPERATORS.get(name)
    if operator and b.draw(st.booleans()):
        return b.assign(f"{_paren(ta)} {operator} {_paren(tb)}", name)
    return b.assign(f"np.{name}({ta}, {tb})", name)


def _paren(text: str) -> str:
    return text if text.isidentifier() or text.startswith("(") else f"({text})"


def _power(b: _Builder) -> bool:
    t = b.pick()
    exponent = b.draw(st.sampled_from(["2", "3", "0.5", "-1", "1.5", "t"]))
    if exponent in ("2", "3"):
        return b.assign(f"{_paren(t)} ** {exponent}", "**")
    base = b.operand(t, "pos")
    if base is None:
        return False
    if exponent == "t":
        e = b.pick()
        e_text = b.operand(e, "unit")
        return e_text is not None and b.assign(f"{_paren(base)} ** {_paren(e_text)}", "**")
    return b.assign(f"{_paren(base)} ** {exponent}", "**")


def _where(b: _Builder) -> bool:
    names = comparisons()
    if not names:
        return False
    a = b.pick()
    other = b.partner(b.value(a).shape)
    other_value = b.evaluate(other)
    if other_value is None or not _fits(b.value(a).shape, other_value.shape, b.max_size) or \
            not _apart(b.value(a), other_value):
        return False
    cmp = b.draw(st.sampled_from(names))
    cond = f"{a} {_COMPARISONS[cmp]} {_paren(other)}" if b.draw(st.booleans()) else \
        f"np.{cmp}({a}, {other})"
    x, y = b.pick(), b.pick()
    return b.assign(f"np.where({cond}, {x}, {y})", "where")


def _axis(b: _Builder, ndim: int):
    if ndim == 0:
        return None
    choice = b.draw(st.sampled_from(["none", "int", "neg", "tuple"]))
    if choice == "int":
        return b.draw(st.integers(0, ndim - 1))
    if choice == "neg":
        return -1
    if choice == "tuple" and ndim >= 2:
        return tuple(sorted(b.draw(st.sets(st.integers(0, ndim - 1), min_size=1))))
    return None


def _reduction(b: _Builder, name: str, safe: Callable | None = None) -> bool:
    t = b.pick()
    value = b.value(t)
    axis = _axis(b, value.ndim)
    keep = ", keepdims=True" if value.ndim and b.draw(st.booleans()) else ""
    if safe is not None and not safe(value, axis):
        return False
    if value.ndim and b.draw(st.booleans()) and hasattr(np.ndarray, name):
        return b.assign(f"{t}.{name}(axis={axis!r}{keep})", name)
    return b.assign(f"np.{name}({t}, axis={axis!r}{keep})", name)


def _unique_extreme(value, axis) -> bool:
    """The max and the min along `axis` lead their runners-up by a margin (no ties)."""
    if value.ndim == 0:
        return True
    axes = range(value.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    axes = tuple(a % value.ndim for a in axes)
    v = np.moveaxis(value, axes, tuple(range(-len(axes), 0)))
    v = np.sort(v.reshape(v.shape[:value.ndim - len(axes)] + (-1,)), axis=-1)
    if v.shape[-1] < 2:
        return True
    return bool(np.all(v[..., -1] - v[..., -2] >= MARGIN) and
                np.all(v[..., 1] - v[..., 0] >= MARGIN))


def _spread(value, axis) -> bool:
    return bool(np.all(np.var(value, axis=axis) >= 0.05))


def _cumulative(b: _Builder, name: str) -> bool:
    t = b.pick()
    ndim = b.value(t).ndim
    axis = b.draw(st.integers(0, ndim - 1)) if ndim and b.draw(st.booleans()) else None
    return b.assign(f"np.{name}({t}, axis={axis!r})", name)


def _matmul(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    shape = b.value(t).shape
    m = b.draw(st.integers(1, 3))
    left = b.draw(st.booleans()) and len(shape) >= 1
    other_shape = (m, shape[-2] if len(shape) >= 2 else shape[0]) if left else \
        (shape[-1], m) if b.draw(st.booleans()) else (shape[-1],)
    other = b.new_input(other_shape) if b.draw(st.booleans()) else b.constant(other_shape)
    a, c = (other, t) if left else (t, other)
    if name == "matmul" and b.draw(st.booleans()):
        return b.assign(f"{_paren(a)} @ {_paren(c)}", "@")
    if name == "dot" and (len(shape) > 2):
        return False
    return b.assign(f"np.{name}({a}, {c})", name)


def _outer(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=1)
    if t is None or b.value(t).ndim != 1:
        return False
    return b.assign(f"np.{name}({t}, {b.partner((b.value(t).shape[0],))})", name)


def _transpose(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=2)
    if t is None:
        return False
    ndim = b.value(t).ndim
    if name == "transpose" and b.draw(st.booleans()):
        return b.assign(f"{t}.T", ".T")
    if name == "transpose":
        perm = b.draw(st.permutations(range(ndim)))
        return b.assign(f"np.transpose({t}, {tuple(perm)!r})", name)
    if name == "swapaxes":
        return b.assign(f"np.swapaxes({t}, 0, -1)", name)
    return b.assign(f"np.moveaxis({t}, 0, -1)", name)


def _reshape(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    size = b.value(t).size
    if name == "ravel":
        return b.assign(f"np.ravel({t})", name)
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    d = b.draw(st.sampled_from(divisors))
    shape = b.draw(st.sampled_from([(d, size // d), (size,), (d, -1), (1, size)]))
    if b.draw(st.booleans()):
        return b.assign(f"{t}.reshape({shape!r})", name)
    return b.assign(f"np.reshape({t}, {shape!r})", name)


def _broadcast_to(b: _Builder, name: str) -> bool:
    t = b.pick()
    shape = b.value(t).shape
    target = (2,) + shape if int(np.prod(shape, dtype=int)) * 2 <= MAX_SIZE else shape
    return b.assign(f"np.broadcast_to({t}, {target!r})", name)


def _axes_edit(b: _Builder, name: str) -> bool:
    t = b.pick()
    value = b.value(t)
    if name == "expand_dims":
        return b.assign(f"np.expand_dims({t}, {b.draw(st.integers(0, value.ndim))})", name)
    if name == "squeeze":
        return 1 in value.shape and b.assign(f"np.squeeze({t})", name)
    if name in ("flip", "roll") and value.ndim:
        extra = ", 1" if name == "roll" else ""
        return b.assign(f"np.{name}({t}{extra}, axis={b.draw(st.integers(0, value.ndim - 1))})",
                        name)
    if name in ("tile", "repeat") and value.ndim:
        return b.assign(f"np.{name}({t}, 2)", name)
    return False


def _join(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    shape = b.value(t).shape
    same = [n for n in b.pool if b.value(n).shape == shape]
    other = same[-1 - b.draw(st.integers(0, len(same) - 1))]
    if name == "concatenate":
        return b.assign(f"np.concatenate([{t}, {other}], axis={b.draw(st.integers(0, len(shape) - 1))})",
                        name)
    return b.assign(f"np.{name}([{t}, {other}])", name)


def _matrix(b: _Builder, name: str) -> bool:
    """A square matrix function on a well-conditioned argument."""
    t = b.pick(ndim_min=2)
    if t is None:
        return False
    value = b.value(t)
    if value.shape[-1] != value.shape[-2] or value.ndim != 2:
        return False
    if name in ("inv", "det", "solve", "slogdet") and \
            (np.linalg.cond(value) > 30 or abs(np.linalg.det(value)) < 0.1):
        return False
    if name == "solve":
        return b.assign(f"np.linalg.solve({t}, {b.partner((value.shape[0],))})", name)
    if name == "slogdet":
        return b.assign(f"np.linalg.slogdet({t})[1]", name)
    prefix = "np.linalg." if name in ("inv", "det") else "np."
    return b.assign(f"{prefix}{name}({t})", name)


def _norm(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=1)
    return t is not None and np.linalg.norm(b.value(t)) >= 0.3 and \
        b.assign(f"np.linalg.norm({t})", name)


def _clip(b: _Builder, name: str) -> bool:
    t = b.pick()
    value = b.value(t)
    if np.any(np.abs(value - 0.5) < MARGIN) or np.any(np.abs(value + 0.5) < MARGIN):
        return False
    return b.assign(f"np.clip({t}, -0.5, 0.5)", name)


def _piecewise(b: _Builder, name: str, domain: str) -> bool:
    t = b.pick()
    return DOMAINS[domain][0](b.value(t)) and b.assign(f"np.{name}({t})", name)


def _einsum(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=2)
    if t is None or b.value(t).ndim != 2:
        return False
    n = b.value(t).shape[1]  # symdiff does not broadcast inside einsum: exact shapes
    other = b.new_input((n,)) if b.draw(st.booleans()) else b.constant((n,))
    return b.assign(f"np.einsum('ij,j->i', {t}, {other})", name)


def _trace(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=2)
    return t is not None and b.value(t).ndim == 2 and b.assign(f"np.{name}({t})", name)


def _diag(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=1)
    return t is not None and b.value(t).ndim in (1, 2) and b.assign(f"np.diag({t})", name)


def _pair(b: _Builder, name: str) -> bool:
    """Functions of two arrays of one shape: vdot, tensordot over the last axis."""
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    shape = b.value(t).shape
    same = [n for n in b.pool if b.value(n).shape == shape]
    other = same[-1 - b.draw(st.integers(0, len(same) - 1))]
    if name == "tensordot":
        matrix = b.constant((shape[-1], 2))
        return b.assign(f"np.tensordot({t}, {matrix}, axes=1)", name)
    return b.assign(f"np.{name}({t}, {other})", name)


def _rearrange(b: _Builder, name: str) -> bool:
    """Value-preserving rearrangements: pad, flips, splits, copies, promotions."""
    t = b.pick()
    value = b.value(t)
    if name == "fliplr" and value.ndim < 2 or name == "flipud" and value.ndim < 1:
        return False
    if name == "pad":
        return value.ndim > 0 and b.assign(f"np.pad({t}, 1)", name)
    if name in ("split", "array_split"):
        return value.ndim > 0 and value.shape[0] % 2 == 0 and \
            b.assign(f"np.{name}({t}, 2)[1]", name)
    if name == "column_stack":
        return value.ndim == 1 and b.assign(f"np.column_stack([{t}, {t}])", name)
    if name in ("ones_like", "zeros_like", "full_like"):
        extra = ", 2.5" if name == "full_like" else ""
        return b.assign(f"{t} * np.{name}({t}{extra})", name)
    return b.assign(f"np.{name}({t})", name)


def _index(b: _Builder) -> bool:
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    n = b.value(t).shape[0]
    key = b.draw(st.sampled_from(["1:", "::-1", "0", "-1", "..., 0", ":, None",
                                  f"[{n - 1}, 0]", f"[0, {n - 1}, 0]",
                                  f"np.array([[{n - 1}, 0], [0, 0]])"]))
    return b.assign(f"{t}[{key}]", "[]")


def _keys(shape: tuple[int, ...]) -> list[str]:
    """Indices for item assignment, repeated integer indices among them."""
    n = shape[0]
    keys = ["0", "-1", "1:", "::2", "...", f"[0, {n - 1}]", f"[{n - 1}, 0, {n - 1}]"]
    if len(shape) >= 2:
        keys += [":, 0", f":, {shape[1] - 1}", "0, 0", f"[0, 0], [{shape[1] - 1}, 0]"]
    return keys


def _writable(b: _Builder, name: str) -> bool:
    """Item assignment into `name` changes nothing else: no statement has read it since
    its last write (so no view of it exists) and it is no view itself."""
    value = b.env[name]
    return isinstance(value, np.ndarray) and value.ndim >= 1 and value.flags.writeable and \
        not b.read_after(name, b.assigned.get(name, -1)) and \
        not any(o != name and np.shares_memory(value, v) for o, v in b.env.items())


def _setitem(b: _Builder) -> bool:
    """`y[key] = v`, `y[key] += v` ... into a fresh value, or into a copy (`.copy()`,
    `np.zeros_like`) of one read already."""
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    if not _writable(b, t) or b.draw(st.booleans()):
        how = b.draw(st.sampled_from(["{}.copy()", "np.copy({})", "np.zeros_like({})",
                                      "np.ones_like({})"]))
        if not b.assign(how.format(t), "copy" if "copy" in how else how[3:-4]):
            return False
        t = b.pool[-1]
    key = b.draw(st.sampled_from(_keys(b.value(t).shape)))
    try:
        shape = eval(f"v[{key}]", {"np": np}, {"v": b.value(t)}).shape
    except IndexError:
        return False
    op = b.draw(st.sampled_from(["=", "=", "+=", "-=", "*="]))
    candidates = [n for n in b.pool if n != t and _fits(b.value(n).shape, shape, b.max_size)
                  and np.broadcast_shapes(b.value(n).shape, shape) == shape]
    kind = b.draw(st.sampled_from(["pool", "other"]))
    if kind == "pool" and candidates:
        text = candidates[-1 - b.draw(st.integers(0, len(candidates) - 1))]
    else:
        text = b.partner(shape)
        if re.search(rf"\b{t}\b", text):
            return False
    return b.store(t, key, op, text)


def _take(b: _Builder, name: str) -> bool:
    """np.take / np.take_along_axis with constant indices that repeat."""
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    shape = b.value(t).shape
    axis = b.draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    if name == "take":
        idx = b.draw(st.sampled_from([f"[0, {n - 1}, 0]", f"[{n - 1}]", "1", "-1",
                                      f"np.array([[0, 0], [{n - 1}, 0]])"]))
        if b.draw(st.booleans()):
            return b.assign(f"np.take({t}, {idx})", name)
        return b.assign(f"np.take({t}, {idx}, axis={axis})", name)
    idx = np.zeros(shape, dtype=int)
    idx[...] = np.arange(n - 1, -1, -1).reshape((n,) + (1,) * (len(shape) - 1 - axis))
    idx = np.take(idx, [0, 0] + list(range(1, n)), axis=axis)  # a repeat along `axis`
    return b.assign(f"np.take_along_axis({t}, np.array({idx.tolist()!r}), axis={axis})", name)


def _triangle(b: _Builder, name: str) -> bool:
    t = b.pick(ndim_min=1)
    if t is None:
        return False
    if name == "vander":
        n = b.draw(st.integers(1, 4))
        inc = ", increasing=True" if b.draw(st.booleans()) else ""
        return b.value(t).ndim == 1 and b.assign(f"np.vander({t}, {n}{inc})", name)
    k = b.draw(st.sampled_from(["", ", 1", ", -1", ", k=2"]))
    return b.value(t).ndim >= 2 and b.assign(f"np.{name}({t}{k})", name)


#: NumPy function -> builder, for the functions symdiff traces (`tracer.FUNCTIONS`)
FUNCTION_BUILDERS: dict[Callable, Callable[[_Builder], bool]] = {}


def _register(funcs, builder, *extra):
    for f in funcs:
        if f is not None:
            FUNCTION_BUILDERS[f] = (lambda b, name=f.__name__: builder(b, name, *extra))


_register([np.sum, np.mean, np.average, np.prod], _reduction)
_register([np.max, np.min, getattr(np, "amax", None), getattr(np, "amin", None)], _reduction,
          _unique_extreme)
_register([np.var, np.std], _reduction, _spread)
_register([np.cumsum, np.cumprod], _cumulative)
_register([np.matmul, np.dot, np.inner], _matmul)
_register([np.outer], _outer)
_register([np.transpose, np.swapaxes, np.moveaxis], _transpose)
_register([np.reshape, np.ravel], _reshape)
_register([np.broadcast_to], _broadcast_to)
_register([np.expand_dims, np.squeeze, np.flip, np.roll, np.tile, np.repeat], _axes_edit)
_register([np.concatenate, np.stack, np.hstack, np.vstack], _join)
_register([np.linalg.inv, np.linalg.det, np.linalg.solve, np.linalg.slogdet, np.diagonal],
          _matrix)
_register([np.linalg.norm], _norm)
_register([np.clip], _clip)
_register([np.round, getattr(np, "around", None)], _piecewise, "nonhalf")
_register([np.fix], _piecewise, "nonint")
_register([np.einsum], _einsum)
_register([np.diag], _diag)
_register([np.trace], _trace)
_register([np.vdot, np.tensordot], _pair)
_register([np.pad, np.fliplr, np.flipud, np.split, np.array_split, np.column_stack,
           np.atleast_1d, np.atleast_2d, np.copy, np.ones_like, np.zeros_like, np.full_like],
          _rearrange)
_register([np.take, np.take_along_axis], _take)
_register([np.tril, np.triu, np.vander], _triangle)
FUNCTION_BUILDERS[np.where] = _where


def unfuzzed() -> list[str]:
    """Functions symdiff traces that no builder draws (shape queries and the like)."""
    return sorted(getattr(f, "__name__", repr(f)) for f in tracer.FUNCTIONS
                  if f not in FUNCTION_BUILDERS)


def _steps() -> list[tuple[str, Callable[[_Builder], bool]]]:
    """Every kind of step, named; drawn uniformly (simple ones first, for shrinking)."""
    steps = [(name, lambda b, n=name, d=domain: _unary(b, n, d))
             for name, domain in sorted(unary_ops().items())]
    steps += [(name, lambda b, n=name, r=rule: _binary(b, n, r))
              for name, rule in sorted(binary_ops().items())]
    steps += [("**", _power)]
    if hasattr(tracer.Tracer, "__getitem__"):
        steps.append(("[]", _index))
    if hasattr(tracer.Tracer, "__setitem__"):
        steps += [("[]=", _setitem)] * 3  # many forms: drawn as often as three ops
    steps += [(getattr(f, "__name__", repr(f)), builder)
              for f, builder in FUNCTION_BUILDERS.items() if f in tracer.FUNCTIONS]
    steps += EXTRA_STEPS  # constructs NumPy does not dispatch (fuzz_more.py)
    from fuzz_widening import extra_steps  # (it builds on this module)

    steps += extra_steps()
    order = {"add": 0, "multiply": 1, "exp": 2, "sum": 3}
    return sorted(steps, key=lambda s: (order.get(s[0], 9), s[0]))


_SHAPES = [(), (3,), (2, 3), (4,), (3, 1), (2, 2), (2, 3, 2)]
#: shapes of 40,000 elements and more, where the printer orders a sum of several
#: terms so that NumPy can reuse temporaries (a different rounding)
_LARGE_SHAPES = [(200, 200), (40_000,), (250, 160)]
#: steps a large program draws: elementwise ones and reductions (finite differences
#: along one direction keep it cheap; no literal constants of its size)
_LARGE_STEPS = {"add", "multiply", "subtract", "divide", "exp", "sin", "tanh", "log",
                "sqrt", "square", "maximum", "logaddexp", "**", "where", "sum", "mean",
                "[]=", "cumsum"}


@st.composite
def programs(draw, max_steps: int = MAX_STEPS) -> Program:
    """A random program over symdiff's op table; see the module docstring. About one
    in 40 is large (>= 40,000 elements), one in 8 in float32, one in 20 works at
    magnitudes up to 1e6, one in 20 sits on a kink or tie (`fuzz_widening`), and one
    in 6 is checked through another transform than value_and_grad."""
    from fuzz_widening import big_inputs, kink_program, pick_transform

    kind = draw(st.sampled_from(["float64"] * 30 + ["float32"] * 5 + ["large"]
                                + ["big"] * 2 + ["kink"] * 2))
    if kind == "kink":
        return kink_program(draw)
    steps = _steps()
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "large":
        b = _Builder(draw, rng, max_size=max(int(np.prod(s)) for s in _LARGE_SHAPES))
        steps = [s for s in steps if s[0] in _LARGE_STEPS]
        b.new_input(draw(st.sampled_from(_LARGE_SHAPES)))
        max_steps = min(max_steps, 4)
    else:
        b = _Builder(draw, rng, dtype=np.float32 if kind == "float32" else np.float64)
    if kind == "big":
        steps = big_inputs(b, steps)
    for _ in range(draw(st.integers(1 if kind != "large" else 0, 2))):
        b.new_input(draw(st.sampled_from(_SHAPES)))
    n_steps = draw(st.integers(1, max_steps))
    attempts = 0
    while len(b.lines) < n_steps and attempts < 4 * max_steps:
        attempts += 1
        _, step = draw(st.sampled_from(steps))
        step(b)
    # the result reads every value no later statement reads, so that all code is live
    ends = [n for n, i in b.assigned.items() if not b.read_after(n, i)]
    terms = [n if b.value(n).ndim == 0 else draw(st.sampled_from(
        [f"np.sum({n})", f"np.mean({n})", f"np.sum({n} * {n})"])) for n in ends or b.pool[-1:]]
    ret = f"    return {' + '.join(terms)}"
    source = _source(b, b.lines + [ret])
    reference = _source(b, [b.references.get(i, line) for i, line in enumerate(b.lines)]
                        + [ret]) if b.references else None
    nums = draw(st.sets(st.sampled_from(b.floats), min_size=1))
    size = max(np.size(v) for v in b.env.values())
    program = Program(source, tuple(b.args), tuple(sorted(nums)), b.ops, b.scale, size,
                      b.literals, reference)
    program.transform = pick_transform(draw, program, kind)
    return program


def _source(b: _Builder, lines: list[str]) -> str:
    source = f"def f({', '.join(b.params)}):\n" + "\n".join(lines) + "\n"
    if b.closure:  # f reads constants from the enclosing function
        source = "def make():\n" + "\n".join(b.closure) + "\n\n" + \
            "".join(f"    {line}\n" if line else "\n" for line in source.splitlines()) + \
            "\n    return f\n"
    return source


# -- the check -----------------------------------------------------------------------------
def _call(f: Callable, args) -> float:
    """f on copies of `args`: a program may assign into its arguments."""
    with np.errstate(all="ignore"):
        return float(f(*[np.array(a) if isinstance(a, np.ndarray) else a for a in args]))


def _with(args: tuple, i: int, x: np.ndarray) -> list:
    a = list(args)
    a[i] = float(x) if isinstance(args[i], float) else x
    return a


def finite_difference(f: Callable, args: tuple, i: int, h: float) -> np.ndarray | float:
    """d f / d args[i], every element, by the 4-point central stencil (error O(h^4)),
    in float64 whatever the arguments' dtype."""
    args = tuple(np.asarray(a, dtype=np.float64) if isinstance(a, np.ndarray) and
                 a.dtype.kind == "f" else a for a in args)
    x0 = np.array(args[i], dtype=np.float64)
    out = np.zeros_like(x0)
    for k in range(x0.size):
        step = h * max(1.0, abs(x0.flat[k]))
        values = []
        for offset in (-2, -1, 1, 2):
            x = x0.copy()
            x.flat[k] += offset * step
            values.append(_call(f, _with(args, i, x)))
        out.flat[k] = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * step)
    return float(out) if isinstance(args[i], float) else out


def directional_difference(f: Callable, args: tuple, i: int, d: np.ndarray, h: float) -> float:
    """d/ds f(args[i] + s d) at s = 0, by the 4-point central stencil (large arguments)."""
    x0 = np.asarray(args[i], dtype=np.float64)
    values = [_call(f, _with(args, i, x0 + offset * h * d)) for offset in (-2, -1, 1, 2)]
    return (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * h)


def check(program: Program) -> str | None:
    """None if symdiff's value and gradient agree with NumPy and finite differences
    (float32 programs within float32 rounding, large arguments along a random
    direction); otherwise a description of the disagreement."""
    if program.transform != "value_and_grad":
        from fuzz_widening import check_transform

        return check_transform(program)
    f = program.function()
    ref = program.function(reference=True)
    want = _call(ref, program.args)
    args = [np.array(a) if isinstance(a, np.ndarray) else a for a in program.args]
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", symdiff.CapturedArrayWarning)  # closures: meant
            value, grads = symdiff.value_and_grad(f, argnums=program.argnums)(*args)
    except Exception as e:  # noqa: BLE001 - any failure to compile is a finding
        return f"symdiff raised {type(e).__name__}: {e}\n{traceback.format_exc(limit=-3)}"
    for a, given in zip(args, program.args):
        if isinstance(a, np.ndarray) and not np.array_equal(a, given):
            return "symdiff changed an argument in place"
    scale = max(1.0, program.scale)
    single = any(getattr(a, "dtype", None) == np.float32 for a in program.args)
    rtol, atol = (1e-4, 1e-5 * scale) if single else (1e-9, 1e-12 * scale)
    atol *= max(1.0, program.size / MAX_SIZE)  # long sums round more
    if not np.isclose(value, want, rtol=rtol, atol=atol):
        return f"value {value!r} != NumPy's {want!r}"
    for i, g in zip(program.argnums, grads):
        if np.shape(g) != np.shape(program.args[i]):
            return f"gradient of argument {i} has shape {np.shape(g)}, not {np.shape(program.args[i])}"
        dtype = getattr(program.args[i], "dtype", None)
        if dtype is not None and np.asarray(g).dtype != dtype:
            return f"gradient of argument {i} has dtype {np.asarray(g).dtype}, not {dtype}"
        g = np.asarray(g, dtype=np.float64)
        if np.size(g) > MAX_SIZE:
            d = np.random.default_rng(i).standard_normal(np.shape(g))
            d /= np.linalg.norm(d)
            fd1 = directional_difference(ref, program.args, i, d, 1e-3)
            fd2 = directional_difference(ref, program.args, i, d, 5e-4)
            g, fd1, fd2 = np.sum(g * d), np.asarray(fd1), np.asarray(fd2)
        else:
            fd1 = finite_difference(ref, program.args, i, 1e-3)
            fd2 = finite_difference(ref, program.args, i, 5e-4)
        noise = np.abs(fd1 - fd2)  # estimates the finite-difference error
        tol = (1e-3 if single else 1e-6) * (scale + np.abs(fd2)) + 30 * noise
        bad = ~(np.abs(g - fd2) <= tol)
        if np.any(bad):
            return (f"gradient of argument {i}: symdiff {np.atleast_1d(g)[np.atleast_1d(bad)]!r} "
                    f"vs finite differences {np.atleast_1d(fd2)[np.atleast_1d(bad)]!r}")
    return None


#: (name, builder) steps beyond FUNCTION_BUILDERS: np.array of traced values, lists
#: given to NumPy, buffers, math (filled by fuzz_more.py)
EXTRA_STEPS: list[tuple[str, Callable]] = []

import fuzz_more  # noqa: E402,F401  (builders for NumPy as people write it)
