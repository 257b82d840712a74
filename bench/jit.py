"""tinyflow.compile against tinyflow eager (and hand-written NumPy, and torch in its own
process) on two training steps: the seed softmax regression (784 -> 10, batch 100, SGD 0.5)
and an MLP (784-256-10 ReLU, batch 100, cross-entropy, SGD). Medians of interleaved repeats,
plus the first call's time (trace + plan + first run) of the compiled step.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/jit.py [--torch]
    ... bench/jit.py --warmup     # first call in a fresh process: cold vs warm disk caches
    ... bench/jit.py --generate   # character GPT sampling: full context, KV eager, KV compiled
    ... bench/jit.py --gpt        # the GPT training step, eager against compiled
    ... bench/jit.py --breaks     # a step with a graph break: eager, pieces, no break
    ... bench/jit.py --profile [--gpt-profile] [--all]   # per-kernel times of the plan
    ... bench/jit.py --split      # the GPT step's CPU time: GEMMs against the rest
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402

BATCH, REPEATS, INNER = 100, 15, 20


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, 784), dtype=np.float32) * 0.1   # MNIST-like scale: no divergence
    labels = rng.integers(0, 10, BATCH)
    return x, labels, np.eye(10, dtype=np.float32)[labels]


def seed_step(lib):
    x, _, y_ = data()
    x, y_ = lib.from_numpy(x), lib.from_numpy(y_)
    w = lib.zeros(784, 10, requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.5)

    def step(x, y_):
        opt.zero_grad()
        y = lib.softmax(x @ w, dim=1)
        loss = (-(y_ * lib.log(y)).sum(dim=1)).mean()
        loss.backward()
        opt.step()
        return loss
    return step, (x, y_)


def mlp_step(lib):
    x, labels, _ = data()
    x, y = lib.from_numpy(x), lib.from_numpy(labels)
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(784, 256), lib.nn.ReLU(), lib.nn.Linear(256, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)

    def step(x, y):
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step, (x, y)


def numpy_seed_step():
    """The seed step by hand: softmax, its cross-entropy gradient, the SGD update."""
    x, _, y_ = data()
    w = np.zeros((784, 10), np.float32)

    def step():
        logits = x @ w
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        y = e / e.sum(axis=1, keepdims=True)
        w[...] -= 0.5 * (x.T @ ((y - y_) / BATCH))
        return -(y_ * np.log(y)).sum(axis=1).mean()
    return step


def timed(fn, args=(), cpu=None):
    """Wall seconds per call over `INNER` calls; `cpu` (a list) receives this process's CPU
    seconds per call, which other processes' load inflates least (a loaded machine preempts
    the process for whole time slices, which land on whichever step runs then)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(INNER):
        fn(*args)
    if cpu is not None:
        cpu.append((time.process_time() - start_cpu) / INNER)
    return (time.perf_counter() - start) / INNER


def runners(lib, compile_fn):
    """name -> (task, callable, args); compiled ones also report their first call."""
    out, warmup = {}, {}
    for task, make in (("seed step", seed_step), ("MLP step", mlp_step)):
        fn, args = make(lib)
        fn(*args)   # kernels' own one-time costs (Numba ufuncs) are not the compile's
        out[(task, "eager")] = (fn, args)
        cfn, cargs = make(lib)
        cfn = compile_fn(cfn)
        start = time.perf_counter()
        cfn(*cargs)
        warmup[task] = time.perf_counter() - start
        out[(task, "compiled")] = (cfn, cargs)
    return out, warmup


def measure(lib, compile_fn, extra=None) -> dict:
    tasks, warmup = runners(lib, compile_fn)
    tasks.update(extra or {})
    for fn, args in tasks.values():   # warm-up
        timed(fn, args)
    times: dict = {k: [] for k in tasks}
    cpu: dict = {k: [] for k in tasks}
    for _ in range(REPEATS):   # interleaved
        for k, (fn, args) in tasks.items():
            times[k].append(timed(fn, args, cpu[k]))
    return {"median": {f"{t}|{r}": statistics.median(v) for (t, r), v in times.items()},
            "cpu": {f"{t}|{r}": statistics.median(v) for (t, r), v in cpu.items()},
            "warmup": warmup}


def run_torch() -> dict:
    import torch
    torch.set_num_threads(2)
    return measure(torch, torch.compile)


