"""Warm-up in a fresh process, with cold and with warm disk caches (Numba's and tinyflow's
generated kernels; Inductor's for torch): the first eager GELU, layer norm and LSTM calls
(forward + backward, float32), the compiled seed and GPT steps' first call (`bench/jit.py
--runner=first-call`), and issue 13's GPT step as the harness runs it (`--harness-gpt`,
default on: bench/models/gpt.py `gpt4_b16_sdpa_causal_tanh_compiled`, 4 layers, d256, batch 16,
AdamW, the whole step compiled) for tinyflow.compile and torch.compile, each in its own
process: the import (not in the harness's first step, shown apart), the first step (trace,
plan or compile, first run: what the harness's "first step (compile)" line reports) and the
second.

Each round makes an empty cache directory, runs the probes in a fresh process (cold), then
again in another fresh process with what the first wrote (warm); rounds repeat and the table
shows medians with the spread. `--root DIR` (repeatable) runs the probes against other
checkouts of tinyflow too, rounds interleaved (e.g. an older commit's `git archive`, for a
before/after comparison); the files the cache holds after each run are counted too (they
must not grow on the warm run).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/warmup.py [--rounds 2]
        [--root DIR ...] [--no-gpt] [--no-torch] [--only-harness-gpt] [--threads N]
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


# The harness's worker for one compiled GPT step (bench/harness.py: same threads, the model
# source run by torch or, aliased, by tinyflow), timing the import apart from the steps; the
# first step's CPU time of this process steadies a loaded machine's numbers (torch's leaves
# out its compile workers' processes, so compare it within one framework).
HARNESS_GPT_PROBE = """
import json, os, sys, time
framework, bench = sys.argv[1], sys.argv[2]
sys.path.insert(0, bench)
t0 = time.perf_counter()
import harness
if framework == "tinyflow":
    harness.alias_torch_to_tinyflow()
else:
    import torch
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", harness.THREADS)))
import importlib
gpt = importlib.import_module("models.gpt")
imported = time.perf_counter() - t0
step = gpt.WORKLOADS["gpt4_b16_sdpa_causal_tanh_compiled"].build()
t0, c0 = time.perf_counter(), time.process_time()
step()
first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
t0 = time.perf_counter()
step()
print(json.dumps({"import": imported, "first step": first,
                  "second step": time.perf_counter() - t0,
                  "first step cpu (this process)": first_cpu}))
