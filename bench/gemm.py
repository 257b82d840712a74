"""The products the harness's models issue, each timed three ways, each way in a process of
its own, repeats interleaved: NumPy's matmul (its bundled OpenBLAS), tinyflow's matmul kernel
(the same OpenBLAS, with the kernel's choices: the batch on the kernel pool, ...) and
torch.matmul (MKL with torch's own threads). Each product has the shapes and the memory
layout the model gives it (`--trace` lists them again from the models): "N" a row-major
matrix, "T" a transposed one (a weight read as W^T, activations as X^T: passed as a
transpose flag), "heads" nanoGPT's [B, H, T, hd] view of the [B, T, 3C] projection (rows
3C apart), "dheads" the same view of a [B, T, C] gradient, "Theads" a transposed "heads".
Products named "+b" are linear layers with a bias: tinyflow's affine kernel, torch.addmm,
NumPy's matmul and an add. `--split` adds a fourth way, to decide whether the kernel pool
should cut large products: 2-D ones in two halves on the pool, one BLAS thread each.

Prints per product the median µs over processes, their spread (±% = (max-min)/median),
GFLOP/s and the ratios. `--clock cpu` uses each process's CPU time (all threads) instead of
the wall clock: at --threads 1 the cleanest measure of work on a shared machine; `--clock
alone` the median of single calls during which no thread of the process was preempted: on a
loaded machine the nearest to a quiet one's two-thread time (a pool thread waiting for a
core after it is woken is not preempted: `--split` and batched products still pay that).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/gemm.py --threads 2
    ... bench/gemm.py --threads 1 --only mlp,lstm --clock cpu
    ... bench/gemm.py --threads 2 --split --clock alone
    ... bench/gemm.py --trace gpt gpt_manual_tanh      # the products one step issues

MKL in tinyflow was tried and not kept (docs/ARCHITECTURE.md, "Products").
"""
from __future__ import annotations

import argparse
import collections
import importlib
import json
import math
import os
import resource
import statistics
import sys
import time

import harness  # bench/: the process runner shared by the benchmarks

HERE = os.path.dirname(os.path.abspath(__file__))
B, H, T, HD = 8, 4, 128, 64    # gpt_manual_tanh's attention: batch, heads, sequence, head size
GPT, MLP = 2048, 128           # rows of gpt4_b16's linear layers (16 x 128) and mlp_train's
LSTM_B, LSTM_T, LSTM_F, LSTM_H = 32, 50, 128, 256

# (name, batch, m, k, n, layout of a, layout of b): a [m, k] @ b [k, n] per batch entry
PRODUCTS = [
    ("gpt qkv x@W^T+b", (), GPT, 256, 768, "N", "T"),
    ("gpt proj x@W^T+b", (), GPT, 256, 256, "N", "T"),
    ("gpt fc x@W^T+b", (), GPT, 256, 1024, "N", "T"),
    ("gpt fc2 x@W^T+b", (), GPT, 1024, 256, "N", "T"),
    ("gpt head x@W^T", (), GPT, 256, 256, "N", "T"),
    ("gpt qkv dy@W", (), GPT, 768, 256, "N", "N"),
    ("gpt proj dy@W", (), GPT, 256, 256, "N", "N"),
    ("gpt fc dy@W", (), GPT, 1024, 256, "N", "N"),
    ("gpt fc2 dy@W", (), GPT, 256, 1024, "N", "N"),
    ("gpt qkv dy^T@x", (), 768, GPT, 256, "T", "N"),
    ("gpt proj dy^T@x", (), 256, GPT, 256, "T", "N"),
    ("gpt fc dy^T@x", (), 1024, GPT, 256, "T", "N"),
    ("gpt fc2 dy^T@x", (), 256, GPT, 1024, "T", "N"),
    ("attn q@k^T", (B, H), T, HD, T, "heads", "Theads"),
    ("attn p@v", (B, H), T, T, HD, "N", "heads"),
    ("attn dy@v^T", (B, H), T, HD, T, "dheads", "Theads"),
    ("attn p^T@dy", (B, H), T, T, HD, "T", "dheads"),
    ("attn ds@k", (B, H), T, T, HD, "N", "heads"),
    ("attn ds^T@q", (B, H), T, T, HD, "T", "heads"),
    ("mlp fc1 x@W^T+b", (), MLP, 784, 1024, "N", "T"),
    ("mlp fc2 x@W^T+b", (), MLP, 1024, 1024, "N", "T"),
    ("mlp fc3 x@W^T+b", (), MLP, 1024, 10, "N", "T"),
    ("mlp fc2 dy@W", (), MLP, 1024, 1024, "N", "N"),
    ("mlp fc3 dy@W", (), MLP, 10, 1024, "N", "N"),
    ("mlp fc1 dy^T@x", (), 1024, MLP, 784, "T", "N"),
    ("mlp fc2 dy^T@x", (), 1024, MLP, 1024, "T", "N"),
    ("mlp fc3 dy^T@x", (), 10, MLP, 1024, "T", "N"),
    ("mlp b1 fc1 +b", (), 1, 784, 1024, "N", "T"),
    ("mlp b1 fc2 +b", (), 1, 1024, 1024, "N", "T"),
    ("mlp b1 fc3 +b", (), 1, 1024, 10, "N", "T"),
    ("seed 100x784x10", (), 100, 784, 10, "N", "N"),
    ("lstm W_ih@x^T", (), 4 * LSTM_H, LSTM_F, LSTM_T * LSTM_B, "N", "T"),
    ("lstm step W_hh@h", (), 4 * LSTM_H, LSTM_H, LSTM_B, "T", "N"),
    ("lstm step W_hh^T@dg", (), LSTM_H, 4 * LSTM_H, LSTM_B, "N", "N"),
    ("lstm dg@x", (), 4 * LSTM_H, LSTM_T * LSTM_B, LSTM_F, "N", "N"),
    ("lstm dg@h^T", (), 4 * LSTM_H, LSTM_T * LSTM_B, LSTM_H, "N", "T"),
]
FRAMEWORKS = ("numpy", "tinyflow", "torch")
SPLIT = "split"   # --split: 2-D products cut in two on the kernel pool, one BLAS thread each


