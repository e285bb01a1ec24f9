"""Branches in generated code: `if`/`else` from the paths of a function, and the guards
of a function specialised to one path.

A branching function was traced once per path (`control.trace_paths`); paths that
agree on their first k conditions share their nodes up to the (k+1)-th. The paths form
a decision tree. A function is printed as that tree: the statements of the segment
before a condition (a *block*), then ``if condition:`` with the True side below it and
the False side after it, each side ending in a *leaf*: the rest of that path's
derivation (forward and, for a derivative, the whole reverse pass), printed from the
path's own derivation graph with every value an enclosing block computed read by name.
So each side is differentiated as written: the derivative of the branch taken.

A function specialised to one path instead gets `_check_path`, called by every
generated function after `_check_inputs`: it computes the conditions the trace
met and raises `PathChangedError` (defined in the module) at the first one whose
outcome differs, naming the user's line.
"""

from __future__ import annotations

import linecache
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import EmitError
from ..ir.graph import INPUT, Graph, Node, Var
from ..passes.simplify import optimize, to_program
from ..trace.control import Path, Traced
from .checks import _if
from .function import FunctionCode, print_function
from .layout import _wrap
from .naming import _identifier

__all__ = ["print_branched", "path_check", "CheckCode"]

_SHARED_PREFIX = "_b"  # values a block computes for the code below it, without a user name


# -- if/else: the decision tree ----------------------------------------------------------------
def print_branched(traced: Traced, per_path: Sequence[Sequence], out_name: str,
                   constants) -> list[FunctionCode]:
    """One function per derivation kind; `per_path[p][i]` is path p's derivation i (a
    `Derivation` of api: fname, graph, returns, doc, backward_from, extra_params)."""
    return [_Tree(traced.paths, [ds[i] for ds in per_path], out_name, constants).function()
            for i in range(len(per_path[0]))]


