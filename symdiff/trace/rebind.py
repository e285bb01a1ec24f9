"""Calls NumPy never routes to a tracer: caught by rebinding the names the traced
code sees.

`np.array([a, b])`, `np.float64(t)`, `np.sum([a, b])`, `np.r_[a, b]`, `math.exp(t)`
and `scipy.special.erf(t)` reach NumPy, `math` or SciPy without asking the tracer
(NumPy dispatches on array arguments, not on the items of a list, and `math` converts
with `float()`). While a function is traced, the global names of the code it can reach
(its own module, the helpers and classes it reads from globals and closures, the
user's modules it imports; never NumPy, SciPy, SymPy, symdiff, the standard library or
installed packages) that hold the `numpy`, `math` or `scipy.special` module, or a
function imported from one (`from math import erf`), are bound to stand-ins that trace
those calls and pass every other call straight through. The names are restored when
the trace ends, also on error. Outside a trace (another thread running the same
module) the stand-ins behave exactly as what they replace.

Tables filled by the modules that trace each call (`np_constructs`, `np_math`,
`np_special`): `OVERRIDES` maps an object (a NumPy function, a `math` function) to
its stand-in; `SEQUENCE_FUNCTIONS` lists the NumPy functions whose argument is a
sequence of arrays (np.stack), whose lists are left alone.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
import threading
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from .tracer import Tracer

__all__ = ["rebound_names", "tracing", "OVERRIDES", "SEQUENCE_FUNCTIONS", "module_proxy",
           "holds_tracer"]

#: object (by id) -> (object, its stand-in while tracing)
OVERRIDES: dict[int, tuple[Any, Any]] = {}
#: NumPy functions taking a sequence of arrays: their lists are not one array
SEQUENCE_FUNCTIONS: set = set()
#: NumPy functions whose nested lists are a layout (np.block): no list is an array
NESTED_FUNCTIONS: set = set()
#: top-level package -> wrapper factory for its functions seen through a proxy
FOREIGN: dict[str, Callable] = {}
#: module name -> function giving its proxy (filled for numpy, numpy.linalg, math ...)
_PROXIED_MODULES: dict[str, Callable[[], types.ModuleType]] = {}

_state = threading.local()
_lock = threading.RLock()
_bound: dict[tuple[int, str], list] = {}  # (id(namespace), name) -> [ns, original, count]


def tracing() -> bool:
    """Whether this thread is inside `rebound_names` (a trace is running)."""
    return getattr(_state, "depth", 0) > 0


def holds_tracer(value, depth: int = 0) -> bool:
    """A tracer, or a list/tuple holding one at any depth."""
    if isinstance(value, Tracer) or getattr(value, "_symdiff_traced", None) is not None:
        return True
    if isinstance(value, (list, tuple)) and depth < 32:
        return any(holds_tracer(v, depth + 1) for v in value)
    return False


# -- stand-ins for NumPy's functions and ufuncs ------------------------------------------
def _convert_lists(func, args, kwargs, to_array):
    """`args` with each list/tuple holding a tracer made one traced array."""
    if func in NESTED_FUNCTIONS:  # np.block([[a, b], [c, d]]): the nesting is the layout
        return args, kwargs
    if func in SEQUENCE_FUNCTIONS:  # np.concatenate([x, [t, 1.0]]): the inner list is one
        if args and isinstance(args[0], (list, tuple)):
            args = (type(args[0])(to_array(a) if isinstance(a, (list, tuple)) and
                                  holds_tracer(a) else a for a in args[0]),) + args[1:]
        return args, kwargs
    args = tuple(to_array(a) if isinstance(a, (list, tuple)) and holds_tracer(a) else a
                 for a in args)
    kwargs = {k: to_array(v) if isinstance(v, (list, tuple)) and holds_tracer(v) else v
              for k, v in kwargs.items()}
    return args, kwargs


def _to_array(value):
    """A list of traced values as one traced array (np_constructs sets `TO_ARRAY`)."""
    return TO_ARRAY[0](value)


#: the function making a traced array of a list (np_constructs.traced_array)
TO_ARRAY: list[Callable] = []


@functools.cache
def _function_proxy(func):
    """NumPy function `func`, reading lists of traced values as arrays while tracing."""
    @functools.wraps(func)
    def call(*args, **kwargs):
        if tracing():
            args, kwargs = _convert_lists(func, args, kwargs, _to_array)
        return func(*args, **kwargs)

    return call


class _UfuncProxy:
    """A NumPy ufunc whose calls read lists of traced values as arrays while tracing;
    everything else (attributes, `isinstance`) is the ufunc's."""

    def __init__(self, ufunc: np.ufunc):
        self._ufunc = ufunc
        functools.update_wrapper(self, ufunc, updated=())

    def __call__(self, *args, **kwargs):
        return self._method("__call__", args, kwargs)

    def _method(self, name, args, kwargs):
        if tracing():
            args, kwargs = _convert_lists(None, args, kwargs, _to_array)
        method = self._ufunc if name == "__call__" else getattr(self._ufunc, name)
        return method(*args, **kwargs)

    def reduce(self, *args, **kwargs):
        return self._method("reduce", args, kwargs)

    def accumulate(self, *args, **kwargs):
        return self._method("accumulate", args, kwargs)

    def __getattr__(self, name):
        return getattr(self._ufunc, name)

    def __repr__(self):
        return repr(self._ufunc)


