"""Load generated source as a module whose code shows in tracebacks, `inspect` and pdb.

The source is registered with `linecache` under a `<symdiff-generated NAME HASH>`
file name, the convention for code that lives in no file (as `<string>`). The entry
has no modification time, so `linecache.checkcache()` (which pdb, IPython and the
traceback machinery call) keeps it; `linecache.clearcache()` drops it, as it drops
every other such entry.
"""

from __future__ import annotations

import hashlib
import importlib.util
import linecache
import os
import sys
import types

__all__ = ["load_module", "load_from_file", "cache_directory", "register_source"]


def register_source(filename: str, lines: list[str]) -> None:
    """Show `lines` in tracebacks, `inspect` and pdb for code compiled under `filename`
    (mtime None marks the entry as not backed by a file: checkcache leaves it alone)."""
    linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)


def load_module(source: str, name: str) -> types.ModuleType:
    """Execute `source` as a fresh module registered with `linecache`."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    filename = f"<symdiff-generated {name} {digest}>"
    register_source(filename, source.splitlines(True))
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - our own output
    return module


def cache_directory() -> str:
    """Where modules loaded from files are written (`SYMDIFF_CACHE_DIR`, else the user's
    cache directory): the fused backend's, whose kernels numba caches beside them."""
    root = os.environ.get("SYMDIFF_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "symdiff")
    return os.path.join(root, "numba")


def load_from_file(source: str, name: str, write) -> types.ModuleType:
    """Import `source` from a file named by its hash (written with `write(path, text)`)
    in `cache_directory()`: the same source in another process finds the same file,
    and numba's cache of its kernels beside it."""
    directory = cache_directory()
    os.makedirs(directory, exist_ok=True)
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    path = os.path.join(directory, f"{name}_{digest}.py")
    if not os.path.exists(path):  # rewriting would change its time stamp: numba recompiles
        write(path, source)
    spec = importlib.util.spec_from_file_location(f"{name}_{digest}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # numba finds a cached kernel's module by name
    spec.loader.exec_module(module)
    return module
