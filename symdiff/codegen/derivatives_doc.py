"""The derivatives of a generated function in mathematical notation, for its docstring
(as matrixcalculus.org states them beside its code):

    Derivatives (A B: matrix product, A^T: transpose):
        dloss/dw = X^T (sigma(logits) - y) / 20
        dloss/db = sum(sigma(logits) - y) / 20
        where logits = X w + b

Written from the module's optimised graph (`Program.graph`) before its stable forms
are printed (the docstring states the mathematics, the code the stable computation),
in the argument names and the user's named values that the function's code keeps,
each of which gets a `where` line. A derivative whose notation is wider than one
docstring line, or that reads an op with no notation here (indexing, einsum, a
constant array), is named without it; a function whose derivatives run through a
loop (or that branches) has no block. The notation itself: `math_notation.py`.
"""

from __future__ import annotations

import re

import sympy as sp

from ..autodiff.transforms import GradientPart
from ..ir.graph import CONST, ELEMENTWISE, INPUT, Graph, Node, Var
from ..ir.loops import LOOP
from ..passes.program import Program
from .math_notation import (
    LEGEND,
    AxisSum,
    Column,
    Diag,
    MatrixProduct,
    NotationPrinter,
    Ranks,
    Total,
    Transposed,
    as_sigmoid_of_positive,
)
from .naming import _assign_names

__all__ = ["derivatives_doc", "MAX_WIDTH", "TOO_LONG", "NO_FORM"]

#: The widest statement: a docstring line of 88 columns less its indent of 8.
MAX_WIDTH = 80
#: Expressions with more operations are not rearranged (nor, mostly, short).
_MAX_OPS = 60
#: Values whose tree would be larger are not built: no such line is short.
_MAX_TREE = 120
TOO_LONG = "(too long to state here)"
NO_FORM = "(no short form; see the code)"


class _NoNotation(Exception):
    """An op with no notation here."""


