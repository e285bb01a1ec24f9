"""`symdiff graph --grad`: the backward pass drawn as the autograd tutorials draw it.

The numbers expected here come from the lecture this picture reproduces (J = 3(a + bc)
at a = 5, b = 3, c = 2: u = 6, v = 11, J = 33; dJ/dv = 3, dJ/du = 3, dJ/da = 3,
dJ/db = 6, dJ/dc = 9) and, for larger programs, from central differences.
"""

import inspect
import os
import re
import shutil

import numpy as np
import pytest
from ops_table import CASES

from symdiff.cli import main
from symdiff.display.graphviz import function_picture, to_dot
from symdiff.verify import numerical_gradient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN_DOT = os.path.join("tests", "golden", "J_backward.dot")
REGENERATE = os.environ.get("SYMDIFF_REGENERATE_GOLDEN") == "1"


def J(a, b, c):
    u = b * c
    v = a + u
    J = 3 * v
    return J


def loss(W1, b1, W2, b2, X, y):
    hidden = np.tanh(X @ W1 + b1)
    prediction = hidden @ W2 + b2
    return np.mean((prediction - y) ** 2)


def mlp_inputs():
    rng = np.random.default_rng(1)
    return (rng.normal(size=(2, 4)), rng.normal(size=4), rng.normal(size=4), 0.1,
            rng.normal(size=(8, 2)), rng.normal(size=8))


class Dot:
    """A DOT text read back: box labels by id, and edges with their attributes."""

    def __init__(self, text):
        self.text = text
        self.label = {i: _unquote(lab) for i, lab in
                      re.findall(r'^  ([vg]\d+) \[label="((?:[^"\\]|\\.)*)"', text, re.M)}
        self.edges = [(a, b, attrs) for a, b, attrs in
                      re.findall(r"^  ([vg]\d+) -> ([vg]\d+)(?: \[(.*)\])?$", text, re.M)]

    def box(self, head):
        """The id of the box whose label starts with `head` followed by ' ', '=' or a newline."""
        found = [i for i, lab in self.label.items() if re.match(rf"{re.escape(head)}( |\n|$)", lab)]
        assert len(found) == 1, (head, found)
        return found[0]

    def number(self, head):
        return float(self.label[self.box(head)].rsplit("= ", 1)[1])

    def backward(self):
        """{(from adjoint, to adjoint): label} of the orange arrows."""
        return {(a, b): _unquote(re.search(r'label="((?:[^"\\]|\\.)*)"', attrs)[1])
                for a, b, attrs in self.edges if b.startswith("g") and a.startswith("g")}

    def reads(self, target):
        """Forward boxes a dashed arrow brings into the adjoint box `target`."""
        return {a for a, b, attrs in self.edges if b == target and "dashed" in attrs}


def _unquote(text):
    return text.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


@pytest.fixture(scope="module")
def j_dot():
    return Dot(to_dot(function_picture(J, (5.0, 3.0, 2.0), (0, 1, 2), grad=True, values=True)))


def test_forward_values_are_the_lectures(j_dot):
    assert [j_dot.number(n) for n in ("a", "b", "c", "u", "v", "J")] == [5, 3, 2, 6, 11, 33]
    assert "u = b*c = 6" in j_dot.label.values() and "v = a + u = 11" in j_dot.label.values()


def test_every_adjoint_is_a_box_with_the_lectures_number(j_dot):
    got = {n: j_dot.number(n) for n in ("dJ_dJ", "dJ_dv", "dJ_du", "dJ_da", "dJ_db", "dJ_dc")}
    assert got == {"dJ_dJ": 1, "dJ_dv": 3, "dJ_du": 3, "dJ_da": 3, "dJ_db": 6, "dJ_dc": 9}


