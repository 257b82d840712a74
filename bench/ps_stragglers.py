"""Parameter-server consistency models against a straggler: wall time to a target MNIST test
accuracy for BSP, SSP and asynchronous training with N workers: without a straggler, with a
fixed worker that is slow on a share of its steps, and with a straggler that roams (one random
worker slow on every step). Prints a table and writes a plot of test accuracy against time.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE TINYFLOW_DATA_DIR=../shared/datasets \
        .venv/bin/python bench/ps_stragglers.py --plot ps_stragglers.png
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import ray

import tinyflow as torch
import tinyflow.distributed as dist
from tinyflow import nn
from tinyflow.datasets import get_mnist


def make_mlp():
    """784-512-512-10: enough compute per step that a slow worker is visible."""
    torch.manual_seed(0)
    return dist.ModuleModel(nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512),
                                          nn.ReLU(), nn.Linear(512, 10)))


def run(name, consistency, stragglers, args, data, test) -> dict:
    trainer = dist.PSTrainer(make_mlp, data, num_workers=args.workers,
                             num_shards=args.shards, consistency=consistency,
                             rule=dist.Adam(args.lr), batch_size=args.batch_size,
                             stragglers=stragglers, seed=args.seed)
    result = trainer.train(args.steps, evaluate=trainer.accuracy(*test),
                           eval_every=args.eval_every)
    trainer.shutdown()
    stats = result.stats
    return {"name": name, "seconds": result.seconds, "curve": result.curve,
            "to_target": result.time_to(args.target), "final": result.curve[-1][1],
            "wait": np.mean([s.wait_seconds for s in stats]),
            "max_staleness": max((max(s.staleness) if s.staleness else 0) for s in stats),
            "pulls": int(np.mean([s.pulls for s in stats])),
            "mb_moved": sum(s.bytes_pushed + s.bytes_pulled for s in stats) / 1e6,
            "slept": sum(w["slept"] for w in result.workers),
            "slow_steps": sum(w["slow_steps"] for w in result.workers)}


def main(argv=None) -> list:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--steps", type=int, default=700, help="iterations per worker")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=5e-4, help="of the server-side Adam")
    p.add_argument("--staleness", type=int, default=3)
    p.add_argument("--slowdown", type=float, default=4.0)
    p.add_argument("--slow-prob", type=float, default=0.5,
                   help="chance per step that the fixed straggler's step is slow")
    p.add_argument("--stragglers", default="none,fixed,roaming",
                   help="conditions to run: none, fixed (the last worker is slow on a share "
                        "of its steps), roaming (one random worker is slow on every step)")
    p.add_argument("--target", type=float, default=0.97)
    p.add_argument("--eval-every", type=float, default=0.5)
    p.add_argument("--eval-examples", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", metavar="PNG")
    p.add_argument("--only", help="comma-separated run names, e.g. 'bsp,bsp + straggler'")
    args = p.parse_args(argv)

    dist.init(num_cpus=2, runtime_env={"env_vars": {"OPENBLAS_NUM_THREADS": "1"}})
    mnist = get_mnist(flatten=True, onehot=False, validation_size=0)
    normalize = lambda x: ((x - 0.1307) / 0.3081).astype(np.float32)  # noqa: E731
    data = (normalize(mnist.train.images), mnist.train.labels)
    test = (normalize(mnist.test.images[:args.eval_examples]),
            mnist.test.labels[:args.eval_examples])
    conditions = {
        "none": lambda: None,
        "fixed": lambda: {args.workers - 1: dist.Straggler(args.slowdown, args.slow_prob,
                                                           seed=args.seed)},
        "roaming": lambda: dist.roaming(args.slowdown, args.workers, seed=args.seed)}
    models = [("bsp", dist.bsp()), (f"ssp(s={args.staleness})", dist.ssp(args.staleness)),
              (f"ssp(s={args.staleness}, lazy)", dist.ssp(args.staleness, lazy=True)),
              ("async", dist.asynchronous())]
    rows = []
    for condition in args.stragglers.split(","):
        for name, consistency in models:
            label = name + ("" if condition == "none" else f" + {condition}")
            if args.only and label not in args.only.split(","):
                continue
            rows.append(run(label, consistency, conditions[condition](), args, data, test))
            print(f"  {label}: {rows[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)

    print(f"\n{args.workers} workers x {args.steps} steps of batch {args.batch_size}, "
          f"server-side Adam lr {args.lr}, {args.shards} shards; a slow step takes "
          f"{args.slowdown:g}x as long as its work (read, compute, push; not waits).\n"
          f"+ fixed: worker {args.workers - 1} is slow with probability {args.slow_prob:g} "
          f"per step; + roaming: on every step one random worker is slow.\n"
          f"Test accuracy on {args.eval_examples} images every {args.eval_every} s.")
    print(f"{'run':<26}{'to ' + str(args.target):>9}{'total s':>9}{'final acc':>10}"
          f"{'wait s':>8}{'max stale':>10}{'pulls':>7}{'MB moved':>9}{'slow steps':>11}")
    for r in rows:
        to = "never" if r["to_target"] is None else f"{r['to_target']:.1f}"
        print(f"{r['name']:<26}{to:>9}{r['seconds']:>9.1f}{r['final']:>10.4f}{r['wait']:>8.2f}"
              f"{r['max_staleness']:>10}{r['pulls']:>7}{r['mb_moved']:>9.0f}{r['slow_steps']:>11}")
    by = {r["name"]: r for r in rows}
    for condition in args.stragglers.split(","):
        suffix = "" if condition == "none" else f" + {condition}"
        b, s = by.get("bsp" + suffix), by.get(f"ssp(s={args.staleness})" + suffix)
        if b and s and b["to_target"] and s["to_target"]:
            print(f"straggler {condition}: SSP reaches {args.target} in "
                  f"{s['to_target'] / b['to_target']:.2f}x BSP's wall time")
    if args.plot:
        plot(rows, args)
    return rows


def plot(rows, args) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in rows:
        t, a = zip(*r["curve"])
        style = ":" if "roaming" in r["name"] else "--" if "fixed" in r["name"] else "-"
        ax.plot(t, a, style, label=r["name"])
    ax.axhline(args.target, color="gray", lw=0.8)
    ax.set_ylim(0.85, 1.0)
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("MNIST test accuracy")
    ax.set_title(f"Parameter server, {args.workers} workers")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = args.plot + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, args.plot)
    plt.close(fig)


if __name__ == "__main__":
    main()
