"""Per-op wall and CPU time of one harness workload (bench/models), to see which kernels
use every thread: each kernel call is timed by the wall clock and by the process's CPU clock
(all threads), so cpu/wall near the thread count means the op ran on all of them and near 1
means on one. `pool` counts the kernel pool's runs (backend/numpy/parallel.py) per step.
Nested kernels (a fused kernel calling others) count only their own time. `--torch` prints
torch.profiler's table of the same workload instead (run it in its own process).

`--min` prints instead, per op, the sum over its calls in a step of each call's fastest time
across the steps (and of its median): on a shared machine means move with every preemption,
while a call site's fastest of 15-20 steps repeats within a few percent (the GPT step's
kernels at two threads, quiet: 61.2, 62.1, 61.6 and 62.0 ms in four processes, 2026-12-06).
Compare them with the same at --threads 1 to see which kernels halve. `--torch --min` prints
the same table for torch, each ATen op timed by the wall clock around its call (a
TorchDispatchMode): the two frameworks' kernels measured one way (torch.profiler's own times
ran 40-65 % above them on the MLP's products in two quiet runs, 2026-12-06).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/op_threads.py \\
        gpt gpt_manual_tanh --threads 2 [--shapes] [--torch | --min]

On a machine loaded by other work, wall times and cpu/wall ratios mean little: both
frameworks' threads wait for a core. Compare the pool counts and, at --threads 1, CPU time.
"""
from __future__ import annotations

import argparse
import collections
import importlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "NUMBA_NUM_THREADS")


class KernelClock:
    """Wraps every NumPy kernel of tinyflow's table with a wall and CPU clock."""

    def __init__(self, shapes: bool):
        from tinyflow.backend.numpy import parallel
        from tinyflow.core.kernels import numpy_kernels
        self.shapes, self.on = shapes, False
        self.stats = collections.defaultdict(lambda: [0, 0.0, 0.0, 0])   # calls, wall, cpu, pool
        self.stack = []          # [wall, cpu, key] of the kernels running (nested)
        self.calls = []          # (key, own wall) of every call, in order
        run = parallel.run

        def counted(piece, length, pieces=0, **kw):
            if self.stack:
                self.stats[self.stack[-1][2]][3] += 1
            return run(piece, length, pieces, **kw)
        parallel.run = counted
        for cls in list(numpy_kernels):
            numpy_kernels[cls] = self.wrap(cls.__name__, numpy_kernels[cls])

    def wrap(self, label, kernel):
        def run(op, *arrays, **kw):
            if not self.on:
                return kernel(op, *arrays, **kw)
            key = label
            if self.shapes and arrays:
                key += " " + "x".join(map(str, getattr(arrays[0], "shape", ())))
            wall, cpu = time.perf_counter(), time.process_time()
            self.stack.append([0.0, 0.0, key])
            try:
                return kernel(op, *arrays, **kw)
            finally:
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                inner_wall, inner_cpu, _ = self.stack.pop()
                if self.stack:
                    self.stack[-1][0] += wall
                    self.stack[-1][1] += cpu
                entry = self.stats[key]
                entry[0] += 1
                entry[1] += wall - inner_wall
                entry[2] += cpu - inner_cpu
                self.calls.append((key, wall - inner_wall))
        for name in ("plain", "widen_at"):    # what the runtime reads off widened kernels
            if hasattr(kernel, name):
                setattr(run, name, getattr(kernel, name))
        return run


def build(module: str, name: str):
    sys.path.insert(0, HERE)
    return importlib.import_module(f"models.{module}").WORKLOADS[name].build()


def clocked_step(module, name, shapes):
    """The workload's step under tinyflow, warmed up, and the clock (on) of its kernels."""
    import harness
    harness.alias_torch_to_tinyflow()
    clock = KernelClock(shapes)
    step = build(module, name)
    for _ in range(3):
        step()
    clock.on = True
    return clock, step


