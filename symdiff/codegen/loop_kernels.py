"""Folded loops under the fused backend: a loop whose every step is elementwise runs
element by element inside one kernel.

When a loop's carried values all have one shape (its *domain*), what it reads from
outside has that shape or none, and every statement of its body is elementwise, the
loop computes each element on its own: the kernel runs over the domain and, for each
element, the loop exactly as the NumPy function prints it, on numbers::

    for i in range(n):
        x = x_in[i]
        dJ_dx = dJ_dx_in[i]
        for _ in range(4):
            _t0 = np.cos(x)
            ...
        dJ_dx_out[i] = dJ_dx

Carried values stay in registers across steps instead of making one pass over memory
per operation and step. Any other loop (a stack of values per step, a row per step,
a matmul or a reduction in its body, a loop run backwards, nested loops) stays a NumPy
loop. The printed loop text is checked before it moves into a kernel: it may only
call NumPy functions a kernel can call on numbers, and read names the kernel binds or
takes as arguments (sizes, static step counts); otherwise it stays NumPy too.
"""

from __future__ import annotations

import ast
import builtins

from ..ir.loops import LOOP, Loop
from ..passes.loops import LOOP_END
from ..passes.simplify import Program
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
            _fresh(f"_{fname}_k{len(kernels)}", set(names.values())))
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
    if loop.n_xs or loop.ys or loop.reverse or not loop.n_carry or stmt.depth:
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


def _fresh(name: str, taken: set[str]) -> str:
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
        text = "\n".join(self.lines)
        try:
            tree = ast.parse(_dedent(text))
        except SyntaxError:
            return None
        found = self._identifiers(tree)
        if found is None:
            return None
        loaded, stored = found
        taken = loaded | stored | {"np", kname}
        arrays, scalars = self._outer(loaded, stored)
        if arrays is None or not arrays:
            return None
        results = self._results()
        if results is None:
            return None
        def fresh(name):
            name = _fresh(name, taken)
            taken.add(name)
            return name
        index = [fresh(n) for n in (["i", "j", "k"][:len(self.domain)] if len(self.domain) <= 3
                                    else [f"i{d}" for d in range(len(self.domain))])]
        lengths = [fresh(n) for n in (["n"] if len(self.domain) == 1
                                      else [f"n{d}" for d in range(len(self.domain))])]
        params = {name: fresh(f"{name}_in") for name in arrays}
        outs = {name: fresh(f"{name}_out") for name, _ in results}
        where = ", ".join(index)
        first = params[arrays[0]]
        head = [f"{n} = {first}.shape[{d}]" for d, n in enumerate(lengths)]
        shape = lengths[0] if len(lengths) == 1 else f"({', '.join(lengths)})"
        for name, dtype in results:
            kind = "" if dtype is None or dtype_name(dtype) == "np.float64" else \
                f", dtype={dtype_name(dtype)}"
            head.append(f"{outs[name]} = np.empty({shape}{kind})")
        loop = []
        for d, (i, n) in enumerate(zip(index, lengths)):
            ranger = "prange" if self.owner.layout.parallel and d == 0 else "range"
            loop.append("    " * d + f"for {i} in {ranger}({n}):")
        pad = "    " * len(index)
        binds = [f"{pad}{name} = {params[name]}[{where}]" for name in arrays]
        writes = [f"{pad}{outs[name]}[{where}] = {name}" for name, _ in results]
        moved = [pad + line for line in self.lines]
        ret = f"return {', '.join(outs[name] for name, _ in results)}"
        signature = call_text(kname, ", ".join([params[a] for a in arrays] + scalars), 0)
        flags = "cache=True, fastmath={\"contract\"}" + \
            (", parallel=True" if self.owner.layout.parallel else "")
        body = head + loop + binds + moved + writes + [ret]
        kernel = "\n".join([f"@njit({flags})", f"def {signature}:",
                            *("    " + line if line else "" for line in body)])
        indent = _indent(self.lines)
        call = " " * indent + _wrap(
            f"{', '.join(name for name, _ in results)} = "
            f"{call_text(kname, ', '.join(arrays + [self._scalar(s) for s in scalars]), 4 + indent)}",
            indent=4 + indent)
        return kernel, [call]

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


def _indent(lines: list[str]) -> int:
    first = next((line for line in lines if line.strip()), "")
    return len(first) - len(first.lstrip())


def _dedent(text: str) -> str:
    """The loop's lines from column 0 (continuation lines stay inside brackets)."""
    cut = _indent(text.splitlines())
    return "\n".join(line[cut:] if line[:cut].isspace() else line
                     for line in text.splitlines())

