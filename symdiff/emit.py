"""Stage 5: straight-line programs to a standalone NumPy module (printer + Jinja2).

The printer turns each statement into one assignment; this module chooses names
(the user's own variables where the trace recovered them, adjoints as
`d<out>_d<var>`, the rest `_t<k>`), wraps long lines, writes a comment naming the
source line each gradient block differentiates, and fills the module template.
"""

from __future__ import annotations

import heapq
import io
import keyword
import linecache
import os
import re
import shlex
import textwrap
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources

import jinja2
import numpy as np
import sympy as sp

from . import __version__
from .errors import EmitError
from .functions import KINK_CONVENTIONS
from .ir import CONST, Var
from .printer import Block, SymdiffPrinter, array_literal, dtype_name
from .simplify import Program, Statement
from .trace import ArgSpec

__all__ = [
    "FunctionCode",
    "ModuleCode",
    "render_module",
    "print_function",
    "module_code",
    "LINE_LENGTH",
    "CONVENTIONS",
    "DEFAULT_KINDS",
    "shape_check",
    "command_lines",
    "default_command",
]

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
    params: str | None = None  # when the function takes more than the module's arguments
    arg_types: list[tuple[str, str]] = field(default_factory=list)  # of those extra ones
    return_types: list[tuple[str, str]] = field(default_factory=list)
    stable_rewrites: list[str] = field(default_factory=list)  # listed in the header
    constants: list[str] = field(default_factory=list)  # module-level definitions it reads


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


def call_text(name: str, params: str, indent: int) -> str:
    """`name(params)` on one line at `indent`, or the parameters on lines of their own
    (a `def` line ends with `:` after it, hence the margin)."""
    text = f"{name}({params})"
    if indent + len("def ") + len(text) + 1 <= LINE_LENGTH:
        return text
    pad = " " * (indent + 4)
    lines = _fill(params.split(", "), ", ", LINE_LENGTH - 1, pad, pad)
    return f"{name}(\n" + "\n".join(lines) + f",\n{' ' * indent})"


@dataclass
class ModuleCode:
    """What the module template needs, as already-printed strings."""

    header: list[str]
    docstring: str
    params: str
    checks: list[str]
    functions: list[FunctionCode] = field(default_factory=list)
    scalar_params: list[str] = field(default_factory=list)  # all traced float scalars
    constants: list[str] = field(default_factory=list)  # lines defining module constants

    @property
    def exports(self) -> str:
        """The list literal of `__all__`, one name per line when they do not fit, in
        isort order (what ruff's default rule RUF022 asks for)."""
        names = [f'"{n}"' for n in sorted((f.name for f in self.functions), key=_isort_key)]
        if len("__all__ = []") + len(", ".join(names)) <= LINE_LENGTH:
            return "[" + ", ".join(names) + "]"
        return "[\n" + "".join(f"    {n},\n" for n in names) + "]"

    @property
    def check_signature(self) -> str:
        return call_text("_check_inputs", self.params, 0)

    @property
    def check_call(self) -> str:
        """The call of `_check_inputs` that opens each function. When every argument
        was a traced float scalar, an inline type test skips the call for Python floats:
        a function call costs as much as a small polynomial."""
        call = call_text("_check_inputs", self.params, 4)
        if not self.scalar_params:
            return call
        tests = [f"isinstance({p}, float)" for p in self.scalar_params]
        test = tests[0] if len(tests) == 1 else "(" + " and ".join(tests) + ")"
        guard = _if(f"not {test}")
        if guard.startswith("if (\n"):  # too long for one line: always call
            return call
        return guard + "\n        " + call_text("_check_inputs", self.params, 8)


def _isort_key(name: str) -> tuple:
    """Constants (UPPER_CASE) first, then classes (Capitalized), then the rest, each in
    natural order (digit runs compared as numbers)."""
    if len(name) > 1 and name.upper() == name != name.lower():
        kind = 0
    else:
        kind = 1 if name[0].isupper() else 2
    return kind, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


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


#: Conventions at points where the derivative is not defined, stated in every header.
CONVENTIONS = KINK_CONVENTIONS + (
    "np.where(c, a, b): the derivative of the branch chosen; conditions have none",
)

