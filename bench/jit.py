"""tinyflow.compile against tinyflow eager (and hand-written NumPy, and torch in its own
process) on two training steps: the seed softmax regression (784 -> 10, batch 100, SGD 0.5)
and an MLP (784-256-10 ReLU, batch 100, cross-entropy, SGD). Medians of interleaved repeats,
plus the first call's time (trace + plan + first run) of the compiled step.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/jit.py [--torch]
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402

BATCH, REPEATS, INNER = 100, 15, 20


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, 784), dtype=np.float32) * 0.1   # MNIST-like scale: no divergence
    labels = rng.integers(0, 10, BATCH)
    return x, labels, np.eye(10, dtype=np.float32)[labels]


def seed_step(lib):
    x, _, y_ = data()
    x, y_ = lib.from_numpy(x), lib.from_numpy(y_)
    w = lib.zeros(784, 10, requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.5)

    def step(x, y_):
        opt.zero_grad()
        y = lib.softmax(x @ w, dim=1)
        loss = (-(y_ * lib.log(y)).sum(dim=1)).mean()
        loss.backward()
        opt.step()
        return loss
    return step, (x, y_)


def mlp_step(lib):
    x, labels, _ = data()
    x, y = lib.from_numpy(x), lib.from_numpy(labels)
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(784, 256), lib.nn.ReLU(), lib.nn.Linear(256, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)

    def step(x, y):
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step, (x, y)


def numpy_seed_step():
    """The seed step by hand: softmax, its cross-entropy gradient, the SGD update."""
    x, _, y_ = data()
    w = np.zeros((784, 10), np.float32)

    def step():
        logits = x @ w
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        y = e / e.sum(axis=1, keepdims=True)
        w[...] -= 0.5 * (x.T @ ((y - y_) / BATCH))
        return -(y_ * np.log(y)).sum(axis=1).mean()
    return step


def timed(fn, args=()):
    start = time.perf_counter()
    for _ in range(INNER):
        fn(*args)
    return (time.perf_counter() - start) / INNER


def runners(lib, compile_fn):
    """name -> (task, callable, args); compiled ones also report their first call."""
    out, warmup = {}, {}
    for task, make in (("seed step", seed_step), ("MLP step", mlp_step)):
        fn, args = make(lib)
        fn(*args)   # kernels' own one-time costs (Numba ufuncs) are not the compile's
        out[(task, "eager")] = (fn, args)
        cfn, cargs = make(lib)
        cfn = compile_fn(cfn)
        start = time.perf_counter()
        cfn(*cargs)
        warmup[task] = time.perf_counter() - start
        out[(task, "compiled")] = (cfn, cargs)
    return out, warmup


def measure(lib, compile_fn, extra=None) -> dict:
    tasks, warmup = runners(lib, compile_fn)
    tasks.update(extra or {})
    for fn, args in tasks.values():   # warm-up
        timed(fn, args)
    times: dict = {k: [] for k in tasks}
    for _ in range(REPEATS):   # interleaved
        for k, (fn, args) in tasks.items():
            times[k].append(timed(fn, args))
    return {"median": {f"{t}|{r}": statistics.median(v) for (t, r), v in times.items()},
            "warmup": warmup}


def run_torch() -> dict:
    import torch
    torch.set_num_threads(2)
    return measure(torch, torch.compile)


def main() -> None:
    if "--runner=torch" in sys.argv:
        print(json.dumps(run_torch()))
        return
    import tinyflow
    results = {"tinyflow": measure(tinyflow, tinyflow.compile,
                                   {("seed step", "numpy"): (numpy_seed_step(), ())})}
    if "--torch" in sys.argv:
        done = subprocess.run([sys.executable, __file__, "--runner=torch"], check=True,
                              capture_output=True, text=True)
        results["torch"] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"training steps, ms per step, median of {REPEATS} interleaved repeats of {INNER}")
    print(f"{'task':<12}{'runner':<20}{'ms':>10}{'first call s':>14}")
    for lib, res in results.items():
        for key, med in res["median"].items():
            task, runner = key.split("|")
            first = res["warmup"].get(task) if runner == "compiled" else None
            cell = f"{first:>14.3f}" if first is not None else f"{'':>14}"
            print(f"{task:<12}{lib + ' ' + runner:<20}{med * 1e3:>10.3f}{cell}")
    med = results["tinyflow"]["median"]
    for task in ("seed step", "MLP step"):
        print(f"{task}: compiled is {med[task + '|eager'] / med[task + '|compiled']:.2f}x "
              f"faster than tinyflow eager")
    print(f"seed step: compiled / numpy = "
          f"{med['seed step|compiled'] / med['seed step|numpy']:.2f}")


if __name__ == "__main__":
    main()
