"""The function a transform hands out, and the fast path of its calls.

`grad(f)` returns a plain function with globals of its own. Its first code is the
general dispatcher (`_GENERAL`): a call with one Python float or ndarray whose generated
function is known runs it, every other call goes to `_Transformed._call`. Once a call
with Python floats and ndarrays has succeeded through a generated function, the
function's code is replaced by one specialised to that call's signature: a guard on the
arguments' types, shapes and dtypes, then the generated function's own body (its global
names bound in the function's globals under a prefix per generated function), and the
general dispatcher when the guard fails. Callers holding the function keep it; the
emitted module is unchanged. The body leaves out the module's `_check_inputs` call: the
guard admits only a signature that has passed it, and those checks read types, shapes
and dtypes only.

Where the generated function's parameters are the user's, the specialised code takes
them by name too (as Python binds them; see _KEYWORDS) and has no `**keywords`
parameter; otherwise it is positional-only and passes keywords on.

Python floats behave as through `api.call`: an ArithmeticError, or a complex result
where the body has a power that can give one, goes to the general dispatcher, which
repeats the call with np.float64.
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import itertools
import linecache
import os
import types
from collections.abc import Callable, Hashable

import numpy as np

from .codegen.load import register_source

__all__ = ["FastPath", "has_complex"]

#: A parameter's default: no argument was passed in its place.
_MISSING = object()

#: The dispatchers' code claims to live in the package, so that `errors.user_location`
#: and the tracer see their frames as symdiff's own.
_HERE = os.path.dirname(os.path.abspath(__file__))

_GENERAL = '''\
def _symdiff_outer():
    _symdiff_hits = 0.0

    def dispatch(*args, **kwargs):
        nonlocal _symdiff_hits
        if len(args) == 1 and not kwargs:
            a = args[0]
            if type(a) is float:
                run = _symdiff_functions.get(_symdiff_float_key)
                if run is not None:
                    try:
                        result = run(a)
                    except ArithmeticError:  # Python float arithmetic: see api.call
                        return _symdiff_slow(args, kwargs)
                    if not _symdiff_has_complex(result):
                        _symdiff_hits += 1.0
                        return result
                    return _symdiff_slow(args, kwargs)
            elif type(a) is _symdiff_ndarray:
                run = _symdiff_functions.get(((a.shape, a.dtype),))
                if run is not None:
                    _symdiff_hits += 1.0
                    return run(a)
        return _symdiff_slow(args, kwargs)

    return dispatch
'''

#: The function around a generated body, which replaces the `pass`: @PARAMS@ are the
#: generated function's parameters, each defaulting to _symdiff_missing, @NAMES@ their
#: names and @GUARD@ the test of the arguments (placeholders no identifier can hold).
_SPECIALISED = '''\
def _symdiff_outer():
    _symdiff_hits = 0.0

    def specialised(@PARAMS@, /, *_symdiff_rest, **_symdiff_keywords):
        nonlocal _symdiff_hits
        if @GUARD@ and not _symdiff_rest and not _symdiff_keywords:
            pass
        return _symdiff_general(*_symdiff_present((@NAMES@,)), *_symdiff_rest,
                                **_symdiff_keywords)

    return specialised
'''

#: The same where the call may name the user's parameters (`grad(f)(x=2.0)`, as Python
#: binds them): @PARAMS@ are all the function's positional parameters, @KWONLY@ its
#: keyword-only ones (`, scale=_symdiff_missing`), @UNSET@ the test that the
#: parameters the generated function does not take were not given. No `**keywords`:
#: CPython builds that dict on every call (a fifth of the call of a scalar polynomial).
_KEYWORDS = '''\
def _symdiff_outer():
    _symdiff_hits = 0.0

    def specialised(@PARAMS@, *_symdiff_rest@KWONLY@):
        nonlocal _symdiff_hits
        if @GUARD@ and not _symdiff_rest@UNSET@:
            pass
        return _symdiff_forward((@NAMES@,), _symdiff_rest, (@KWNAMES@))

    return specialised
'''

#: What a body may not hold for the fast path: scopes and bindings the renaming of
#: global names below does not follow.
_SCOPES = (ast.Global, ast.Nonlocal, ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef,
           ast.ClassDef, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
           ast.Import, ast.ImportFrom, ast.Yield, ast.YieldFrom, ast.Await, ast.NamedExpr,
           ast.Match, ast.Try, ast.TryStar)


class _ComplexResult(ArithmeticError):
    """A Python float power gave a complex number: the call is repeated with np.float64."""


def has_complex(result) -> bool:
    """Whether `result` (or an item of a result tuple) is a Python complex, which Python
    float arithmetic gives where NumPy's gives nan ((-2.0)**0.5)."""
    if type(result) is tuple:
        return any(has_complex(r) for r in result)
    return type(result) is complex