class _Builder:
    """The optimised graph's values as expressions of whole arrays: the arguments and
    the user's named values that the printed function keeps stand as symbols, each
    named value with its own definition (`where`)."""

    def __init__(self, program: Program, names: dict[sp.Symbol, str], forward=frozenset()):
        graph: Graph = program.graph
        self.graph = graph
        self.env: dict[Var, sp.Expr] = {}
        self.ndims: dict[sp.Symbol, int] = {}
        self.rank = Ranks(self.ndims)
        self.sizes: set[sp.Symbol] = set()
        self.where: dict[sp.Symbol, sp.Expr] = {}
        self.size: dict[Var, int] = {}  # (an upper bound on each value's tree)
        self.tidied: dict[sp.Expr, sp.Expr] = {}
        kept = {program.names.get(s.var) for s in program.statements if s.var is not None
                and names.get(s.target) == program.names.get(s.var)}
        inputs = set(program.inputs)
        self.named_vars = {v: sp.Symbol(n) for v, n in program.names.items()
                           if n in kept and v in forward and v not in inputs}
        taken = set(names.values()) - kept
        exprs = [(e, n) for e, n in program.expr_names.items() if n in taken]
        self.named_exprs = sorted(((e, sp.Symbol(n)) for e, n in exprs),
                                  key=lambda it: (-sp.count_ops(it[0]), it[1].name))
        self.printer = NotationPrinter(self.rank, self.sizes)

    def build(self, outputs: list[Var]) -> None:
        """Every value `outputs` read: an expression, or why there is none (`NO_FORM`,
        `TOO_LONG`), which the values reading it inherit."""
        for node in _cone(self.graph, outputs):
            if node.out in self.env:  # (built for another function of the module)
                continue
            value = self._value(node)
            named = self.named_vars.get(node.out)
            if named is not None and not isinstance(value, str):
                self.where[named] = value
                value = named
            if not isinstance(value, str) and value.is_Symbol:
                self.ndims.setdefault(value, node.out.ndim)
                self.size[node.out] = 1
            self.env[node.out] = value

    def _value(self, node: Node) -> sp.Expr | str:
        if node.op == INPUT:
            name = self.graph.names.get(node.out)
            return sp.Symbol(name) if name else NO_FORM
        operands = self.graph.operands(node)
        why = next((self.env[v] for v in operands if isinstance(self.env[v], str)), None)
        if why is not None:
            return why
        # the tree's size, bounded before it is built: values read several times are
        # written out each time, so a long program's would grow beyond any line
        own = sp.count_ops(node.expr) if node.op == ELEMENTWISE else 0
        self.size[node.out] = 1 + own + sum(
            self.size.get(v, 1) * (node.expr.count(v.symbol) if node.op == ELEMENTWISE else 1)
            for v in operands)
        if self.size[node.out] > _MAX_TREE:
            return TOO_LONG
        try:
            return self._node(node)
        except _NoNotation:
            return NO_FORM
        except Exception:  # noqa: BLE001 - SymPy refusing a form (a Relational in a Mul):
            return NO_FORM  # the derivative is named without notation, the module unchanged

    def text(self, expr: sp.Expr) -> str:
        return self.printer.doprint(expr)

    def _node(self, node: Node) -> sp.Expr:
        op, p = node.op, node.p
        if op == ELEMENTWISE:
            return self._elementwise(node)
        if op == "dim":
            self.sizes |= p["expr"].free_symbols
            return p["expr"]
        if op == CONST or op == "full":
            return _uniform(node)
        args = [self.env[v] for v in node.inputs]
        if op in ("broadcast_to", "stop_gradient"):
            return args[0]
        if op == "matmul":
            return self._pulled(MatrixProduct, *args)
        if op == "transpose" and node.inputs[0].ndim <= 2:
            return self._pulled(Transposed, args[0]) if node.inputs[0].ndim == 2 else args[0]
        if op == "sum":
            arg = self._tidy(args[0])
            if len(p["axes"]) == node.inputs[0].ndim and not p["keepdims"]:
                return self._pulled(Total, arg)
            return self._pulled(lambda x: AxisSum(x, sp.Tuple(*p["axes"])), arg)
        if op == "reshape":
            return self._reshape(node, args[0])
        raise _NoNotation(op)

    def _reshape(self, node: Node, arg: sp.Expr) -> sp.Expr:
        before, after = node.inputs[0].shape, node.out.shape
        if len(before) == 1 and after == (before[0], 1):
            return Column(arg)
        if len(before) == 1 and after == (1, before[0]) or after == before:
            return arg  # a row broadcasts as the vector itself
        raise _NoNotation("reshape")

    def _elementwise(self, node: Node) -> sp.Expr:
        expr = node.expr
        for key, symbol in self.named_exprs:
            found = expr.subs(key, symbol)
            if found != expr and symbol not in self.where:
                definition = self._tidy(key.xreplace(self._values(key)))
                self.where[symbol] = definition
                self.ndims[symbol] = self.rank(definition)
            expr = found
        expr = expr.xreplace(self._values(expr))
        if expr.has(Column):
            expr = expr.replace(lambda e: e.is_Mul and e.has(Column), self._column_product)
        return self._tidy(expr)

    def _values(self, expr: sp.Expr) -> dict:
        return {s: self.env[self.graph.by_symbol[s]] for s in expr.free_symbols
                if s in self.graph.by_symbol}

    def _column_product(self, product: sp.Expr) -> sp.Expr:
        """`u[:, None]*v` as the outer product `u v^T` (v a vector), `u[:, None]*A` as
        `diag(u) A` (A a matrix)."""
        columns = [f for f in product.args if isinstance(f, Column)]
        if len(columns) != 1:
            return product
        others = [f for f in product.args if f is not columns[0]]
        scalars = [f for f in others if self.rank(f) == 0]
        rows = [f for f in others if self.rank(f) == 1]
        matrices = [f for f in others if self.rank(f) == 2]
        (u,) = columns[0].args
        if rows:
            outer = self._pulled(MatrixProduct, u, self._pulled(Transposed, sp.Mul(*rows)))
            return sp.Mul(*scalars, outer, *matrices)
        if matrices:
            return sp.Mul(*scalars, self._pulled(MatrixProduct, self._pulled(Diag, u),
                                                 sp.Mul(*matrices)))
        return product

    def _pulled(self, op, *args) -> sp.Expr:
        """`op` of `args` with their scalar factors in front (`X^T (r/20)` is
        `X^T r / 20`)."""
        scale, plain = sp.S.One, []
        for arg in args:
            arg = sp.factor_terms(arg)
            factors = arg.args if arg.is_Mul else (arg,)
            scalars = [f for f in factors if self.rank(f) == 0]
            scale *= sp.Mul(*scalars)
            plain.append(sp.Mul(*[f for f in factors if self.rank(f) != 0]))
        if isinstance(op, type) and op is Transposed and isinstance(plain[0], Transposed):
            return scale * plain[0].args[0]
        return scale * op(*plain)

    def _tidy(self, expr: sp.Expr) -> sp.Expr:
        """The shortest of a few equal forms (as written, common factors out, products
        multiplied out first, a minus sign inside), each found once."""
        if expr not in self.tidied:
            self.tidied[expr] = self._shortest(expr)
        return self.tidied[expr]

    def _shortest(self, expr: sp.Expr) -> sp.Expr:
        expr = as_sigmoid_of_positive(expr)
        if sp.count_ops(expr) > _MAX_OPS:
            return expr
        forms = [expr, sp.factor_terms(expr), sp.factor_terms(sp.expand_mul(expr))]
        if expr.is_Mul:  # each factor at its shortest
            forms.append(sp.Mul(*[self._tidy(f) for f in expr.args]))
        forms += [g for f in forms for g in _sign_inside(f)]
        forms = list(dict.fromkeys(forms))  # (each printed once)
        texts = [self.text(f) for f in forms]
        best = min(range(len(forms)), key=lambda i: (len(texts[i]), texts[i].count("-"), i))
        return forms[best]


