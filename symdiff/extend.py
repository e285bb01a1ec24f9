"""The extension surface: teach symdiff a new elementwise function in one call.

    import numpy as np
    import symdiff

    @symdiff.register_primitive(
        derivatives=[lambda x: 1 / (1 + np.exp(-x))],   # d softplus / dx, in NumPy
        numpy="np.logaddexp(0, {x})",                      # what generated code prints
    )
    def softplus(x):
        return np.logaddexp(0, x)

The function stays one node of the graph: it prints as one call, and its derivative
is the one given (use this for a numerically better formula, for a NumPy function
symdiff has no rule for, or to keep a long formula readable in generated code).
See docs/extending.md.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import re
from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp

from .codegen.printer import SymdiffPrinter
from .errors import EmitError, InputError, TraceError
from .ir.elementwise import NumPyFunctionBase, numpy_function
from .ir.graph import CONST, Graph
from .ir.interpret import interpret, object_array
from .trace.registry import FUNCTIONS, UFUNCS
from .trace.tracer import Tracer, as_tracer, elementwise

__all__ = ["register_primitive"]

_KINDS = ("float", "arith")


def register_primitive(fn: Callable | None = None, *, derivatives: Sequence[Callable],
                       numpy: str | None = None, kind: str = "float"):
    """Register an elementwise function with its derivative and its printed NumPy form.

    Args:
        fn: the function your code calls: a NumPy ufunc or function symdiff has no
            rule for (``np.sinc``; SciPy's ufuncs such as ``scipy.special.erf`` work
            the same way), or your own Python function. Omit it to use
            ``register_primitive(...)`` as a decorator.
        derivatives: one function per argument of `fn`, giving the partial
            derivative with respect to that argument. Write them with NumPy, as
            ordinary elementwise code of the same arguments (they may call `fn`).
        numpy: the NumPy code the generated module prints for one call, with
            ``{0}``, ``{1}`` ... (or your function's parameter names, ``{x}``) for the
            printed arguments: ``"np.logaddexp(0, {x})"``. Generated modules import
            only NumPy, so this may use ``np.`` and Python builtins only. Defaults to
            ``np.<name>(...)`` when `fn` is NumPy's own ``np.<name>``.
        kind: ``"float"`` (the result is floating point, as for ``np.exp``) or
            ``"arith"`` (the result has the arguments' dtype, as for ``np.abs``).

    Returns:
        For a NumPy ufunc or function, `fn` itself (calls on traced arrays now
        trace). For your own function, a wrapper that records one node when called
        on traced arrays and calls `fn` otherwise.

    Raises:
        InputError: `derivatives` does not have one entry per argument, or `kind` is
            unknown.
        EmitError: `numpy` is missing, names something other than NumPy, or leaves
            out an argument.
    """
    if fn is None:
        return lambda f: register_primitive(f, derivatives=derivatives, numpy=numpy, kind=kind)
    names = _parameter_names(fn, len(derivatives))
    if kind not in _KINDS:
        raise InputError(f"register_primitive(kind={kind!r}): choose one of {_KINDS}")
    template = _template(fn, numpy, names)
    cls = _function_class(fn, template, [_partial(d, len(names)) for d in derivatives])
    record = functools.partial(_record, cls, kind)
    if isinstance(fn, np.ufunc):
        UFUNCS[fn] = record
        return fn
    if _is_numpy_function(fn):
        FUNCTIONS[fn] = record
        return fn

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs or not any(isinstance(a, Tracer) for a in args):
            if any(isinstance(a, Tracer) for a in kwargs.values()):
                raise TraceError(f"{fn.__name__} is registered with symdiff: pass its "
                                 "arguments by position")
            return fn(*args, **kwargs)
        return record(*args)

    wrapper.symdiff_function = cls
    return wrapper


def _record(cls, kind, *args):
    return elementwise(cls, *args, kind=kind)


def _is_numpy_function(fn) -> bool:
    return getattr(np, getattr(fn, "__name__", ""), None) is fn


def _parameter_names(fn, n: int) -> list[str]:
    """Names for the placeholders: the function's positional parameters, or x0, x1..."""
    nin = getattr(fn, "nin", None)
    low = high = nin
    names = [f"x{i}" for i in range(max(n, nin or 0))]
    if nin is None:
        try:
            params = [p for p in inspect.signature(fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            names = [p.name for p in params]
            low, high = sum(p.default is p.empty for p in params), len(params)
        except (TypeError, ValueError):
            low, high = n, n
    if not (low <= n <= high) or n == 0:
        raise InputError(f"register_primitive: {getattr(fn, '__name__', fn)} takes "
                         f"{low if low == high else f'{low} to {high}'} argument(s) but "
                         f"{n} derivative(s) were given; give one derivative per argument")
    return names[:n]


_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*|\d+)\}")
_NAME = re.compile(r"(?<![\w.])([A-Za-z_]\w*)")


def _template(fn, numpy: str | None, names: list[str]) -> str:
    """The printed form with positional placeholders, checked to be NumPy-only."""
    label = getattr(fn, "__name__", repr(fn))
    if numpy is None:
        if not (isinstance(fn, np.ufunc) or _is_numpy_function(fn)):
            raise EmitError(f"register_primitive({label}): give numpy=..., the NumPy code "
                            f"generated modules print for it, e.g. numpy=\"np.tanh({{{names[0]}}})\"")
        numpy = f"np.{label}(" + ", ".join(f"{{{n}}}" for n in names) + ")"

    def positional(m):
        key = m.group(1)
        if key.isdigit() and int(key) < len(names):
            return "{" + key + "}"
        if key in names:
            return "{" + str(names.index(key)) + "}"
        raise EmitError(f"register_primitive({label}): numpy={numpy!r} refers to {{{key}}}, "
                        f"which is not an argument ({', '.join(names)})")

    template = _PLACEHOLDER.sub(positional, numpy)
    missing = [n for i, n in enumerate(names) if "{" + str(i) + "}" not in template]
    if missing:
        raise EmitError(f"register_primitive({label}): numpy={numpy!r} does not use "
                        f"{', '.join(missing)}")
    code = _PLACEHOLDER.sub("_", template)
    foreign = sorted({m for m in _NAME.findall(code) if m not in ("np", "_")
                      and not hasattr(builtins, m)})
    if foreign:
        raise EmitError(f"register_primitive({label}): numpy={numpy!r} uses "
                        f"{', '.join(foreign)}, but generated modules import only NumPy; "
                        "write it with np. functions")
    return template


def _function_class(fn, template: str, partials) -> type[NumPyFunctionBase]:
    name = getattr(fn, "__name__", "registered")
    if hasattr(SymdiffPrinter, f"_print_{name}") or not name.isidentifier():
        name = f"{name}_" if name.isidentifier() else "registered"
    return numpy_function(name, template, partials, numeric=fn)


def _partial(derivative: Callable, nargs: int) -> Callable[..., sp.Expr]:
    """A derivative written in NumPy, as a function of SymPy arguments: traced once
    (on first use, so it may call the function being registered) on scalars, and its
    elementwise nodes composed into one expression."""
    cache: list = []

    def partial(*args):
        if not cache:
            cache.append(_as_expression(derivative, nargs))
        params, expr = cache[0]
        return expr.xreplace(dict(zip(params, args)))

    return partial


def _as_expression(derivative: Callable, nargs: int):
    graph = Graph()
    inputs = [graph.add_input((), np.float64, f"x{i}") for i in range(nargs)]
    result = as_tracer(graph, derivative(*(Tracer(graph, v) for v in inputs)))
    if any(n.op == CONST and n.value.ndim for n in graph.nodes):
        _not_elementwise(CONST)
    values = interpret(graph, {v: object_array(v.symbol) for v in inputs},
                       lambda node, args: _not_elementwise(node.op))
    return [v.symbol for v in inputs], values[result.var][()]


def _not_elementwise(op: str):
    raise InputError(f"a derivative given to register_primitive uses {op}; "
                     "derivatives of elementwise functions must be elementwise "
                     "NumPy code of the arguments")
