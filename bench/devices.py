"""What a device boundary costs: one training step of the lectures' ToyModel (and a wider
variant) in this process against the same model on two Ray workers (`dist.devices`), with the
round trips (driver calls) and transfers per step. Repeats interleaved; medians and spread.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/devices.py
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import tinyflow as torch
import tinyflow.distributed as dist
from tinyflow import nn


class TwoLayers(nn.Module):
    def __init__(self, width: int, devices=(None, None)):
        super().__init__()
        self.devices = devices
        self.net1 = nn.Linear(width, width)
        self.relu = nn.ReLU()
        self.net2 = nn.Linear(width, width // 2)
        if devices[0]:
            self.net1.to(devices[0])
            self.net2.to(devices[1])

    def forward(self, x):
        if self.devices[0]:
            x = x.to(self.devices[0])
        x = self.relu(self.net1(x))
        return self.net2(x.to(self.devices[1]) if self.devices[1] else x)


def step_fn(model, x, y, target):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    labels = y.to(target) if target else y

    def step():
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), labels)
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    dist.init(num_cpus=2, runtime_env={"env_vars": {"OPENBLAS_NUM_THREADS": "1"}})
    dist.devices(["cuda:0", "cuda:1"])
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          f"(other processes share this machine)")
    print(f"{'model':>20} {'where':>12} {'median ms':>10} {'spread ms':>14} "
          f"{'calls/step':>11} {'transfers/step':>15}")
    for width, batch in ((10, 20), (512, 256)):
        rng = np.random.default_rng(0)
        x = torch.tensor(rng.standard_normal((batch, width)).astype(np.float32))
        y = torch.tensor(rng.standard_normal((batch, width // 2)).astype(np.float32))
        steps = {"one process": step_fn(TwoLayers(width), x, y, None),
                 "two workers": step_fn(TwoLayers(width, ("cuda:0", "cuda:1")), x, y,
                                        "cuda:1")}
        times = {k: [] for k in steps}
        counts = {}
        for name, step in steps.items():   # warm up, and count one step
            step()
            dist.reset_transfer_stats()
            step()
            stats = dist.transfer_stats()
            counts[name] = (sum(stats["calls"].values()), sum(stats["transfers"].values()))
        for _ in range(args.repeats):
            for name, step in steps.items():
                start = time.perf_counter()
                step()
                times[name].append((time.perf_counter() - start) * 1e3)
        for name, ts in times.items():
            q = np.percentile(ts, [25, 75])
            print(f"{f'{width} wide, batch {batch}':>20} {name:>12} "
                  f"{statistics.median(ts):>10.2f} {f'{q[0]:.2f}-{q[1]:.2f}':>14} "
                  f"{counts[name][0]:>11} {counts[name][1]:>15}")
    dist.release_devices()
    dist.shutdown()


if __name__ == "__main__":
    main()
