"""Rich display of a compiled function: its derivative as LaTeX, its code highlighted.

Jupyter calls `Compiled._repr_latex_`, `_repr_html_` and `_repr_markdown_`, which
delegate here. The LaTeX is built with `sympy.latex` from the traced graph:

- small programs (every input of at most `MAX_ELEMENTS` elements, expressions of
  bounded size) are expanded element by element into one SymPy expression of the
  inputs, and the gradient is that expression's `sympy.diff`, shown beside it;
- larger ones are shown in array notation (``\\sum``, products, transposes), and
  their gradient is left to the generated code;
- anything bigger still gets a one-line summary.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter, greek_letters_set
from sympy.printing.precedence import PRECEDENCE

from ..ir import dims
from ..ir.graph import CONST, ELEMENTWISE, INPUT, Graph, Var
from ..ir.interpret import apply_primitive, interpret
from ..ir.loops import LOOP
from ..passes.simplify import simplify_expr
from ..trace.args import normalize_argnums

__all__ = ["Expressions", "expressions", "latex", "to_latex", "to_html", "to_markdown",
           "highlight"]

#: Largest input (in elements) expanded element by element.
MAX_ELEMENTS = 16
#: Largest expression tree (in nodes, estimated before building it) shown in full.
MAX_TREE = 400
#: Longest element-by-element LaTeX; beyond it the array notation reads better.
MAX_LATEX = 1200


@dataclass
class Expressions:
    """A compiled function as SymPy: its value, one derivative per differentiated
    argument (object arrays shaped out.shape + arg.shape), and second derivatives by
    pairs of arguments when the module holds a Hessian."""

    name: str
    params: list[str]
    value: sp.Expr | np.ndarray
    grads: dict[str, np.ndarray]
    hessians: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)


# -- SymPy stand-ins for the structured primitives ---------------------------------------
def _paren(text: str) -> str:
    return r"\left(" + text + r"\right)"


def _call(name: str, args: str) -> str:
    return r"\operatorname{" + name + "}" + _paren(args)


class StopGradient(sp.Function):
    """`stop_gradient(x)`: its own value, derivative zero."""

    def fdiff(self, argindex=1):
        return sp.S.Zero

    def _latex(self, printer, exp=None):
        text = _call(r"stop\_gradient", printer._print(self.args[0]))
        return text if exp is None else text + "^{" + exp + "}"


class _ArrayOp(sp.Function):
    """A structured primitive applied to whole arrays (display only)."""

    label = ""

    def _latex(self, printer, exp=None):
        text = self._body(printer)
        return text if exp is None else _paren(text) + "^{" + exp + "}"

    def _body(self, printer):
        args = ", ".join(printer._print(a) for a in self.args)
        return _call(self.label.replace("_", r"\_"), args)


class _MatMul(_ArrayOp):
    def _body(self, printer):
        return " ".join(printer.parenthesize(a, PRECEDENCE["Mul"]) for a in self.args)


class _Sum(_ArrayOp):
    axes: tuple[int, ...] = ()  # empty: over every axis

    def _body(self, printer):
        (arg,) = self.args
        sub = r"_{\text{axis } " + ",".join(map(str, self.axes)) + "}" if self.axes else ""
        if isinstance(arg, _MatMul):
            return r"\sum" + sub + " " + _paren(printer._print(arg))
        return r"\sum" + sub + " " + printer.parenthesize(arg, PRECEDENCE["Mul"])


class _Transpose(_ArrayOp):
    def _body(self, printer):
        return printer.parenthesize(self.args[0], PRECEDENCE["Pow"]) + "^{T}"


class _Identity(_ArrayOp):
    """broadcast_to: broadcasting is implied in array notation."""

    def _body(self, printer):
        return printer._print(self.args[0])


_ARRAY_OPS = {"sum": _Sum, "matmul": _MatMul, "transpose": _Transpose, "broadcast_to": _Identity,
              "stop_gradient": StopGradient}


def _array_op(name: str) -> type:
    cls = _ARRAY_OPS.get(name)
    if cls is None:
        cls = type(f"_Op_{name}", (_ArrayOp,), {"label": name})
        _ARRAY_OPS[name] = cls
    return cls


# -- the compiled function's inputs ------------------------------------------------------
def _input_vars(compiled) -> dict[int, Var]:
    """Spec index -> the graph input it became (static arguments have none)."""
    traced = [i for i, s in enumerate(compiled.specs) if s.traced]
    return dict(zip(traced, compiled.graph.inputs))


def _number(x) -> sp.Expr:
    x = x.item() if hasattr(x, "item") else x
    if isinstance(x, (bool, np.bool_)):
        return sp.true if x else sp.false
    if float(x).is_integer() and abs(x) < 2**53:
        return sp.Integer(int(x))
    return sp.Float(float(x))


def _tidy(expr: sp.Expr) -> sp.Expr:
    """Integral floats print as integers: ``3`` rather than ``3.0``."""
    if not isinstance(expr, sp.Basic):
        return expr
    floats = {f: sp.Integer(int(f)) for f in expr.atoms(sp.Float) if f == int(f)}
    return expr.xreplace(floats) if floats else expr


def _tree_sizes(graph: Graph, per_element: bool) -> int:
    """An upper bound on the size of the output's expression tree once expanded."""
    size: dict[Var, int] = {}
    for node in graph.nodes:
        if node.op in (INPUT, CONST):
            size[node.out] = 1
        elif node.op == ELEMENTWISE:
            own = int(sp.count_ops(node.expr)) + 1
            size[node.out] = own + sum(size[v] * node.expr.count(v.symbol)
                                       for v in graph.operands(node))
        else:
            spread = (lambda v: max(dims.concrete(v.size), 1)) if per_element else (lambda v: 1)
            size[node.out] = 1 + sum(size[v] * spread(v) for v in node.inputs)
        if size[node.out] > MAX_TREE:
            return size[node.out]
    return max((size[v] for v in graph.outputs), default=0)


