"""The text of generated modules: header, docstrings, names, checks, line lengths, and
how loaded modules show their source (tracebacks, inspect, pdb)."""

import ast
import io
import linecache
import pdb
import re
import subprocess
import sys
import traceback

import numpy as np
import pytest

import symdiff
from symdiff.autodiff.transforms import KINDS
from symdiff.codegen.header import command_lines
from symdiff.codegen.layout import LINE_LENGTH, _wrap


def chain(x):
    y = 2 * x + 3
    z = y**2
    return np.mean(z)


def logistic(w, b, X, y):
    logits = X @ w + b
    p = 1 / (1 + np.exp(-logits))
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return loss


def a_function_with_a_rather_long_name(first_parameter_name, second_parameter_name,
                                       third_parameter_name, n):
    s = 0.0
    for _ in range(n):
        s = s + np.sum(first_parameter_name * second_parameter_name * third_parameter_name)
    return s


def logistic_source():
    X = np.linspace(-1, 1, 30).reshape(10, 3)
    return symdiff.grad(logistic, argnums=(0, 1), dims="fixed").compile(np.zeros(3), 0.0, X,
                                                          np.ones(10)).source


def functions(source):
    return {n.name: n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}


# -- header --------------------------------------------------------------------------------
def test_header_states_provenance_command_shapes_and_conventions():
    source = symdiff.grad(chain, dims="fixed").compile(np.ones(3)).source
    header = source.split('"""', 1)[0]
    assert f"symdiff {symdiff.__version__}" in header
    assert "test_module_text.py:chain" in header
    assert "symdiff emit tests/codegen/test_module_text.py:chain --wrt x --shape x=3" in header
    assert "x: float64[3]" in header
    assert "Conventions at kinks:" not in header  # chain is smooth everywhere
    assert not re.search(r"\d{4}-\d\d-\d\d|\d\d:\d\d", header)  # no timestamp
    symbolic = symdiff.grad(chain).compile(np.ones(3)).source.split('"""', 1)[0]
    assert "symdiff emit tests/codegen/test_module_text.py:chain --wrt x --shape x=n" \
        in symbolic  # the command regenerates the module for every length n
    assert "x: float64[n]" in symbolic


def kinked(x, y):
    return np.sum(np.abs(x) + np.where(x > 0, x, 0.0) + np.maximum(x, y))


@pytest.mark.parametrize("fn, wanted", [
    (lambda x, y: np.sum(x**3 + y), []),
    (lambda x, y: np.sum(np.abs(x) * y), ["d|x|/dx"]),
    (lambda x, y: np.max(x) + np.sum(np.clip(y, 0, 1)), ["maximum/minimum", "clip("]),
    (kinked, ["d|x|/dx", "maximum/minimum", "comparisons", "np.where"]),
    (lambda x, y: np.sum(np.floor(x) * y), ["floor"]),
])
def test_header_states_only_the_conventions_the_function_meets(fn, wanted):
    source = symdiff.grad(fn).compile(np.ones(3), np.ones(3)).source
    lines = source.split('"""', 1)[0].split("Conventions at kinks:\n")
    stated = lines[1].split("# Stable")[0].splitlines() if len(lines) == 2 else []
    assert len(stated) == len(wanted), stated
    for text in wanted:
        assert any(text in line for line in stated), (text, stated)


def test_header_command_is_the_one_given():
    compiled = symdiff.compile_gradient(chain, [np.ones(3)], command=[
        "symdiff", "emit", "m.py:chain", "--example", "make", "-o", "out dir/g.py"])
    assert "#   symdiff emit m.py:chain --example make -o 'out dir/g.py'\n" in compiled.source


