"""Mixed precision on a W2-like MLP training step (784-1024-1024-10, ReLU, cross-entropy,
SGD; a TF1 graph written with F.linear so each layer is one product with its bias) and on the
W4 GPT's (bench/workloads.py: 4 pre-LN blocks, d 256, 4 heads, context 128, vocabulary 512;
its nn.Module called on placeholders, SGD), float32 against the same graph built under
bfloat16 autocast:

- planned peak memory of a step (the runtime's memory planner: intermediates only, the float32
  master weights are variables or parameters and not counted), the MLP at batch 256 and at a
  large batch where activations dominate, the GPT with the values live at its peak by op and
  dtype (what dominates), and how many cheap values the plan remakes before their late
  readers instead of keeping them (passes/remat.py: autocast's low copies of weights and of
  the input batch, layer norm's normalized values, one-hot labels);
- ms per step (Session.run), medians of interleaved repeats, with the spread;
- where the time goes: one bfloat16 GEMM computed as tinyflow does (inputs widened to
  float32, NumPy's sgemm, the result rounded to bfloat16), against float32 and against
  NumPy's own bfloat16 matmul (ml_dtypes' loop).

NumPy has no bfloat16 GEMM: ml_dtypes' matmul is a scalar loop. So tinyflow keeps bfloat16 in
storage (activations, their gradients, the weights' low copies) and widens to float32 inside
each product (`KernelTable.register(widen=...)`), as tensor cores accumulate in float32; the
casts are the price on a CPU.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/precision.py
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402

import tinyflow as tf  # noqa: E402
import tinyflow.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import gpt_step_graph  # noqa: E402

SIZES = (784, 1024, 1024, 10)


def w2_graph(batch: int, autocast: bool):
    """A Session, its train op and feeds; the graph built inside autocast if asked."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, SIZES[0]])
        labels = tf.placeholder(tf.int64, [None])
        rng = np.random.default_rng(0)
        params = []
        for n_in, n_out in zip(SIZES, SIZES[1:]):
            params.append(tf.Variable((rng.standard_normal((n_out, n_in)) * 0.03)
                                      .astype(np.float32)))
            params.append(tf.Variable(np.zeros(n_out, np.float32)))
        with tf.autocast("cpu", dtype=tf.bfloat16, enabled=autocast):
            h = x
            for k in range(0, len(params), 2):
                h = F.linear(h, params[k], params[k + 1])
                h = F.relu(h) if k < len(params) - 2 else h
            loss = F.cross_entropy(h, labels)
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        sess = tf.Session(graph=graph)
        sess.run(tf.global_variables_initializer())
    feed = {x: rng.random((batch, SIZES[0]), dtype=np.float32),
            labels: rng.integers(0, 10, batch)}
    return sess, [train, loss], feed


def planned_peak(batch: int, autocast: bool) -> int:
    sess, fetches, feed = w2_graph(batch, autocast)
    return sess.make_plan(fetches, list(feed)).memory(list(feed.values())).peak_bytes


def gpt_graph(batch: int, autocast: bool):
    """The W4 GPT's training step as a Session, its fetches and feeds (its parameters are
    eager tensors the graph reads and SGD updates in place)."""
    return gpt_step_graph(batch, autocast)[:3]


def remade(sess, fetches, feed) -> int:
    """Steps the plan adds to remake cheap values before late readers (passes/remat.py)."""
    return sess.make_plan(fetches, list(feed)).memory(list(feed.values())).recomputed_steps


def live_at_peak(sess, fetches, feed) -> tuple[int, int, Counter]:
    """The planned peak bytes (the pool the planner places values in), the largest sum of
    live values over the steps, and at that step the live bytes by (op, dtype): values with
    memory of their own, alive from their step to the last read of them or of a view."""
    plan, values = sess.make_plan(fetches, list(feed)), list(feed.values())
    stats = plan.memory(values)
    steps = plan._compiled_for(plan._load(values)).program   # the per-shape program
    end = {s: len(steps.steps) for s in steps.fetches}
    for slot, n in steps.last_use.items():
        end[slot] = max(end.get(slot, n), n)
    for step in reversed(steps.steps):               # a view keeps its base alive
        for base in step.record.aliases:
            end[base] = max(end.get(base, 0), end.get(step.output, 0))
    own = [(n, s) for n, s in enumerate(steps.steps)
           if s.record.nbytes and not s.record.aliases]
    live = [0] * len(steps.steps)
    for n, s in own:
        for k in range(n, min(end.get(s.output, n), len(live) - 1) + 1):
            live[k] += s.record.nbytes
    peak = max(range(len(live)), key=live.__getitem__)
    at_peak = Counter()
    for n, s in own:
        if n <= peak <= end.get(s.output, n):
            at_peak[(s.op.name, str(s.record.dtype))] += s.record.nbytes
    return stats.peak_bytes, live[peak], at_peak


