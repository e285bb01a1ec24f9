"""Stage 5: straight-line programs to a standalone NumPy module (printer + Jinja2).

The printer turns each statement into one assignment; this module chooses names
(the user's own variables where the trace recovered them, adjoints as
`d<out>_d<var>`, the rest `_t<k>`), wraps long lines, writes a comment naming the
source line each gradient block differentiates, and fills the module template.
"""

from __future__ import annotations

import keyword
import linecache
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import jinja2
import sympy as sp

from .errors import EmitError
from .ir import CONST, Var
from .printer import SymdiffPrinter, dtype_name
from .simplify import Program, Statement

__all__ = ["FunctionCode", "ModuleCode", "render_module", "print_function", "LINE_LENGTH"]

LINE_LENGTH = 88
_RESERVED = {"np", "value", "_check_inputs"} | set(keyword.kwlist) | set(dir(__builtins__))
_TEMP_PREFIX = "_t"


@dataclass
class FunctionCode:
    """One generated function, printed."""

    name: str
    docstring: str
    body: list[str]
    returns: str


@dataclass
class ModuleCode:
    """What the module template needs, as already-printed strings."""

    header: list[str]
    docstring: str
    params: str
    checks: list[str]
    functions: list[FunctionCode] = field(default_factory=list)

    @property
    def exports(self) -> str:
        return ", ".join(f'"{f.name}"' for f in self.functions)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _load_template(name: str) -> str:
    """Templates ship as the package `symdiff.templates` (the repo's `templates/`)."""
    try:
        return resources.files("symdiff.templates").joinpath(name).read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        import os

        here = os.path.join(os.path.dirname(__file__), os.pardir, "templates", name)
        with open(here, encoding="utf-8") as fh:
            return fh.read()


def render_module(module: ModuleCode) -> str:
    text = _environment().get_template("module.py.j2").render(m=module)
    return text


# -- one function ------------------------------------------------------------------------
def print_function(
    program: Program,
    name: str,
    docstring: str,
    returns: Sequence[Var | tuple],
    out_name: str,
    backward_from: int | None = None,
    xp: str = "np",
) -> FunctionCode:
    """Print `program` as the body of function `name` returning `returns`
    (a Var, or a tuple of Vars for a tuple result)."""
    names = _assign_names(program, out_name)
    output_vars = set(_flatten(returns))
    inlinable = _inlinable(program, output_vars)
    printer = SymdiffPrinter(names, xp=xp)
    call_args: dict[sp.Symbol, str] = {}  # inlined text as it stands in a call's arguments
    body: list[str] = []
    last_comment = None
    temp_count = 0
    backward = _backward_flags(program, backward_from)
    for stmt, is_backward in zip(program.statements, backward):
        rhs = _print_rhs(printer, program, stmt, call_args, stmt.var in output_vars)
        if stmt.target in inlinable and len(rhs) <= _INLINE_MAX:
            call_args[stmt.target] = rhs
            names[stmt.target] = rhs if _is_atomic(rhs) else f"({rhs})"
            continue
        if is_backward and stmt.loc and stmt.loc != last_comment:
            comment = _source_comment(stmt.loc)
            if comment:
                body.append(comment)
            last_comment = stmt.loc
        if stmt.target not in names:
            names[stmt.target] = f"{_TEMP_PREFIX}{temp_count}"
            temp_count += 1
        body.append(_wrap(f"{names[stmt.target]} = {rhs}", indent=4))
    ret = _print_returns(returns, names, program)
    return FunctionCode(name, docstring, body, ret)


def _flatten(returns):
    for r in returns:
        if isinstance(r, tuple):
            yield from r
        else:
            yield r


def _print_returns(returns, names, program) -> str:
    def one(v: Var) -> str:
        if v.symbol in names:
            return names[v.symbol]
        raise EmitError(f"internal: output v{v.id} is not computed")

    parts = []
    for r in returns:
        if isinstance(r, tuple):
            parts.append("(" + ", ".join(one(v) for v in r) + ("," if len(r) == 1 else "") + ")")
        else:
            parts.append(one(r))
    return ", ".join(parts)


def _print_rhs(printer: SymdiffPrinter, program: Program, stmt: Statement,
               call_args: dict, is_output: bool) -> str:
    var = stmt.var
    if stmt.node is not None and stmt.node.op == CONST:
        return printer.print_node(stmt.node, ())
    if stmt.node is not None:
        args = [call_args.get(a) or printer.doprint(a) for a in stmt.args]
        text = printer.print_node(stmt.node, args)
        if is_output and stmt.node.op == "broadcast_to":
            return f"{printer.xp}.array({text})"  # a fresh, writable array
        return text
    expr = stmt.expr
    if var is not None and expr.is_Symbol and var.dtype != program.by_symbol[expr].dtype:
        return f"{printer.xp}.asarray({printer.doprint(expr)}, dtype={dtype_name(var.dtype)})"
    if var is not None and not expr.free_symbols:
        if var.shape:
            return f"{printer.xp}.full({var.shape}, {printer.doprint(expr)}, dtype={dtype_name(var.dtype)})"
        return f"{dtype_name(var.dtype)}({printer.doprint(expr)})"
    text = printer.doprint(expr)
    if is_output and expr.is_Symbol:
        return f"{printer.xp}.array({text}, dtype={dtype_name(var.dtype)})"
    return text