def test_long_header_lines_wrap_as_a_shell_command():
    words = ["symdiff", "emit", "some/deeply/nested/package/directory/model.py:loss",
             "--wrt", "w,b"] + [w for i in range(8) for w in ("--shape", f"x{i}=100,3")]
    lines = command_lines(words, 86)
    assert all(len(line) <= 86 for line in lines)
    assert all(line.endswith(" \\") for line in lines[:-1])
    joined = " ".join(line.rstrip("\\").strip() for line in lines)
    assert joined == " ".join(words)
    assert not any(line.rstrip(" \\").endswith("--shape") for line in lines)  # kept with value


# -- every line, every function -------------------------------------------------------------
def long_module():
    args = (np.ones((123, 45)), np.ones((123, 45)), np.ones(45, dtype=np.float32), 3)
    return symdiff.compile_gradient(a_function_with_a_rather_long_name, args,
                                    argnums=(0, 1)).source


def mlp(W1, b1, W2, b2, X, y):
    hidden = np.tanh(X @ W1 + b1)
    return np.mean((hidden @ W2 + b2 - y) ** 2)


def hessian_of_four_arguments():
    """Returns a 4 x 4 tuple of tuples: once a 267-column `return` line."""
    rng = np.random.default_rng(1)
    args = (rng.normal(size=(2, 4)), rng.normal(size=4), rng.normal(size=4), 0.1,
            rng.normal(size=(8, 2)), rng.normal(size=8))
    return symdiff.compile_gradient(mlp, args, argnums=(0, 1, 2, 3),
                                    kinds=("hessian", "hvp")).source


def mlp_weight_decay(W1, b1, W2, b2, X, y, lam):
    return mlp(W1, b1, W2, b2, X, y) + lam * (np.sum(W1**2) + np.sum(W2**2))


def attn_einsum(X, Wq, Wk, Wv):
    return np.sum((X @ Wq) * (X @ Wk) * (X @ Wv))


def lines_at_the_margin():
    """Once three lines of 89 columns: a header line of traced arguments broken after a
    comma, a float scalar's dtype test nested in its `isinstance` test, and a `return`
    of a value and four gradients (in the second module)."""
    rng = np.random.default_rng(2)
    args = (rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=(5, 1)),
            rng.normal(size=1), rng.normal(size=(8, 3)), rng.normal(size=(8, 1)), 0.01)
    four = (rng.normal(size=(5, 4)), *(rng.normal(size=(4, 3)) for _ in range(3)))
    return symdiff.compile_gradient(mlp_weight_decay, args, argnums=(0, 1, 2, 3),
                                    kinds=("value_and_grad",)).source \
        + symdiff.compile_gradient(attn_einsum, four, argnums=(0, 1, 2, 3),
                                   kinds=("value_and_grad",)).source


def clipped_pick(W, X, labels):
    probabilities = np.exp(X @ W)
    picked = probabilities[np.arange(6), labels]
    return np.sum(np.log(np.clip(picked, 1e-12, 1.0)) * np.arange(6.0))


def scatter_statements():
    """Statements that fill a buffer in place: once `np.add.at(...)` on one line of
    119 columns, with the adjoint of a clipped fancy-indexed pick as its values."""
    rng = np.random.default_rng(3)
    args = (rng.normal(size=(3, 4)), rng.normal(size=(6, 3)), rng.integers(0, 4, 6))
    return symdiff.compile_gradient(clipped_pick, args, argnums=0).source


def test_a_long_statement_filling_a_buffer_is_wrapped():
    from symdiff.codegen.layout import _wrap_statement

    values = " + ".join(f"a_rather_long_name_{i}" for i in range(5))
    for line in (f"np.add.at(out, (i, j), {values})", f"out[1:3] += {values}",
                 f"out[1:3] = {values}"):
        wrapped = _wrap_statement(line, indent=4)
        first, *rest = wrapped.splitlines()  # the first line is indented by the template
        assert rest and max(len(w) for w in ["    " + first, *rest]) <= LINE_LENGTH
        assert ast.dump(ast.parse(wrapped)) == ast.dump(ast.parse(line))


@pytest.mark.parametrize("make", [logistic_source, long_module, hessian_of_four_arguments,
                                  lines_at_the_margin, scatter_statements])