class _ProxyModule(types.ModuleType):
    """A module standing in for `real`: `overrides` by name, its own functions and
    ufuncs wrapped to read lists of traced values, submodules proxied, the rest as is."""

    def __init__(self, real: types.ModuleType, overrides: dict[str, Any]):
        super().__init__(real.__name__, real.__doc__)
        self.__dict__["_real"] = real
        self.__dict__["_overrides"] = overrides

    def __getattr__(self, name):
        real = self.__dict__["_real"]
        value = self.__dict__["_overrides"].get(name)
        if value is None:
            value = stand_in(getattr(real, name))
        self.__dict__[name] = value  # cached: looked up once
        return value

    def __dir__(self):
        return dir(self.__dict__["_real"])

    def __repr__(self):
        return f"<symdiff stand-in for module {self.__name__!r}>"


@functools.cache
def module_proxy(name: str) -> types.ModuleType:
    """The proxy of module `name` (numpy, numpy.linalg, math, scipy.special, ...)."""
    real = sys.modules[name]
    overrides = {attr: rep for _, (obj, rep) in list(OVERRIDES.items())
                 for attr in _names_in(real, obj)}
    return _ProxyModule(real, overrides)


def _names_in(module, obj) -> list[str]:
    return [k for k, v in vars(module).items() if v is obj and not k.startswith("_")]


def stand_in(value):
    """What a name holding `value` is bound to while tracing (`value` if nothing)."""
    entry = OVERRIDES.get(id(value))
    if entry is not None and entry[0] is value:
        return entry[1]
    if isinstance(value, types.ModuleType):
        return module_proxy(value.__name__) if _proxied(value.__name__) else value
    if isinstance(value, np.ufunc):
        return _ufunc_proxy(value)
    module = getattr(value, "__module__", None) or ""
    if callable(value) and not isinstance(value, type):
        if module.startswith("numpy"):
            return _function_proxy(value)
        wrap = FOREIGN.get(module.partition(".")[0])
        if wrap is not None:
            return _foreign_proxy(wrap, value)
    return value


@functools.cache
def _foreign_proxy(wrap, value):
    return wrap(value)


@functools.cache
def _ufunc_proxy(ufunc):
    return _UfuncProxy(ufunc)


def proxy_module(name: str) -> None:
    """Bind names holding module `name` to its proxy while tracing."""
    _PROXIED_MODULES[name] = lambda: module_proxy(name)


for _name in ("numpy", "numpy.linalg", "math"):
    proxy_module(_name)


# -- which namespaces the traced code reads ---------------------------------------------------
_LIBRARY_ROOTS = {"numpy", "scipy", "sympy", "mpmath", "symdiff", "jax", "jaxlib", "torch",
                  "autograd", "numba", "dask", "pytest", "_pytest", "hypothesis"}
_INSTALLED = tuple(os.path.realpath(p) + os.sep for p in
                   {sysconfig.get_paths().get(k) for k in ("purelib", "platlib", "stdlib")}
                   if p)


@functools.cache
def _user_module(name: str) -> bool:
    """A module of the user's own code: not a library, not installed, not stdlib."""
    root = name.partition(".")[0]
    if root in _LIBRARY_ROOTS or root in sys.stdlib_module_names or root == "builtins":
        return False
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    return not (path and os.path.realpath(path).startswith(_INSTALLED))


def _namespaces(fn) -> list[dict]:
    """Global namespaces of `fn` and of the user code it can reach (functions,
    classes, instances' classes and modules read from globals and closures)."""
    seen_code: set = set()
    seen_obj: set = set()
    found: dict[int, dict] = {}
    todo = [fn]
    while todo and len(seen_obj) < 2000:
        obj = todo.pop()
        if id(obj) in seen_obj:
            continue
        seen_obj.add(id(obj))
        todo.extend(_reachable(obj, seen_code, found))
    return list(found.values())


