"""Vectorised sin and cos for the fused backend's kernels.

numba compiles `np.sin` in a loop to one libm call per number (PyPI's llvmlite has no
vector math library, see `numba_backend`), which keeps a loop of sines from using the
processor's vector units: about 30 ns per sine and cosine pair, where NumPy itself is
no faster. A kernel whose arguments are all float64 calls `_sin`/`_cos` below instead:
fdlibm's polynomials and argument reduction written without branches, so LLVM
vectorises the loop around them (about 16x faster on P6's `x*sin(x) + cos(x)`).

Accuracy: the reduction subtracts pi/2 in four pieces (33 + 33 + 33 + 53 bits,
fdlibm's split) with exact products and error-free sums, then fdlibm's kernels take
the reduced argument's tail. Measured against mpmath at 200 bits over 80,000 points
(tests/codegen/test_fast_trig.py): at most 0.76 ulp from the true value, where libm is
within 0.51 ulp; so a result may differ from libm's in the last bit. The exact products
need |x| <= 823,549 (2**19 multiples of pi/2): a kernel notes in `wide` whether any
argument lies beyond that or is not finite, and the NumPy function then runs the
kernel again with `libm` set, on libm's `np.sin`/`np.cos` throughout. Kernels only read
their arguments and write arrays they allocate, so running one twice is safe.

float32 kernels keep libm's single-precision calls (these polynomials are float64).
"""

from __future__ import annotations

import ast
import re

from .layout import _wrap, _wrap_statement, call_text

__all__ = ["HELPERS", "MODULE_NAMES", "CALLS", "vectorise"]

#: Module-level definitions the rewritten kernels call.
HELPERS = '''\
# sin and cos that vectorise: within 1 ulp of the true value (libm's: 0.5 ulp), so a
# result may differ from np.sin's in the last bit; beyond _TRIG_REACH, or inf or nan,
# the kernel runs again on libm's (see `if _fused[-1]`).
# pi/2 in four pieces (fdlibm): q*_PIO2_1, q*_PIO2_2 and q*_PIO2_3 are exact for
# |q| < 2**20, so for |x| <= _TRIG_REACH the reduced argument keeps every bit
_INVPIO2 = 6.36619772367581382433e-01
_PIO2_1 = 1.57079632673412561417e00
_PIO2_2 = 6.07710050630396597660e-11
_PIO2_3 = 2.02226624871116645580e-21
_PIO2_3T = 8.47842766036889956997e-32
_TRIG_REACH = 823549.0
# fdlibm's polynomials for sin and cos on [-pi/4, pi/4]
_S1, _S2 = -1.66666666666666324348e-01, 8.33333333332248946124e-03
_S3, _S4 = -1.98412698298579493134e-04, 2.75573137070700676789e-06
_S5, _S6 = -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2 = 4.16666666666666019037e-02, -1.38888888888741095749e-03
_C3, _C4 = 2.48015872894767294178e-05, -2.75573143513906633035e-07
_C5, _C6 = 2.08757232129817482790e-09, -1.13596475577881948265e-11


@njit(inline="always")
def _two_sum(a, b):
    """a + b and its rounding error, exactly (Knuth)."""
    s = a + b
    t = s - a
    return s, (a - (s - t)) + (b - t)


@njit(inline="always", fastmath={"contract"})
def _reduce(x):
    """(r, tail, q): x = q*pi/2 + r + tail with |r| <= pi/4, for |x| <= _TRIG_REACH."""
    q = np.rint(x * _INVPIO2)
    q = q if abs(x) <= _TRIG_REACH else 0.0
    r = x - q * _PIO2_1
    hi, lo = _two_sum(r, -(q * _PIO2_2))
    hi, lo2 = _two_sum(hi, -(q * _PIO2_3))
    lo = lo + lo2 - q * _PIO2_3T
    r = hi + lo
    return r, (hi - r) + lo, int(q)


@njit(inline="always", fastmath={"contract"})
def _sin_poly(x, y):
    """sin(x + y) for |x| <= pi/4, y the tail (fdlibm's __kernel_sin)."""
    z = x * x
    v = z * x
    r = _S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))
    return x - ((z * (0.5 * y - v * r) - y) - v * _S1)


@njit(inline="always", fastmath={"contract"})
def _cos_poly(x, y):
    """cos(x + y) for |x| <= pi/4, y the tail (fdlibm's __kernel_cos)."""
    z = x * x
    r = z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))
    hz = 0.5 * z
    w = 1.0 - hz
    return w + (((1.0 - w) - hz) + (z * r - x * y))


@njit(inline="always", fastmath={"contract"})
def _sin(x, libm):
    """np.sin(x): libm's when `libm` is set, else the polynomials (see _TRIG_REACH)."""
    if libm is not None:
        return np.sin(x)
    r, y, q = _reduce(x)
    v = _cos_poly(r, y) if q & 1 else _sin_poly(r, y)
    v = -v if q & 2 else v
    return v if x != 0.0 else x  # (sin(-0.0) is -0.0; the reduction adds +0.0)


@njit(inline="always", fastmath={"contract"})
def _cos(x, libm):
    """np.cos(x): libm's when `libm` is set, else the polynomials (see _TRIG_REACH)."""
    if libm is not None:
        return np.cos(x)
    r, y, q = _reduce(x)
    v = _sin_poly(r, y) if q & 1 else _cos_poly(r, y)
    return -v if (q + 1) & 2 else v


@njit(inline="always")
def _beyond(x):
    """Whether the polynomials cannot take x: beyond _TRIG_REACH, inf or nan."""
    return not abs(x) <= _TRIG_REACH'''