def test_every_line_fits_88_columns(make):
    source = make()
    too_long = [line for line in source.splitlines() if len(line) > LINE_LENGTH]
    assert not too_long
    ast.parse(source)


def test_every_function_documents_argument_and_result_shapes():
    source = logistic_source()
    for name, fn in functions(source).items():
        doc = ast.get_docstring(fn)
        assert doc, name
        if name in ("_check_inputs", "_check"):
            continue
        assert "w: float64, shape (3,)" in doc and "X: float64, shape (10, 3)" in doc, name
        assert "Returns:" in doc, name
    assert "loss: float64, shape ()" in ast.get_docstring(functions(source)["logistic"])
    grad_doc = ast.get_docstring(functions(source)["grad_logistic"])
    assert "dloss_dw: float64, shape (3,)" in grad_doc
    assert "dloss_db: float64, shape ()" in grad_doc


def test_user_names_and_adjoint_names():
    source = logistic_source()
    grad = ast.unparse(functions(source)["grad_logistic"])
    assert re.search(r"\blogits = ", grad)
    assert re.search(r"\bdloss_dw = ", grad) and re.search(r"\bdloss_db = ", grad)
    assert re.search(r"\bloss = ", ast.unparse(functions(source)["logistic"]))


def test_a_comment_names_the_source_line_of_each_gradient_block():
    source = symdiff.grad(chain).compile(np.ones(3)).source
    assert "# gradient of line" in source
    assert re.search(r"# gradient of line \d+: (z = y\*\*2|y = 2 \* x \+ 3|return np.mean)",
                     source)


def test_static_arguments_are_documented_and_checked():
    source = long_module()
    doc = ast.get_docstring(functions(source)["grad_a_function_with_a_rather_long_name"])
    assert "n: 3 (the value this code was generated for)" in doc
    assert "third_parameter_name: float32, shape (45,)" in doc


# -- input checks ---------------------------------------------------------------------------
def test_wrong_shape_raises_value_error_naming_argument_expected_and_actual():
    g = symdiff.grad(logistic, argnums=(0, 1), dims="fixed").compile(np.zeros(3), 0.0, np.ones((10, 3)),
                                                        np.ones(10)).grad
    with pytest.raises(ValueError, match=r"^X must have shape \(10, 3\), got \(3, 10\)$"):
        g(np.zeros(3), 0.0, np.ones((3, 10)), np.ones(10))
    with pytest.raises(ValueError, match=r"^b must have shape \(\), got \(1,\)$"):
        g(np.zeros(3), np.zeros(1), np.ones((10, 3)), np.ones(10))
    g(np.zeros(3), np.float64(0.0), np.ones((10, 3)), np.ones(10))  # a NumPy scalar passes


def test_a_float_passes_the_scalar_check_by_its_type():
    compiled = symdiff.grad(lambda x: x**3).compile(2.0)

    class NoShape:  # NumPy, but np.shape and np.asarray fail if the check calls them
        def __getattr__(self, name):
            if name in ("shape", "asarray"):
                raise AssertionError(f"np.{name} called for a float")
            return getattr(np, name)

    compiled.module.np = NoShape()
    try:
        assert compiled.grad(2.0) == 12.0 and compiled.grad(np.float64(2.0)) == 12.0
    finally:
        compiled.module.np = np
    with pytest.raises(ValueError, match=r"x must have shape \(\)"):
        compiled.grad(np.ones(1))
    with pytest.raises(TypeError, match="x must be float64 as traced"):
        compiled.grad(np.array("a"))


def test_several_float_scalars_skip_the_check_call_but_still_raise():
    compiled = symdiff.grad(lambda a, b, c: 3 * (a + b * c), argnums=(0, 1, 2)).compile(
        5.0, 3.0, 2.0)
    assert "if not (isinstance(a, float) and isinstance(b, float)" in compiled.source
    assert compiled.grad(5.0, 3.0, 2.0) == (3.0, 6.0, 9.0)  # 3, 3c, 3b by hand
    with pytest.raises(ValueError, match=r"^c must have shape \(\), got \(2,\)$"):
        compiled.grad(5.0, 3.0, np.ones(2))
    with pytest.raises(TypeError, match="b must be float64 as traced"):
        compiled.grad(5.0, np.array(1 + 2j), 2.0)


