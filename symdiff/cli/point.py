"""`--at NAME=VALUE,...`: the point at which `symdiff graph` draws values and gradients."""

from __future__ import annotations

import ast

import numpy as np

from .args import UsageError, _defaults, _positional_params

__all__ = ["parse_at", "apply_at"]


def parse_at(text: str) -> dict[str, np.ndarray]:
    """`a=5,b=3,w=[1,2]` -> {"a": array(5.), "b": array(3.), "w": array([1., 2.])}."""
    values = {}
    for item in _split_outside_brackets(text):
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise UsageError(f"--at takes NAME=VALUE pairs separated by commas (a=5,b=3 or "
                             f"w=[1,2,3]), got {item.strip()!r}")
        if name in values:
            raise UsageError(f"--at gives {name} twice")
        values[name] = _at_value(name, raw.strip())
    return values


def _split_outside_brackets(text: str) -> list[str]:
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch in "[(") - (ch in "])")
        if ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    return items + [text[start:]]


def _at_value(name: str, raw: str) -> np.ndarray:
    """A number (`0.5`, `1e-3`, `nan`) or a nested list of numbers, as float64."""
    try:
        return np.asarray(float(raw))
    except ValueError:
        pass
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    if isinstance(value, (list, tuple)) and _only_numbers(value):
        try:
            return np.asarray(value, dtype=np.float64)
        except ValueError:  # rows of different lengths
            pass
    raise UsageError(f"--at {name}={raw}: not a number (write {name}=0.5, or {name}=[1,2,3] "
                     "for an array)")


def _only_numbers(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_only_numbers(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def apply_at(fn, params: list[str], args: list, at: dict, from_example: bool) -> list:
    """`args` with the --at values put in, checked against the parameters' shapes."""
    if not at:
        return args
    every = _positional_params(fn)
    for name in at:
        if name not in every:
            raise UsageError(f"--at {name}: {fn.__name__}({', '.join(every)}) has no "
                             f"parameter {name!r}")
    defaults = _defaults(fn)
    missing = [p for p in params if p not in at and p not in defaults]
    if missing and not from_example:
        raise UsageError(f"--at gives no value for {', '.join(missing)}: give NAME=VALUE for "
                         "every parameter, or --example FUNC for the ones not given")
    args = list(args)
    for name, value in at.items():
        i = params.index(name)
        want = np.shape(args[i])
        if value.shape != want:
            where = "from --example" if from_example else "from --shape; a scalar without it"
            raise UsageError(f"--at {name}: a value of shape {value.shape}, but {name} has "
                             f"shape {want} here ({where})")
        args[i] = _like(args[i], value, name)
    return args


def _like(old, value: np.ndarray, name: str):
    """`value` in the type of the argument it replaces (an int stays an int)."""
    if isinstance(old, (int, np.integer)) and not isinstance(old, bool):
        if not float(value).is_integer():
            raise UsageError(f"--at {name}={float(value)!r}: {name} is an integer here")
        return int(value)
    if isinstance(old, np.ndarray):
        return value.astype(old.dtype)
    return float(value)
