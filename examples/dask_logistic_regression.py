"""Logistic regression on a Dask array larger than a worker's memory, trained by
gradient descent with symdiff's generated gradient on a dask.distributed cluster.

    python examples/dask_logistic_regression.py                  # a local 2-worker cluster
    python examples/dask_logistic_regression.py --rows 2e8       # 16 GB of X
    python examples/dask_logistic_regression.py --scheduler tcp://HOST:8786  # a real cluster

The gradient module is generated once, from 30 rows of example data, for every number
of rows `n` (symbolic sizes): it reads `n` from X and runs unchanged on Dask arrays,
since NumPy hands every call of it to Dask. X is never held whole anywhere: each step
streams its chunks through the workers, whose memory limit is below X's size. On a real
cluster, start `dask scheduler` and `dask worker tcp://HOST:8786` on the machines and
pass the scheduler's address; X is then made on the workers as here (or read with
`dask.array.from_zarr` and the like). Needs the `dask` extra:
`pip install 'symdiff[dask]'`. Writes no files.
"""

import argparse
import time

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

import symdiff


def loss(w, b, X, y):
    """Mean cross-entropy of a linear model's sigmoid (as in logistic_regression.py)."""
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def make_data(rows: int, cols: int, chunk: int, seed: int = 0):
    """Features and 0/1 labels drawn on the workers, chunk by chunk."""
    rng = da.random.default_rng(seed)
    X = rng.normal(size=(rows, cols), chunks=(chunk, cols))
    w_true = np.linspace(-2.0, 2.0, cols)
    p = 1 / (1 + da.exp(-(X @ w_true - 0.5)))
    y = (rng.random(size=rows, chunks=chunk) < p).astype(np.float64)
    return X, y, w_true


def gradient_module(cols: int):
    """value_and_grad of `loss` for any number of rows, generated from a small example."""
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(30, cols))
    ys = (rng.random(30) < 0.5).astype(np.float64)
    compiled = symdiff.compile_gradient(loss, (np.zeros(cols), 0.0, Xs, ys), (0, 1),
                                        dims="auto")
    return compiled.value_and_grad


def train(client, X, y, steps: int, lr: float):
    value_and_grad = gradient_module(X.shape[1])
    w, b = np.zeros(X.shape[1]), 0.0
    for step in range(1, steps + 1):
        start = time.perf_counter()
        value, (dw, db) = value_and_grad(w, b, X, y)  # lazy: a Dask graph
        value, dw, db = dask.compute(value, dw, db)  # runs on the cluster
        w, b = w - lr * dw, b - lr * float(db)
        print(f"step {step:2d}  loss {float(value):.6f}  |grad| "
              f"{np.sqrt(np.sum(dw**2) + db**2):.2e}  ({time.perf_counter() - start:.1f} s)",
              flush=True)
    return w, b


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e7, help="rows of X (default 1e7)")
    parser.add_argument("--cols", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=250_000, help="rows per chunk")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--lr", type=float, default=2.0)
    parser.add_argument("--memory-limit", default="400MiB",
                        help="per worker of the local cluster (default 400MiB)")
    parser.add_argument("--scheduler", help="address of a running cluster's scheduler, "
                        "e.g. tcp://10.0.0.5:8786 (default: start a local 2-worker cluster)")
    ns = parser.parse_args(argv)
    if ns.scheduler:
        client, cluster = Client(ns.scheduler), None
    else:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=ns.memory_limit,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        X, y, w_true = make_data(int(ns.rows), ns.cols, ns.chunk)
        limits = [w["memory_limit"] / 2**20 for w in client.scheduler_info()["workers"].values()]
        print(f"X: {X.shape[0]:,} x {X.shape[1]} float64, {X.nbytes / 2**30:.2f} GiB in "
              f"{X.npartitions} chunks; worker memory limits: "
              f"{', '.join(f'{m:.0f} MiB' for m in limits)}")
        w, b = train(client, X, y, ns.steps, ns.lr)
        print(f"fitted w: {np.round(w, 2)}, b: {b:.2f}")
        print(f"true   w: {np.round(w_true, 2)}, b: -0.5")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()