# -- lines that need wrapping -----------------------------------------------------------------
@pytest.mark.parametrize("rhs", [
    " + ".join(f"np.sin(variable_number_{i})*np.cos(variable_number_{i})" for i in range(9)),
    "*".join(f"np.exp(some_long_variable_name_{i})" for i in range(9)),
    "np.where(" + ", ".join(f"(long_condition_name_{i} > 0)" for i in range(3)) + ")",
    "np.array([[1., 0., 0.], [0., 1., 0.], [0., 0., 1.]],\n dtype=np.float64)*" + "x" * 70,
])
def test_wrapped_lines_fit_and_mean_the_same(rhs):
    text = _wrap(f"value = {rhs}", indent=4)
    lines = ("    " + text).splitlines()
    assert all(len(line) <= LINE_LENGTH for line in lines)
    assert ast.dump(ast.parse(text).body[0].value) == ast.dump(ast.parse(rhs.replace(
        "\n", ""), mode="eval").body)


def test_wrapping_breaks_before_operators_outside_parentheses():
    rhs = " - ".join(f"1/100*y*np.exp(-np.logaddexp(0, logits_{i}))" for i in range(3))
    lines = _wrap(f"_t2 = {rhs}", indent=4).splitlines()
    assert lines[2].lstrip().startswith("- 1/100*y")
    assert all(line.count("(") == line.count(")") for line in lines[1:-1])


# -- deterministic -----------------------------------------------------------------------------
def test_same_input_same_bytes():
    assert logistic_source() == logistic_source()


# -- generated source in tracebacks, inspect and pdb -------------------------------------------
def test_traceback_shows_the_generated_lines():
    compiled = symdiff.grad(chain, dims="fixed").compile(np.ones(3))
    linecache.checkcache()  # as pdb and IPython do: the entry must survive
    with pytest.raises(ValueError) as info:
        compiled.grad(np.ones(4))
    text = "".join(traceback.format_exception(info.value))
    assert 'raise ValueError(f"{name} must have shape {shape}, got {np.shape(value)}")' \
        in text
    assert '_check("x", x, (3,), np.float64)' in text and "_check_inputs(x)" in text
    assert "<symdiff-generated" in text


def test_inspect_getsource_of_generated_functions():
    import inspect

    compiled = symdiff.grad(chain).compile(np.ones(3))
    linecache.checkcache()
    text = inspect.getsource(compiled.grad)
    assert text.startswith("def grad_chain(x):")
    assert "dchain_dx" in text or "return" in text
    assert inspect.getsource(compiled.module) == compiled.source


def test_pdb_lists_generated_source():
    compiled = symdiff.grad(chain).compile(np.ones(3))
    out = io.StringIO()
    debugger = pdb.Pdb(stdin=io.StringIO("list\ncontinue\n"), stdout=out, nosigint=True)
    debugger.runcall(compiled.grad, np.ones(3))
    assert "(Pdb)" in out.getvalue() and "grad_chain()" in out.getvalue()
    assert "_check_inputs(x)" in out.getvalue()
    assert "return dchain_dx" in out.getvalue()


#: ruff's rule selections a generated module must pass: the project's own (stricter:
#: 88 columns, nothing ignored) and ruff's defaults
RUFF_SELECTIONS = (["--select", "E,F,W,I,UP,B", "--line-length", str(LINE_LENGTH)], [])


def ruff_check(source: str) -> subprocess.CompletedProcess:
    """ruff under each selection of RUFF_SELECTIONS; the first failure, or the last run."""
    pytest.importorskip("ruff")
    for selection in RUFF_SELECTIONS:
        proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated",
                               "--no-cache", *selection, "--stdin-filename", "generated.py",
                               "-"], input=source, capture_output=True, text=True)
        if proc.returncode:
            break
    return proc