def gpt_step(lib, cfg=None):
    """The character GPT's training step (examples/char_gpt.py), AdamW, random tokens."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "examples"))
    from char_gpt import GPT, GPTConfig, loss_fn
    cfg = cfg or GPTConfig(vocab_size=96, block_size=128, n_layer=4, n_head=4, n_embd=256)
    lib.manual_seed(0)
    model = GPT(cfg)
    opt = lib.optim.AdamW(model.parameters(), lr=3e-4)
    rng = np.random.default_rng(0)
    x, y = (lib.tensor(rng.integers(0, cfg.vocab_size, (16, cfg.block_size)))
            for _ in range(2))

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model, x, y)
        loss.backward()
        opt.step()
        return loss
    return step, (x, y)


def gpt_steps() -> None:
    """The GPT training step (4 layers, d_model 256, 4 heads, sequence 128, batch 16),
    tinyflow eager against compiled, in one process, interleaved repeats."""
    import tinyflow
    tasks = {}
    for runner in ("eager", "compiled"):
        fn, args = gpt_step(tinyflow)
        if runner == "compiled":
            fn = tinyflow.compile(fn)
        start = time.perf_counter()
        fn(*args)
        fn(*args)   # the optimizer's state appears at step 1: the graph after it
        print(f"{runner}: first two steps {time.perf_counter() - start:.1f} s", flush=True)
        tasks[runner] = (fn, args)
    times = {k: [] for k in tasks}
    cpu = {k: [] for k in tasks}     # this process's CPU time: what other processes' load
    for _ in range(5):               # on a shared machine inflates least
        for name, (fn, args) in tasks.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn(*args)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    print("GPT step (4 x 256, 4 heads, seq 128, batch 16), ms, median of 5 interleaved")
    print(f"{'':<10}{'wall':>10}{'':<22}{'CPU':>8}")
    for name, ts in times.items():
        cs = cpu[name]
        print(f"{name:<10}{statistics.median(ts) * 1e3:>10.0f}   "
              f"(spread {min(ts) * 1e3:.0f}-{max(ts) * 1e3:.0f}){'':<4}"
              f"{statistics.median(cs) * 1e3:>8.0f}   (spread {min(cs) * 1e3:.0f}-"
              f"{max(cs) * 1e3:.0f})")
    for what, t in (("wall", times), ("CPU", cpu)):
        print(f"compiled is {statistics.median(t['eager']) / statistics.median(t['compiled']):.2f}x "
              f"faster than eager ({what} time)")


def gemm_split() -> None:
    """The GPT step's CPU time split into its matrix products (MatMul, Affine: BLAS) and
    everything else, eager against compiled, in one process, interleaved: what compiling can
    shrink is the rest. Run it at 1 thread (OMP/OPENBLAS/NUMBA_NUM_THREADS=1): CPU time of
    one thread is what other processes' load inflates least."""
    import tinyflow
    from tinyflow.backend.numpy.registry import KERNELS
    from tinyflow.ops.linalg import Affine, MatMul
    gemm = [0.0]

    def timed(kernel):
        def run(op, *arrays, out=None):
            start = time.process_time()
            try:
                return kernel(op, *arrays, out=out)
            finally:
                gemm[0] += time.process_time() - start
        return run
    for op in (MatMul, Affine):      # before any plan binds its kernels
        KERNELS[op] = timed(KERNELS[op])
    tasks = {}
    for runner in ("eager", "compiled"):
        fn, args = gpt_step(tinyflow)
        fn = tinyflow.compile(fn) if runner == "compiled" else fn
        for _ in range(3):
            fn(*args)
        tasks[runner] = (fn, args)
    rows = {k: ([], []) for k in tasks}
    for _ in range(5):
        for name, (fn, args) in tasks.items():
            gemm[0], start = 0.0, time.process_time()
            fn(*args)
            rows[name][0].append(time.process_time() - start)
            rows[name][1].append(gemm[0])
    print("GPT step, CPU ms, median of 5 interleaved (threads: "
          f"{os.environ.get('OPENBLAS_NUM_THREADS')})")
    print(f"{'':<10}{'step':>8}{'GEMMs':>8}{'rest':>8}")
    for name, (steps, gemms) in rows.items():
        step, g = statistics.median(steps), statistics.median(gemms)
        print(f"{name:<10}{step * 1e3:>8.0f}{g * 1e3:>8.0f}{(step - g) * 1e3:>8.0f}")


