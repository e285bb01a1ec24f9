"""One straight-line program printed as one generated function: statements, names,
source comments, the constant pool shared by the module's functions."""

from __future__ import annotations

import linecache
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..autodiff.transforms import GradientPart
from ..errors import EmitError
from ..ir import dims
from ..ir.graph import CONST, Var, is_size_symbol
from ..passes.program import Program, Statement
from .checks import shape_check
from .header import _type_text
from .layout import LINE_LENGTH, _wrap, _wrap_statement, call_text
from .literals import array_literal, dtype_name
from .loops import LoopPrinter, pinned_symbols
from .naming import _RESERVED, _TEMP_PREFIX, _assign_names, _TempNames
from .node_printer import Block
from .print_memo import PrintMemo
from .printer import SymdiffPrinter
from .safe_text import comment as safe_comment
from .temporaries import temp_dtype


@dataclass
class FunctionCode:
    """One generated function, printed."""

    name: str
    docstring: str
    body: list[str]
    returns: str
    params: str | None = None  # when the function takes more than the module's arguments
    arg_types: list[tuple[str, str]] = field(default_factory=list)  # of those extra ones
    return_types: list[tuple[str, str]] = field(default_factory=list)
    stable_rewrites: list[str] = field(default_factory=list)  # listed in the header
    constants: list[str] = field(default_factory=list)  # module-level definitions it reads
    kernels: list[str] = field(default_factory=list)  # compiled loops it calls (fused backend)

    @property
    def signature(self) -> str:
        """`name(params)` after `def `, wrapped to fit."""
        return call_text(self.name, self.params or "", 0)

    @property
    def return_statement(self) -> str:
        """`return ...`, wrapped to fit (a Hessian of several arguments returns a tuple of
        tuples)."""
        stand_in = "____ = "  # as long as "return ", so that _wrap measures the same line
        return "return " + _wrap(stand_in + self.returns, indent=4)[len(stand_in):]


# -- one function ------------------------------------------------------------------------
def print_function(
    program: Program,
    name: str,
    docstring: str,
    returns: Sequence[Var | tuple],
    out_name: str,
    gradient: GradientPart | None = None,
    xp: str = "np",
    extra_params: Sequence[tuple[str, tuple]] = (),
    constants: ConstantPool | None = None,
    indent: int = 4,
    kernel_layout=None,
    memo: PrintMemo | None = None,
) -> FunctionCode:
    """Print `program` as the body of function `name` returning `returns`
    (a Var, or a tuple of Vars for a tuple result). Large or named literal arrays go to
    `constants`, shared by the functions of one module. `indent` is the column the
    body starts at (deeper inside the `if` of a branch). A `kernel_layout` (the fused
    backend's, `numba_backend.NumbaLayout`) groups statements into kernels: each is
    printed as a function of its own and called where its last statement was. `memo`
    holds what the module's functions print alike (codegen/print_memo.py)."""
    printed = _BodyPrinter(program, name, returns, out_name, gradient, xp,
                           constants if constants is not None else ConstantPool(), indent,
                           kernel_layout, memo if memo is not None else PrintMemo())
    printed.print_statements()
    return _function_code(printed.program, name, docstring, printed.body, returns,
                          printed.names, extra_params, printed.used_constants, printed.kernels)


