"""The version, in one place: the header of generated modules and `symdiff --version` read it."""

__version__ = "0.1.0"
