"""What handing a piece to the kernel pool's thread costs (backend/numpy/parallel.py), by what
the second core was doing just before, and what the optimizers' one-pass updates
(backend/numpy/state.py) take on one thread and on two. `--torch` prints torch's momentum
update (three in-place passes, as torch.optim.SGD's foreach path) at 1 and 2 threads instead;
run it in its own process.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/pool_handoff.py [--torch]

Each row: min / p10 / median / p90 / p99 of 300 calls (us). Import tinyflow before NumPy:
with NumPy first, OpenBLAS keeps its long spin and the pool is off (`parallel.threads`).
"""
from __future__ import annotations

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = (1 << 18, 1 << 20, 1 << 22)


def quantiles(times: list) -> str:
    times = sorted(times)
    return " ".join(f"{times[int(q * (len(times) - 1))] * 1e6:7.1f}"
                    for q in (0, .1, .5, .9, .99))


def busy(us: float) -> None:
    """Python on this core for `us` microseconds (the pool thread's poll runs out)."""
    end = time.perf_counter() + us * 1e-6
    while time.perf_counter() < end:
        pass


def fastest(fn, calls: int = 40) -> float:
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e6


def handoffs(np, parallel) -> None:
    a = np.ones((1024, 1024), np.float32)
    nothing = lambda start, stop: None   # noqa: E731
    print("an empty two-piece run after ...        min     p10  median     p90     p99 (us)")
    for name, before in (("nothing (back to back)", lambda: None),
                         ("30 us of Python", lambda: busy(30)),
                         ("100 us of Python", lambda: busy(100)),
                         ("a 1 ms sleep", lambda: time.sleep(1e-3)),
                         ("a [1024]^3 product", lambda: a @ a),
                         ("a product, 300 us of Python", lambda: (a @ a, busy(300))),
                         ("a product, 2 ms of Python", lambda: (a @ a, busy(2000)))):
        times = []
        for _ in range(300):
            before()
            start = time.perf_counter()
            parallel.run(nothing, 2)
            times.append(time.perf_counter() - start)
        print(f"{name:36s} {quantiles(times)}")


def updates(np, parallel) -> None:
    from tinyflow.backend.numpy import state
    momentum, adam = state._momentum_loop(), state._adam_loop()
    f = np.float32
    print("\nfloat32 update, fastest of 40 (us)    one thread  two threads")
    for n in SIZES:
        p, g, m, v = (np.random.default_rng(k).random(n, f) for k in range(4))
        loops = {"momentum": lambda a, b: momentum(p[a:b], g[a:b], v[a:b], f(-.01), f(.9),
                                                   f(1), False, f(0), f(1), False),
                 "adam": lambda a, b: adam(p[a:b], g[a:b], m[a:b], v[a:b], f(1), f(.1),
                                           f(.999), f(.001), f(.01), f(.5), f(1e-8), f(0),
                                           f(1))}
        for name, loop in loops.items():
            one = fastest(lambda: loop(0, n))
            two = fastest(lambda: parallel.run(loop, n))
            print(f"{name:9s} {n:9d} floats {one:18.1f} {two:12.1f}")


def torch_updates() -> None:
    import torch
    print("torch momentum (v.mul_(mu).add_(g); p.add_(v, alpha=-lr)), fastest of 40 (us)")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for n in SIZES:
            p, g, v = (torch.rand(n) for _ in range(3))

            def step():
                v.mul_(.9).add_(g)
                p.add_(v, alpha=-.01)
            print(f"{threads} thread(s) {n:9d} floats {fastest(step):9.1f}")


def main() -> None:
    if "--torch" in sys.argv:
        torch_updates()
        return
    sys.path.insert(0, os.path.dirname(HERE))
    import tinyflow  # noqa: F401  (first: it sets OpenBLAS's short spin)
    import numpy as np
    from tinyflow.backend.numpy import parallel
    if parallel.threads() < 2:
        sys.exit("the kernel pool is off (one thread): nothing to measure")
    handoffs(np, parallel)
    updates(np, parallel)


if __name__ == "__main__":
    main()