def profile_step(which: str) -> None:
    """Per-kernel times of the compiled step's plan (`Plan.profile`), summed by op, biggest
    first, beside the whole step's time: where the compiled step spends its time."""
    import tinyflow
    from collections import defaultdict
    fn, args = gpt_step(tinyflow) if which == "gpt" else seed_step(tinyflow)
    compiled = tinyflow.compile(fn)
    for _ in range(3):
        compiled(*args)
    (entry,) = [e for es in compiled._cache.values() if isinstance(es, list) for e in es][-1:]
    rows = entry.plan.profile([a.array for a in args], runs=12 if which == "gpt" else 200)
    start = time.perf_counter()
    for _ in range(5):
        compiled(*args)
    step = (time.perf_counter() - start) / 5
    by_op = defaultdict(lambda: [0.0, 0])
    for name, _, t, _ in rows:
        by_op[name][0] += t
        by_op[name][1] += 1
    total = sum(row[2] for row in rows)
    print(f"{which} step: {step * 1e3:.3f} ms per call, kernels {total * 1e3:.3f} ms "
          f"({len(rows)} kernels)")
    for name, (t, count) in sorted(by_op.items(), key=lambda kv: -kv[1][0])[:40]:
        print(f"{t * 1e3:>9.3f} ms {count:>4}x  {name[:100]}")
    if "--all" in sys.argv:
        for name, shape, t, flops in rows:
            print(f"{t * 1e3:>9.3f} ms {flops / max(t, 1e-9) / 1e9:>7.1f} GFLOP/s  {shape}  "
                  f"{name[:100]}")


def break_steps() -> None:
    """The MLP step with a graph break in the middle (`if loss.item() > 5: ...` before
    backward): eager, compiled as pieces, and compiled without the break for reference."""
    import tinyflow
    x, labels, _ = data()

    def make(with_break: bool):
        tinyflow.manual_seed(0)
        model = tinyflow.nn.Sequential(tinyflow.nn.Linear(784, 256), tinyflow.nn.ReLU(),
                                       tinyflow.nn.Linear(256, 10))
        opt = tinyflow.optim.SGD(model.parameters(), lr=0.01)

        def step(x, y):
            opt.zero_grad()
            loss = tinyflow.nn.functional.cross_entropy(model(x), y)
            if with_break and loss.item() > 5.0:   # a break: the rest is another piece
                loss = loss * 0.5
            loss.backward()
            opt.step()
            return loss
        return step
    args = (tinyflow.from_numpy(x), tinyflow.from_numpy(labels))
    tasks = {"eager, break": make(True),
             "compiled pieces, break": tinyflow.compile(make(True)),
             "compiled, no break": tinyflow.compile(make(False))}
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in tasks.values():
            timed(fn, args)
        times = {k: [] for k in tasks}
        for _ in range(REPEATS):
            for name, fn in tasks.items():
                times[name].append(timed(fn, args))
    print(f"MLP step with a graph break, ms per step, median of {REPEATS} interleaved "
          f"repeats of {INNER}")
    for name, ts in times.items():
        print(f"{name:<26}{statistics.median(ts) * 1e3:>8.3f}   "
              f"(spread {min(ts) * 1e3:.3f}-{max(ts) * 1e3:.3f})")
    print(f"graphs compiled for the step with the break: "
          f"{tasks['compiled pieces, break'].stats.compiles}")


def first_call() -> dict:
    """One fresh process: how long the first compiled call of each step takes."""
    import tinyflow
    out = {}
    for task, make in (("seed step", seed_step), ("GPT step", gpt_step)):
        fn, args = make(tinyflow)
        compiled = tinyflow.compile(fn)
        start = time.perf_counter()
        compiled(*args)
        out[task] = {"first": time.perf_counter() - start}
        start = time.perf_counter()
        compiled(*args)
        out[task]["second"] = time.perf_counter() - start
    return out


def warmup() -> None:
    """First-call time in a fresh process with empty caches (tinyflow's and Numba's), then in
    another fresh process with the caches the first one wrote."""
    import tempfile
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, TINYFLOW_CACHE_DIR=os.path.join(cache, "tinyflow"),
                   NUMBA_CACHE_DIR=os.path.join(cache, "numba"))
        runs = {}
        for name in ("cold cache", "warm cache"):
            done = subprocess.run([sys.executable, __file__, "--runner=first-call"], env=env,
                                  check=True, capture_output=True, text=True)
            runs[name] = json.loads(done.stdout.strip().splitlines()[-1])
    print("first call of a compiled step in a fresh process, seconds "
          "(the second call for comparison)")
    print(f"{'task':<12}{'cache':<14}{'first call':>12}{'second call':>13}")
    for name, res in runs.items():
        for task, t in res.items():
            print(f"{task:<12}{name:<14}{t['first']:>12.2f}{t['second']:>13.3f}")


