"""Where the batch-1 MLP's eager step (mlp_infer_b1's 784-H-H-10 under no_grad, sum().item())
spends its time against NumPy by hand, by hidden size H, in one process: the step, the time
inside its kernels (each Affine, Relu and Sum kernel call timed by the wall clock), the rest
(the Python dispatch around them), the same kernels called directly on the same arrays, and
NumPy by hand (bench/models/mlp_numpy.py, its own arrays of the same shapes); medians over
steps, rounds alternating the three.

What it showed (2026-12-07, session 26, one thread, load 5.6 from other work; us, medians):
the kernels in the step take what they take called directly and about what NumPy's step
takes (H=1024: 639 / 628 / 610; the kernels in the step include the Sum kernel and the
clock), so the kernels add no memory traffic of their own (no transposed copy, no bias
pass; a one-row product as ?gemm with beta 1 instead of NumPy's ?gemv was 5-7x slower). The
dispatch is what differs, and it costs more the larger the weights: 49 us at H=16 (all in
cache), 65 at 512, 115 at 768, 131 at 1024, 154 at 1280 (at load 1.5, the step less the
direct kernels: 38, 45, 68, 103, 87). The same 20 Python functions (77 calls) run at every
size; the products stream the weights (7.3 MB at 1024) through the 1 MB L2 and the 8 MB L3,
so the dispatch's code and objects come back from memory after each product. Closing the
gap to NumPy means a dispatch that touches fewer cache lines, not a different kernel.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
        NUMBA_NUM_THREADS=1 .venv/bin/python bench/infer_split.py --hidden 16,512,1024
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

import tinyflow as torch
import tinyflow.nn as nn
import tinyflow.nn.functional as F
from tinyflow.ops import linalg, math, reduce

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import mlp_numpy  # noqa: E402  (bench/models: NumPy by hand, at any size)

_inside = [0.0]   # seconds inside kernels during the current step


def _clocked(cls):
    """Times every eager kernel call of op class `cls`; returns the kernel it wrapped."""
    kernel = cls._eager_kernel

    def run(op, *arrays, **out):
        start = time.perf_counter()
        result = kernel(op, *arrays, **out)
        _inside[0] += time.perf_counter() - start
        return result
    cls._eager_kernel = run
    return kernel


def measure(hidden: int, steps: int) -> dict:
    """Median us per step of the eager step, its kernels, its dispatch, the kernels called
    directly and NumPy by hand, at one hidden size."""
    affine, relu, sum_ = (_clocked(cls) for cls in (linalg.Affine, math.Relu, reduce.Sum))
    model = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                          nn.ReLU(), nn.Linear(hidden, 10)).eval()
    layers = [(m.weight.detach().numpy(), m.bias.detach().numpy()) for m in model[::2]]
    array = np.random.default_rng(0).random(784, dtype=np.float32)
    x = torch.from_numpy(array)

    def eager():
        with torch.no_grad():
            return model(x).sum().item()

    def kernels():
        h = array
        for i, (w, b) in enumerate(layers):
            h = affine(F._AFFINE, h, w, b)
            if i < len(layers) - 1:
                h = relu(F._RELU, h)
        return float(h.sum())

    by_hand = mlp_numpy.mlp_infer_b1((784, hidden, hidden, 10))   # its own arrays

    times = {"step": [], "kernels in step": [], "dispatch": [], "kernels direct": [],
             "numpy": []}
    for i in range(100 + steps):
        _inside[0] = 0.0
        start = time.perf_counter()
        eager()
        step, inside = time.perf_counter() - start, _inside[0]
        start = time.perf_counter()
        kernels()
        direct = time.perf_counter() - start
        start = time.perf_counter()
        by_hand()
        hand = time.perf_counter() - start
        if i >= 100:
            for key, value in zip(times, (step, inside, step - inside, direct, hand)):
                times[key].append(value)
    linalg.Affine._eager_kernel, math.Relu._eager_kernel = affine, relu
    reduce.Sum._eager_kernel = sum_
    return {key: statistics.median(v) * 1e6 for key, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", default="16,512,1024,1280")
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    for hidden in map(int, args.hidden.split(",")):
        row = measure(hidden, args.steps)
        print(f"H={hidden:5d} " + "  ".join(f"{k} {v:7.1f}" for k, v in row.items()),
              flush=True)


if __name__ == "__main__":
    main()
