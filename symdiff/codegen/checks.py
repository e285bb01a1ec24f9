"""The input checks that open every generated module: shapes, dtypes and static
values, raising a `ValueError` that says what was expected."""

from __future__ import annotations

import numpy as np

from ..ir import dims
from .header import static_name
from .layout import LINE_LENGTH
from .literals import dtype_name
from .shape_checks import symbolic_checks


def shape_check(name: str, shape: tuple[int, ...], guard: bool = True) -> list[str]:
    """`if` + `raise ValueError` lines checking one argument's shape. A float (Python's
    or np.float64) passes a scalar check by its type alone, which keeps scalar code
    fast (`np.shape` of a float costs about a microsecond); `guard=False` leaves that
    test to the caller."""
    test = f"np.shape({name}) != {shape!r}"
    if shape == () and guard:
        test = f"not isinstance({name}, float) and {test}"
    message = f'f"{name} must have shape {shape}, got {{np.shape({name})}}"'
    return [_if(test), *_raise(message)]



def _if(test: str, indent: int = 4) -> str:
    """`if test:` at column `indent`; a long test goes one `and` clause per line (the
    lines after the first carry their own indentation)."""
    if indent + len(f"if {test}:") <= LINE_LENGTH:
        return f"if {test}:"
    pad = " " * indent
    clauses = test.split(" and ")
    return "if (\n" + "\n".join(pad + ("    and " if i else "    ") + c
                                 for i, c in enumerate(clauses)) + f"\n{pad}):"



def static_check(name: str) -> list[str]:
    """Lines checking that a static (untraced) argument has its generation-time value,
    the module constant `static_name(name)`: the value is never pasted into code."""
    constant = static_name(name)
    message = (f'f"{name} was {{{constant}!r}} when this code was generated, '
               f'got {{{name}!r}}"')
    return [f"if {name} != {constant}:", *_raise(message)]



def _raise(message: str, error: str = "ValueError") -> list[str]:
    """`raise error(message)` in the body of an `if`, where `message` is an f-string
    literal (`f"..."`); a long one is split into adjacent literals between words."""
    line = f"    raise {error}({message})"
    if 4 + len(line) <= LINE_LENGTH:
        return [line]
    parts = _split_fstring(message[2:-1], LINE_LENGTH - 19)  # room for a nested `if`
    literals = [("f" if "{" in part else "") + f'"{part}"' for part in parts]
    return [f"    raise {error}(", *(f"        {lit}" for lit in literals), "    )"]



def _split_fstring(body: str, width: int) -> list[str]:
    """Split the inside of an f-string after spaces outside `{...}` into pieces of at
    most `width` characters where possible."""
    words, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        depth += (ch == "{") - (ch == "}")
        if ch == " " and depth == 0:
            words.append(body[start:i + 1])
            start = i + 1
    words.append(body[start:])
    parts = [""]
    for word in words:
        if parts[-1] and len(parts[-1]) + len(word) > width:
            parts.append("")
        parts[-1] += word
    return parts



def dtype_check(name: str, dtype, guard: bool = True, indent: int = 4,
                scalar: bool | None = None) -> list[str]:
    """Lines raising TypeError for an argument of a dtype the code was not generated
    for: bool, complex, object or strings where real numbers were traced, and a float of
    another width (float32 code would silently compute in float64, and float64 code in
    float32). Integers pass where floats were traced: NumPy promotes them. An array
    argument's dtype is read from the array itself (`X.dtype`): `np.asarray(X)` would
    pull a Dask array to the client; a list is converted first, as NumPy would."""
    dtype = np.dtype(dtype)
    scalar = guard if scalar is None else scalar
    got = f"np.asarray({name}).dtype" if scalar else f"{name}.dtype"
    lines = [] if scalar else [f'if not hasattr({name}, "dtype"):  # a list',
                               f"    {name} = np.asarray({name})"]
    if dtype.kind == "f":
        test = f"{got} != {dtype_name(dtype)} and {got}.kind not in 'iu'"
        if guard:
            test = f"not isinstance({name}, float) and {test}"
        message = (f'f"{name} must be {dtype.name} as traced (or integers), got dtype '
                   f'{{{got}}}; convert it with .astype({dtype_name(dtype)})"')
        return lines + [_if(test, indent), *_raise(message, "TypeError")]
    kinds, what = {"i": ("iu", "integers"), "u": ("iu", "integers"),
                   "b": ("b", "booleans")}[dtype.kind]
    test = f"{got}.kind not in {kinds!r}"
    message = (f'f"{name} must be {what} ({dtype.name} when traced), '
               f'got dtype {{{got}}}"')
    return lines + [_if(test, indent), *_raise(message, "TypeError")]



def input_checks(specs, requirements=()) -> list[str]:
    """Body of `_check_inputs`: one shape and dtype (or static value) check per argument
    (and, for symbolic shapes, the sizes the program requires)."""
    if any(s.traced and dims.is_symbolic(s.shape) for s in specs):
        return [line for s in specs if not s.traced for line in static_check(s.name)] \
            + symbolic_checks(specs, requirements, shape_check, dtype_check, _if, _raise)
    lines = []
    for s in specs:
        if not s.traced:
            lines += static_check(s.name)
        elif s.shape == () and s.dtype.kind == "f":  # one type test on the hot path
            nested = shape_check(s.name, (), guard=False) \
                + dtype_check(s.name, s.dtype, False, indent=8, scalar=True)
            lines += [f"if not isinstance({s.name}, float):", *("    " + x for x in nested)]
        else:
            lines += shape_check(s.name, s.shape) + dtype_check(s.name, s.dtype, s.shape == ())
    return lines or ["pass"]

