"""One product three ways, each in a process of its own, repeats interleaved: NumPy's matmul
(its bundled OpenBLAS), tinyflow's matmul kernel (the same OpenBLAS, plus the kernel's
checks) and torch.mm (MKL with torch's own threads). Shapes are the products of the
harness's models: the GPT's (rows B*T = 2048), the MLP's (batch 128) and their weight
gradients. Prints per shape the median µs over processes, their spread (±% =
(max-min)/median) and GFLOP/s; threads as --threads sets them for every library, e.g.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/gemm.py --threads 2

This is where the GEMM-bound rows' gap to torch comes from (docs/BENCHMARKS.md); MKL in
tinyflow was tried and not kept (docs/ARCHITECTURE.md, "Products").
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import harness  # bench/: the process runner shared by the benchmarks

SHAPES = [(2048, 256, 768), (2048, 256, 256), (2048, 256, 1024), (2048, 1024, 256),
          (256, 2048, 768), (128, 784, 1024), (128, 1024, 1024), (1024, 128, 784)]
FRAMEWORKS = ("numpy", "tinyflow", "torch")


def worker(framework: str) -> dict:
    """Median seconds per product for every shape, in this process."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if framework == "tinyflow":
        import tinyflow  # noqa: F401  (first: it sets OpenBLAS's thread timeout)
        from tinyflow.backend.numpy import linalg
        from tinyflow.ops import linalg as ops
        op = ops.MatMul(transpose_a=False, transpose_b=False)

        def product(a, b, out):
            linalg.matmul(op, a, b, out=out)
    elif framework == "torch":
        import torch
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

        def product(a, b, out):
            torch.mm(a, b, out=out)
    import numpy as np
    if framework == "numpy":
        def product(a, b, out):
            np.matmul(a, b, out=out)
    rng = np.random.default_rng(0)
    times = {}
    for m, k, n in SHAPES:
        a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
        out = np.empty((m, n), np.float32)
        if framework == "torch":
            import torch
            a, b, out = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
        reps = max(3, int(4e8 / (2 * m * k * n)))
        for _ in range(3):
            product(a, b, out)
        samples = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(reps):
                product(a, b, out)
            samples.append((time.perf_counter() - start) / reps)
        times[f"{m}x{k}x{n}"] = statistics.median(samples)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"threads={args.threads}; load average at start {os.getloadavg()[0]:.2f}")
    results = {fw: [] for fw in FRAMEWORKS}
    for r in range(args.repeats):
        for fw in (FRAMEWORKS if r % 2 == 0 else FRAMEWORKS[::-1]):
            results[fw].append(harness.json_worker(__file__, ["--worker", fw], args.threads))
    print(f"{'m x k x n':18}" + "".join(f"{fw + ' us':>14}{'±%':>5}{'GF/s':>7}"
                                        for fw in FRAMEWORKS)
          + f"{'numpy/tf':>10}{'tf/torch':>10}")
    for m, k, n in SHAPES:
        key = f"{m}x{k}x{n}"
        runs = {fw: [run[key] for run in results[fw]] for fw in FRAMEWORKS}
        med = {fw: statistics.median(runs[fw]) for fw in FRAMEWORKS}
        cells = "".join(f"{med[fw] * 1e6:14.1f}"
                        f"{(max(runs[fw]) - min(runs[fw])) / med[fw] * 100:5.0f}"
                        f"{2 * m * k * n / med[fw] / 1e9:7.1f}" for fw in FRAMEWORKS)
        print(f"{key:18}{cells}{med['numpy'] / med['tinyflow']:10.2f}"
              f"{med['tinyflow'] / med['torch']:10.2f}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2])))
    else:
        main()