def generation() -> None:
    """Characters per second sampling from the example GPT (4 layers x 128, context 128,
    untrained): full-context `generate`, and `generate_kv` eager and compiled (its warm-up
    run first, untimed). Medians of interleaved repeats of 100 characters each."""
    import tinyflow
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "examples"))
    import char_gpt
    from text_corpus import CharCorpus, load_text
    corpus = CharCorpus(load_text())
    tinyflow.manual_seed(0)
    model = char_gpt.GPT(char_gpt.GPTConfig(corpus.vocab_size))
    compiled = tinyflow.compile(char_gpt.decode_step)
    new, prompt = 100, "A class "
    runners = {
        "eager, full context": lambda rng: char_gpt.generate(model, corpus, prompt, new,
                                                             top_k=10, rng=rng),
        "eager, KV cache": lambda rng: char_gpt.generate_kv(model, corpus, prompt, new,
                                                            top_k=10, rng=rng),
        "compiled, KV cache": lambda rng: char_gpt.generate_kv(model, corpus, prompt, new,
                                                               top_k=10, rng=rng,
                                                               step=compiled)}
    start = time.perf_counter()
    for run in runners.values():
        run(np.random.default_rng(0))      # warm-up (the compiled one: its compile)
    first = time.perf_counter() - start
    times = {name: [] for name in runners}
    texts = {}
    for repeat in range(5):
        for name, run in runners.items():
            start = time.perf_counter()
            texts[name] = run(np.random.default_rng(repeat))
            times[name].append(time.perf_counter() - start)
    print(f"character GPT sampling, {new} characters per run, median of 5 interleaved runs "
          f"(warm-up of all three: {first:.1f} s)")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<22}{new / med:>10.1f} chars/s   (spread {min(ts):.3f}-{max(ts):.3f} s)")
    print(f"compiled KV graphs: {compiled.stats.compiles}, calls {compiled.stats.calls}; "
          f"KV eager and compiled sampled the same text: "
          f"{texts['eager, KV cache'] == texts['compiled, KV cache']}")


def main() -> None:
    if "--runner=torch" in sys.argv:
        print(json.dumps(run_torch()))
        return
    if "--runner=first-call" in sys.argv:
        print(json.dumps(first_call()))
        return
    if "--warmup" in sys.argv:
        warmup()
        return
    if "--generate" in sys.argv:
        generation()
        return
    if "--gpt" in sys.argv:
        gpt_steps()
        return
    if "--split" in sys.argv:
        gemm_split()
        return
    if "--profile" in sys.argv:
        profile_step("gpt" if "--gpt-profile" in sys.argv else "seed")
        return
    if "--breaks" in sys.argv:
        break_steps()
        return
    import tinyflow
    results = {"tinyflow": measure(tinyflow, tinyflow.compile,
                                   {("seed step", "numpy"): (numpy_seed_step(), ())})}
    if "--torch" in sys.argv:
        done = subprocess.run([sys.executable, __file__, "--runner=torch"], check=True,
                              capture_output=True, text=True)
        results["torch"] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"training steps, ms per step, median of {REPEATS} interleaved repeats of {INNER}")
    print(f"{'task':<12}{'runner':<20}{'ms':>10}{'CPU ms':>10}{'first call s':>14}")
    for lib, res in results.items():
        for key, med in res["median"].items():
            task, runner = key.split("|")
            first = res["warmup"].get(task) if runner == "compiled" else None
            cell = f"{first:>14.3f}" if first is not None else f"{'':>14}"
            print(f"{task:<12}{lib + ' ' + runner:<20}{med * 1e3:>10.3f}"
                  f"{res['cpu'][key] * 1e3:>10.3f}{cell}")
    for what in ("median", "cpu"):
        med = results["tinyflow"][what]
        label = "wall" if what == "median" else "CPU"
        for task in ("seed step", "MLP step"):
            print(f"{task}: compiled is {med[task + '|eager'] / med[task + '|compiled']:.2f}x "
                  f"faster than tinyflow eager ({label})")
        print(f"seed step: compiled / numpy = "
              f"{med['seed step|compiled'] / med['seed step|numpy']:.2f} ({label})")


if __name__ == "__main__":
    main()