def test_a_module_of_every_derivative_kind_is_lint_clean():
    X = np.linspace(-1, 1, 30).reshape(10, 3)
    compiled = symdiff.compile_gradient(logistic, [np.zeros(3), 0.0, X, np.ones(10)],
                                        argnums=(0, 1), kinds=list(KINDS))
    assert set(functions(compiled.source)) >= {f"{k}_logistic" for k in KINDS}
    proc = ruff_check(compiled.source)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_hessian_of_several_arguments_is_lint_clean_and_well_named():
    source = hessian_of_four_arguments()
    proc = ruff_check(source)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # d2/dW1^2 is not named d2mlp_dW12, which would read as a derivative by "W12"
    assert "d2mlp_dW1_dW1" in source and "d2mlp_dW2_dW2" in source
    assert "d2mlp_db1_db1" in source and "dW12" not in source and "db12" not in source


def test_all_lists_the_functions_in_isort_order():
    tree = ast.parse(logistic_source())
    (exports,) = [ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                  and n.targets[0].id == "__all__"]
    assert exports == ["grad_logistic", "logistic", "value_and_grad_logistic"]


def test_long_names_and_static_arguments_are_lint_clean():
    proc = ruff_check(long_module())
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- term order for NumPy's in-place temporaries ---------------------------------------------
def rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_grad_by_hand(x):
    a, t = x[:-1], x[1:] - x[:-1] ** 2
    return np.concatenate([-400 * a * t - 2 * (1 - a), [0.0]]) + np.concatenate([[0.0], 200 * t])


@pytest.mark.parametrize("n, form", [(5, "2 - 400*"), (40000, "-400*_t1 + 2")])
def test_large_arrays_put_numbers_last_so_numpy_reuses_temporaries(n, form):
    x = np.random.default_rng(0).standard_normal(n)
    compiled = symdiff.grad(rosenbrock, dims="fixed").compile(x)
    assert form in compiled.source.split("def grad_rosenbrock")[1]
    np.testing.assert_allclose(compiled.grad(x), rosenbrock_grad_by_hand(x), rtol=1e-12)


def test_a_buffer_updated_in_place_is_named_after_the_gradient():
    source = symdiff.grad(rosenbrock, dims="fixed").compile(np.zeros(6)).source.split("def grad_")[1]
    body = [line.strip() for line in source.split('"""')[2].split("\n\n\n")[0].splitlines()]
    assert body[-4:] == [
        "drosenbrock_dx = np.zeros_like(x, shape=(6,))",  # (a Dask array for Dask's x)
        "drosenbrock_dx[:5] = _t0*(2 - 400*_t1) - 2",
        "drosenbrock_dx[1:] += 200*_t1",
        "return drosenbrock_dx",
    ]


# -- arrays fixed at trace time ----------------------------------------------------------------
def test_a_captured_array_is_defined_once_at_module_level_under_its_name():
    W = np.linspace(-1.0, 1.0, 60 * 60).reshape(60, 60) / 7  # a closure, as users write
    C = np.array([1.0, np.nan, np.inf, 2.0])  # non-finite entries must print as np.nan/np.inf

    def f(x):
        return np.sum(np.tanh(W @ x)) + np.sum(np.where(np.isfinite(C), x[:4] * C, 0.0))

    with pytest.warns(symdiff.CapturedArrayWarning):
        compiled = symdiff.grad(f).compile(np.ones(60))
    source = compiled.source
    tree = ast.parse(source)
    module_names = [t.id for node in tree.body if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)]
    assert "W" in module_names and "C" in module_names
    assert source.count("W = np.array(") == 1 and "np.nan, np.inf" in source
    assert max(len(line) for line in source.splitlines()) <= LINE_LENGTH
    assert np.array_equal(compiled.module.W, W)
    x = np.linspace(0.1, 0.9, 60)
    want = W.T @ (1 - np.tanh(W @ x) ** 2)  # d/dx sum(tanh(Wx)), by hand
    want[:4] += np.where(np.isfinite(C), C, 0.0)
    np.testing.assert_allclose(compiled.grad(x), want, rtol=1e-12)


