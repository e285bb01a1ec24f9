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

from .autodiff.rules import JVP, VJP
from .codegen.printer import SymdiffPrinter
from .codegen.printer_ops import literal, register_printer, template_printer
from .errors import EmitError, InputError, ShapeError, TraceError, user_location
from .ir.elementwise import NumPyFunctionBase, numpy_function
from .ir.graph import CONST, Graph
from .ir.interpret import interpret, object_array
from .ir.primitives import PRIMITIVES, primitive
from .trace.registry import FUNCTIONS, UFUNCS
from .trace.structured import zeros
from .trace.tracer import Tracer, _graph_of, as_tracer, bind, elementwise

__all__ = ["register_primitive", "register_structured"]

_KINDS = ("float", "arith")


def register_primitive(fn: Callable | None = None, *,
                       derivatives: Sequence[Callable] | None = None,
                       numpy: str | None = None, kind: str = "float",
                       shape: Callable | None = None, vjp: Callable | None = None,
                       jvp: Callable | None = None):
    """Register a function with its derivative and its printed NumPy form.

    Elementwise (``derivatives=``): one partial derivative per argument. Structured
    (``shape=`` and ``vjp=``, optionally ``jvp=``): any array function, such as a
    decomposition or a convolution; see `register_structured` for those arguments.

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
        return lambda f: register_primitive(f, derivatives=derivatives, numpy=numpy, kind=kind,
                                            shape=shape, vjp=vjp, jvp=jvp)
    if shape is not None or vjp is not None or jvp is not None:
        if derivatives is not None:
            raise InputError("register_primitive: give derivatives= (an elementwise "
                             "function) or shape= and vjp= (a structured one), not both")
        return register_structured(fn, shape=shape, vjp=vjp, jvp=jvp, numpy=numpy)
    if derivatives is None:
        raise InputError("register_primitive needs derivatives=[...] for an elementwise "
                         "function, or shape= and vjp= for a structured one (see "
                         "docs/extending.md)")
    return _register_elementwise(fn, derivatives, numpy, kind)


def _register_elementwise(fn: Callable, derivatives: Sequence[Callable], numpy: str | None,
                          kind: str):
    """`register_primitive` of an elementwise function (see there)."""
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
    return [v.symbol for v in inputs], values[result.graph_var][()]


def _not_elementwise(op: str):
    raise InputError(f"a derivative given to register_primitive uses {op}; "
                     "derivatives of elementwise functions must be elementwise "
                     "NumPy code of the arguments")


# -- structured primitives ---------------------------------------------------------------------
def register_structured(fn: Callable, *, shape: Callable, vjp: Callable,
                        jvp: Callable | None = None, numpy: str):
    """Register a structured (not elementwise) function: one node of the graph, printed
    as one call, differentiated by the rules given.

    Args:
        fn: the function your code calls (a NumPy function without a rule, or your own).
            Its positional arguments are arrays; its keyword arguments are static
            parameters (numbers, booleans, None, short strings or tuples of them).
        shape: ``shape(*input_shapes, **params) -> output shape`` (tuples of ints).
        vjp: ``vjp(g, out, *inputs, **params)``: the cotangent of each input (a tuple,
            one per positional argument, None where there is none) given the
            cotangent `g` of the output `out`. Written in NumPy: the arrays are traced,
            so the rule is itself differentiated for second derivatives.
        jvp: optional ``jvp(tangents, out, *inputs, **params)``: the output's tangent
            from the inputs' (zeros where an input has none). Without it, forward mode
            (`jvp`, `jacobian`, `hessian`) raises UnsupportedOpError at this function.
        numpy: the printed call, ``{0}``, ``{1}``... or parameter names for the inputs
            and ``{name}`` for a static parameter: ``"np.trapezoid({y}, dx={dx})"``.
            NumPy and Python builtins only.
    """
    label = getattr(fn, "__name__", "registered")
    if not callable(shape) or not callable(vjp) or (jvp is not None and not callable(jvp)):
        raise InputError(f"register_primitive({label}, ...): shape= and vjp= (and jvp= if "
                         "given) must be functions; see docs/extending.md")
    names = _positional_names(fn)
    template = _structured_template(label, numpy, names)
    name = _primitive_name(fn, label)
    primitive(name, lambda *arrays, **params: np.asarray(fn(*arrays, **params)),
              _shape_rule(shape, label), _float_dtype,
              doc=f"`{label}`, registered with symdiff.register_primitive")
    VJP[name] = _vjp_rule(vjp, label)
    JVP[name] = _jvp_rule(jvp, label)
    register_printer(name, template_printer(template, names))
    fields = set(re.findall(r"\{([A-Za-z_]\w*)\}", template))
    record = functools.partial(_bind_structured, name, label, _defaults(fn, fields))
    if _is_numpy_function(fn) or hasattr(fn, "_implementation"):
        FUNCTIONS[fn] = record
        return fn

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not any(isinstance(a, Tracer) for a in args):
            return fn(*args, **kwargs)
        return record(*args, **kwargs)

    wrapper.symdiff_primitive = name
    return wrapper


_STRUCTURED: dict[str, Callable] = {}  # primitive name -> the function it was made for


def _primitive_name(fn, label: str) -> str:
    """`user_<label>`, numbered when another function took that name."""
    base = "user_" + (label if label.isidentifier() else "registered")
    name, k = base, 1
    while name in PRIMITIVES and _STRUCTURED.get(name) is not fn:
        k += 1
        name = f"{base}_{k}"
    _STRUCTURED[name] = fn
    return name


def _positional_names(fn) -> list[str]:
    try:
        return [p.name for p in inspect.signature(fn).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


_QUOTED = re.compile(r"'[\w ,.:>-]*'|\"[\w ,.:>-]*\"")
_KEYWORD = re.compile(r"\b[A-Za-z_]\w*\s*=(?!=)")  # axis=..., a keyword argument


def _structured_template(label: str, numpy: str | None, names: list[str]) -> str:
    """The printed form with inputs as {0}, {1}...; other {name}s are parameters."""
    if not isinstance(numpy, str) or not numpy.strip():
        raise EmitError(f"register_primitive({label}, shape=..., vjp=...): give numpy=..., "
                        "the NumPy code printed for one call, e.g. "
                        "numpy=\"np.linalg.cholesky({0})\"")

    template = numpy
    code = _KEYWORD.sub(" ", _QUOTED.sub("_", _PLACEHOLDER.sub("_", template)))
    foreign = sorted({m for m in _NAME.findall(code) if m not in ("np", "_")
                      and not hasattr(builtins, m)})
    if foreign or "'" in code or '"' in code:
        raise EmitError(f"register_primitive({label}): numpy={numpy!r} uses "
                        f"{', '.join(foreign) or 'a string with other characters'}, but "
                        "generated modules import only NumPy; write it with np. functions")
    return template


def _float_dtype(*dtypes, **params):
    return np.result_type(*dtypes, np.float64) if all(np.dtype(d).kind in "biu"
                                                      for d in dtypes) else \
        np.result_type(*dtypes)


def _shape_rule(shape: Callable, label: str):
    def rule(*shapes, **params):
        try:
            out = shape(*shapes, **params)
        except TypeError as e:
            raise ValueError(f"the shape= given for {label} does not take these arguments "
                             f"({e}); it gets one shape per positional array and the "
                             "keyword parameters") from None
        try:
            return tuple(int(d) for d in out)
        except TypeError:
            raise ValueError(f"the shape= given for {label} returned {out!r}, not a tuple "
                             "of ints") from None
    return rule


def _defaults(fn, fields: set) -> dict:
    """Defaults of the parameters the printed form names (so every node has them)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.name in fields and p.default is not p.empty}