def _sign_inside(expr: sp.Expr) -> list[sp.Expr]:
    """A product's minus sign taken into a difference it multiplies, directly or under
    a sum or a matrix product (all linear), each way it can: `-sum(t * (y - s))` as
    `sum(t * (s - y))`."""
    if not (expr.is_Mul and expr.could_extract_minus_sign()):
        return []
    return [(-expr).xreplace({factor: negated}) for factor in expr.args
            for negated in _negations(factor)]


def _negations(expr: sp.Expr) -> list[sp.Expr]:
    """`-expr` with the sign inside a difference of it, each way it can go."""
    if expr.is_Add:
        return [-expr]
    if expr.is_Mul:
        return [expr.xreplace({f: -f}) for f in expr.args if f.is_Add]
    if isinstance(expr, (Total, AxisSum)):
        return [expr.func(inner, *expr.args[1:]) for inner in _negations(expr.args[0])]
    if isinstance(expr, MatrixProduct):
        return [expr.func(expr.args[0], inner) for inner in _negations(expr.args[1])]
    return []


def _uniform(node: Node) -> sp.Expr:
    value = node.p["value"] if node.op == "full" else node.value
    values = set(map(float, getattr(value, "flat", [value])))
    if len(values) != 1:
        raise _NoNotation("constant array")
    (number,) = values
    return sp.Integer(int(number)) if number.is_integer() else sp.Float(number)


def _cone(graph: Graph, outputs: list[Var]) -> list[Node]:
    """The nodes `outputs` are computed from, in order."""
    need = set(outputs)
    nodes = []
    for node in reversed(graph.nodes):
        if node.out in need:
            nodes.append(node)
            need |= set(graph.operands(node)) if node.op != INPUT else set()
    return nodes[::-1]


