"""The fused backend's vectorised sin and cos: accuracy against mpmath, the fall back to
libm beyond their reach, and the kernels that use them (skipped without numba)."""

import math
import sys

import numpy as np
import pytest

from symdiff.codegen import fast_trig

numba = pytest.importorskip("numba")
mpmath = pytest.importorskip("mpmath")

from test_golden import central_difference  # noqa: E402

REACH = 823549.0


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory, monkeypatch):
    """numba's cache of the decorator's kernels in a scratch place."""
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def helpers(tmp_path_factory):
    """The helpers as a generated module holds them, with loops calling them."""
    path = tmp_path_factory.mktemp("trig") / "trig_helpers.py"
    path.write_text("import numpy as np\nfrom numba import njit\n\n\n" + fast_trig.HELPERS +
                    "\n\n\n@njit\ndef sin_all(x):\n    out = np.empty_like(x)\n"
                    "    for i in range(x.shape[0]):\n        out[i] = _sin(x[i], None)\n"
                    "    return out\n\n\n@njit\ndef cos_all(x):\n    out = np.empty_like(x)\n"
                    "    for i in range(x.shape[0]):\n        out[i] = _cos(x[i], None)\n"
                    "    return out\n")
    sys.path.insert(0, str(path.parent))
    try:
        import trig_helpers
    finally:
        sys.path.remove(str(path.parent))
    return trig_helpers


def _points():
    rng = np.random.default_rng(20261202)
    k = np.arange(1, 524288, 97)  # near multiples of pi/2, odd and even: cancellation
    return np.concatenate([
        rng.uniform(-10, 10, 6000), rng.uniform(-REACH, REACH, 6000),
        rng.uniform(-1e-3, 1e-3, 500), 10.0 ** rng.uniform(-300, 5.9, 1500),
        k * (np.pi / 2), -k * (np.pi / 2), np.nextafter(k * (np.pi / 2), 0),
        [0.0, -0.0, 5e-324, np.pi / 4, REACH, -REACH]])


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_within_one_ulp_of_the_true_value(helpers, name):
    """mpmath at 200 bits is the reference; fdlibm's own bound with this reduction is
    below one ulp (measured 0.76; libm 0.51 on the same points)."""
    points = _points()
    got = getattr(helpers, f"{name}_all")(points)
    truth = getattr(mpmath, name)
    worst = 0.0
    with mpmath.workprec(200):
        for x, value in zip(points.tolist(), got.tolist()):
            true = truth(mpmath.mpf(x))
            ulp = math.ulp(float(true)) if float(true) != 0 else 5e-324
            worst = max(worst, abs(float((mpmath.mpf(value) - true) / ulp)))
    assert worst < 1.0, f"{name}: {worst:.3f} ulp"


def test_signs_zeros_and_what_the_polynomials_cannot_take(helpers):
    assert math.copysign(1, helpers.sin_all(np.array([-0.0]))[0]) == -1
    assert helpers.cos_all(np.array([0.0]))[0] == 1.0
    for x in (REACH * 1.0000001, 1e300, np.inf, -np.inf, np.nan):
        assert helpers._beyond(x)
    for x in (0.0, REACH, -REACH, 1e-300):
        assert not helpers._beyond(x)


def _load(path, name):
    sys.path.insert(0, str(path.parent))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(path.parent))


def _emit(tmp_path, source, target, name, *args):
    from symdiff.cli import main

    program = tmp_path / f"{name}_src.py"
    program.write_text(source)
    out = tmp_path / f"{name}.py"
    assert main(["emit", f"{program}:{target}", *args, "-o", str(out)]) == 0
    return out


STEPS = '''import numpy as np


def steps(x):
    for _ in range(4):
        x = np.sin(x) * x + np.cos(x)
    return np.sum(x)
'''


