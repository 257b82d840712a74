"""Microseconds per training step of the seed program (W1: MNIST softmax regression, batch
100) with the graph rewrites on (the default Session) and off (`Session(optimize=False)`),
fetching the update alone and the update with the loss; and the steps each plan runs. The
rewrites must not make a step slower: the stable cross-entropy costs a little when the loss
is fetched, the gradient without the division saves a little. Medians of interleaved runs.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/rewrites_seed.py
"""
from __future__ import annotations

import statistics
import time

import tinyflow as tf
from tinyflow.datasets import get_mnist


def seed_step(optimize: bool, fetch_loss: bool):
    """A closure running one step of the seed program, and the plan's step count."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 784])
        W = tf.Variable(tf.zeros([784, 10]))
        y = tf.nn.softmax(tf.matmul(x, W))
        y_ = tf.placeholder(tf.float32, [None, 10])
        loss = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
        train = tf.assign(W, W - 0.5 * tf.gradients(loss, [W])[0])
        sess = tf.Session(optimize=optimize)
        sess.run(tf.initialize_all_variables())
    fetches = [loss, train] if fetch_loss else train
    steps = len(sess.make_plan(fetches, [x, y_]).program.steps)
    return (lambda xs, ys: sess.run(fetches, {x: xs, y_: ys})), steps


def main(repeats: int = 9, iterations: int = 200) -> None:
    mnist = get_mnist(flatten=True, onehot=True, seed=0)
    xs, ys = mnist.train.next_batch(100)
    cases = {(fetch_loss, optimize): seed_step(optimize, fetch_loss)
             for fetch_loss in (False, True) for optimize in (False, True)}
    times = {key: [] for key in cases}
    for run, _ in cases.values():
        for _ in range(50):
            run(xs, ys)
    for _ in range(repeats):
        for key, (run, _) in cases.items():
            start = time.perf_counter()
            for _ in range(iterations):
                run(xs, ys)
            times[key].append((time.perf_counter() - start) / iterations * 1e6)
    print(f"{'fetches':<14}{'rewrites':<10}{'steps':>6}{'median us/step':>16}")
    for (fetch_loss, optimize), (_, steps) in cases.items():
        print(f"{'loss + update' if fetch_loss else 'update':<14}{'on' if optimize else 'off':<10}"
              f"{steps:>6}{statistics.median(times[fetch_loss, optimize]):>16.1f}")


if __name__ == "__main__":
    main()
