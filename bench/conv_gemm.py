"""How far the CNN rows' convolutions are from their GEMMs, at one thread: per layer of
bench/models/cnn.py (batch 64), the CPU milliseconds and GFLOP/s of tinyflow's three conv
kernels (forward, weight gradient, input gradient), of the block GEMMs alone that those
kernels run (same shapes and layouts, operands ready: OpenBLAS's ceiling for this
im2col design), and of torch's convolution (forward, recording the graph; backward alone). Each framework
runs in a process of its own, processes interleaved; times are the minimum over runs of
the thread's CPU time (time.thread_time), which a loaded machine inflates less than wall
time. The first layer's input needs no gradient (as in the model): no input gradient.
The 5x5 32->64 layer runs Winograd F(2x2, 5x5) (backend _conv_winograd): its "its GEMMs"
column is the ceiling of the im2col design it replaced, and GF/s count direct-convolution
FLOPs, so tinyflow's can exceed it there.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/conv_gemm.py
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import harness  # bench/: the process runner shared by the benchmarks

BATCH = 64
LAYERS = {  # name: (input channels, output channels, kernel size, image size)
    "conv5 1->32": (1, 32, 5, 28), "conv5 32->64": (32, 64, 5, 14),
    "conv3 1->32": (1, 32, 3, 28), "conv3 32->64": (32, 64, 3, 14),
}
RUNS = 15


def _best_ms(fn) -> float:
    fn()
    times = []
    for _ in range(RUNS):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return min(times) * 1e3


def _data(cin, cout, k, hw):
    import numpy as np
    rng = np.random.default_rng(0)
    return (rng.standard_normal((BATCH, cin, hw, hw), dtype=np.float32),
            rng.standard_normal((cout, cin, k, k), dtype=np.float32) * 0.1,
            rng.standard_normal((BATCH, cout, hw, hw), dtype=np.float32))


def _block_gemms(cin, cout, k, hw) -> dict:
    """The GEMMs of the multi-channel kernels (conv.py), block by block, on ready operands:
    forward [pixels, K] @ [K, O], weight gradient [K, pixels] @ [pixels, O] (columns read
    transposed), input gradient [pixels, O] @ [O, K]."""
    import numpy as np
    from tinyflow.backend.numpy import conv
    taps = k * k * cin
    blocks = list(conv._blocks(0, BATCH, hw, hw * taps * 4))
    rng = np.random.default_rng(0)
    px = max((n1 - n0) * (a1 - a0) * hw for n0, n1, a0, a1 in blocks)
    cols = rng.standard_normal((px, taps), dtype=np.float32)
    w = rng.standard_normal((taps, cout), dtype=np.float32)
    g_rows = rng.standard_normal((cout, px), dtype=np.float32).T
    w_t = np.ascontiguousarray(w.T)
    out, gw, dcols = (np.empty((px, cout), np.float32), np.empty((taps, cout), np.float32),
                      np.empty((px, taps), np.float32))
    sizes = [(n1 - n0) * (a1 - a0) * hw for n0, n1, a0, a1 in blocks]

    def run(product):
        return lambda: [product(m) for m in sizes]
    return {"blas fwd": _best_ms(run(lambda m: np.matmul(cols[:m], w, out=out[:m]))),
            "blas gw": _best_ms(run(lambda m: np.matmul(cols[:m].T, g_rows[:m], out=gw))),
            "blas gi": _best_ms(run(lambda m: np.matmul(g_rows[:m], w_t, out=dcols[:m]))),
            "block pixels": px}


def tinyflow_worker() -> dict:
    from tinyflow.backend.numpy import conv
    from tinyflow.ops import conv as conv_ops
    result = {}
    for name, (cin, cout, k, hw) in LAYERS.items():
        x, w, g = _data(cin, cout, k, hw)
        attrs = conv_ops.conv_attrs(padding=k // 2)
        fwd, gw, gi = (conv_ops.Conv2d(**attrs), conv_ops.Conv2dGradWeight(**attrs),
                       conv_ops.Conv2dGradInput(**attrs))
        b = (w[:, 0, 0, 0] * 10).copy()   # [O]
        with_bias = conv_ops.Conv2dBias(**attrs)
        y = conv.conv2d(fwd, x, w)
        row = {"fwd": _best_ms(lambda: conv.conv2d(fwd, x, w)),
               "fwd+bias": _best_ms(lambda: conv.conv2d_bias(with_bias, x, w, b)),
               "then add": _best_ms(lambda: y + b[:, None, None]),   # the separate pass
               "bias grad": _best_ms(lambda: g.sum(axis=(0, 2, 3))),
               "gw": _best_ms(lambda: conv.conv2d_grad_weight(gw, x, g, w))}
        if cin > 1:
            row["gi"] = _best_ms(lambda: conv.conv2d_grad_input(gi, g, w, x))
            row.update(_block_gemms(cin, cout, k, hw))
        result[name] = row
    return result


def torch_worker() -> dict:
    import torch
    torch.set_num_threads(1)
    result = {}
    for name, (cin, cout, k, hw) in LAYERS.items():
        x, w, g = (torch.from_numpy(a) for a in _data(cin, cout, k, hw))
        x.requires_grad_(cin > 1)
        w.requires_grad_(True)

        b = (w[:, 0, 0, 0] * 10).detach().clone().requires_grad_(True)

        def forward(bias=None):   # recording the graph, as in training
            return torch.nn.functional.conv2d(x, w, bias, padding=k // 2)

        def backward():  # timed without the forward
            times = []
            for _ in range(RUNS + 1):
                x.grad = w.grad = None
                y = forward()
                start = time.thread_time()
                y.backward(g)
                times.append(time.thread_time() - start)
            return min(times[1:]) * 1e3
        result[name] = {"fwd": _best_ms(forward), "bwd": backward(),
                        "fwd+bias": _best_ms(lambda: forward(b))}
    return result


def run_worker(framework: str) -> dict:
    return harness.json_worker(__file__, ["--worker", framework], 1, TINYFLOW_KERNEL_THREADS="1")


def _gflops(ms: float, cin, cout, k, hw) -> float:
    return 2 * BATCH * hw * hw * cout * cin * k * k / ms / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="processes per framework")
    args = parser.parse_args()
    print(f"conv kernels vs their GEMMs vs torch, 1 thread, CPU ms (min of {RUNS}), median "
          f"over {args.repeats} processes; load average {os.getloadavg()[0]:.2f} "
          "(2 cores shared with other work)", flush=True)
    runs = {"torch": [], "tinyflow": []}
    for r in range(args.repeats):
        for fw in (("torch", "tinyflow") if r % 2 == 0 else ("tinyflow", "torch")):
            runs[fw].append(run_worker(fw))
    print(f"{'layer':13} {'pass':9} {'tinyflow':>9} {'GF/s':>5} {'its GEMMs':>9} {'GF/s':>5} "
          f"{'torch':>7} {'GF/s':>5}")
    for name, shape in LAYERS.items():
        def med(fw, key):
            values = [run[name][key] for run in runs[fw] if key in run[name]]
            return statistics.median(values) if values else None
        torch_pass = {"fwd": med("torch", "fwd"), "gw": None, "gi": None,
                      "bwd": med("torch", "bwd")}
        for key, blas in (("fwd", "blas fwd"), ("gw", "blas gw"), ("gi", "blas gi")):
            ours = med("tinyflow", key)
            if ours is None:
                continue
            gemm = med("tinyflow", blas)
            cells = [f"{ours:9.2f}", f"{_gflops(ours, *shape):5.0f}",
                     f"{gemm:9.2f}" if gemm else f"{'-':>9}",
                     f"{_gflops(gemm, *shape):5.0f}" if gemm else f"{'-':>5}"]
            theirs = torch_pass[key]
            cells += [f"{theirs:7.2f}", f"{_gflops(theirs, *shape):5.0f}"] if theirs else \
                [f"{'-':>7}", f"{'-':>5}"]
            print(f"{name:13} {key:9} " + " ".join(cells))
        print(f"{name:13} {'fwd+bias':9} {med('tinyflow', 'fwd+bias'):9.2f} {'':5} "
              f"{'(was fwd':>9} + {med('tinyflow', 'then add'):.2f} add) "
              f"{med('torch', 'fwd+bias'):7.2f}")
        print(f"{name:13} {'bias grad':9} {med('tinyflow', 'bias grad'):9.2f}   (a reduction "
              f"of g, still separate)")
        ours_bwd = med("tinyflow", "gw") + (med("tinyflow", "gi") or 0)
        print(f"{name:13} {'bwd':9} {ours_bwd:9.2f} {'':5} {'':9} {'':5} "
              f"{torch_pass['bwd']:7.2f}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
        worker = tinyflow_worker if sys.argv[2] == "tinyflow" else torch_worker
        print(json.dumps(worker()))
    else:
        main()
