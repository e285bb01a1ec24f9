"""Python `for` loops fold into one loop node while tracing, or stay unrolled (and
correct) when their iterations differ; bad loops never give a wrong gradient."""

import numpy as np

import symdiff
from symdiff.ir.graph import dce
from symdiff.ir.loops import LOOP
from symdiff.trace.args import describe_args
from symdiff.trace.function import trace
from symdiff.trace.loops import FOLD_MIN_STEPS
from symdiff.verify.numerical import numerical_gradient


def traced(fn, *args):
    return trace(fn, describe_args(fn, args, (0,)))


def loops_in(graph):
    return [n.p["loop"] for n in graph.nodes if n.op == LOOP]


def check_grad(fn, *args, argnums=0):
    """symdiff's gradient against central differences of the plain function."""
    nums = (argnums,) if isinstance(argnums, int) else argnums
    got = symdiff.grad(fn, argnums=nums)(*args)
    for i, g in zip(nums, got):
        np.testing.assert_allclose(g, numerical_gradient(fn, list(args), i),
                                   rtol=1e-6, atol=1e-8)


def damped(x, steps):
    for _ in range(steps):
        x = 0.9 * x + 0.1 * np.sin(x)
    return np.sum(x)


def test_a_range_loop_folds_into_one_node_of_the_trace():
    graph = traced(damped, np.ones(3), 100)
    (loop,) = loops_in(graph)
    assert (loop.start, loop.stop, loop.n_carry) == (0, 100, 1)
    assert len(graph.nodes) < 10  # one body, not 100 copies
    assert len(loop.body.nodes) < 8


def test_short_loops_stay_unrolled():
    assert not loops_in(traced(damped, np.ones(3), FOLD_MIN_STEPS - 1))
    assert loops_in(traced(damped, np.ones(3), FOLD_MIN_STEPS))


def test_rows_of_an_array_and_enumerate_zip_fold():
    def f(w, X, Y):
        total = 0.0
        for i, (x, y) in enumerate(zip(X, Y)):
            total = total + (x @ w - y) ** 2 * (i + 1)
        return total

    rng = np.random.default_rng(0)
    args = (rng.normal(size=3), rng.normal(size=(12, 3)), rng.normal(size=12))
    graph = trace(f, describe_args(f, args, (0,)))
    assert len(loops_in(graph)) == 1
    check_grad(f, *args)


def test_loop_index_arithmetic_folds():
    def f(a, n):
        x = np.zeros_like(a)
        for t in range(n):
            x = x + np.cos(a * t * 0.1) / (t + 1)
        return np.sum(x)

    assert loops_in(traced(f, np.ones(2), 30))
    check_grad(f, np.array([0.3, -1.2]), 30)


def test_iterations_that_differ_stay_unrolled_and_are_right():
    def f(x):
        for t in range(12):
            if t % 2:
                x = np.sin(x)
            else:
                x = x * 1.5
        return np.sum(x)

    assert not loops_in(traced(f, np.ones(2)))
    check_grad(f, np.array([0.2, 0.7]))


def test_a_carried_value_that_changes_shape_stays_unrolled():
    def f(x):
        for _ in range(6):
            x = np.concatenate([x, np.sin(x[-1:])])
        return np.sum(x**2)

    assert not loops_in(traced(f, np.ones(2)))
    check_grad(f, np.array([0.3, -0.4]))


def test_break_on_a_concrete_condition_stays_unrolled():
    def f(x):
        for t in range(20):
            if t == 7:
                break
            x = np.tanh(x) + 0.5
        return np.sum(x)

    assert not loops_in(traced(f, np.ones(2)))
    check_grad(f, np.array([0.1, -0.6]))


def test_a_loop_over_a_generator_stays_unrolled():
    def f(x):
        total = 0.0
        for v in (x[i] ** 2 for i in range(8)):
            total = total + np.sin(v)
        return total

    assert not loops_in(traced(f, np.ones(8)))
    check_grad(f, np.linspace(-1, 1, 8))


def test_a_loop_filling_a_list_stays_unrolled():
    def f(x, W):
        h, hs = x, []
        for _ in range(10):
            h = np.tanh(W @ h)
            hs.append(h)
        return np.sum(np.stack(hs) ** 2)

    rng = np.random.default_rng(1)
    args = (rng.normal(size=3), rng.normal(size=(3, 3)) / 2)
    assert not loops_in(traced(f, *args))
    check_grad(f, *args, argnums=(0, 1))


def test_a_loop_filling_a_traced_buffer_folds():
    def f(x, n):
        out = np.zeros_like(x, shape=(n, x.shape[0]))
        for t in range(n):
            x = np.sin(x) + 0.1 * t
            out[t] = x
        return np.sum(out**2)

    assert loops_in(traced(f, np.ones(3), 9))
    check_grad(f, np.array([0.2, 0.5, -0.3]), 9)