class _Tree:
    """The decision tree of one generated function."""

    def __init__(self, paths: list[Path], derivations: list, out_name: str, constants):
        self.paths, self.derivations = paths, derivations
        self.out_name, self.constants = out_name, constants
        self.first = derivations[0]
        # (block prefix, Var id) -> name of a value a block passes to the code below it;
        # ids are only unique along one path, so a name is scoped by its block
        self.names: dict[tuple[tuple, int], str] = {}
        self.taken = set(self._argument_names())
        self.segments: dict[tuple, set[int]] = {}  # prefix -> ids its block defines
        self.leaves: dict[tuple, tuple[Graph, object]] = {}
        self.blocks: dict[tuple, tuple[Graph, Var, Path]] = {}
        needs: dict[tuple, set[int]] = {}
        for path, d in zip(paths, derivations):
            ancestors = _defined_ids(path.graph.nodes[:path.decisions[-1].position])
            graph, read = _cut(d.graph, list(_flatten(d.returns)), ancestors)
            self.leaves[path.outcomes] = (graph, d)
            needs[path.outcomes] = read
        prefixes = {o[:k] for o in self.leaves for k in range(len(o))}
        for prefix in sorted(prefixes, key=len, reverse=True):
            below = needs[prefix + (True,)] | needs[prefix + (False,)]
            needs[prefix] = self._block(prefix, below)
        # (names are known once every block has chosen those of the values it passes on)
        for prefix, (graph, _) in self.leaves.items():
            self._name_inputs(graph, prefix)
        for prefix, (graph, _, _) in self.blocks.items():
            self._name_inputs(graph, prefix)

    def _argument_names(self):
        graph = self.first.graph
        return [graph.names[v] for v in graph.inputs if v in graph.names]

    def _block(self, prefix: tuple, below: set[int]) -> set[int]:
        """Build the block before the condition at `prefix`; the ids it reads from above."""
        path = next(p for p in self.paths if p.outcomes[:len(prefix)] == prefix)
        k = len(prefix)
        lo = path.decisions[k - 1].position if k else 0
        decision = path.decisions[k]
        segment = [n for n in path.graph.nodes[lo:decision.position] if n.op != INPUT]
        defined = self.segments[prefix] = {n.out.id for n in segment}
        outputs = [decision.cond] + sorted((v for v in _vars(path.graph, below & defined)
                                            if v is not decision.cond), key=lambda v: v.id)
        for var in outputs:
            if var is not decision.cond or var.id in below:
                self._name(prefix, var, path.graph)
        read = _reads(path.graph, segment, defined) - {v.id for v in path.graph.inputs}
        graph, read = _reading(path.graph, segment, outputs, read, below - defined)
        if not k:
            self._add_extra_inputs(graph)
        self.blocks[prefix] = (graph, decision.cond, path)
        return read

    def _add_extra_inputs(self, graph: Graph) -> None:
        """The parameters a derivative adds (cotangent, tangents) open the root block,
        which prints the function's signature checks."""
        first = self.first.graph
        extra = {name for name, _ in self.first.extra_params}
        for var in first.inputs:
            if first.names.get(var) in extra:
                new = graph.new_var(var.shape, var.dtype)
                graph.add(Node(new, INPUT, params=(("name", first.names[var]),)))
                graph.names[new] = first.names[var]

    def _name(self, prefix: tuple, var: Var, graph: Graph) -> None:
        """A name for `var`, computed by the block at `prefix` for the code below."""
        if (prefix, var.id) in self.names:
            return
        hint = _identifier(graph.names.get(var, "") or "")
        if hint is None or hint in self.taken:
            k = 0
            while f"{_SHARED_PREFIX}{k}" in self.taken:
                k += 1
            hint = f"{_SHARED_PREFIX}{k}"
        self.names[(prefix, var.id)] = hint
        self.taken.add(hint)

    def _scope(self, reader: tuple, var_id: int) -> tuple | None:
        """The enclosing block (a proper prefix of `reader`) that defines `var_id`."""
        for k in reversed(range(len(reader))):
            if var_id in self.segments.get(reader[:k], ()):
                return reader[:k]
        return None

    def _name_inputs(self, graph: Graph, reader: tuple) -> None:
        for var in graph.inputs:
            scope = self._scope(reader, var.id)
            if scope is not None:
                graph.names[var] = self.names[(scope, var.id)]
            elif var not in graph.names:
                raise EmitError(f"internal: value v{var.id} crosses a branch unnamed")
        for var in graph.outputs:
            if (reader, var.id) in self.names:
                graph.names[var] = self.names[(reader, var.id)]

    # -- printing ------------------------------------------------------------------------
    def function(self) -> FunctionCode:
        body, returns, top = self._print(())
        return FunctionCode(self.first.fname, self.first.doc, body, returns, top.params,
                            top.arg_types, self._last.return_types,
                            sorted(self._rewrites), list(dict.fromkeys(self._constants)))

    _last: FunctionCode
    _rewrites: set
    _constants: list

    def _print(self, prefix: tuple, depth: int = 0):
        """(body lines, the returned text of the fall-through leaf, first block printed)."""
        if depth == 0 and not prefix:
            self._rewrites, self._constants = set(), []
        indent = 4 + 4 * depth
        pad = " " * (4 * depth)
        if prefix in self.leaves:
            graph, d = self.leaves[prefix]
            code = self._print_graph(graph, list(d.returns), indent, d.backward_from,
                                     optimized=True)
            self._last = code
            return [pad + line for line in code.body], code.returns, code
        graph, cond, _ = self.blocks[prefix]
        extra = self.first.extra_params if not prefix else ()
        code = self._print_graph(graph, graph.outputs, indent, None, extra, optimized=True)
        body = [pad + line for line in code.body]
        test = code.returns.split(", ")[0]
        if body and body[-1].startswith(f"{pad}{test} = ") and "\n" not in body[-1] \
                and (prefix, cond.id) not in self.names:
            test = body.pop()[len(f"{pad}{test} = "):]
        body.append(pad + _if(test, indent))
        inner, returned, _ = self._print(prefix + (True,), depth + 1)
        body += inner + [" " * (4 * depth + 4) + _return(returned, indent + 4)]
        rest, returned, _ = self._print(prefix + (False,), depth)
        return body + rest, returned, code

    def _print_graph(self, graph: Graph, returns, indent: int, backward_from, extra=(),
                     optimized=False):
        program = to_program(graph if optimized else optimize(graph))
        code = print_function(program, "_", "", returns, self.out_name, backward_from,
                              extra_params=extra, constants=self.constants, indent=indent)
        self._rewrites.update(code.stable_rewrites)
        self._constants += code.constants
        return code


