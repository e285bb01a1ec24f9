"""The command line: `symdiff emit`, `graph`, `check`, `gradcheck` (one module each),
sharing argument parsing (`args`)."""

from .app import main

__all__ = ["main"]