def tinyflow_table(module, name, steps, shapes, top):
    clock, step = clocked_step(module, name, shapes)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    wall, cpu = (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps
    rows = sorted(clock.stats.items(), key=lambda kv: -kv[1][1])
    in_wall = sum(r[1] for _, r in rows) / steps
    in_cpu = sum(r[2] for _, r in rows) / steps
    print(f"{name} tinyflow: step {wall * 1e3:.2f} ms wall, {cpu * 1e3:.2f} ms cpu; in "
          f"kernels {in_wall * 1e3:.2f} wall, {in_cpu * 1e3:.2f} cpu (means of {steps} steps)")
    print(f"{'op':44} {'calls':>6} {'wall ms':>8} {'cpu ms':>8} {'cpu/wall':>8} {'pool':>5}")
    for key, (calls, w, c, pooled) in rows[:top]:
        print(f"{key[:44]:44} {calls / steps:6.0f} {w / steps * 1e3:8.3f} "
              f"{c / steps * 1e3:8.3f} {c / max(w, 1e-12):8.2f} {pooled / steps:5.0f}")


def tinyflow_minimums(module, name, steps, shapes, top):
    """Per op the sums of its call sites' fastest and median times across `steps` steps."""
    clock, step = clocked_step(module, name, shapes)
    times, sites = [], []
    for _ in range(steps):
        clock.calls.clear()
        wall = time.perf_counter()
        step()
        times.append(time.perf_counter() - wall)
        sites.append(list(clock.calls))
    print_minimums(name, "tinyflow", times, sites, top)


def print_minimums(name, framework, times, sites, top):
    """The table of `--min`: per op, the sums over its call sites of each site's fastest and
    median time across the steps (`sites`: per step, the (op, seconds) of every call)."""
    if any(len(calls) != len(sites[0]) for calls in sites):
        sys.exit("the steps made different numbers of kernel calls: use the means (no --min)")
    per_op = collections.defaultdict(lambda: [0, 0.0, 0.0])    # calls, sum of mins, medians
    for calls in zip(*sites):
        walls = sorted(w for _, w in calls)
        entry = per_op[calls[0][0]]
        entry[0] += 1
        entry[1] += walls[0]
        entry[2] += walls[len(walls) // 2]
    times.sort()
    steps = len(times)
    rows = sorted(per_op.items(), key=lambda kv: -kv[1][1])
    in_kernels = sum(r[1] for _, r in rows)
    print(f"{name} {framework}: step {times[0] * 1e3:.2f} ms fastest, "
          f"{times[len(times) // 2] * 1e3:.2f} median; in kernels {in_kernels * 1e3:.2f} "
          f"(sum of each call's fastest of {steps} steps)")
    print(f"{'op':44} {'calls':>6} {'min ms':>8} {'med ms':>8}")
    for key, (calls, fastest, median) in rows[:top]:
        print(f"{key[:44]:44} {calls:6d} {fastest * 1e3:8.3f} {median * 1e3:8.3f}")


def torch_minimums(module, name, steps, shapes, top, threads):
    """`tinyflow_minimums` for torch: each ATen op the step dispatches, timed around its call."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    torch.set_num_threads(threads)

    class Clock(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            wall = time.perf_counter()
            out = func(*args, **(kwargs or {}))
            wall = time.perf_counter() - wall
            key = func.__name__
            if shapes:
                key += " " + " ".join("x".join(map(str, a.shape)) for a in args
                                      if isinstance(a, torch.Tensor))
            self.calls.append((key, wall))
            return out

    step = build(module, name)
    for _ in range(3):
        step()
    times, sites = [], []
    for _ in range(steps):
        clock = Clock()
        clock.calls = []
        wall = time.perf_counter()
        with clock:
            step()
        times.append(time.perf_counter() - wall)
        sites.append(clock.calls)
    print_minimums(name, "torch", times, sites, top)


def torch_table(module, name, steps, shapes, top, threads):
    import torch
    from torch.profiler import ProfilerActivity, profile
    torch.set_num_threads(threads)
    step = build(module, name)
    for _ in range(3):
        step()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    wall, cpu = (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps
    print(f"{name} torch: step {wall * 1e3:.2f} ms wall, {cpu * 1e3:.2f} ms cpu")
    with profile(activities=[ProfilerActivity.CPU], record_shapes=shapes) as prof:
        for _ in range(steps):
            step()
    print(prof.key_averages(group_by_input_shape=shapes).table(
        sort_by="self_cpu_time_total", row_limit=top))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", help="a module of bench/models (gpt, cnn, ...)")
    parser.add_argument("workload", help="a workload of that module's WORKLOADS")
    parser.add_argument("--threads", type=int, default=2, help="for every library")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--top", type=int, default=30, help="rows printed")
    parser.add_argument("--shapes", action="store_true", help="a row per first input shape")
    parser.add_argument("--torch", action="store_true", help="torch.profiler's table")
    parser.add_argument("--blas-team", action="store_true",
                        help="OpenBLAS's jobs on the kernel pool's threads (bench/blas_team.py)")
    parser.add_argument("--min", action="store_true",
                        help="per op, the sums of each call's fastest and median step")
    args = parser.parse_args()
    if args.blas_team and args.torch:
        parser.error("--blas-team is tinyflow's: not with --torch")
    if any(os.environ.get(k) != str(args.threads) for k in THREAD_ENV):
        env = dict(os.environ, **{k: str(args.threads) for k in THREAD_ENV})
        os.execve(sys.executable, [sys.executable] + sys.argv, env)   # before any import
    if args.blas_team:
        sys.path.insert(0, HERE)
        import harness
        harness.alias_torch_to_tinyflow()
        import blas_team
        blas_team.install()
    if args.torch and args.min:
        torch_minimums(args.module, args.workload, args.steps, args.shapes, args.top,
                       args.threads)
    elif args.torch:
        torch_table(args.module, args.workload, args.steps, args.shapes, args.top, args.threads)
    elif args.min:
        tinyflow_minimums(args.module, args.workload, args.steps, args.shapes, args.top)
    else:
        tinyflow_table(args.module, args.workload, args.steps, args.shapes, args.top)


if __name__ == "__main__":
    main()