"""
HARNESS_GPT = "gpt4_b16"


def harness_gpt(framework: str, root: str, cache: str, threads: int = 2) -> dict:
    """The harness GPT probe of one framework in a fresh process, keys prefixed by it."""
    env = {k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "BENCH_THREADS")}
    env["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(cache, "inductor")
    res = probe(["-c", HARNESS_GPT_PROBE, framework, os.path.join(root, "bench")], root,
                cache, env)
    return {f"{HARNESS_GPT} {framework} {k}": v for k, v in res.items()}


def probe(args: list, root: str, cache: str, extra_env: dict = None) -> dict:
    env = dict(os.environ, TINYFLOW_CACHE_DIR=os.path.join(cache, "tinyflow"),
               NUMBA_CACHE_DIR=os.path.join(cache, "numba"), PYTHONPATH=root,
               **(extra_env or {}))
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=1800, cwd=root)
    if done.returncode:
        raise RuntimeError(f"probe {args[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def files(cache: str) -> int:
    return sum(len(fs) for _, _, fs in os.walk(cache))


def run_once(root: str, cache: str, opts) -> dict:
    """First-call seconds of every tinyflow probe in fresh processes, plus the cache's file
    count (tinyflow's and Numba's only)."""
    res = {}
    if not opts.only_harness_gpt:
        res.update(probe(["-c", EAGER_PROBE], root, cache))
    if not opts.no_gpt and not opts.only_harness_gpt:
        steps = probe([os.path.join(root, "bench", "jit.py"), "--runner=first-call"], root,
                      cache)
        res.update({f"compiled {task}": t["first"] for task, t in steps.items()})
    if not opts.no_harness_gpt:
        res.update(harness_gpt("tinyflow", root, cache, opts.threads))
    res["cache files"] = files(os.path.join(cache, "tinyflow")) + files(
        os.path.join(cache, "numba"))
    return res


def table(root: str, runs: dict, rounds: int, torch_runs: list = None) -> None:
    """The probes' medians; `torch_runs`: the warm runs holding torch's probe (the first
    root's), for the tinyflow / torch ratio of another root."""
    print(f"\ncode: {root}; first call in a fresh process, seconds, median of {rounds} "
          f"rounds (spread)")
    print(f"{'probe':<36}{'cold':>18}{'warm':>18}{'cold / warm':>13}")
    for name in runs["cold"][0]:
        cold = [r[name] for r in runs["cold"]]
        warm = [r[name] for r in runs["warm"]]
        if name == "cache files":
            print(f"{name:<36}{max(cold):>18}{max(warm):>18}")
            continue
        c, w = statistics.median(cold), statistics.median(warm)
        print(f"{name:<36}{c:>8.2f} ({min(cold):.2f}-{max(cold):.2f}){w:>8.2f} "
              f"({min(warm):.2f}-{max(warm):.2f}){c / w:>12.1f}x")
    first = {fw: [r.get(f"{HARNESS_GPT} {fw} first step") for r in runs["warm"]]
             for fw in ("tinyflow", "torch")}
    if torch_runs is not None:
        first["torch"] = [r.get(f"{HARNESS_GPT} torch first step") for r in torch_runs]
    if all(None not in v for v in first.values()):
        ratios = [t / f for t, f in zip(first["tinyflow"], first["torch"])]
        print(f"{HARNESS_GPT} first step, warm caches: tinyflow / torch "
              f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) per "
              f"round (issue 13 asks under 0.20)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--root", action="append", default=[],
                        help="another tinyflow checkout to measure beside this one")
    parser.add_argument("--no-gpt", action="store_true",
                        help="no bench/jit.py first-call probe")
    parser.add_argument("--no-harness-gpt", action="store_true",
                        help="no harness GPT step probe (tinyflow and torch)")
    parser.add_argument("--no-torch", action="store_true",
                        help="the harness GPT step probe without torch")
    parser.add_argument("--only-harness-gpt", action="store_true",
                        help="the harness GPT step probe only")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads of the harness GPT probes (1: the CPU time column is "
                             "the cleanest comparison on a loaded machine)")
    opts = parser.parse_args()
    roots = [os.path.dirname(HERE)] + [os.path.abspath(r) for r in opts.root]
    runs = {root: {"cold": [], "warm": []} for root in roots}
    start = time.perf_counter()
    for _ in range(opts.rounds):
        for root in roots:
            with tempfile.TemporaryDirectory() as cache:
                cold = run_once(root, cache, opts)
                warm = run_once(root, cache, opts)
                if root == roots[0] and not opts.no_torch and not opts.no_harness_gpt:
                    # torch after tinyflow's two runs: a warm run straight after Inductor's
                    # cold compile (gigabytes touched and given back) took 0.1 s longer
                    cold.update(harness_gpt("torch", root, cache, opts.threads))
                    warm.update(harness_gpt("torch", root, cache, opts.threads))
                runs[root]["cold"].append(cold)
                runs[root]["warm"].append(warm)
    print(f"cold = empty caches (Numba's and tinyflow's; torch: Inductor's), warm = the "
          f"caches the cold run wrote; {time.perf_counter() - start:.0f} s in all; "
          f"load: {os.getloadavg()[0]:.1f}")
    for root in roots:
        table(root, runs[root], opts.rounds, runs[roots[0]]["warm"])


if __name__ == "__main__":
    main()
