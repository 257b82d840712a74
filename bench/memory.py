"""Memory and Python-per-op of planned Session.run, against the plain reference loop.

W2: the MLP 784-1024-1024-10 training step (batch 256, SGD, TF1 graph): tracemalloc peak of a
steady-state step (planned: the preallocated arena plus what the step allocates), and the
bytes a step leaves allocated. Budget: a 32-layer MLP (width 32, batch 512) trained under a
third of its planned peak by recomputation: peaks, losses against the unbudgeted run, and the
recomputed FLOPs. W1: the seed logistic-regression step, ms/step of a planned Session, the
reference loop and hand-written NumPy (medians of interleaved repeats).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/memory.py
"""
from __future__ import annotations

import statistics
import time
import tracemalloc

import numpy as np

import tinyflow as tf


def w2_session(planned: bool):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 784])
    y_ = tf.placeholder(tf.float32, [None, 10])
    h, sizes = x, [784, 1024, 1024, 10]
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        W = tf.Variable(tf.random_normal([n_in, n_out], stddev=0.03))
        h = tf.matmul(h, W) + tf.Variable(tf.zeros([n_out]))
        h = tf.nn.relu(h) if k < 2 else h
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=h))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = tf.Session(planned=planned)
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(0)
    feed = {x: rng.random((256, 784), dtype=np.float32),
            y_: np.eye(10, dtype=np.float32)[rng.integers(0, 10, 256)]}
    return sess, train, feed


def step_memory(sess, fetches, feed) -> tuple:
    """(peak bytes of a steady-state step as tracemalloc sees it, plus a planned session's
    preallocated arena; bytes the step leaves allocated; the plan's MemoryStats or None)."""
    sess.run(fetches, feed)
    tracemalloc.start()
    sess.run(fetches, feed)   # traced, so that the arrays this step frees were seen allocated
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    sess.run(fetches, feed)
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stats = sess.make_plan(fetches, list(feed)).memory(list(feed.values())) \
        if sess.planned else None
    arena = stats.pool_bytes if stats else 0
    return arena + peak - before, after - before, stats


def w2_memory(planned: bool) -> tuple:
    return step_memory(*w2_session(planned))


def deep_mlp_session(memory_budget, layers=32, width=32, batch=512):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, width])
    y_ = tf.placeholder(tf.float32, [None, 10])
    h = x
    for k in range(layers):
        n_out = 10 if k == layers - 1 else width
        init = np.random.default_rng(k).normal(0, 0.2, (width, n_out)).astype(np.float32)
        h = tf.matmul(h, tf.Variable(init))
        h = tf.nn.relu(h) if k < layers - 1 else h
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=h))
    train = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    sess = tf.Session(memory_budget=memory_budget)
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(1)
    feed = {x: rng.normal(size=(batch, width)).astype(np.float32),
            y_: np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]}
    return sess, [train, loss], feed


def budget_run(memory_budget, steps=5) -> tuple:
    """(losses of `steps` training steps, traced peak of a step, the plan's MemoryStats)."""
    sess, fetches, feed = deep_mlp_session(memory_budget)
    losses = [sess.run(fetches, feed)[1] for _ in range(steps)]
    peak, _, stats = step_memory(sess, fetches, feed)
    return losses, peak, stats


def w1_steps(planned, data):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 784])
    W = tf.Variable(tf.zeros([784, 10]))
    y = tf.nn.softmax(tf.matmul(x, W))
    y_ = tf.placeholder(tf.float32, [None, 10])
    ce = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
    step = tf.assign(W, W - 0.5 * tf.gradients(ce, [W])[0])
    sess = tf.Session(planned=planned)
    sess.run(tf.global_variables_initializer())
    sess.run(step, {x: data[0][0], y_: data[0][1]})

    def run():
        for xs, ys in data:
            sess.run(step, {x: xs, y_: ys})
    return run


def w1_numpy(data):
    W = np.zeros((784, 10), np.float32)

    def run():
        for xs, ys in data:
            logits = xs @ W
            e = np.exp(logits - logits.max(1, keepdims=True))
            d = (e / e.sum(1, keepdims=True) * ys.sum(1, keepdims=True) - ys) / len(xs)
            W[...] -= 0.5 * (xs.T @ d)
    return run


def main() -> None:
    unplanned, _, _ = w2_memory(False)
    planned, kept, stats = w2_memory(True)
    print(f"W2 step peak: unplanned {unplanned / 1e6:.2f} MB, planned {planned / 1e6:.2f} MB "
          f"({planned / unplanned:.2f}x); a steady step keeps {kept} B; {stats}")
    want, traced_full, full = budget_run(None)
    got, traced_cut, cut = budget_run(full.peak_bytes // 3)
    print(f"32-layer MLP: planned peak {full.peak_bytes / 1e6:.3f} MB (N); budget N/3: planned "
          f"peak {cut.peak_bytes / 1e6:.3f} MB ({cut.peak_bytes / full.peak_bytes:.3f} N); "
          f"traced step {traced_full / 1e6:.3f} -> {traced_cut / 1e6:.3f} MB "
          f"({traced_cut / traced_full:.3f}x); losses over "
          f"{len(got)} steps differ by at most "
          f"{max(abs(float(a) - float(b)) for a, b in zip(got, want)):.1e}; recomputed "
          f"{cut.recomputed_steps} steps, {cut.recomputed_flops / 1e6:.1f} MFLOP = "
          f"{cut.recomputed_flops / cut.forward_flops:.2f}x the forward pass "
          f"({cut.forward_flops / 1e6:.1f} MFLOP), +{cut.recomputed_flops / cut.flops:.0%} "
          f"of the step ({cut.flops / 1e6:.1f} MFLOP)")
    rng = np.random.default_rng(0)
    data = [(rng.random((100, 784), dtype=np.float32) * 0.01,
             np.eye(10, dtype=np.float32)[rng.integers(0, 10, 100)]) for _ in range(50)]
    runs = {"planned": w1_steps(True, data), "reference": w1_steps(False, data),
            "numpy": w1_numpy(data)}
    times = {k: [] for k in runs}
    for _ in range(15):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) / len(data) * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    print("W1 ms/step: " + ", ".join(f"{k} {v:.3f}" for k, v in med.items()) +
          f"; planned/numpy {med['planned'] / med['numpy']:.2f}x")


if __name__ == "__main__":
    main()
