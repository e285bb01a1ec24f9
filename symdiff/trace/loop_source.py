"""What the source and the running frame say about a `for` loop, for folding it
(`trace/loops.py`): the loop's AST, where its iterations start in the bytecode, the
names its body assigns, the length of its iterable (evaluated without calling user
code), and reading and rebinding the locals of the running frame."""

from __future__ import annotations

import ast
import ctypes
import dis
import functools
import linecache
import os
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from ..errors import _is_internal
from ..ir import dims
from .tracer import Tracer

__all__ = ["FoldableLoop", "foldable_loops", "body_names", "file_tree", "library_file", "Plan",
           "iteration_plan", "set_locals", "snapshot", "containers", "same_python_value"]


# -- what the source says about a loop -----------------------------------------------------
@dataclass(frozen=True)
class FoldableLoop:
    """A `for` statement that may fold: its line, bytecode offset and AST."""

    line: int  # the line of its FOR_ITER instruction (where each iteration starts)
    for_iter: int
    node: ast.For
    body_first: int
    body_last: int
    resume_line: int  # the first line of the statement after the loop
    assigned: frozenset  # names the body binds (targets excluded)
    stored_into: frozenset  # names the body assigns into (x[i] = ...)
    targets: Any  # a name, or a nested tuple of names
    where: str

    def in_body(self, line: int) -> bool:
        return self.body_first <= line <= self.body_last


@functools.lru_cache(maxsize=512)
def file_tree(filename: str) -> ast.Module | None:
    source = "".join(linecache.getlines(filename))
    if not source:
        return None
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def per_code(find: Callable) -> Callable:
    """`find(code)`, found once per code object: the loop folder asks on every call of
    a trace. Kept by the code's id (hashing a code object hashes its constants,
    microseconds each time; an entry holds its code, so the id stays its own), and
    bounded (code objects made on the fly)."""
    cache: dict[int, tuple] = {}

    @functools.wraps(find)
    def found(code):
        entry = cache.get(id(code))
        if entry is None:
            if len(cache) > 20_000:
                cache.clear()
            entry = cache[id(code)] = (code, find(code))
        return entry[1]

    return found


_FOR_ITER = bytes([dis.opmap["FOR_ITER"]])


@functools.lru_cache(maxsize=4096)
def library_file(filename: str) -> bool:
    """Files of Python itself, of installed libraries and of symdiff: loops there are
    not the user's (and reading their bytecode on every call would cost time)."""
    if _is_internal(filename) or filename.startswith("<"):
        return True
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")} - {None}
    return any(os.path.abspath(filename).startswith(os.path.abspath(r) + os.sep)
               for r in roots)


@per_code
def foldable_loops(code) -> dict[int, FoldableLoop]:
    """The `for` loops of a code object that may fold, by the line of their FOR_ITER."""
    if _FOR_ITER not in code.co_code[::2] or library_file(code.co_filename):
        return {}
    for_iters = [(ins.positions.lineno, ins.offset) for ins in dis.get_instructions(code)
                 if ins.opname == "FOR_ITER" and getattr(ins, "positions", None)]
    if not for_iters:
        return {}
    tree = file_tree(code.co_filename)
    if tree is None:
        return {}
    statements = statements_with_next(tree, ast.For)
    loops = {}
    for line, offset in for_iters:
        match = [(f, nxt) for f, nxt in statements
                 if f.lineno <= line <= f.iter.end_lineno]
        if len(match) != 1:
            continue
        loop = _describe(match[0][0], match[0][1], line, offset, code.co_filename)
        if loop is not None:
            loops[line] = loop
    return loops


def statements_with_next(tree, kind: type) -> list[tuple[ast.stmt, ast.stmt | None]]:
    """Every statement of `kind` (`ast.For`, `ast.While`) with the statement after it in
    its block (None when it ends the block)."""
    out = []
    for parent in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(parent, name, None)
            if not isinstance(block, list):
                continue
            for i, stmt in enumerate(block):
                if isinstance(stmt, kind):
                    out.append((stmt, block[i + 1] if i + 1 < len(block) else None))
    return out


_BLOCKING = (ast.Break, ast.Return, ast.Yield, ast.YieldFrom, ast.Try, ast.With,
             ast.Global, ast.Nonlocal, ast.AsyncFor, ast.AsyncWith, ast.Await)