def test_a_long_literal_made_inside_the_function_moves_to_module_level():
    def f(x):
        return np.sum(x * np.linspace(0.0, 1.0, 12) ** 2)

    source = symdiff.grad(f).compile(np.ones(12)).source
    body = source.split("def grad_f")[1]
    assert "np.array([" not in body and "_c0" in body and "\n_c0 = np.array([" in source


def test_constant_gradients_print_as_zeros_ones_and_full():
    def f(x, unused):
        return np.sum(x * 2.0)

    for dtype in (np.float64, np.float32):
        args = (np.ones(3, dtype), np.ones(3, dtype))
        compiled = symdiff.grad(f, argnums=(0, 1)).compile(*args)
        body = compiled.source.split("def grad_f")[1].split("\n\n\n")[0]
        suffix = "" if dtype == np.float64 else ", dtype=np.float32"
        # (the sizes of x and unused are symbols of their own: nothing makes them equal)
        assert f"df_dx = np.full((n,), 2.0{suffix})" in body
        assert f"df_dunused = np.zeros((d,){suffix})" in body
        dx, dunused = compiled.grad(*args)  # d/dx sum(2x) = 2, by hand
        assert dx.dtype == dtype and dunused.dtype == dtype
        np.testing.assert_array_equal(dx, [2.0, 2.0, 2.0])
        np.testing.assert_array_equal(dunused, [0.0, 0.0, 0.0])
        dx[0] = 5.0  # a fresh array each call, not a shared constant
        assert compiled.grad(*args)[0][0] == 2.0


def test_an_indexed_value_read_several_times_in_one_expression_is_computed_once():
    def nll(logits, labels):
        logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
        return -np.mean(np.clip(logp[np.arange(6), labels], -50, 0))

    z = np.random.default_rng(0).normal(size=(6, 3))
    labels = np.array([0, 1, 2, 0, 1, 1])
    compiled = symdiff.grad(nll).compile(z, labels)
    body = compiled.source.split("def grad_nll")[1].split("\n\n\n")[0]
    code = "\n".join(line.split("#")[0] for line in body.splitlines())
    assert code.count(", labels]") == 1  # fancy indexing costs a gather: do it once
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    want = (p - np.eye(3)[labels]) / 6  # softmax minus one-hot, by hand (clip inactive)
    np.testing.assert_allclose(compiled.grad(z, labels), want, rtol=1e-12, atol=1e-15)


def test_sums_and_rearrangements_of_uniform_constants_fold_to_numbers():
    def g(x):  # d/dx = sum over 3x4 of ones = 12, by hand
        return np.sum(np.zeros((3, 4)) + x, axis=0) @ np.ones(4)

    compiled = symdiff.grad(g).compile(1.5)
    body = compiled.source.split("def grad_g")[1].split("\n\n\n")[0]
    code = "\n".join(line.split("#")[0] for line in body.splitlines())
    assert "dg_dx = np.float64(12)" in code and "np.sum(" not in code
    assert compiled.grad(1.5) == 12.0


def test_a_wrapped_line_does_not_leave_a_short_factor_alone():
    rhs = ("-1/6*np.where(np.isnan(some_temporary), np.nan, np.where((some_temporary > -50)"
           " & (some_temporary < 0), 1.0, 0.0))")
    text = _wrap(f"_t4 = {rhs}", indent=4)
    first = text.splitlines()[1].strip()
    assert first.startswith("-1/6*np.where(") and first != "-1/6"
    assert all(len(line) <= LINE_LENGTH - 4 for line in text.splitlines())
    assert ast.dump(ast.parse(text).body[0].value) == ast.dump(ast.parse(rhs).body[0].value)
