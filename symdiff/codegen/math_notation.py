"""Mathematics in ASCII, as the docstrings of generated functions state derivatives
(`derivatives_doc.py`): SymPy functions of whole arrays (`MatrixProduct`, `Transposed`,
`Total`, `AxisSum`, `Diag`, `Column`) and a `StrPrinter` subclass that writes them.

    X^T (sigma(logits) - y) / 20        2/n X^T residual        X^T diag(s) X / n

A scalar factor stands by juxtaposition (`2/n X^T r`), as does a matrix product
(`X w`); `*` and `^` between arrays are elementwise, `A^T` a transpose, `sum(x)` and
`sum(x, axis=0)` sums, `sigma` the logistic sigmoid. A tight `/` divides one factor
(`2 x/(1 + x)`), a spaced ` / ` the whole product before it. ASCII, because ruff's
RUF001-RUF003 flag the Greek sigma and the multiplication sign as confusable.
Stable forms read as the mathematics they compute: ``logaddexp(0, u)`` as
``log(1 + exp(u))``, ``log1p(u)`` as ``log(1 + u)``, ``hypot(x, y)`` as a square root.
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter

from ..ir.elementwise import sigmoid

__all__ = ["notation", "NotationPrinter", "Ranks", "LEGEND", "MatrixProduct", "Transposed",
           "Total", "AxisSum", "Column", "Diag", "as_sigmoid_of_positive"]


# -- array operations, as SymPy functions of whole arrays ---------------------------------
class MatrixProduct(sp.Function):
    """`A B`: a matrix product (an outer product `u v^T` of two vectors)."""

    nargs = 2


class Transposed(sp.Function):
    """`A^T`."""

    nargs = 1


class Total(sp.Function):
    """`sum(x)`: the sum of every element."""

    nargs = 1


class AxisSum(sp.Function):
    """`sum(x, axis=...)`: arguments the array and a Tuple of axes."""

    nargs = 2


class Column(sp.Function):
    """A vector as an (n, 1) column: `u[:, None]`, read by `diag(u) A` or `u v^T`."""

    nargs = 1


class Diag(sp.Function):
    """`diag(v)`: the diagonal matrix of a vector."""

    nargs = 1


def _negative(expr: sp.Expr) -> bool:
    return expr.could_extract_minus_sign()


def as_sigmoid_of_positive(expr: sp.Expr) -> sp.Expr:
    """sigma(-u) as 1 - sigma(u), so that (1 - y)*sigma(u) - y*sigma(-u) meets its
    textbook form sigma(u) - y."""
    return expr.replace(lambda e: isinstance(e, sigmoid) and _negative(e.args[0]),
                        lambda e: 1 - sigmoid(-e.args[0]))


# -- the printer ---------------------------------------------------------------------------
class NotationPrinter(StrPrinter):
    """SymPy's str printer with our array functions and ASCII mathematics: a scalar
    factor by juxtaposition (`2/n X^T r`), `*` between arrays, `^` for powers, terms
    with a matrix product first and subtracted ones last (`X w + b - y`). `ndim` gives
    the rank of an expression; `used` collects what the legend has to explain."""

    def __init__(self, ndim, sizes=frozenset()):
        super().__init__()
        self.ndim = ndim
        self.sizes = sizes
        self.used: set[str] = set()

    def _print_Symbol(self, expr):
        return expr.name

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Add(self, expr, order=None):
        terms = sorted(self._as_ordered_terms(expr, order=order),
                       key=lambda t: not t.has(MatrixProduct))  # (stable)
        first = next((i for i, t in enumerate(terms) if not _negative(t)), 0)
        terms.insert(0, terms.pop(first))  # sigma(u) - y, not -y + sigma(u)
        text = []
        for term in terms:
            sign, body = ("-", self._print(-term)) if _negative(term) else ("+", self._print(term))
            text += [sign, f"({body})" if term.is_Add or (sign == "-" and (-term).is_Add)
                     else body]
        return ("-" if text[0] == "-" else "") + " ".join(text[1:])

    def _print_Mul(self, expr):
        coeff, factors = expr.as_coeff_mul()
        if coeff.is_negative:
            return "-" + self._paren_if_add(-expr)
        num, den = [], []
        for f in factors:
            if f.is_Pow and f.exp.is_Number and f.exp.is_negative:
                den.append(f.base ** -f.exp)
            else:
                num.append(f)
        scalar_den = [d for d in den if self._size_like(d)]
        body = self._product(num)
        arrays = [d for d in den if d not in scalar_den]
        if arrays:  # a tight `/` binds one factor: `(2 x)/(1 + x)`, not `2 x/(1 + x)`
            body = f"{f'({body})' if ' ' in body else body or '1'}/{self._group(arrays)}"
        top = sp.Integer(coeff.p) if coeff.is_Rational else coeff
        bottom = [sp.Integer(coeff.q)] * (coeff.is_Rational and coeff.q != 1) + scalar_den
        if not bottom:
            return body if top == 1 and body else " ".join(
                t for t in (self._print(top), body) if t)
        if top == 1 and body:
            return f"{body} / {self._group(bottom)}"
        return " ".join(t for t in (f"{self._print(top)}/{self._group(bottom)}", body) if t)

    def _paren_if_add(self, expr):
        text = self._print(expr)
        return f"({text})" if expr.is_Add else text

    def _size_like(self, expr) -> bool:
        return expr.is_Number or bool(expr.free_symbols) and expr.free_symbols <= self.sizes

    def _group(self, factors) -> str:
        """A denominator: a symbol, a number, a call or a power as it is, anything
        else in parentheses."""
        text = self._product(factors)
        (f, *more) = factors
        atomic = f.is_Atom or f.is_Pow or isinstance(f, sp.Function) and not isinstance(
            f, (MatrixProduct, Transposed))
        return text if not more and (atomic or f.is_Add) else f"({text})"  # ((a + b))

    def _product(self, factors) -> str:
        """Scalars by juxtaposition, then arrays joined by `*` (elementwise)."""
        factors = sorted(factors, key=lambda f: (not f.has(MatrixProduct), f.is_Add))
        scalars = [f for f in factors if self.ndim(f) == 0]
        arrays = [f for f in factors if self.ndim(f) != 0]
        if len(arrays) > 1:
            self.used.add("elementwise")
        star = len(arrays) > 1
        words = [self._factor(f, star) for f in scalars]
        words += [" * ".join(self._factor(f, star) for f in arrays)] if arrays else []
        return " ".join(words)

    def _factor(self, f, star: bool) -> str:
        text = self._print(f)
        wrap = f.is_Add or _negative(f) or star and isinstance(f, MatrixProduct)
        return f"({text})" if wrap else text

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if exp == sp.S.Half:
            return f"sqrt({self._print(base)})"
        if exp.is_Number and exp.is_negative:
            return f"1/{self._group([base ** -exp])}"
        if self.ndim(base):
            self.used.add("elementwise")
        simple = base.is_Symbol or isinstance(base, sp.Function) and \
            not isinstance(base, Transposed)
        b = self._print(base) if simple else f"({self._print(base)})"
        e = self._print(exp)
        return f"{b}^{e if exp.is_Symbol or exp.is_Integer and exp > 0 else f'({e})'}"

    def _print_Rational(self, expr):
        return f"{expr.p}/{expr.q}"

    def _print_Abs(self, expr):
        return f"|{self._print(expr.args[0])}|"

    def _print_sigmoid(self, expr):
        return f"sigma({self._print(expr.args[0])})"

    def _print_logaddexp(self, expr):
        a, b = expr.args
        if a == 0:
            return f"log(1 + exp({self._print(b)}))"
        return f"log(exp({self._print(a)}) + exp({self._print(b)}))"

    def _print_log1p(self, expr):
        return f"log({self._print(1 + expr.args[0])})"

    def _print_expm1(self, expr):  # (in parentheses: a call reads as one factor)
        return f"(exp({self._print(expr.args[0])}) - 1)"

    def _print_hypot(self, expr):
        x, y = expr.args
        return f"sqrt({self._print(x**2 + y**2)})"

    def _print_Piecewise(self, expr):
        """`where(c, a, b)`, as np.where reads (nested for more pieces)."""
        (value, cond), *rest = expr.args
        if cond == sp.true:
            return self._print(value)
        other = sp.Piecewise(*rest) if rest else sp.nan
        return f"where({self._print(cond)}, {self._print(value)}, {self._print(other)})"

    def _operand(self, expr) -> str:
        text = self._print(expr)
        wrap = expr.is_Add or expr.is_Mul or expr.is_Pow or _negative(expr)
        return f"({text})" if wrap else text

    def _print_MatrixProduct(self, expr):
        self.used.add("matmul")
        return " ".join(self._operand(a) for a in expr.args)

    def _print_Transposed(self, expr):
        self.used.add("transpose")
        (arg,) = expr.args
        return f"{self._print(arg) if arg.is_Symbol else f'({self._print(arg)})'}^T"

    def _print_Total(self, expr):
        return f"sum({self._print(expr.args[0])})"

    def _print_AxisSum(self, expr):
        arg, axes = expr.args
        axis = str(axes[0]) if len(axes) == 1 else str(tuple(int(a) for a in axes))
        return f"sum({self._print(arg)}, axis={axis})"

    def _print_Column(self, expr):
        return f"{self._operand(expr.args[0])}[:, None]"

    def _print_Diag(self, expr):
        return f"diag({self._print(expr.args[0])})"


#: What the legend says for each notation a block uses, in this order.
LEGEND = {"matmul": "A B: matrix product", "transpose": "A^T: transpose",
           "elementwise": "* and ^: elementwise"}


def notation(expr: sp.Expr, ndims: dict[sp.Symbol, int], sizes=frozenset()) -> str:
    """`expr` (in our array functions) as ASCII mathematics; `ndims` gives the rank of
    each array symbol (others are scalars), `sizes` the symbols of sizes."""
    return NotationPrinter(Ranks(ndims), frozenset(sizes)).doprint(expr)


class Ranks:
    """The rank of an expression of arrays, from the ranks of its symbols."""

    def __init__(self, ndims: dict[sp.Symbol, int]):
        self.ndims = ndims

    def __call__(self, e: sp.Expr) -> int:
        if isinstance(e, MatrixProduct):
            a, b = e.args
            if isinstance(b, Transposed) and self(a) == 1 and self(b.args[0]) == 1:
                return 2  # u v^T
            ranks = (self(a), self(b))
            return {(1, 1): 0, (2, 1): 1, (1, 2): 1}.get(ranks, max(ranks))
        if isinstance(e, Total):
            return 0
        if isinstance(e, AxisSum):
            return self(e.args[0]) - len(e.args[1])
        if isinstance(e, (Column, Diag)):
            return 2
        if e.is_Symbol:
            return self.ndims.get(e, 0)
        return max((self(a) for a in e.args if isinstance(a, sp.Expr)), default=0)