def operand(rng, np, batch, rows, cols, layout):
    """A float32 [*batch, rows, cols] operand and whether it is passed transposed: as stored
    (the array given to the kernel) and as multiplied (the view NumPy and torch get)."""
    if layout in ("heads", "dheads", "Theads"):   # [B, H, T, hd] views of [B, T, width]
        width = H * HD * (1 if layout == "dheads" else 3)
        flat = rng.standard_normal((B, T, width), np.float32)[..., :H * HD]
        stored = flat.reshape(B, T, H, HD).transpose(0, 2, 1, 3)
        return stored, (stored.swapaxes(-1, -2) if layout == "Theads" else stored), \
            layout == "Theads"
    shape = batch + ((cols, rows) if layout == "T" else (rows, cols))
    stored = rng.standard_normal(shape, np.float32)
    return stored, (stored.swapaxes(-1, -2) if layout == "T" else stored), layout == "T"


def worker(framework: str, names: list) -> dict:
    """Median wall and CPU seconds per product for every named product, in this process."""
    sys.path.insert(0, os.path.dirname(HERE))
    import tinyflow  # noqa: F401  (first: OpenBLAS's thread timeout, malloc thresholds)
    import numpy as np
    from tinyflow.backend.numpy import linalg, parallel
    from tinyflow.ops import linalg as ops
    if framework == "torch":
        import torch
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    AFFINE = ops.Affine()
    rng = np.random.default_rng(0)
    times = {}
    for name, batch, m, k, n, la, lb in PRODUCTS:
        if name not in names:
            continue
        (a, a_view, ta), (b, b_view, tb) = (operand(rng, np, batch, m, k, la),
                                            operand(rng, np, batch, k, n, lb))
        bias = rng.standard_normal(n, np.float32) if name.endswith("+b") else None
        if framework == "tinyflow":
            op = ops.MatMul(transpose_a=ta, transpose_b=tb)

            def product():
                if bias is None:
                    linalg.matmul(op, a, b)
                else:    # a linear layer: the affine op, with w as stored ([n, k])
                    linalg.affine(AFFINE, a, b, bias)
        elif framework == "torch":
            a_view, b_view = torch.from_numpy(a_view), torch.from_numpy(b_view)
            bias = None if bias is None else torch.from_numpy(bias)

            def product():
                if bias is None:
                    torch.matmul(a_view, b_view)
                else:    # what F.linear runs
                    torch.addmm(bias, a_view, b_view)
        elif framework == SPLIT:
            def product():
                out = np.empty(batch + (m, n), np.float32)
                if batch:
                    np.matmul(a_view, b_view, out=out)
                elif m >= 512:      # row blocks: each thread packs all of b (k x n)
                    parallel.run(lambda i, j: np.matmul(a_view[i:j], b_view, out=out[i:j]), m)
                else:               # column blocks: the MLP's 128 rows
                    parallel.run(lambda i, j: np.matmul(a_view, b_view[:, i:j],
                                                        out=out[:, i:j]), n)
                if bias is not None:
                    out += bias
        else:
            def product():
                out = np.matmul(a_view, b_view)
                if bias is not None:
                    out += bias
        flops = 2 * math.prod(batch) * m * k * n
        reps = max(3, int(2e8 / flops))
        for _ in range(3):
            product()
        walls, cpus = [], []
        for _ in range(9):
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(reps):
                product()
            walls.append((time.perf_counter() - wall) / reps)
            cpus.append((time.process_time() - cpu) / reps)
        alone = []     # single calls during which no thread of this process was preempted
        for _ in range(max(20, min(200, int(2e9 / flops)))):
            switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
            wall = time.perf_counter()
            product()
            wall = time.perf_counter() - wall
            if resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw == switches:
                alone.append(wall)
        times[name] = (statistics.median(walls), statistics.median(cpus),
                       statistics.median(alone) if alone else None)
    return times