class _BodyPrinter:
    """The body of one generated function, printed statement by statement: a loop, a
    statement inside a fused kernel, a constant of the pool, a size, an expression
    inlined into its reader, or an assignment, each by its own method."""

    def __init__(self, program: Program, name: str, returns, out_name: str,
                 gradient: GradientPart | None, xp: str, constants: ConstantPool, indent: int,
                 kernel_layout, memo: PrintMemo):
        self.name, self.xp, self.constants, self.indent = name, xp, constants, indent
        self.output_vars = output_vars = set(_flatten(returns))
        self.fused_loops = None  # (elementwise loops run element by element; kernels span no loop)
        if kernel_layout is not None and any(stmt.depth for stmt in program.statements):
            self.fused_loops, kernel_layout = kernel_layout.loop_kernels(program), None
        self.kernel_layout = kernel_layout
        self.plan = plan = kernel_layout.plan(program, output_vars) \
            if kernel_layout is not None else None
        self.program = program = plan.program if plan is not None else program
        self.names = names = _assign_names(program, out_name)
        pinned = pinned_symbols(program)
        self.inlinable = _inlinable(program, output_vars) - \
            (plan.named if plan is not None else set())
        self.inlinable -= pinned
        self.kernels: list[str] = []
        self.printer = printer = _printer(names, xp)
        # buffers filled in place are made like an array argument (a Dask array for Dask)
        printer.like = next(((names.get(v.symbol), v.dtype) for v in program.inputs
                             if v.shape), None)
        printer.sizes = program.size_symbols()
        self.memo, self.memo_context = memo, (type(printer), xp, frozenset(printer.sizes))
        self.call_args: dict[sp.Symbol, str] = {}  # inlined text as it stands in a call's arguments
        self.body: list[str] = []
        self.last_comment = None
        self.temps = _TempNames(self.inlinable)
        self.term_order = memo.term_order(program)
        self.loops = LoopPrinter(program, names, printer, self.temps,
                                 {v.symbol for v in output_vars}, out_name, _source_comment)
        self.backward = _backward_flags(program, gradient)
        self.used_constants: list[str] = []
        self.temp_dtypes: dict[sp.Symbol, np.dtype | None] = {}  # (memo of temp_dtype)

    def print_statements(self) -> None:
        program, printer, plan = self.program, self.printer, self.plan
        for index, (stmt, is_backward) in enumerate(zip(program.statements, self.backward)):
            printer.term_order = None if is_backward else self.term_order
            if self.loops.is_loop_statement(stmt):
                self._loop(stmt, index)
                continue
            printer.dtype = stmt.var.dtype if stmt.var is not None else \
                temp_dtype(program, stmt.target, self.temp_dtypes)
            printer.large, printer.loc = _large(program, stmt), stmt.loc  # (loc: for errors)
            if plan is not None and index in plan.skipped:  # printed in a kernel
                _print_kernel(self.kernel_layout, plan, index, self.names, self.temps,
                              self.name, self.kernels, self.body, self.backward,
                              self.output_vars)
            elif not self._pooled(stmt):
                if stmt.node is not None and stmt.node.op == "dim":  # a size: `n`, `(n - 1)`
                    self._size(stmt)
                else:
                    self._assignment(stmt, index, is_backward)

    def _loop(self, stmt: Statement, index: int) -> None:
        pad, mark = " " * (4 * stmt.depth), len(self.body)
        self.body.extend(pad + line for line in self.loops.lines(stmt, index))
        if self.fused_loops is not None:
            self.fused_loops.printed(index, mark, self.body, self.names, self.name,
                                     self.kernels, self.loops)
        self.last_comment = None  # (a loop's body names its lines again)

    def _pooled(self, stmt: Statement) -> bool:
        """A constant the pool takes: it is named and defined at module level."""
        names = self.names
        if stmt.node is not None and stmt.node.op == CONST and stmt.var not in self.output_vars \
                and stmt.target not in self.loops.inits \
                and self.constants.wants(stmt.node.value, names.get(stmt.target), self.printer):
            names[stmt.target] = self.constants.add(stmt.node.value, names.get(stmt.target),
                                                    self.xp)
            self.used_constants.append(self.constants.lines[names[stmt.target]])
            return True
        return False

    def _printed(self, expr: sp.Expr):
        """`expr` as the printer prints it now, printed once per module."""
        return self.memo.printed(self.printer, expr, self.memo_context)

    def _size(self, stmt: Statement) -> None:
        text = self.printer.print_node(stmt.node, ())
        self.call_args[stmt.target] = text
        self.printer.inline(stmt.target, text)

    def _assignment(self, stmt: Statement, index: int, is_backward: bool) -> None:
        """`stmt` inlined where it is read, or printed as `name = rhs`."""
        printer, plan, names = self.printer, self.plan, self.names
        rhs = _print_rhs(printer, self.program, stmt, self.call_args,
                         stmt.var in self.output_vars, self._printed)
        rhs = _sizes_cast(stmt, printer, rhs, stmt.var in self.output_vars)
        internal = stmt.node is not None and stmt.node.op == "stop_gradient" and not stmt.loc \
            and not (plan is not None and stmt.target in plan.named)  # a kernel's argument
        if internal or stmt.target in self.inlinable and not isinstance(rhs, Block) and \
                len(rhs) <= _INLINE_MAX:
            self.call_args[stmt.target] = rhs
            printer.inline(stmt.target, rhs)  # parenthesized where an operator reads it
            return
        if stmt.target not in names:
            names[stmt.target] = self.temps.take()
        extra = self.fused_loops.extra_indent(index) if self.fused_loops is not None else 0
        self.last_comment = _append_statement(self.body, stmt, rhs, names[stmt.target],
                                              is_backward, self.last_comment,
                                              self.indent + extra)


