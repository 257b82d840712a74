"""compile(fn, search=True): the rewrite search's candidate table for Q/K/V projections
(three bias-free linear layers of one h, batch 256; merge_matmuls merges them by default)
and for the seed and MLP training steps, then the searched function against the default
compile, timed again call by call (medians of interleaved repeats).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/search.py

With OPENBLAS_NUM_THREADS=1 the products are far less sensitive to another process on the
second core (two BLAS threads wait for each other), so the Q/K/V rows are steadier.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jit import mlp_step, seed_step  # noqa: E402

BATCH, REPEATS, INNER, BUDGET_S = 256, 15, 10, 5.0


def qkv(lib, d):
    lib.manual_seed(0)
    q, k, v = (lib.nn.Linear(d, d, bias=False) for _ in range(3))
    h = lib.from_numpy(np.random.default_rng(0).standard_normal((BATCH, d))
                       .astype(np.float32))
    return (lambda h: (q(h), k(h), v(h))), (h,)


def timed(fn, args):
    start = time.perf_counter()
    for _ in range(INNER):
        fn(*args)
    return (time.perf_counter() - start) / INNER


def compare(name, make):
    """The search's table, then default compile vs searched compile, interleaved."""
    import tinyflow
    fn, args = make(tinyflow)
    default = tinyflow.compile(fn)
    searched = tinyflow.compile(fn, search=True, budget_s=BUDGET_S)
    with tinyflow.no_grad() if name.startswith("Q/K/V") else _nothing():
        searched(*args)
        default(*args)
        print(f"\n== {name}")
        print(searched.search_report)
        times = {"default": [], "searched": []}
        for _ in range(REPEATS):
            times["default"].append(timed(default, args))
            times["searched"].append(timed(searched, args))
    d, s = (statistics.median(times[k]) for k in ("default", "searched"))
    print(f"  re-timed per call ({REPEATS} interleaved repeats of {INNER}): default "
          f"{d * 1e3:.3f} ms, searched {s * 1e3:.3f} ms: {d / s:.2f}x")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main() -> None:
    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, load average "
          f"{os.getloadavg()[0]:.2f} (BLAS-bound rows swing with other processes' load: "
          f"the search measures the machine as it is)")
    for d in (256, 384, 512):
        compare(f"Q/K/V projections, batch {BATCH}, d {d}", lambda lib, d=d: qkv(lib, d))
    compare("seed step (softmax regression 784 -> 10, batch 100, SGD)", seed_step)
    compare("MLP step (784-256-10, batch 100, SGD)", mlp_step)


if __name__ == "__main__":
    main()