def _bind_structured(name: str, label: str, defaults: dict, *args, **params):
    params = {**defaults, **params}
    if any(isinstance(v, Tracer) for v in params.values()):
        raise TraceError(f"{label} is registered with symdiff: pass arrays by position; "
                         "keyword arguments are fixed parameters", user_location())
    for key, value in params.items():
        try:
            literal(value)
        except EmitError:
            raise TraceError(f"{label}({key}={value!r}): a keyword parameter of a registered "
                             "function must be a number, bool, None, short string or tuple "
                             "of them", user_location()) from None
    graph = _graph_of([a for a in args if isinstance(a, Tracer)])
    return bind(name, *(as_tracer(graph, a) for a in args), **params)


def _vjp_rule(vjp: Callable, label: str):
    def rule(g, out, *inputs, **params):
        cts = vjp(g, out, *inputs, **params)
        cts = tuple(cts) if isinstance(cts, (tuple, list)) else (cts,)
        if len(cts) != len(inputs):
            raise InputError(f"the vjp registered for {label} returned {len(cts)} "
                             f"cotangent(s) for {len(inputs)} input(s); return one per "
                             "positional argument (None where there is none)")
        return tuple(_checked(ct, x, label, "cotangent") for ct, x in zip(cts, inputs))
    return rule


def _jvp_rule(jvp: Callable | None, label: str):
    def rule(tangents, out, *inputs, **params):
        if jvp is None:
            raise TraceError(f"{label} was registered without jvp=, so forward mode (jvp, "
                             "jacobian, hessian) cannot pass through it; register it again "
                             "with jvp=")
        given = [t if t is not None else zeros(x.graph, x.shape, x.dtype)
                 for t, x in zip(tangents, inputs)]
        return _checked(jvp(given, out, *inputs, **params), out, label, "tangent")
    return rule


def _checked(value, like: Tracer, label: str, what: str):
    if value is None:
        return None
    value = as_tracer(like.graph, value)
    if value.shape != like.shape:
        raise ShapeError(f"the {what} from the rule registered for {label} has shape "
                         f"{value.shape}, but its array has shape {like.shape}")
    return value
