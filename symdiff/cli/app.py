"""The `symdiff` command line: a thin layer over the public API.

    symdiff emit FILE.py:FUNC [--wrt A,B] [--shape NAME=D0,D1 ...] [--dtype NAME=DTYPE ...]
                 [--example FUNC] [--emit KINDS] [-o FILE [--check]]
    symdiff graph FILE.py:FUNC [the same argument options] [--grad] [-o FILE.dot|.svg|.png]

Exit status: 0 on success, 1 on a symdiff error (one line on stderr), 2 on usage
errors. `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import linecache
import os
import re
import sys
import sysconfig
import traceback
from collections.abc import Sequence

from .. import progress
from ..errors import ShapeError, SymdiffError, traceback_location
from ..version import __version__
from .args import EXAMPLES, UsageError, _common
from .check import add_commands
from .emit import _add_emit
from .graph import _add_graph

__all__ = ["main", "build_parser"]


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
    where = traceback_location(exc.__traceback__, _is_library)
    if where:
        return f"{where}: {text}"
    return f"internal error: {text} (run with --debug for the traceback, and report it)"


#: Errors are reported at the innermost frame outside these: symdiff, the standard
#: library, installed packages.
_LIBRARY_DIRS = tuple({os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
                       *(sysconfig.get_paths()[k] + os.sep for k in ("stdlib", "purelib",
                                                                      "platlib"))})


def _is_library(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_LIBRARY_DIRS) or filename.startswith("<")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
