"""Printing loops: `for t in range(T):` with the user's loop variable and names.

A loop reaches the printer as a head statement (the loop node), its body's
statements one level deeper, a tail statement, and the `loop_output` statements
naming its results (passes/loops.py). The head chooses the names: a carried value
keeps one name before, in and after the loop (the user's, `h`); a stack of values
is preallocated with `np.empty` and named after what it holds (`hs`); a row of a
per-iteration input reads `X[t]`, and values read from outside keep their names.
"""

from __future__ import annotations

import sympy as sp

from ..ir import dims
from ..ir.graph import Var
from ..ir.loops import COUNT, LOOP, LOOP_OUTPUT, Loop
from ..passes.loops import LOOP_END
from ..passes.program import Program
from .literals import dtype_name
from .precedence import ATOM, Printed

__all__ = ["LoopPrinter", "pinned_symbols"]

_INDEX_NAMES = ("t", "i", "k", "step")


def pinned_symbols(program: Program) -> set[sp.Symbol]:
    """Symbols that must keep a name of their own for a whole loop: what a loop reads
    from outside, its carried values, what its body hands on. They are neither
    printed inside their reader nor given a temporary name that is reused."""
    out: set[sp.Symbol] = set()
    for stmt in program.statements:
        if stmt.node is not None and stmt.node.op in (LOOP, LOOP_END):
            out.update(stmt.args)
            loop: Loop = stmt.node.p["loop"]
            out.update(v.symbol for v in loop.body.inputs)
    return out


