"""Load generated source as a module whose code shows in tracebacks, `inspect` and pdb.

The source is registered with `linecache` under a `<symdiff-generated NAME HASH>`
file name, the convention for code that lives in no file (as `<string>`). The entry
has no modification time, so `linecache.checkcache()` (which pdb, IPython and the
traceback machinery call) keeps it; `linecache.clearcache()` drops it, as it drops
every other such entry.
"""

from __future__ import annotations

import hashlib
import linecache
import types

__all__ = ["load_module"]


def load_module(source: str, name: str) -> types.ModuleType:
    """Execute `source` as a fresh module registered with `linecache`."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    filename = f"<symdiff-generated {name} {digest}>"
    # mtime None marks the entry as not backed by a file: checkcache leaves it alone.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - our own output
    return module
