"""Argument parsing shared by the commands: loading `FILE.py:function`, shapes,
dtypes, the differentiated arguments, and writing the result."""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import math
import os
import sys
import traceback

import numpy as np

from ..autodiff.transforms import KINDS
from ..compile import write_atomic
from ..errors import InputError, SymdiffError
from ..ir import dims
from ..trace.args import ShapeDtype
from ..trace.control import StandInArguments

#: Elements of one example argument made from --shape (8 GB in float64): beyond it the
#: allocation would fail or swap.
MAX_EXAMPLE_ELEMENTS = 10**9


class UsageError(Exception):
    """Bad command-line arguments (exit status 2)."""



# -- the user's function and its arguments ---------------------------------------------------
def load_function(target: str):
    """`path/to/file.py:func` -> (function, path as given)."""
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise UsageError(f"expected FILE.py:FUNCTION, got {target!r}")
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")
    module_name = "_symdiff_user_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        spec.loader.exec_module(module)
    except SystemExit as e:  # else `emit --check` would exit 0 on a stale file
        where = _exit_location(e, path)
        raise InputError(f"importing {path} called sys.exit({e.code!r}); symdiff imports the "
                         f"file to find {name}: put the script part under "
                         "`if __name__ == \"__main__\":`", where) from None
    finally:
        sys.path.pop(0)
    fn = getattr(module, name, None)
    if fn is None or not callable(fn):
        raise UsageError(f"{path} defines no function {name!r}")
    if not inspect.isfunction(inspect.unwrap(fn)):
        kind = "a class" if isinstance(fn, type) else f"a {type(fn).__name__}"
        raise UsageError(f"{path}:{name} is {kind}, not a Python function (def or lambda); "
                         f"wrap it, e.g. def f(x): return {name}(x)")
    return fn, path


