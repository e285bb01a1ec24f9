"""Keyword arguments at the call of a transformed function: those naming one of the
function's positional parameters are bound to its place, as Python binds them
(`grad(loss)(w=w, b=b, X=X, y=y)`); any other is an InputError."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from ..errors import InputError, user_location

__all__ = ["bind_keywords", "keyword_parameters"]

_UNSET = object()


def keyword_parameters(fn: Callable) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(the names of `fn`'s positional parameters, of its keyword-only ones), or None
    where a call cannot name its positional parameters (a positional-only parameter,
    *args, or no signature to read)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL) for p in params):
        return None
    return (tuple(p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD),
            tuple(p.name for p in params if p.kind == p.KEYWORD_ONLY))


def bind_keywords(parameters: tuple | None, args: tuple, kwargs: dict, who: str) -> tuple:
    """`args` with each keyword argument that names a positional parameter (of
    `parameters`, what `keyword_parameters` says of the function) in its place."""
    positional = parameters[0] if parameters is not None else ()
    other = [k for k in kwargs if k not in positional]
    if other:
        raise InputError(
            f"{who} called with keyword arguments ({', '.join(other)}) that name no "
            "positional parameter: the generated code takes one argument per positional "
            "parameter; fix the others first with functools.partial(f, name=value)",
            user_location())
    slots = [*args, *[_UNSET] * (max(map(positional.index, kwargs)) + 1 - len(args))]
    for name, value in kwargs.items():
        i = positional.index(name)
        if i < len(args):
            raise InputError(f"{who} got two values for the argument {name!r}: by position "
                             "and by name; pass it once", user_location())
        slots[i] = value
    missing = [positional[i] for i, v in enumerate(slots) if v is _UNSET]
    if missing:
        raise InputError(f"{who} called without the argument {missing[0]!r}, which comes "
                         "before one given by name; pass it too", user_location())
    return tuple(slots)
