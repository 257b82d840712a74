"""The fused LSTM's kernels alone (backend/numpy/rnn.py: lstm, then lstm_grad of a loss on
h_n), in one process, at H 256, batch 32, 50 steps, float32, interleaved per repeat:
"python" (a Python loop over steps: NumPy's matmul, then the Numba cell; the path taken
when NumPy's OpenBLAS has no 64-bit CBLAS gemm), "numba" (each recurrence one Numba call
that calls ?gemm itself, not cut; each step's product in OpenBLAS's small-matrix blocks,
`rnn._blocks`, which OpenBLAS runs on one thread), "unblocked" (the same with each step's
product one ?gemm call, on OpenBLAS's threads), "rows" (the blocked call once per half of
the hidden rows on the kernel pool's two threads, each step's pieces first come, first served) and
"pool" (once per 16-column batch half, its column floor lowered). Prints median and best
wall ms and CPU ms (all threads) per forward + backward. Threads as the environment sets
them, e.g.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 \\
        .venv/bin/python bench/lstm_kernel.py --repeats 20
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinyflow  # noqa: E402,F401  (first: it sets OpenBLAS's thread timeout for the pool)
import numpy as np  # noqa: E402
from tinyflow.backend.numpy import blas, parallel, rnn as kernels  # noqa: E402
from tinyflow.ops import rnn  # noqa: E402

HIDDEN, BATCH, STEPS = 256, 32, 50
MODES = ("python", "numba", "unblocked", "rows", "pool")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    xw = rng.standard_normal((4 * HIDDEN, STEPS * BATCH), dtype=np.float32)
    h0 = np.zeros((BATCH, HIDDEN), np.float32)
    w_hh = rng.standard_normal((4 * HIDDEN, HIDDEN), dtype=np.float32) * 0.05
    bias = rng.standard_normal(4 * HIDDEN, dtype=np.float32)
    forward, backward = rnn.Lstm(hidden=HIDDEN), rnn.LstmGrad(hidden=HIDDEN)
    address, threads, floor = blas.gemm_address, parallel.threads, kernels.MIN_PIECE_COLUMNS
    blocks = kernels._blocks

    def step(mode):
        blas.gemm_address = address if mode != "python" else (lambda dtype: None)
        parallel.threads = threads if mode in ("rows", "pool") else (lambda: 1)
        kernels.MIN_PIECE_COLUMNS = kernels.COLUMN_BLOCK if mode == "pool" else floor
        kernels._blocks = (lambda m, n, k: (m, k)) if mode == "unblocked" else blocks
        out = kernels.lstm(forward, xw, h0, h0, w_hh, bias)
        g = np.zeros((STEPS + 1, 2, HIDDEN, BATCH), np.float32)
        g[-1, 0] = 1
        kernels.lstm_grad(backward, g, out, w_hh)
    times = {mode: ([], []) for mode in MODES}
    for mode in MODES:
        step(mode)
    for _ in range(args.repeats):
        for mode in MODES:
            start, start_cpu = time.perf_counter(), time.process_time()
            step(mode)
            times[mode][0].append((time.perf_counter() - start) * 1e3)
            times[mode][1].append((time.process_time() - start_cpu) * 1e3)
    print(f"lstm + lstm_grad kernels, H {HIDDEN}, batch {BATCH}, {STEPS} steps; kernel threads "
          f"{threads()}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '-')}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'mode':8} {'wall ms':>9} {'best':>8} {'cpu ms':>8} {'best':>8}")
    for mode, (wall, cpu) in times.items():
        print(f"{mode:8} {statistics.median(wall):9.2f} {min(wall):8.2f} "
              f"{statistics.median(cpu):8.2f} {min(cpu):8.2f}")


if __name__ == "__main__":
    main()
