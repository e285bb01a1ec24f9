"""The answer of `gradcheck`: one `ArgumentCheck` per (gradient function, argument),
gathered in a `GradcheckReport` that prints as a table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import GradcheckError

__all__ = ["GradcheckReport", "ArgumentCheck"]


@dataclass
class ArgumentCheck:
    """One gradient function checked with respect to one argument."""

    function: str  # the gradient function checked, e.g. "grad_loss"
    name: str  # the argument
    shape: tuple[int, ...]
    method: str  # "per element" or "random directions"
    count: int  # elements or directions compared
    max_abs_error: float
    max_rel_error: float
    passed: bool
    worst: str  # where the error is largest relative to its tolerance: "w[1]", "direction 3"
    analytic: float  # at `worst` (a directional derivative for random directions)
    numeric: float

    def compared(self) -> str:
        unit = "element" if self.method == "per element" else "random direction"
        return f"{self.count} {unit}{'s' if self.count != 1 else ''}"

    def outcome(self) -> str:
        return "ok" if self.passed else (f"FAILED at {self.worst}: analytic {self.analytic:.6g}"
                                         f", numeric {self.numeric:.6g}")


@dataclass
class GradcheckReport:
    """Analytic gradients against central differences, one row per (function, argument)."""

    function: str
    checks: list[ArgumentCheck]
    dtype: np.dtype
    step: float
    rtol: float
    atol: float
    value: float  # f at the point
    point: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[ArgumentCheck]:
        return [c for c in self.checks if not c.passed]

    def __str__(self) -> str:
        verdict = "passed" if self.passed else f"FAILED ({len(self.failures)} of " \
            f"{len(self.checks)} checks)"
        head = (f"gradcheck of {self.function}: {verdict} (central differences on float64 "
                f"inputs, step {self.step:.2g}; tolerances for {self.dtype.name})")
        rows = [("gradient", "argument", "shape", "compared", "max abs err", "max rel err",
                 "result")]
        rows += [(c.function, c.name, str(c.shape), c.compared(), f"{c.max_abs_error:.2e}",
                  f"{c.max_rel_error:.2e}", c.outcome()) for c in self.checks]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        lines = [head] + ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths))
                          + "  " + r[-1] for r in rows]
        if not self.checks:
            return f"gradcheck of {self.function}: no gradient function to check"
        lines.append(f"  tolerance: |analytic - numeric| <= {self.atol:g}*max(1, "
                     f"|{self.function}| = {abs(self.value):.3g}) + {self.rtol:g}*|numeric|")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line: what failed, where, and what to do."""
        if self.passed:
            return f"gradcheck of {self.function} passed"
        c = max(self.failures, key=lambda c: c.max_rel_error)
        return (f"gradcheck of {self.function} failed: {c.function} with respect to {c.name} "
                f"disagrees with central differences at {c.worst} (analytic {c.analytic:.6g}, "
                f"numeric {c.numeric:.6g}, max abs error {c.max_abs_error:.3g}); a derivative "
                f"rule is wrong, or {self.function} is not differentiable at this point (a "
                "kink or a branch): try another point")

    def raise_if_failed(self) -> GradcheckReport:
        """Raise `GradcheckError` (with this report as `.report`) unless every check passed."""
        if not self.passed:
            raise GradcheckError(self.summary(), report=self)
        return self