def _reachable(obj, seen_code: set, found: dict) -> list:
    """Objects `obj` leads to, recording the namespaces of user code met."""
    if isinstance(obj, (types.MethodType, functools.partial)):
        return [getattr(obj, "__func__", None) or obj.func]
    if isinstance(obj, types.ModuleType):
        if not _user_module(obj.__name__):
            return []
        found.setdefault(id(obj.__dict__), obj.__dict__)
        return [v for v in vars(obj).values() if _defined_in(v, obj.__name__)]
    if isinstance(obj, type):
        if not _user_module(obj.__module__):
            return []
        return [getattr(v, "__func__", v) for k in obj.__mro__ for v in vars(k).values()
                if isinstance(v, (types.FunctionType, staticmethod, classmethod, property))]
    if isinstance(obj, types.FunctionType):
        module = obj.__module__ or ""
        if not _user_module(module) and module != "__main__":
            return []
        found.setdefault(id(obj.__globals__), obj.__globals__)
        for cell in obj.__closure__ or ():  # import scipy.linalg inside an enclosing def
            found.setdefault(id(cell), _Cell(cell))
        return _loaded(obj, seen_code)
    if isinstance(obj, property):
        return [f for f in (obj.fget, obj.fset) if f is not None]
    if callable(obj) or hasattr(obj, "__dict__"):
        return [type(obj)]
    return []


class _Cell:
    """A closure cell seen as a namespace of one name (what `_bind` rebinds)."""

    def __init__(self, cell):
        self.cell = cell
        self.ident = id(cell)

    def items(self):
        try:
            return [("<cell>", self.cell.cell_contents)]
        except ValueError:  # an empty cell
            return []

    def get(self, name, default=None):
        return dict(self.items()).get(name, default)

    def __setitem__(self, name, value):
        self.cell.cell_contents = value


def _defined_in(value, module: str) -> bool:
    return isinstance(value, (types.FunctionType, type)) and \
        getattr(value, "__module__", None) == module


def _loaded(fn: types.FunctionType, seen_code: set) -> list:
    """Values of the globals and closure cells `fn`'s code (and nested code) may load:
    its names (`co_names` holds the globals it loads, and attribute names, which only
    add objects to scan) that are globals, and its free variables."""
    values = []
    for cell in fn.__closure__ or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:  # an empty cell
            pass
    codes = [fn.__code__]
    while codes:
        code = codes.pop()
        if code in seen_code:
            continue
        seen_code.add(code)
        values.extend(fn.__globals__[n] for n in code.co_names if n in fn.__globals__)
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return values


# -- binding and restoring -------------------------------------------------------------------------
class rebound_names:
    """While tracing `fn`: its reachable global names bound to their stand-ins."""

    def __init__(self, fn):
        self.fn = fn
        self.keys: list[tuple[int, str]] = []

    def __enter__(self):
        _state.depth = getattr(_state, "depth", 0) + 1
        try:
            namespaces = _namespaces(self.fn)
        except Exception:  # noqa: BLE001 - an odd object graph: trace without rebinding
            namespaces = []
        with _lock:
            for ns in namespaces:
                for name, value in list(ns.items()):
                    self._bind(ns, name, value)
        return self

    def _bind(self, ns: dict, name: str, value) -> None:
        key = (getattr(ns, "ident", id(ns)), name)
        entry = _bound.get(key)
        if entry is not None and ns.get(name) is entry[2]:
            entry[3] += 1
            self.keys.append(key)
            return
        if name.startswith("__") or not _replaceable(value):
            return
        rep = stand_in(value)
        if rep is value:
            return
        ns[name] = rep
        _bound[key] = [ns, value, rep, 1]
        self.keys.append(key)

    def __exit__(self, *exc):
        with _lock:
            for key in self.keys:
                entry = _bound[key]
                entry[3] -= 1
                if entry[3] == 0:
                    ns, original, rep, _ = _bound.pop(key)
                    if ns.get(key[1]) is rep:  # (unless the code rebound it meanwhile)
                        ns[key[1]] = original
        _state.depth -= 1


def _proxied(name: str) -> bool:
    """numpy, numpy.linalg, math, and every module of a package with FOREIGN wrappers."""
    return name in _PROXIED_MODULES or name.partition(".")[0] in FOREIGN


def _replaceable(value) -> bool:
    if isinstance(value, types.ModuleType):
        return _proxied(value.__name__)
    entry = OVERRIDES.get(id(value))
    if entry is not None and entry[0] is value:
        return True
    module = getattr(value, "__module__", None) or ""
    return callable(value) and not isinstance(value, type) and (
        module.startswith("numpy") or module.partition(".")[0] in FOREIGN)


def override(obj, replacement) -> None:
    """While tracing, names (and proxy attributes) holding `obj` give `replacement`."""
    OVERRIDES[id(obj)] = (obj, replacement)
    module_proxy.cache_clear()


def pass_through(real: Callable, traced: Callable, accepts: Callable[..., bool]):
    """A stand-in calling `traced` while tracing when `accepts(*args, **kwargs)`, and
    `real` otherwise."""
    @functools.wraps(real)
    def call(*args, **kwargs):
        if tracing() and accepts(*args, **kwargs):
            return traced(*args, **kwargs)
        return real(*args, **kwargs)

    return call

