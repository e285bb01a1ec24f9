"""Correctness checks: hand-written derivatives against central finite differences, and
any implementation's output against the hand-written one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Agreement", "compare", "numeric_jacobian", "selfcheck_case", "to_arrays"]

FD_STEP = 1e-5      # relative step of the central differences
FD_RTOL = 1e-6      # selfcheck tolerance, relative to the largest derivative entry


@dataclass(frozen=True)
class Agreement:
    """Whether two derivatives agree, and the worst error relative to the reference."""

    ok: bool
    error: float
    detail: str = ""

    def describe(self) -> str:
        if self.detail:
            return self.detail
        return f"max rel err {self.error:.1e}"


def to_arrays(value: Any) -> tuple[np.ndarray, ...]:
    """A derivative (array, float, tensor, or a tuple of those) as float64 arrays."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    out = []
    for item in items:
        if hasattr(item, "detach"):                    # torch.Tensor
            item = item.detach().cpu().numpy()
        out.append(np.asarray(item, dtype=np.float64))
    return tuple(out)


def compare(got: Any, want: Any, rtol: float) -> Agreement:
    """Agree when, for every returned array, max|got - want| <= rtol * max|want|."""
    got_arrays, want_arrays = to_arrays(got), to_arrays(want)
    if len(got_arrays) != len(want_arrays):
        return Agreement(False, np.inf, f"returned {len(got_arrays)} arrays, "
                                        f"expected {len(want_arrays)}")
    worst = 0.0
    for k, (a, b) in enumerate(zip(got_arrays, want_arrays)):
        if a.shape != b.shape:
            return Agreement(False, np.inf, f"output {k}: shape {a.shape}, expected {b.shape}")
        if not np.all(np.isfinite(a)):
            return Agreement(False, np.inf, f"output {k}: non-finite values")
        if a.size:
            scale = max(float(np.max(np.abs(b))), np.finfo(np.float64).tiny)
            worst = max(worst, float(np.max(np.abs(a - b))) / scale)
    return Agreement(worst <= rtol, worst)


def _with_arg(args: tuple, i: int, value: np.ndarray) -> tuple:
    new = list(args)
    new[i] = float(value) if isinstance(args[i], float) else value
    return tuple(new)


def numeric_jacobian(f: Callable, args: tuple, i: int, step: float = FD_STEP) -> np.ndarray:
    """Central differences of ``f(*args)`` w.r.t. argument `i`, shape out.shape + arg.shape."""
    x0 = np.array(args[i], dtype=np.float64)
    columns = []
    for idx in np.ndindex(x0.shape):
        plus, minus = x0.copy(), x0.copy()
        h = step * max(1.0, abs(float(x0[idx])))
        plus[idx] += h
        minus[idx] -= h
        f_plus = np.asarray(f(*_with_arg(args, i, plus)), dtype=np.float64)
        f_minus = np.asarray(f(*_with_arg(args, i, minus)), dtype=np.float64)
        columns.append((f_plus - f_minus) / (plus[idx] - minus[idx]))
    out_shape = columns[0].shape if columns else ()
    return np.stack(columns, axis=-1).reshape(out_shape + x0.shape) if columns \
        else np.zeros(x0.shape)


def _numeric_gradient(f: Callable, args: tuple, argnums) -> Any:
    if isinstance(argnums, int):
        return numeric_jacobian(f, args, argnums)
    return tuple(numeric_jacobian(f, args, i) for i in argnums)


def selfcheck_case(problem, case) -> list[tuple[str, Agreement]]:
    """Check a case's hand-written derivatives against finite differences.

    Gradient problems: hand gradient vs FD of the forward. Hessian problems: the
    first derivative vs FD of the forward, and the hand Hessian vs FD of that."""
    before = [np.array(a, copy=True) for a in case.args]
    results = _derivative_checks(problem, case)
    unchanged = all(np.array_equal(a, b) for a, b in zip(case.args, before))
    results.append(("inputs left unchanged",
                    Agreement(unchanged, 0.0, "yes" if unchanged else "an input was modified")))
    return results


def _derivative_checks(problem, case) -> list[tuple[str, Agreement]]:
    if problem.kind == "hessian":
        i = problem.argnums
        first = compare(case.gradient(*case.args), numeric_jacobian(case.forward, case.args, i),
                        FD_RTOL)
        second = compare(case.hand(*case.args), numeric_jacobian(case.gradient, case.args, i),
                         FD_RTOL)
        return [("gradient vs FD", first), ("Hessian vs FD of gradient", second)]
    want = _numeric_gradient(case.forward, case.args, problem.argnums)
    return [("gradient vs FD", compare(case.hand(*case.args), want, FD_RTOL))]