#: The derivative kinds a module holds unless asked otherwise (`symdiff emit --emit`).
DEFAULT_KINDS = ("grad", "value_and_grad")


def _sig(specs: Sequence[ArgSpec]) -> str:
    return ", ".join(s.name for s in specs)


def _type_text(shape: tuple[int, ...], dtype) -> str:
    """`float64, shape (3,)`: the words docstrings use for an array argument or result."""
    return f"{np.dtype(dtype).name}, shape {tuple(shape)!r}"


def _arg_text(s: ArgSpec) -> str:
    if s.traced:
        return _type_text(s.shape, s.dtype)
    return f"{s.static!r} (the value this code was generated for)"


def _wrt(specs, nums) -> str:
    return ", ".join(specs[i].name for i in nums)


def forward_doc(name: str, specs) -> str:
    """Summary line of the forward function."""
    return f"Value of {name}, as traced."


def grad_doc(name: str, specs, nums) -> str:
    """Summary line of `grad_<name>`."""
    return f"Gradient of {name} with respect to {_wrt(specs, nums)}."


def value_and_grad_doc(name: str, specs, nums) -> str:
    """Summary line of `value_and_grad_<name>`."""
    return (f"Value of {name} and its gradient with respect to {_wrt(specs, nums)}, "
            "computed together.")


def _docstring(fn: FunctionCode, specs: Sequence[ArgSpec]) -> str:
    """Summary (wrapped), then `Args:` and `Returns:` with dtypes and shapes; the text
    is indented for a function body and ends where the closing quotes go."""
    pad = " " * 4
    lines = textwrap.wrap(fn.docstring, LINE_LENGTH - len(pad) - 3) or [""]
    args = [(s.name, _arg_text(s)) for s in specs] + fn.arg_types
    lines += ["", "Args:", *(f"    {n}: {t}" for n, t in args)]
    lines += ["", "Returns:"]
    if len(fn.return_types) == 1 and fn.returns == fn.return_types[0][0]:
        lines.append(f"    {fn.returns}: {fn.return_types[0][1]}")
    else:
        lines += textwrap.wrap(f"{fn.returns}, where", LINE_LENGTH - len(pad) - 4,
                               initial_indent="    ", subsequent_indent="        ",
                               break_on_hyphens=False)
        lines += [f"        {n}: {t}" for n, t in fn.return_types]
    return "\n".join((pad + line).rstrip() if i else line for i, line in enumerate(lines)) \
        + "\n" + pad


def module_header(fn, name, specs, nums, source_name, command=None, kinds=DEFAULT_KINDS,
                  stable_rewrites=()) -> list[str]:
    """Header comment lines: provenance, how to regenerate, arguments, conventions."""
    where = source_name or _relative_source(fn)
    command = command or default_command(f"{where}:{name}", specs, nums, kinds)
    width = LINE_LENGTH - 2  # the template writes "# " before each line
    return [
        *textwrap.wrap(f"Generated by symdiff {__version__} from {where}:{name}. "
                       "Do not edit.", width, subsequent_indent="  "),
        "Regenerate with:",
        *command_lines(command, width),
        *_fill([s.describe() for s in specs], ", ", width - 1, "Traced arguments: ", "  "),
        "Conventions at kinks:",
        *(f"  {c}" for c in CONVENTIONS),
        *(["Stable rewrites (numerically equal, no overflow; see symdiff/stable.py):"]
          if stable_rewrites else []),
        *(line for r in stable_rewrites for line in textwrap.wrap(
            r, width, initial_indent="  ", subsequent_indent="    ")),
    ]


def default_command(target: str, specs, nums, kinds=DEFAULT_KINDS) -> list[str]:
    """`symdiff emit` arguments reproducing a module compiled through the Python API."""
    words = ["symdiff", "emit", target, "--wrt", ",".join(specs[i].name for i in nums)]
    for s in specs:
        if s.traced and s.shape:
            words += ["--shape", f"{s.name}={','.join(map(str, s.shape))}"]
    for s in specs:
        if s.traced and s.dtype != np.float64:
            words += ["--dtype", f"{s.name}={s.dtype.name}"]
    if tuple(kinds) != DEFAULT_KINDS:
        words += ["--emit", ",".join(kinds)]
    return words


