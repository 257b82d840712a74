"""Milliseconds of conv2d and max-pooling, forward and forward + backward, tinyflow vs torch.

The cases are the layers of W3 (the batch-64 MNIST CNN: conv5x5 1->32 pad 2, ReLU, maxpool 2,
conv5x5 32->64 pad 2, ReLU, maxpool 2, fc 3136->1024, fc 1024->10), with their input shapes,
plus one whole W3 training step written once and run with `lib = tinyflow` and `lib = torch`.
The second W3 conv is the [64,32,14,14] x [64,32,5,5] case. As in W3, the first conv's input
is data (it needs no gradient). Medians of runs interleaved between the libraries, after
warm-up, with 2 threads; run it on an otherwise idle machine.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/conv.py
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402

import tinyflow as tt  # noqa: E402

BATCH = 64


def conv_case(lib, x_shape, w_shape, padding, x_grad, seed=0):
    """(forward, forward + backward) closures of conv2d on fixed random data."""
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal(x_shape, dtype=np.float32)
    w_np = rng.standard_normal(w_shape, dtype=np.float32) * 0.1
    x = lib.tensor(x_np, requires_grad=x_grad)
    w = lib.tensor(w_np, requires_grad=True)
    conv = lib.nn.functional.conv2d if lib is not tt else tt.ops.conv.conv2d
    g = lib.tensor(rng.standard_normal(conv(x, w, padding=padding).shape, dtype=np.float32))

    def forward():
        with lib.no_grad():
            return conv(x, w, padding=padding)

    def backward():
        x.grad = w.grad = None
        conv(x, w, padding=padding).backward(g)
    return forward, backward


def pool_case(lib, x_shape, seed=0):
    rng = np.random.default_rng(seed)
    x = lib.tensor(rng.standard_normal(x_shape, dtype=np.float32), requires_grad=True)
    pool = lib.nn.functional.max_pool2d if lib is not tt else tt.ops.pool.max_pool2d
    g = lib.tensor(rng.standard_normal(pool(x, 2).shape, dtype=np.float32))

    def forward():
        with lib.no_grad():
            return pool(x, 2)

    def backward():
        x.grad = None
        pool(x, 2).backward(g)
    return forward, backward


def w3_step(lib, seed=0):
    """One SGD step of W3 on a fixed random batch, identical code for both libraries."""
    lib.manual_seed(seed)
    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(), nn.Linear(1024, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(seed)
    x = lib.from_numpy(rng.random((BATCH, 1, 28, 28), dtype=np.float32))
    y = lib.from_numpy(rng.integers(0, 10, BATCH))

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return None, step


CASES = [
    ("conv1 [64,1,28,28]x[32,1,5,5] p2",
     lambda lib: conv_case(lib, (BATCH, 1, 28, 28), (32, 1, 5, 5), 2, x_grad=False)),
    ("conv2 [64,32,14,14]x[64,32,5,5] p2",
     lambda lib: conv_case(lib, (BATCH, 32, 14, 14), (64, 32, 5, 5), 2, x_grad=True)),
    ("maxpool1 [64,32,28,28] k2", lambda lib: pool_case(lib, (BATCH, 32, 28, 28))),
    ("maxpool2 [64,64,14,14] k2", lambda lib: pool_case(lib, (BATCH, 64, 14, 14))),
    ("W3 training step", w3_step),
]


def median_ms(runners: dict, repeats: int, warmup: int = 2, settle: float = 0.3) -> dict:
    """Median milliseconds of each runner {(library, part): fn}, libraries interleaved round
    by round. Each library's turn starts with `settle` seconds of untimed calls: a library's
    idle worker threads (OpenBLAS's, OpenMP's) spin for up to 0.2 s after its last call and would
    otherwise slow down whichever library runs next, by up to 2x."""
    for fn in runners.values():
        for _ in range(warmup):
            fn()
    libraries = {}
    for (lib, part), fn in runners.items():
        libraries.setdefault(lib, []).append((part, fn))
    times = {key: [] for key in runners}
    for _ in range(repeats):
        for lib, parts in libraries.items():
            start = time.perf_counter()
            while time.perf_counter() - start < settle:
                parts[-1][1]()
            for part, fn in parts:
                start = time.perf_counter()
                fn()
                times[(lib, part)].append(time.perf_counter() - start)
    return {key: 1e3 * statistics.median(t) for key, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    import torch
    torch.set_num_threads(2)
    print(f"threads: torch {torch.get_num_threads()}, OPENBLAS_NUM_THREADS="
          f"{os.environ['OPENBLAS_NUM_THREADS']}; median of {args.repeats} interleaved runs")
    head = f"{'case':36} {'':9} {'tinyflow':>9} {'torch':>9} {'ratio':>7}"
    print(head)
    print("-" * len(head))
    for label, make in CASES:
        runners = {}
        for lib_name, lib in (("tinyflow", tt), ("torch", torch)):
            forward, backward = make(lib)
            if forward is not None:
                runners[(lib_name, "fwd")] = forward
            runners[(lib_name, "fwd+bwd")] = backward
        ms = median_ms(runners, args.repeats)
        for i, part in enumerate(p for p in ("fwd", "fwd+bwd") if ("torch", p) in ms):
            ours, theirs = ms[("tinyflow", part)], ms[("torch", part)]
            print(f"{label if i == 0 else '':36} {part:9} {ours:9.2f} {theirs:9.2f} "
                  f"{ours / theirs:6.2f}x")


if __name__ == "__main__":
    main()