def test_a_python_counter_in_the_loop_stays_unrolled():
    def f(x):
        count = 0
        for _ in range(8):
            x = np.cos(x)
            count += 1
        return np.sum(x) / count

    assert not loops_in(traced(f, np.ones(2)))
    check_grad(f, np.array([0.4, 1.1]))


def test_an_if_on_a_traced_value_in_a_loop_unrolls_the_loop():
    def f(x):
        for _ in range(10):
            if np.sum(x) > 0:
                x = x - 1
        return np.sum(x)

    # the loop is traced unrolled and specialised to the path taken: by hand, x drops
    # by 1 until its sum is <= 0, and the gradient is 1 per element
    value_and_grad = symdiff.value_and_grad(f)
    for x, value in ((np.ones(2), 0.0), (np.array([5.0, 1.0]), 0.0), (-np.ones(2), -2.0)):
        got, grad = value_and_grad(x)
        assert got == value == f(x)
        np.testing.assert_array_equal(grad, np.ones(2))
    assert not loops_in(value_and_grad.compile(np.ones(2)).graph)


def test_a_loop_variable_read_after_the_loop_has_its_last_value():
    def f(x):
        for t in range(10):
            x = x * 0.5 + t
        return np.sum(x) * t

    assert loops_in(traced(f, np.ones(2)))
    check_grad(f, np.array([1.0, 2.0]))
    np.testing.assert_allclose(symdiff.value_and_grad(f)(np.array([1.0, 2.0]))[0],
                               f(np.array([1.0, 2.0])))


def test_a_loop_in_a_helper_function_folds():
    def step(x, W):
        return np.tanh(W @ x)

    def run(x, W, n):
        for _ in range(n):
            x = step(x, W)
        return x

    def f(x, W):
        return np.sum(run(x, W, 25) ** 2)

    rng = np.random.default_rng(2)
    args = (rng.normal(size=4), rng.normal(size=(4, 4)) / 2)
    assert loops_in(trace(f, describe_args(f, args, (0,))))
    check_grad(f, *args, argnums=(0, 1))


def test_a_scalar_accumulator_that_becomes_a_vector_folds_after_iteration_0():
    def f(x, X):
        acc = 0.0
        for t in range(10):
            acc = acc + np.cos(x * t) * X[t]
        return np.sum(np.sin(acc))

    args = (np.array([0.1, 0.2, 0.3]), np.linspace(-1, 1, 30).reshape(10, 3))
    (loop,) = loops_in(dce(trace(f, describe_args(f, args, (0,)))))
    assert (loop.start, loop.stop) == (1, 10)
    check_grad(f, *args, argnums=(0, 1))
    assert "for t in range(1, 10):" in symdiff.grad(f).compile(*args).source


def test_values_carried_two_iterations_back():
    """Verlet-style recurrence: the old value is handed on while the new one is made."""
    def f(x0, k):
        x_prev, x = x0, x0 + 0.01
        for _ in range(40):
            x_prev, x = x, 2 * x - x_prev - 0.01 * k * np.sin(x)
        return np.sum(x**2) + np.sum(x_prev)

    args = (np.array([0.3, -0.2]), np.array([1.0, 2.0]))
    assert loops_in(trace(f, describe_args(f, args, (0,))))
    check_grad(f, *args, argnums=(0, 1))
    source = symdiff.grad(f, argnums=(0, 1)).compile(*args).source
    assert "x_prev, x = x, " in source or "x, x_prev = " in source


def test_swapped_values():
    def f(a, b):
        for _ in range(9):
            a, b = b, a * 0.5 + np.cos(b)
        return np.sum(a * b)

    check_grad(f, np.array([0.3, 0.1]), np.array([1.0, -1.0]), argnums=(0, 1))


def _inner_steps(x, W):
    for _ in range(5):
        x = np.tanh(W @ x) * 0.9 + 0.1 * x
    return x


def test_a_loop_inside_a_folded_loop_folds_in_its_body():
    def f(x, W):
        for i in range(6):
            x = _inner_steps(x, W) + 0.01 * i
        return np.sum(x**2)

    def g(x, W):
        for i in range(6):
            for _ in range(5):
                x = np.tanh(W @ x) * 0.9 + 0.1 * x
            x = x + 0.01 * i
        return np.sum(x**2)

    rng = np.random.default_rng(0)
    args = (rng.normal(size=3), rng.normal(size=(3, 3)))
    for fn in (f, g):  # (the inner loop in a helper, and in the same function)
        (loop,) = loops_in(dce(trace(fn, describe_args(fn, args, (0,)))))
        (inner,) = loops_in(loop.body)
        assert (loop.length, inner.length) == (6, 5)
        check_grad(fn, *args, argnums=(0, 1))