def _describe(node: ast.For, after, line: int, offset: int, filename: str):
    if node.orelse or after is None or node.body[0].lineno <= node.iter.end_lineno:
        return None
    targets = _target_names(node.target)
    found = body_names(node.body)
    if targets is None or found is None:
        return None
    assigned, stored = found
    names = set(_flat(targets))
    return FoldableLoop(line, offset, node, node.body[0].lineno, node.end_lineno,
                        after.lineno, frozenset(assigned - names),
                        frozenset(stored - assigned - names), targets, f"{filename}:{line}")


def body_names(body) -> tuple[set, set] | None:
    """(names the loop body binds, names it assigns into: `x[i] = ...`), or None when
    it has a statement that stops folding (`break`, `return`, `try` ...)."""
    assigned, stored = set(), set()
    for sub in _walk_body(body):
        if isinstance(sub, _BLOCKING):
            return None
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            assigned.add(sub.id)
        if isinstance(sub, ast.Subscript) and isinstance(sub.ctx, ast.Store):
            base = sub.value
            while isinstance(base, ast.Subscript):
                base = base.value
            if isinstance(base, ast.Name):
                stored.add(base.id)
    return assigned, stored


def _walk_body(body):
    """Nodes of the loop body, not descending into nested functions and classes (a
    `return` there is theirs)."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                             ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _target_names(target):
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Tuple) and all(
            isinstance(e, (ast.Name, ast.Tuple)) for e in target.elts):
        parts = [_target_names(e) for e in target.elts]
        return None if any(p is None for p in parts) else tuple(parts)
    return None


def _flat(targets):
    if isinstance(targets, str):
        yield targets
    else:
        for t in targets:
            yield from _flat(t)


# -- what the iterable is ------------------------------------------------------------------
@dataclass
class Plan:
    """How the loop variables follow the iteration index: `kind` is "range" (with
    `start`, `step`), "rows" (of `array`), or "zip"/"enumerate" of `parts`."""

    kind: str
    count: int
    start: int = 0
    step: int = 1
    array: Any = None
    parts: list = field(default_factory=list)
    stop_name: str | None = None


class _NotSimple(Exception):
    pass


def iteration_plan(expr: ast.expr, frame) -> Plan | None:
    """The plan of `for ... in expr`, evaluated without calling user code; None when
    the iterable is anything else."""
    try:
        return _plan(expr, frame)
    except (_NotSimple, TypeError, ValueError, IndexError, KeyError, AttributeError):
        return None


def _plan(expr, frame) -> Plan:
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and not expr.keywords:
        name = expr.func.id
        if name == "range" and _builtin(frame, name) is range:
            args = [_int(_value(a, frame)) for a in expr.args]
            stop_name = None
            stop = expr.args[1] if len(expr.args) > 1 else expr.args[0]
            if isinstance(stop, ast.Name):
                stop_name = stop.id
            if any(isinstance(a, sp.Basic) for a in args):
                return _symbolic_range(args)
            r = range(*args)
            return Plan("range", len(r), r.start, r.step, stop_name=stop_name)
        if name == "enumerate" and _builtin(frame, name) is enumerate and len(expr.args) == 1:
            inner = _plan(expr.args[0], frame)
            return Plan("enumerate", inner.count, parts=[inner])
        if name == "zip" and _builtin(frame, name) is zip and expr.args:
            parts = [_plan(a, frame) for a in expr.args]
            return Plan("zip", _shortest([p.count for p in parts]), parts=parts)
        raise _NotSimple
    value = _value(expr, frame)
    if isinstance(value, (Tracer, np.ndarray)) and value.ndim >= 1:
        return Plan("rows", value.shape[0], array=value)
    raise _NotSimple


def _symbolic_range(args) -> Plan:
    """`range(n)`, `range(1, n - 1)` of a symbolic size: steps of 1 only."""
    if len(args) == 3 and args[2] != 1:
        raise _NotSimple
    start, stop = (0, args[0]) if len(args) == 1 else (args[0], args[1])
    if not isinstance(start, int):
        raise _NotSimple
    return Plan("range", dims.canon(stop - start), start, 1)


def _shortest(counts: list):
    """zip's length: the counts must agree where one is symbolic (min(n, d) would hold
    for some sizes only)."""
    if not any(isinstance(c, sp.Basic) for c in counts):
        return min(counts)
    if any(not dims.equal(c, counts[0]) for c in counts):
        raise _NotSimple
    return counts[0]


def _builtin(frame, name: str):
    if name in frame.f_locals or name in frame.f_globals:
        return None  # shadowed: not the builtin
    builtins = frame.f_builtins
    return builtins.get(name) if isinstance(builtins, dict) else getattr(builtins, name, None)


def _int(value):
    """An int, or a symbolic size (a SymPy integer expression in dimension symbols)."""
    if isinstance(value, dims.Size):
        value = value.expr
    if isinstance(value, sp.Basic):
        value = dims.canon(value)
        if isinstance(value, int) or (value.is_integer and value.free_symbols and all(
                isinstance(s, dims.Dim) for s in value.free_symbols)):
            return value
        raise _NotSimple
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _NotSimple
    return int(value)


_ARRAY_ATTRS = {"shape", "ndim", "size", "T"}


def _value(expr, frame):
    """A small, side-effect free evaluator: names, numbers, shapes, `len`, arithmetic."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, (int, float)):
        return expr.value
    if isinstance(expr, ast.Name):
        for scope in (frame.f_locals, frame.f_globals):
            if expr.id in scope:
                return scope[expr.id]
        raise _NotSimple
    if isinstance(expr, ast.Attribute) and expr.attr in _ARRAY_ATTRS:
        base = _value(expr.value, frame)
        if isinstance(base, np.ndarray) or (isinstance(base, Tracer) and expr.attr != "T"):
            return getattr(base, expr.attr)
        raise _NotSimple
    if isinstance(expr, ast.Subscript):
        base = _value(expr.value, frame)
        if isinstance(base, (tuple, list)):
            return base[_int(_value(expr.slice, frame))]
        raise _NotSimple
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and \
            expr.func.id == "len" and len(expr.args) == 1 and _builtin(frame, "len") is len:
        base = _value(expr.args[0], frame)
        if isinstance(base, Tracer) and base.ndim >= 1:
            return dims.canon(base.shape[0])  # (a symbolic size stays one)
        if isinstance(base, (np.ndarray, tuple, list)):
            return len(base)
        raise _NotSimple
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Sub, ast.Mult,
                                                            ast.FloorDiv)):
        a, b = _int(_value(expr.left, frame)), _int(_value(expr.right, frame))
        if isinstance(expr.op, ast.FloorDiv) and (isinstance(a, sp.Basic) or
                                                  isinstance(b, sp.Basic)):
            raise _NotSimple
        return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b,
                ast.FloorDiv: a // b if b else 0}[type(expr.op)]
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        return -_int(_value(expr.operand, frame))
    raise _NotSimple