def test_backward_arrows_carry_the_local_derivatives(j_dot):
    box = j_dot.box
    assert j_dot.backward() == {
        (box("dJ_dJ"), box("dJ_dv")): "dJ/dv = 3",
        (box("dJ_dv"), box("dJ_da")): "dv/da = 1",
        (box("dJ_dv"), box("dJ_du")): "dv/du = 1",
        (box("dJ_du"), box("dJ_db")): "du/db = c = 2",
        (box("dJ_du"), box("dJ_dc")): "du/dc = b = 3",
    }


def test_adjoints_connect_to_the_forward_values_they_read(j_dot):
    box = j_dot.box
    # dJ/db = dJ/du * c reads c; dJ/dc = dJ/du * b reads b; the others read no value
    assert j_dot.reads(box("dJ_db")) == {box("c")}
    assert j_dot.reads(box("dJ_dc")) == {box("b")}
    for name in ("dJ_dv", "dJ_du", "dJ_da"):
        assert j_dot.reads(box(name)) == set()
    # the forward pass: a, b, c -> u -> v -> J
    forward = {(a, b) for a, b, _ in j_dot.edges if a.startswith("v") and b.startswith("v")}
    assert forward == {(box("b"), box("u")), (box("c"), box("u")), (box("a"), box("v")),
                       (box("u"), box("v")), (box("v"), box("J"))}


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the title holds the path as given


def test_golden_dot_of_J_with_its_backward_pass(at_root, capsys):
    argv = ["graph", "tests/golden/models.py:J", "--wrt", "a,b,c", "--grad",
            "--at", "a=5,b=3,c=2"]
    assert main(argv + (["-o", GOLDEN_DOT] if REGENERATE else [])) == 0
    out = capsys.readouterr().out
    if not REGENERATE:
        with open(GOLDEN_DOT, encoding="utf-8") as fh:
            assert out == fh.read(), ("the picture differs from tests/golden/J_backward.dot; if "
                                      "intended, regenerate with SYMDIFF_REGENERATE_GOLDEN=1")


@pytest.fixture(scope="module")
def mlp_dot():
    args = mlp_inputs()
    return Dot(to_dot(function_picture(loss, args, (0, 1, 2, 3), grad=True, values=True))), args


def test_mlp_boxes_follow_the_users_names(mlp_dot):
    dot, _ = mlp_dot
    text = "\n".join(dot.label.values())
    for name in ("hidden = tanh(b1 + t6)", "prediction = b2 + t", "loss = ",
                 "dloss_dW1", "dloss_db1", "dloss_dW2", "dloss_db2", "dloss_dhidden",
                 "dloss_dprediction", "dloss_dloss"):
        assert name in text, name
    assert not re.search(r"\bd?t\d+_d", text)  # no adjoint named after a temporary output


def test_mlp_adjoint_values_match_central_differences(mlp_dot):
    dot, args = mlp_dot
    b2_label = dot.label[dot.box("dloss_db2")]
    fd = numerical_gradient(loss, args, 3)
    assert float(b2_label.rsplit("= ", 1)[1]) == pytest.approx(fd, rel=1e-5)
    for k, name in ((1, "dloss_db1"), (2, "dloss_dW2")):  # drawn in full: 4 elements each
        shown = dot.label[dot.box(name)].splitlines()[-1]
        values = [float(x) for x in shown.strip("[]").split(",")]
        np.testing.assert_allclose(values, numerical_gradient(loss, args, k), rtol=1e-5)


def test_structured_operations_read_their_operands(mlp_dot):
    dot, _ = mlp_dot
    box = dot.box
    # d loss/d W2 = hidden.T @ dloss_d(hidden @ W2): reads hidden; d/dW1 reads X
    assert box("hidden") in dot.reads(box("dloss_dW2"))
    assert box("X") in dot.reads(box("dloss_dW1"))
    # through tanh, the local derivative 1 - hidden**2 reads the forward value hidden
    [(_, through_tanh)] = [edge for edge, lab in dot.backward().items()
                           if lab.startswith("dhidden/dt") and lab.endswith("= 1 - hidden**2")]
    assert box("hidden") in dot.reads(through_tanh)
    labels = set(dot.backward().values())
    assert any("hidden.T @ dloss_d" in lab for lab in labels)


