"""The input checks of a module in Array-API mode: `_check_inputs` finds the
namespace of the arguments (array_api_compat's `array_namespace`), checks shapes and
dtypes through `.shape` and `.dtype` (nothing converted or computed) and returns the
namespace, which each function binds as `xp`; a Python number becomes a 0-d array of
its traced dtype, so that the standard's functions take it."""

from __future__ import annotations

import re

import numpy as np

from . import checks
from .layout import call_text

__all__ = ["IMPORT", "HELPERS", "input_checks", "entry_lines", "without_numpy"]

IMPORT = "from array_api_compat import array_namespace"

_NAMESPACE = '''def _namespace(**arguments):
    """The array namespace of the arguments; a TypeError naming them when they come
    from different libraries, or when none is an array."""
    try:
        return array_namespace(*arguments.values())
    except TypeError:
        kinds = [
            f"{name}: {type(value).__module__}.{type(value).__name__}"
            for name, value in arguments.items()
            if not isinstance(value, (bool, int, float, complex))
        ]
        if not kinds:
            raise TypeError(
                "no argument is an array: pass at least one array of the library "
                "to compute with (Python numbers alone name none)"
            ) from None
        raise TypeError(
            f"the arguments are arrays of different libraries ({', '.join(kinds)}); "
            "convert them to one library first (its asarray)"
        ) from None'''

_CHECK = '''def _check(xp, name, value, shape, dtype):
    """Raise unless `value` has `shape` (ValueError; None: checked before) and the
    dtype named `dtype` (TypeError; integers pass where floats or integers were
    traced). Reads .shape and .dtype only: nothing is converted or computed."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if shape not in (None, ()):
            raise ValueError(f"{name} must have shape {shape}, got a Python number")
        if isinstance(value, float) and dtype not in ("float32", "float64"):
            raise TypeError(f"{name} must be {dtype} as traced, got a Python float")
        return
    if shape is not None and tuple(value.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
    got, want = value.dtype, getattr(xp, dtype)
    if got == want:
        return
    if xp.isdtype(got, "integral") and xp.isdtype(want, ("integral", "real floating")):
        return
    if xp.isdtype(want, "real floating"):
        raise TypeError(
            f"{name} must be {dtype} as traced (or integers), got dtype {got}; "
            f"convert it with xp.astype({name}, xp.{dtype})"
        )
    wanted = "booleans" if dtype == "bool" else "integers"
    raise TypeError(f"{name} must be {wanted} ({dtype} when traced), got dtype {got}")'''

#: The definitions `_check_inputs` calls.
HELPERS = [_NAMESPACE, _CHECK]


def _check_call(name: str, shape, dtype, guard: bool = True) -> list[str]:
    return [f'_check(xp, "{name}", {name}, {shape!r}, "{np.dtype(dtype).name}")']


def input_checks(specs, requirements=()) -> list[str]:
    """Body of `_check_inputs`: the namespace, a `_check` per argument (or static value
    check), the sizes symbolic shapes require; it returns the namespace."""
    traced = [s.name for s in specs if s.traced]
    lines = [f"xp = {call_text('_namespace', ', '.join(f'{n}={n}' for n in traced), 4)}"]
    body = checks.input_checks(specs, requirements, _check_call)
    return lines + without_numpy([line for line in body if line != "pass"]) + ["return xp"]


def entry_lines(params: str, specs, indent: int = 4) -> str:
    """The lines opening each function: the checks binding `xp`, then each traced
    float scalar as a 0-d array of its dtype."""
    pad = " " * indent
    lines = ["xp = " + call_text("_check_inputs", params, indent + 5)]
    lines += [f"{s.name} = xp.asarray({s.name}, dtype=xp.{s.dtype.name})" for s in specs
              if s.traced and s.shape == () and s.dtype.kind == "f"]
    return ("\n" + pad).join(lines)


_SHAPE = re.compile(r"\bnp\.(shape|ndim)\((\w+)\)")


def without_numpy(lines: list[str]) -> list[str]:
    """Check and binding lines reading `X.shape`, `X.ndim` instead of `np.shape(X)`."""
    return [_SHAPE.sub(lambda m: f"{m.group(2)}.{m.group(1)}", line) for line in lines]
