"""Stage 3, differentiate: reverse and forward mode over the graph (`differentiate`),
the rule tables (`rules`, `batched_rules`), and the derivative kinds a module can hold
(`transforms`)."""

# Rules of the decompositions, entered in the tables of `rules`.
from . import rules_decompositions  # noqa: E402,F401
