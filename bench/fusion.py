"""Elementwise fusion on the lectures' `E = D + (A + B) * C` at n = 10^7 float32: the default
Session (one generated kernel, `fused[add,mul,add]`) against `Session(optimize=False)` (three
NumPy kernels) and plain NumPy, medians of interleaved runs after warm-up; with each plan's
bytes moved and arithmetic intensity computed from its steps' shapes. The same for `sum(A * B)`
(`fused[mul,sum]`: the product is never stored). Then the kernel's
first-run time in a first process (generates and compiles) and in a second one (loads the
disk cache), each with the same fresh cache directory.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/fusion.py
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinyflow as tf  # noqa: E402


def lecture_graph(n: int):
    graph = tf.Graph()
    with graph.as_default():
        A, B, C, D = [tf.placeholder(tf.float32, [n], name=k) for k in "ABCD"]
        E = D + (A + B) * C
    rng = np.random.default_rng(0)
    feed = {p: rng.standard_normal(n, dtype=np.float32) for p in (A, B, C, D)}
    return graph, E, feed


def dot_graph(n: int):
    graph = tf.Graph()
    with graph.as_default():
        A, B = [tf.placeholder(tf.float32, [n], name=k) for k in "AB"]
        total = tf.reduce_sum(A * B)
    rng = np.random.default_rng(0)
    feed = {p: rng.standard_normal(n, dtype=np.float32) for p in (A, B)}
    return graph, total, feed


# title, graph builder, the NumPy expression, its (FLOPs, bytes moved, kernels) per element
CASES = [
    ("E = D + (A + B) * C", lecture_graph, lambda a, b, c, d: d + (a + b) * c, (3, 36, 3)),
    ("sum(A * B)", dot_graph, lambda a, b: np.sum(a * b), (2, 16, 2)),
]


def traffic(program) -> tuple:
    """(FLOPs, bytes read + written) of a program's steps, from static shapes: each step reads
    its inputs and writes its output once; one FLOP per member op (and per sum) per element."""
    flops = moved = 0
    for s in program.steps:
        sizes = [math.prod(program.value_of(i)[0]) for i in s.inputs]
        moved += sum(n * program.value_of(i)[1].np.itemsize for n, i in zip(sizes, s.inputs))
        moved += math.prod(s.shape) * s.dtype.np.itemsize
        ops = len(getattr(s.op, "members", ())) + (1 if s.op.reduction else 0) or 1
        flops += max(sizes + [math.prod(s.shape)]) * ops
    return flops, moved


def timings(n: int, repeats: int, title: str, build, numpy_fn, numpy_traffic) -> None:
    graph, fetch, feed = build(n)
    with graph.as_default():
        sessions = {"fused (Session())": tf.Session(),
                    "unfused (Session(optimize=False))": tf.Session(optimize=False)}
    arrays = list(feed.values())
    runs = {name: (lambda s=s: s.run(fetch, feed)) for name, s in sessions.items()}
    runs[f"NumPy {title}"] = lambda: numpy_fn(*arrays)
    want = runs["unfused (Session(optimize=False))"]()
    for run in runs.values():                      # warm-up: compile/load, plan, page in
        np.testing.assert_allclose(run(), want, rtol=1e-5, atol=1e-6)
        run()
    times = {name: [] for name in runs}
    for _ in range(repeats):                       # interleaved
        for name, run in runs.items():
            t = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t)
    medians = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    unfused = medians["unfused (Session(optimize=False))"]
    print(f"\n{title}, n = {n:.0e} float32, median of {repeats} interleaved runs")
    print(f"{'':36s} {'ms':>8s} {'speedup':>8s} {'MB moved':>9s} {'FLOP/B':>7s} "
          f"{'GB/s':>6s}  kernels")
    for name, ms in medians.items():
        if name in sessions:
            program = sessions[name].make_plan([fetch], list(feed)).program
            flops, moved = traffic(program)
            kernels = ", ".join(s.op.name for s in program.steps)
        else:
            flops, moved, kernels = numpy_traffic[0] * n, numpy_traffic[1] * n, numpy_traffic[2]
            kernels = f"{kernels} ufuncs"
        print(f"{name:36s} {ms:8.2f} {unfused / ms:7.2f}x {moved / 1e6:9.0f} "
              f"{flops / moved:7.3f} {moved / ms / 1e6:6.1f}  {kernels}")


def first_run(n: int) -> dict:
    """Seconds of importing Numba, of the first and second fused run in this process (the
    first generates and compiles the kernel, or loads it, and sets Numba up), and of the
    first run of a plan with another kernel."""
    from tinyflow.backend.numpy import fused
    t = time.perf_counter()
    import numba  # noqa: F401
    imported = time.perf_counter() - t
    graph, E, feed = lecture_graph(n)
    with graph.as_default():
        sess = tf.Session()
    t = time.perf_counter()
    sess.run(E, feed)
    first = time.perf_counter() - t
    t = time.perf_counter()
    sess.run(E, feed)
    second = time.perf_counter() - t
    with graph.as_default():     # a second kernel: Numba's one-time set-up is paid already
        F = tf.maximum(E - next(iter(feed)), 0.0) * 2.0
    t = time.perf_counter()
    sess.run(F, feed)
    another = time.perf_counter() - t
    stats = [m.kernel.stats for m in fused.codegen._loaded.values()]
    return dict(numba=imported, first=first, second=second, another=another,
                hits=sum(sum(s.cache_hits.values()) for s in stats),
                misses=sum(sum(s.cache_misses.values()) for s in stats))



def cold_and_warm(n: int) -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, TINYFLOW_CACHE_DIR=cache)
        print(f"\nfirst run of the fused plan (n = {n:.0e}), fresh cache dir, one process each:")
        print(f"{'':28s} {'import numba':>12s} {'1st run':>8s} {'2nd run':>8s} "
              f"{'2nd kernel':>10s} {'compiled':>9s} {'loaded':>7s}   (seconds)")
        for label in ("first process (compiles)", "second process (loads)"):
            out = subprocess.run([sys.executable, __file__, "--first-run", str(n)], env=env,
                                 capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{label:28s} {r['numba']:12.3f} {r['first']:8.3f} {r['second']:8.3f} "
                  f"{r['another']:10.3f} {r['misses']:9d} {r['hits']:7d}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=10 ** 7)
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument("--first-run", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_run:
        print(json.dumps(first_run(args.first_run)))
        return
    for case in CASES:
        timings(args.n, args.repeats, *case)
    cold_and_warm(args.n)


if __name__ == "__main__":
    main()