def _printer(names: dict, xp: str) -> SymdiffPrinter:
    """The NumPy printer, or for the Array-API mode's namespace its own printer."""
    from .array_api import XP, ArrayApiPrinter

    return ArrayApiPrinter(names) if xp == XP else SymdiffPrinter(names, xp=xp)


def _print_kernel(layout, plan, index: int, names: dict, temps, name: str,
                  kernels: list[str], body: list[str], backward, output_vars) -> None:
    """Where statement `index` closes a fused kernel, print the kernel (into `kernels`)
    and its call (into `body`); the kernel's other statements print nothing."""
    kernel = plan.closing.get(index)
    if kernel is None:
        return
    for sym in kernel.returns:
        if sym not in names:
            names[sym] = temps.take()
    text, lines = layout.print_kernel(kernel, plan, names, name, len(kernels), backward,
                                      output_vars)
    kernels.append(text)
    body.extend(lines)


def _append_statement(body: list[str], stmt, rhs, name: str, is_backward: bool,
                      last_comment: str | None, indent: int = 4) -> str | None:
    """Append `stmt`, printed as `rhs` and assigned to `name`, to `body` (at column
    `indent`, deeper inside loops); in gradient code, first a comment naming the source
    line it differentiates (once per line). Returns the source line last named."""
    pad, indent = " " * (4 * stmt.depth), indent + 4 * stmt.depth  # (inside loops: deeper)
    if is_backward and stmt.loc and stmt.loc != last_comment:
        comment = _source_comment(stmt.loc, indent)
        if comment:
            body.append(pad + comment)
        last_comment = stmt.loc
    if stmt.node is not None and stmt.node.op == "stop_gradient":
        body.append(f"{pad}# stop_gradient({rhs}): derivatives treat {name} as a constant")
    if isinstance(rhs, Block):  # (a buffer updated in place may share its name)
        body.extend(pad + _wrap_statement(line, indent=indent)
                    for line in rhs.statements(name) if line != f"{name} = {name}")
    else:
        body.append(pad + _wrap(f"{name} = {rhs}", indent=indent))
    return last_comment


def _function_code(program: Program, name: str, docstring: str, body: list[str], returns,
                   names: dict, extra_params, used_constants: list[str],
                   kernels: list[str]) -> FunctionCode:
    """The printed function; parameters beyond the module's (a tangent, a cotangent) get
    their shape checks and docstring types here."""
    ret = _print_returns(returns, names, program)
    types = _return_types(returns, names, _symbolic(program))
    if not extra_params:
        return FunctionCode(name, docstring, body, ret, return_types=types,
                            stable_rewrites=program.stable_rewrites, constants=used_constants,
                            kernels=kernels)
    checks = [line for pname, shape in extra_params for line in shape_check(pname, shape)]
    params = ", ".join(names[v.symbol] for v in program.inputs)
    extra = {pname for pname, _ in extra_params}
    arg_types = [(names[v.symbol], _type_text(v.shape, v.dtype, _symbolic(program)))
                 for v in program.inputs
                 if names[v.symbol] in extra]
    return FunctionCode(name, docstring, checks + body, ret, params, arg_types, types,
                        program.stable_rewrites, used_constants, kernels)


class ConstantPool:
    """Literal arrays defined once at module level, where a function reads them: an
    array the traced function captured (under its own name) or any literal too long to
    stand in an expression (`_c<k>`). Equal arrays share one definition."""

    #: A literal with more elements than this is never printed inside a function.
    MAX_INLINE_SIZE = 8

    def __init__(self) -> None:
        self.names: dict[tuple, str] = {}  # (dtype, shape, bytes) -> name
        self.lines: dict[str, str] = {}  # name -> its definition

    def wants(self, value: np.ndarray, hint: str | None, printer: SymdiffPrinter) -> bool:
        return value.ndim > 0 and (hint or value.size > self.MAX_INLINE_SIZE) and \
            printer.const_call(value) is None

    def add(self, value: np.ndarray, hint: str | None, xp: str) -> str:
        key = (value.dtype.str, value.shape, value.tobytes())
        if key not in self.names:
            name = hint if _constant_name_ok(hint) and hint not in self.lines else \
                f"_c{len(self.names)}"
            self.names[key] = name
            self.lines[name] = f"{name} = " + array_literal(value, xp, f"{name} = ", LINE_LENGTH)
        return self.names[key]