def command_lines(words: Sequence[str], width: int) -> list[str]:
    """A shell command as comment lines of at most `width` columns, continued with `\\`;
    an option stays on the line of its value."""
    quoted = [shlex.quote(w) for w in words]
    units = []
    for word in quoted:
        if units and units[-1].startswith("-") and " " not in units[-1] \
                and not word.startswith("-"):
            units[-1] += " " + word
        else:
            units.append(word)
    return _fill(units, " ", width - 2, "  ", "      ", " \\")


def _fill(items: Sequence[str], sep: str, width: int, first: str, rest: str,
          cont: str = "") -> list[str]:
    """Join `items` with `sep` into lines of at most `width` columns, breaking only
    between items; lines but the last end with `sep.rstrip() + cont`."""
    lines, current = [], first + items[0] if items else first
    for item in items[1:]:
        if len(current) + len(sep) + len(item) > width:
            lines.append(current + sep.rstrip() + cont)
            current = rest + item
        else:
            current += sep + item
    return lines + [current]


def _relative_source(fn) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return "<unknown>"
    path = code.co_filename
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith(os.pardir) else rel


def shape_check(name: str, shape: tuple[int, ...], guard: bool = True) -> list[str]:
    """`if` + `raise ValueError` lines checking one argument's shape. A float (Python's
    or np.float64) passes a scalar check by its type alone, which keeps scalar code
    fast (`np.shape` of a float costs about a microsecond); `guard=False` leaves that
    test to the caller."""
    test = f"np.shape({name}) != {shape!r}"
    if shape == () and guard:
        test = f"not isinstance({name}, float) and {test}"
    message = f'f"{name} must have shape {shape}, got {{np.shape({name})}}"'
    return [_if(test), *_raise(message)]


def _if(test: str, indent: int = 4) -> str:
    """`if test:` at column `indent`; a long test goes one `and` clause per line (the
    lines after the first carry their own indentation)."""
    if indent + len(f"if {test}:") <= LINE_LENGTH:
        return f"if {test}:"
    pad = " " * indent
    clauses = test.split(" and ")
    return "if (\n" + "\n".join(pad + ("    and " if i else "    ") + c
                                 for i, c in enumerate(clauses)) + f"\n{pad}):"


def static_check(name: str, value) -> list[str]:
    """Lines checking that a static (untraced) argument has its generation-time value."""
    message = (f'f"{name} was {value!r} when this code was generated, '
               f'got {{{name}!r}}"')
    return [f"if {name} != {value!r}:", *_raise(message)]


def _raise(message: str, error: str = "ValueError") -> list[str]:
    """`raise error(message)` in the body of an `if`, where `message` is an f-string
    literal (`f"..."`); a long one is split into adjacent literals between words."""
    line = f"    raise {error}({message})"
    if 4 + len(line) <= LINE_LENGTH:
        return [line]
    parts = _split_fstring(message[2:-1], LINE_LENGTH - 19)  # room for a nested `if`
    literals = [("f" if "{" in part else "") + f'"{part}"' for part in parts]
    return [f"    raise {error}(", *(f"        {lit}" for lit in literals), "    )"]


def _split_fstring(body: str, width: int) -> list[str]:
    """Split the inside of an f-string after spaces outside `{...}` into pieces of at
    most `width` characters where possible."""
    words, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        depth += (ch == "{") - (ch == "}")
        if ch == " " and depth == 0:
            words.append(body[start:i + 1])
            start = i + 1
    words.append(body[start:])
    parts = [""]
    for word in words:
        if parts[-1] and len(parts[-1]) + len(word) > width:
            parts.append("")
        parts[-1] += word
    return parts


