"""Instructions per step of harness workloads (valgrind's callgrind), for comparing eager
overhead on a machine loaded by other work, where wall and CPU times of small steps move by
10-30 % between runs: the count of the same step is the same to 0.1 %.

Counting is on only around the timed steps (`callgrind_control -i on/off` from inside the
worker), so imports and warm-up cost nothing but valgrind's slower plain run. The worker's
wait for the `on` and `off` calls themselves counts too (~0.5M instructions: 27k a step of
20, which moved tinyflow/NumPy ratios toward 1): a pair around nothing is counted first and
taken off (`count_around`, `count_toggles`). Caveat: under
valgrind OpenBLAS picks its Haswell (AVX2) kernels, and memory stalls are not counted, so
GEMM-bound steps compare poorly with wall time; the Python and NumPy-call part is exact.

    .venv/bin/python bench/instructions.py seed_logreg mlp_infer_b1
    ... bench/instructions.py mlp_infer_b1 --tree /path/to/other/checkout   # before/after
"""
from __future__ import annotations

import argparse
import glob
import importlib
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
WARMUP = 20


def worker(tree: str, framework: str, module: str, name: str, steps: int) -> None:
    """Runs `steps` steps of `tree`'s workload with callgrind's instrumentation on (inside
    valgrind); `tree`'s harness aliases torch to that checkout's tinyflow."""
    sys.path.insert(0, os.path.join(tree, "bench"))
    import harness
    if framework == "tinyflow":
        harness.alias_torch_to_tinyflow()
    elif framework == "torch":
        import torch
        torch.set_num_threads(1)
    step = importlib.import_module(f"models.{module}").WORKLOADS[name].build()
    for _ in range(WARMUP):
        step()
    count_toggles()
    count_around("steps", lambda: [step() for _ in range(steps)])


TOGGLES = "toggles"   # the dump of an on/off pair around nothing: their own cost
# A pair's own count falls as CPython specializes subprocess's code: ~300k, 298k, 331k for
# the process's first three pairs, then 220.8k to within 0.1 % (Python 3.11, 2026-12-06). An
# op_instructions snippet counted 4th or later had 79k / 200 calls, ~395 instructions a call,
# taken off too many when the pair kept was the first: the pair kept is the one after these.
WARM_TOGGLES = 4


def count_toggles() -> None:
    """Counts `WARM_TOGGLES` on/off pairs around nothing (their dumps labelled "warm"), then
    the one kept as `TOGGLES`: what every later pair counts by itself."""
    for _ in range(WARM_TOGGLES):
        count_around("warm", lambda: None)
    count_around(TOGGLES, lambda: None)


def count_around(label: str, run) -> None:
    """Counts `run()` (instrumentation on, then off) and dumps the count as `label`; the
    dump of `TOGGLES` holds what the on/off calls themselves count, to take off."""
    pid = str(os.getpid())
    for action in (["-i", "on"], None, ["-i", "off"], ["-d", label]):
        if action is None:
            run()
        else:
            subprocess.run(["callgrind_control", *action, pid], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True)


def dumped_counts(out: str) -> dict:
    """label -> instructions of each dump `count_around` made (files `out`.N)."""
    counts = {}
    for path in glob.glob(out + ".*"):
        label = total = None
        with open(path) as f:
            for line in f:
                if line.startswith("desc: Trigger"):
                    label = line.split()[-1]
                elif line.startswith("totals:"):
                    total = int(line.split()[1])
        if label is not None and total is not None:
            counts[label] = total
    return counts


def run_under_callgrind(script: str, worker_args: list, out: str, what: str) -> None:
    """`python script --worker *worker_args` under callgrind, counting only where the worker
    turns instrumentation on, every library on one thread; profiles go to `out` (and to
    `out`.N for each dump the worker asks for)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
           f"--callgrind-out-file={out}", sys.executable, os.path.abspath(script),
           "--worker", *worker_args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-2000:]}")


def count(tree: str, framework: str, module: str, name: str, steps: int) -> int:
    """Instructions per step of one workload, from the checkout `tree`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        run_under_callgrind(__file__, [tree, framework, module, name, str(steps)], out,
                            f"{name} ({framework})")
        counts = dumped_counts(out)
        return (counts["steps"] - counts[TOGGLES]) // steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workloads", nargs="+", help="harness workload names")
    parser.add_argument("--tree", action="append", default=[],
                        help="another checkout to count too (before/after)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--torch", action="store_true", help="count torch's steps too")
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    import harness
    where = {}
    for module in harness.MODULES:
        for name in importlib.import_module(f"models.{module}").WORKLOADS:
            where[name] = module
    trees = [os.path.dirname(HERE)] + [os.path.abspath(t) for t in args.tree]
    print(f"{'workload':<18} {'framework':<10} instructions/step  tree")
    for name in args.workloads:
        runs = [(tree, "tinyflow", where[name]) for tree in trees]
        if name in harness.NUMPY_BASELINES:
            runs.append((trees[0], "numpy", harness.NUMPY_BASELINES[name]))
        if args.torch:
            runs.append((trees[0], "torch", where[name]))
        for tree, framework, module in runs:
            per_step = count(tree, framework, module, name, args.steps)
            print(f"{name:<18} {framework:<10} {per_step:>17,}  {tree}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    else:
        main()