def _constant_name_ok(name: str | None) -> bool:
    return bool(name) and name.isidentifier() and name not in _RESERVED and \
        not name.startswith(_TEMP_PREFIX) and not name.startswith("_c")


#: NumPy computes `a + b` in place when `a` is a temporary of at least this many bytes
#: (NPY_MIN_ELIDE_BYTES); below it, term order does not change what is allocated.
_ELIDE_BYTES = 1 << 18


def _large(program: Program, stmt: Statement) -> bool:
    """Whether the statement's result is an array NumPy may update in place."""
    if stmt.var is not None:
        return _large_var(stmt.var)
    vars_ = [program.by_symbol[s] for s in stmt.symbols if s in program.by_symbol]
    return any(_large_var(v) for v in vars_)


def _large_var(v) -> bool:
    if 0 not in v.shape and any(isinstance(d, sp.Symbol) for d in v.shape) and \
            all(isinstance(d, (int, sp.Symbol)) for d in v.shape):
        return True  # (a product of sizes: unbounded, as at_least says, without SymPy)
    return dims.at_least(v.size * v.dtype.itemsize, _ELIDE_BYTES)


def _return_types(returns, names, symbolic: bool = False) -> list[tuple[str, str]]:
    """(name, dtype and shape) of each returned value, once each, in order."""
    seen = {}
    for v in _flatten(returns):
        seen.setdefault(names[v.symbol], _type_text(v.shape, v.dtype, symbolic))
    return list(seen.items())


def _symbolic(program: Program) -> bool:
    """Whether the module is for symbolic sizes (its docstrings then say `float64[]`)."""
    return any(dims.is_symbolic(v.shape) for v in program.inputs)


def _flatten(returns):
    for r in returns:
        if isinstance(r, tuple):
            yield from _flatten(r)
        else:
            yield r


def _print_returns(returns, names, program) -> str:
    def one(v) -> str:
        if isinstance(v, tuple):
            return "(" + ", ".join(one(x) for x in v) + ("," if len(v) == 1 else "") + ")"
        if v.symbol in names:
            return names[v.symbol]
        raise EmitError(f"internal: output v{v.id} is not computed")

    return ", ".join(one(r) for r in returns)


def _print_rhs(printer: SymdiffPrinter, program: Program, stmt: Statement,
               call_args: dict, is_output: bool, printed: Callable) -> str:
    """The right-hand side of `stmt`; `printed(expr)` prints an elementwise expression
    (through the module's memo)."""
    var = stmt.var
    if stmt.node is not None and stmt.node.op == CONST:
        return printer.print_node(stmt.node, ())
    if stmt.node is not None:
        args = [call_args.get(a) or printer.symbol_text(a) for a in stmt.args]
        text = printer.print_node(stmt.node, args)
        if is_output and stmt.node.op == "broadcast_to":
            return printer.fresh(text)  # a fresh, writable array
        return text
    expr = stmt.expr
    source = program.by_symbol[expr].dtype if expr in program.by_symbol else \
        program.temp_dtypes.get(expr)  # (a cast of a CSE temporary)
    if var is not None and expr.is_Symbol and source is not None and var.dtype != source:
        if var.shape:
            return printer.cast(printer.symbol_text(expr), var.dtype)
        return f"{printer.xp}.asarray({printer.doprint(expr)}, " \
            f"dtype={dtype_name(var.dtype, printer.xp)})"
    if var is not None and not stmt.symbols:
        if var.shape:
            return (f"{printer.xp}.full({dims.shape_text(var.shape)}, {printer.doprint(expr)}, "
                    f"dtype={dtype_name(var.dtype, printer.xp)})")
        return printer.scalar(printer.doprint(expr), var.dtype)
    text = printed(expr)
    if is_output and expr.is_Symbol:  # a fresh value, never an alias of an argument
        return printer.fresh(text, var.dtype) if var.shape else printer.scalar(text, var.dtype)
    return text