def _exit_location(exc: BaseException, path: str) -> str:
    """`file:line` in the user's file where `exc` was raised (else the file itself)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.abspath(f.filename) == os.path.abspath(path)]
    return f"{path}:{frames[-1].lineno}" if frames else path



def parse_shape(text: str) -> tuple[str, tuple]:
    """`x=3,4` -> ("x", (3, 4)); `X=n,d` -> ("X", ("n", "d")), names of symbolic
    dimensions (validated against the parameters later); `x=` or `x=()` is a scalar."""
    name, sep, entries = text.partition("=")
    if not sep or not name.isidentifier():
        raise UsageError(f"--shape takes NAME=D0,D1,..., got {text!r}")
    entries = entries.strip().strip("()[]")
    shape = []
    for d in (d.strip() for d in entries.split(",") if d.strip()):
        if d.lstrip("-").isdigit():
            if int(d) < 0:
                raise UsageError(f"--shape {text!r}: dimensions must not be negative")
            shape.append(int(d))
        elif d.isidentifier():
            shape.append(d)
        else:
            raise UsageError(f"--shape {text!r}: a dimension is a size (10) or the name of "
                             f"a symbolic size (n), got {d!r}")
    return name, tuple(shape)



def parse_dtype(text: str) -> tuple[str, str]:
    """`W=float32` -> ("W", "float32"), for a dtype NumPy knows."""
    name, sep, dtype = text.partition("=")
    if not sep or not name.isidentifier():
        raise UsageError(f"--dtype takes NAME=DTYPE, got {text!r}")
    try:
        return name, np.dtype(dtype.strip()).name
    except TypeError:
        raise UsageError(f"--dtype {text!r}: NumPy knows no dtype {dtype!r} (try float32 "
                         "or float64)") from None



def _positional_params(fn) -> list[str]:
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _defaults(fn) -> dict:
    """Default values of the positional parameters that have one."""
    return {p.name: p.default for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty}


def _passed(fn, mentioned) -> list[str]:
    """The parameters the command passes, in order: as in a Python call, trailing ones
    with a default are left out (the function uses its default) unless mentioned."""
    params, defaults = _positional_params(fn), _defaults(fn)
    last = max((i for i, p in enumerate(params) if p not in defaults or p in mentioned),
               default=-1)
    return params[:last + 1]


def _example_args(fn, shapes: dict, dtypes: dict, mentioned=()):
    """Parameter names and stand-in arguments (0.5 everywhere) of the given shapes
    and dtypes; parameters not mentioned are float64 scalars, or take their default."""
    all_params, defaults = _positional_params(fn), _defaults(fn)
    unknown = (set(shapes) | set(dtypes)) - set(all_params)
    if unknown:
        raise UsageError(f"--shape/--dtype name(s) {', '.join(sorted(unknown))} are not "
                         f"parameters of {fn.__name__}({', '.join(all_params)})")
    names = {d for shape in shapes.values() for d in shape if isinstance(d, str)}
    for d in sorted(names):
        try:
            dims.check_name(d, all_params)
        except ValueError as e:
            raise UsageError(f"--shape: {e}") from None
    params = _passed(fn, {*shapes, *dtypes, *mentioned})
    args = []
    for p in params:  # shapes and dtypes only: tracing never needs the data
        if p in defaults and p not in shapes and p not in dtypes and p not in mentioned:
            args.append(defaults[p])
            continue
        dtype = np.dtype(dtypes.get(p, "float64"))
        shape = tuple(dims.dim(d) if isinstance(d, str) else d for d in shapes.get(p, ()))
        size = math.prod(shape)
        if all(isinstance(d, int) for d in shape) and size > MAX_EXAMPLE_ELEMENTS:
            raise UsageError(f"--shape {p}={','.join(map(str, shape))}: {size:,} elements, more "
                             f"than {MAX_EXAMPLE_ELEMENTS:,} (symdiff makes example "
                             "arguments of that shape to check the code); trace at a "
                             "smaller shape, or give the axis a name (--shape x=n)")
        args.append(0.5 if shape == () and dtype == np.float64 else ShapeDtype(shape, dtype))
    return params, StandInArguments(args)


def _conventional_example(fn) -> str | None:
    name = f"example_inputs_{fn.__name__}"
    return name if callable(fn.__globals__.get(name)) else None


def _call_example(fn, name: str) -> tuple[list[str], list]:
    """Parameter names and the arguments `name()` (defined beside `fn`) returns;
    parameters it leaves out take their default values, as in a Python call."""
    maker = fn.__globals__.get(name)
    if not callable(maker):
        raise UsageError(f"--example {name}: the file of {fn.__name__} defines no "
                         f"function {name!r}")
    params, defaults = _positional_params(fn), _defaults(fn)
    value = maker()
    if isinstance(value, dict):
        missing = [p for p in params if p not in value and p not in defaults]
        if missing:
            raise InputError(f"{name}() returned a dict without {', '.join(missing)}; give "
                             f"every parameter of {fn.__name__}({', '.join(params)}) that "
                             "has no default")
        passed = _passed(fn, value)
        return passed, [value[p] if p in value else defaults[p] for p in passed]
    args = list(value) if isinstance(value, tuple) else [value]
    required = sum(p not in defaults for p in params)
    if not required <= len(args) <= len(params):
        takes = f"{required} to {len(params)}" if required != len(params) else str(required)
        raise InputError(f"{name}() returned {len(args)} argument(s) but "
                         f"{fn.__name__}({', '.join(params)}) takes {takes}; return a "
                         "tuple in parameter order or a dict by name")
    return params[:len(args)], args


def _example_name(fn, ns) -> str | None:
    """The example function giving the arguments: --example, else example_inputs_FUNC
    when no --shape/--dtype is given."""
    if ns.example and (ns.shape or ns.dtype):
        raise UsageError("--example gives the arguments; drop --shape/--dtype, or drop "
                         "--example")
    return ns.example or (None if ns.shape or ns.dtype else _conventional_example(fn))


def _inputs(fn, ns, also=()) -> tuple[list[str], list, list[str]]:
    """Parameter names, example arguments, and the options that reproduce them;
    parameters named in --wrt or `also` are passed even when they have a default."""
    shapes = dict(parse_shape(s) for s in ns.shape)
    dtypes = dict(parse_dtype(d) for d in ns.dtype)
    example = _example_name(fn, ns)
    mentioned = {*_wrt_names(ns), *also}
    if example:
        params, args = _call_example(fn, example)
        defaults = _defaults(fn)
        for p in _passed(fn, {*params, *mentioned})[len(params):]:  # defaults, as in a call
            params, args = params + [p], args + [defaults[p]]
        return params, args, ["--example", ns.example] if ns.example else []
    params, args = _example_args(fn, shapes, dtypes, mentioned)
    # stand-ins traced as float64 scalars for lack of a shape: named if tracing fails
    ns.unshaped = [p for p, a in zip(params, args) if p not in shapes and isinstance(a, float)
                   and not (p in _defaults(fn) and p not in mentioned)]
    words = [w for p in params if shapes.get(p)
             for w in ("--shape", f"{p}={','.join(map(str, shapes[p]))}")]
    words += [w for p in params if p in dtypes for w in ("--dtype", f"{p}={dtypes[p]}")]
    return params, args, words


def _wrt_names(ns) -> list[str]:
    text = getattr(ns, "wrt", None)
    return [w.strip() for w in text.split(",") if w.strip()] if text else []


def _wrt(fn, params: list[str], text: str | None) -> list[str]:
    wrt = list(dict.fromkeys(w.strip() for w in text.split(",") if w.strip())) if text \
        else params[:1]
    missing = [w for w in wrt if w not in params]
    if missing or not wrt:
        raise UsageError(f"--wrt {','.join(missing)}: not parameters of {fn.__name__}"
                         f"({', '.join(params)})")
    return wrt



def argnums_of(params: list[str], wrt: list[str]) -> int | tuple[int, ...]:
    """The `argnums` of the parameters named `wrt`: an int for one, a tuple for several."""
    nums = tuple(params.index(w) for w in wrt)
    return nums[0] if len(nums) == 1 else nums


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UsageError(f"--emit {text!r}: choose from {', '.join(KINDS)} "
                         "(comma-separated)")
    return kinds



# -- parser and main ------------------------------------------------------------------------
def _common() -> argparse.ArgumentParser:
    """Options every subcommand takes (as the top-level `--debug`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress line on stderr (drawn only on a terminal, for work "
                        "taking more than a second)")
    return common



def _add_inputs(parser: argparse.ArgumentParser) -> None:
    """FILE.py:FUNC and the options giving its arguments' shapes and dtypes."""
    parser.add_argument("target", metavar="FILE.py:FUNC")
    parser.add_argument("--wrt", metavar="A,B", help="comma-separated parameters to "
                        "differentiate with respect to (default: the first)")
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=D0,D1",
                        help="shape of a parameter (default: a scalar); repeatable")
    parser.add_argument("--dtype", action="append", default=[], metavar="NAME=DTYPE",
                        help="dtype of a parameter (default float64); repeatable")
    parser.add_argument("--example", metavar="FUNC", help="a function in the same file "
                        "returning example arguments (instead of --shape/--dtype)")