# -- element by element ----------------------------------------------------------------
def _element_symbols(name: str, shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    if shape == ():
        out[()] = sp.Symbol(name, real=True)
        return out
    base = sp.IndexedBase(name, real=True)
    for idx in np.ndindex(*shape):
        out[idx] = base[idx]
    return out


def _expand_elements(graph: Graph, symbols: dict[Var, np.ndarray]) -> dict[Var, np.ndarray]:
    return interpret(graph, symbols, _structured, constant=_number, tidy=_tidy)


def _structured(node, args) -> np.ndarray:
    """Structured ops by their NumPy implementation; stop_gradient stays visible."""
    if node.op == "stop_gradient":
        return np.vectorize(StopGradient, otypes=[object])(args[0])
    return apply_primitive(node, args)


def _derivative(value: np.ndarray, elems: np.ndarray) -> np.ndarray:
    """d value / d elems, shaped value.shape + elems.shape (a gradient, a Jacobian)."""
    out = np.empty(value.shape + elems.shape, dtype=object)
    for i in np.ndindex(*value.shape):
        for j in np.ndindex(*elems.shape):
            out[i + j] = simplify_expr(sp.diff(value[i], elems[j]))
    return out


def expressions(compiled) -> Expressions | None:
    """The value and first derivatives (gradients, or Jacobians for an array output) as
    SymPy expressions of the inputs' elements; None when the program is too large to
    expand (or uses an op with no element expansion)."""
    graph = compiled.graph
    inputs = _input_vars(compiled)
    if any(dims.at_least(v.size, MAX_ELEMENTS + 1)
           for v in [*inputs.values(), graph.outputs[0]]):  # (symbolic sizes too)
        return None
    if _tree_sizes(graph, per_element=True) > MAX_TREE:
        return None
    symbols = {v: _element_symbols(compiled.specs[i].name, v.shape) for i, v in inputs.items()}
    try:
        elements = _output_elements(compiled, symbols)
    except Exception:  # noqa: BLE001 - an op without an object-array expansion: summarize
        return None
    value = np.vectorize(simplify_expr, otypes=[object])(elements)
    grads = {compiled.specs[i].name: _derivative(value, symbols[inputs[i]])
             for i in normalize_argnums(compiled.argnums, len(compiled.specs)) if i in inputs}
    hessians = {}
    if value.shape == () and hasattr(compiled.module, f"hessian_{compiled.name}"):
        wrt = [i for i in normalize_argnums(compiled.argnums, len(compiled.specs)) if i in inputs]
        hessians = {(compiled.specs[i].name, compiled.specs[j].name):
                    _derivative(grads[compiled.specs[i].name], symbols[inputs[j]])
                    for i in wrt for j in wrt}
    return Expressions(compiled.name, [s.name for s in compiled.specs],
                       value[()] if value.shape == () else value, grads, hessians)


def _output_elements(compiled, symbols: dict) -> np.ndarray:
    """The output's elements as expressions; for a function that branches, a Piecewise
    of its paths' values, each where its conditions hold (only the traced path's
    conditions for a module specialised to one path)."""
    graph = compiled.graph
    traced = getattr(compiled, "traced", None)
    if traced is None or not traced.paths[0].decisions:
        return _expand_elements(graph, symbols)[graph.outputs[0]]
    pieces = []
    for path in traced.paths:
        values = _expand_elements(path.graph, {v: symbols[u] for v, u in
                                               zip(path.graph.inputs, graph.inputs)})
        tests = [values[d.cond][()] if d.outcome else sp.Not(values[d.cond][()])
                 for d in path.decisions]
        pieces.append((values[path.graph.outputs[0]], sp.And(*tests)))
    if not traced.guarded:
        pieces[-1] = (pieces[-1][0], sp.true)  # the paths cover every case
    out = np.empty(graph.outputs[0].shape, dtype=object)
    for idx in np.ndindex(*out.shape):
        out[idx] = sp.Piecewise(*[(value[idx], test) for value, test in pieces])
    return out


def _branches_note(compiled) -> str | None:
    traced = getattr(compiled, "traced", None)
    if traced is None or not traced.paths[0].decisions:
        return None
    return ("the generated code branches on its conditions; see its source" if
            traced.branched else "specialised to the path of the traced arguments")


# -- LaTeX ----------------------------------------------------------------------------
class _Printer(LatexPrinter):
    """SymPy's LaTeX, with NumPy functions (``np.logaddexp``...) shown by their name."""

    def _print_Function(self, expr, exp=None):
        if isinstance(getattr(type(expr), "template", None), str):  # a NumPy function
            name = type(expr).__name__.removeprefix("np_").replace("_", r"\_")
            text = _call(name, ", ".join(self._print(a) for a in expr.args))
            return text if exp is None else _paren(text) + "^{" + exp + "}"
        return super()._print_Function(expr, exp)


def latex(expr, names: dict | None = None) -> str:
    """`expr` (a SymPy expression or an object array of them) as LaTeX; `names` maps
    symbols to their LaTeX."""
    if isinstance(expr, np.ndarray):
        if expr.ndim == 0:
            expr = expr[()]
        elif expr.ndim == 1:
            expr = sp.Matrix([list(expr)])
        elif expr.ndim == 2:
            expr = sp.Matrix(expr.tolist())
        else:
            expr = sp.Array(expr.tolist())
    return _Printer({"symbol_names": names or {}}).doprint(expr)


def _name(text: str) -> str:
    """A function or argument name: ``x``, ``w_{1}``, ``\\operatorname{loss}``."""
    if re.fullmatch(r"[A-Za-z]_?\d*", text) or text.lower() in greek_letters_set:
        return latex(sp.Symbol(text))  # x, w_{1}, \theta
    return r"\operatorname{" + text.replace("_", r"\_") + "}"


def _symbol_names(compiled) -> dict:
    return {sp.Symbol(s.name, real=True): _name(s.name) for s in compiled.specs}


def _head(compiled) -> tuple[str, str]:
    """The head ``f(x, y)`` and the function's name, as LaTeX."""
    name = _name(compiled.name)
    args = ", ".join(_name(s.name) for s in compiled.specs)
    return f"{name}{_paren(args)}", name


def _element_lines(compiled, ex: Expressions) -> list[str]:
    head, name = _head(compiled)
    names = _symbol_names(compiled)
    lines = [f"{head} &= {latex(ex.value, names)}"]
    scalar = not isinstance(ex.value, np.ndarray)
    for arg, grad in ex.grads.items():
        sym = _name(arg)
        lhs = (f"\\nabla_{{{sym}}} {name}" if scalar and grad.ndim
               else f"\\frac{{\\partial {name}}}{{\\partial {sym}}}")
        lines.append(f"{lhs} &= {latex(grad, names)}")
    for (a, b), hess in ex.hessians.items():
        da, db = _name(a), _name(b)
        den = f"\\partial {da}^{{2}}" if a == b else f"\\partial {da} \\partial {db}"
        lines.append(f"\\frac{{\\partial^{{2}} {name}}}{{{den}}} &= {latex(hess, names)}")
    return lines


def _array_lines(compiled) -> list[str]:
    """Array notation: whole-array symbols, structured ops as functions."""
    graph = compiled.graph
    head, _ = _head(compiled)
    inputs = _input_vars(compiled)
    loops = [n.p["loop"] for n in graph.nodes if n.op == LOOP]
    if loops:
        steps = " and ".join(str(loop.length) for loop in loops if not loop.is_while)
        steps = " and ".join(([f"{steps} steps"] if steps else []) +
                             ["steps while a condition holds"] * any(lp.is_while for lp in loops))
        ops = sum(1 for loop in loops for n in loop.body.nodes if n.op not in (INPUT, CONST))
        return [f"{head} &: \\text{{loops of {steps}, {ops} operations per step; its "
                "derivatives are in the generated code}}"]
    if _tree_sizes(graph, per_element=False) > MAX_TREE:
        ops = sum(1 for n in graph.nodes if n.op not in (INPUT, CONST))
        return [f"{head} &: \\text{{{ops} operations; its derivatives are in the generated "
                "code}}"]
    values: dict[Var, sp.Expr] = {v: sp.Symbol(compiled.specs[i].name, real=True)
                                  for i, v in inputs.items()}
    for node in graph.nodes:
        var = node.out
        if node.op == INPUT:
            continue
        if node.op == CONST:
            values[var] = (_number(node.value) if node.value.size == 1
                           else sp.Symbol(f"c_{{{var.id}}}"))
        elif node.op == ELEMENTWISE:
            values[var] = _tidy(node.expr.xreplace({v.symbol: values[v]
                                                    for v in graph.operands(node)}))
        elif node.op == "dim":  # a size: n
            values[var] = node.p["expr"]
        else:
            op = _array_op(node.op)
            axes = node.p.get("axes") if node.op == "sum" else None
            if axes is not None and len(axes) < node.inputs[0].ndim:
                op = type(f"_Sum_{'_'.join(map(str, axes))}", (_Sum,), {"axes": tuple(axes)})
            values[var] = op(*[values[v] for v in node.inputs])
    times = r" \times "
    shapes = ", ".join(f"{_name(compiled.specs[i].name)} \\in "
                       f"\\mathbb{{R}}^{{{times.join(map(str, v.shape))}}}"
                       for i, v in inputs.items() if v.shape)
    lines = [f"{head} &= {latex(values[graph.outputs[0]], _symbol_names(compiled))}"]
    if shapes:
        lines.append(f"& {shapes}")
    lines.append("& \\text{(derivatives: see the generated code)}")
    note = _branches_note(compiled)
    if note:
        lines.append(f"& \\text{{({note})}}")
    return lines


def to_latex(compiled) -> str:
    """The function and its derivative as display-math LaTeX (``$$...$$``)."""
    ex = expressions(compiled)
    lines = _element_lines(compiled, ex) if ex is not None else []
    if not lines or sum(map(len, lines)) > MAX_LATEX:
        lines = _array_lines(compiled)
    body = " \\\\\n".join(lines)
    return f"$$\\begin{{aligned}}\n{body}\n\\end{{aligned}}$$"


# -- code -----------------------------------------------------------------------------
def highlight(source: str) -> str:
    """The code as HTML: highlighted by pygments when it is installed, else a plain <pre>."""
    try:
        from pygments import highlight as _highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return f"<pre><code>{html.escape(source)}</code></pre>"
    return _highlight(source, PythonLexer(), HtmlFormatter(noclasses=True))


def to_html(compiled) -> str:
    """The derivative (as math) above the generated module's highlighted code."""
    return (f'<div class="symdiff-compiled">\n<div>{html.escape(to_latex(compiled))}</div>\n'
            f"{highlight(compiled.source)}</div>")


def to_markdown(compiled) -> str:
    return f"{to_latex(compiled)}\n\n```python\n{compiled.source}```\n"