def dtype_check(name: str, dtype, guard: bool = True, indent: int = 4) -> list[str]:
    """Lines raising TypeError for an argument of a dtype the code was not generated
    for: bool, complex, object or strings where real numbers were traced, and a float of
    another width (float32 code would silently compute in float64, and float64 code in
    float32). Integers pass where floats were traced: NumPy promotes them."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        test = (f"np.asarray({name}).dtype != {dtype_name(dtype)} and "
                f"np.asarray({name}).dtype.kind not in 'iu'")
        if guard:
            test = f"not isinstance({name}, float) and {test}"
        message = (f'f"{name} must be {dtype.name} as traced (or integers), got dtype '
                   f'{{np.asarray({name}).dtype}}; convert it with .astype({dtype_name(dtype)})"')
        return [_if(test, indent), *_raise(message, "TypeError")]
    kinds, what = {"i": ("iu", "integers"), "u": ("iu", "integers"),
                   "b": ("b", "booleans")}[dtype.kind]
    test = f"np.asarray({name}).dtype.kind not in {kinds!r}"
    message = (f'f"{name} must be {what} ({dtype.name} when traced), '
               f'got dtype {{np.asarray({name}).dtype}}"')
    return [_if(test, indent), *_raise(message, "TypeError")]


def input_checks(specs) -> list[str]:
    """Body of `_check_inputs`: one shape and dtype (or static value) check per argument."""
    lines = []
    for s in specs:
        if not s.traced:
            lines += static_check(s.name, s.static)
        elif s.shape == () and s.dtype.kind == "f":  # one type test on the hot path
            nested = shape_check(s.name, (), guard=False) \
                + dtype_check(s.name, s.dtype, False, indent=8)
            lines += [f"if not isinstance({s.name}, float):", *("    " + x for x in nested)]
        else:
            lines += shape_check(s.name, s.shape) + dtype_check(s.name, s.dtype, s.shape == ())
    return lines or ["pass"]


def _module_docstring(text: str) -> str:
    if len(f'"""{text}"""') <= LINE_LENGTH:
        return text
    return "\n".join(textwrap.wrap(text, LINE_LENGTH - 3)) + "\n"  # closing quotes below


def module_code(fn, name, specs, nums, functions, source_name=None, command=None) \
        -> ModuleCode:
    """The template context for a module of `functions` (the forward function first).

    `command` is the `symdiff emit` command line (a list of words) recorded in the
    header; by default one is derived from the traced arguments."""
    kinds = [f.name[: -len(name) - 1] for f in functions if f.name != name]
    params = ", ".join(s.name for s in specs)
    functions = [replace(f, docstring=_docstring(f, specs), params=f.params or params)
                 for f in functions]
    summary = f"Forward and derivative code for `{name}`, generated by symdiff."
    return ModuleCode(
        header=module_header(fn, name, specs, nums, source_name, command, kinds,
                             list(dict.fromkeys(r for f in functions for r in f.stable_rewrites))),
        docstring=_module_docstring(summary),
        params=params,
        checks=input_checks(specs),
        functions=functions,
        scalar_params=[s.name for s in specs] if all(_float_scalar(s) for s in specs) else [],
        constants=[line for text in dict.fromkeys(c for f in functions for c in f.constants)
                   for line in text.splitlines()],
    )


def _float_scalar(spec: ArgSpec) -> bool:
    return spec.traced and spec.shape == () and spec.dtype.kind == "f"


def _temp_dtype(program: Program, sym: sp.Symbol, memo: dict):
    """The float dtype NumPy gives a CSE temporary: that of the float values it reads,
    or, reading none (np.where(mask, 1.0, 0.0)), that of the statements reading it; so
    that a constant inside it is printed in that dtype."""
    if sym not in memo:
        memo[sym] = None
        found = []
        for s in program.temp_defs[sym].free_symbols:
            var = program.by_symbol.get(s)
            d = var.dtype if var is not None else \
                _temp_dtype(program, s, memo) if s in program.temp_defs else None
            if d is not None and np.dtype(d).kind == "f":
                found.append(d)
        if not found:
            found = [d for d in map(lambda st: _reader_dtype(program, st, memo),
                                    _readers(program, sym)) if d is not None]
        memo[sym] = np.result_type(*found) if found else None
    return memo[sym]


def _readers(program: Program, sym: sp.Symbol) -> list[Statement]:
    return [st for st in program.statements
            if st.expr is not None and sym in st.expr.free_symbols]


def _reader_dtype(program: Program, stmt: Statement, memo: dict):
    if stmt.var is not None:
        return stmt.var.dtype if stmt.var.dtype.kind == "f" else None
    return _temp_dtype(program, stmt.target, memo)


# -- one function ------------------------------------------------------------------------
def print_function(
    program: Program,
    name: str,
    docstring: str,
    returns: Sequence[Var | tuple],
    out_name: str,
    backward_from: int | None = None,
    xp: str = "np",
    extra_params: Sequence[tuple[str, tuple]] = (),
    constants: ConstantPool | None = None,
) -> FunctionCode:
    """Print `program` as the body of function `name` returning `returns`
    (a Var, or a tuple of Vars for a tuple result). Large or named literal arrays go to
    `constants`, shared by the functions of one module."""
    constants = constants if constants is not None else ConstantPool()
    names = _assign_names(program, out_name)
    output_vars = set(_flatten(returns))
    inlinable = _inlinable(program, output_vars)
    printer = SymdiffPrinter(names, xp=xp)
    call_args: dict[sp.Symbol, str] = {}  # inlined text as it stands in a call's arguments
    body: list[str] = []
    last_comment = None
    temps = _TempNames(program, inlinable, output_vars)
    backward = _backward_flags(program, backward_from)
    used_constants: list[str] = []
    temp_dtypes: dict[sp.Symbol, np.dtype | None] = {}  # (memo of _temp_dtype)
    for index, (stmt, is_backward) in enumerate(zip(program.statements, backward)):
        printer.dtype = stmt.var.dtype if stmt.var is not None else \
            _temp_dtype(program, stmt.target, temp_dtypes)
        printer.large = _large(program, stmt)
        if stmt.node is not None and stmt.node.op == CONST and stmt.var not in output_vars \
                and constants.wants(stmt.node.value, names.get(stmt.target), printer):
            names[stmt.target] = constants.add(stmt.node.value, names.get(stmt.target), xp)
            used_constants.append(constants.lines[names[stmt.target]])
            continue
        rhs = _print_rhs(printer, program, stmt, call_args, stmt.var in output_vars)
        internal = stmt.node is not None and stmt.node.op == "stop_gradient" and not stmt.loc
        if internal or stmt.target in inlinable and not isinstance(rhs, Block) and \
                len(rhs) <= _INLINE_MAX:
            call_args[stmt.target] = rhs
            names[stmt.target] = rhs
            if not _is_atomic(rhs):
                printer.compound.add(stmt.target)  # parenthesized where an operator reads it
            continue
        if is_backward and stmt.loc and stmt.loc != last_comment:
            comment = _source_comment(stmt.loc)
            if comment:
                body.append(comment)
            last_comment = stmt.loc
        if stmt.target not in names:
            names[stmt.target] = temps.take(stmt.target, index)
        if stmt.node is not None and stmt.node.op == "stop_gradient":
            body.append(f"# stop_gradient({rhs}): derivatives treat {names[stmt.target]} as "
                        "a constant")
        if isinstance(rhs, Block):  # (a buffer updated in place may share its name)
            target = names[stmt.target]
            body.extend(_wrap_statement(line, indent=4) for line in rhs.statements(target)
                        if line != f"{target} = {target}")
        else:
            body.append(_wrap(f"{names[stmt.target]} = {rhs}", indent=4))
    ret = _print_returns(returns, names, program)
    types = _return_types(returns, names)
    if not extra_params:
        return FunctionCode(name, docstring, body, ret, return_types=types,
                            stable_rewrites=program.stable_rewrites, constants=used_constants)
    checks = [line for pname, shape in extra_params for line in shape_check(pname, shape)]
    params = ", ".join(names[v.symbol] for v in program.inputs)
    extra = {pname for pname, _ in extra_params}
    arg_types = [(names[v.symbol], _type_text(v.shape, v.dtype)) for v in program.inputs
                 if names[v.symbol] in extra]
    return FunctionCode(name, docstring, checks + body, ret, params, arg_types, types,
                        program.stable_rewrites, used_constants)


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
        return stmt.var.size * stmt.var.dtype.itemsize >= _ELIDE_BYTES
    vars_ = [program.by_symbol[s] for s in stmt.expr.free_symbols if s in program.by_symbol]
    return any(v.size * v.dtype.itemsize >= _ELIDE_BYTES for v in vars_)


class _TempNames:
    """`_t<k>` names for temporaries, a name reused once its value is dead, so that
    NumPy can free an intermediate array as soon as the code no longer needs it (a
    long chain otherwise keeps every one alive until the function returns)."""

    def __init__(self, program: Program, inlinable: set, outputs: set):
        statements = program.statements
        reads = [(s.expr.free_symbols if s.expr is not None else set()) | set(s.args)
                 for s in statements]
        first_reader: dict[sp.Symbol, int] = {}
        for i, symbols in enumerate(reads):
            for sym in symbols:
                first_reader.setdefault(sym, i)
        # An inlined statement is evaluated where its reader is (transitively).
        where = list(range(len(statements)))
        for i in reversed(range(len(statements))):
            reader = first_reader.get(statements[i].target)
            if statements[i].target in inlinable and reader is not None:
                where[i] = where[reader]
        self.last_use: dict[sp.Symbol, float] = {}
        for i, symbols in enumerate(reads):
            for sym in symbols:
                self.last_use[sym] = max(self.last_use.get(sym, -1), where[i])
        for var in outputs:
            self.last_use[var.symbol] = float("inf")
        self.holders: list[tuple[sp.Symbol, str]] = []
        self.free: list[int] = []
        self.count = 0

    def take(self, sym: sp.Symbol, index: int) -> str:
        """A name for `sym`, defined by statement `index`."""
        still = []
        for holder, name in self.holders:
            if self.last_use.get(holder, -1) < index:
                heapq.heappush(self.free, int(name[len(_TEMP_PREFIX):]))
            else:
                still.append((holder, name))
        self.holders = still
        if self.free:
            number = heapq.heappop(self.free)
        else:
            number, self.count = self.count, self.count + 1
        name = f"{_TEMP_PREFIX}{number}"
        self.holders.append((sym, name))
        return name


def _return_types(returns, names) -> list[tuple[str, str]]:
    """(name, dtype and shape) of each returned value, once each, in order."""
    seen = {}
    for v in _flatten(returns):
        seen.setdefault(names[v.symbol], _type_text(v.shape, v.dtype))
    return list(seen.items())


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
    if var is not None and expr.is_Symbol and expr in program.by_symbol and \
            var.dtype != program.by_symbol[expr].dtype:
        return f"{printer.xp}.asarray({printer.doprint(expr)}, dtype={dtype_name(var.dtype)})"
    if var is not None and not expr.free_symbols:
        if var.shape:
            return f"{printer.xp}.full({var.shape}, {printer.doprint(expr)}, dtype={dtype_name(var.dtype)})"
        return f"{dtype_name(var.dtype)}({printer.doprint(expr)})"
    text = printer.doprint(expr)
    if is_output and expr.is_Symbol:  # a fresh value, never an alias of an argument
        if not var.shape:
            return f"{dtype_name(var.dtype)}({text})"
        return f"{printer.xp}.array({text}, dtype={dtype_name(var.dtype)})"
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
    if text.endswith("]") and text.split("[", 1)[0].isidentifier() and text.count("[") == 1:
        return True  # a subscript: x[1:, None]
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
    inputs, outputs = set(program.inputs), set(program.outputs)
    # the argument's returned adjoint first: `dloss_dz` names it even when the user
    # reassigned `z = z - z.max()` and that intermediate has an adjoint too
    first = [s for s in program.statements if s.var in outputs and
             program.adjoint_of.get(s.var) in inputs]
    for stmt in first + [s for s in program.statements if s not in first]:
        primal = program.adjoint_of.get(stmt.var) if stmt.var is not None else None
        if primal is not None:
            primal_name = names.get(primal.symbol) or program.names.get(primal)
            if primal_name and _identifier(primal_name):
                claim(stmt.target, f"d{out_name}_d{primal_name}")
        elif stmt.var is not None and stmt.var is value:
            claim(stmt.target, "value")
    _share_buffer_names(program, names)
    return names


def _share_buffer_names(program: Program, names: dict[sp.Symbol, str]) -> None:
    """A fresh buffer that an in-place `add_at` updates takes the updated value's
    name, so the code reads `g = zeros; g[:-1] = ...; g[1:] += ...` with no `g = _t2`."""
    for stmt in reversed(program.statements):
        node = stmt.node
        if node is not None and node.op == "add_at" and node.p["inplace"] and \
                stmt.target in names and stmt.args[0] not in names:
            names[stmt.args[0]] = names[stmt.target]


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

    Breaks go at spaces (before a binary operator, after a comma) where possible and
    between any two tokens otherwise. The first line is returned unindented (the
    template indents it); continuation lines carry their absolute indentation."""
    line = re.sub(r"\s*\n\s*", " ", line)  # NumPy prints big arrays over several lines
    if indent + len(line) <= LINE_LENGTH:
        return line
    target, rhs = line.split(" = ", 1)
    lines, depth = [], 0  # a line starting inside k brackets is indented 4k further
    while True:
        pad = " " * (indent + 4 + 4 * depth)
        cut = _break_at(rhs, LINE_LENGTH - len(pad)) if len(pad) + len(rhs) > LINE_LENGTH \
            else None
        if cut is None:
            break
        lines.append(pad + rhs[:cut].rstrip())
        depth += _depth_change(rhs[:cut])
        rhs = rhs[cut:].lstrip()
    lines.append(pad + rhs)
    return f"{target} = (\n" + "\n".join(lines) + f"\n{' ' * indent})"


