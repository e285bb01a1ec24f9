"""Names in generated code: the user's own variables where the trace recovered them,
adjoints `d<out>_d<var>`, the rest temporaries from a reserved prefix."""

from __future__ import annotations

import keyword

import sympy as sp

from ..errors import EmitError
from ..ir import dims
from ..passes.program import Program
from . import fast_trig

# (njit, prange and _accumulate are the fused backend's module-level names; math and scipy
# are printed calls' modules)
_RESERVED = {"np", "math", "scipy", "value", "_check_inputs", "_check", "njit", "prange", "_accumulate"} \
    | set(keyword.kwlist) | set(dir(__builtins__)) | fast_trig.MODULE_NAMES



_TEMP_PREFIX = "_t"



class _TempNames:
    """`_t<k>` names for temporaries, one per value: a name never holds two values in
    one function (reusing a dead temporary's name would free its array a little
    earlier, but a reader would have to track which value the name holds where; a
    gradient keeps the forward values its backward pass reads anyway)."""

    def __init__(self, inlinable: set):
        self.inlinable = inlinable  # (printed where read: LoopPrinter asks)
        self.count = 0

    def take(self) -> str:
        """A new name."""
        number, self.count = self.count, self.count + 1
        return f"{_TEMP_PREFIX}{number}"



# -- names -------------------------------------------------------------------------------
def _identifier(name: str) -> str | None:
    return name if name.isidentifier() and name not in _RESERVED and not \
        name.startswith(_TEMP_PREFIX) else None



def _assign_names(program: Program, out_name: str) -> dict[sp.Symbol, str]:
    """Names for inputs, the user's variables and adjoints; temporaries are numbered
    later, in order of appearance."""
    names: dict[sp.Symbol, str] = {}
    # sizes are bound under their own names: a user's variable `n` gets another one
    taken: set[str] = {str(d) for v in program.inputs for d in dims.symbols_of(v.shape)}

    def claim(sym, candidate):
        if candidate and candidate not in taken and sym not in names:
            names[sym] = candidate
            taken.add(candidate)

    for v in program.inputs:
        claim(v.symbol, program.names.get(v))
        if v.symbol not in names:
            raise EmitError(f"argument name {program.names.get(v)!r} cannot be used in "
                            "generated code; rename the parameter")
    for stmt in program.statements:
        if stmt.var is not None:
            claim(stmt.target, _identifier(program.names.get(stmt.var, "")))
    for sym, expr in _full_expressions(program):
        claim(sym, _identifier(program.expr_names.get(expr, "")))
    value = program.outputs[0] if program.outputs else None
    inputs, outputs = set(program.inputs), set(program.outputs)
    # the argument's returned adjoint first: `dloss_dz` names it even when the user
    # reassigned `z = z - z.max()` and that intermediate has an adjoint too
    first = [s for s in program.statements if s.var in outputs and
             program.adjoint_of.get(s.var) in inputs]
    for stmt in first + [s for s in program.statements if s not in first]:
        primal = program.adjoint_of.get(stmt.var) if stmt.var is not None else None
        if primal is not None:
            primal_name = names.get(primal.symbol) or program.names.get(primal)
            if primal_name and _identifier(primal_name):
                claim(stmt.target, f"d{out_name}_d{primal_name}")
        elif stmt.var is not None and stmt.var is value:
            claim(stmt.target, "value")
    _share_buffer_names(program, names)
    return names



def _share_buffer_names(program: Program, names: dict[sp.Symbol, str]) -> None:
    """A fresh buffer that an in-place `add_at` updates takes the updated value's
    name, so the code reads `g = zeros; g[:-1] = ...; g[1:] += ...` with no `g = _t2`."""
    for stmt in reversed(program.statements):
        node = stmt.node
        if node is not None and node.op == "add_at" and node.p["inplace"] and \
                stmt.target in names and stmt.args[0] not in names:
            names[stmt.args[0]] = names[stmt.target]


def _full_expressions(program: Program):
    """(target, expression with CSE temporaries expanded) for elementwise statements."""
    if not program.expr_names:
        return
    expanded: dict[sp.Symbol, sp.Expr] = {}
    for stmt in program.statements:
        if stmt.expr is None:
            continue
        expr = stmt.expr.xreplace(expanded) if expanded else stmt.expr
        if stmt.var is None:
            expanded[stmt.target] = expr
        yield stmt.target, expr

