"""The pipeline, top to bottom:

    trace -> optimize (fuse) -> differentiate -> optimize (simplify, CSE) -> emit -> load
"""

from __future__ import annotations

import os
import signal
import stat
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import progress
from .autodiff.transforms import _Context, derivations
from .codegen.function import ConstantPool, print_function
from .codegen.header import kink_conventions
from .codegen.load import load_from_file, load_module
from .codegen.module import module_code, render_module
from .codegen.numba_backend import NumbaLayout, require_numba
from .codegen.safe_text import identifier
from .errors import InputError, SymbolicDimError, SymdiffError
from .ir.graph import Graph
from .passes.simplify import optimize
from .passes.whole_module import module_programs
from .trace.function import ArgSpec, describe_args, function_location, normalize_argnums, trace
from .trace.symbolic import auto_specs, declared_specs, fix_dims


@dataclass
class Compiled:
    """A generated module and its functions, for one set of argument shapes."""

    name: str
    source: str
    module: Any
    argnums: int | tuple[int, ...]
    specs: list[ArgSpec]
    graph: Graph = field(repr=False)
    fn: Any = field(default=None, repr=False)  # a weak reference to the function, traced
    # again for pictures of loops (a strong one would keep it alive through the caches)

    @property
    def forward(self) -> Callable:
        return getattr(self.module, self.name)

    @property
    def grad(self) -> Callable:
        return getattr(self.module, f"grad_{self.name}")

    @property
    def value_and_grad(self) -> Callable:
        return getattr(self.module, f"value_and_grad_{self.name}")

    def function(self, kind: str) -> Callable:
        """The generated function of a derivative kind ("grad", "hessian", ...)."""
        return getattr(self.module, f"{kind}_{self.name}")

    def save(self, path: str) -> None:
        """Write the module atomically (a temporary file, then a rename)."""
        write_atomic(path, self.source)

    def picture(self, *args):
        """The computational graph and its backward pass, drawn as the autograd
        tutorials draw them (`symdiff graph --grad`); given the arguments, with every
        value and gradient at that point. In a notebook it shows itself as SVG when
        Graphviz is installed; `.dot` is the DOT text, `.save(path)` writes a file."""
        from .display.graphviz import GraphPicture, traced_picture

        if args and len(args) != len(self.specs):
            raise InputError(f"picture() takes no arguments or all {len(self.specs)} of "
                             f"{self.name}, got {len(args)}")
        for spec, a in zip(self.specs, args):
            if spec.traced and np.shape(a) != spec.shape:
                raise InputError(f"picture(): {spec.name} has shape {np.shape(a)}, but "
                                 f"{self.name} was compiled for {spec.shape}")
        out = self.graph.outputs[0]
        scalar = out.shape == () and out.dtype.kind == "f"
        nums = normalize_argnums(self.argnums, len(self.specs)) if scalar else ()
        graph = self.graph
        fn = self.fn() if self.fn is not None else None
        if fn is not None and any(n.op == "loop" for n in graph.nodes):
            graph = trace(fn, self.specs, fold=False)  # a box per step taken
        return GraphPicture(traced_picture(graph, self.specs, nums, args or None,
                                           self.name, self.name))

    # Rich display in notebooks: the derivative as LaTeX, the module highlighted.
    def _repr_latex_(self) -> str:
        from .display.latex import to_latex

        return to_latex(self)

    def _repr_html_(self) -> str:
        from .display.latex import to_html

        return to_html(self)

    def _repr_markdown_(self) -> str:
        from .display.latex import to_markdown

        return to_markdown(self)


def write_atomic(path: str, text: str | bytes) -> None:
    """Write `text` to `path` all at once (a reader sees the old file or the new one).

    A symlink is written through: its target gets the text and the link stays. An
    existing file keeps its permission bits (a new one gets 0666 less the umask, as
    `open` would give). The temporary file beside the target is removed on every exit,
    including SIGTERM (which raises SystemExit while writing) and Ctrl-C; only SIGKILL
    can leave it behind."""
    path = os.path.realpath(path)
    directory, base = os.path.split(path)
    tmp = os.path.join(directory, f".{base}.{os.getpid()}.tmp")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    with _terminate_as_exit():
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            with open(fd, "wb") as fh:  # bytes: the same file on every platform
                fh.write(text.encode("utf-8") if isinstance(text, str) else text)
                fh.flush()
                if mode is not None:
                    os.fchmod(fh.fileno(), mode)
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)


class _terminate_as_exit:
    """SIGTERM raises SystemExit(143) while this context is active (main thread only),
    so that `finally` blocks run; the previous handler is restored afterwards."""

    def __enter__(self):
        self.active = threading.current_thread() is threading.main_thread()
        if self.active:
            self.previous = signal.signal(signal.SIGTERM, _exit_on_term)
        return self

    def __exit__(self, *exc):
        if self.active:  # a handler installed outside Python reads back as None
            signal.signal(signal.SIGTERM, self.previous if self.previous is not None
                          else signal.SIG_DFL)
        return False


def _exit_on_term(signum, frame):
    raise SystemExit(128 + signum)


def _keep_user_locations(programs, traced: Graph) -> None:
    """Forget a statement's source line unless it is in a file the traced function's
    own lines are in: a node built while differentiating, outside any `located`
    block, would otherwise quote whatever frame called symdiff (the installed
    `symdiff` launcher's `sys.exit(main())`) in a "# gradient of line" comment."""
    files = {node.loc.rpartition(":")[0] for node in traced.nodes if node.loc}
    for program in programs:
        for stmt in program.statements:
            if stmt.loc and stmt.loc.rpartition(":")[0] not in files:
                stmt.loc = None