def _wrap_statement(line: str, indent: int) -> str:
    """`_wrap` for the statements of a Block: an assignment, an augmented assignment
    (``x[i] += v``) or a call (``np.add.at(x, i, v)``, its arguments wrapped)."""
    if indent + len(line) <= LINE_LENGTH:
        return line
    if " += " in line:
        target, rhs = line.split(" += ", 1)
        return _wrap(f"{target}  = {rhs}", indent).replace("  = ", " += ", 1)
    if " = " in line:
        return _wrap(line, indent)
    callee, args = line[:-1].split("(", 1)
    return callee + "(" + _wrap(f"{callee} = {args}", indent)[len(f"{callee} = ("):]


def _depth_change(text: str) -> int:
    return sum(text.count(c) for c in _OPENING) - sum(text.count(c) for c in _CLOSING)


def _break_at(text: str, limit: int) -> int | None:
    """Where to break `text` so the first part fits in `limit` columns: outside as
    many parentheses as possible, at the most preferred kind of place (before an
    operator, after a comma), as far right as possible; if nothing fits, at the
    first break there is."""
    points = _break_points(text)
    fitting = [p for p in points if 0 < p[0] <= limit]
    roomy = [p for p in fitting if p[0] >= _MIN_FIRST_PART]
    fitting = roomy or fitting  # not `-1/6` alone on a line when `-1/6*np.where(` fits
    if fitting:
        return max(fitting, key=lambda p: (-p[1], p[2], p[0]))[0]
    later = [p[0] for p in points if p[0] > 0]
    return min(later) if later else None