def test_without_values_boxes_show_types_and_no_numbers():
    dot = Dot(to_dot(function_picture(loss, mlp_inputs(), (0,), grad=True)))
    assert dot.label[dot.box("X")] == "X\nf64[8,2]"
    assert "dloss_dloss = 1" in dot.label.values()  # the seed is 1 at every point
    assert not any("0.1" in lab for lab in dot.label.values())


def test_a_value_used_twice_sums_two_arrows():
    def f(x):
        y = x * x
        return y + 3 * x

    dot = Dot(to_dot(function_picture(f, (2.0,), (0,), grad=True, values=True)))
    into_x = [lab for (a, b), lab in dot.backward().items() if b == dot.box("df_dx")]
    assert sorted(into_x) == ["df/dx = 3", "dy/dx = 2*x = 4"]
    assert dot.number("df_dx") == 2 * 2.0 + 3  # d(x^2 + 3x)/dx at 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_the_picture_renders(tmp_path):
    from symdiff.display.graphviz import render

    png = render(to_dot(function_picture(J, (5.0, 3.0, 2.0), (0, 1, 2), grad=True,
                                         values=True)), "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


# -- in a notebook ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compiled_J():
    import symdiff

    return symdiff.grad(J, argnums=(0, 1, 2)).compile(5.0, 3.0, 2.0)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_a_compiled_function_shows_its_picture_inline_as_svg(compiled_J):
    picture = compiled_J.picture(5.0, 3.0, 2.0)
    svg = picture._repr_svg_()
    assert "<svg" in svg and "dJ_db = 6" in svg and "du/db = c = 2" in svg
    assert Dot(picture.dot).number("dJ_dc") == 9


def test_without_graphviz_the_picture_says_how_to_see_it(compiled_J, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    picture = compiled_J.picture()
    assert picture._repr_svg_() is None  # the notebook falls back to the text
    assert "install Graphviz" in repr(picture) and picture.dot.startswith('digraph "J"')


def test_picture_arguments_must_fit_the_compiled_shapes(compiled_J):
    from symdiff.errors import InputError

    with pytest.raises(InputError, match="a has shape \\(2,\\), but J was compiled for \\(\\)"):
        compiled_J.picture(np.ones(2), 3.0, 2.0)
    with pytest.raises(InputError, match="no arguments or all 3"):
        compiled_J.picture(5.0)


def test_an_argument_the_output_does_not_read_has_gradient_zero():
    def f(x, unused):
        return 2 * x

    dot = Dot(to_dot(function_picture(f, (1.5, 4.0), (0, 1), grad=True, values=True)))
    assert dot.number("df_dx") == 2 and dot.number("df_dunused") == 0
    assert not [edge for edge in dot.backward() if edge[1] == dot.box("df_dunused")]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_supported_op_draws_and_its_gradient_boxes_match_central_differences(case):
    """The picture's own chain rule (a box per adjoint, summed from its arrows) at the
    op table's points, against central differences of the function."""
    args = case.sample(0)
    nums = case.wrt(args)
    picture = function_picture(case.fn, args, nums, grad=True, values=True)
    assert to_dot(picture).rstrip().endswith("}")
    params = list(inspect.signature(case.fn).parameters)
    results = {b.text.rsplit("_d", 1)[1]: b.id for b in picture.boxes
               if b.kind == "adjoint_result"}
    for i in nums:
        got = picture.values[results[params[i]]]
        np.testing.assert_allclose(got, numerical_gradient(case.fn, args, i),
                                   rtol=max(case.rtol, 1e-4), atol=max(case.atol, 1e-5),
                                   err_msg=f"d/d{params[i]}")
