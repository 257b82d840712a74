"""Would a thread pool for independent branches help on this machine? The W2 backward pass has
two independent products per layer (the weight gradient and the input gradient); NumPy's BLAS
already spreads each over the cores. This times them one after the other with BLAS on all
threads against both at once on two Python threads with one BLAS thread each (NumPy releases
the GIL inside BLAS). The planned runtime keeps a thread pool only if this wins.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/threads.py
"""
from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

THREADS = 2
RNG = np.random.default_rng(0)


def pairs():
    """(name, the two independent products) of W2's backward pass, float32."""
    f32 = np.float32
    h = RNG.random((256, 1024), dtype=f32)
    g = RNG.random((256, 1024), dtype=f32)
    w = RNG.random((1024, 1024), dtype=f32)
    x = RNG.random((256, 784), dtype=f32)
    w1 = RNG.random((784, 1024), dtype=f32)
    return [("layer 2: h^T g and g W^T", (lambda: h.T @ g, lambda: g @ w.T)),
            ("layer 1: x^T g and g W1^T", (lambda: x.T @ g, lambda: g @ w1.T))]


def timed(fn, repeats=30) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    pool = ThreadPoolExecutor(THREADS)
    print(f"{'products':<28}{'sequential ms':>15}{'two threads ms':>16}{'ratio':>8}")
    for name, (a, b) in pairs():
        def sequential():
            with threadpool_limits(THREADS, user_api="blas"):
                a()
                b()

        def parallel():
            with threadpool_limits(1, user_api="blas"):
                fa, fb = pool.submit(a), pool.submit(b)
                fa.result()
                fb.result()
        for fn in (sequential, parallel):
            fn()   # warm-up
        seq, par = [], []
        for _ in range(5):   # interleaved
            seq.append(timed(sequential))
            par.append(timed(parallel))
        s, p = statistics.median(seq), statistics.median(par)
        print(f"{name:<28}{s * 1e3:>15.3f}{p * 1e3:>16.3f}{p / s:>8.2f}")
    pool.shutdown()


if __name__ == "__main__":
    main()
