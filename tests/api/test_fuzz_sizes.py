"""Random NumPy programs compiled once with symbolic sizes (the decorators' default),
then run at larger sizes than they were traced at: the value against NumPy, the
gradient against finite differences (programs and checks of fuzz_strategies.py)."""

import warnings

import numpy as np
from fuzz_strategies import _call, finite_difference, programs
from hypothesis import HealthCheck, given, settings

import symdiff
from symdiff.ir import dims


def _grown(specs, args, extra: int):
    """The arguments with every symbolic size `extra` larger (values repeated by
    np.resize, so they stay in the program's domain, and moved by up to 5% so
    that no two are equal: a tie of np.max has no derivative to compare); None
    without symbolic sizes."""
    rng = np.random.default_rng(0)
    sizes = {}
    for spec, a in zip(specs, args):
        if spec.traced:
            for d, size in zip(spec.shape, np.shape(a)):
                if dims.is_symbolic(d) and d.is_Symbol:
                    sizes[d] = size + extra
    if not sizes:
        return None
    return [_moved(np.resize(a, dims.instantiate(spec.shape, sizes)), rng)
            if spec.traced and isinstance(a, np.ndarray) else a
            for spec, a in zip(specs, args)]


def _moved(a: np.ndarray, rng) -> np.ndarray:
    if a.dtype.kind != "f":
        return a
    return (a * (1 + 0.05 * rng.uniform(-1, 1, a.shape))).astype(a.dtype)


def check_at_other_sizes(program) -> str | None:
    if program.reference is not None:
        # differences of a program with stop_gradient (or a stable naive form) run a
        # reference holding values at the traced sizes: no reference at other sizes
        return None
    f = program.function()
    args = [np.array(a) if isinstance(a, np.ndarray) else a for a in program.args]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", symdiff.CapturedArrayWarning)
        compiled = symdiff.value_and_grad(f, argnums=program.argnums).compile(*args)
        new = _grown(compiled.specs, args, 3)
        if new is None:
            return None
        try:
            want = _call(f, new)
        except ValueError:  # (np.split into 2 of 5): the module must refuse them too
            try:
                compiled.value_and_grad(*new)
            except ValueError:
                return None
            return "NumPy raises ValueError at the larger sizes, the module does not"
        value, grads = compiled.value_and_grad(*new)
    single = any(getattr(a, "dtype", None) == np.float32 for a in new)
    rtol = 1e-4 if single else 1e-8
    if not np.isclose(value, want, rtol=rtol, atol=rtol, equal_nan=True):
        return f"value {value!r} != NumPy's {want!r} at the larger sizes"
    for i, g in zip(program.argnums, grads):
        if np.size(g) > 2000:
            continue
        with np.errstate(all="ignore"):
            fd1 = finite_difference(f, tuple(new), i, 1e-2 if single else 1e-3)
            fd2 = finite_difference(f, tuple(new), i, 5e-3 if single else 5e-4)
        tol = (1e-3 if single else 1e-6) * (1 + np.abs(fd2)) + 30 * np.abs(fd1 - fd2)
        g = np.asarray(g, dtype=np.float64)
        if np.shape(g) != np.shape(fd2) or np.any(~(np.abs(g - fd2) <= tol) & np.isfinite(fd2)):
            return f"gradient of argument {i} at the larger sizes: {g!r} vs {fd2!r}"
    return None


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck), print_blob=True)
@given(programs())
def test_random_programs_are_right_at_sizes_they_were_not_traced_at(program):
    problem = check_at_other_sizes(program)
    assert problem is None, f"{program!r}\n{problem}"
