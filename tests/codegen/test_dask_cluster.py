"""The emitted logistic-regression and least-squares gradients on a dask.distributed
cluster of two worker processes, each allowed less memory than X takes: the gradient
streams X through the workers chunk by chunk, equals the same module's result on
NumPy arrays of the same data, and no worker's peak memory reaches its limit."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

from symdiff.compile import compile_gradient

if not pathlib.Path("/proc/self/status").exists():
    pytest.skip("reads the workers' peak memory from /proc (Linux)", allow_module_level=True)
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import dask  # noqa: E402  (after the skips: dask is an optional extra)

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROWS, COLS, CHUNK = 4_000_000, 10, 100_000  # X: 320 MB of float64 in 40 chunks of 8 MB
LIMIT = 250 * 2**20  # per worker: less than X (a worker process alone takes about 100 MB)


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"cluster_example_{name}",
                                                  ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _peak_rss() -> int:
    """Peak resident memory of this process (VmHWM: getrusage's ru_maxrss would carry
    the peak of the parent, the test process, over fork and exec)."""
    with open("/proc/self/status") as fh:
        kib = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    return int(kib) * 1024


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       memory_limit=LIMIT, dashboard_address=None)
    with cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def data():
    rng = da.random.default_rng(7)
    X = rng.normal(size=(ROWS, COLS), chunks=(CHUNK, COLS))
    w_true = np.linspace(-1.0, 1.0, COLS)
    logits = X @ w_true
    y = (rng.random(size=ROWS, chunks=CHUNK) < 1 / (1 + da.exp(-logits))).astype(np.float64)
    return X, y, X @ w_true + 0.5 + 0.1 * rng.normal(size=ROWS, chunks=CHUNK)


@pytest.mark.parametrize("example, target", [("logistic_regression", "y"),
                                             ("linear_regression", "t")])
def test_gradient_on_a_cluster_equals_numpy_and_stays_within_worker_memory(
        client, data, example, target):
    X, y, t = data
    assert X.nbytes > LIMIT
    loss = _example(example)
    rng = np.random.default_rng(0)
    w, b = 0.1 * rng.normal(size=COLS), 0.2
    small = rng.normal(size=(30, COLS))
    compiled = compile_gradient(loss.loss if example == "logistic_regression" else loss.mse,
                                (w, b, small, (small[:, 0] > 0).astype(float)), (0, 1),
                                dims="auto")
    labels = y if target == "y" else t
    lazy = compiled.value_and_grad(w, b, X, labels)
    assert isinstance(lazy[0], da.Array)
    futures = client.compute([lazy[0], *lazy[1]])
    distributed.wait(futures, timeout=240)  # (a worker paused for memory would hang)
    value, dw, db = client.gather(futures)

    # the same data as NumPy arrays, made by the same graph in this process
    X_np, labels_np = dask.compute(X, labels, scheduler="synchronous")
    e_value, (e_dw, e_db) = compiled.value_and_grad(w, b, X_np, labels_np)
    np.testing.assert_allclose(value, e_value, rtol=1e-12)
    np.testing.assert_allclose(dw, e_dw, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(db, e_db, rtol=1e-10, atol=1e-15)

    peaks = client.run(_peak_rss)
    assert len(peaks) == 2  # no worker was lost (a worker over its limit is restarted)
    print(f"peak resident memory of the workers: "
          f"{', '.join(f'{p / 2**20:.0f} MiB' for p in peaks.values())} (limit {LIMIT >> 20} MiB)")
    assert all(p < LIMIT for p in peaks.values()), peaks
