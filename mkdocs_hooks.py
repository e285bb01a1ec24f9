"""MkDocs hooks: the site serves everything itself (MathJax, code colours), nothing from a CDN.

The docs extra installs django-static-mathjax, a plain copy of MathJax 3 (it has no
dependency on Django); its single-file `tex-svg.js` component needs no web fonts, so
the built site renders math offline. `mkdocs build` copies it into the site here.
"""

import importlib.util
import os

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

# Where the site serves them from; mkdocs.yml's extra_javascript/extra_css name the same paths.
MATHJAX_SITE_PATH = "js/mathjax/tex-svg.js"
PYGMENTS_CSS_PATH = "css/pygments.css"


def _mathjax_source():
    """Path of MathJax's tex-svg.js inside the installed django-static-mathjax package."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError("MathJax is not installed: run  pip install '.[docs]'  (django-static-mathjax)")
    root = list(spec.submodule_search_locations)[0]
    path = os.path.join(root, "static", "mathjax", "es5", "tex-svg.js")
    if not os.path.isfile(path):
        raise PluginError(f"no MathJax tex-svg.js at {path}: reinstall with  pip install '.[docs]'")
    return path


def on_files(files, config):
    """Add the packaged MathJax and the stylesheet of Pygments' highlighted code to the site."""
    from pygments.formatters import HtmlFormatter

    files.append(File.generated(config, MATHJAX_SITE_PATH, abs_src_path=_mathjax_source()))
    css = HtmlFormatter(style="default").get_style_defs(".highlight")
    files.append(File.generated(config, PYGMENTS_CSS_PATH, content=css))
    return files
