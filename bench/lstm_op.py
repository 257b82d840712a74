"""The LSTM rows of bench/harness.py without the rest of the step: nn.LSTM(128, 256) over 50
steps at batch 32, time-major, forward alone and forward + backward of a loss reading only
h_n or the whole output, the same PyTorch source under torch and under tinyflow (aliased as
`torch`, as the harness does); tinyflow once with its kernel pool (each thread runs the
recurrence for its hidden rows, or its batch columns from batch 128) and once with TINYFLOW_KERNEL_THREADS=1 (the pool
off: one recurrence, each step's product on OpenBLAS's threads); with --baseline DIR also
the tinyflow of another checkout (e.g. the main branch, pool on). Each configuration in a
process of its own, processes interleaved, every library on --threads threads. Prints per
case the median over processes of each process's median ms (and spread), the median CPU ms
(all threads), and the ratios to torch.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import harness

SEQ, BATCH, FEATURES, HIDDEN = 50, 32, 128, 256
CASES = ("forward", "fwd+bwd h_n", "fwd+bwd output")
CONFIGS = {"torch": ("torch", {}), "tinyflow pool": ("tinyflow", {}),
           "tinyflow no pool": ("tinyflow", {"TINYFLOW_KERNEL_THREADS": "1"})}
STEPS, WARMUP = 10, 2


def worker(framework: str) -> dict:
    """{case: (median ms, median CPU ms)} in this process."""
    import numpy as np
    if os.environ.get("BENCH_TREE"):
        harness.ROOT = os.environ["BENCH_TREE"]
    if framework == "tinyflow":
        harness.alias_torch_to_tinyflow()
    import torch
    import torch.nn as nn
    if framework == "torch":
        torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    lstm = nn.LSTM(FEATURES, HIDDEN)
    x = torch.from_numpy(rng.uniform(-1, 1, (SEQ, BATCH, FEATURES)).astype(np.float32))
    x.requires_grad_(True)

    def forward():
        return lstm(x)

    def h_n():
        lstm(x)[1][0][-1].sum().backward()

    def output():
        lstm(x)[0].sum().backward()
    result = {}
    for case, fn in zip(CASES, (forward, h_n, output)):
        times, cpu = [], []
        for i in range(WARMUP + STEPS):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        result[case] = (statistics.median(times[WARMUP:]) * 1e3,
                        statistics.median(cpu[WARMUP:]) * 1e3)
    return result


def run_worker(config: str, threads: int) -> dict:
    framework, extra = CONFIGS[config]
    return harness.json_worker(__file__, ["--worker", framework], threads, **extra)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="processes per configuration")
    parser.add_argument("--threads", type=int, default=harness.THREADS)
    parser.add_argument("--baseline", help="another checkout whose tinyflow runs too")
    args = parser.parse_args()
    if args.baseline:
        CONFIGS["tinyflow baseline"] = ("tinyflow", {"BENCH_TREE": args.baseline})
    print(f"nn.LSTM({FEATURES}, {HIDDEN}), {SEQ} steps, batch {BATCH}; threads={args.threads}; "
          f"load average {os.getloadavg()[0]:.2f} (2 cores shared with other work)", flush=True)
    runs = {config: [] for config in CONFIGS}
    order = list(CONFIGS)
    for r in range(args.repeats):
        for config in (order if r % 2 == 0 else order[::-1]):
            runs[config].append(run_worker(config, args.threads))
    print(f"{'case':16}" + "".join(f" {c + ' ms':>20} {'±%':>4} {'cpu':>6}" for c in CONFIGS)
          + "".join(f" {c[9:] + '/torch':>{len(c) + 7}} {'cpu':>5}" for c in CONFIGS
                    if c != "torch"))
    for case in CASES:
        row, meds, cpus = "", {}, {}
        for config in CONFIGS:
            values = [run[case][0] for run in runs[config]]
            meds[config] = statistics.median(values)
            cpus[config] = statistics.median(run[case][1] for run in runs[config])
            row += (f" {meds[config]:20.2f} {(max(values) - min(values)) / meds[config] * 100:4.0f}"
                    f" {cpus[config]:6.1f}")
        ratios = "".join(f" {meds[c] / meds['torch']:{len(c) + 6}.2f}x "
                         f"{cpus[c] / cpus['torch']:4.2f}x" for c in CONFIGS if c != "torch")
        print(f"{case:16}{row}{ratios}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2])))
    else:
        main()
