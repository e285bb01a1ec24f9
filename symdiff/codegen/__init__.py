"""Stage 5, emit: the printer, names, line layout, input checks, header, one function
per program, the module template, and loading the module."""

# Printers of the decompositions, installed on the printer.
from . import printer_ops  # noqa: E402,F401
