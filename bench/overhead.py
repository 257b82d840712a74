"""Per-op overhead in CPU time: the workloads of bench/models whose time is mostly Python
dispatch (the seed step, the chain of 1000 small ops, the MLP step), each run in a process of
its own on one thread, repeats interleaved across runners, the best of each runner's
processes kept. CPU time (process time) counts work rather than waiting for a core, so on a
machine loaded by other work it moves far less than wall time; one thread removes thread-pool
contention. Runners: torch, this checkout's tinyflow, and (`--against PATH`) another
checkout's tinyflow, e.g. the commit before a change:

    git archive <commit> | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/overhead.py \
        --against /tmp/before
"""
from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOADS = {"seed_logreg": ("seed", 300), "chain_fwd": ("chain", 20),
             "chain_fwd_bwd": ("chain", 20), "mlp_train_sgdm": ("mlp", 5)}
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                               "NUMBA_NUM_THREADS")}


def worker(root: str, name: str) -> float:
    """CPU ms per step of one workload: the best of 5 rounds after warm-up."""
    sys.path.insert(0, HERE)
    if root == "torch":
        import torch
        torch.set_num_threads(1)
    else:
        sys.path.insert(0, root)
        import tinyflow
        import tinyflow.nn.functional  # noqa: F401
        import tinyflow.optim  # noqa: F401
        if not tinyflow.__file__.startswith(os.path.abspath(root)):
            raise RuntimeError(f"imported {tinyflow.__file__}, not the checkout at {root}")
        for key in list(sys.modules):   # the model source says `import torch`
            if key == "tinyflow" or key.startswith("tinyflow."):
                sys.modules["torch" + key[len("tinyflow"):]] = sys.modules[key]
    module, steps = WORKLOADS[name]
    step = importlib.import_module(f"models.{module}").WORKLOADS[name].build()
    for _ in range(5):
        step()
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(steps):
            step()
        best = min(best, (time.process_time() - start) / steps)
    return best * 1e3


def run(root: str, name: str) -> float:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", root, name],
                         capture_output=True, text=True, env={**env, **ONE_THREAD},
                         timeout=600)
    if out.returncode:
        raise RuntimeError(f"{name} under {root} failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="another checkout's root to compare with")
    parser.add_argument("--repeats", type=int, default=3, help="processes per runner")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(worker(*args.worker))
        return
    runners = {"torch": "torch", "tinyflow": ROOT}
    if args.against:
        runners = {"torch": "torch", "before": args.against, "tinyflow": ROOT}
    print(f"CPU ms per step, one thread, best of {args.repeats} processes per runner "
          f"(interleaved); load average at start {os.getloadavg()[0]:.2f}")
    header = f"{'workload':<16}" + "".join(f"{r:>11}" for r in runners) + "   tf/torch"
    print(header + ("  tf/before" if args.against else ""))
    for name in WORKLOADS:
        best = {r: float("inf") for r in runners}
        for _ in range(args.repeats):
            for runner, root in runners.items():
                best[runner] = min(best[runner], run(root, name))
        row = f"{name:<16}" + "".join(f"{best[r]:>11.3f}" for r in runners)
        row += f"   {best['tinyflow'] / best['torch']:>7.2f}x"
        if args.against:
            row += f"   {best['tinyflow'] / best['before']:>7.2f}x"
        print(row, flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
