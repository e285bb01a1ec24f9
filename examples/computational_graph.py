"""6. A computational graph: J = 3(a + b c) at a = 5, b = 3, c = 2.

The lecture's picture: u = b c = 6, v = a + u = 11, J = 3 v = 33. Going backwards,
dJ/dv = 3, dJ/da = dJ/dv dv/da = 3, dJ/du = 3, dJ/db = dJ/du du/db = 3 c = 6 and
dJ/dc = 3 b = 9. symdiff traces the same graph from the code below, extends it with
the reverse pass, and draws both (Graphviz DOT; SVG too when Graphviz is installed):

    python examples/computational_graph.py [OUTPUT_DIR]   # default: a new temporary directory
    symdiff graph examples/computational_graph.py:J --wrt a,b,c --grad -o J.svg
"""

import inspect
import os
import shutil
import sys
import tempfile

import symdiff
from symdiff.display.graphviz import function_picture, render, to_dot


def J(a, b, c):
    u = b * c
    v = a + u
    J = 3 * v
    return J


def example_inputs_J():
    """The point of the lecture (`symdiff emit`/`graph` use it for J)."""
    return 5.0, 3.0, 2.0


def main(out_dir=None):
    if out_dir is None:  # never litter the current directory unasked
        out_dir = tempfile.mkdtemp(prefix="symdiff-graph-")
    a, b, c = example_inputs_J()
    value, (da, db, dc) = symdiff.value_and_grad(J, argnums=(0, 1, 2))(a, b, c)
    print(f"J at a = {a:g}, b = {b:g}, c = {c:g}")
    print(f"  J = {value:g}")
    print(f"  dJ/da = {da:g}")
    print(f"  dJ/db = {db:g}")
    print(f"  dJ/dc = {dc:g}")

    compiled = symdiff.grad(J, argnums=(0, 1, 2)).compile(a, b, c)
    print("\nThe reverse pass as code:\n")
    print(inspect.getsource(compiled.grad))

    picture = function_picture(J, (a, b, c), (0, 1, 2), grad=True, values=True,
                               title="J = 3(a + b c) and its gradient")
    dot_text = to_dot(picture)
    path = os.path.join(out_dir, "J.dot")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(dot_text)
    print(f"wrote {path} (forward values above, their adjoints in orange below)")
    if shutil.which("dot"):
        svg = os.path.join(out_dir, "J.svg")
        with open(svg, "wb") as fh:
            fh.write(render(dot_text, "svg"))
        print(f"wrote {svg}")
    print("\n" + dot_text)


if __name__ == "__main__":
    main(*sys.argv[1:2])
