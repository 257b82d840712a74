"""Where a compiled training step spends its time: the planned program of one harness
workload (bench/models/*.py, run under tinyflow with its `_compiled` variant) profiled per
kernel (`Plan.profile`), summed per op kind, beside the whole step's time compiled and eager
in the same process (alternating steps). The kinds are grouped as GEMMs (matmul, affine),
attention, the optimizer's update loops (the steps writing parameters and moments in place)
and the rest (elementwise, normalizations, copies):
what a compiler can change without faster GEMMs is the last two.

CPU time (`--clock cpu`, the default) is what other processes' load inflates least; wall
time (`--clock wall`) is what a quiet machine's harness measures. Run with one thread for the
cleanest split:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \\
        .venv/bin/python bench/plan_profile.py --module gpt --workload gpt4_b16_sdpa_causal_tanh
"""
from __future__ import annotations

import argparse
import collections
import importlib
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GROUPS = (("gemm", ("matmul", "affine")), ("attention", ("attention", "attention_grad")))
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def group_of(name: str) -> str:
    for group, names in GROUPS:
        if name in names:
            return group
    return "other"


def compiled_plan(step):
    """The plan and feeds of the one graph a harness `_compiled` step runs."""
    cells = [c.cell_contents for c in step.__closure__]
    (compiled,) = [v for v in cells if hasattr(v, "_cache")]
    (entry,) = [e for es in compiled._cache.values() if isinstance(es, list) for e in es]
    feeds = [v.array for v in cells if hasattr(v, "array")]
    return entry.plan, feeds


def step_times(steps: dict, repeats: int, clock) -> dict:
    """Median seconds per step of each of `steps`, alternating them."""
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = clock()
            step()
            times[name].append(clock() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", default="gpt")
    parser.add_argument("--workload", default="gpt4_b16_sdpa_causal_tanh")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    parser.add_argument("--runs", type=int, default=3, help="profiled runs (least per kernel)")
    parser.add_argument("--repeats", type=int, default=5, help="whole steps of each kind")
    parser.add_argument("--steps", action="store_true", help="also list every kernel")
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    import harness
    harness.alias_torch_to_tinyflow()

    workloads = importlib.import_module(f"models.{args.module}").WORKLOADS
    eager = workloads[args.workload].build()
    compiled = workloads[args.workload + "_compiled"].build()
    for _ in range(2):
        eager(), compiled()
    clock = CLOCKS[args.clock]
    whole = step_times({"eager": eager, "compiled": compiled}, args.repeats, clock)

    plan, feeds = compiled_plan(compiled)
    c = plan._compiled_for(plan._load(feeds))
    update_loops = set(c.buffers.out_state)   # the steps writing parameters / moments
    profile = plan.profile(feeds, runs=args.runs, clock=clock)
    kinds = collections.defaultdict(lambda: [0, 0.0, 0])
    groups = collections.Counter()
    for n, (name, shape, seconds, flops) in enumerate(profile):
        kind = kinds[name]
        kind[0] += 1
        kind[1] += seconds
        kind[2] += flops
        groups["optimizer" if n in update_loops else group_of(name)] += seconds
    total = sum(groups.values())
    print(f"{args.workload}: {len(profile)} kernels, {args.clock} time, "
          f"load average {os.getloadavg()[0]:.1f} (2 cores shared with other work)")
    print(f"  whole step (median of {args.repeats}): eager {whole['eager'] * 1e3:.1f} ms, "
          f"compiled {whole['compiled'] * 1e3:.1f} ms "
          f"(eager / compiled {whole['eager'] / whole['compiled']:.2f}x); "
          f"kernels of the plan: {total * 1e3:.1f} ms")
    for group in ("gemm", "attention", "optimizer", "other"):
        print(f"  {group:10s} {groups[group] * 1e3:8.1f} ms  {groups[group] / total:6.1%}")
    print(f"  {'kernel':44s} {'calls':>5s} {'ms':>8s} {'share':>6s} {'GFLOP/s':>8s}")
    for name, (calls, seconds, flops) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
        rate = flops / seconds / 1e9 if seconds else 0.0
        print(f"  {name[:44]:44s} {calls:5d} {seconds * 1e3:8.2f} {seconds / total:6.1%} "
              f"{rate:8.1f}")
    if args.steps:
        for name, shape, seconds, _ in profile:
            print(f"    {name[:44]:44s} {str(shape):20s} {seconds * 1e3:8.3f}")


if __name__ == "__main__":
    main()
