"""The documentation site builds and its math renders in a real browser.

Builds the site with `mkdocs build --strict`, serves it on the loopback interface,
loads the tutorial in headless Chromium and reads the DOM after scripts ran: MathJax
must have replaced the TeX source with its own output elements (`mjx-container`
holding an SVG). Skipped when the docs extra (`pip install '.[docs]'`) or a Chromium
binary is missing; CI installs both (.ci/run).
"""

import functools
import http.server
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _missing_docs_extra():
    """Name of the first package of the docs extra that is not installed, else None."""
    for module, package in (("mkdocs", "mkdocs"), ("pymdownx", "pymdown-extensions"),
                            ("mathjax", "django-static-mathjax")):
        if importlib.util.find_spec(module) is None:
            return package
    return None


def _browser():
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built from this checkout's docs/ (strict: a warning fails)."""
    missing = _missing_docs_extra()
    if missing:
        pytest.skip(f"{missing} is not installed (pip install '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                           "-f", os.path.join(ROOT, "mkdocs.yml"), "-d", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def served(site):
    """Base URL of the built site, served on 127.0.0.1 by a thread of this process."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _rendered_dom(url, tmp_path):
    """The DOM of `url` after its scripts ran, from headless Chromium."""
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium binary (apt-get install chromium)")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=10000", "--dump-dom", url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_built_pages_load_nothing_from_the_network(site):
    """Scripts and stylesheets come from the site itself: the docs work offline."""
    html = (site / "tutorial" / "index.html").read_text(encoding="utf-8")
    external = re.findall(r'<(?:script|link)[^>]*(?:src|href)="(https?://[^"]+)"', html)
    assert external == []
    assert (site / "js" / "mathjax" / "tex-svg.js").stat().st_size > 100_000


def test_tutorial_source_math_survives_markdown(site):
    r"""The `\\` line break of an aligned block reaches the page intact (Markdown ate one)."""
    html = (site / "tutorial" / "index.html").read_text(encoding="utf-8")
    block = re.search(r'<div class="arithmatex">(.*?)</div>', html, re.S)
    assert block, "no display math on the tutorial page"
    assert "+ 1 \\\\\n" in block.group(1)


def test_tutorial_math_renders_in_a_browser(served, tmp_path):
    dom = _rendered_dom(f"{served}/tutorial/", tmp_path)
    assert "<h1" in dom, "the page did not load"
    containers = re.findall(r"<mjx-container[^>]*>(.*?)</mjx-container>", dom, re.S)
    assert containers, "MathJax produced no output on the tutorial page"
    display = [c for c in re.findall(r'<mjx-container[^>]*display="true"[^>]*>', dom)]
    assert display, "the display equation was not typeset"
    assert all("<svg" in c for c in containers)
    # the TeX source is gone from the page once typeset
    assert "\\begin{aligned}" not in dom