def _lhs(name: str, out: str, args: list[str]) -> str:
    """`dloss/dw` for `dloss_dw`, `d^2 loss/dw^2` for `d2loss_dw2`, `d^2 loss/db dw`
    for `d2loss_db_dw`; another name (`tangent_loss`) as it is."""
    for a in args:
        if name == f"d{out}_d{a}":
            return f"d{out}/d{a}"
        if name == f"d2{out}_d{a}2":
            return f"d^2 {out}/d{a}^2"
        for b in args:
            if name == f"d2{out}_d{a}_d{b}":
                return f"d^2 {out}/d{a} d{b}"
    return name


def _builder(program: Program, names: dict[sp.Symbol, str], forward) -> _Builder:
    """One builder per optimised graph and naming, kept on the graph (and gone with
    it): a module's gradient and value-and-gradient functions share their graph, whose
    values are so built once."""
    fresh = _Builder(program, names, forward)
    key = (tuple(sorted((v.id, s.name) for v, s in fresh.named_vars.items())),
           tuple(s.name for _, s in fresh.named_exprs))
    graph = program.graph
    if not hasattr(graph, "_notation_builders"):
        graph._notation_builders = {}
    return graph._notation_builders.setdefault(key, fresh)


def derivatives_doc(program: Program, out_name: str, part: GradientPart | None) -> str:
    """The docstring paragraph stating a derivative function's results in mathematical
    notation ("" for the forward function, a loop, or when none is short)."""
    graph = getattr(program, "graph", None)
    if part is None or graph is None:
        return ""
    outputs = list(dict.fromkeys(v for v in program.outputs if v not in part.forward))
    if not outputs or any(n.op == LOOP for n in _cone(graph, outputs)):
        return ""
    names = _assign_names(program, out_name)
    builder = _builder(program, names, part.forward)
    builder.build(outputs)
    printer = NotationPrinter(builder.rank, builder.sizes)  # (the legend: these lines')
    # a product with a tangent or a cotangent (an argument of its own) is no derivative
    products = any(v not in part.forward for v in program.inputs)
    args = [] if products else [graph.names.get(v, "") for v in program.inputs]
    lines = [_statement(_lhs(names.get(v.symbol, ""), out_name, args), builder.env[v],
                        printer) for v in outputs]
    if all(line.endswith((TOO_LONG, NO_FORM)) for line in lines):
        return ""
    lines += _where_lines(builder, lines, printer)
    legend = [text for key, text in LEGEND.items() if key in printer.used]
    head = f"Derivatives ({', '.join(legend)}):" if legend else "Derivatives:"
    return "\n\n" + "\n".join([head, *(f"    {line}" for line in lines)])


def _statement(lhs: str, expr: sp.Expr | str, printer: NotationPrinter) -> str:
    """`lhs = expr`, or `lhs: (why not)` when it has no notation or is too wide."""
    if isinstance(expr, str):
        return f"{lhs}: {expr}"
    used = set(printer.used)
    try:
        line = f"{lhs} = {printer.doprint(expr)}"
    except Exception:  # noqa: BLE001 - a form the printer does not cover
        printer.used = used
        return f"{lhs}: {NO_FORM}"
    if len(line) <= MAX_WIDTH:
        return line
    printer.used = used  # (what the dropped line used needs no legend)
    return f"{lhs}: {TOO_LONG}"


def _where_lines(builder: _Builder, lines: list[str], printer: NotationPrinter) -> list[str]:
    """`where name = ...` for each named value the lines read, directly or through
    another's definition, in the order the function computes them."""
    words = set(re.findall(r"[A-Za-z_]\w*", "\n".join(lines)))
    wanted = set()
    for symbol in reversed(list(builder.where)):
        if symbol.name in words or symbol in wanted:
            wanted.add(symbol)
            wanted |= builder.where[symbol].free_symbols & builder.where.keys()
    out = []
    for symbol in builder.where:
        if symbol in wanted:
            line = _statement(f"where {symbol.name}", builder.where[symbol], printer)
            out += [line] * (not line.endswith(TOO_LONG))
    return out
