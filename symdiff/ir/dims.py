"""Dimensions: an int, or a SymPy expression in dimension symbols (`n`, `d`, `n - 1`).

A program traced with symbolic dimensions is valid for every size: `mean` is a
division by `n`, and the emitted module binds ``n, d = X.shape``. Every shape
computation of the tracer and the shape rules goes through these helpers, so that
ints and expressions mix: two dimensions are equal when they are the same
expression; a symbolic dimension broadcasts against 1 or an equal dimension, never
silently against another symbol (JAX's shape polymorphism makes the same choice).

Under `unifying` (the decorator's default, `--dims auto`), every dimension starts as
a symbol of its own and an equality the program requires merges symbols: the trace
stops with `Unify`, and is run again with the merged assignment.
"""

from __future__ import annotations

import contextvars
import keyword
import numbers
from collections.abc import Iterable, Mapping, Sequence

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from ..errors import SymbolicDimError, user_location

__all__ = ["Dim", "Size", "user_size", "dim", "canon", "canon_shape", "prod", "is_symbolic", "symbols_of",
           "broadcast_shapes", "equal", "concrete", "at_least", "requirements",
           "require_nonnegative", "require_divisible", "instantiate", "shape_text", "text",
           "check_name", "reshape_shape", "Unify", "unifying", "standing_in", "RESERVED"]

#: Names a dimension may not take: they mean something in every generated module.
RESERVED = frozenset({"np", "value"}) | frozenset(keyword.kwlist)


class Dim(sp.Symbol):
    """A dimension symbol: a positive integer. `range(n)` or `int(n)` on one raises
    SymbolicDimError (a TypeError too, as for any non-integer)."""

    def __index__(self):
        return concrete(self, "needs its concrete value (range(), int(), an array of "
                        "that length)")

    __int__ = __index__

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """`np.sqrt(d)` of a size: traced math on it, when a trace is running."""
        if UFUNC_HOOK is None:
            return NotImplemented
        return UFUNC_HOOK(ufunc, method, *inputs, **kwargs)


#: Set by the tracer: applies a NumPy ufunc to sizes (and traced values) in the trace
#: that is running (`np.sqrt(x.shape[-1])` in attention code).
UFUNC_HOOK = None


class Size:
    """A symbolic size as the user's code sees it (`X.shape[0]`): arithmetic gives
    sizes, and a comparison is answered only when it holds for every size (`n == n`,
    `n >= 1`); otherwise (`n == 3`, `n == d`, `n > 100`) the program depends on the
    size, and SymbolicDimError says so (under --dims auto, that size stays fixed).
    Python would otherwise compare SymPy expressions structurally: `n == d` False even
    where the arguments' sizes are equal, a silently wrong branch."""

    __slots__ = ("expr",)

    def __init__(self, expr):
        self.expr = expr

    def __repr__(self) -> str:
        return str(self.expr)

    def __hash__(self) -> int:
        return hash(self.expr)

    def _compare(self, other, relation, text: str) -> bool:
        if isinstance(other, Size):
            other = other.expr
        elif isinstance(other, numbers.Number) and not isinstance(other, bool):
            other = sp.sympify(other)  # (3, np.int64(3), 3.0)
        elif not isinstance(other, sp.Basic):
            return NotImplemented
        lhs, rhs = self.expr, other
        truth = relation(lhs, rhs)
        if truth in (sp.true, sp.false):
            return bool(truth)
        raise SymbolicDimError(", ".join(sorted(map(str, symbols_of(lhs) | symbols_of(rhs)))),
                               f"compares sizes ({lhs} {text} {rhs}), which holds for "
                               "some sizes only", user_location())

    def __eq__(self, other):
        return self._compare(other, sp.Eq, "==")

    def __ne__(self, other):
        result = self._compare(other, sp.Eq, "!=")
        return result if result is NotImplemented else not result

    def __lt__(self, other):
        return self._compare(other, sp.StrictLessThan, "<")

    def __le__(self, other):
        return self._compare(other, sp.LessThan, "<=")

    def __gt__(self, other):
        return self._compare(other, sp.StrictGreaterThan, ">")

    def __ge__(self, other):
        return self._compare(other, sp.GreaterThan, ">=")

    def __bool__(self) -> bool:
        return True  # a size is at least 1

    def __index__(self):
        return concrete(self.expr, "needs its concrete value (range(), int(), an array of "
                        "that length)")

    __int__ = __index__

    def __float__(self):
        return float(self.__index__())

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if UFUNC_HOOK is None:
            return NotImplemented
        return UFUNC_HOOK(ufunc, method, *(canon(a) if isinstance(a, Size) else a
                                           for a in inputs), **kwargs)


