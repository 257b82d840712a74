"""Seconds per training step of the specification's MNIST program (W1 seed-logreg).

Side by side in one run: tinyflow's Session, tinyflow eager, a hand-written NumPy step with
manual gradients, and torch eager when installed. Batches are drawn before timing, so data
loading is excluded. Prints medians over repeats after warm-up, and the ratios.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/seed_step.py
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402

import tinyflow as tf  # noqa: E402
from tinyflow.datasets import get_mnist  # noqa: E402

LR = 0.5


def batches(steps: int, seed: int = 0):
    mnist = get_mnist(flatten=True, onehot=True, seed=seed)
    return [mnist.train.next_batch(100) for _ in range(steps)]


def run_tinyflow_session(data):
    """The seed program, verbatim apart from the data source."""
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 784])
    W = tf.Variable(tf.zeros([784, 10]))
    y = tf.nn.softmax(tf.matmul(x, W))
    y_ = tf.placeholder(tf.float32, [None, 10])
    cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
    W_grad = tf.gradients(cross_entropy, [W])[0]
    train_step = tf.assign(W, W - LR * W_grad)
    sess = tf.Session()
    sess.run(tf.initialize_all_variables())
    start = time.perf_counter()
    for xs, ys in data:
        sess.run(train_step, feed_dict={x: xs, y_: ys})
    return time.perf_counter() - start


def run_tinyflow_eager(data):
    W = tf.zeros(784, 10, requires_grad=True)
    start = time.perf_counter()
    for xs, ys in data:
        y = tf.nn.softmax(tf.matmul(tf.tensor(xs), W))
        loss = tf.reduce_mean(-tf.reduce_sum(tf.tensor(ys) * tf.log(y), axis=1))
        loss.backward()
        with tf.no_grad():
            W.array -= LR * W.grad.array
        W.grad = None
    return time.perf_counter() - start


def run_numpy(data):
    W = np.zeros((784, 10), np.float32)
    start = time.perf_counter()
    for xs, ys in data:
        logits = xs @ W
        e = np.exp(logits - logits.max(1, keepdims=True))
        y = e / e.sum(1, keepdims=True)
        # d/dlogits of mean(-sum(y_ log softmax)) = (softmax * sum(y_) - y_) / batch
        d_logits = (y * ys.sum(1, keepdims=True) - ys) / len(xs)
        W -= LR * (xs.T @ d_logits)
    return time.perf_counter() - start


def run_torch(data):
    import torch
    torch.set_num_threads(2)
    W = torch.zeros(784, 10, requires_grad=True)
    tdata = [(torch.from_numpy(xs), torch.from_numpy(ys)) for xs, ys in data]
    start = time.perf_counter()
    for xs, ys in tdata:
        y = torch.softmax(xs @ W, dim=1)
        loss = torch.mean(-torch.sum(ys * torch.log(y), dim=1))
        loss.backward()
        with torch.no_grad():
            W -= LR * W.grad
        W.grad = None
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = batches(args.steps)
    runners = {"numpy (manual grads)": run_numpy, "tinyflow Session": run_tinyflow_session,
               "tinyflow eager": run_tinyflow_eager}
    try:
        import torch  # noqa: F401
        runners["torch eager"] = run_torch
    except ImportError:
        pass
    times: dict[str, list[float]] = {name: [] for name in runners}
    for name, fn in runners.items():
        fn(data[:50])  # warm-up
    for _ in range(args.repeats):  # interleave runners so machine noise hits all of them
        for name, fn in runners.items():
            times[name].append(fn(data))
    base = statistics.median(times["numpy (manual grads)"])
    print(f"W1 seed-logreg: {args.steps} steps of batch 100, median of {args.repeats}")
    print(f"{'runner':<22}{'total s':>9}{'ms/step':>9}{'vs numpy':>10}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<22}{med:>9.3f}{1000 * med / args.steps:>9.3f}{med / base:>9.2f}x")


if __name__ == "__main__":
    main()
