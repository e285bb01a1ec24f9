"""The `symdiff` command line: a thin layer over the public API.

Exit status: 0 on success, 1 on a symdiff error (one line on stderr), 2 on usage
errors. `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import traceback
from collections.abc import Sequence

import numpy as np

from . import __version__
from .api import compile_gradient, write_atomic
from .errors import SymdiffError

__all__ = ["main", "load_function", "parse_shape"]

EXAMPLES = """\
examples:
  symdiff emit examples/polynomial.py:f
  symdiff emit examples/linear_regression.py:loss --wrt w,b --shape x=5 --shape y=5
  symdiff emit model.py:loss --wrt W --shape W=3,4 --shape X=10,3 --dtype W=float32 -o grad_model.py
"""


class UsageError(Exception):
    """Bad command-line arguments (exit status 2)."""


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
    finally:
        sys.path.pop(0)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise UsageError(f"{path} defines no function {name!r}")
    return fn, path


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """`x=3,4` -> ("x", (3, 4)); `x=` or `x=()` is a scalar."""
    name, sep, dims = text.partition("=")
    if not sep or not name.isidentifier():
        raise UsageError(f"--shape takes NAME=D0,D1,..., got {text!r}")
    dims = dims.strip().strip("()[]")
    try:
        shape = tuple(int(d) for d in dims.split(",") if d.strip())
    except ValueError:
        raise UsageError(f"--shape {text!r}: dimensions must be integers") from None
    return name, shape


def _example_args(fn, shapes: dict, dtypes: dict):
    import inspect

    params = [p.name for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    unknown = (set(shapes) | set(dtypes)) - set(params)
    if unknown:
        raise UsageError(f"--shape/--dtype name(s) {', '.join(sorted(unknown))} are not "
                         f"parameters of {fn.__name__}({', '.join(params)})")
    args = []
    for p in params:
        dtype = np.dtype(dtypes.get(p, "float64"))
        shape = shapes.get(p, ())
        args.append(0.5 if shape == () and dtype == np.float64 else
                    np.full(shape, 0.5, dtype=dtype))
    return params, args


def _cmd_emit(ns) -> int:
    fn, path = load_function(ns.target)
    shapes = dict(parse_shape(s) for s in ns.shape)
    dtypes = {}
    for item in ns.dtype:
        name, sep, dt = item.partition("=")
        if not sep:
            raise UsageError(f"--dtype takes NAME=DTYPE, got {item!r}")
        dtypes[name] = dt
    params, args = _example_args(fn, shapes, dtypes)
    wrt = [w for w in (ns.wrt.split(",") if ns.wrt else params[:1]) if w]
    missing = [w for w in wrt if w not in params]
    if missing:
        raise UsageError(f"--wrt {','.join(missing)}: not parameters of {fn.__name__}"
                         f"({', '.join(params)})")
    argnums = tuple(params.index(w) for w in wrt)
    compiled = compile_gradient(fn, args, argnums[0] if len(argnums) == 1 else argnums,
                                source_name=path)
    if ns.output:
        write_atomic(ns.output, compiled.source)
        print(f"wrote {ns.output}", file=sys.stderr)
    else:
        sys.stdout.write(compiled.source)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symdiff", description="Symbolic differentiation of NumPy functions into "
        "readable NumPy gradient code.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"symdiff {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    emit = sub.add_parser("emit", help="write the gradient module of a function",
                          epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    emit.add_argument("target", metavar="FILE.py:FUNC")
    emit.add_argument("--wrt", help="comma-separated parameters to differentiate with "
                      "respect to (default: the first)")
    emit.add_argument("--shape", action="append", default=[], metavar="NAME=D0,D1",
                      help="shape of a parameter (default: a scalar); repeatable")
    emit.add_argument("--dtype", action="append", default=[], metavar="NAME=DTYPE",
                      help="dtype of a parameter (default float64); repeatable")
    emit.add_argument("-o", "--output", help="write here (atomically) instead of stdout")
    emit.set_defaults(run=_cmd_emit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    if not getattr(ns, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return ns.run(ns)
    except UsageError as e:
        print(f"symdiff {ns.command}: {e}", file=sys.stderr)
        return 2
    except SymdiffError as e:
        if ns.debug:
            traceback.print_exc()
        print(f"symdiff: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