def _arithmetic(op):
    def method(self, other=None):
        if other is None:
            return user_size(op(self.expr))
        if isinstance(other, Size):
            other = other.expr
        elif isinstance(other, numbers.Number) and not isinstance(other, bool):
            other = sp.sympify(other)  # (2, np.int64(2), 2.0: -2.0 / x.shape[0])
        elif not isinstance(other, sp.Basic):
            return NotImplemented
        return user_size(op(self.expr, other))
    return method


for _name, _op in {"__add__": lambda a, b: a + b, "__radd__": lambda a, b: b + a,
                   "__sub__": lambda a, b: a - b, "__rsub__": lambda a, b: b - a,
                   "__mul__": lambda a, b: a * b, "__rmul__": lambda a, b: b * a,
                   "__floordiv__": lambda a, b: sp.floor(a / b),
                   "__rfloordiv__": lambda a, b: sp.floor(b / a),
                   "__mod__": lambda a, b: sp.Mod(a, b), "__pow__": lambda a, b: a**b,
                   "__truediv__": lambda a, b: a / b, "__rtruediv__": lambda a, b: b / a,
                   "__neg__": lambda a: -a}.items():
    setattr(Size, _name, _arithmetic(_op))


def user_size(d):
    """A dimension for the user's code: an int, or a `Size` (`n // 2` included; `n % 2`
    has no use as a size symdiff keeps symbolic)."""
    d = canon(d)
    if isinstance(d, sp.Basic) and d.has(sp.Mod):
        concrete(d, f"computes {text(d)} of sizes (%), which symdiff keeps only for "
                    "fixed sizes")
    return d if isinstance(d, int) else Size(d)


class _PythonSizes(StrPrinter):
    """Sizes as Python spells them: floor(n/2) is `n//2`, ceiling(n/3) `(n + 2)//3`."""

    def _print_floor(self, expr):
        num, den = sp.fraction(sp.together(expr.args[0]))
        if not den.is_Integer:
            raise ValueError(f"internal: no integer spelling of the size {expr}")
        return f"{self._operand(num)}//{den}" if den != 1 else self._print(num)

    def _print_ceiling(self, expr):  # ceil(p/q) = (p + q - 1)//q
        num, den = sp.fraction(sp.together(expr.args[0]))
        return self._print_floor(sp.floor((num + den - 1) / den, evaluate=False))

    def parenthesize(self, item, level, strict=False):
        # `//` and `%` bind as `*` does, left to right: 2*(n//2) is not 2*n//2
        if isinstance(item, (sp.floor, sp.ceiling, sp.Mod)) and level >= PRECEDENCE["Mul"]:
            return f"({self._print(item)})"
        return super().parenthesize(item, level, strict)

    def _print_Mul(self, expr):
        if expr.could_extract_minus_sign() and expr.has(sp.floor, sp.ceiling, sp.Mod):
            # -(n//2), not -n//2 (that is (-n)//2)
            return "-" + self.parenthesize(-expr, PRECEDENCE["Mul"])
        return super()._print_Mul(expr)

    def _print_Mod(self, expr):
        return f"{self._operand(expr.args[0])} % {self._operand(expr.args[1])}"

    def _operand(self, e) -> str:
        return self._print(e) if e.is_Atom or e.is_Function else f"({self._print(e)})"