#: A break leaving less than this on its line is taken only when no other fits.
_MIN_FIRST_PART = 16

_OPENING, _CLOSING = {"(", "[", "{"}, {")", "]", "}"}
_NO_BREAK_AFTER = {".", "(", "["}
_NO_BREAK_BEFORE = {".", "(", "[", ")", "]", "**", ","}


def _break_points(text: str) -> list[tuple[int, int, int]]:
    """(column, bracket depth, preference) of each place a line break may split `text`:
    spaces, and token boundaries not around `.` nor before `(`, `[` or `**`."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                  if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)]
    except (tokenize.TokenError, SyntaxError):
        return [(i, 0, 1) for i, ch in enumerate(text) if ch == " "]
    points, depth = [], 0
    for left, right in zip(tokens, tokens[1:]):
        depth += (left.string in _OPENING) - (left.string in _CLOSING)
        start, end = left.end[1], right.start[1]
        before_operator = right.type == tokenize.OP and right.string not in _NO_BREAK_BEFORE
        if start < end:  # a space: best before an operator or after a comma
            after_operator = left.type == tokenize.OP and left.string not in _CLOSING | {","}
            points.append((start, depth, 2 if after_operator else 3))
        elif left.string not in _NO_BREAK_AFTER and right.string not in _NO_BREAK_BEFORE:
            points.append((start, depth, 1 if before_operator else 0))
    return points
