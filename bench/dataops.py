"""Per-call cost of everyday eager data operations at small sizes (creation, joining,
reductions with indices, indexing, conversion, views): the same statement run under torch
and under tinyflow, each framework in a process of its own on one thread, processes
interleaved (torch, tinyflow[, before], torch, ...). A process times each statement in
rounds of ~10 ms and keeps its best round; the table gives the median over processes in
microseconds per call and the ratio tinyflow/torch (and tinyflow/before with --against).
These are front-end costs (argument handling, dtype and device normalisation, result
construction): the arrays are tiny, so the kernels themselves take well under a microsecond.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/dataops.py
    ... bench/dataops.py --only randint,max_dim1,cat --repeats 5
    ... bench/dataops.py --against /work/s23/base      # A/B against another checkout
    ... bench/dataops.py --instructions --only view --against /work/s23/base

`--instructions` counts instructions per call under valgrind's callgrind instead (one
process per runner, exact on a loaded machine; see bench/instructions.py for its caveats).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                               "NUMBA_NUM_THREADS")}
ROUND_SECONDS, ROUNDS = 0.01, 7
CALLS = 200   # per statement under --instructions

SETUP = """
import numpy as np
x = torch.from_numpy(np.random.RandomState(0).randn(64, 10).astype(np.float32))
y = x.clone()
v = x[:, 0].clone()
w = y.clone()
xt = x.t()
xi = torch.arange(640).reshape(64, 10)
idx = torch.tensor([1, 5, 9, 3])
mask = v > 0
s = v.sum()
"""

STATEMENTS = {   # name -> one call on SETUP's tensors (x: 64x10 float32, v: 64)
    "randint": "torch.randint(0, 10, (64,))",
    "randn": "torch.randn(64, 10)",
    "rand": "torch.rand(64, 10)",
    "zeros": "torch.zeros(64, 10)",
    "ones": "torch.ones(64, 10)",
    "empty": "torch.empty(64, 10)",
    "full": "torch.full((64, 10), 1.5)",
    "arange": "torch.arange(64)",
    "tensor_list": "torch.tensor([1.0, 2.0, 3.0])",
    "cat": "torch.cat([x, y])",
    "cat_dim1": "torch.cat([x, y], dim=1)",
    "stack": "torch.stack([v, v])",
    "split": "x.split(16)",
    "chunk": "x.chunk(4)",
    "max": "x.max()",
    "max_dim1": "x.max(dim=1)",
    "min_dim1": "x.min(dim=1)",
    "argmax_dim1": "x.argmax(dim=1)",
    "topk": "x.topk(3, dim=1)",
    "sort": "x.sort(dim=1)",
    "sum_dim1": "x.sum(dim=1)",
    "mean_dim0": "x.mean(dim=0)",
    "index_int": "x[3]",
    "index_slice": "x[2:10]",
    "index_mask": "v[mask]",
    "index_tensor": "x[idx]",
    "setitem_int": "w[3] = 0.0",
    "setitem_mask": "w[mask] = 0.0",
    "item": "s.item()",
    "tolist": "v.tolist()",
    "iterate_64": "for row in x: pass",
    "add": "x + y",   # (an elementwise op, for reference)
    "gt_scalar": "x > 0",
    "eq": "x == y",
    "where": "torch.where(mask, v, -v)",
    "clone": "x.clone()",
    "to_float64": "x.to(torch.float64)",
    "int_float": "xi.float()",
    "view": "x.view(-1)",
    "reshape": "x.reshape(10, 64)",
    "permute": "x.permute(1, 0)",
    "contiguous": "xt.contiguous()",
    "unsqueeze": "x.unsqueeze(0)",
    "squeeze": "v.unsqueeze(1).squeeze(1)",
    "shape": "x.shape",
    "size_dim": "x.size(1)",
}


def _import(root: str):
    """torch, or the tinyflow of the checkout at `root` (checked: not an installed one)."""
    if root == "torch":
        import torch
        torch.set_num_threads(1)
        return torch
    sys.path.insert(0, root)
    import tinyflow
    if not tinyflow.__file__.startswith(os.path.abspath(root)):
        raise RuntimeError(f"imported {tinyflow.__file__}, not the checkout at {root}")
    return tinyflow


def worker(root: str, names: list) -> dict:
    """Best-round microseconds per call of each statement, in this process."""
    torch = _import(root)
    env = {"torch": torch}
    exec(SETUP, env)
    result = {}
    for name in names:
        one = compile(STATEMENTS[name], name, "exec")
        exec(one, env)   # first-call imports and caches are not timed
        start, calls = time.perf_counter(), 0
        while time.perf_counter() - start < ROUND_SECONDS / 4:
            exec(one, env)
            calls += 1
        calls = max(1, calls * 4)
        loop = compile(f"for _ in range({calls}):\n    " + STATEMENTS[name].replace(
            "\n", "\n    "), name, "exec")
        best = float("inf")
        for _ in range(ROUNDS):
            start = time.perf_counter()
            exec(loop, env)
            best = min(best, time.perf_counter() - start)
        result[name] = best / calls * 1e6
    return result


def count_worker(root: str, names: list) -> None:
    """Runs each statement's loop of CALLS calls with callgrind's instrumentation on, dumping
    one count per statement (the process runs inside valgrind)."""
    from instructions import count_around, count_toggles
    torch = _import(root)
    env = {"torch": torch}
    exec(SETUP, env)
    count_toggles()
    for name in names:
        loop = compile(f"for _ in range({CALLS}):\n    " + STATEMENTS[name], name, "exec")
        exec(loop, env)   # warm: first-call imports and caches are not counted
        count_around(name, lambda: exec(loop, env))


def count(root: str, names: list) -> dict:
    """Instructions per call of each statement, from one valgrind run."""
    from instructions import TOGGLES, dumped_counts, run_under_callgrind
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        run_under_callgrind(__file__, ["count", root, *names], out, root)
        dumps = dumped_counts(out)
    return {name: (total - dumps[TOGGLES]) / CALLS for name, total in dumps.items()
            if name in STATEMENTS}


def run(root: str, names: list) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "PYTHONPATH")}
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", root, *names],
                         capture_output=True, text=True, env={**env, **ONE_THREAD},
                         timeout=600)
    if out.returncode:
        raise RuntimeError(f"{root} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated statement names")
    parser.add_argument("--repeats", type=int, default=3, help="processes per runner")
    parser.add_argument("--against", help="another checkout's root (e.g. the base) for A/B")
    parser.add_argument("--instructions", action="store_true",
                        help="instructions per call (callgrind) instead of time")
    parser.add_argument("--no-torch", action="store_true",
                        help="with --instructions: count tinyflow only (quicker)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.worker[0] == "count":
            sys.path.insert(0, HERE)
            count_worker(args.worker[1], args.worker[2:])
        else:
            print(json.dumps(worker(args.worker[0], args.worker[1:])))
        return
    names = args.only.split(",") if args.only else list(STATEMENTS)
    unknown = set(names) - set(STATEMENTS)
    if unknown:
        parser.error(f"unknown {sorted(unknown)}; known: {', '.join(STATEMENTS)}")
    runners = {"torch": "torch", "tinyflow": ROOT}
    if args.against:
        runners = {"torch": "torch", "before": os.path.abspath(args.against), "tinyflow": ROOT}
    if args.instructions:
        if args.no_torch:
            runners = {r: root for r, root in runners.items() if r != "torch"}
        counts = {r: count(root, names) for r, root in runners.items()}
        if args.no_torch:
            counts["torch"] = {name: float("nan") for name in names}
        print(f"{'statement':<14}" + "".join(f"{r:>10}" for r in counts) + "  tf/torch"
              + ("  tf/before" if args.against else "") + "   (instructions per call)")
        for name in names:
            c = counts
            row = f"{name:<14}" + "".join(f"{c[r][name]:>10,.0f}" for r in c)
            row += f"  {c['tinyflow'][name] / c['torch'][name]:>7.2f}x"
            if args.against:
                row += f"  {c['tinyflow'][name] / c['before'][name]:>8.2f}x"
            print(row, flush=True)
        return
    times = {r: [] for r in runners}
    for _ in range(args.repeats):
        for runner, root in runners.items():
            times[runner].append(run(root, names))
    print(f"us per call, one thread, median over {args.repeats} processes per runner "
          f"(interleaved); load average {os.getloadavg()[0]:.2f}")
    print(f"{'statement':<14}" + "".join(f"{r:>10}" for r in runners) + "  tf/torch"
          + ("  tf/before" if args.against else ""))
    for name in names:
        med = {r: statistics.median(t[name] for t in times[r]) for r in runners}
        row = f"{name:<14}" + "".join(f"{med[r]:>10.2f}" for r in runners)
        row += f"  {med['tinyflow'] / med['torch']:>7.2f}x"
        if args.against:
            row += f"  {med['tinyflow'] / med['before']:>8.2f}x"
        print(row, flush=True)


if __name__ == "__main__":
    main()
