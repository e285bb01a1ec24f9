"""Display: the derivative as LaTeX, HTML and Markdown (`latex`), graphs as Graphviz
(`graphviz`)."""

from .latex import StopGradient, expressions, highlight, latex, to_html, to_latex, to_markdown

__all__ = ["StopGradient", "expressions", "highlight", "latex", "to_html", "to_latex",
           "to_markdown"]