def _present(values: tuple) -> tuple:
    """The positional arguments of a call among a specialised function's parameters."""
    return tuple(v for v in values if v is not _MISSING)


def _forward(general: Callable, names: tuple, kwnames: tuple, values: tuple, rest: tuple,
             kwvalues: tuple):
    """Pass a call the specialised code does not serve on to `general`: positionally up
    to the first parameter not given, by name after it."""
    count = next((i for i, v in enumerate(values) if v is _MISSING), len(values))
    keywords = {n: v for n, v in zip(names[count:], values[count:]) if v is not _MISSING}
    keywords.update((n, v) for n, v in zip(kwnames, kwvalues) if v is not _MISSING)
    return general(*values[:count], *rest, **keywords)


def _inner_code(tree, filename: str, name: str) -> types.CodeType:
    """The code of the function that `_symdiff_outer` in `tree` defines, named `name`."""
    module = compile(tree, filename, "exec")
    outer = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    inner = next(c for c in outer.co_consts if isinstance(c, types.CodeType))
    return inner.replace(co_name=name, co_qualname=name)


_GENERAL_FILE = os.path.join(_HERE, "<symdiff dispatch>")
register_source(_GENERAL_FILE, _GENERAL.splitlines(True))
_GENERAL_CODE = _inner_code(_GENERAL, _GENERAL_FILE, "dispatch")


class FastPath:
    """The public function of one transform: its globals, hit count and specialisations.

    `function` is what `grad(f)` returns; `learn` specialises it after a successful call.
    `functions` maps cache keys to generated functions (api._cache_key), `slow` serves
    every other call; `enabled` is False where bodies must not be inlined (numba).
    `parameters` (trace.keywords.keyword_parameters) are the names a call may give."""

    def __init__(self, name: str, functions: dict, slow: Callable, enabled: bool = True,
                 limit: int = 4096, parameters: tuple | None = None):
        self.globals = {
            "__builtins__": builtins, "_symdiff_functions": functions if enabled else {},
            "_symdiff_float_key": (float,), "_symdiff_slow": slow,
            "_symdiff_has_complex": has_complex, "_symdiff_ndarray": np.ndarray,
            "_symdiff_missing": _MISSING, "_symdiff_present": _present,
            "_symdiff_complex_result": _ComplexResult, "_symdiff_type": type,
            "_symdiff_float": float, "_symdiff_arithmetic_error": ArithmeticError}
        # Calls the dispatchers served, a float: adding 1.0 reuses freed floats, adding 1
        # to an int past 256 allocates one (a tenth of the call of a scalar polynomial).
        self.cell = types.CellType(0.0)
        code = _GENERAL_CODE.replace(co_name=name, co_qualname=name)
        self.globals["_symdiff_general"] = types.FunctionType(
            code, self.globals, name, None, (self.cell,))
        self.function = types.FunctionType(code, self.globals, name, None, (self.cell,))
        self.enabled, self.limit, self.parameters = enabled, limit, parameters
        self._seen: set = set()  # keys learnt
        self._bodies: dict[Callable, _Body | None] = {}
        self._names = itertools.count()  # (next() is atomic: threads never share a name)
        self._dtypes: dict[np.dtype, str] = {}

    @property
    def hits(self) -> int:
        return int(self.cell.cell_contents)

    def learn(self, key: Hashable, run: Callable) -> None:
        """After a call keyed `key` succeeded through the generated function `run`:
        specialise the public function to `key` (once per key), where it can be."""
        if not self.enabled or key in self._seen:
            return
        if len(self._seen) >= self.limit:
            self._seen.clear()
        self._seen.add(key)
        if not key or not all(k is float or _array_key(k) for k in key):
            return
        if run not in self._bodies:
            self._bodies[run] = _Body.parse(run, f"_symdiff{next(self._names)}_")
        body = self._bodies[run]
        if body is None or len(body.params) != len(key):
            return
        self.globals.update(body.bindings)
        guard = " and ".join(self._guard(p, k) for p, k in zip(body.params, key))
        named = self._named(body)
        code = body.specialised(guard, any(k is float for k in key), named)
        if len(self.function.__defaults__ or ()) < code.co_argcount:  # before the code
            self.function.__defaults__ = (_MISSING,) * code.co_argcount  # that needs it
        if named is not None and named[1]:
            self.function.__kwdefaults__ = dict.fromkeys(named[1], _MISSING)
        self.function.__code__ = code

    def _named(self, body: _Body) -> tuple | None:
        """The parameters the specialised code takes by name (see _KEYWORDS), or None
        for positional-only code: the generated function's parameters are not the
        first of the user's, or a name is one the body or the fast path binds."""
        if self.parameters is None:
            return None
        positional, kwonly = self.parameters
        extra = {*positional[len(body.params):], *kwonly}
        if tuple(positional[:len(body.params)]) != tuple(body.params) or extra & body.assigned \
                or any(n.startswith("_symdiff") for n in (*positional, *kwonly)):
            return None
        self.globals.setdefault("_symdiff_forward", functools.partial(
            _forward, self.globals["_symdiff_general"], positional, kwonly))
        return self.parameters

    def _guard(self, param: str, key) -> str:
        """The test that argument `param` has the type, shape and dtype of `key` (through
        names of its own: a parameter may be called `type` or `float`)."""
        if key is float:
            return f"_symdiff_type({param}) is _symdiff_float"
        shape, dtype = key
        name = self._dtypes.get(dtype)
        if name is None:
            name = f"_symdiff_dtype{next(self._names)}"
            self.globals[name] = dtype
            name = self._dtypes.setdefault(dtype, name)
        return (f"_symdiff_type({param}) is _symdiff_ndarray and {param}.shape == {shape!r} "
                f"and {param}.dtype is {name}")