#: Module-level names of HELPERS (reserved: no value of a module takes one).
MODULE_NAMES = frozenset({
    "_INVPIO2", "_PIO2_1", "_PIO2_2", "_PIO2_3", "_PIO2_3T", "_TRIG_REACH", "_two_sum",
    "_reduce", "_sin_poly", "_cos_poly", "_sin", "_cos", "_beyond", "_fused",
    *(f"_{k}{j}" for k in "SC" for j in range(1, 7))})
#: A kernel's own names for the flag and the switch (one that binds either keeps libm).
_LOCAL = frozenset({"libm", "wide"})
_TRIG = {"sin": "_sin", "cos": "_cos"}
#: A call of the helpers in a kernel's text (not a user name ending in `_sin`).
CALLS = re.compile(r"\b_(sin|cos)\(")


def vectorise(kernel: str, results: str, kname: str, arguments: str, indent: int
              ) -> tuple[str, list[str]] | None:
    """(the kernel calling `_sin`/`_cos`, the lines that call it at `indent` within
    the function body and fall back to libm), or None when the kernel calls neither,
    computes in float32 or binds `libm` or `wide`."""
    tree = ast.parse(kernel)
    if not any(_is_trig(node) for node in ast.walk(tree)) or "float32" in kernel or \
            any(isinstance(n, ast.Name) and n.id in _LOCAL for n in ast.walk(tree)):
        return None
    checks: dict[int, list[str]] = {}  # a statement's first line -> arguments to check
    for body in _bodies(tree):
        checked: set[str] = set()  # arguments whose names no statement since assigned
        for stmt in body:
            for call in [c for c in ast.walk(stmt) if _is_trig(c)]:
                text = " ".join(ast.get_source_segment(kernel, call.args[0]).split())
                if text not in checked:
                    checks.setdefault(stmt.lineno - 1, []).append(_apply(f"({text})")[1:-1])
                    checked.add(text)
            assigned = {n.id for n in ast.walk(stmt)
                        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            checked = {t for t in checked if not assigned & set(re.findall(r"\w+", t))}
    lines = _apply(kernel).split("\n")
    for row in sorted(checks, reverse=True):
        pad = len(lines[row]) - len(lines[row].lstrip())
        for argument in reversed(list(dict.fromkeys(checks[row]))):
            check = _wrap_statement(f"wide += _beyond({argument})", pad)
            lines.insert(row, " " * pad + check)
    return _signature(lines), _calls(results, kname, arguments, indent)


def _apply(text: str) -> str:
    """`text` with each `np.sin(a)` as `_sin(a, libm)` and `np.cos(a)` as `_cos(a, libm)`."""
    lines = text.split("\n")
    edits = []  # (line, column, end column or None, text), 0-based
    for call in [node for node in ast.walk(ast.parse(text)) if _is_trig(node)]:
        func = call.func
        edits.append((call.end_lineno - 1, call.end_col_offset - 1, None, ", libm"))
        edits.append((func.lineno - 1, func.col_offset, func.end_col_offset, _TRIG[func.attr]))
    for row, column, end, new in sorted(edits, key=lambda e: e[:2], reverse=True):
        line = lines[row]
        lines[row] = line[:column] + new + line[column if end is None else end:]
    return "\n".join(lines)


def _is_trig(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
        isinstance(node.func.value, ast.Name) and node.func.value.id == "np" and \
        node.func.attr in _TRIG and len(node.args) == 1 and not node.keywords


def _bodies(tree):
    """Each block of the kernel: its simple statements in order (loops and the def
    open blocks of their own)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.For, ast.While, ast.If)):
            yield [s for s in node.body if not isinstance(s, (ast.For, ast.While, ast.If))]


def _signature(lines: list[str]) -> str:
    """Take `libm`, start the count `wide`, return it last."""
    text = "\n".join(lines)
    fn = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef))
    start, end = fn.lineno - 1, fn.body[0].lineno - 1  # the def's lines (maybe wrapped)
    params = ", ".join([a.arg for a in fn.args.args] + ["libm"])
    lines[start:end] = [f"def {call_text(fn.name, params, 0)}:",
                        "    wide = 0  # arguments of sin and cos beyond _TRIG_REACH"]
    last = max(k for k, line in enumerate(lines) if line.startswith("    return "))
    lines[last] += ", wide"
    return "\n".join(lines)


def _calls(results: str, kname: str, arguments: str, indent: int) -> list[str]:
    """Call the vectorised kernel; when it reports an argument it cannot take, call it
    again on libm's functions (the arguments as they were: the results may rebind them).
    `indent`: the lines' indentation within the function body."""
    pad, column = " " * indent, 4 + indent
    first = _wrap(f"_fused = {call_text(kname, arguments + ', None', column)}", indent=column)
    again = _wrap(f"_fused = {call_text(kname, arguments + ', True', column + 4)}",
                  indent=column + 4)
    return [pad + first,
            pad + "if _fused[-1]:  # an argument of sin or cos beyond 823,549, inf or nan",
            pad + "    " + again,
            pad + _wrap(f"{results} = _fused[{':-1' if ',' in results else '0'}]", indent=column)]
