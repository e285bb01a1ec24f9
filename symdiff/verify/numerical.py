"""Stage 6: numerical checks of derivatives (central differences in float64).

`gradcheck` compares an analytic gradient (symdiff's, or any function given) with
central differences: per element for small arguments, along random directions for
large ones, with the step and the tolerances chosen per dtype. `verify_compiled` is
the same check for a generated module; `symdiff emit` runs it before writing.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..compile import compile_gradient
from ..errors import InputError, user_location
from ..trace.args import normalize_argnums
from .gradcheck_report import ArgumentCheck, GradcheckReport

__all__ = [
    "numerical_gradient",
    "step_for",
    "abs_errors",
    "gradcheck",
    "verify_compiled",
    "sample_args",
    "TOLERANCES",
    "MAX_ELEMENTS",
    "DIRECTIONS",
]

#: dtype of the computation -> (rtol, atol). `atol` is scaled by max(1, |f(x)|), the
#: size of the rounding error of f that central differences divide by the step.
TOLERANCES = {
    np.dtype(np.float64): (1e-5, 1e-6),
    np.dtype(np.float32): (2e-3, 1e-3),
    np.dtype(np.float16): (5e-2, 5e-2),
}
#: Arguments with more elements than this are checked along random directions.
MAX_ELEMENTS = 64
#: How many random directions a large argument is checked along.
DIRECTIONS = 8


def step_for(dtype) -> float:
    """Central-difference step for values computed in `dtype`: about the cube root of
    its machine epsilon, the step that balances truncation and rounding error."""
    return float(np.finfo(np.dtype(dtype)).eps ** (1 / 3))


def numerical_gradient(f: Callable, args: Sequence[Any], argnum: int = 0,
                       step: float | None = None) -> np.ndarray | float:
    """d f / d args[argnum] by central differences, every element, in float64."""
    args = list(args)
    x0 = np.array(args[argnum], dtype=np.float64)
    scalar_input = np.ndim(args[argnum]) == 0 and not isinstance(args[argnum], np.ndarray)
    out = np.zeros(x0.shape)  # C order: `flat` below must be a view of it
    flat = out.reshape(-1)
    for i in range(x0.size):
        h = (step or step_for(np.float64)) * max(1.0, abs(x0.flat[i]))
        values = []
        for sign in (1, -1):
            x = x0.copy()
            x.flat[i] += sign * h
            # np.float64, not float: a Python float is weakly typed and would let
            # float32 arguments pull the difference down to float32 precision
            args[argnum] = np.float64(x.item()) if scalar_input else x
            values.append(float(np.asarray(f(*args), dtype=np.float64)))
        flat[i] = (values[0] - values[1]) / (2 * h)
    return float(out) if scalar_input else out


# -- checking --------------------------------------------------------------------------
def gradcheck(f: Callable, *args, argnums: int | tuple[int, ...] = 0,
              grad_fn: Callable | None = None, rtol: float | None = None,
              atol: float | None = None, max_elements: int = MAX_ELEMENTS,
              directions: int = DIRECTIONS, seed: int = 0,
              raise_on_failure: bool = False) -> GradcheckReport:
    """Check the gradient of the scalar function `f` at `args` against central differences.

    The analytic gradient is symdiff's (``symdiff.grad(f, argnums)``) unless `grad_fn`
    is given: a function of the same arguments returning one array for an int
    `argnums`, a tuple for a tuple. Differences are taken in float64, per element for
    arguments of at most `max_elements` elements and along `directions` random unit
    directions (seeded by `seed`) for larger ones. The step and the default
    tolerances follow the least precise dtype among the differentiated arguments and
    f's value (see `TOLERANCES`): an element passes when
    ``|analytic - numeric| <= atol*max(1, |f(x)|) + rtol*|numeric|``.

    Returns a `GradcheckReport` (``.passed``, one row per argument with the max
    absolute and relative error and the worst point); with `raise_on_failure` a
    failure raises `symdiff.GradcheckError` instead.
    """
    nums = normalize_argnums(argnums, len(args), f"gradcheck of {_name(f)}")
    if any(isinstance(a, (tuple, list)) and any(isinstance(v, np.ndarray) for v in a)
           for a in args):
        raise InputError("gradcheck(f, *args) takes the arguments themselves, got a "
                         "tuple or list of arrays; write gradcheck(f, x, y), or "
                         "gradcheck(f, *args)", user_location())
    _scalar_value(f, args)
    if grad_fn is None:
        grad_fn = compile_gradient(f, args, argnums).grad
    label = getattr(grad_fn, "__name__", "grad_fn")
    label = "grad_fn" if label == "<lambda>" else label
    report = check_gradients(f, args, nums, {label: grad_fn}, argnums, rtol=rtol, atol=atol,
                             max_elements=max_elements, directions=directions, seed=seed)
    return report.raise_if_failed() if raise_on_failure else report


def verify_compiled(compiled, args: Sequence[Any], fn: Callable | None = None,
                    **options) -> GradcheckReport:
    """Check every derivative function of a generated module at `args` against central
    differences of `fn` (default: the module's own forward function): `grad_<f>` and
    the gradient half of `value_and_grad_<f>` directly; Jacobians and VJPs contracted
    with a fixed random cotangent (the gradient of sum(cotangent * f)); a JVP as the
    derivative of that sum along its tangents; a Hessian or HVP as the derivative of
    the gradient along fixed random tangents, the gradient being checked too.
    `options` are those of `gradcheck`."""
    module, name = compiled.module, compiled.name
    fn = fn or compiled.forward
    argnums = compiled.argnums
    nums = normalize_argnums(argnums, len(args), f"gradcheck of {_name(fn)}")
    rng = np.random.default_rng(options.get("seed", 0) + 1)

    def get(kind: str):
        return getattr(module, f"{kind}_{name}", None)

    grad = get("grad")
    grads = {f"grad_{name}": grad} if grad else {}
    if get("value_and_grad"):
        grads[f"value_and_grad_{name}"] = lambda *a: get("value_and_grad")(*a)[1]
    if (get("hessian") or get("hvp")) and grad is None:
        grad = compile_gradient(fn, args, argnums).grad
        grads[f"grad_{name} (for the Hessian)"] = grad
    reports = [check_gradients(fn, args, nums, grads, argnums, **options)] if grads else []

    out = np.asarray(fn(*args))
    cotangent = rng.uniform(0.5, 1.5, out.shape).astype(_float_dtype(out))
    firsts = {f"{kind}_{name}": _contract_jacobian(get(kind), cotangent, argnums)
              for kind in ("jacobian", "jacfwd", "jacrev") if get(kind)}
    if get("vjp"):
        firsts[f"vjp_{name}"] = _unpack_vjp(get("vjp"), cotangent, argnums)
    if firsts:
        reports.append(check_gradients(_contracted(fn, cotangent), args, nums, firsts,
                                       argnums, **options))
    tangents = [rng.uniform(0.5, 1.5, np.shape(args[i])).astype(_dtype_of(args[i]))
                for i in nums]
    if get("jvp"):
        reports.append(_check_jvp(fn, get("jvp"), f"jvp_{name}", args, nums, cotangent,
                                  tangents, options))
    seconds = {}
    if get("hessian"):
        seconds[f"hessian_{name}"] = _contract_hessian(get("hessian"), tangents, argnums)
    if get("hvp"):
        seconds[f"hvp_{name}"] = lambda *a: get("hvp")(*a, *tangents)
    if seconds:
        reports.append(check_gradients(_gradient_along(grad, tangents, argnums, fn), args,
                                       nums, seconds, argnums, **options))
    if not reports:
        return GradcheckReport(name, [], np.dtype(np.float64), step_for(np.float64),
                               *TOLERANCES[np.dtype(np.float64)], float("nan"))
    return replace(reports[0], function=name, checks=[c for r in reports for c in r.checks])


def _float_dtype(out: np.ndarray) -> np.dtype:
    return out.dtype if out.dtype.kind == "f" else np.dtype(np.float64)


def _contracted(fn: Callable, cotangent: np.ndarray) -> Callable:
    """sum(cotangent * fn(...)): a scalar whose gradient is the VJP with `cotangent`."""

    @functools.wraps(fn)
    def contracted(*args):
        return np.sum(cotangent * np.asarray(fn(*args)))

    return contracted


def _contract_jacobian(jacobian: Callable, cotangent: np.ndarray, argnums) -> Callable:
    def vjp(*args):
        jacs = _as_tuple(jacobian(*args), argnums, "the Jacobian")
        result = tuple(np.tensordot(cotangent, np.asarray(j), axes=cotangent.ndim)
                       for j in jacs)
        return result[0] if isinstance(argnums, int) else result

    return vjp


def _unpack_vjp(vjp: Callable, cotangent: np.ndarray, argnums) -> Callable:
    def unpacked(*args):
        result = vjp(*args, cotangent)
        return result[0] if isinstance(argnums, int) else result

    return unpacked


def _check_jvp(fn, jvp, label, args, nums, cotangent, tangents, options) -> GradcheckReport:
    """d/ds sum(cotangent * fn(args + s tangents)) at s = 0 against the JVP."""

    def along_tangents(s):
        moved = list(args)
        for i, t in zip(nums, tangents):
            moved[i] = args[i] + s * t
        return np.sum(cotangent * np.asarray(fn(*moved)))

    def analytic(s):
        return np.sum(cotangent * np.asarray(jvp(*args, *tangents)[1]))

    along_tangents.__name__ = _name(fn)
    report = check_gradients(along_tangents, [0.0], (0,), {label: analytic}, 0, **options)
    where = "along tangents"
    return replace(report, checks=[replace(c, name=where, worst=where) for c in report.checks])


def _gradient_along(grad: Callable, tangents, argnums, fn: Callable) -> Callable:
    """sum_i <tangents[i], grad_i(...)>: its gradient is the Hessian times the tangents."""

    @functools.wraps(fn)
    def along(*args):
        grads = _as_tuple(grad(*args), argnums, "the gradient")
        return sum(np.sum(t * np.asarray(g)) for t, g in zip(tangents, grads))

    return along


def _contract_hessian(hessian: Callable, tangents, argnums) -> Callable:
    def hvp(*args):
        h = hessian(*args)
        rows = ((h,),) if isinstance(argnums, int) else h
        result = tuple(sum(np.tensordot(t, np.asarray(row[j]), axes=np.ndim(t))
                           for t, row in zip(tangents, rows)) for j in range(len(tangents)))
        return result[0] if isinstance(argnums, int) else result

    return hvp


def sample_args(specs, seed: int = 0, low: float = 0.5, high: float = 1.5) -> list[Any]:
    """Random arguments shaped like the `ArgSpec`s of a trace: floats uniform in
    [low, high) (where log, sqrt and 1/x are defined), integers 1, static values as
    traced; fixed `seed`, so the same inputs every run."""
    rng = np.random.default_rng(seed)
    args = []
    for spec in specs:
        if not spec.traced:
            args.append(spec.static)
        elif spec.dtype.kind != "f":
            args.append(np.ones(spec.shape, dtype=spec.dtype))
        elif spec.shape == () and spec.dtype == np.float64:
            args.append(float(rng.uniform(low, high)))
        else:
            args.append(rng.uniform(low, high, spec.shape).astype(spec.dtype))
    return args


def check_gradients(f: Callable, args: Sequence[Any], nums: tuple[int, ...],
                    functions: dict[str, Callable], argnums=None, rtol=None, atol=None,
                    max_elements: int = MAX_ELEMENTS, directions: int = DIRECTIONS,
                    seed: int = 0) -> GradcheckReport:
    """The shared engine: difference `f` once per argument, compare every function."""
    argnums = nums if argnums is None else argnums
    names = _parameter_names(f, len(args))
    value, dtype, step = _precision(f, args, nums)
    default_rtol, default_atol = TOLERANCES.get(dtype, TOLERANCES[np.dtype(np.float64)])
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    tol_abs = atol * max(1.0, abs(value)) if np.isfinite(value) else atol
    grads = {label: _as_tuple(g(*args), argnums, label) for label, g in functions.items()}
    rng = np.random.default_rng(seed)
    checks = []
    for k, i in enumerate(nums):
        probe = _Probe(f, args, i, step, max_elements, directions, rng)
        numeric = probe.numeric()
        for label, grad in grads.items():
            g = _analytic(grad[k], args[i], label, names[i])
            checks.append(probe.compare(label, names[i], g, numeric, rtol, tol_abs))
    return GradcheckReport(_name(f), checks, dtype, step, rtol, atol, value,
                           dict(zip(names, args)))


def _precision(f, args, nums) -> tuple[float, np.dtype, float]:
    """f's value, the dtype the tolerances follow, and the step. The step follows the
    dtype f computes in on float64 inputs; the tolerances also the dtypes of the
    arguments and of the value, in which the analytic gradient runs."""
    value, out_dtype = _scalar_value(f, args)
    fd_dtype = _least_precise([_scalar_value(f, _float64_at(args, nums))[1]])
    dtype = _least_precise([_dtype_of(args[i]) for i in nums] + [out_dtype, fd_dtype])
    return value, dtype, step_for(fd_dtype)


class _Probe:
    """Central differences of f along a set of directions in one argument's space."""

    def __init__(self, f, args, i, step, max_elements, directions, rng):
        self.f, self.args, self.i = f, list(args), i
        self.x = np.array(args[i], dtype=np.float64)
        self.scalar = np.ndim(args[i]) == 0 and not isinstance(args[i], np.ndarray)
        self.per_element = self.x.size <= max_elements
        if self.per_element:
            self.dirs = np.eye(self.x.size).reshape((self.x.size,) + self.x.shape)
            self.steps = step * np.maximum(1.0, np.abs(self.x.reshape(-1)))
        else:
            v = rng.standard_normal((directions,) + self.x.shape)
            self.dirs = v / np.sqrt(np.sum(v**2, axis=tuple(range(1, v.ndim)), keepdims=True))
            self.steps = np.full(directions, step * max(1.0, float(np.max(np.abs(self.x)))))

    def _at(self, x) -> float:
        args = list(self.args)
        args[self.i] = np.float64(x.item()) if self.scalar else x  # see numerical_gradient
        return float(np.asarray(self.f(*args), dtype=np.float64))

    def numeric(self) -> np.ndarray:
        return np.array([(self._at(self.x + h * d) - self._at(self.x - h * d)) / (2 * h)
                         for d, h in zip(self.dirs, self.steps)])

    def compare(self, label, name, g, numeric, rtol, tol_abs) -> ArgumentCheck:
        method = "per element" if self.per_element else "random directions"
        if not len(numeric):  # an empty argument: nothing to compare
            return ArgumentCheck(label, name, self.x.shape, method, 0, 0.0, 0.0, True, "-",
                                 0.0, 0.0)
        if self.per_element:
            analytic = g.reshape(-1)
            scale = np.abs(analytic)
        else:
            axes = tuple(range(1, self.dirs.ndim))
            analytic = np.sum(self.dirs * g, axis=axes)
            scale = np.sum(np.abs(self.dirs * g), axis=axes)
        err = abs_errors(analytic, numeric)
        with np.errstate(invalid="ignore", divide="ignore"):
            tol = tol_abs + rtol * np.maximum(np.abs(numeric), scale)
            rel = np.where(err == 0, 0.0, err / np.maximum(np.maximum(np.abs(analytic),
                                                                     np.abs(numeric)), scale))
            ratio = np.where(err == 0, 0.0, err / tol)
        rel, ratio = (np.where(np.isnan(a), np.inf, a) for a in (rel, ratio))
        j = int(np.argmax(ratio))
        return ArgumentCheck(label, name, self.x.shape, method, len(numeric),
                             float(np.max(err)), float(np.max(rel)),
                             bool(np.all((err == 0) | (err <= tol))),
                             self._where(name, j), float(analytic[j]), float(numeric[j]))

    def _where(self, name: str, j: int) -> str:
        if not self.per_element:
            return f"direction {j + 1}"
        if self.x.shape == ():
            return f"{name} = {self.x.item():.6g}"
        idx = np.unravel_index(j, self.x.shape)
        return f"{name}[{', '.join(map(str, idx))}] = {self.x[idx]:.6g}"


def abs_errors(a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """|a - n|, where equal non-finite values (nan and nan, inf and inf) agree."""
    same = (a == n) | (np.isnan(a) & np.isnan(n))
    with np.errstate(invalid="ignore"):
        err = np.abs(a - n)
    return np.where(same, 0.0, np.where(np.isnan(err), np.inf, err))


# -- helpers ---------------------------------------------------------------------------
def _name(f) -> str:
    name = getattr(f, "__name__", "f")
    return "f" if name == "<lambda>" else name


def _parameter_names(f, nargs: int) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return (params + [f"arg{i}" for i in range(len(params), nargs)])[:nargs]


def _float64_at(args, nums) -> list:
    """args with the differentiated ones in float64, scalars as (strong) np.float64."""
    return [(np.float64(a) if np.ndim(a) == 0 and not isinstance(a, np.ndarray)
             else np.asarray(a, dtype=np.float64)) if i in nums else a
            for i, a in enumerate(args)]


def _dtype_of(a) -> np.dtype:
    return np.dtype(np.float64) if isinstance(a, (float, int)) else np.asarray(a).dtype


def _least_precise(dtypes) -> np.dtype:
    floats = [d for d in dtypes if d.kind == "f"]
    return max(floats, key=lambda d: np.finfo(d).eps) if floats else np.dtype(np.float64)


def _scalar_value(f, args) -> tuple[float, np.dtype]:
    out = np.asarray(f(*args))
    if out.size != 1 or out.ndim:
        raise InputError(f"gradcheck of {_name(f)}: the function returns shape {out.shape}, "
                         "but a gradient needs a scalar output; check a scalar function of "
                         "it, e.g. np.sum(f(...) * weights)")
    return float(out.astype(np.float64)), out.dtype


def _as_tuple(result, argnums, label: str) -> tuple:
    if isinstance(argnums, int):
        # a 1-tuple is the habit of `return dx,` and of argnums=(0,): the gradient itself
        return result if isinstance(result, tuple) and len(result) == 1 else (result,)
    if not isinstance(result, (tuple, list)) or len(result) != len(argnums):
        raise InputError(f"gradcheck: {label} returned {type(result).__name__}, expected a "
                         f"tuple of {len(argnums)} gradients, one per argnum")
    return tuple(result)


def _analytic(g, arg, label: str, name: str) -> np.ndarray:
    arr = np.asarray(g, dtype=np.float64)
    if arr.shape != np.shape(arg):
        raise InputError(f"gradcheck: {label} gives shape {arr.shape} for the gradient with "
                         f"respect to {name}, which has shape {np.shape(arg)}; a gradient is "
                         "shaped like its argument")
    return arr
