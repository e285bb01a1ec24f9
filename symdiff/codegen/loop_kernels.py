"""Folded loops under the fused backend: a loop whose every step is elementwise runs
as one kernel, each step one pass over the elements.

When a loop's carried values all have one shape (its *domain*), what it reads from
outside has that shape or none, and every statement of its body is elementwise, each
step computes each element on its own: the kernel starts the carried values element
by element, then runs the loop exactly as the NumPy function prints it, on numbers,
inside a pass over the domain::

    for _ in range(4):
        for i in range(n):
            x = x_all[i]
            _t0 = np.cos(x)
            ...
            x_all[i] = x

One pass per step instead of one per operation and step, no temporaries. (The other
nesting, the steps inside the pass over elements, keeps the carried values in
registers but makes each element one chain of dependent calls that the processor
cannot overlap: measured 1.7x slower on P6.) Any other loop (a stack of values per
step, a row per step, a matmul or a reduction in its body, a loop run backwards,
nested loops) stays a NumPy loop. The printed loop text is checked before it moves
into a kernel: it may only call NumPy functions a kernel can call on numbers, and read
names the kernel binds or takes as arguments (sizes, static step counts); otherwise
it stays NumPy too.
"""

from __future__ import annotations

import ast
import builtins

from ..ir.loops import LOOP, Loop
from ..passes.loops import LOOP_END
from ..passes.program import Program
from . import fast_trig
from .layout import _wrap, call_text
from .literals import dtype_name

__all__ = ["LoopKernels"]

_ALLOWED_BUILTINS = frozenset({"range"})


class LoopKernels:
    """Finds the loops of a program that can run element by element, and moves their
    printed text into kernels (`FunctionCode.kernels`) once printed."""

    def __init__(self, layout, program: Program, printable, calls: frozenset[str]):
        """`printable`: whether a statement prints as a kernel's code on numbers;
        `calls`: the NumPy names a kernel may read (np.<name>)."""
        self.layout, self.program = layout, program
        self.calls = calls
        self.regions: dict[int, int] = {}  # head index -> its LOOP_END's index
        self.domains: dict[int, tuple] = {}  # head index -> domain
        for head, end in _loops(program):
            domain = _domain(program, head, end, printable)
            if domain is not None:
                self.regions[head], self.domains[head] = end, domain
        self.ends = {end: head for head, end in self.regions.items()}
        self.marks: dict[int, int] = {}

    def extra_indent(self, index: int) -> int:
        """Columns a statement of a fused loop will move right by (wrap it for those)."""
        for head, end in self.regions.items():
            if head < index < end:
                return 4 * len(self.domains[head])
        return 0

    def printed(self, index: int, mark: int, body: list[str], names: dict, fname: str,
                kernels: list[str], loops) -> None:
        """After the loop statement `index` printed its lines (from `body[mark]` on):
        at a fusible loop's end, replace the loop's lines by a kernel's call."""
        if index in self.regions:
            self.marks[index] = mark
            return
        head = self.ends.get(index)
        if head is None:
            return
        start = self.marks.pop(head)
        made = _KernelText(self, head, body[start:], names, loops).build(
            fresh_name(f"_{fname}_k{len(kernels)}", set(names.values())))
        if made is not None:
            text, call = made
            kernels.append(text)
            body[start:] = call


def _loops(program: Program):
    """(head, end) indices of the outermost loops."""
    heads = []
    for i, stmt in enumerate(program.statements):
        op = stmt.node.op if stmt.node is not None else None
        if op == LOOP:
            heads.append(i)
        elif op == LOOP_END:
            head = heads.pop()
            if not heads:
                yield head, i


def _shape(program: Program, sym) -> tuple | None:
    var = program.by_symbol.get(sym)
    return var.shape if var is not None else None


def _domain(program: Program, head: int, end: int, printable) -> tuple | None:
    """The domain of a loop that can run element by element, or None."""
    stmt = program.statements[head]
    loop: Loop = stmt.node.p["loop"]
    if loop.n_xs or loop.ys or loop.reverse or not loop.n_carry or stmt.depth or \
            loop.is_while or loop.counted:  # (a while loop's count is not per element)
        return None
    domain = loop.carry_in[0].shape
    if not domain or any(v.shape != domain for v in loop.carry_in + loop.carry_out):
        return None
    n_c = loop.n_carry
    outer = list(stmt.args[:n_c]) + list(stmt.args[n_c + loop.n_xs:])
    if any(_shape(program, s) not in (domain, ()) for s in outer):
        return None
    for inner in program.statements[head + 1:end]:
        if inner.depth != 1 or inner.expr is None or not inner.expr.free_symbols:
            return None
        if inner.var is not None and inner.var.shape not in (domain, ()):
            return None
        if not printable(inner):
            return None
    return domain


