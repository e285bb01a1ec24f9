"""Which statements of a straight-line program run together in one loop (a kernel).

A fused backend (see `numba_backend`) prints each kernel as one function with an
explicit loop, called from the NumPy function body in place of its statements. This
module only decides, and knows nothing of printing. In one pass over the program:

- an elementwise statement with an array result joins the open kernel when it has
  the kernel's shape (its *domain*) and reads only numbers, arrays broadcasting to
  the domain, values of the kernel computed at the same index, and basic views
  (``x[1:]``, ``a[:, None]``) of values computed before the kernel;
- a sum over all axes, or a dot product of two vectors, of such operands becomes an
  accumulator of the kernel; a sum over some axes an array of accumulators (AXIS);
- ``g = zeros; g[s:e] = v`` and later ``g[s:e] += w`` on a 1-D buffer become writes
  of the kernel into a buffer it allocates;
- any other statement stays a NumPy statement: moved before the kernel's call when
  it does not depend on the kernel (unless it updates an array in place), after it
  otherwise; a fusible statement that depends on such a later statement closes the
  kernel.

Statements move only past statements they do not depend on, so the reordered
program computes the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import sympy as sp

from ..ir import dims
from ..ir.indexing import IndexArg, slice_length
from ..passes.program import Program, Statement

__all__ = ["Kernel", "Plan", "plan_kernels", "reads", "view_entries", "LOOP", "ACC", "BUFFER",
           "AXIS"]

LOOP, ACC, BUFFER, AXIS = "loop", "acc", "buffer", "axis"


@dataclass(eq=False)  # (identity: kernels are told apart by object)
class Kernel:
    """Statements (indices into the reordered program) fused into one loop."""

    domain: tuple[int, ...]
    members: list[int] = field(default_factory=list)
    kinds: dict[sp.Symbol, str] = field(default_factory=dict)  # what each member defines
    buffer_of: dict[sp.Symbol, sp.Symbol] = field(default_factory=dict)  # write -> buffer root
    returns: list[sp.Symbol] = field(default_factory=list)  # values read after the kernel
    params: list[sp.Symbol] = field(default_factory=list)  # values read from before it
    views: set[sp.Symbol] = field(default_factory=set)  # views read as the viewed array


@dataclass
class Plan:
    """The reordered program, its kernels (each closed at its last member's index), the
    statements no longer printed (members, and views only kernels read) and the values
    that must have a name of their own in the NumPy code."""

    program: Program
    kernels: list[Kernel]
    closing: dict[int, Kernel]
    skipped: set[int]
    named: set[sp.Symbol]
    at: dict[int, int]  # member -> where its kernel is called (where it reads its operands)
    views: dict[sp.Symbol, Statement]  # basic views, by the symbol they define
    shapes: dict[sp.Symbol, tuple]  # of CSE temporaries


def reads(stmt: Statement) -> set[sp.Symbol]:
    """The symbols a statement reads."""
    symbols = set(stmt.args)
    if stmt.expr is not None:
        symbols |= stmt.expr.free_symbols
    return symbols


def view_entries(stmt: Statement) -> tuple | None:
    """The index of a basic view a kernel can read in place (slices of step 1, ints,
    new axes; a reshape that only adds axes of length 1 is such an index), or None."""
    node = stmt.node
    if node is not None and node.op == "reshape" and len(stmt.args) == 1:
        return _added_axes(node.inputs[0].shape, tuple(node.p["shape"]))
    if node is None or node.op != "index" or len(stmt.args) != 1:
        return None
    index = node.p["index"]
    for entry in index:
        if isinstance(entry, IndexArg) or isinstance(entry, slice) and entry.step != 1:
            return None
    return index if _fixed_offsets(index, node.inputs[0].shape) else None


def _fixed_offsets(index: tuple, shape: tuple) -> bool:
    """Whether each slice starts at a number and leaves a number of elements out: a
    kernel reads `x[i + 1]` with its length `x.shape[0] - 1` (`x[:n//2]` of a symbolic n
    has no such form, and stays a NumPy view)."""
    axis = 0
    for entry in index:
        if entry is None:
            continue
        if isinstance(entry, slice) and not (
                isinstance(entry.start, int)
                and isinstance(dims.canon(shape[axis] - slice_length(entry, shape[axis])), int)):
            return False
        axis += 1
    return True


def _added_axes(old: tuple, new: tuple) -> tuple | None:
    """`x[:, None]` as index entries when `new` is `old` with axes of length 1 added."""
    entries, i = [], 0
    for size in new:
        if i < len(old) and size == old[i]:
            entries.append(slice(0, size, 1))
            i += 1
        elif size == 1:
            entries.append(None)
        else:
            return None
    return tuple(entries) if i == len(old) else None


def _write_slice(stmt: Statement) -> slice | None:
    """The one step-1 slice a 1-D scatter or in-place add writes, or None; its offsets
    must be numbers (see `_fixed_offsets`)."""
    node = stmt.node
    index = node.p["index"]
    if len(index) != 1 or not isinstance(index[0], slice) or index[0].step != 1 \
            or len(stmt.var.shape) != 1 or not _fixed_offsets(index, stmt.var.shape):
        return None
    return index[0]


class _Classifier:
    """What a statement can be in a kernel: (role, domain) or None."""

    def __init__(self, program: Program, printable: Callable[[Statement], bool]):
        self.program = program
        self.printable = printable
        self.temp_shape: dict[sp.Symbol, tuple] = {}  # CSE temporaries', as scheduled

    def __call__(self, stmt: Statement):
        var = stmt.var
        if var is None or not var.shape or var.size == 0:
            return self._scalar(stmt)
        if stmt.expr is not None:
            if stmt.expr.free_symbols and self.printable(stmt):
                return LOOP, var.shape
            return None
        node = stmt.node
        if node.op == "sum" and len(stmt.args) == 1 and self._shape(stmt.args[0]) and \
                var.dtype == np.float64:  # (over some axes, added in order: float32 would lose)
            return AXIS, self._shape(stmt.args[0])
        if node.op == "scatter_add" and len(stmt.args) == 1 and _write_slice(stmt) \
                and self._shape(stmt.args[0]) == _length(_write_slice(stmt), var.shape[0]):
            return BUFFER, self._shape(stmt.args[0])
        if node.op == "add_at" and node.p["inplace"] and _write_slice(stmt) \
                and self._shape(stmt.args[1]) == _length(_write_slice(stmt), var.shape[0]):
            return BUFFER, self._shape(stmt.args[1])
        return None

    def _scalar(self, stmt: Statement):
        node = stmt.node
        if node is None or stmt.var is None or stmt.var.shape:
            return None
        shapes = [self._shape(a) for a in stmt.args]
        if node.op == "sum" and not node.p["keepdims"] and shapes[0]:
            return ACC, shapes[0]
        if node.op == "matmul" and len(shapes[0]) == 1 and shapes[0] == shapes[1]:
            return ACC, shapes[0]
        return None

    def _shape(self, sym: sp.Symbol) -> tuple:
        var = self.program.by_symbol.get(sym)
        return var.shape if var is not None else self.temp_shape.get(sym)


def _length(s: slice, n: int) -> tuple[int]:
    return (slice_length(s, n),)


class _Scheduler:
    """The one pass: one open kernel, NumPy statements moved around it."""

    def __init__(self, program: Program, classify: _Classifier):
        self.program = program
        self.classify = classify
        self.order: list[int] = []  # old indices, in the new order
        self.kernels: list[tuple[Kernel, list[int]]] = []  # (kernel, old member indices)
        self.temp_shape = classify.temp_shape
        self.views = {s.target: s for s in program.statements if view_entries(s) is not None}
        self._close()

    def _close(self) -> None:
        if getattr(self, "kernel", None) is not None and self.members:
            self.order += self.members
            self.kernels.append((self.kernel, self.members))
        if getattr(self, "deferred", None):
            self.order += self.deferred
        self.kernel, self.members, self.deferred = None, [], []
        self.tainted: set[sp.Symbol] = set()  # defined by the kernel or after it

    def run(self) -> None:
        for index, stmt in enumerate(self.program.statements):
            self.step(index, stmt)
        self._close()

    def step(self, index: int, stmt: Statement) -> None:
        role = self._role(stmt)
        if role is not None and self.kernel is not None and self._joins(stmt, *role):
            self._add(index, stmt, role[0])
            return
        starts = role is not None and self._joins_empty(stmt, *role)
        if self.kernel is not None and not starts:  # a NumPy statement: before or after
            if reads(stmt) & self.tainted or _in_place(stmt):
                self.deferred.append(index)
                self.tainted.add(stmt.target)
            else:
                self.order.append(index)
            return
        self._close()
        if starts:
            self.kernel = Kernel(role[1])
            self._add(index, stmt, role[0])
        else:
            self.order.append(index)

    def _role(self, stmt: Statement):
        if stmt.var is None:  # a CSE temporary: elementwise, shaped like its operands
            shape = self._temp_shape(stmt)
            if shape and stmt.expr.free_symbols and self.classify.printable(stmt):
                return LOOP, shape
            return None
        return self.classify(stmt)

    def _temp_shape(self, stmt: Statement) -> tuple | None:
        """A CSE temporary's shape: the broadcast of its operands' shapes."""
        shapes = []
        for sym in stmt.expr.free_symbols:
            var = self.program.by_symbol.get(sym)
            shape = var.shape if var is not None else self.temp_shape.get(sym)
            if shape is None:
                return None
            shapes.append(shape)
        ndim = max((len(s) for s in shapes), default=0)
        result = []
        for axis in range(ndim):
            sizes = {s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0}
            sizes.discard(1)
            if len(sizes) > 1:
                return None
            result.append(sizes.pop() if sizes else 1)
        self.temp_shape[stmt.target] = tuple(result)
        return tuple(result)

    def _joins_empty(self, stmt: Statement, role: str, domain: tuple) -> bool:
        """Whether the statement can open a kernel of its own."""
        if role == BUFFER and stmt.node.op == "add_at":
            return False  # the buffer was made by NumPy code: update it there
        saved = self.kernel, self.tainted
        self.kernel, self.tainted = Kernel(domain), set()
        try:
            return self._joins(stmt, role, domain)
        finally:
            self.kernel, self.tainted = saved

    def _joins(self, stmt: Statement, role: str, domain: tuple) -> bool:
        kernel = self.kernel
        if domain != kernel.domain:
            return False
        for sym in reads(stmt):
            kind = kernel.kinds.get(sym)
            if kind == LOOP:
                continue
            if kind == BUFFER and stmt.node is not None and stmt.node.op == "add_at" \
                    and sym == stmt.args[0]:
                continue
            if kind is not None or sym in self.tainted:
                return False  # an accumulator, a buffer being written, or a later value
        if role == BUFFER and stmt.node.op == "add_at" and stmt.args[0] not in kernel.kinds:
            return False
        return True

    def _add(self, index: int, stmt: Statement, role: str) -> None:
        kernel = self.kernel
        self.members.append(index)
        kernel.kinds[stmt.target] = role
        self.tainted.add(stmt.target)
        if role == BUFFER:
            root = stmt.target if stmt.node.op == "scatter_add" else \
                kernel.buffer_of[stmt.args[0]]
            kernel.buffer_of[stmt.target] = root


def _in_place(stmt: Statement) -> bool:
    """Whether the NumPy statement writes into an array another statement made."""
    return stmt.node is not None and stmt.node.op == "add_at" and stmt.node.p["inplace"]


def plan_kernels(program: Program, outputs: set, printable: Callable[[Statement], bool],
                 fuse: bool = True) -> Plan:
    """Group `program` into kernels (see the module docstring). `printable(stmt)` says
    whether the backend can print an elementwise statement inside a loop; `fuse=False`
    makes no kernel at all."""
    scheduler = _Scheduler(program, _Classifier(program, printable))
    if fuse:
        scheduler.run()
    else:
        scheduler.order = list(range(len(program.statements)))
    scheduler.kernels = [(k, m) for k, m in scheduler.kernels
                         if _worth_a_loop([program.statements[i] for i in m])]
    position = {old: new for new, old in enumerate(scheduler.order)}
    statements = [program.statements[i] for i in scheduler.order]
    reordered = replace(program, statements=statements)
    kernels, closing, skipped = [], {}, set()
    member_of: dict[sp.Symbol, Kernel] = {}
    for kernel, old in scheduler.kernels:
        kernel.members = [position[i] for i in old]
        kernels.append(kernel)
        closing[max(kernel.members)] = kernel
        skipped.update(kernel.members)
        for i in kernel.members:
            member_of[statements[i].target] = kernel
    output_symbols = {v.symbol for v in outputs}
    named = _connect(statements, kernels, member_of, scheduler.views, output_symbols)
    virtual = {v for k in kernels for v in k.views} - named - output_symbols
    for i, stmt in enumerate(statements):
        if stmt.target in virtual:
            skipped.add(i)  # a view only kernels read: they index the viewed array
    at = {i: max(k.members) for k in kernels for i in k.members}
    index_of = {s.target: i for i, s in enumerate(statements)}
    for kernel in kernels:  # a kernel reads a view's array where it is called
        for view in kernel.views:
            i = index_of[view]
            at[i] = max(at.get(i, i), max(kernel.members))
    return Plan(reordered, kernels, closing, skipped, named, at, scheduler.views,
                scheduler.temp_shape)


def _worth_a_loop(statements: list[Statement]) -> bool:
    """A kernel saves passes over memory; one operation alone (`a/5`, or the sum of an
    array NumPy computed) is one NumPy pass already, and a call of a compiled function
    costs more than a small array's pass."""
    passes = sum(sp.count_ops(s.expr) if s.expr is not None else 1 for s in statements)
    return passes > 1


def _connect(statements, kernels, member_of, views, outputs) -> set[sp.Symbol]:
    """Fill each kernel's parameters, views and returned values; return the symbols the
    NumPy code must name (kernel arguments and results)."""
    readers: dict[sp.Symbol, set] = {}
    for stmt in statements:
        for sym in reads(stmt):
            readers.setdefault(sym, set()).add(member_of.get(stmt.target))
    named: set[sp.Symbol] = set()
    for kernel in kernels:
        for i in kernel.members:
            for sym in sorted(reads(statements[i]), key=sp.default_sort_key):
                if member_of.get(sym) is kernel:
                    continue
                view = views.get(sym)
                if view is not None and member_of.get(view.args[0]) is not kernel:
                    kernel.views.add(sym)
                    sym = view.args[0]
                if sym not in kernel.params:
                    kernel.params.append(sym)
        for i in kernel.members:
            target = statements[i].target
            if target in outputs or readers.get(target, set()) - {kernel}:
                kernel.returns.append(target)
        named.update(kernel.params, kernel.returns)
    # a view read outside kernels is printed as usual; read only by kernels, it is not
    return named | {sym for sym in views if readers.get(sym, set()) - set(kernels)}
