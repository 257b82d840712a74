"""Warm-up in a fresh process, with cold and with warm disk caches (Numba's and tinyflow's
generated kernels): the first eager GELU, layer norm and LSTM calls (forward + backward,
float32), and the compiled seed and GPT steps' first call (`bench/jit.py --runner=first-call`).

Each round makes an empty cache directory, runs both probes in a fresh process (cold), then
again in another fresh process with what the first wrote (warm); rounds repeat and the table
shows medians with the spread. `--root DIR` (repeatable) runs the probes against other
checkouts of tinyflow too, rounds interleaved (e.g. an older commit's `git archive`, for a
before/after comparison); the files the cache holds after each run are counted too (they
must not grow on the warm run).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/warmup.py [--rounds 2]
        [--root DIR ...] [--no-gpt]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

EAGER_PROBE = """
import json, time
t0 = time.perf_counter()
import numpy as np
import tinyflow as torch
out = {"import tinyflow": time.perf_counter() - t0}
t0 = time.perf_counter()
import numba
out["import numba"] = time.perf_counter() - t0
rng = np.random.default_rng(0)
def first(name, fn):
    start = time.perf_counter()
    fn()
    out[name] = time.perf_counter() - start
def gelu():
    x = torch.from_numpy(rng.standard_normal((64, 256), dtype=np.float32)).requires_grad_(True)
    torch.nn.functional.gelu(x).sum().backward()
def layer_norm():
    x = torch.from_numpy(rng.standard_normal((64, 256), dtype=np.float32)).requires_grad_(True)
    torch.nn.LayerNorm(256)(x).sum().backward()
def lstm():
    x = torch.from_numpy(rng.standard_normal((5, 3, 16), dtype=np.float32))
    torch.nn.LSTM(16, 32)(x)[0].sum().backward()
first("eager GELU", gelu)
first("eager layer norm", layer_norm)
first("eager LSTM", lstm)
print(json.dumps(out))
"""


def probe(args: list, root: str, cache: str) -> dict:
    env = dict(os.environ, TINYFLOW_CACHE_DIR=os.path.join(cache, "tinyflow"),
               NUMBA_CACHE_DIR=os.path.join(cache, "numba"), PYTHONPATH=root)
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=1800, cwd=root)
    if done.returncode:
        raise RuntimeError(f"probe {args[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def files(cache: str) -> int:
    return sum(len(fs) for _, _, fs in os.walk(cache))


def run_once(root: str, cache: str, gpt: bool) -> dict:
    """First-call seconds of every probe in fresh processes, plus the cache's file count."""
    res = probe(["-c", EAGER_PROBE], root, cache)
    if gpt:
        steps = probe([os.path.join(root, "bench", "jit.py"), "--runner=first-call"], root,
                      cache)
        res.update({f"compiled {task}": t["first"] for task, t in steps.items()})
    res["cache files"] = files(cache)
    return res


def table(root: str, runs: dict, rounds: int) -> None:
    print(f"\ncode: {root}; first call in a fresh process, seconds, median of {rounds} "
          f"rounds (spread)")
    print(f"{'probe':<22}{'cold':>18}{'warm':>18}{'cold / warm':>13}")
    for name in runs["cold"][0]:
        cold = [r[name] for r in runs["cold"]]
        warm = [r[name] for r in runs["warm"]]
        if name == "cache files":
            print(f"{name:<22}{max(cold):>18}{max(warm):>18}")
            continue
        c, w = statistics.median(cold), statistics.median(warm)
        print(f"{name:<22}{c:>8.2f} ({min(cold):.2f}-{max(cold):.2f}){w:>8.2f} "
              f"({min(warm):.2f}-{max(warm):.2f}){c / w:>12.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--root", action="append", default=[],
                        help="another tinyflow checkout to measure beside this one")
    parser.add_argument("--no-gpt", action="store_true", help="eager probes only")
    opts = parser.parse_args()
    roots = [os.path.dirname(HERE)] + [os.path.abspath(r) for r in opts.root]
    runs = {root: {"cold": [], "warm": []} for root in roots}
    start = time.perf_counter()
    for _ in range(opts.rounds):
        for root in roots:
            with tempfile.TemporaryDirectory() as cache:
                runs[root]["cold"].append(run_once(root, cache, not opts.no_gpt))
                runs[root]["warm"].append(run_once(root, cache, not opts.no_gpt))
    print(f"cold = empty caches (Numba's and tinyflow's), warm = the caches the cold run "
          f"wrote; {time.perf_counter() - start:.0f} s in all")
    for root in roots:
        table(root, runs[root], opts.rounds)


if __name__ == "__main__":
    main()