def _deliver(data: str | bytes, output: str | None) -> int:
    if output:
        try:
            write_atomic(output, data)
        except OSError as e:
            raise SymdiffError(f"cannot write {output}: {e.strerror or e}") from e
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(data)
        sys.stdout.flush()
    return 0


EXAMPLES = """\
examples:
  symdiff emit examples/polynomial.py:f
  symdiff emit examples/logistic_regression.py:loss --wrt w,b -o grad_logreg.py
  symdiff emit examples/linear_regression.py:mse --wrt w --shape w=3 --shape X=10,3 \\
      --shape y=10 --dtype w=float32
  symdiff emit examples/mlp.py:loss --wrt W1,b1 --example make_inputs \\
      --emit grad,hessian -o grad_mlp.py
  symdiff emit examples/logistic_regression.py:loss --wrt w,b -o grad_logreg.py --check
  symdiff graph examples/computational_graph.py:J --wrt a,b,c --grad -o J.svg

argument shapes and dtypes:
  --shape NAME=D0,D1 and --dtype NAME=DTYPE per parameter (the others are float64
  scalars), or --example FUNC naming a function in the same file that returns
  example arguments: a tuple in parameter order or a dict by name (integers among
  them stay fixed values). With neither, a function example_inputs_FUNC in the file
  is used when there is one.

exit status: 0 success, 1 symdiff error (one line; --debug for the traceback),
2 usage error. With --check, 1 also means the file on disk is stale.
"""