def text(d) -> str:
    """A dimension as Python code (`n - 1`, `(n + 1)//2`), for the generated module."""
    d = canon(d)
    return str(d) if isinstance(d, int) else _PythonSizes().doprint(d)


def dim(name: str) -> Dim:
    return Dim(name, integer=True, positive=True)


def check_name(name: str, taken: Iterable[str] = ()) -> str:
    """`name` when it can name a dimension in generated code; else ValueError."""
    if not (isinstance(name, str) and name.isidentifier()) or name in RESERVED \
            or name.startswith("_") or name in set(taken):
        raise ValueError(f"{name!r} cannot name a dimension: use an identifier that is not "
                         "a keyword, np, an argument's name, and does not start with _")
    return name


def canon(d):
    """A dimension in canonical form: an int, or a SymPy expression with symbols."""
    if type(d) is int:  # (the common case, asked for every axis of every new value)
        return d
    if isinstance(d, Size):
        d = d.expr
    if isinstance(d, sp.Basic):
        d = sp.sympify(d)
        if d.is_Integer:
            return int(d)
        return d
    return int(d)


def canon_shape(shape: Iterable) -> tuple:
    return tuple(canon(d) for d in shape)


def is_symbolic(shape) -> bool:
    """True when a dimension (or any dimension of a shape) is not an int."""
    if isinstance(shape, tuple):
        return any(isinstance(d, (sp.Basic, Size)) for d in shape)
    return isinstance(shape, (sp.Basic, Size))


def symbols_of(shape) -> set:
    items = tuple(map(canon, shape)) if isinstance(shape, tuple) else (canon(shape),)
    return set().union(*(d.free_symbols for d in items if isinstance(d, sp.Basic)))


def prod(shape: Sequence):
    out = 1
    for d in shape:
        out = out * d
    return canon(out)


# -- equality, broadcasting --------------------------------------------------------------
class Unify(Exception):
    """Raised while unifying: the program needs `a == b`; trace again with `subs`."""

    def __init__(self, subs: dict):
        super().__init__(f"unify {subs}")
        self.subs = subs


_EXAMPLE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("dims_example",
                                                                     default=None)
_NAMES: contextvars.ContextVar[dict | None] = contextvars.ContextVar("dims_names", default=None)


class unifying:
    """Within this context, dimension symbols with example sizes (`example`: symbol -> int)
    merge where the program requires them equal (see `Unify`), ordered by `names`."""

    def __init__(self, example: Mapping, names: Mapping | None = None):
        self.example, self.names = dict(example), dict(names or {})

    def __enter__(self):
        self._tokens = (_EXAMPLE.set(self.example), _NAMES.set(self.names))

    def __exit__(self, *exc):
        _NAMES.reset(self._tokens[1]), _EXAMPLE.reset(self._tokens[0])


def _example_value(d):
    example = _EXAMPLE.get()
    if example is None or not isinstance(d, sp.Basic):
        return d
    return canon(d.xreplace({s: example[s] for s in d.free_symbols if s in example}))


def equal(a, b) -> bool:
    """Structural equality of two dimensions (`n - 1 + 1` is `n`). Under `unifying`, two
    dimensions that differ as expressions but agree at the example sizes are merged."""
    a, b = canon(a), canon(b)
    if a == b or (isinstance(a, sp.Basic) or isinstance(b, sp.Basic)) and sp.expand(a - b) == 0:
        return True
    if _EXAMPLE.get() is not None and (is_symbolic(a) or is_symbolic(b)) and \
            _example_value(a) == _example_value(b):
        raise Unify(_merge(a, b))
    return False


def _merge(a, b) -> dict:
    """The substitution making `a == b`: a lone symbol becomes the other side (a symbol
    or a number); otherwise every symbol involved becomes its example size."""
    example = _EXAMPLE.get()
    for x, y in ((a, b), (b, a)):
        if isinstance(x, sp.Symbol) and x in example and x not in symbols_of(y):
            return {x: y}
    difference = sp.expand(sp.sympify(a) - b)  # n - 1 == m - 2: m is n + 1
    syms, by = difference.free_symbols & example.keys(), _NAMES.get() or {}  # (renamed: the names)
    for sym in sorted(syms, key=lambda s: by.get(s, str(s)), reverse=True):
        coeff = difference.coeff(sym)
        if coeff in (1, -1) and sym not in (difference - coeff * sym).free_symbols:
            return {sym: canon(sym - difference / coeff)}
    return {s: example[s] for s in symbols_of(a) | symbols_of(b) if s in example}


