// MathJax 3 reads this before it loads (mkdocs.yml lists it first). pymdownx.arithmatex
// in generic mode wraps math in \( \) and \[ \] inside elements of class "arithmatex";
// only those are typeset, so a dollar sign in prose or code stays as written.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex"
  }
};