def compile_gradient(
    fn: Callable,
    args: Sequence[Any],
    argnums: int | tuple[int, ...] = 0,
    source_name: str | None = None,
    kinds: Sequence[str] = ("grad", "value_and_grad"),
    command: Sequence[str] | None = None,
    dims: str | Mapping | None = None,
    backend: str = "numpy",
) -> Compiled:
    """Trace `fn` at `args`, build the derivatives named by `kinds` (see `KINDS`) with
    respect to `argnums`, emit one module holding them all, and load it. `command`
    (the words of a `symdiff emit` command line) is recorded in the header.

    `dims` picks symbolic dimensions: None keeps the sizes of `args` (which may be
    `ShapeDtype` stand-ins with symbolic shapes), a mapping declares shapes by
    argument name (``{"X": ("n", "d"), "w": ("d",)}``: names are symbols, ints fixed
    sizes), and "auto" makes every size but 1 symbolic, merging those the program
    requires equal (see `symbolic`); where the program needs a number, that dimension
    keeps its size, and where symbolic shapes fail, all do. `backend` is "numpy" or
    "numba" (runs of elementwise statements fused into compiled loops)."""
    nums = normalize_argnums(argnums, len(args), where=function_location(fn))
    concrete = describe_args(fn, args, nums)
    specs = _symbolic_specs(fn, concrete, dims)
    for _ in range(len(specs) * 8 + 1):
        try:
            return _compile(fn, specs, argnums, source_name, kinds, command, backend)
        except SymbolicDimError as e:
            if dims != "auto":
                raise
            specs = fix_dims(specs, concrete, e.dims)
        except Exception:
            if dims != "auto" or specs == concrete:
                raise
            specs = concrete  # a limit of symbolic shapes: compile for these sizes
    return _compile(fn, concrete, argnums, source_name, kinds, command, backend)


def _symbolic_specs(fn, specs: list[ArgSpec], dims) -> list[ArgSpec]:
    if dims is None or dims == "fixed":
        return specs
    if dims == "auto":
        try:
            return auto_specs(fn, specs)
        except SymdiffError:
            return specs  # tracing fails at these sizes too: _compile reports it
    if isinstance(dims, Mapping):
        return declared_specs(fn, specs, dims)
    raise InputError(f"dims must be None, 'auto', 'fixed' or a mapping from argument "
                     f"names to shapes, got {dims!r}", function_location(fn))


def _compile(fn, specs, argnums, source_name, kinds, command, backend) -> Compiled:
    kernel_layout = backend_layout(backend)
    with progress.task("tracing"):
        ctx = _prepare(fn, specs, argnums)
    constants = ConstantPool()
    with progress.task("differentiating, simplifying, printing"):
        ds = derivations(ctx, kinds)
        programs = module_programs([d.graph for d in ds])  # the module is optimised as one
        _keep_user_locations(programs, ctx.graph)
        functions = [print_function(program, d.fname, d.doc, d.returns, ctx.out_name,
                                    d.backward_from, extra_params=d.extra_params,
                                    constants=constants, kernel_layout=kernel_layout)
                     for d, program in zip(ds, programs)]
    source = render_module(module_code(fn, ctx.name, ctx.specs, ctx.nums, functions,
                                       source_name, command, backend,
                                       ctx.graph.requirements, kink_conventions(ctx.graph)))
    name = f"symdiff_generated_{ctx.name}"
    if kernel_layout is None:
        module = load_module(source, name)
    else:  # from a file, where numba caches the compiled kernels
        module = load_from_file(source, name, write_atomic)
    return Compiled(ctx.name, source, module, argnums, ctx.specs, ctx.graph, _weak(fn))


def _weak(fn):
    try:
        return weakref.ref(fn)
    except TypeError:  # (not weakly referenceable: no picture of its loops)
        return None


#: The code generators: plain NumPy (the default), NumPy calling numba loops, and the
#: same with the outer loop of kernels without offset writes spread over the cores.
BACKENDS = ("numpy", "numba", "numba-parallel")


def backend_layout(backend: str):
    """The kernel layout of a backend (None for plain NumPy). A usage error for an
    unknown backend, or for numba when it is not installed."""
    if backend == "numpy":
        return None
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    require_numba()
    return NumbaLayout(parallel=backend == "numba-parallel")


def _prepare(fn: Callable, args: Sequence[Any], argnums) -> _Context:
    """Trace `fn` at `args` (values, tracers, or the `ArgSpec`s of a trace)."""
    nums = normalize_argnums(argnums, len(args), where=function_location(fn))
    specs = list(args) if all(isinstance(a, ArgSpec) for a in args) and args else \
        describe_args(fn, args, nums)
    graph = trace(fn, specs)
    forward = optimize(graph, simplify=False)
    traced = [i for i, s in enumerate(specs) if s.traced]
    wrt = [forward.inputs[traced.index(i)] for i in nums]
    name = getattr(fn, "__name__", "f")
    name = "f" if name == "<lambda>" else identifier(name)  # `class` -> `class_`
    out_name = graph.names.get(graph.outputs[0]) or name
    return _Context(fn, name, specs, nums, argnums, graph, forward, wrt, out_name)

