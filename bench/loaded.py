"""Eager speed on a busy machine: K busy-loop processes (not pinned; each ends with this
one) run beside each framework, as on a shared machine or a CI runner, so the kernel threads'
waits (the kernel pool's hand-off, the LSTM's per-step waits, OpenBLAS's and OpenMP's
teams) meet partners the OS has descheduled. For each K, each (framework, workload) runs
in a process of its own, repeats interleaved across frameworks, 2 threads for every
library; prints forward and backward ms per call: the median over every timed call of
every process, and the fastest. The busy processes are stopped before it returns.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/loaded.py \\
        --busy 0,2,4 --repeats 3 [--workloads lstm64,lstm256,pool] \\
        [--tree base=/work/s22/base] [--single]   # more columns: another checkout's
                                                  # tinyflow; this one on one thread

Workloads: lstm64 (nn.LSTM(28, 64), batch-first [64, 28, 28], loss on the last output: one
recurrence, each step's product on OpenBLAS's threads), lstm256 (nn.LSTM(128, 256),
time-major [50, 32, 128], loss on h_n: the recurrence cut by hidden rows on the kernel
pool, each step's pieces first come, first served), pool (tanh and a product over 2M floats: pooled
elementwise kernels).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "NUMBA_NUM_THREADS")


def worker(framework: str, root: str, workload: str, calls: int) -> dict:
    if framework == "torch":
        import torch
        torch.set_num_threads(2)
    else:
        sys.path.insert(0, root)
        import tinyflow as torch
    torch.manual_seed(0)
    if workload == "lstm64":
        net, x = torch.nn.LSTM(28, 64, batch_first=True), torch.randn(64, 28, 28)

        def forward():
            return net(x)[0][:, -1].sum()
    elif workload == "lstm256":
        net, x = torch.nn.LSTM(128, 256), torch.randn(50, 32, 128)

        def forward():
            return net(x)[1][0].sum()
    elif workload == "pool":
        x = torch.randn(2048, 1024, requires_grad=True)

        def forward():
            return (torch.tanh(x) * x).sum()
    else:
        raise SystemExit(f"unknown workload {workload}")
    fwd, bwd, loss = [], [], None
    for i in range(calls + 2):
        start = time.perf_counter()
        y = forward()
        middle = time.perf_counter()
        y.backward()
        end = time.perf_counter()
        loss = float(y)
        if i >= 2:
            fwd.append((middle - start) * 1e3)
            bwd.append((end - middle) * 1e3)
    return {"fwd": fwd, "bwd": bwd, "loss": loss}


BUSY = ("import os, sys, time\n"    # ends when this process is gone (killed by quiet.py's
        "parent, end = int(sys.argv[1]), time.monotonic() + 3600\n"   # --max, say) or in 1 h
        "while os.getppid() == parent and time.monotonic() < end:\n"
        "    for _ in range(20000): pass\n")


def busy(count: int, where: str) -> list:
    return [subprocess.Popen([sys.executable, "-c", BUSY, str(os.getpid())], cwd=where,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            for _ in range(count)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", default="0,2,4", help="busy processes, comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="processes per framework")
    parser.add_argument("--calls", type=int, default=8, help="timed calls per process")
    parser.add_argument("--workloads", default="lstm64,lstm256,pool")
    parser.add_argument("--tree", action="append", default=[],
                        help="name=path: another checkout's tinyflow, as one more column")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--single", action="store_true",
                        help="one more column: this tinyflow on one thread (every library)")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        framework, root, workload, calls = args.worker
        print(json.dumps(worker(framework, root, workload, int(calls))))
        return
    trees = ([] if args.no_torch else [("torch", "")]) + [("tinyflow", ROOT)] + [
        tuple(t.split("=", 1)) for t in args.tree] + ([("1-thread", ROOT)] if args.single else [])
    env = dict(os.environ, **{name: "2" for name in THREAD_ENV})
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(name, None)
    print(f"{'busy':>4} {'workload':9} {'framework':10} {'fwd med':>8} {'fwd min':>8} "
          f"{'bwd med':>8} {'bwd min':>8}  loss")
    for count in (int(k) for k in args.busy.split(",")):
        burners = busy(count, os.getcwd())
        try:
            time.sleep(0.3 if count else 0)
            for workload in args.workloads.split(","):
                got = {name: {"fwd": [], "bwd": [], "loss": None} for name, _ in trees}
                for r in range(args.repeats):
                    order = trees if r % 2 == 0 else trees[::-1]
                    for name, root in order:
                        out = subprocess.run(
                            [sys.executable, __file__, "--worker",
                             "torch" if name == "torch" else "tinyflow", root or ROOT,
                             workload, str(args.calls)],
                            env=dict(env, TINYFLOW_KERNEL_THREADS="1", **{
                                n: "1" for n in THREAD_ENV}) if name == "1-thread" else env,
                            capture_output=True, text=True, timeout=600)
                        if out.returncode:
                            print(f"{name} {workload} failed:\n{out.stderr[-2000:]}")
                            continue
                        one = json.loads(out.stdout.strip().splitlines()[-1])
                        got[name]["fwd"] += one["fwd"]
                        got[name]["bwd"] += one["bwd"]
                        got[name]["loss"] = one["loss"]
                for name, _ in trees:
                    g = got[name]
                    if not g["fwd"]:
                        continue
                    print(f"{count:>4} {workload:9} {name:10} "
                          f"{statistics.median(g['fwd']):8.2f} {min(g['fwd']):8.2f} "
                          f"{statistics.median(g['bwd']):8.2f} {min(g['bwd']):8.2f}  "
                          f"{g['loss']:.6g}", flush=True)
        finally:
            for p in burners:
                p.kill()
            for p in burners:
                p.wait()


if __name__ == "__main__":
    main()
