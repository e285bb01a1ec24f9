"""Dtypes of generated code against NumPy's own (NEP 50 promotion), one row per way a
constant enters a traced computation: Python scalars are weak (they take the array's
dtype), NumPy scalars of every width, 0-d and n-d arrays, and arrays made inside the
function by np.ones/zeros/full/arange/linspace are strong. The generated forward
must return NumPy's dtype and value; every gradient has the dtype of its argument
(as in JAX) and agrees with central differences taken in float64."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from symdiff.compile import compile_gradient
from symdiff.verify import numerical_gradient

F16, F32, F64 = np.float16, np.float32, np.float64


@dataclass
class Case:
    name: str
    fn: Callable
    dtypes: tuple  # of the arguments; the float ones are differentiated
    shape: tuple = (3,)
    step: float | None = None  # of the central differences, when the function rounds


CASES = [
    # the reported defect: a float64 NumPy scalar widens float32 code
    Case("np_float64_scalar_times_f32", lambda x: np.sum(x * np.float64(0.1)), (F32,)),
    Case("np_float64_scalar_on_the_left", lambda x: np.sum(np.float64(0.1) * x), (F32,)),
    # Python scalars are weak
    Case("python_float_with_f32", lambda x: np.sum(x * 0.1 + 2.5), (F32,)),
    Case("python_int_with_f32", lambda x: np.sum(3 * x - 1), (F32,)),
    Case("python_float_division_f32", lambda x: np.sum(x / 3), (F32,)),
    Case("python_float_power_f32", lambda x: np.sum(x ** 2 + 2.0 ** x), (F32,)),
    # NumPy float scalars of every width
    Case("np_float16_scalar_with_f32", lambda x: np.sum(x * np.float16(0.5)), (F32,)),
    Case("np_float32_scalar_with_f32", lambda x: np.sum(x * np.float32(0.1)), (F32,)),
    Case("np_float32_scalar_with_f64", lambda x: np.sum(x * np.float32(0.1)), (F64,)),
    Case("np_float64_scalar_with_f16", lambda x: np.sum(x * np.float64(0.1)), (F16,)),
    Case("np_float64_scalar_added", lambda x: np.sum(np.exp(x + np.float64(0.25))), (F32,)),
    Case("np_float64_scalar_divides", lambda x: np.sum(np.float64(1) / (1 + x * x)), (F32,)),
    Case("np_float64_exponent", lambda x: np.sum(x ** np.float64(3)), (F32,)),
    Case("np_float64_base", lambda x: np.sum(np.float64(2) ** x), (F32,)),
    # NumPy integer scalars: int8/int16 fit in float32, wider ones need float64
    Case("np_int8_scalar_with_f32", lambda x: np.sum(x * np.int8(3)), (F32,)),
    Case("np_int16_scalar_with_f32", lambda x: np.sum(x * np.int16(3)), (F32,)),
    Case("np_int32_scalar_with_f32", lambda x: np.sum(x * np.int32(3)), (F32,)),
    Case("np_int64_scalar_with_f32", lambda x: np.sum(x * np.int64(3)), (F32,)),
    Case("np_uint8_scalar_with_f32", lambda x: np.sum(x + np.uint8(3)), (F32,)),
    Case("np_uint64_scalar_with_f32", lambda x: np.sum(x - np.uint64(3)), (F32,)),
    Case("np_int64_scalar_divides_f32", lambda x: np.sum(x / np.int64(2)), (F32,)),
    Case("np_int8_scalar_with_f16", lambda x: np.sum(x * np.int8(3)), (F16,)),
    # 0-d arrays are strong too
    Case("zero_d_float64_with_f32", lambda x: np.sum(x * np.array(0.1)), (F32,)),
    Case("zero_d_int32_with_f32", lambda x: np.sum(x * np.array(2, dtype=np.int32)), (F32,)),
    Case("zero_d_float32_with_f64", lambda x: np.sum(x * np.array(0.1, dtype=F32)), (F64,)),
    Case("np_full_zero_d", lambda x: np.sum(x + np.full((), 0.5)), (F32,)),
    # n-d constant arrays, made outside or inside the function
    Case("float64_array_with_f32", lambda x: np.sum(x * np.array([0.1, 0.2, 0.3])), (F32,)),
    Case("float32_array_with_f64", lambda x: np.sum(x * np.ones(3, dtype=F32)), (F64,)),
    Case("np_ones_default_with_f32", lambda x: np.sum(x * np.ones(3)), (F32,)),
    Case("np_ones_float32_with_f32", lambda x: np.sum(x * np.ones(3, F32)), (F32,)),
    Case("np_zeros_with_f32", lambda x: np.sum((x + np.zeros(3)) ** 2), (F32,)),
    Case("np_full_with_f32", lambda x: np.sum(x * np.full(3, 0.1)), (F32,)),
    Case("np_arange_int_with_f32", lambda x: np.sum(x * np.arange(3)), (F32,)),
    Case("np_arange_int16_with_f32", lambda x: np.sum(x * np.arange(3, dtype=np.int16)),
         (F32,)),
    Case("np_linspace_with_f32", lambda x: np.sum(x * np.linspace(0, 1, 3)), (F32,)),
    Case("np_linspace_float32_with_f64",
         lambda x: np.sum(x * np.linspace(0, 1, 3, dtype=F32)), (F64,)),
    Case("matrix_float64_with_f32", lambda x: np.sum(np.tanh(x @ np.eye(3) * 2)), (F32,)),
    Case("zeros_like_float64_of_f32",
         lambda x: np.sum(x * (np.zeros_like(x, dtype=F64) + 2)), (F32,)),
    # comparisons, np.where, clip and friends promote like arithmetic
    Case("where_with_float64_scalar",
         lambda x: np.sum(np.where(x > 0.5, x, np.float64(0.25))), (F32,)),
    Case("where_with_python_float", lambda x: np.sum(np.where(x > 0.5, x, 0.25)), (F32,)),
    Case("maximum_with_float64_scalar", lambda x: np.sum(np.maximum(x, np.float64(0.2))),
         (F32,)),
    Case("clip_with_float64_bounds",
         lambda x: np.sum(np.clip(x, np.float64(0.1), np.float64(0.9)) * x), (F32,)),
    # scalars meeting reductions, casts and other arguments
    Case("sum_then_float64_scalar", lambda x: np.sum(x) * np.float64(0.1), (F32,)),
    Case("mean_then_float32_scalar", lambda x: np.mean(x) * np.float32(2), (F32,)),
    Case("astype_float64", lambda x: np.sum(np.exp(x.astype(F64) * 0.1)), (F32,)),
    # (the function rounds to float32, so differences need a step well above its ulp)
    Case("astype_float32_of_f64", lambda x: np.sum(np.sin(x.astype(F32)) * 3), (F64,),
         step=1e-2),
    Case("float32_and_float64_arguments", lambda x, y: np.sum(x * y + np.sin(x)),
         (F32, F64)),
    Case("float64_and_float32_arguments", lambda x, y: np.sum((x - y) ** 2),
         (F64, F32)),
    Case("int8_argument_weak_float", lambda x, n: np.sum(x * (n * 0.5)), (F32, np.int8)),
    Case("int8_argument_float64_scalar",
         lambda x, n: np.sum(x * (n * np.float64(0.5))), (F32, np.int8)),
    Case("int16_argument_times_f32", lambda x, n: np.sum(x * n + x), (F32, np.int16)),
    Case("mask_times_weak_float", lambda x: np.sum((x > 0.3) * 0.5 * x), (F32,)),
    Case("mask_times_float32_scalar", lambda x: np.sum((x > 0.3) * np.float32(0.5) * x),
         (F32,)),
    Case("comparison_with_float64_scalar",
         lambda x: np.sum(np.where(x > np.float64(0.5), x, 0.0)), (F32,)),
    Case("dot_with_float64_scalar", lambda x: np.sum(np.dot(x, np.float64(2))), (F32,)),
    Case("stack_with_float64_scalar",
         lambda x: np.sum(np.stack([x[0], np.float64(2.0)]) ** 2), (F32,)),
    Case("concatenate_with_python_float",
         lambda x: np.sum(np.concatenate([x, [0.5]]) ** 2), (F32,)),
    Case("float32_arguments_float64_scalar",
         lambda x, y: np.sum(np.log1p(x * x) * y * np.float64(0.5)), (F32, F32)),
]


def _sample(case: Case) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.uniform(0.1, 0.9, size=case.shape).astype(dt) if np.dtype(dt).kind == "f"
            else rng.integers(1, 4, size=case.shape).astype(dt) for dt in case.dtypes]


def _wrt(case: Case) -> tuple[int, ...]:
    return tuple(i for i, dt in enumerate(case.dtypes) if np.dtype(dt).kind == "f")


def _tolerance(*dtypes, step=None) -> dict:
    """float32 tolerance (float16 where a float16 value is involved, or a step's)."""
    if step is not None or any(np.dtype(d) == np.float16 for d in dtypes):
        return {"rtol": 3e-3, "atol": 3e-3}
    return {"rtol": 2e-5, "atol": 2e-6}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_dtype_follows_numpy(case):
    args = _sample(case)
    argnums = _wrt(case)
    compiled = compile_gradient(case.fn, args, argnums)
    want = case.fn(*args)
    got = compiled.forward(*args)
    assert np.asarray(got).dtype == np.asarray(want).dtype, (
        f"{case.name}: generated forward gives {np.asarray(got).dtype}, NumPy "
        f"{np.asarray(want).dtype}")
    np.testing.assert_allclose(got, want, **_tolerance(want.dtype, *case.dtypes))
    value, grads = compiled.value_and_grad(*args)
    assert np.asarray(value).dtype == np.asarray(want).dtype
    for i, g in zip(argnums, compiled.grad(*args)):
        assert np.asarray(g).dtype == args[i].dtype, (
            f"{case.name}: d/d arg {i} has dtype {np.asarray(g).dtype}, the argument "
            f"{args[i].dtype}")
        wide = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in args]
        np.testing.assert_allclose(g, numerical_gradient(case.fn, wide, i, case.step),
                                   **_tolerance(*case.dtypes, step=case.step),
                                   err_msg=f"{case.name}: d/d arg {i}")
    for g, h in zip(grads, compiled.grad(*args)):
        assert np.asarray(g).dtype == np.asarray(h).dtype


