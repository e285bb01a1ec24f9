"""The fused backend: kernels of a plan (see `fusion`) printed as numba loops.

Each kernel is one `@njit` function with an explicit loop over its domain, whose body
reads like the NumPy statements it replaces with an index added
(``g[i] = x[i]*(2 - 400*_t1) - 2``); the NumPy function calls it where those
statements were. Lengths come from the arguments' shapes (``n = x.shape[0] - 1``),
never from the traced sizes.

Floating-point flags: kernels are compiled with ``fastmath={"contract"}`` only, which
lets a multiply and an add fuse into one FMA (one rounding instead of two). No flag
that changes more than rounding: not ``nnan``/``ninf`` (a NaN must propagate), ``nsz``
(the sign of a zero reaches ``1/x``), ``afn`` (libm accuracy) or ``arcp``. Sums add
through ``_accumulate``, the one addition compiled with ``reassoc``: the compiler
splits a sum into vector lanes (NumPy's own sum is pairwise, another order), and no
other operation is reassociated. A sum over some axes adds each result element's terms
in order (float64 only: float32 would lose digits over a long axis).

Transcendental functions are libm calls, one number at a time: numba vectorises them
only through Intel SVML, which needs an SVML-patched LLVM (conda's llvmlite); PyPI's
llvmlite 0.50 has none (`numba -s`: "llvmlite Using SVML Patched LLVM: False"), so
installing Intel's runtime changes nothing; LLVM's `-vector-library=LIBMVEC` (glibc's
vector libm) set through llvmlite changes neither the IR nor the machine code (LLVM
22). Hence `kernel_printer._SLOW_IN_LOOPS`, and `fast_trig`: float64 sin and cos
written out as branch-free polynomials that LLVM vectorises, libm's as the fall back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from ..errors import EmitError, InputError
from ..passes.program import Program, Statement
from . import fast_trig
from . import function as emit
from .fusion import ACC, AXIS, BUFFER, LOOP, Kernel, Plan, plan_kernels, reads, view_entries
from .kernel_printer import CALLS_ON_NUMBERS, KernelPrinter, printable
from .layout import LINE_LENGTH, _wrap, _wrap_statement, call_text
from .loop_kernels import LoopKernels, fresh_name
from .printer import dtype_name
from .temporaries import temp_dtype

__all__ = ["NumbaLayout", "require_numba", "ACCUMULATE", "KERNEL_FLAGS"]

#: The fastmath flags of every kernel (see the module docstring).
KERNEL_FLAGS = '{"contract"}'

#: Module-level helper that kernels' sums add through.
ACCUMULATE = '''\
@njit(cache=True, fastmath={"reassoc"})
def _accumulate(total, value):
    """total + value, the one addition the compiler may reassociate: a sum is split
    into vector lanes (its terms add up in another order, as NumPy's pairwise sum
    does; no other operation of a kernel is reassociated)."""
    return total + value'''

#: Module-level names kernels call.
_HELPERS = frozenset({"_accumulate", "prange", "np"})


def require_numba():
    """The numba module, or a usage error naming the extra to install."""
    try:
        import numba
    except ImportError:
        raise InputError("the numba backend needs numba: pip install 'symdiff[numba]' "
                         "(or use the default NumPy backend)") from None
    return numba


@dataclass
class NumbaLayout:
    """The kernel layout `emit.print_function` takes: plans kernels and prints them."""

    parallel: bool = False

    def plan(self, program: Program, outputs: set) -> Plan:
        if _HELPERS & {program.names.get(v) for v in program.inputs}:
            # a parameter named like a module-level helper would hide it in a kernel
            return plan_kernels(program, outputs, lambda stmt: False, fuse=False)
        return plan_kernels(program, outputs, printable)

    def loop_kernels(self, program: Program):
        """The folded loops of `program` that run element by element in a kernel."""
        if _HELPERS & {program.names.get(v) for v in program.inputs}:
            return None
        return LoopKernels(self, program, printable, CALLS_ON_NUMBERS)

    def print_kernel(self, kernel: Kernel, plan: Plan, names: dict, fname: str, number: int,
                     backward: list[bool], outputs: set) -> tuple[str, list[str]]:
        """(the kernel's definition, the lines that call it in the NumPy function)."""
        kname = fresh_name(f"_{fname}_k{number}", set(names.values()))
        writer = _KernelWriter(kernel, plan, names, backward, self.parallel)
        body = writer.lines()
        params = ", ".join(names[s] for s in kernel.params)
        signature = call_text(kname, params, 0)
        flags = f"cache=True, fastmath={KERNEL_FLAGS}"
        if writer.parallel:
            flags += ", parallel=True"
        text = "\n".join([f"@njit({flags})", f"def {signature}:",
                          *("    " + line if line else "" for line in body)])
        results = ", ".join(names[s] for s in kernel.returns)
        inputs = set(plan.program.inputs)
        arguments = ", ".join(_argument(names[s], plan.program.by_symbol.get(s), inputs)
                              for s in kernel.params)
        call = [_wrap(f"{results} = {call_text(kname, arguments, 4)}", indent=4)]
        vectorised = fast_trig.vectorise(text, results, kname, arguments, 0)
        if vectorised is not None:
            text, call = vectorised
        for sym in kernel.returns:  # numba returns Python floats; keep NumPy's scalar type
            var = plan.program.by_symbol.get(sym)
            if kernel.kinds[sym] == ACC and var in outputs:
                call.append(f"{names[sym]} = {dtype_name(var.dtype)}({names[sym]})")
        return text, call


def _argument(name: str, var, inputs: set) -> str:
    """A scalar argument as a NumPy scalar: the caller may pass a 0-d array, which
    numba would type as an array."""
    if var in inputs and var.shape == () and var.dtype.kind in "fiub":
        return f"{dtype_name(var.dtype)}({name})"
    return name


class _KernelWriter:
    """The body of one kernel, as lines indented relative to the `def`."""

    def __init__(self, kernel: Kernel, plan: Plan, names: dict, backward, parallel: bool):
        self.kernel, self.plan, self.names = kernel, plan, names
        self.program = plan.program
        self.statements = [self.program.statements[i] for i in sorted(kernel.members)]
        self.backward = [backward[i] for i in sorted(kernel.members)]
        self.parallel = parallel and not any(k in (BUFFER, AXIS) for k in kernel.kinds.values())
        self.taken = {names[s] for s in kernel.params} | \
            {names[s.target] for s in self.statements if s.target in names}
        self.index = [self._take(n) for n in _index_names(len(kernel.domain))]
        self.lengths = [self._take(n) for n in _length_names(len(kernel.domain))]
        self.local: dict[sp.Symbol, str] = {}  # member -> how the loop reads it
        self.printer = KernelPrinter()
        self.printer.names = self.local  # filled as the body is printed
        # `8/n*x[i]`, not `8*x[i]/n`: the quotient of sizes is computed once, before
        # the loop, where a division per element would bound a memory-speed kernel
        self.printer.sizes = self.program.size_symbols()

    def _take(self, name: str) -> str:
        name = fresh_name(name, self.taken)
        self.taken.add(name)
        return name

    # -- reading operands ---------------------------------------------------------------
    def _shape(self, sym: sp.Symbol) -> tuple:
        var = self.program.by_symbol.get(sym)
        if var is not None:
            return var.shape
        return self.plan.shapes[sym]

    def _access(self, sym: sp.Symbol) -> tuple[str, list[tuple[int, str]]]:
        """How the loop reads a value from before the kernel, and the domain lengths
        its shape gives: (text, [(domain axis, length expression)])."""
        domain = self.kernel.domain
        if sym in self.kernel.views:
            return self._view_access(sym)
        name, shape = self.names[sym], self._shape(sym)
        if not shape:
            return name, []
        lead = len(domain) - len(shape)
        entries, lengths = [], []
        for axis, size in enumerate(shape):
            d = lead + axis
            if size == 1 and domain[d] != 1:
                entries.append("0")
            else:
                entries.append(self.index[d])
                lengths.append((d, f"{name}.shape[{axis}]"))
        return f"{name}[{', '.join(entries)}]", lengths

    def _view_access(self, sym: sp.Symbol) -> tuple[str, list[tuple[int, str]]]:
        view = self.plan.views[sym]
        base = view.args[0]
        name, base_shape = self.names[base], self._shape(base)
        shape, domain = self._shape(sym), self.kernel.domain
        lead = len(domain) - len(shape)
        entries, lengths = [], []
        index = list(view_entries(view))
        index += [slice(0, n, 1) for n in base_shape[len(index) - sum(e is None for e in index):]]
        axis = 0  # of the view
        for entry in index:
            if entry is None:
                axis += 1
                continue
            if isinstance(entry, int):
                entries.append(str(entry))
                continue
            d = lead + axis
            base_axis = len(entries)
            start = entry.start
            if shape[axis] == 1 and domain[d] != 1:
                entries.append(str(start))
            else:
                entries.append(self.index[d] + (f" + {start}" if start else ""))
                drop = base_shape[base_axis] - shape[axis]
                lengths.append((d, f"{name}.shape[{base_axis}]" + (f" - {drop}" if drop else "")))
            axis += 1
        if not entries:  # a view of a number: x[None, None]
            return name, lengths
        return f"{name}[{', '.join(entries)}]", lengths

    # -- the kernel ---------------------------------------------------------------------
    def lines(self) -> list[str]:
        lengths: dict[int, str] = {}
        direct = set().union(*(reads(s) for s in self.statements))
        for sym in self.kernel.params:
            for view in [v for v in self.kernel.views if self.plan.views[v].args[0] == sym]:
                text, found = self._view_access(view)
                self.local[view] = text
                for d, expr in found:
                    lengths.setdefault(d, expr)
            if sym in self.kernel.views or sym not in direct:  # (read through views only)
                continue
            text, found = self._access(sym)
            self.local[sym] = text
            for d, expr in sorted(found, key=lambda f: "-" in f[1]):
                lengths.setdefault(d, expr)
        for d, size in enumerate(self.kernel.domain):
            lengths.setdefault(d, str(size))  # no argument has that axis: a traced size
        head = [f"{n} = {lengths[d]}" for d, n in enumerate(self.lengths)]
        head += self._allocations()
        loop, depth = self._loop_header()
        body = self._body()
        tail = [f"return {', '.join(self._result_name(s) for s in self.kernel.returns)}"]
        return head + loop + ["    " * depth + line for line in body] + tail

    def _loop_header(self) -> tuple[list[str], int]:
        lines = []
        for d, (i, n) in enumerate(zip(self.index, self.lengths)):
            ranger = "prange" if self.parallel and d == 0 else "range"
            lines.append("    " * d + f"for {i} in {ranger}({n}):")
        return lines, len(self.index)

    def _result_name(self, sym: sp.Symbol) -> str:
        return self.names[sym]

    def _length_of(self, size: int) -> str:
        """An expression for a buffer's length from the arguments' shapes."""
        for sym in self.kernel.params:
            if sym in self.kernel.views:
                continue
            for axis, n in enumerate(self._shape(sym)):
                if n == size:
                    return f"{self.names[sym]}.shape[{axis}]"
        n, extra = self.lengths[0], size - self.kernel.domain[0]
        return f"{n} + {extra}" if extra > 0 else f"{n} - {-extra}" if extra else n

    def _allocations(self) -> list[str]:
        lines = []
        for stmt in self.statements:
            sym, kind = stmt.target, self.kernel.kinds[stmt.target]
            if kind == LOOP and sym in self.kernel.returns:
                lengths = ", ".join(self.lengths)
                shape = lengths if len(self.lengths) == 1 else f"({lengths})"
                lines.append(f"{self.names[sym]} = np.empty({shape}{self._dtype(stmt)})")
            elif kind == ACC and sym in self.kernel.returns:
                lines.append(f"{self.names[sym]} = 0.0")
            elif kind == AXIS:
                lengths = [("1" if stmt.node.p["keepdims"] else None) if d in
                           stmt.node.p["axes"] else n for d, n in enumerate(self.lengths)]
                lengths = [n for n in lengths if n is not None]
                shape = lengths[0] if len(lengths) == 1 else f"({', '.join(lengths)},)" \
                    if lengths else "()"
                lines.append(f"{self.names[sym]} = np.zeros({shape}{self._dtype(stmt)})")
            elif kind == BUFFER and stmt.node.op == "scatter_add":
                lines += self._buffer(stmt)
        return lines

    def _dtype(self, stmt: Statement) -> str:
        dtype = stmt.var.dtype if stmt.var is not None else \
            temp_dtype(self.program, stmt.target, {})
        if dtype is None or np.dtype(dtype) == np.float64:
            return ""
        return f", dtype={dtype_name(dtype)}"

    def _buffer_name(self, root: sp.Symbol) -> str:
        for sym in self.kernel.returns:
            if self.kernel.buffer_of.get(sym) == root:
                return self.names[sym]
        raise EmitError("internal: a kernel writes a buffer nothing reads")

    def _writes(self, root: sp.Symbol) -> list[tuple[Statement, int]]:
        return [(s, s.node.p["index"][0].start) for s in self.statements
                if self.kernel.buffer_of.get(s.target) == root]

    def _buffer(self, stmt: Statement) -> list[str]:
        """Allocate a buffer the kernel writes; zero what its first writes do not reach.
        Every write adds onto zeros; the one with the largest offset reaches each
        element first (i increases), so it assigns and the others add."""
        name, size = self._buffer_name(stmt.target), stmt.var.shape[0]
        lines = [f"{name} = np.empty({self._length_of(size)}{self._dtype(stmt)})"]
        first = max(start for _, start in self._writes(stmt.target))
        if first:
            lines.append(f"{name}[:{first}] = 0" if first > 1 else f"{name}[0] = 0")
        if first + self.kernel.domain[0] < size:
            end = f"{self.lengths[0]} + {first}" if first else self.lengths[0]
            lines.append(f"{name}[{end}:] = 0")
        return lines

    # -- the loop body ------------------------------------------------------------------
    def _uses(self) -> dict[sp.Symbol, int]:
        counts: dict[sp.Symbol, int] = {}
        for stmt in self.statements:
            atoms = [a for a in sp.preorder_traversal(stmt.expr) if a.is_Symbol] \
                if stmt.expr is not None else []
            for sym in atoms + list(stmt.args):
                counts[sym] = counts.get(sym, 0) + 1
        return counts

    def _body(self) -> list[str]:
        """The loop body in program order, but buffer writes last, the largest offset
        first: `g[i + 1] = a` then `g[i] += b`. (`g[i] += b` right after the previous
        iteration's store to the same element stalls the loop about threefold.)"""
        lines, last_loc, uses = [], None, self._uses()
        indent = 4 + 4 * len(self.index)
        assigned: dict[sp.Symbol, bool] = {}
        pairs = list(zip(self.statements, self.backward))
        writes = [p for p in pairs if self.kernel.kinds[p[0].target] == BUFFER]
        writes.sort(key=lambda p: -p[0].node.p["index"][0].start)
        for stmt, is_backward in [p for p in pairs if p not in writes] + writes:
            if is_backward and stmt.loc and stmt.loc != last_loc:
                comment = emit._source_comment(stmt.loc)
                if comment:
                    width = LINE_LENGTH - indent
                    lines.append(comment if len(comment) <= width else comment[:width - 3] + "...")
                last_loc = stmt.loc
            line = self._statement(stmt, uses, assigned)
            if line is not None:
                lines.append(_wrap_statement(line, indent))
        return lines

    def _statement(self, stmt: Statement, uses: dict, assigned: dict) -> str | None:
        sym, kind = stmt.target, self.kernel.kinds[stmt.target]
        if kind == LOOP:
            self.printer.dtype = stmt.var.dtype if stmt.var is not None else \
                temp_dtype(self.program, sym, {})
            rhs = self.printer.doprint(stmt.expr)
            if sym in self.kernel.returns:
                where = ", ".join(self.index)
                self.local[sym] = f"{self.names[sym]}[{where}]"
                return f"{self.local[sym]} = {rhs}"
            if uses.get(sym, 0) == 1 and len(rhs) <= emit._INLINE_MAX:
                self.local[sym] = rhs
                self.printer.inlined[sym] = self.printer.expr_precedence(stmt.expr)
                return None
            self.local[sym] = self._local_name(sym)
            return f"{self.local[sym]} = {rhs}"
        if kind == ACC:
            term = self._term(stmt)
            name = self.names[sym]
            if self.parallel:  # numba's parfor spots `+=` reductions
                return f"{name} += {term}"
            return f"{name} = _accumulate({name}, {term})"
        if kind == AXIS:  # each element adds up in order along the summed axes
            keep, axes = stmt.node.p["keepdims"], stmt.node.p["axes"]
            where = [("0" if keep else None) if d in axes else i
                     for d, i in enumerate(self.index)]
            where = ", ".join(i for i in where if i is not None)
            return f"{self.names[sym]}[{where}] += {self._read(stmt.args[0])}"
        root = self.kernel.buffer_of[sym]
        start = stmt.node.p["index"][0].start
        values = self._read(stmt.args[0] if stmt.node.op == "scatter_add" else stmt.args[1])
        where = self.index[0] + (f" + {start}" if start else "")
        first = max(s for _, s in self._writes(root))
        op = "=" if start == first and not assigned.get(root) else "+="
        assigned[root] = assigned.get(root, False) or op == "="
        return f"{self._buffer_name(root)}[{where}] {op} {values}"

    def _read(self, sym: sp.Symbol) -> str:
        return self.printer.doprint(sym)

    def _term(self, stmt: Statement) -> str:
        if stmt.node.op == "sum":
            return self._read(stmt.args[0])
        a, b = (self.printer.parenthesize(s, PRECEDENCE["Mul"]) for s in stmt.args)
        return f"{a}*{b}"

    def _local_name(self, sym: sp.Symbol) -> str:
        name = self.names.get(sym)
        if name is not None and name.isidentifier():
            return name
        k = 0
        while f"_t{k}" in self.taken:
            k += 1
        return self._take(f"_t{k}")


def _index_names(ndim: int) -> list[str]:
    return ["i", "j", "k"][:ndim] if ndim <= 3 else [f"i{d}" for d in range(ndim)]


def _length_names(ndim: int) -> list[str]:
    return ["n"] if ndim == 1 else [f"n{d}" for d in range(ndim)]


# -- errors ---------------------------------------------------------------------------------
def compile_error(exc: BaseException) -> EmitError | None:
    """A numba compilation failure as a symdiff error quoting the kernel's line."""
    try:
        from numba.core.errors import NumbaError
    except ImportError:
        return None
    if not isinstance(exc, NumbaError):
        return None
    text = str(exc)
    found = re.findall(r'File "([^"]+)", line (\d+)', text)
    where = ""
    if found:
        import linecache

        path, line = found[-1]
        code = linecache.getline(path, int(line)).strip()
        where = f"\n  {path}:{line}: {code}" if code else f"\n  {path}:{line}"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return EmitError(f"numba could not compile a generated kernel: {first}{where}\n"
                     "Report this; the NumPy backend (the default) runs the same code.")
