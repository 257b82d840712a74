"""Milliseconds per Session.run of the lectures' linear-algebra rewrites, optimize=False (the
graph as written) vs optimized: Q/K/V projections of one input (merge_matmuls), conv +
batch norm in eval mode (fold_batchnorm), (M1 @ M2) @ v (reassociate). Medians of 30 runs
after one warm-up run, the two sessions interleaved per case.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/rewrites_linear.py
"""
from __future__ import annotations

import statistics
import time

import numpy as np

import tinyflow as tf
import tinyflow as torch

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def cases():
    h = tf.placeholder(tf.float32, [256, 512])
    yield ("Q/K/V: h[256,512] @ 3 W[512,512]",
           [tf.matmul(h, tf.Variable(rand(512, 512))) for _ in range(3)], {h: rand(256, 512)})
    x = tf.placeholder(tf.float32, [32, 64, 32, 32])
    conv, bn = torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.BatchNorm2d(64)
    conv.eval(), bn.eval()
    yield "conv 64->64 3x3 + BatchNorm2d eval, x[32,64,32,32]", [bn(conv(x))], {
        x: rand(32, 64, 32, 32)}
    v = tf.placeholder(tf.float32, [1024, 1])
    m1, m2 = tf.Variable(rand(1024, 1024)), tf.Variable(rand(1024, 1024))
    yield "(M1 @ M2) @ v: M 1024x1024, v[1024,1]", [tf.matmul(tf.matmul(m1, m2), v)], {
        v: rand(1024, 1)}


def main(runs: int = 30) -> None:
    print(f"{'case':52s} {'as written ms':>14s} {'optimized ms':>13s} {'speedup':>8s}")
    for name, fetches, feed in cases():
        sessions = {opt: tf.Session(optimize=opt) for opt in (False, True)}
        times = {opt: [] for opt in sessions}
        for sess in sessions.values():
            sess.run(tf.global_variables_initializer())
            sess.run(fetches, feed)
        for _ in range(runs):
            for opt, sess in sessions.items():
                start = time.perf_counter()
                sess.run(fetches, feed)
                times[opt].append(time.perf_counter() - start)
        slow, fast = (statistics.median(times[o]) * 1e3 for o in (False, True))
        print(f"{name:52s} {slow:14.2f} {fast:13.2f} {slow / fast:7.2f}x")


if __name__ == "__main__":
    main()
