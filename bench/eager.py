"""Eager-mode costs side by side with torch eager (when installed), in one run:

- per-op overhead: a chain of 1000 small elementwise ops on a [16] tensor (forward, and
  forward + backward), against a bare NumPy loop;
- an MLP training step (784-1024-1024-10 ReLU, batch 256, cross-entropy, SGD) written once
  and run with `lib = tinyflow` and `lib = torch`.

Medians of repeated timings after warm-up, runners interleaved so machine noise hits all.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/eager.py
"""
from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402

import tinyflow  # noqa: E402

CHAIN = 1000


def chain_forward(lib, x):
    for _ in range(CHAIN // 2):
        x = x * 1.0001 + 0.0001
    return x


def chain_backward(lib, x):
    chain_forward(lib, x).sum().backward()


def numpy_chain(x):
    for _ in range(CHAIN // 2):
        x = x * 1.0001 + 0.0001
    return x


def make_mlp_step(lib, batch=256, seed=0):
    """One training step of the W2 MLP, identical code for both libraries."""
    lib.manual_seed(seed)
    model = lib.nn.Sequential(lib.nn.Linear(784, 1024), lib.nn.ReLU(),
                              lib.nn.Linear(1024, 1024), lib.nn.ReLU(),
                              lib.nn.Linear(1024, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(seed)
    x = lib.from_numpy(rng.random((batch, 784), dtype=np.float32))
    y = lib.from_numpy(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def timed(fn, repeats):
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main(repeats: int = 7) -> None:
    libs = {"tinyflow": tinyflow}
    try:
        import torch
        torch.set_num_threads(2)
        libs["torch"] = torch
    except ImportError:
        pass
    runs: dict[str, dict[str, list]] = {}
    tasks = {}
    for name, lib in libs.items():
        small = lib.ones(16)
        small_grad = lib.ones(16, requires_grad=True)
        tasks[name] = {
            "chain fwd (per op)": lambda lib=lib, x=small: chain_forward(lib, x),
            "chain fwd+bwd (per op)": lambda lib=lib, x=small_grad: chain_backward(lib, x),
            "MLP step": make_mlp_step(lib),
        }
    arr = np.ones(16, np.float32)
    tasks["numpy"] = {"chain fwd (per op)": lambda: numpy_chain(arr)}
    for runner, fns in tasks.items():  # warm-up
        for fn in fns.values():
            fn()
    for _ in range(repeats):
        for runner, fns in tasks.items():
            for task, fn in fns.items():
                runs.setdefault(task, {}).setdefault(runner, []).extend(timed(fn, 1))
    print(f"eager costs, median of {repeats}; per-op rows in microseconds per op")
    print(f"{'task':<26}" + "".join(f"{r:>12}" for r in tasks) + f"{'tf/torch':>10}")
    for task, by_runner in runs.items():
        per_op = task.endswith("(per op)")
        scale = 1e6 / CHAIN if per_op else 1e3
        cells, meds = "", {}
        for runner in tasks:
            if runner in by_runner:
                meds[runner] = statistics.median(by_runner[runner])
                cells += f"{meds[runner] * scale:>12.2f}"
            else:
                cells += f"{'-':>12}"
        ratio = (f"{meds['tinyflow'] / meds['torch']:>9.2f}x" if "torch" in meds else "")
        unit = "us/op" if per_op else "ms"
        print(f"{task + ' ' + unit:<26}{cells}{ratio}")


if __name__ == "__main__":
    main()