def fresh_name(name: str, taken: set[str]) -> str:
    """`name`, with underscores in front until no name in `taken` is the same (kernels
    of the loop and of the fused runs of the numba backend)."""
    while name in taken:
        name = "_" + name
    return name


class _KernelText:
    """One fused loop's kernel text and call, or None when its text does not qualify."""

    def __init__(self, owner: LoopKernels, head: int, lines: list[str], names: dict, loops):
        self.owner, self.lines, self.names, self.loops = owner, lines, names, loops
        self.program = owner.program
        self.stmt = self.program.statements[head]
        self.loop: Loop = self.stmt.node.p["loop"]
        self.domain = owner.domains[head]

    def _identifiers(self, tree) -> tuple[set[str], set[str]] | None:
        """(names read, names assigned) by the loop's text; None if it does more than
        arithmetic and calls a kernel can make on numbers."""
        loaded, stored = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                (stored if isinstance(node.ctx, ast.Store) else loaded).add(node.id)
            elif isinstance(node, ast.Attribute):
                if not (isinstance(node.value, ast.Name) and node.value.id == "np"
                        and node.attr in self.owner.calls):
                    return None
            elif isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id not in _ALLOWED_BUILTINS:
                    return None
                if node.keywords:
                    return None
            elif isinstance(node, (ast.Subscript, ast.Lambda, ast.Starred, ast.While,
                                   ast.If, ast.With, ast.Try)):
                return None
        return loaded, stored

    def build(self, kname: str) -> tuple[str, list[str]] | None:
        try:
            tree = ast.parse(_dedent("\n".join(self.lines)))
        except SyntaxError:
            return None
        found = self._identifiers(tree)
        split = _split(self.lines)
        if found is None or split is None:
            return None
        loaded, stored = found
        arrays, scalars = self._outer(loaded, stored)
        results, carried = self._results(), self._carried()
        if not arrays or not results or not carried or \
                any(name not in carried for name, _ in results):
            return None
        self.taken = loaded | stored | {"np", kname}
        ndim = len(self.domain)
        self.index = [self._fresh(n) for n in (["i", "j", "k"][:ndim] if ndim <= 3
                                               else [f"i{d}" for d in range(ndim)])]
        self.lengths = [self._fresh(n) for n in (["n"] if ndim == 1
                                                 else [f"n{d}" for d in range(ndim)])]
        params = {name: self._fresh(f"{name}_in") for name in arrays}
        state = {name: self._fresh(f"{name}_all") for name in carried}
        body = self._body(split, params, state, carried)
        body.append(f"return {', '.join(state[name] for name, _ in results)}")
        signature = call_text(kname, ", ".join([params[a] for a in arrays] + scalars), 0)
        flags = "cache=True, fastmath={\"contract\"}" + \
            (", parallel=True" if self.owner.layout.parallel else "")
        kernel = "\n".join([f"@njit({flags})", f"def {signature}:",
                            *("    " + line if line else "" for line in body)])
        indent = _indent(self.lines)
        arguments = ", ".join(arrays + [self._scalar(s) for s in scalars])
        outputs = ", ".join(name for name, _ in results)
        vectorised = fast_trig.vectorise(kernel, outputs, kname, arguments, indent)
        if vectorised is not None:
            return vectorised
        call = " " * indent + _wrap(f"{outputs} = {call_text(kname, arguments, 4 + indent)}",
                                    indent=4 + indent)
        return kernel, [call]

    def _fresh(self, name: str) -> str:
        name = fresh_name(name, self.taken)
        self.taken.add(name)
        return name

    def _body(self, split, params: dict, state: dict, carried: dict) -> list[str]:
        """Start every carried value element by element, then each step: one pass over
        the domain reading the carried values, stepping them, storing them back."""
        before, for_line, steps = split
        first = params[next(iter(params))]
        lines = [f"{n} = {first}.shape[{d}]" for d, n in enumerate(self.lengths)]
        shape = self.lengths[0] if len(self.lengths) == 1 else f"({', '.join(self.lengths)})"
        for name, dtype in carried.items():
            kind = "" if dtype is None or dtype_name(dtype) == "np.float64" else \
                f", dtype={dtype_name(dtype)}"
            lines.append(f"{state[name]} = np.empty({shape}{kind})")
        where = ", ".join(self.index)
        inits, consts = self._outer_names()
        pad = "    " * len(self.index)
        lines += self._element_loop("")
        lines += [f"{pad}{name} = {params[name]}[{where}]" for name in params if name in inits]
        lines += [pad + line for line in before]
        lines += [f"{pad}{state[name]}[{where}] = {name}" for name in carried]
        lines.append(for_line)
        lines += self._element_loop("    ")
        pad = "    " + pad
        lines += [f"{pad}{name} = {params[name]}[{where}]" for name in params if name in consts]
        lines += [f"{pad}{name} = {state[name]}[{where}]" for name in carried]
        lines += ["    " * len(self.index) + line for line in steps]
        lines += [f"{pad}{state[name]}[{where}] = {name}" for name in carried]
        return lines

    def _element_loop(self, pad: str) -> list[str]:
        lines = []
        for d, (i, n) in enumerate(zip(self.index, self.lengths)):
            ranger = "prange" if self.owner.layout.parallel and d == 0 else "range"
            lines.append(pad + "    " * d + f"for {i} in {ranger}({n}):")
        return lines

    def _outer_names(self) -> tuple[set[str], set[str]]:
        """Names of the loop's first values, and of the values it reads each step."""
        n_c = self.loop.n_carry
        return ({self.names.get(s) for s in self.stmt.args[:n_c]},
                {self.names.get(s) for s in self.stmt.args[n_c + self.loop.n_xs:]})

    def _carried(self) -> dict[str, object] | None:
        """The carried values' names (in the loop's text) and dtypes."""
        carried = {}
        for var in self.loop.carry_in:
            name = self.names.get(var.symbol)
            if not isinstance(name, str) or not name.isidentifier():
                return None
            carried[name] = var.dtype
        return carried

    def _outer(self, loaded: set[str], stored: set[str]):
        """(arrays of the domain the loop reads, by name; names of numbers it reads),
        or (None, None) when something read from outside has no name."""
        n_c = self.loop.n_carry
        outer = list(self.stmt.args[:n_c]) + list(self.stmt.args[n_c + self.loop.n_xs:])
        arrays: list[str] = []
        self.scalar_vars: dict[str, object] = {}
        for sym in outer:
            name = self.names.get(sym)
            if not isinstance(name, str) or not name.isidentifier():
                return None, None
            if _shape(self.program, sym) == self.domain:
                if name not in arrays:
                    arrays.append(name)
            else:
                self.scalar_vars[name] = self.program.by_symbol.get(sym)
        free = sorted(loaded - stored - set(arrays) - {"np"} - _ALLOWED_BUILTINS)
        if any(hasattr(builtins, name) for name in free):
            return None, None
        return arrays, free

    def _scalar(self, name: str) -> str:
        var = self.scalar_vars.get(name)
        if var is not None and var in self.program.inputs and var.dtype.kind in "fiub":
            return f"{dtype_name(var.dtype)}({name})"  # (a 0-d array would type as one)
        return name

    def _results(self) -> list[tuple[str, object]] | None:
        """(name, dtype) of each carried value the loop hands on."""
        outs = self.loops.outputs.get(self.stmt.node.out.symbol, {})
        results = []
        for j in range(self.loop.n_carry):
            final = outs.get(j)
            if final is None:
                continue
            name = self.names.get(final)
            if not isinstance(name, str) or not name.isidentifier():
                return None
            var = self.program.by_symbol.get(final)
            results.append((name, var.dtype if var is not None else None))
        return results or None


def _split(lines: list[str]) -> tuple[list[str], str, list[str]] | None:
    """(the lines before the loop's `for`, that line, the lines of its steps)."""
    cut = _indent(lines)
    for k, line in enumerate(lines):
        if line[cut:].startswith("for "):
            return [line[cut:] for line in lines[:k]], lines[k][cut:], \
                [line[cut:] for line in lines[k + 1:]]
    return None


def _indent(lines: list[str]) -> int:
    first = next((line for line in lines if line.strip()), "")
    return len(first) - len(first.lstrip())


def _dedent(text: str) -> str:
    """The loop's lines from column 0 (continuation lines stay inside brackets)."""
    cut = _indent(text.splitlines())
    return "\n".join(line[cut:] if line[:cut].isspace() else line
                     for line in text.splitlines())