def test_a_folded_loop_of_sines_runs_vectorised_and_falls_back_beyond_reach(tmp_path):
    out = _emit(tmp_path, STEPS, "steps", "fused_steps", "--shape", "x=n",
                "--backend", "numba")
    text = out.read_text()
    code = [line for line in text.split("def _check_inputs")[1].splitlines()
            if not line.lstrip().startswith("#")]
    assert not [line for line in code if "np.sin(" in line or "np.cos(" in line]
    assert "_sin(x, libm)" in text and "_cos(x, libm)" in text
    assert "if _fused[-1]:" in text
    module = _load(out, "fused_steps")
    f = _load(_emit(tmp_path, STEPS, "steps", "plain_steps", "--shape", "x=n"), "plain_steps")
    x = np.random.default_rng(0).uniform(-2, 2, 200)
    np.testing.assert_allclose(module.grad_steps(x), f.grad_steps(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(module.grad_steps(x),
                               central_difference(module.steps, (x,), 0), rtol=1e-5, atol=1e-6)
    # beyond reach, inf and nan: the kernel runs again on libm's sin and cos, and the
    # gradient passed in (the ones of the seed) is not the first run's result
    y = x.copy()
    y[3], y[7], y[11] = 3e6, np.inf, np.nan
    fallback = module.grad_steps(y)
    libm = module._grad_steps_k0(y, np.ones(y.size), True)[0]
    np.testing.assert_array_equal(fallback, libm)
    with np.errstate(invalid="ignore"):
        plain = f.grad_steps(y)
    np.testing.assert_allclose(fallback[:3], plain[:3], rtol=1e-8)  # (NumPy's own sin)
    assert np.isnan(fallback[7]) and np.isnan(fallback[11]) and np.isfinite(fallback[3])
    assert not module._grad_steps_k0(x, np.ones(x.size), None)[-1]
    assert module._grad_steps_k0(y, np.ones(y.size), None)[-1]


ELEMENTWISE = '''import numpy as np


def loss(x, w):
    return np.sum(np.sin(w * x) ** 2) + np.sum(np.cos(x[1:] - x[:-1]))
'''


def test_elementwise_kernels_with_slices_check_each_argument_once(tmp_path):
    out = _emit(tmp_path, ELEMENTWISE, "loss", "fused_elementwise", "--shape", "x=n",
                "--wrt", "x,w", "--backend", "numba")
    text = out.read_text()
    assert "wide += _beyond(" in text
    module = _load(out, "fused_elementwise")
    plain = _load(_emit(tmp_path, ELEMENTWISE, "loss", "plain_elementwise", "--shape", "x=n",
                        "--wrt", "x,w"), "plain_elementwise")
    x = np.random.default_rng(1).normal(size=50)
    for k, g in enumerate(module.grad_loss(x, 0.7)):
        np.testing.assert_allclose(g, central_difference(module.loss, (x, 0.7), k),
                                   rtol=1e-5, atol=1e-6)
    # 2e6*x is beyond reach: libm's path (finite differences mean nothing at that
    # frequency; NumPy's module is the reference)
    for g, want in zip(module.grad_loss(x, 2e6), plain.grad_loss(x, 2e6)):
        np.testing.assert_allclose(g, want, rtol=1e-9)


def test_float32_kernels_and_a_variable_named_like_the_flag_stay_right(tmp_path):
    import symdiff

    def f(x):
        return np.sum(np.sin(x) * x)

    g = symdiff.grad(f, backend="numba")
    x32 = np.linspace(-1, 1, 20, dtype=np.float32)
    got = g(x32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.sin(x32) + x32 * np.cos(x32), rtol=1e-5)

    source = "import numpy as np\n\n\ndef f(x):\n    wide = np.sin(x) * 2\n" \
             "    return np.sum(wide * x)\n"
    out = _emit(tmp_path, source, "f", "fused_wide", "--shape", "x=n", "--backend", "numba")
    module = _load(out, "fused_wide")
    x = np.linspace(-1, 1, 9)
    np.testing.assert_allclose(module.grad_f(x), 2 * np.sin(x) + 2 * x * np.cos(x),
                               rtol=1e-12)


LONG = '''import numpy as np


def loss(first_long_argument, second_long_argument, third_long_argument, fourth_argument):
    return np.sum(np.sin(first_long_argument * second_long_argument) * third_long_argument
                  * fourth_argument)
'''


def test_a_kernel_whose_signature_wraps_takes_libm_as_its_last_parameter(tmp_path):
    shapes = [f"--shape={n}=n" for n in ("first_long_argument", "second_long_argument",
                                         "third_long_argument", "fourth_argument")]
    out = _emit(tmp_path, LONG, "loss", "fused_long", *shapes, "--backend", "numba")
    assert "    libm,\n):\n    wide = 0" in out.read_text()
    module = _load(out, "fused_long")
    a, b, c, d = np.random.default_rng(3).normal(size=(4, 20))
    np.testing.assert_allclose(module.grad_loss(a, b, c, d), b * np.cos(a * b) * c * d,
                               rtol=1e-12)