@pytest.mark.parametrize("case", [c for c in CASES if len(c.dtypes) == 1],
                         ids=[c.name for c in CASES if len(c.dtypes) == 1])
def test_docstring_dtypes_are_the_returned_ones(case):
    """The dtypes the generated docstrings promise are the ones the code returns."""
    args = _sample(case)
    compiled = compile_gradient(case.fn, args, 0)
    value, grad = compiled.value_and_grad(*args)
    doc = compiled.value_and_grad.__doc__
    assert f"value: {np.asarray(value).dtype.name}, shape ()" in doc
    assert f"{np.asarray(grad).dtype.name}, shape {case.shape}" in doc


def test_derivative_kinds_keep_primal_dtypes():
    """Tangents have the dtype of the value they belong to, cotangents and Hessians
    that of the argument (the repro: a float32 argument, a float64 result)."""
    def f(x):
        return np.sum(np.tanh(x * np.float64(0.5)) ** 2)

    x = np.linspace(0.1, 0.9, 3).astype(F32)
    compiled = compile_gradient(f, [x], 0, kinds=("grad", "hessian", "jvp", "vjp"))
    assert compiled.function("hessian")(x).dtype == F32
    value, tangent = compiled.function("jvp")(x, np.ones(3, F32))
    assert np.asarray(value).dtype == np.asarray(tangent).dtype == F64
    np.testing.assert_allclose(tangent, np.sum(numerical_gradient(f, [x.astype(F64)])),
                               rtol=2e-5)
    (cotangent,) = compiled.function("vjp")(x, np.float64(1))
    assert cotangent.dtype == F32