_INLINE_MAX = 60


def _inlinable(program: Program, outputs: set[Var]) -> set[sp.Symbol]:
    """Statements printed inside their only reader instead of on a line of their own:
    structured values (``X.T`` in ``X.T @ g``) and elementwise arguments of a call."""
    uses: dict[sp.Symbol, int] = {}
    read_by_call: set[sp.Symbol] = set()
    for stmt in program.statements:
        if stmt.expr is not None:
            for sym in stmt.expr.free_symbols:
                uses[sym] = uses.get(sym, 0) + 1
        for sym in stmt.args:
            uses[sym] = uses.get(sym, 0) + 1
            read_by_call.add(sym)
    result = set()
    for stmt in program.statements:
        var = stmt.var
        if var is None or var in outputs or var in program.names or uses.get(stmt.target) != 1:
            continue
        structured = stmt.node is not None and stmt.node.op != CONST
        elementwise_arg = stmt.expr is not None and stmt.target in read_by_call and \
            not stmt.expr.is_Symbol and stmt.expr.free_symbols
        if structured or elementwise_arg:
            result.add(stmt.target)
    return result


def _is_atomic(text: str) -> bool:
    """A name, an attribute or a call: safe inside any expression without parentheses."""
    if text.isidentifier():
        return True
    if text.endswith(".T") and text[:-2].isidentifier():
        return True
    head = text.split("(", 1)[0]
    if not text.endswith(")") or not head or not head.replace(".", "_").isidentifier():
        return False
    depth = 0
    for i, ch in enumerate(text[len(head):]):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and i < len(text) - len(head) - 1:
            return False
    return True


def _backward_flags(program: Program, backward_from: int | None) -> list[bool]:
    """Which statements belong to the gradient part (temps follow their first user)."""
    flags = [False] * len(program.statements)
    if backward_from is None:
        return flags
    pending = []
    for i, stmt in enumerate(program.statements):
        if stmt.var is None:
            pending.append(i)
            continue
        flag = stmt.var.id >= backward_from
        for j in pending:
            flags[j] = flag
        pending = []
        flags[i] = flag
    return flags


def _source_comment(loc: str) -> str | None:
    filename, _, line = loc.rpartition(":")
    if not line.isdigit():
        return None
    text = linecache.getline(filename, int(line)).strip()
    comment = f"# gradient of line {line}: {text}" if text else f"# gradient of line {line}"
    return comment if len(comment) + 4 <= LINE_LENGTH else comment[: LINE_LENGTH - 8] + "..."


# -- names -------------------------------------------------------------------------------
def _identifier(name: str) -> str | None:
    return name if name.isidentifier() and name not in _RESERVED and not \
        name.startswith(_TEMP_PREFIX) else None


def _assign_names(program: Program, out_name: str) -> dict[sp.Symbol, str]:
    """Names for inputs, the user's variables and adjoints; temporaries are numbered
    later, in order of appearance."""
    names: dict[sp.Symbol, str] = {}
    taken: set[str] = set()

    def claim(sym, candidate):
        if candidate and candidate not in taken and sym not in names:
            names[sym] = candidate
            taken.add(candidate)

    for v in program.inputs:
        claim(v.symbol, program.names.get(v))
        if v.symbol not in names:
            raise EmitError(f"argument name {program.names.get(v)!r} cannot be used in "
                            "generated code; rename the parameter")
    for stmt in program.statements:
        if stmt.var is not None:
            claim(stmt.target, _identifier(program.names.get(stmt.var, "")))
    for sym, expr in _full_expressions(program):
        claim(sym, _identifier(program.expr_names.get(expr, "")))
    value = program.outputs[0] if program.outputs else None
    for stmt in program.statements:
        primal = program.adjoint_of.get(stmt.var) if stmt.var is not None else None
        if primal is not None:
            primal_name = names.get(primal.symbol) or program.names.get(primal)
            if primal_name and _identifier(primal_name):
                claim(stmt.target, f"d{out_name}_d{primal_name}")
        elif stmt.var is not None and stmt.var is value:
            claim(stmt.target, "value")
    return names


def _full_expressions(program: Program):
    """(target, expression with CSE temporaries expanded) for elementwise statements."""
    if not program.expr_names:
        return
    expanded: dict[sp.Symbol, sp.Expr] = {}
    for stmt in program.statements:
        if stmt.expr is None:
            continue
        expr = stmt.expr.xreplace(expanded) if expanded else stmt.expr
        if stmt.var is None:
            expanded[stmt.target] = expr
        yield stmt.target, expr


# -- line wrapping -----------------------------------------------------------------------
def _wrap(line: str, indent: int) -> str:
    """Fit `target = expression` in LINE_LENGTH columns by breaking inside parentheses.

    The first line is returned unindented (the template indents it); continuation
    lines carry their absolute indentation."""
    if indent + len(line) <= LINE_LENGTH:
        return line
    target, rhs = line.split(" = ", 1)
    pad = " " * (indent + 4)
    limit = LINE_LENGTH - len(pad)
    lines, current = [], ""
    for word in rhs.split(" "):
        if current and len(current) + 1 + len(word) > limit:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    body = "\n".join(pad + text for text in lines)
    return f"{target} = (\n{body}\n{' ' * indent})"
