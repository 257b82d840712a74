"""Sparse x dense products at the GCN example's Cora sizes, tinyflow against torch: each
(workload, framework) in a process of its own, repeats interleaved (torch, tinyflow,
tinyflow, torch, ...), 2 threads. A step is the forward product and backward() to the dense
operand (and, for `values_grad`, to the values of a sparse tensor built in the step). Prints the median ms per step over repeats
(each repeat: the median of its timed steps), the spread (max-min over median) and the ratio
tinyflow/torch.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/sparse_mm.py
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# name: (rows, cols, nnz, dense columns, values need grad)
WORKLOADS = {"adjacency_x_hidden": (2708, 2708, 13264, 16, False),
             "features_x_weight": (2708, 1433, 49216, 16, False),
             "values_grad": (2708, 2708, 13264, 64, True)}
STEPS, WARMUP = 30, 3


def child(framework: str, name: str) -> None:
    import numpy as np
    if framework == "torch":
        import torch as lib
    else:
        sys.path.insert(0, ROOT)
        import tinyflow as lib
    rows, cols, nnz, n, values_grad = WORKLOADS[name]
    rng = np.random.default_rng(0)
    coords = np.stack([rng.integers(0, rows, nnz), rng.integers(0, cols, nnz)])
    values = lib.tensor(rng.random(nnz).astype(np.float32), requires_grad=values_grad)
    dense = lib.tensor(rng.standard_normal((cols, n)).astype(np.float32), requires_grad=True)
    fixed = lib.sparse_coo_tensor(coords, values, (rows, cols)).coalesce()
    times = []
    for step in range(WARMUP + STEPS):
        start = time.perf_counter()   # values_grad: the sparse tensor is built in the step
        a = lib.sparse_coo_tensor(coords, values, (rows, cols)) if values_grad else fixed
        out = lib.sparse.mm(a, dense)
        out.sum().backward()
        times.append(time.perf_counter() - start)
        dense.grad = None
        values.grad = None
    print(json.dumps({"ms": 1000 * statistics.median(times[WARMUP:])}))


def run(framework: str, name: str) -> float:
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2",
               NUMBA_NUM_THREADS="2")
    out = subprocess.run([sys.executable, __file__, "--child", framework, name], env=env,
                         capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["ms"]


def main(repeats: int = 3) -> None:
    print(f"{'workload':22s} {'torch ms':>9s} {'spread':>7s} {'tinyflow ms':>12s} {'spread':>7s} "
          f"{'ratio':>6s}")
    for name in WORKLOADS:
        ms = {"torch": [], "tinyflow": []}
        for r in range(repeats):
            order = ("torch", "tinyflow") if r % 2 == 0 else ("tinyflow", "torch")
            for fw in order:
                ms[fw].append(run(fw, name))
        med = {fw: statistics.median(v) for fw, v in ms.items()}
        spread = {fw: (max(v) - min(v)) / med[fw] for fw, v in ms.items()}
        print(f"{name:22s} {med['torch']:9.3f} {spread['torch']:7.0%} {med['tinyflow']:12.3f} "
              f"{spread['tinyflow']:7.0%} {med['tinyflow'] / med['torch']:6.3f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:4])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