class LoopPrinter:
    """Lines for loop heads and tails, sharing the function's name table."""

    def __init__(self, program: Program, names: dict, printer, temps, returned=(),
                 out_name: str = "f", comment=None):
        self.program = program
        self.names = names
        self.printer = printer
        self.temps = temps
        self.out_name = out_name
        self.comment = comment  # (loc, indent) -> a `# gradient of line` comment or None
        self.outputs: dict[sp.Symbol, dict[int, sp.Symbol]] = {}  # token -> index -> target
        self.readers: dict[sp.Symbol, list[float]] = {}
        self.defined: dict[sp.Symbol, int] = {}
        for i, stmt in enumerate(program.statements):
            self.defined.setdefault(stmt.target, i)
            if stmt.node is not None and stmt.node.op == LOOP_OUTPUT:
                self.outputs.setdefault(stmt.args[0], {})[stmt.node.p["index"]] = stmt.target
            if stmt.node is not None and stmt.node.op == LOOP_END:
                continue  # (it repeats its head's arguments, to keep them alive)
            reads = set(stmt.args) | stmt.symbols
            for sym in reads:
                self.readers.setdefault(sym, []).append(i)
        for sym in returned:
            self.readers.setdefault(sym, []).append(float("inf"))
        # sizes are bound under their own names: a carried `h` cannot be called `h`
        # when a dimension is
        self.sizes = {str(d) for v in program.inputs for d in dims.symbols_of(v.shape)}
        self.tails: dict[sp.Symbol, list] = {}  # token -> what closes its body
        self.direct: set[sp.Symbol] = set()
        self.inits: set[sp.Symbol] = set()  # first values named after their loop's carry
        self._name_inits()

    def _name_inits(self) -> None:
        """A value computed only to start a carried value gets the carried value's name
        (`h = np.zeros(8)`, not `_t0 = np.zeros(8)` then `h = _t0`)."""
        for index, stmt in enumerate(self.program.statements):
            if stmt.node is None or stmt.node.op != LOOP:
                continue
            loop: Loop = stmt.node.p["loop"]
            finals = self.outputs.get(stmt.node.out.symbol, {})
            inits = list(stmt.args[:loop.n_carry])
            for j, init in enumerate(inits):
                if init in self.names or init not in self.defined or inits.count(init) > 1 \
                        or any(i != index for i in self.readers.get(init, ())):
                    continue
                final = finals.get(j)
                hint = (self.names.get(final) if final is not None else None) or \
                    self.program.names.get(loop.carry_in[j])
                family = {init, loop.carry_in[j].symbol, loop.carry_out[j].symbol, final}
                if _user_name(hint) and not self._taken(hint, family, self.defined[init]):
                    self.names[init] = hint
                    self.inits.add(init)

    def is_loop_statement(self, stmt) -> bool:
        return stmt.node is not None and stmt.node.op in (LOOP, LOOP_END, LOOP_OUTPUT)

    def lines(self, stmt, index: int) -> list[str]:
        op = stmt.node.op
        if op == LOOP:
            return self._head(stmt, index)
        if op == LOOP_END:
            return self._finish_tail(self.tails.pop(stmt.node.out.symbol, []))
        return []  # a loop output: named by its head

    # -- names -------------------------------------------------------------------------------
    def _taken(self, name: str, allowed: set, after: int) -> bool:
        """Whether another symbol with this name is read or defined after statement
        `after` (the loop's head): giving the name to a carried value would clobber it."""
        if name in self.sizes:
            return True
        for sym, other in self.names.items():
            if other != name or sym in allowed:
                continue
            if self.defined.get(sym, -1) > after or \
                    any(i > after for i in self.readers.get(sym, ())):
                return True
        return False

    def _free(self, name: str, allowed: set, after: int) -> str:
        while self._taken(name, allowed, after):
            name += "_"
        return name

    def _text(self, sym: sp.Symbol) -> Printed:
        return Printed(self.names.get(sym) or self.printer.doprint(sym),
                       self.printer.inlined.get(sym, ATOM))

    def _head(self, stmt, index: int) -> list[str]:
        node = stmt.node
        loop: Loop = node.p["loop"]
        token = node.out.symbol
        outs = self.outputs.get(token, {})
        args = list(stmt.args)
        count = args.pop() if loop.counted else None
        n_c, n_x = loop.n_carry, loop.n_xs
        inits, xs_outer, consts = args[:n_c], args[n_c:n_c + n_x], args[n_c + n_x:]
        before, top, tail = [], [], []
        t = self._index_name(loop, index)
        if loop.counted and not n_x and not self.readers.get(loop.index.symbol):
            t = "_"  # (a reverse loop that reads no stack row)
        self.names[loop.index.symbol] = t
        for inner, outer in zip(loop.consts_in, consts):
            self.names[inner.symbol] = self._text(outer)
            self.printer.inlined[inner.symbol] = self.printer.inlined.get(outer, ATOM)
        shared = {init for init in inits if inits.count(init) > 1}
        for j in range(n_c):
            self._carry(loop, j, inits[j], outs.get(j), index, before, tail,
                        inits[j] not in shared)
        for inner, outer in zip(loop.xs_in, xs_outer):
            row = self.printer.row(self._text(outer), t, inner.ndim + 1)
            user = self.program.names.get(inner)
            if _user_name(user) and not self._taken(user, {inner.symbol}, index):
                self.names[inner.symbol] = user
                top.append(f"{user} = {row}")
            else:
                self.names[inner.symbol] = row
        for k, y in enumerate(loop.ys):
            target = outs.get(n_c + k)
            if target is not None:
                self._stack(loop, y, self._stack_name(y, target, index), t, before, top, tail)
        if loop.is_while and COUNT in outs:  # the reverse loop runs as many iterations
            steps = self.names[outs[COUNT]] = self._free("steps", {outs[COUNT]}, index)
            before.append(f"{steps} = 0")
            tail.append((steps, None, "count"))
        self.tails[token] = tail
        note = self.comment(loop.source, 4) if loop.reverse and loop.source and \
            self.comment else None
        head = self._while_line(loop) if loop.is_while else \
            self._for_line(loop, t, self._text(count) if count is not None else None)
        return before + ([note] if note else []) + [head] + [f"    {line}" for line in top]

    def _stack(self, loop: Loop, y, name: str, t: str, before: list, top: list,
               tail: list) -> None:
        """The rows of output `y` stacked into `name`: a list appended to, or an array
        made before the loop (`before`) and written row `t` by row."""
        if loop.is_while:  # as many rows as iterations: a list, appended to
            before.append(f"{name} = []")
            row, kind = f"{name}.append", "append"
        elif self.printer.stacks_by_append and loop.start == 0:  # (no write in place)
            before.append(f"{name} = []")
            row, kind = f"{name}.append", "append"
            rows = f"{name}[::-1]" if loop.reverse else name
            tail.append((name, None, f"stack {self.printer.xp}.stack({rows})"))
        else:
            shape = _shape_text(loop, y.shape)
            before.append(f"{name} = {self.printer.xp}.empty({shape}, "
                          f"dtype={dtype_name(y.dtype, self.printer.xp)})")
            row, kind = self.printer.row(name, t, y.ndim + 1), "write"
        if y in loop.body.inputs:
            top.append(_row_line(row, kind, self._text(y.symbol)))
        else:
            tail.append((row, y.symbol, kind))

    def _while_line(self, loop: Loop) -> str:
        """`while <the user's condition>:` in the names of the carried values."""
        return f"while {self.printer.doprint(loop.cond)}:"

    def _carry(self, loop: Loop, j: int, init: sp.Symbol, final, index: int,
               before: list, tail: list, own_init: bool) -> str:
        """Name carried value `j` (and its first and last values), and say what the
        tail assigns; `own_init`: no other carried value starts from `init`."""
        carry_in, carry_out = loop.carry_in[j], loop.carry_out[j]
        family = {carry_in.symbol, carry_out.symbol} | ({final} if final else set())
        init_free = own_init and not any(i > index for i in self.readers.get(init, ()))
        if init_free:  # nothing reads the first value later: the loop may overwrite it
            family.add(init)
        user = [h for h in (self.program.names.get(carry_in),
                            self.names.get(carry_out.symbol),
                            self.names.get(final) if final is not None else None)
                if _user_name(h) and h != "value"]
        adjoint = self._adjoint_name(loop, carry_in)
        if final is not None and final in self.direct:  # an enclosing loop's new value,
            name = self.names[final]  # assigned by name: this loop leaves it there
        elif adjoint and not self._taken(adjoint, family, index):
            name = adjoint  # a cotangent: named after its value in the loop (dy_dy, not dy_ds)
        elif user:
            name = self._free(user[0], family, index)
        elif init_free and init in self.defined and init in self.names:
            name = self.names[init]
        else:
            name = self.temps.take()
        self.names[carry_in.symbol] = name
        if final is not None:
            self.names[final] = name
        if self._text(init) != name:
            before.append(f"{name} = {self._text(init)}")
        if self._direct(loop, carry_in, carry_out, name):
            self.names[carry_out.symbol] = name
            self.direct.add(carry_out.symbol)
            return name
        if self.names.get(carry_out.symbol) == name and carry_out not in loop.body.inputs:
            # (the old value is still needed after the new one is made)
            self.names[carry_out.symbol] = self._free(f"{name}_new", set(), index)
        tail.append((name, carry_out.symbol, "move"))
        return name

    def _adjoint_name(self, loop: Loop, carry_in: Var) -> str | None:
        """`d<out>_d<x>` for a cotangent carried backwards."""
        primal = loop.body.adjoint_of.get(carry_in)
        base = (self.program.names.get(primal) or self.names.get(primal.symbol)) \
            if primal is not None else None
        return f"d{self.out_name}_d{base}" if _user_name(base) else None

    def _direct(self, loop: Loop, carry_in: Var, carry_out: Var, name: str) -> bool:
        """Whether the body may assign the carried value's new value to its name: it
        computes it, and nothing after that reads the old value."""
        if carry_out in loop.body.inputs or carry_out.symbol in self.direct:
            return False
        if carry_in in loop.carry_out:  # another carried value takes the old one
            return False
        if sum(v is carry_out for v in loop.body.outputs) > 1:
            return False
        if self.names.get(carry_out.symbol) not in (None, name):
            return False  # the user named the new value (h_next)
        defined = self._index_of(carry_out.symbol)
        if defined is None:
            return False
        return all(i <= defined for i in self._reads_of(carry_in.symbol, defined))

    def _reads_of(self, sym: sp.Symbol, before: int) -> set:
        """The statements reading `sym`, and those reading what a statement before
        `before` made of it when that value may be printed inline where it is read
        (`W @ h` inside a later expression): they read `sym` there too."""
        reads = set(self.readers.get(sym, ()))
        inlinable = self.temps.inlinable
        frontier = [i for i in reads if i < before]
        while frontier:
            target = self.program.statements[frontier.pop()].target
            if target not in inlinable:
                continue  # (a named value: computed where it stands)
            for i in self.readers.get(target, ()):
                if i not in reads:
                    reads.add(i)
                    if i < before:
                        frontier.append(i)
        return reads

    def _index_of(self, sym: sp.Symbol) -> int | None:
        for i, stmt in enumerate(self.program.statements):
            if stmt.target == sym:
                return i
        return None

    def _finish_tail(self, tail: list) -> list[str]:
        """Stack writes, then the carried values' new values, assigned together."""
        lines = [_row_line(n, kind, self._text(s) if s is not None else "")
                 for n, s, kind in tail if kind != "move" and not kind.startswith("stack")]
        after = [f"{n} = {kind[len('stack '):]}" for n, _, kind in tail
                 if kind.startswith("stack")]  # (the rows appended, as one array)
        moves = [(n, self._text(s)) for n, s, kind in tail if kind == "move"]
        moves = [(n, v) for n, v in moves if n != v]
        if len(moves) == 1:
            lines.append(f"{moves[0][0]} = {moves[0][1]}")
        elif moves:
            lines.append(", ".join(n for n, _ in moves) + " = " + ", ".join(v for _, v in moves))
        return [f"    {line}" for line in lines] + after

    def _stack_name(self, y: Var, target: sp.Symbol, index: int) -> str:
        if target in self.names:
            return self.names[target]
        base = self.names.get(y.symbol) or self.program.names.get(y)
        if _user_name(base):
            name = self._free(f"{base}s", {target}, index)
        else:
            name = self.temps.take()
        self.names[target] = name
        return name

    def _index_name(self, loop: Loop, index: int) -> str:
        for name in (loop.index_name, *_INDEX_NAMES):
            if name.isidentifier() and not self._taken(name, {loop.index.symbol}, index):
                return name
        return self._free("t", {loop.index.symbol}, index)

    def _for_line(self, loop: Loop, t: str, count: str | None = None) -> str:
        stop = count or (loop.stop_name if loop.stop_name else str(loop.stop))
        span = f"range({stop})" if loop.start == 0 else f"range({loop.start}, {stop})"
        if loop.reverse:
            span = f"reversed({span})"
        return f"for {t} in {span}:"


def _row_line(target: str, kind: str, value: str) -> str:
    """A statement of a loop's tail: a stack row written or appended, the count."""
    if kind == "append":
        return f"{target}({value})"
    if kind == "count":
        return f"{target} += 1"
    return f"{target} = {value}"


def _shape_text(loop: Loop, shape: tuple) -> str:
    """`(T, 3)` for a stack of T rows of shape (3,), T by name when the loop's is."""
    return "(" + ", ".join([loop.stop_name or str(loop.stop), *map(dims.text, shape)]) + \
        ("," if not shape else "") + ")"


def _user_name(name) -> bool:
    return bool(name) and name.isidentifier() and not name.startswith("_")