def _return(text: str, indent: int) -> str:
    stand_in = "____ = "  # as long as "return ", so that _wrap measures the same line
    return "return " + _wrap(stand_in + text, indent)[len(stand_in):]


def _flatten(returns):
    for r in returns:
        if isinstance(r, tuple):
            yield from _flatten(r)
        else:
            yield r


def _defined_ids(nodes) -> set[int]:
    return {n.out.id for n in nodes if n.op != INPUT}


def _vars(graph: Graph, ids: set[int]) -> list[Var]:
    return [n.out for n in graph.nodes if n.out.id in ids]


def _reads(graph: Graph, nodes, defined: set[int]) -> set[int]:
    """Ids of the values `nodes` read that none of them defines."""
    return {v.id for n in nodes for v in graph.operands(n) if v.id not in defined}


def _input_nodes(graph: Graph, ids: set[int]) -> list[Node]:
    """The function's arguments, then the values read from enclosing blocks, as inputs."""
    args = [n for n in graph.nodes if n.op == INPUT]
    shared = [Node(v, INPUT, params=(("name", ""),)) for v in _vars(graph, ids)]
    return args + sorted(shared, key=lambda n: n.out.id)


def _cut(graph: Graph, outputs: list[Var], ancestors: set[int]) -> tuple[Graph, set[int]]:
    """`graph` without the nodes an enclosing block computes (`ancestors`, by id): those
    it reads become inputs. Returns the graph and the ids it reads."""
    kept = [n for n in graph.nodes if n.op != INPUT and n.out.id not in ancestors]
    defined = {n.out.id for n in graph.nodes if n.op == INPUT} | {n.out.id for n in kept}
    read = _reads(graph, kept, defined) | {v.id for v in outputs if v.id not in defined}
    return _reading(graph, kept, outputs, read, set())


def _reading(graph: Graph, body: list, outputs: list[Var], read: set[int],
             passed: set[int]) -> tuple[Graph, set[int]]:
    """The optimised graph of `body` with inputs for the ids it reads from enclosing
    blocks (only those it still reads once optimised: `0*x` reads nothing) and for the
    ids `passed` on to the code below (so that it does not reuse their names)."""
    def build(ids):
        nodes = _input_nodes(graph, ids) + body
        g = graph.derive(nodes, outputs)
        g.inputs = [n.out for n in nodes if n.op == INPUT]
        return optimize(g)

    read = read & _used(build(read | passed))
    return build(read | passed), read | passed


def _used(graph: Graph) -> set[int]:
    """Ids of the values `graph`'s nodes read or it returns."""
    return {v.id for n in graph.nodes for v in graph.operands(n)} | \
        {v.id for v in graph.outputs}


# -- guards: a function specialised to one path ------------------------------------------------
@dataclass
class CheckCode:
    """`PathChangedError` and `_check_path` as lines of module text, and the module
    constants `_check_path` reads."""

    lines: list[str]
    constants: list[str]