def _array_key(k) -> bool:
    """Whether `k` is the cache key of an ndarray: (shape, dtype)."""
    return type(k) is tuple and len(k) == 2 and type(k[0]) is tuple \
        and isinstance(k[1], np.dtype)


class _Body:
    """A generated function's statements, ready to inline: docstring and input checks
    left out, global names renamed to `bindings`' keys."""

    def __init__(self, fn: ast.FunctionDef, statements: list[ast.stmt], bindings: dict,
                 powers: bool, filename: str, name: str):
        self.fn, self.statements, self.bindings = fn, statements, bindings
        self.params = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
        self.powers = powers  # a power a Python float can make complex
        self.assigned = {n.id for s in statements for n in ast.walk(s)
                         if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        self.filename, self.name = filename, name

    @classmethod
    def parse(cls, run: Callable, prefix: str) -> _Body | None:
        """`run`'s body from its module's source (registered by codegen.load), or None
        when it is not a plain generated function the fast path can inline."""
        code = getattr(run, "__code__", None)
        lines = linecache.getlines(code.co_filename) if code is not None else []
        if not lines or not code.co_filename.startswith("<symdiff-generated"):
            return None
        fn = next((n for n in ast.parse("".join(lines)).body
                   if isinstance(n, ast.FunctionDef) and n.name == run.__name__
                   and n.lineno == code.co_firstlineno), None)
        args = fn.args if fn is not None else None
        if args is None or args.vararg or args.kwarg or args.kwonlyargs or args.defaults \
                or fn.decorator_list:
            return None
        statements = [s for s in fn.body[_docstring(fn):] if not _is_check(s)]
        bindings = _rename_globals(statements, fn, run.__globals__, prefix)
        if bindings is None:
            return None
        filename = os.path.join(_HERE, code.co_filename)  # inside the package: see _HERE
        register_source(filename, lines)
        return cls(fn, statements, bindings, _has_power(statements), filename, run.__name__)

    def specialised(self, guard: str, floats: bool, named: tuple | None = None
                    ) -> types.CodeType:
        """The public function's code for one signature: `guard`, then the body;
        `floats`: some arguments are Python floats (see the module docstring); `named`:
        the user's (positional, keyword-only) parameters, which a call may name."""
        if named is None:
            params = ", ".join(f"{p}=_symdiff_missing" for p in self.params)
            source = _SPECIALISED.replace("@PARAMS@", params).replace(
                "@NAMES@", ", ".join(self.params)).replace("@GUARD@", guard)
        else:
            positional, kwonly = named
            unset = "".join(f" and {p} is _symdiff_missing"
                            for p in (*positional[len(self.params):], *kwonly))
            source = _KEYWORDS.replace(
                "@PARAMS@", ", ".join(f"{p}=_symdiff_missing" for p in positional)).replace(
                "@KWONLY@", "".join(f", {k}=_symdiff_missing" for k in kwonly)).replace(
                "@UNSET@", unset).replace("@NAMES@", ", ".join(positional)).replace(
                "@KWNAMES@", "".join(f"{k}, " for k in kwonly)).replace("@GUARD@", guard)
        tree = ast.parse(source)
        for node in ast.walk(tree):  # the wrapper's lines: the generated def's line
            if "lineno" in node._attributes:
                node.lineno = node.end_lineno = self.fn.lineno
                node.col_offset = node.end_col_offset = 0
        block = _Returns(floats and self.powers).visit(ast.Module(
            copy.deepcopy(self.statements), [])).body
        if floats:
            block = [ast.Try(body=block, handlers=[ast.ExceptHandler(
                type=ast.Name("_symdiff_arithmetic_error", ast.Load()), name=None,
                body=[ast.Pass()])], orelse=[], finalbody=[])]
            ast.copy_location(block[0], self.fn)
        tree.body[0].body[1].body[1].body = block
        return _inner_code(ast.fix_missing_locations(tree), self.filename, self.name)


def _docstring(fn: ast.FunctionDef) -> int:
    first = fn.body[0]
    return int(isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
               and isinstance(first.value.value, str))


def _is_check(statement: ast.stmt) -> bool:
    """`_check_inputs(...)`, or it under an `if` (the scalar form)."""
    if isinstance(statement, ast.If) and not statement.orelse and len(statement.body) == 1:
        statement = statement.body[0]
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call) \
        and isinstance(statement.value.func, ast.Name) \
        and statement.value.func.id == "_check_inputs"