_INLINE_MAX = 60


def _inlinable(program: Program, outputs: set[Var]) -> set[sp.Symbol]:
    """Statements printed inside their only reader instead of on a line of their own:
    structured values (``X.T`` in ``X.T @ g``) and elementwise arguments of a call."""
    uses: dict[sp.Symbol, int] = {}
    read_by_call: set[sp.Symbol] = set()
    for stmt in program.statements:
        if stmt.expr is not None:  # every occurrence: x[i] read thrice is computed once
            for sym in sp.preorder_traversal(stmt.expr):
                if sym.is_Symbol:
                    uses[sym] = uses.get(sym, 0) + 1
                elif getattr(sym, "prints_argument_twice", False):
                    for arg in sym.args[0].free_symbols:  # a line of its own
                        uses[arg] = uses.get(arg, 0) + 1
        for sym in stmt.args:
            uses[sym] = uses.get(sym, 0) + 1
            read_by_call.add(sym)
    result = set()
    for stmt in program.statements:
        var = stmt.var
        if var is None or var in outputs or var in program.names or uses.get(stmt.target) != 1:
            continue
        structured = stmt.node is not None and stmt.node.op not in (CONST, "stop_gradient")
        elementwise_arg = stmt.expr is not None and stmt.target in read_by_call and \
            not stmt.expr.is_Symbol and stmt.symbols
        if structured or elementwise_arg:
            result.add(stmt.target)
    return result


def _sizes_only(stmt: Statement) -> bool:
    """An elementwise statement of sizes alone (`1/np.sqrt(d*n)`), which NumPy would
    compute in float64 whatever the arrays that read it."""
    return bool(stmt.symbols) and all(is_size_symbol(s) for s in stmt.symbols)


def _sizes_cast(stmt: Statement, printer, rhs, is_output: bool):
    """`rhs` of a statement of sizes alone in a float32 (or narrower) function, cast to
    that dtype: `np.sqrt(n)` of the int n is a float64, strong under NEP 50. Unless
    it is cast already: by the printer (a function of sizes), or as an output (a
    scalar of its dtype, `_print_rhs`)."""
    dtype = printer.dtype
    if not _sizes_only(stmt) or dtype is None or printer.weak_scalars or \
            np.dtype(dtype) in (np.dtype(np.float64), np.dtype(np.int64)):
        return rhs
    cast = dtype_name(dtype, printer.xp)
    cast_already = printer.casts(stmt.expr) or is_output and stmt.expr.is_Symbol and \
        not stmt.var.shape and printer.xp == "np"
    return rhs if cast_already else f"{cast}({rhs})"


def _backward_flags(program: Program, gradient: GradientPart | None) -> list[bool]:
    """Which statements belong to the gradient part: those computing a value
    differentiation made (`gradient.made`; a loop's body goes with its loop). A CSE
    temporary, or a value the optimiser made, belongs where its first reader in the
    module's program does (a value the forward function shares is forward code)."""
    if gradient is None:
        return [False] * len(program.statements)
    statements = program.module_statements or program.statements
    first_reader: dict[sp.Symbol, int] = {}
    for i, stmt in enumerate(statements):
        for sym in stmt.reads:
            first_reader.setdefault(sym, i)
    flags = [False] * len(statements)
    for i in range(len(statements) - 1, -1, -1):
        stmt = statements[i]
        ref = stmt.scope if stmt.scope is not None else stmt.var
        if ref in gradient.made or ref in gradient.forward:
            flags[i] = ref in gradient.made
        else:
            j = first_reader.get(stmt.target, -1)
            flags[i] = flags[j] if j > i else i + 1 < len(statements) and flags[i + 1]
    flag_of = {stmt.target: flag for stmt, flag in zip(statements, flags)}
    return [flag_of.get(stmt.target, False) for stmt in program.statements]


def _source_comment(loc: str, indent: int = 4) -> str | None:
    filename, _, line = loc.rpartition(":")
    if not line.isdigit():
        return None
    text = linecache.getline(filename, int(line)).strip()
    text = safe_comment(text)
    comment = f"# gradient of line {line}: {text}" if text else f"# gradient of line {line}"
    room = LINE_LENGTH - indent
    return comment if len(comment) <= room else comment[: room - 4] + "..."