def path_check(fn, path: Path, specs, out_name: str, constants) -> CheckCode:
    """The class and the function that check a specialised module's conditions."""
    conds = list(dict.fromkeys(d.cond for d in path.decisions))
    graph = path.graph.derive(path.graph.nodes, conds)
    for k, cond in enumerate(conds):
        graph.names[cond] = f"test_{k + 1}"  # (not `value`, the name of a first output)
    code = print_function(to_program(optimize(graph)), "_check_path", "", conds, out_name,
                          constants=constants)
    names = dict(zip(conds, code.returns.split(", ")))
    body = list(code.body)
    assigned = {line.split(" = ", 1)[0]: i for i, line in enumerate(body) if " = " in line}
    inserts: dict[int, list[str]] = {}
    seen: dict[str, int] = {}
    for d in path.decisions:
        seen[d.loc] = seen.get(d.loc, 0) + 1
        at = assigned.get(names[d.cond], -1) + 1
        inserts.setdefault(at, []).extend(_guard(names[d.cond], d, seen[d.loc], fn))
    lines = []
    for i in range(len(body) + 1):
        lines += inserts.get(i, [])
        if i < len(body):
            lines.append(body[i])
    params = ", ".join(s.name for s in specs)
    head = [
        "class PathChangedError(ValueError):",
        '    """The arguments take another path through the conditions of the traced',
        '    function than the example arguments this module was generated at."""',
        "", "",
        f"def _check_path({params}):",
        '    """Raise PathChangedError unless the conditions the traced function tests go',
        '    the way they went when this module was generated."""',
    ]
    return CheckCode(head + ["    " + line for line in lines], code.constants)


def _guard(name: str, d, count: int, fn) -> list[str]:
    """`if` + `raise PathChangedError(...)` for one decision (user text only inside
    string literals made by repr)."""
    filename, _, line = (d.loc or "?:0").rpartition(":")
    text = linecache.getline(filename, int(line)).strip() if line.isdigit() else ""
    nth = f" (test {count} of this line)" if count > 1 else ""
    message = (f"{_relative(filename)}:{line}: `{text}`{nth} was {d.outcome} when this "
               f"module was generated and is {not d.outcome} for these arguments; "
               "regenerate the module at arguments that take this path (--example), or "
               "use symdiff.grad, which retraces per path")
    test = f"not {name}" if d.outcome else name
    return [f"if {test}:", "    raise PathChangedError(",
            *(f"        {chunk!r}" for chunk in _chunks(message, 70)), "    )"]


def _chunks(text: str, width: int) -> list[str]:
    words, out = text.split(" "), [""]
    for word in words:
        if out[-1] and len(out[-1]) + len(word) + 1 > width:
            out[-1] += " "
            out.append("")
        out[-1] += (" " if out[-1] and not out[-1].endswith(" ") else "") + word
    return out


def _relative(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith(os.pardir) else rel


# -- the decorator: one compiled module per path -----------------------------------------------
def path_holds(compiled, args) -> bool:
    """Whether `args` take the path `compiled` was specialised to (always, unspecialised)."""
    module = compiled.module
    check = getattr(module, "_check_path", None)
    if check is None:
        return True
    try:
        check(*args)
    except module.PathChangedError:
        return False
    return True


class PathDispatch:
    """The generated function of `kind` for the path the arguments take: the modules
    compiled so far are tried in turn (each checks its path first and raises its
    `PathChangedError` on another); when none fits, `compile_at(args)` traces the
    new path. The most recently used module is tried first."""

    def __init__(self, compiled, kind: str, compile_at):
        self.kind, self.compile_at = kind, compile_at
        self.variants = [compiled]

    def __call__(self, *args):
        for i, compiled in enumerate(self.variants):
            try:
                result = compiled.function(self.kind)(*args)
            except compiled.module.PathChangedError:
                continue
            if i:
                self.variants.insert(0, self.variants.pop(i))
            return result
        compiled = self.compile_at(args)
        self.variants.insert(0, compiled)
        return compiled.function(self.kind)(*args)


def specialised_function(compiled, kind: str, compile_at):
    """`compiled`'s function of `kind`, or a `PathDispatch` when it checks a path."""
    if getattr(compiled.module, "_check_path", None) is None:
        return compiled.function(kind)
    return PathDispatch(compiled, kind, compile_at)
