"""nanoGPT's attention as users write it, forward and backward, tinyflow against torch: one
[B, T, 3C] tensor split, viewed and transposed into heads, F.scaled_dot_product_attention
(causal) or the hand-written softmax(q k^T * scale, masked) v, then transpose(1, 2)
.contiguous().view(B, T, C). Each framework in its own process, repeats interleaved; prints
the median CPU ms per call (process time: work, not waiting for a core on a loaded machine)
and its spread (max - min over median, across processes).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/gpt_attention_block.py
    ... bench/gpt_attention_block.py --threads 2 --repeats 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B, H, T, D = 8, 4, 128, 64
CALLS = 40

CHILD = r'''
import math, os, statistics, sys, time
import numpy as np
if sys.argv[1] == "tinyflow":
    sys.path.insert(0, sys.argv[3])
    import tinyflow as torch
    import tinyflow.nn.functional as F
else:
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
B, H, T, D, CALLS = (int(v) for v in sys.argv[4:9])
C = H * D
rng = np.random.default_rng(0)
x = torch.tensor(rng.standard_normal((B, T, 3 * C)).astype(np.float32), requires_grad=True)
g = torch.tensor(rng.standard_normal((B, T, C)).astype(np.float32))
mask = torch.tensor(np.tril(np.ones((T, T), bool)))


def block():
    q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in x.split(C, dim=2))
    if sys.argv[2] == "sdpa":
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D))
        y = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1) @ v
    y.transpose(1, 2).contiguous().view(B, T, C).backward(g)
    x.grad = None


for _ in range(3):
    block()
times = []
for _ in range(CALLS):
    t0 = time.process_time()
    block()
    times.append(time.process_time() - t0)
print(statistics.median(times) * 1e3)
'''


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tree", default=ROOT, help="the tinyflow checkout to measure")
    args = parser.parse_args()
    env = dict(os.environ, **{k: str(args.threads) for k in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")})
    print(f"nanoGPT attention block fwd+bwd, B={B} H={H} T={T} D={D}, threads={args.threads}, "
          f"CPU ms per call; load average {os.getloadavg()[0]:.1f} (2 cores shared)")
    for spelling in ("sdpa", "manual"):
        got = {"torch": [], "tinyflow": []}
        for r in range(args.repeats):
            for fw in (("torch", "tinyflow") if r % 2 == 0 else ("tinyflow", "torch")):
                out = subprocess.run([sys.executable, "-c", CHILD, fw, spelling, args.tree,
                                      *map(str, (B, H, T, D, CALLS))],
                                     env=env, capture_output=True, text=True, timeout=600)
                if out.returncode:
                    raise RuntimeError(f"{fw} {spelling}: {out.stderr[-1500:]}")
                got[fw].append(float(out.stdout))
        med = {fw: statistics.median(v) for fw, v in got.items()}
        spread = {fw: (max(v) - min(v)) / med[fw] for fw, v in got.items()}
        print(f"{spelling:7s} torch {med['torch']:7.2f} ms (±{spread['torch']:.0%})  tinyflow "
              f"{med['tinyflow']:7.2f} ms (±{spread['tinyflow']:.0%})  ratio "
              f"{med['tinyflow'] / med['torch']:.2f}")


if __name__ == "__main__":
    main()
