"""The layout of a module written to a file: `ruff format`'s, when ruff is installed.

`symdiff emit` and `Compiled.save` pass the printed module through ``ruff format``
(isolated from any project configuration, 88 columns), so a committed module is what a
project formatted with ruff or black would hold and stays unchanged under its formatter.
Without ruff the printer's own layout is written; both are deterministic (ruff's for a
given ruff version). Nothing needs ruff at run time, and `.source` of a compiled module
(the text it was loaded from) keeps the printer's layout: formatting runs a process.
"""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["FORMATS", "default_format", "formatted", "ruff_binary"]

#: --format choices: auto (ruff when installed), ruff (required), none.
FORMATS = ("auto", "ruff", "none")
LINE_LENGTH = 88


def default_format() -> str:
    """`symdiff emit --format`'s default: $SYMDIFF_FORMAT when it names a choice (the
    test suite sets none, so that what it reads of printed code does not depend on
    whether ruff is installed), else auto."""
    chosen = os.environ.get("SYMDIFF_FORMAT", "auto")
    return chosen if chosen in FORMATS else "auto"


def ruff_binary() -> str | None:
    """The ruff executable: the `ruff` package's own, else one on PATH; None without."""
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError:
        return shutil.which("ruff")
    try:
        return find_ruff_bin()
    except FileNotFoundError:
        return shutil.which("ruff")


def formatted(text: str, how: str = "auto") -> str:
    """`text` laid out by ``ruff format`` (see the module docstring). `how` "none"
    returns it as it is; "auto" too when ruff is missing or fails; "ruff" raises
    RuntimeError then."""
    if how == "none":
        return text
    binary = ruff_binary()
    if binary is None:
        if how == "ruff":
            raise RuntimeError("--format ruff needs ruff: pip install ruff")
        return text
    command = [binary, "format", "--isolated", "--line-length", str(LINE_LENGTH),
               "--stdin-filename", "generated.py", "-"]
    try:
        done = subprocess.run(command, input=text, capture_output=True, text=True,
                              timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        if how == "ruff":
            raise RuntimeError(f"ruff format did not run: {exc}") from None
        return text
    if done.returncode != 0:
        if how == "ruff":
            raise RuntimeError(f"ruff format failed: {done.stderr.strip()}")
        return text
    return done.stdout