def step_times(batch: int, repeats: int) -> dict:
    runs = {name: w2_graph(batch, name == "bf16 autocast")
            for name in ("float32", "bf16 autocast")}
    for sess, fetches, feed in runs.values():   # compile and warm up
        sess.run(fetches, feed)
    times = {name: [] for name in runs}
    for _ in range(repeats):                     # interleaved, so noise hits both
        for name, (sess, fetches, feed) in runs.items():
            start = time.perf_counter()
            sess.run(fetches, feed)
            times[name].append(time.perf_counter() - start)
    return times


def gemm_times(repeats: int) -> dict:
    """One [256, 1024] x [1024, 1024] product three ways."""
    rng = np.random.default_rng(0)
    a32 = rng.standard_normal((256, 1024)).astype(np.float32)
    b32 = rng.standard_normal((1024, 1024)).astype(np.float32)
    a16, b16 = a32.astype(ml_dtypes.bfloat16), b32.astype(ml_dtypes.bfloat16)
    ways = {
        "float32 sgemm": lambda: a32 @ b32,
        "bf16 widened (tinyflow)": lambda: (a16.astype(np.float32) @ b16.astype(np.float32))
        .astype(ml_dtypes.bfloat16),
        "  of which casts": lambda: (a16.astype(np.float32), b16.astype(np.float32),
                                     a32.astype(ml_dtypes.bfloat16)),
        "bf16 ml_dtypes matmul": lambda: a16 @ b16,
    }
    times = {name: [] for name in ways}
    for _ in range(repeats):
        for name, fn in ways.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def _row(name: str, samples: list, unit: float = 1e3) -> str:
    values = sorted(s * unit for s in samples)
    low, high = values[len(values) // 4], values[(3 * len(values)) // 4]
    return f"{name:<28}{statistics.median(values):>10.2f}   [{low:.2f}, {high:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batches", default="256,4096")
    parser.add_argument("--gpt-batch", type=int, default=8)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          f"(other processes share the machine); OPENBLAS_NUM_THREADS="
          f"{os.environ['OPENBLAS_NUM_THREADS']}\n")
    print("planned peak memory of a W2 training step (intermediates; MiB)")
    print(f"{'batch':<8}{'float32':>10}{'bf16 autocast':>15}{'ratio':>8}{'remade f32/bf16':>17}")
    for batch in map(int, args.batches.split(",")):
        f32, bf16 = planned_peak(batch, False), planned_peak(batch, True)
        copies = "/".join(str(remade(*w2_graph(batch, ac))) for ac in (False, True))
        print(f"{batch:<8}{f32 / 2**20:>10.1f}{bf16 / 2**20:>15.1f}{bf16 / f32:>8.2f}"
              f"{copies:>17}")
    print(f"\nplanned peak memory of a W4 GPT training step, batch {args.gpt_batch} (MiB)")
    graphs = {name: gpt_graph(args.gpt_batch, name == "bf16 autocast")
              for name in ("float32", "bf16 autocast")}
    peaks = {name: live_at_peak(*graph) for name, graph in graphs.items()}
    (f32, f32_live, _), (bf16, bf16_live, _) = peaks["float32"], peaks["bf16 autocast"]
    print(f"{'':<22}{'float32':>10}{'bf16 autocast':>15}{'ratio':>8}")
    print(f"{'planned peak':<22}{f32 / 2**20:>10.1f}{bf16 / 2**20:>15.1f}{bf16 / f32:>8.2f}")
    print(f"{'most values live':<22}{f32_live / 2**20:>10.1f}{bf16_live / 2**20:>15.1f}"
          f"{bf16_live / f32_live:>8.2f}")
    f32_copies, bf16_copies = (remade(*graph) for graph in graphs.values())
    print(f"{'remade steps':<22}{f32_copies:>10}{bf16_copies:>15}")
    for name, (_, _, live) in peaks.items():
        by_dtype = Counter()
        for (_, dtype), nbytes in live.items():
            by_dtype[dtype] += nbytes
        print(f"  live at the {name} peak: " + ", ".join(
            f"{d} {b / 2**20:.1f}" for d, b in by_dtype.most_common()) + "; largest: " +
            ", ".join(f"{op} ({d}) {b / 2**20:.1f}" for (op, d), b in live.most_common(6)))
    print("\nms per W2 training step, batch 256: median [quartiles]")
    times = step_times(256, args.repeats)
    for name, samples in times.items():
        print(_row(name, samples))
    ratio = statistics.median(times["bf16 autocast"]) / statistics.median(times["float32"])
    print(f"{'ratio bf16 / float32':<28}{ratio:>10.2f}")
    print("\nms per [256,1024] x [1024,1024] product: median [quartiles]")
    for name, samples in gemm_times(args.repeats).items():
        print(_row(name, samples))


if __name__ == "__main__":
    main()
