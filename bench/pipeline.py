"""Pipeline parallelism: the measured bubble of GPipe and 1F1B against (p - 1) / (m + p - 1),
and the micro-batch activations each stage held, for p stages of equal, known cost:

- "sleep" stages: a tiny Linear that also sleeps --forward / --backward seconds per
  micro-batch (dist.Delayed). Sleeping needs no core, so on this 2-core machine (shared with
  other jobs) these measure the schedule itself: how well the stages overlap, plus Ray's
  per-message latency.
- "matmul" stages: Linear(d, d) + ReLU on a batch split in m, float32. The p stage processes
  share the machine's cores (2 here), so stages that should run at once slow each other: read
  these rows as what this machine does, not as the schedule's bubble.

A micro-batch's forward and backward costs are the same on every stage, so the theory holds
for both schedules. Repeats are interleaved over the configurations; each cell is the median
over --repeats steps (after one warm-up step), with the range. Writes a PNG of the timelines
(one row per stage, F/B boxes with micro-batch numbers) to --plot.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/pipeline.py
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import tinyflow as torch
import tinyflow.distributed as dist
from tinyflow import nn
from tinyflow.distributed.pipeline_plot import plot_timelines
from tinyflow.distributed.pipeline_schedule import bubble_fraction
from tinyflow.nn import functional as F

SCHEDULES = ("gpipe", "1f1b")


class LinearStage:
    """Factory of one stage: Linear(width, width) + ReLU, float32, seeded, built in the
    stage's worker."""

    def __init__(self, width: int, seed: int) -> None:
        self.width, self.seed = width, seed

    def __call__(self):
        torch.manual_seed(self.seed)
        return nn.Sequential(nn.Linear(self.width, self.width), nn.ReLU())


def build(kind: str, args) -> tuple:
    """A pipeline of `args.stages` stages of `kind` and one batch (x, y) for it."""
    width = 16 if kind == "sleep" else args.width
    stages = [LinearStage(width, i) for i in range(args.stages)]
    if kind == "sleep":
        stages = [dist.Delayed(s, args.forward, args.backward) for s in stages]
    pipe = dist.Pipeline(stages, loss_fn=F.mse_loss,
                         optimizer=lambda params: torch.optim.SGD(params, lr=1e-3),
                         timeout=600.0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, width)).astype(np.float32)
    return pipe, x, rng.standard_normal((args.batch, width)).astype(np.float32)


def hop_latencies(timelines) -> list:
    """Seconds from a neighbour finishing a micro-batch's work to this stage starting the
    work that needed it, wherever this stage sat idle waiting for it: Ray's message latency
    as the schedule felt it."""
    end = {(iv.stage, iv.kind, iv.microbatch): iv.end for line in timelines for iv in line}
    waits = []
    for line in timelines:
        for before, iv in zip(line, line[1:]):
            source = (iv.stage - 1 if iv.kind == "F" else iv.stage + 1, iv.kind, iv.microbatch)
            if source in end and end[source] > before.end:
                waits.append(iv.start - end[source])
    return waits


def mean_costs(timelines) -> dict:
    """The mean busy seconds of a forward and of a backward over all stages."""
    spans = {"F": [], "B": []}
    for line in timelines:
        for iv in line:
            spans[iv.kind].append(iv.end - iv.start)
    return {"forward": float(np.mean(spans["F"])), "backward": float(np.mean(spans["B"]))}


def measure(kinds, args) -> tuple:
    """Per (kind, schedule, m): bubble fractions, step seconds, peaks, transfers; and the
    timelines of the --plot-chunks steps for the picture."""
    runs = {kind: build(kind, args) for kind in kinds}
    configs = [(k, s, m) for k in kinds for s in SCHEDULES for m in args.chunks]
    cells = {c: {"bubble": [], "seconds": [], "hops": []} for c in configs}
    pictures = {}
    try:
        for repeat in range(args.repeats + 1):          # repeat 0: warm-up, not recorded
            for kind, schedule, m in configs:
                pipe, x, y = runs[kind]
                pipe.schedule, pipe.chunks = schedule, m
                pipe.step(x, y)
                if repeat == 0:
                    continue
                report, cell = pipe.last, cells[(kind, schedule, m)]
                cell["bubble"].append(report.bubble_fraction)
                cell["seconds"].append(report.seconds)
                cell["hops"] += hop_latencies(report.timelines)
                cell["peaks"] = report.peak_activations
                cell.update(schedule=schedule, chunks=m, **mean_costs(report.timelines))
                cell["transfers"] = (report.transfers("activation"),
                                     report.transfers("gradient"))
                if m == args.plot_chunks:
                    pictures[(kind, schedule)] = report.timelines
    finally:
        for pipe, _, _ in runs.values():
            pipe.shutdown()
    return cells, pictures


def print_table(cells, args) -> None:
    p = args.stages
    print(f"\np = {p} stages, batch {args.batch}; sleep stages: F {args.forward * 1e3:g} ms, "
          f"B {args.backward * 1e3:g} ms per micro-batch; matmul stages: Linear({args.width}, "
          f"{args.width}) + ReLU, float32; median [min, max] of {args.repeats} steps; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'stages':7} {'schedule':8} {'m':>3} {'theory':>7} {'sim+hop':>7} "
          f"{'measured bubble':>24} "
          f"{'rel.err':>8} {'step s':>7} {'hop ms':>6}  {'peak activations':18} "
          f"{'sent F/B per boundary'}")
    for (kind, schedule, m), cell in cells.items():
        theory = dist.theoretical_bubble(p, m)
        hop = float(np.median(cell["hops"] or [0.0]))
        b = np.array(cell["bubble"])
        med = float(np.median(b))
        err = (med - theory) / theory if theory else 0.0
        acts, grads = cell["transfers"]
        print(f"{kind:7} {schedule:8} {m:3d} {theory:7.3f} {with_latency(cell, hop):7.3f} "
              f"{med:9.3f} [{b.min():.3f}, "
              f"{b.max():.3f}] {err:+8.1%} {np.median(cell['seconds']):7.2f} "
              f"{hop * 1e3:6.1f}  "
              f"{str(cell['peaks']):18} {acts}/{grads}")


def with_latency(cell, hop: float) -> float:
    """The bubble an ideal machine would show with this configuration's measured mean busy
    times and median hop latency (dist.simulate): what latency alone explains."""
    return bubble_fraction(dist.simulate(
        cell["schedule"], len(cell["peaks"]), cell["chunks"], cell["forward"],
        cell["backward"], hop))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stages", type=int, default=4)
    ap.add_argument("--chunks", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--forward", type=float, default=0.10, help="sleep per micro-batch (s)")
    ap.add_argument("--backward", type=float, default=0.20, help="sleep per micro-batch (s)")
    ap.add_argument("--width", type=int, default=2048, help="matmul stages' Linear width")
    ap.add_argument("--kinds", nargs="+", default=["sleep", "matmul"],
                    choices=["sleep", "matmul"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--plot", default="/tmp/pipeline_timelines.png", metavar="PNG")
    ap.add_argument("--plot-chunks", type=int, default=8)
    args = ap.parse_args()
    dist.init(num_cpus=2)
    cells, pictures = measure(args.kinds, args)
    dist.shutdown()
    print_table(cells, args)
    panels = [(f"{kind} stages, {schedule.upper()}, p={args.stages}, m={args.plot_chunks}", t)
              for (kind, schedule), t in pictures.items()]
    if panels:
        plot_timelines(panels, args.plot)
        print(f"\ntimelines: {args.plot} ({os.path.getsize(args.plot) // 1024} KB)")


if __name__ == "__main__":
    main()