def _rename_globals(statements: list[ast.stmt], fn: ast.FunctionDef, names: dict,
                    prefix: str) -> dict | None:
    """Rename in place the global names `statements` read to `prefix` + name; the
    bindings of the new names, or None when a name is unknown or the body has a scope
    or a name of the fast path's own. Values other than modules, callables and numbers
    (a module constant array) are read as attributes of a module `prefix`: the tracer
    warns about arrays a function reads from its globals, as it would when tracing a
    transform of the public function, and these are the generated code's own."""
    local = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args)}
    loads = []
    for node in (n for s in statements for n in ast.walk(s)):
        if isinstance(node, _SCOPES):
            return None
        if isinstance(node, ast.Name):
            if node.id.startswith("_symdiff"):
                return None
            if isinstance(node.ctx, ast.Load):
                loads.append(node)
            else:
                local.add(node.id)
    if any(p.startswith("_symdiff") for p in local):
        return None
    constants = types.ModuleType(prefix)
    bindings = {prefix: constants}
    for node in loads:
        if node.id in local:
            continue
        if node.id not in names:
            if not hasattr(builtins, node.id):
                return None
            continue
        value = names[node.id]
        if _plain(value):
            bindings[prefix + node.id] = value
            node.id = prefix + node.id
        else:
            setattr(constants, node.id, value)
            new = ast.Attribute(ast.Name(prefix, ast.Load()), node.id, ast.Load())
            _replace(node, ast.copy_location(new, node))
    return bindings


def _plain(value) -> bool:
    """A module, callable or number, which the tracer's scan of globals passes over."""
    return value is None or callable(value) or isinstance(
        value, (types.ModuleType, int, float, complex, str, np.generic))


def _replace(node: ast.Name, new: ast.Attribute) -> None:
    """Turn `node` into `new` in place (its parent holds it)."""
    node.__class__ = ast.Attribute
    node.__dict__.clear()
    node.__dict__.update(new.__dict__)


def _has_power(statements: list[ast.stmt]) -> bool:
    """Whether a power in `statements` may make a Python float complex: one whose
    exponent is not an integer literal, or a call of `pow`."""
    def integer(e):
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, (ast.USub, ast.UAdd)):
            e = e.operand
        return isinstance(e, ast.Constant) and type(e.value) is int

    return any((isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) and not integer(n.right))
               or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "pow")
               for s in statements for n in ast.walk(s))


class _Returns(ast.NodeTransformer):
    """`return value` -> count the call (and, where a power can give one, fall back on a
    complex result) and return the value."""

    def __init__(self, check_complex: bool):
        self.check_complex = check_complex

    def visit_Return(self, node: ast.Return):
        check = "if _symdiff_has_complex(_symdiff_result):\n" \
            "    raise _symdiff_complex_result\n" if self.check_complex else ""
        lines = ast.parse(f"_symdiff_result = None\n{check}"
                          "_symdiff_hits += 1.0\nreturn _symdiff_result").body
        for n in (n for line in lines for n in ast.walk(line)):
            if "lineno" in n._attributes:
                ast.copy_location(n, node)
        lines[0].value = node.value or lines[0].value
        return lines
