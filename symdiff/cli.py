"""The `symdiff` command line: a thin layer over the public API.

    symdiff emit FILE.py:FUNC [--wrt A,B] [--shape NAME=D0,D1 ...] [--dtype NAME=DTYPE ...]
                 [--example FUNC] [--emit KINDS] [-o FILE [--check]]
    symdiff graph FILE.py:FUNC [the same argument options] [--grad] [-o FILE.dot|.svg|.png]

Exit status: 0 on success, 1 on a symdiff error (one line on stderr), 2 on usage
errors. `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib.util
import inspect
import linecache
import os
import re
import sys
import sysconfig
import traceback
from collections.abc import Sequence

import numpy as np

from . import __version__, progress
from .api import KINDS, compile_gradient, write_atomic
from .emit import DEFAULT_KINDS
from .errors import InputError, ShapeError, SymdiffError
from .graphviz import FORMATS, function_picture, render, require_graphviz, to_dot

__all__ = ["main", "build_parser", "load_function", "parse_shape", "UsageError"]

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

#: Lines of unified diff `emit --check` prints for a stale file.
MAX_DIFF_LINES = 40


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
    if any(d < 0 for d in shape):
        raise UsageError(f"--shape {text!r}: dimensions must not be negative")
    return name, shape


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


def _apply_at(fn, params: list[str], args: list, at: dict, from_example: bool) -> list:
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
    params = _passed(fn, {*shapes, *dtypes, *mentioned})
    args = []
    for p in params:
        if p in defaults and p not in shapes and p not in dtypes and p not in mentioned:
            args.append(defaults[p])
            continue
        dtype = np.dtype(dtypes.get(p, "float64"))
        shape = shapes.get(p, ())
        args.append(0.5 if shape == () and dtype == np.float64 else
                    np.full(shape, 0.5, dtype=dtype))
    return params, args


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


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UsageError(f"--emit {text!r}: choose from {', '.join(KINDS)} "
                         "(comma-separated)")
    return kinds


# -- subcommands ----------------------------------------------------------------------------
def _cmd_emit(ns) -> int:
    fn, path = load_function(ns.target)
    params, args, words = _inputs(fn, ns)
    wrt = _wrt(fn, params, ns.wrt)
    kinds = _kinds(ns.emit)
    if ns.check and not ns.output:
        raise UsageError("--check compares with the file named by -o; add -o FILE")
    command = ["symdiff", "emit", ns.target, "--wrt", ",".join(wrt), *words]
    command += ["--emit", ",".join(kinds)] if kinds != DEFAULT_KINDS else []
    command += ["-o", ns.output] if ns.output else []
    argnums = tuple(params.index(w) for w in wrt)
    with progress.task(f"tracing and differentiating {fn.__name__}"):
        compiled = compile_gradient(fn, args, argnums[0] if len(argnums) == 1 else argnums,
                                    source_name=path, kinds=kinds, command=command)
    if ns.check:
        return _check_file(ns.output, compiled.source)
    if not ns.no_verify:
        from .cli_verify import verify_emitted  # cli_verify imports this module

        with progress.task("checking the gradient against central differences"):
            verify_emitted(compiled, fn)
    return _deliver(compiled.source, ns.output)


def _check_file(path: str, text: str) -> int:
    """0 when `path` holds exactly `text`; else 1, with a short diff on stderr."""
    try:
        with open(path, "rb") as fh:
            old = fh.read()
    except FileNotFoundError:
        print(f"symdiff emit: {path} does not exist; run without --check to write it",
              file=sys.stderr)
        return 1
    if old == text.encode("utf-8"):
        print(f"{path} is up to date", file=sys.stderr)
        return 0
    diff = list(difflib.unified_diff(old.decode("utf-8", "replace").splitlines(True),
                                     text.splitlines(True), f"{path} (on disk)",
                                     f"{path} (generated now)", n=1))
    changed = sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))
    print(f"symdiff emit: {path} is stale ({changed} changed lines); run the same command "
          "without --check to regenerate it", file=sys.stderr)
    sys.stderr.writelines(line if line.endswith("\n") else line + "\n"
                          for line in diff[:MAX_DIFF_LINES])
    if len(diff) > MAX_DIFF_LINES:
        print(f"... {len(diff) - MAX_DIFF_LINES} more diff lines", file=sys.stderr)
    return 1


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


def _cmd_graph(ns) -> int:
    fmt = _graph_format(ns.output)
    if fmt is not None:
        require_graphviz(fmt)  # before the work, not after
    fn, path = load_function(ns.target)
    at = parse_at(ns.at) if ns.at else {}
    params, args, _ = _inputs(fn, ns, also=at)
    from_example = _example_name(fn, ns) is not None
    args = _apply_at(fn, params, args, at, from_example)
    wrt = _wrt(fn, params, ns.wrt)
    title = f"{path}:{fn.__name__}" + (f", gradient by {', '.join(wrt)}" if ns.grad else "")
    with progress.task(f"tracing {fn.__name__}"):
        picture = function_picture(fn, args, [params.index(w) for w in wrt], ns.grad,
                                   values=bool(at) or from_example, title=title)
    text = to_dot(picture)
    if fmt is None:
        return _deliver(text, ns.output)
    with progress.task("drawing with Graphviz"):
        drawn = render(text, fmt)
    return _deliver(drawn, ns.output)


def _graph_format(output: str | None) -> str | None:
    if output is None:
        return None
    ext = os.path.splitext(output)[1].lower()
    if ext not in FORMATS:
        raise UsageError(f"-o {output}: write {', '.join(FORMATS)} (the extension picks the "
                         "format)")
    return FORMATS[ext]


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


def _add_emit(sub, common) -> None:
    emit = sub.add_parser("emit", parents=[common], epilog=EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          help="write the derivative module of a function",
                          description="Write a standalone NumPy module with the function "
                          "and its derivatives.")
    _add_inputs(emit)
    emit.add_argument("--emit", default=",".join(DEFAULT_KINDS), metavar="KINDS",
                      help=f"derivatives to emit, comma-separated, from {', '.join(KINDS)} "
                      f"(default: {','.join(DEFAULT_KINDS)})")
    emit.add_argument("-o", "--output", metavar="FILE",
                      help="write here (atomically) instead of to stdout")
    emit.add_argument("--check", action="store_true", help="write nothing; exit 1 if FILE "
                      "differs from what would be generated now (for CI)")
    emit.add_argument("--no-verify", action="store_true", help="write the module even if "
                      "its gradient fails the numerical check (gradcheck at random inputs)")
    emit.set_defaults(run=_cmd_emit)


def _add_graph(sub, common) -> None:
    graph = sub.add_parser("graph", parents=[common], epilog=EXAMPLES,
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           help="draw the computational graph (Graphviz DOT, SVG, PNG)",
                           description="Draw the traced computational graph of a function, "
                           "and with --grad its gradient graph, as Graphviz DOT; SVG, PNG "
                           "and PDF need Graphviz's `dot` program.")
    _add_inputs(graph)
    graph.add_argument("--grad", action="store_true",
                       help="add the backward pass (adjoints d<out>_d<var>, in orange, with "
                       "the local derivatives on the arrows)")
    graph.add_argument("--at", metavar="A=1,B=[1,2]", help="draw the values and gradients at "
                       "this point (with --example or example_inputs_FUNC, they are drawn at "
                       "its arguments; --at overrides some of them)")
    graph.add_argument("-o", "--output", metavar="FILE",
                       help=f"write here; the extension ({', '.join(FORMATS)}) picks the "
                       "format (default: DOT on stdout)")
    graph.set_defaults(run=_cmd_graph)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="symdiff", description="Symbolic differentiation of NumPy functions into "
        "readable NumPy gradient code.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"symdiff {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_emit(sub, common)
    _add_graph(sub, common)
    from .cli_verify import add_commands  # `check` and `gradcheck`; imports this module

    add_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:  # --help and --version (0), usage errors (2)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    if not getattr(ns, "command", None):
        parser.print_help(sys.stderr)
        return 2
    if not ns.quiet and _is_terminal(sys.stderr):
        progress.enable()
    try:
        return ns.run(ns)
    except UsageError as e:
        print(f"symdiff {ns.command}: error: {e}", file=sys.stderr)
        return 2
    except SymdiffError as e:
        return _fail(ns, str(e) + _shape_hint(ns, e))
    except KeyboardInterrupt:
        print("symdiff: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `symdiff emit ... | head`
        sys.stderr.close()
        return 0
    except Exception as e:  # noqa: BLE001 - the user's code, or a bug: one line either way
        return _fail(ns, _describe(e) + _shape_hint(ns, e))
    finally:
        progress.disable()


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


#: Errors a parameter traced as a scalar for lack of a shape causes: these types, or
#: messages about 0-d values (`len() of a 0-d traced array`, `shape ()`).
_SHAPE_TROUBLE = (ShapeError, IndexError)
_ZERO_D = re.compile(r"0-d\b|zero-dimensional|0-dimensional|dimension 0|of 0 dimensions|"
                     r"shape \(\)|reshape \(\)")


def _shape_hint(ns, exc: BaseException) -> str:
    """For an error while tracing with parameters that got no shape: which ones, and
    how to give them one (the rest of the same line)."""
    unshaped = getattr(ns, "unshaped", None)
    trouble = isinstance(exc, _SHAPE_TROUBLE) or _ZERO_D.search(str(exc))
    if not unshaped or not trouble:
        return ""
    line = _error_line(exc)
    on_line = [p for p in unshaped if line and re.search(rf"\b{p}\b", line)]
    names = on_line or unshaped
    one = len(names) == 1
    listed = names[0] if one else ", ".join(names[:-1]) + " and " + names[-1]
    return (f". {listed} {'has' if one else 'have'} no shape, so {'it was' if one else 'they were'} "
            f"traced as {'a float64 scalar' if one else 'float64 scalars'}: give "
            f"{'its' if one else 'their'} shape with --shape NAME=D0,D1 (e.g. --shape "
            f"{names[0]}=3), or --example FUNC naming a function in the same file that "
            "returns example arguments")


def _error_line(exc: BaseException) -> str | None:
    """The source line an error points at: its `where`, else the user's innermost frame."""
    where = getattr(exc, "where", None)
    if where and ":" in where:
        path, _, number = where.rpartition(":")
        return linecache.getline(path, int(number)) if number.isdigit() else None
    user = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library(f.filename)]
    return user[-1].line if user else None


def _fail(ns, message: str) -> int:
    if ns.debug:
        traceback.print_exc()
    print(f"symdiff: error: {message}", file=sys.stderr)
    return 1


def _describe(exc: BaseException) -> str:
    """`file:line: Type: message` at the innermost frame of the user's code; an error
    inside symdiff itself is reported as internal."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}: {text}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    user = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library(f.filename)]
    if user:
        return f"{user[-1].filename}:{user[-1].lineno}: {text}"
    return f"internal error: {text} (run with --debug for the traceback, and report it)"


_LIBRARY_DIRS = tuple({os.path.dirname(os.path.abspath(__file__)) + os.sep,
                       *(sysconfig.get_paths()[k] + os.sep for k in ("stdlib", "purelib",
                                                                      "platlib"))})


def _is_library(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_LIBRARY_DIRS) or filename.startswith("<")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
