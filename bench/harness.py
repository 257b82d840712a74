"""The fair eager benchmark: the same PyTorch source (bench/models/*.py, which import torch)
run under torch and under tinyflow, each (workload, framework) in a process of its own,
repeats interleaved across frameworks (torch, tinyflow, tinyflow, torch, ...), every library
on 2 threads. Prints per workload the median ms per step over the repeats (each repeat's
value is the median of its timed steps), the spread (max-min over median, across repeats),
the ratio tinyflow/torch of those medians and of the best steps (the fastest step of any
process: on a machine loaded by other work, the less disturbed estimate), and the loss at
step 1 and step N of both, flagged when they differ beyond float32 tolerance: a wrong answer
cannot look fast. `cpu` is the same ratio of CPU time (process time, all threads) per step:
it counts work, not waiting for a core, so it moves less when other processes load the
machine (run with --threads 1 for the cleanest work comparison).

Under tinyflow, `torch`, `torch.nn`, `torch.nn.functional`, ... are aliased to tinyflow's
modules in sys.modules before a model module is imported, so the model source is unchanged.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/harness.py
    ... bench/harness.py --quick               # one repeat, 2 timed steps: a smoke run
    ... bench/harness.py --only gpt,chain --repeats 5   # names containing gpt or chain
    ... bench/harness.py --eager                      # every row but the _compiled ones
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)  # this checkout's tinyflow, not an installed one
THREADS = 2
MODULES = ("seed", "chain", "mlp", "cnn", "lstm", "gpt", "examples", "tutorials",
           "mobile", "char_rnn", "dcgan")
NUMPY_BASELINES = {"mlp_infer_b1": "mlp_numpy"}
WARMUP = 2
RTOL_FIRST = 1e-4   # step 1 (step N may drift: its tolerance is the workload's `drift`)
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "NUMBA_NUM_THREADS")


def alias_torch_to_tinyflow():
    """Make `import torch`, `import torch.nn as nn`, ... give this checkout's tinyflow's
    modules (`tinyflow.as_torch`, as `python -m tinyflow.as_torch` runs a program)."""
    sys.path.insert(0, ROOT)
    from tinyflow import as_torch
    as_torch.install()


def worker(framework: str, module: str, name: str, steps: int) -> dict:
    """Runs one workload in this process; returns per-step times and the losses."""
    sys.path.insert(0, HERE)
    if framework == "tinyflow":
        alias_torch_to_tinyflow()
    elif framework == "torch":
        import torch
        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", THREADS)))
    workload = importlib.import_module(f"models.{module}").WORKLOADS[name]
    step = workload.build()
    losses, times, cpu = [], [], []
    for i in range(WARMUP + steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        losses.append(float(step()))
        if i == 0:
            first_step = time.perf_counter() - start   # a compiled step's warm-up
        if i >= WARMUP:
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return {"times": times, "cpu": cpu, "first": losses[0], "last": losses[-1],
            "first_step_s": first_step}


def json_worker(script: str, args: list, threads: int, **extra_env: str) -> dict:
    """`python script *args` in a process of its own, every library at `threads` threads, and
    the JSON of its last output line; raises, naming the worker and its error, if it fails."""
    env = dict(os.environ, BENCH_THREADS=str(threads), **extra_env,
               **{k: str(threads) for k in THREAD_ENV})
    done = subprocess.run([sys.executable, os.path.abspath(script), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{os.path.basename(script)} {' '.join(map(str, args))} "
                           f"({threads} threads) failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_worker(framework: str, module: str, name: str, steps: int, threads: int) -> dict:
    env = dict(os.environ, BENCH_THREADS=str(threads), **{k: str(threads) for k in THREAD_ENV})
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, module, name,
           str(steps)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def all_workloads(only, eager=False):
    """(module, name, Workload) for each workload whose name contains a part in `only`; with
    `eager`, not the `_compiled` rows (whose torch.compile alone takes minutes)."""
    sys.path.insert(0, HERE)
    alias_torch_to_tinyflow()  # to read the tables without importing torch here
    found = []
    for module in MODULES:
        for name, workload in importlib.import_module(f"models.{module}").WORKLOADS.items():
            if eager and name.endswith("_compiled"):
                continue
            if not only or any(part in name for part in only):
                found.append((module, name, workload))
    return found


def frameworks_for(name):
    return ["torch", "tinyflow"] + (["numpy"] if name in NUMPY_BASELINES else [])


def summarize(results):
    """Median of per-process medians, the spread across processes (%), and the best step,
    in ms."""
    per_process = [statistics.median(r["times"]) * 1e3 for r in results if "times" in r]
    if not per_process:
        return None, None, None, None
    med = statistics.median(per_process)
    best = min(min(r["times"]) for r in results if "times" in r) * 1e3
    cpu = statistics.median(statistics.median(r["cpu"]) for r in results if "cpu" in r) * 1e3
    return med, (max(per_process) - min(per_process)) / med * 100, best, cpu


def close(a, b, rtol):
    return math.isclose(a, b, rel_tol=rtol, abs_tol=rtol)


def print_table(workloads, results):
    head = (f"{'workload':24} {'torch ms':>10} {'±%':>4} {'tinyflow ms':>11} {'±%':>4} "
            f"{'tf/torch':>8} {'best':>6} {'cpu':>6} {'numpy ms':>9} {'loss1 torch':>12} "
            f"{'loss1 tf':>12} "
            f"{'lossN torch':>12} {'lossN tf':>12}  check")
    print(head)
    print("-" * len(head))
    for module, name, workload in workloads:
        row = {fw: summarize(results[name][fw]) for fw in results[name]}
        errors = [r["error"] for fw in results[name] for r in results[name][fw] if "error" in r]
        t, tf = row["torch"][0], row["tinyflow"][0]
        fmt = lambda v, spec: format(v, spec) if v is not None else "-"  # noqa: E731
        ratio = f"{tf / t:.2f}x" if t and tf else "-"
        best = f"{row['tinyflow'][2] / row['torch'][2]:.2f}x" if t and tf else "-"
        cpu = f"{row['tinyflow'][3] / row['torch'][3]:.2f}x" if t and tf else "-"
        numpy_ms = fmt(row.get("numpy", (None,))[0], ".3f")
        ok = lambda fw: [r for r in results[name][fw] if "first" in r]  # noqa: E731
        torch_run, tf_run = (ok("torch") or [None])[0], (ok("tinyflow") or [None])[0]
        if torch_run and tf_run:
            match = (close(tf_run["first"], torch_run["first"], RTOL_FIRST)
                     and close(tf_run["last"], torch_run["last"], workload.drift))
            check = "ok" if match else "LOSS MISMATCH"
            losses = (f"{torch_run['first']:12.6g} {tf_run['first']:12.6g} "
                      f"{torch_run['last']:12.6g} {tf_run['last']:12.6g}")
        else:
            check, losses = "ERROR " + "; ".join(errors)[:120], " " * 51
        print(f"{name:24} {fmt(t, '10.3f')} {fmt(row['torch'][1], '4.0f')} "
              f"{fmt(tf, '11.3f')} {fmt(row['tinyflow'][1], '4.0f')} {ratio:>8} {best:>6} {cpu:>6} "
              f"{numpy_ms:>9} {losses}  {check}", flush=True)
    compiled = [name for _, name, _ in workloads if name.endswith("_compiled")]
    for name in compiled:     # torch.compile's or tinyflow.compile's warm-up
        first = {fw: statistics.median(r["first_step_s"] for r in results[name][fw]
                                       if "first_step_s" in r) for fw in ("torch", "tinyflow")
                 if any("first_step_s" in r for r in results[name][fw])}
        print(f"{name}: first step (compile) " + ", ".join(f"{fw} {s:.1f} s"
                                                           for fw, s in first.items()))


def cpu_ticks() -> tuple:
    """(steal, total) jiffies of all CPUs from /proc/stat ((0, 0) where there is none)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="processes per framework")
    parser.add_argument("--quick", action="store_true", help="one repeat, 2 timed steps")
    parser.add_argument("--only", default="", help="comma-separated parts of workload names")
    parser.add_argument("--eager", action="store_true", help="leave out the _compiled rows")
    parser.add_argument("--threads", type=int, default=THREADS, help="for every library")
    args = parser.parse_args()
    only = [part for part in args.only.split(",") if part]
    workloads = all_workloads(only, args.eager)
    repeats = 1 if args.quick else args.repeats
    print(f"fair eager harness: {repeats} process(es) per (workload, framework), interleaved; "
          f"threads={args.threads}; load average at start {os.getloadavg()[0]:.2f} "
          f"(2 cores shared with other work)", flush=True)
    from tinyflow.backend.numpy import blas
    print(f"tinyflow's BLAS: {blas.describe()}", flush=True)
    results = {name: {fw: [] for fw in frameworks_for(name)} for _, name, _ in workloads}
    started, ticks = time.perf_counter(), cpu_ticks()
    for r in range(repeats):
        for module, name, workload in workloads:
            order = frameworks_for(name)
            for fw in (order if r % 2 == 0 else order[::-1]):
                steps = 2 if args.quick else workload.steps
                mod = NUMPY_BASELINES[name] if fw == "numpy" else module
                result = run_worker(fw, mod, name, steps, args.threads)
                results[name][fw].append(result)
                done = (f"{statistics.median(result['times']) * 1e3:.3f} ms" if "times" in result
                        else result["error"][:80])
                print(f"  [{r + 1}/{repeats}] {name} {fw}: {done}", file=sys.stderr, flush=True)
    print_table(workloads, results)
    steal, total = (end - start for end, start in zip(cpu_ticks(), ticks))
    # a virtual machine's CPU time taken by its host: these cores ran slower by this share
    stolen = f"; CPU stolen by the host {100 * steal / total:.0f} %" if total else ""
    print(f"wall {time.perf_counter() - started:.0f} s; load average at end "
          f"{os.getloadavg()[0]:.2f}{stolen}; ms per step, median over processes; "
          f"±% = (max-min)/median")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        fw, module, name, steps = sys.argv[2:6]
        print(json.dumps(worker(fw, module, name, int(steps))))
    else:
        main()
