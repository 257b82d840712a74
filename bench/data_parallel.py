"""Data parallelism on Ray: (1) step time with gradient buckets all-reduced during backward
(overlap, as DDP) against the same buckets all-reduced after the whole backward, with an
injected per-message latency; (2) MNIST MLP trained data-parallel on 1, 2 and 4 workers for
the same epochs and global batch: test accuracy and time per epoch.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE TINYFLOW_DATA_DIR=../shared/datasets \
        .venv/bin/python bench/data_parallel.py [--latency 0.005] [--epochs 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import ray

import tinyflow as torch
import tinyflow.distributed as dist
from tinyflow import nn
from tinyflow.datasets import get_mnist


def make_deep_mlp():
    """A small first layer (its bucket is ready last and cannot hide), then 512-wide layers
    whose backward matmuls give the all-reduces something to hide behind."""
    torch.manual_seed(0)
    layers = [nn.Linear(64, 512), nn.ReLU()]
    for _ in range(5):
        layers += [nn.Linear(512, 512), nn.ReLU()]
    return dist.ModuleModel(nn.Sequential(*layers, nn.Linear(512, 10)))


def make_mnist_mlp():
    torch.manual_seed(0)
    return dist.ModuleModel(nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)))


def _stats(xs) -> str:
    xs = np.asarray(xs) * 1e3
    return f"{np.median(xs):7.1f} ms [{np.percentile(xs, 25):6.1f}, {np.percentile(xs, 75):6.1f}]"


def overlap(args) -> None:
    print(f"\n== overlap: {args.workers} workers, {args.latency * 1e3:.0f} ms per message, "
          f"batch {args.batch} per worker, {args.steps} steps x {args.repeats} rounds ==")
    group = dist.Group(args.workers, latency=args.latency, timeout=60.0)
    bucket = 512 * 513 * 4                                     # one 512x512 layer each
    jobs = {name: dist.DataParallel(make_deep_mlp, dist.SGD(0.01), group=group,
                                    bucket_bytes=bucket, overlap=on)
            for name, on in (("after backward", False), ("overlapped", True))}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch * args.workers, 64)).astype(np.float32)
    y = rng.integers(0, 10, len(x))
    times: dict = {name: [] for name in jobs}
    for name, dp in jobs.items():                              # warm up
        dp.step(x, y)
    for _ in range(args.repeats):                              # interleaved rounds
        for name, dp in jobs.items():
            for _ in range(args.steps):
                start = time.perf_counter()
                dp.step(x, y)
                times[name].append(time.perf_counter() - start)
    print(f"{'all-reduce':<16}{'step (median [IQR])':>30}{'backward':>12}{'waiting after':>15}"
          f"{'buckets in bwd':>16}")
    for name, dp in jobs.items():
        worker0 = dp.timings()[0][1:]                          # skip the warm-up step
        print(f"{name:<16}{_stats(times[name]):>30}"
              f"{np.median([t[0] for t in worker0]) * 1e3:10.1f} ms"
              f"{np.median([t[1] for t in worker0]) * 1e3:12.1f} ms"
              f"{np.median([t[3] for t in worker0]):14.0f}")
    ratio = np.median(times["overlapped"]) / np.median(times["after backward"])
    print(f"overlapped / after backward: {ratio:.2f} (ratio of the medians)")
    group.shutdown()


def mnist(args) -> None:
    data = get_mnist(flatten=True, onehot=False, validation_size=0)
    x, y = data.train.images, data.train.labels
    xt, yt = data.test.images, data.test.labels
    print(f"\n== MNIST 784-128-10, SGD(lr={args.lr}), global batch {args.global_batch}, "
          f"{args.epochs} epochs ==")
    print(f"{'workers':>8}{'test accuracy':>15}{'final loss':>12}{'s / epoch':>11}")
    for workers in (1, 2, 4):
        dp = dist.DataParallel(make_mnist_mlp, dist.SGD(args.lr), num_workers=workers)
        start = time.perf_counter()
        losses = dp.fit(x, y, epochs=args.epochs, batch_size=args.global_batch, seed=0)
        seconds = (time.perf_counter() - start) / args.epochs
        acc = dp.accuracy(xt, yt)
        print(f"{workers:>8}{acc * 100:14.2f}%{np.mean(losses[-50:]):12.4f}{seconds:11.1f}")
        dp.group.shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--latency", type=float, default=0.005)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=6)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--global-batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--skip-mnist", action="store_true")
    p.add_argument("--skip-overlap", action="store_true")
    args = p.parse_args()
    dist.init(num_cpus=2)
    if not args.skip_overlap:
        overlap(args)
    if not args.skip_mnist:
        mnist(args)
    dist.shutdown()


if __name__ == "__main__":
    main()
