"""The CNN rows of bench/harness.py layer by layer: forward + backward milliseconds of each
layer of bench/models/cnn.py (convolutions 5x5 and 3x3, batch norm, ReLU, max pooling) at
batch 64, the same PyTorch source run under torch and under tinyflow (aliased as `torch`, as
the harness does), each framework in a process of its own, processes interleaved, every
library on --threads threads. Prints per layer the median over processes of each process's
median, the spread (max-min over median) and the ratio tinyflow/torch, of wall time and of
CPU time (process time, all threads: work, which moves less under load).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/cnn_layers.py
    ... bench/cnn_layers.py --threads 1 --repeats 5
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import harness

LAYERS = {  # name: (module source, input shape, whether the input needs a gradient)
    "conv5 1->32": ("nn.Conv2d(1, 32, 5, padding=2)", (64, 1, 28, 28), False),
    "conv5 32->64": ("nn.Conv2d(32, 64, 5, padding=2)", (64, 32, 14, 14), True),
    "conv3 1->32": ("nn.Conv2d(1, 32, 3, padding=1)", (64, 1, 28, 28), False),
    "conv3 32->64": ("nn.Conv2d(32, 64, 3, padding=1)", (64, 32, 14, 14), True),
    "bn 32x28x28": ("nn.BatchNorm2d(32)", (64, 32, 28, 28), True),
    "bn 64x14x14": ("nn.BatchNorm2d(64)", (64, 64, 14, 14), True),
    "relu 32x28x28": ("nn.ReLU()", (64, 32, 28, 28), True),
    "maxpool 32x28x28": ("nn.MaxPool2d(2)", (64, 32, 28, 28), True),
    "maxpool 64x14x14": ("nn.MaxPool2d(2)", (64, 64, 14, 14), True),
}
STEPS, WARMUP = 15, 3


def worker(framework: str) -> dict:
    """Median ms of forward + backward (of the output's sum) per layer, in this process."""
    import numpy as np
    if framework == "tinyflow":
        harness.alias_torch_to_tinyflow()
    import torch
    import torch.nn as nn
    if framework == "torch":
        torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    rng = np.random.default_rng(0)
    result = {}
    for name, (source, shape, grad) in LAYERS.items():
        layer = eval(source, {"nn": nn})
        x = torch.from_numpy(rng.uniform(-1, 1, shape).astype(np.float32))
        if grad:
            x.requires_grad_(True)
        times, cpu = [], []
        for i in range(WARMUP + STEPS):
            start, start_cpu = time.perf_counter(), time.process_time()
            layer(x).sum().backward()
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        result[name] = statistics.median(times[WARMUP:]) * 1e3
        result[name + " cpu"] = statistics.median(cpu[WARMUP:]) * 1e3
    return result


def run_worker(framework: str, threads: int) -> dict:
    return harness.json_worker(__file__, ["--worker", framework], threads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="processes per framework")
    parser.add_argument("--threads", type=int, default=harness.THREADS)
    args = parser.parse_args()
    print(f"CNN layers, forward + backward, batch 64; threads={args.threads}; load average "
          f"{os.getloadavg()[0]:.2f} (2 cores shared with other work)", flush=True)
    runs = {"torch": [], "tinyflow": []}
    for r in range(args.repeats):
        for fw in (("torch", "tinyflow") if r % 2 == 0 else ("tinyflow", "torch")):
            runs[fw].append(run_worker(fw, args.threads))
    print(f"{'layer':18} {'torch ms':>9} {'±%':>4} {'tinyflow ms':>11} {'±%':>4} {'tf/torch':>8}"
          f" {'torch cpu':>9} {'tf cpu':>8} {'cpu':>6}")
    for name in LAYERS:
        row = []
        for fw in ("torch", "tinyflow"):
            values = [run[name] for run in runs[fw]]
            med = statistics.median(values)
            row += [med, (max(values) - min(values)) / med * 100]
        cpu = [statistics.median(run[name + " cpu"] for run in runs[fw])
               for fw in ("torch", "tinyflow")]
        print(f"{name:18} {row[0]:9.3f} {row[1]:4.0f} {row[2]:11.3f} {row[3]:4.0f} "
              f"{row[2] / row[0]:7.2f}x {cpu[0]:9.3f} {cpu[1]:8.3f} {cpu[1] / cpu[0]:5.2f}x")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2])))
    else:
        main()