def trace(module: str, workload: str) -> None:
    """Runs one step of a harness workload under tinyflow and prints each product kernel's
    operands as multiplied (shape, layout: N / T row- or column-major, "ld" rows further
    apart than their length, NOBLAS neither) and the bytes NumPy allocated beyond the
    result (a copy of an operand would show there)."""
    import tracemalloc
    harness.alias_torch_to_tinyflow()
    import numpy as np
    from tinyflow.core.kernels import numpy_kernels
    from tinyflow.ops import linalg as ops

    def layout(x):
        it, (s0, s1), (r, c) = x.itemsize, x.strides[-2:], x.shape[-2:]
        if s1 == it and s0 % it == 0 and s0 // it >= c:
            return "N" + ("" if s0 // it == c else f"ld{s0 // it}")
        if s0 == it and s1 % it == 0 and s1 // it >= r:
            return "T" + ("" if s1 // it == r else f"ld{s1 // it}")
        return "NOBLAS"
    seen, on = collections.Counter(), [False]

    def traced(kernel, transposes):
        def run(op, a, b, *rest, **kw):
            if not on[0]:
                return kernel(op, a, b, *rest, **kw)
            ta, tb = transposes(op)
            a_, b_ = (a.swapaxes(-1, -2) if ta else a), (b.swapaxes(-1, -2) if tb else b)
            tracemalloc.start()
            out = kernel(op, a, b, *rest, **kw)
            extra = tracemalloc.get_traced_memory()[1] - out.nbytes
            tracemalloc.stop()
            seen[(type(op).__name__, a_.shape, layout(a_), b_.shape, layout(b_),
                  max(0, extra))] += 1
            return out
        return run
    numpy_kernels[ops.MatMul] = traced(numpy_kernels[ops.MatMul],
                                       lambda op: (op.transpose_a, op.transpose_b))
    numpy_kernels[ops.Affine] = traced(numpy_kernels[ops.Affine], lambda op: (False, True))
    sys.path.insert(0, HERE)
    step = importlib.import_module(f"models.{module}").WORKLOADS[workload].build()
    step()
    on[0] = True
    step()
    print(f"{workload}: calls, op, a (shape, layout), b, bytes allocated beyond the result")
    for key, calls in sorted(seen.items(), key=str):
        print(calls, *key)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="name prefixes, comma-separated (gpt,attn)")
    parser.add_argument("--clock", choices=("wall", "cpu", "alone"), default="wall",
                        help="alone: the wall clock of single calls during which no thread "
                             "of the process was preempted")
    parser.add_argument("--trace", nargs=2, metavar=("MODULE", "WORKLOAD"))
    parser.add_argument("--split", action="store_true",
                        help="a fourth way: 2-D products cut in two (rows from 512 rows, else "
                             "columns) on tinyflow's kernel pool with one BLAS thread each")
    args = parser.parse_args()
    if args.trace:
        return trace(*args.trace)
    prefixes = [p for p in args.only.split(",") if p]
    names = [p[0] for p in PRODUCTS if not prefixes or p[0].startswith(tuple(prefixes))]
    clock = ("wall", "cpu", "alone").index(args.clock)
    print(f"threads={args.threads}, {args.clock} clock; load average at start "
          f"{os.getloadavg()[0]:.2f}")
    ways = FRAMEWORKS + ((SPLIT,) if args.split else ())
    results = {fw: [] for fw in ways}
    for r in range(args.repeats):
        for fw in (ways if r % 2 == 0 else ways[::-1]):
            results[fw].append(harness.json_worker(__file__, ["--worker", fw, *names],
                                                   args.threads))
    print(f"{'product':20}{'batch x m x k x n':>20}"
          + "".join(f"{fw + ' us':>12}{'±%':>5}{'GF/s':>6}" for fw in ways)
          + f"{'np/tf':>7}{'tf/torch':>9}" + (f"{'split/tf':>9}" if args.split else ""))
    for name, batch, m, k, n, _, _ in PRODUCTS:
        if name not in names:
            continue
        runs = {fw: [run[name][clock] for run in results[fw] if run[name][clock] is not None]
                or [math.nan] for fw in ways}
        med = {fw: statistics.median(runs[fw]) for fw in ways}
        flops = 2 * math.prod(batch) * m * k * n
        cells = "".join(f"{med[fw] * 1e6:12.1f}"
                        f"{min(999, (max(runs[fw]) - min(runs[fw])) / med[fw] * 100):5.0f}"
                        f"{flops / med[fw] / 1e9:6.0f}" for fw in ways)
        shape = "x".join(map(str, batch + (m, k, n)))
        print(f"{name:20}{shape:>20}{cells}{med['numpy'] / med['tinyflow']:7.2f}"
              f"{med['tinyflow'] / med['torch']:9.2f}"
              + (f"{med[SPLIT] / med['tinyflow']:9.2f}" if args.split else ""))
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3:])))
    else:
        main()
