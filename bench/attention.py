"""F.scaled_dot_product_attention forward and forward + backward, tinyflow against torch on the
GPT workload's shapes (bench/models/gpt.py: batch 8, 4 heads, sequence 128, head dim 64):
causal, with a bool [T, T] mask, and without a mask. Each (framework, threads) runs in a
process of its own, repeats interleaved (torch, tinyflow, tinyflow, torch, ...); every
library gets the same thread count. Prints per case the median ms over the repeats (each
repeat's value is the median of its timed calls), the spread (max-min over median), the
ratio tinyflow/torch of the medians, of the fastest calls and (fwd+bwd) of the CPU time
per call (all threads: on a loaded machine it counts work, not waiting for a core), and
whether both frameworks computed the same output and gradients (their sums, to float32
tolerance).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/attention.py
    ... bench/attention.py --threads 1,2 --repeats 5 --calls 30
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import harness  # bench/: the process runner shared by the benchmarks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = (8, 4, 128, 64)      # batch, heads, sequence, head dim: the GPT workload's
CASES = ("causal", "mask", "none")


def worker(framework: str, calls: int) -> dict:
    """Times every case in this process: {case: {"fwd": [s], "both": [s], "check": [...]}}."""
    if framework == "tinyflow":    # before NumPy: it sets OpenBLAS's thread timeout, which
        sys.path.insert(0, ROOT)   # turns its kernel pool on (backend/numpy/parallel.py)
        import tinyflow as torch
        import tinyflow.nn.functional as F
    else:
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    import numpy as np
    b, h, t, d = SHAPE
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((b, h, t, d)).astype(np.float32) for _ in range(4)]
    keep = torch.tensor(np.tril(np.ones((t, t), bool)) & (rng.random((t, t)) < 0.9)
                        | np.eye(t, dtype=bool))
    results = {}
    for case in CASES:
        q, k, v = (torch.tensor(a, requires_grad=True) for a in arrays[:3])
        g = torch.tensor(arrays[3])
        options = {"causal": {"is_causal": True}, "mask": {"attn_mask": keep},
                   "none": {}}[case]
        fwd, both, cpu = [], [], []
        for i in range(calls + 2):
            start = time.perf_counter()
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v, **options)
            middle, middle_cpu = time.perf_counter(), time.process_time()
            out = F.scaled_dot_product_attention(q, k, v, **options)
            out.backward(g)
            end, end_cpu = time.perf_counter(), time.process_time()
            if i >= 2:       # warm-up: Numba's cache, allocators
                fwd.append(middle - start)
                both.append(end - middle)
                cpu.append(end_cpu - middle_cpu)
            check = [float(out.detach().numpy().astype(np.float64).sum())] + [
                float(x.grad.numpy().astype(np.float64).sum()) for x in (q, k, v)]
            for x in (q, k, v):
                x.grad = None
        results[case] = {"fwd": fwd, "both": both, "cpu": cpu, "check": check}
    return results


def run_worker(framework: str, threads: int, calls: int) -> dict:
    return harness.json_worker(__file__, ["--worker", framework, calls], threads)


def summary(runs, case: str, part: str):
    """Median ms over the processes' medians, their spread in %, and the fastest call (on a
    loaded machine, the least disturbed estimate)."""
    medians = [statistics.median(r[case][part]) * 1e3 for r in runs]
    mid = statistics.median(medians)
    best = min(min(r[case][part]) for r in runs) * 1e3
    return mid, (max(medians) - min(medians)) / mid * 100, best


def cpu_ratio(runs, case: str) -> float:
    """tinyflow/torch of the median CPU time per forward + backward call."""
    return summary(runs["tinyflow"], case, "cpu")[0] / summary(runs["torch"], case, "cpu")[0]


def same(a, b) -> bool:
    return all(abs(x - y) <= 1e-3 * max(1.0, abs(x), abs(y)) for x, y in zip(a, b))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=3, help="processes per framework")
    parser.add_argument("--calls", type=int, default=20, help="timed calls per process")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]))))
        return
    print(f"scaled_dot_product_attention, [B, H, T, D] = {list(SHAPE)}, float32; ms per call, "
          f"median of {args.repeats} processes x {args.calls} calls")
    head = (f"{'case':7} {'thr':>3} {'part':>8} {'torch ms':>9} {'±%':>4} {'tinyflow ms':>11} "
            f"{'±%':>4} {'tf/torch':>8} {'best':>6} {'cpu':>6}  check")
    print(head)
    print("-" * len(head))
    for threads in (int(n) for n in args.threads.split(",")):
        runs = {"torch": [], "tinyflow": []}
        for r in range(args.repeats):
            for fw in (("torch", "tinyflow") if r % 2 == 0 else ("tinyflow", "torch")):
                runs[fw].append(run_worker(fw, threads, args.calls))
        for case in CASES:
            check = "ok" if same(runs["torch"][0][case]["check"],
                                 runs["tinyflow"][0][case]["check"]) else "MISMATCH"
            for part, label in (("fwd", "fwd"), ("both", "fwd+bwd")):
                t, ts, tb = summary(runs["torch"], case, part)
                f, fs, fb = summary(runs["tinyflow"], case, part)
                cpu = "" if part == "fwd" else f"{cpu_ratio(runs, case):5.2f}x"
                print(f"{case:7} {threads:3} {label:>8} {t:9.3f} {ts:4.0f} {f:11.3f} {fs:4.0f} "
                      f"{f / t:7.2f}x {fb / tb:5.2f}x {cpu:>6}  {check}", flush=True)


if __name__ == "__main__":
    main()