# -- frame locals ----------------------------------------------------------------------------
def set_locals(frame, values: dict[str, Any]) -> None:
    """Rebind local variables of a running frame."""
    if sys.version_info >= (3, 13):  # PEP 667: f_locals writes through
        for name, value in values.items():
            frame.f_locals[name] = value
        return
    frame.f_locals.update(values)
    ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))


def snapshot(frame) -> dict[str, Any]:
    return dict(frame.f_locals)


def containers(values: dict[str, Any]) -> dict[str, tuple]:
    """Lists, dicts and sets among the locals, as (length, ids of traced items): a
    change means the loop fills a container, which folding cannot follow."""
    out = {}
    for name, value in values.items():
        if isinstance(value, (list, dict, set)):
            items = value.values() if isinstance(value, dict) else value
            out[name] = (len(value), tuple(id(v) for v in items if isinstance(v, Tracer)))
    return out


def body_change(values: dict[str, Any], python: dict[str, Any], held: dict[str, tuple]) -> str | None:
    """Why a traced iteration cannot be the body of a folded loop (`for` or `while`):
    it changed a Python value the locals held before it, or filled a container."""
    for name, old in python.items():
        if not same_python_value(old, values.get(name)):
            return f"the loop changes the Python value {name!r}"
    if containers(values) != held:
        return "the loop fills a list or dict of traced values"
    return None


def same_python_value(a, b) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dims.Size):  # (a loop variable's last value, of a symbolic size)
        return a.expr == b.expr
    if isinstance(a, (int, float, str, bool, type(None), tuple)):
        try:
            return bool(a == b)
        except Exception:  # noqa: BLE001 - incomparable means changed
            return False
    return False


# -- one loop being folded ---------------------------------------------------------------------