def broadcast_shapes(*shapes: tuple) -> tuple:
    """NumPy's broadcast of `shapes`, for int and symbolic dimensions; ValueError when
    they do not broadcast (two different symbols included)."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(ndim):
        dims = [s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0]
        result = 1
        for d in dims:
            d = canon(d)
            if isinstance(d, int) and d == 1:
                continue
            if isinstance(result, int) and result == 1:
                result = d
            elif not equal(result, d):
                raise ValueError("shape mismatch: objects cannot be broadcast to a single "
                                 f"shape: {' '.join(shape_text(s) for s in shapes)}")
        out.append(result)
    return tuple(out)


def at_least(d, k: int) -> bool:
    """Whether `d` may be `k` or more: for a symbolic size, yes (sizes are unbounded)."""
    d = canon(d)
    return d >= k if isinstance(d, int) else True


_STAND_IN: contextvars.ContextVar[dict | None] = contextvars.ContextVar("dims_stand_in",
                                                                     default=None)


class standing_in:
    """Within this context the symbols of `symbols` have the value `size` for Python's
    `range()`, `len()` and row indexing (and bounds go unrecorded): the loop folder
    lets a `for` over a symbolic number of steps start its first two iterations, whose
    loop variables it then replaces (trace/loops.py). Nothing traced may read it."""

    def __init__(self, symbols, size: int):
        self.values = {s: sp.Integer(size) for s in symbols}

    def __enter__(self):
        self._token = _STAND_IN.set(self.values)

    def __exit__(self, *exc):
        _STAND_IN.reset(self._token)


_REQUIRED: contextvars.ContextVar[list | None] = contextvars.ContextVar("dims_required",
                                                                     default=None)


class requirements:
    """Collect, within this context, what the traced program requires of the sizes
    (`require_nonnegative`): the generated module checks them."""

    def __enter__(self) -> list:
        self.found: list = []
        self._token = _REQUIRED.set(self.found)
        return self.found

    def __exit__(self, *exc):
        _REQUIRED.reset(self._token)


def require_nonnegative(expr, why: str) -> None:
    """The program is valid only where `expr` >= 0 (`n - 2` for ``x[2:]``): recorded
    with `why` for the module's input checks, unless it holds for every size >= 1;
    ValueError when it holds for no size (the ints of a fixed shape)."""
    expr = canon(expr)
    if _STAND_IN.get() is not None:
        return  # (the rows a folded loop's iterable yields before its body runs)
    if isinstance(expr, int):
        if expr < 0:
            raise ValueError(f"{why} needs {-expr} more elements than the axis has")
        return
    if expr.is_nonnegative or _nonnegative_with_floors(expr):
        return
    if _EXAMPLE.get() is not None and _example_value(expr) < 1:
        # at the example sizes a bound is reached (x[5:] of 5 elements is empty): the
        # program depends on these sizes beyond their being sizes, so keep them
        concrete(expr, f"uses {why}, which is empty or out of bounds at some sizes")
    found = _REQUIRED.get()
    if found is not None and (expr, why) not in found:
        found.append((expr, why))


def require_divisible(expr, k: int, why: str) -> None:
    """The program is valid only where `k` divides `expr` (np.split into k equal
    sections): recorded as Mod(expr, k) for the module's input checks, which raise
    ValueError elsewhere. At example sizes it does not hold for, the size stays a
    number (NumPy's own error then comes at those sizes)."""
    expr = canon(expr)
    rest = sp.Mod(expr, k)
    if rest == 0:
        return
    if _EXAMPLE.get() is not None and _example_value(expr) % k:
        concrete(expr, f"uses {why}, which needs it divisible by {k}")
    found = _REQUIRED.get()
    if found is not None and (rest, why) not in found:
        found.append((rest, why))


def _nonnegative_with_floors(expr) -> bool:
    """Whether `expr` >= 0 for every size, `n - n//2` included: floor(p/q) is (p - r)/q
    for an r in 0..q-1, and `expr` is linear in each r, so its two ends decide."""
    floors = list(expr.atoms(sp.floor))
    if not floors or len(floors) > 2:
        return False
    corners = [expr]
    for i, f in enumerate(floors):
        num, den = sp.fraction(sp.together(f.args[0]))
        if not den.is_Integer:
            return False
        r = sp.Symbol(f"_r{i}", integer=True, nonnegative=True)
        corners = [c.xreplace({f: (num - r) / den}) for c in corners]
        corners = [c.subs(r, k) for c in corners for k in (0, den - 1)]
    return all(sp.expand(c).is_nonnegative for c in corners)


def concrete(d, what: str = "", where: str | None = None) -> int:
    """`d` as an int; SymbolicDimError naming its symbols when it is symbolic (within
    `standing_in`, a size of a loop being folded has its stand-in value)."""
    d = canon(d)
    if isinstance(d, int):
        return d
    stand_in = _STAND_IN.get()
    if stand_in is not None and d.free_symbols <= set(stand_in):
        return int(d.xreplace(stand_in))
    names = ", ".join(sorted(str(s) for s in d.free_symbols))
    raise SymbolicDimError(names, what or f"needs the concrete size {d}",
                           where or user_location())


def instantiate(shape: tuple, sizes: Mapping) -> tuple[int, ...]:
    """`shape` at concrete sizes (symbol or name -> int)."""
    by_name = {str(k): v for k, v in sizes.items()}
    out = []
    for d in shape:
        if isinstance(d, sp.Basic):
            d = d.xreplace({s: by_name[s.name] for s in d.free_symbols})
        out.append(int(d))
    return tuple(out)


def shape_text(shape: tuple) -> str:
    """`(n, 3)` / `(n,)` / `()`: a shape as Python would write the tuple."""
    if len(shape) == 1:
        return f"({text(shape[0])},)"
    return "(" + ", ".join(map(text, shape)) + ")"


def reshape_shape(old: tuple, new: Sequence) -> tuple:
    """The shape `new` (one entry may be -1) for an array of shape `old`, as NumPy's
    reshape computes it; ValueError when the sizes differ, SymbolicDimError when the
    symbolic sizes do not determine it (-1 of n elements into rows of 3)."""
    new = [canon(d) for d in new]
    free = [i for i, d in enumerate(new) if isinstance(d, int) and d == -1]
    if len(free) > 1:
        raise ValueError("can only specify one unknown dimension")
    if any(isinstance(d, int) and d < 0 and i not in free for i, d in enumerate(new)):
        raise ValueError("negative dimensions not allowed")
    total = prod(old)
    known = prod(d for i, d in enumerate(new) if i not in free)
    if free:
        if not is_symbolic(total) and not is_symbolic(known):
            if known == 0 or total % known:
                raise ValueError(f"cannot reshape array of size {total} into shape "
                                 f"{shape_text(tuple(new))}")
            new[free[0]] = total // known
        else:
            quotient = sp.cancel(sp.sympify(total) / known)
            if not (quotient.is_integer and quotient.is_positive):
                concrete(quotient, f"reshapes {total} elements to "
                                   f"{shape_text(tuple(new))}, which is only determined "
                                   "for some sizes")
            new[free[0]] = canon(quotient)
        return tuple(new)
    if not equal(known, total):
        if is_symbolic(total) or is_symbolic(known):
            concrete(sp.sympify(total) - known, f"reshapes {total} elements to "
                     f"{shape_text(tuple(new))}, which holds {known}")
        raise ValueError(f"cannot reshape array of size {total} into shape "
                         f"{shape_text(tuple(new))}")
    return tuple(new)
