"""The answer of `check_derivative`: a verdict per argument (PROVED, AGREES or REFUTED),
printable as text and as LaTeX."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import sympy as sp

from .proof import Counterexample, _component_name, _tex_component

__all__ = ["Status", "ArgumentVerdict", "DerivativeCheck"]


class Status(str, Enum):
    PROVED = "PROVED"
    AGREES = "AGREES"
    REFUTED = "REFUTED"

    def __str__(self) -> str:
        return self.value


@dataclass
class ArgumentVerdict:
    """The verdict on the derivative with respect to one argument."""

    name: str
    shape: tuple[int, ...]
    status: Status
    difference: sp.Expr | None = None  # symdiff's minus yours, at `component`
    component: tuple[int, ...] | None = None
    counterexample: Counterexample | None = None
    note: str = ""


@dataclass
class DerivativeCheck:
    """The answer of `check_derivative`: a status per argument and overall."""

    function: str
    arguments: list[ArgumentVerdict]
    points: int  # points where the derivatives were compared numerically
    rtol: float
    atol: float
    latex_names: dict[sp.Symbol, str] = field(default_factory=dict, repr=False)

    @property
    def status(self) -> Status:
        statuses = {a.status for a in self.arguments}
        for s in (Status.REFUTED, Status.AGREES):
            if s in statuses:
                return s
        return Status.PROVED

    @property
    def ok(self) -> bool:
        """PROVED or AGREES."""
        return self.status != Status.REFUTED

    @property
    def refuted(self) -> list[ArgumentVerdict]:
        return [a for a in self.arguments if a.status == Status.REFUTED]

    @property
    def difference(self) -> sp.Expr | None:
        """The symbolic difference (symdiff's minus yours) of the first refuted argument
        (or the first unproved one); 0 when PROVED."""
        if self.status == Status.PROVED:
            return sp.Integer(0)
        first = (self.refuted or [a for a in self.arguments if a.status == Status.AGREES])[0]
        return first.difference

    @property
    def counterexample(self) -> Counterexample | None:
        return self.refuted[0].counterexample if self.refuted else None

    def __str__(self) -> str:
        lines = [f"check_derivative of {self.function}: {self.status}"]
        for a in self.arguments:
            lines += self._lines(a)
        lines.append(f"  (compared at {_plural(self.points, 'point')}: |symdiff - yours| <= "
                     f"{self.atol:g}*max(1, |symdiff|) + {self.rtol:g}*|symdiff|)")
        return "\n".join(lines)

    def _lines(self, a: ArgumentVerdict) -> list[str]:
        head = f"  d {self.function} / d {a.name}: {a.status}"
        detail = {Status.PROVED: " (symdiff's derivative minus yours simplifies to 0)",
                  Status.AGREES: f" at {_plural(self.points, 'point')}",
                  Status.REFUTED: ""}[a.status]
        lines = [head + detail]
        if a.difference is not None and a.status != Status.PROVED:
            where = _component_name(a.name, a.component or ())
            lines.append(f"      symdiff - yours (d/d{where}) = {a.difference}")
        if a.counterexample is not None:
            lines.append(f"      counterexample {a.counterexample}")
        if a.note:
            lines.append(f"      {a.note}")
        return lines

    def latex(self) -> str:
        """The verdicts and symbolic differences as a LaTeX `aligned` block."""
        rows = []
        for a in self.arguments:
            d = rf"\frac{{\partial\, \mathrm{{{_tex_name(self.function)}}}}}" \
                rf"{{\partial {_tex_component(a.name, a.component or ())}}}"
            if a.status == Status.PROVED:
                rows.append(rf"{d} &: \text{{PROVED}}")
            elif a.difference is not None:
                diff = sp.latex(a.difference, symbol_names=self.latex_names)
                rows.append(rf"{d}\Big|_{{\text{{symdiff}}}} - {d}\Big|_{{\text{{yours}}}} "
                            rf"&= {diff} \quad \text{{{a.status}}}")
            else:
                rows.append(rf"{d} &: \text{{{a.status}}}")
        return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _tex_name(name: str) -> str:
    return name.replace("_", r"\_")

