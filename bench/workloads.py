"""In-process numbers (each library's threads contend with the other's; for fair torch
ratios use bench/harness.py). The issue-4 workloads W1-W6, side by side in one run: tinyflow
(TF1 `Session` and eager), a hand-written NumPy step with manual gradients where one exists
here, torch eager, jax.jit for W1 and W2 when JAX is installed (`pip install "jax[cpu]"`; not
a dependency) and, with --compile, torch.compile. Seconds per step are medians of
interleaved repeats after warm-up; peak memory is what tracemalloc sees during one step
(NumPy-based runners only).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/workloads.py
    ... bench/workloads.py --workloads W2,W3 --repeats 7 --compile
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc
from typing import Callable

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402

import tinyflow  # noqa: E402

THREADS = 2
RNG = np.random.default_rng(0)


# ---- models, written once for either library (L = torch or tinyflow) ----------------------

def mlp(L, sizes=(784, 1024, 1024, 10)):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [L.nn.Linear(a, b), L.nn.ReLU()]
    return L.nn.Sequential(*layers[:-1])


def cnn(L):
    return L.nn.Sequential(L.nn.Conv2d(1, 32, 5, padding=2), L.nn.ReLU(), L.nn.MaxPool2d(2),
                           L.nn.Conv2d(32, 64, 5, padding=2), L.nn.ReLU(), L.nn.MaxPool2d(2),
                           L.nn.Flatten(), L.nn.Linear(3136, 1024), L.nn.ReLU(),
                           L.nn.Linear(1024, 10))


def gpt(L, vocab=512, d=256, heads=4, layers=4, seq=128):
    class Block(L.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = L.nn.LayerNorm(d), L.nn.LayerNorm(d)
            self.attn = L.nn.MultiheadAttention(d, heads, batch_first=True)
            self.mlp = L.nn.Sequential(L.nn.Linear(d, 4 * d), L.nn.GELU(), L.nn.Linear(4 * d, d))

        def forward(self, x, mask):
            h = self.ln1(x)
            x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.mlp(self.ln2(x))

    class GPT(L.nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = L.nn.Embedding(vocab, d), L.nn.Embedding(seq, d)
            self.blocks = L.nn.ModuleList(Block() for _ in range(layers))
            self.ln, self.head = L.nn.LayerNorm(d), L.nn.Linear(d, vocab)
            self.register_buffer("mask", L.triu(L.ones(seq, seq), 1).bool())
            self.register_buffer("positions", L.arange(seq))

        def forward(self, ids):
            x = self.tok(ids) + self.pos(self.positions)
            for block in self.blocks:
                x = block(x, self.mask)
            return self.head(self.ln(x))
    return GPT()


class LSTMClassifier:
    @staticmethod
    def make(L):
        class Net(L.nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = L.nn.LSTM(128, 256, batch_first=True)
                self.fc = L.nn.Linear(256, 10)

            def forward(self, x):
                out, _ = self.lstm(x)
                return self.fc(out[:, -1])
        return Net()


def gpt_step_graph(batch: int, autocast: bool, lr: float = 0.01, **sizes):
    """The GPT's SGD training step as a TF1 Session (its nn.Module called on placeholders,
    the loss under bfloat16 autocast if asked): (session, [train, loss], feeds, model)."""
    tf, F = tinyflow, tinyflow.nn.functional
    graph = tf.Graph()
    with graph.as_default():
        tf.manual_seed(0)
        model = gpt(tf, **sizes)
        vocab, seq = model.head.weight.shape[0], model.positions.shape[0]
        ids = tf.placeholder(tf.int64, [batch, seq])
        targets = tf.placeholder(tf.int64, [batch, seq])
        with tf.autocast("cpu", dtype=tf.bfloat16, enabled=autocast):
            logits = model(ids)
            loss = F.cross_entropy(tf.reshape(logits, (-1, vocab)), tf.reshape(targets, (-1,)))
        train = tf.train.GradientDescentOptimizer(lr).minimize(
            loss, var_list=list(model.parameters()))
        sess = tf.Session(graph=graph)
    rng = np.random.default_rng(0)
    feed = {ids: rng.integers(0, vocab, (batch, seq)),
            targets: rng.integers(0, vocab, (batch, seq))}
    return sess, [train, loss], feed, model


# ---- inputs ----------------------------------------------------------------------------

def data(workload):
    f32 = np.float32
    if workload == "W1":
        x = (RNG.random((100, 784)) < 0.2).astype(f32)
        y = np.eye(10, dtype=f32)[RNG.integers(0, 10, 100)]
        return x, y
    if workload in ("W2", "W6"):
        n = 256 if workload == "W2" else 1
        return RNG.random((n, 784), f32), RNG.integers(0, 10, n)
    if workload == "W3":
        return RNG.random((64, 1, 28, 28), f32), RNG.integers(0, 10, 64)
    if workload == "W4":
        return RNG.integers(0, 512, (16, 128)), RNG.integers(0, 512, (16, 128))
    return RNG.standard_normal((32, 50, 128)).astype(f32), RNG.integers(0, 10, 32)


# ---- runners: each returns a step() closure; setup is not timed ------------------------

def eager_train(L, make, workload, opt="sgd", lr=0.01):
    """A PyTorch training step, the same code for torch and tinyflow eager."""
    model = make(L)
    x, y = (L.from_numpy(np.ascontiguousarray(a)) for a in data(workload))
    optimizer = (L.optim.AdamW(model.parameters(), lr=1e-3) if opt == "adamw"
                 else L.optim.SGD(model.parameters(), lr=lr))
    F = L.nn.functional

    def step():
        optimizer.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        optimizer.step()
    return step


def eager_infer(L, make, workload):
    model = make(L)
    x = L.from_numpy(data(workload)[0])

    def step():
        with L.no_grad():
            model(x)
    return step


def w1_session():
    tf = tinyflow
    xs, ys = data("W1")
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 784])
        y_ = tf.placeholder(tf.float32, [None, 10])
        W = tf.Variable(tf.zeros([784, 10]))
        y = tf.nn.softmax(tf.matmul(x, W))
        loss = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
        train = tf.assign(W, W - 0.5 * tf.gradients(loss, [W])[0])
        sess = tf.Session(graph=g)
        sess.run(tf.global_variables_initializer())
    return lambda: sess.run(train, {x: xs, y_: ys})


def w1_eager(L):
    xs, ys = (L.from_numpy(a) for a in data("W1"))
    W = L.zeros(784, 10, requires_grad=True)

    def step():
        y = L.softmax(xs @ W, dim=1)
        loss = L.mean(-L.sum(ys * L.log(y), dim=1))
        loss.backward()
        with L.no_grad():
            W.sub_(0.5 * W.grad)
        W.grad = None
    return step


def w1_numpy():
    xs, ys = data("W1")
    W = np.zeros((784, 10), np.float32)

    def step():
        logits = xs @ W
        e = np.exp(logits - logits.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True)
        W.__isub__(0.5 * (xs.T @ ((p * ys.sum(1, keepdims=True) - ys) / len(xs))))
    return step


def mlp_session(workload, sizes=(784, 1024, 1024, 10), train=True):
    """TF1: Variables, matmul + relu, sparse softmax cross-entropy, GradientDescentOptimizer."""
    tf = tinyflow
    xs, ys = data(workload)
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 784])
        y = tf.placeholder(tf.int64, [None])
        h = x
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            W = tf.Variable(tf.random_uniform([a, b], -a ** -0.5, a ** -0.5))
            h = tf.matmul(h, W) + tf.Variable(tf.zeros([b]))
            if i < len(sizes) - 2:
                h = tf.nn.relu(h)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                             logits=h))
        fetch = tf.train.GradientDescentOptimizer(0.01).minimize(loss) if train else h
        sess = tf.Session(graph=g)
        sess.run(tf.global_variables_initializer())
    feed = {x: xs, y: ys} if train else {x: xs}
    return lambda: sess.run(fetch, feed)


def mlp_numpy(workload, sizes=(784, 1024, 1024, 10), train=True):
    """Hand-written: forward, softmax cross-entropy gradient, backward, SGD in place."""
    xs, ys = data(workload)
    Ws = [RNG.uniform(-a ** -0.5, a ** -0.5, (a, b)).astype(np.float32)
          for a, b in zip(sizes, sizes[1:])]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]
    onehot = np.eye(10, dtype=np.float32)[ys]

    def forward():
        acts = [xs]
        for i, (W, b) in enumerate(zip(Ws, bs)):
            h = acts[-1] @ W
            h += b
            if i < len(Ws) - 1:
                np.maximum(h, 0, out=h)
            acts.append(h)
        return acts

    def step():
        acts = forward()
        logits = acts[-1]
        e = np.exp(logits - logits.max(1, keepdims=True))
        g = e / e.sum(1, keepdims=True)
        g -= onehot
        g /= len(xs)
        for i in range(len(Ws) - 1, -1, -1):
            gW = acts[i].T @ g
            gb = g.sum(0)
            if i:
                g = g @ Ws[i].T
                g *= acts[i] > 0
            Ws[i] -= 0.01 * gW
            bs[i] -= 0.01 * gb
    return step if train else forward


def jax_train(workload):
    """The W1 / W2 step under jax.jit (a peer, when JAX is installed): loss, jax.grad, SGD."""
    import jax
    import jax.numpy as jnp
    xs, ys = (jnp.asarray(a) for a in data(workload))
    if workload == "W1":
        params, lr = [jnp.zeros((784, 10), jnp.float32)], 0.5

        def loss(params):
            p = jax.nn.softmax(xs @ params[0], axis=1)
            return jnp.mean(-jnp.sum(ys * jnp.log(p), axis=1))
    else:
        sizes, lr = (784, 1024, 1024, 10), 0.01
        params = []
        for a, b in zip(sizes, sizes[1:]):
            params += [jnp.asarray(RNG.uniform(-a ** -0.5, a ** -0.5, (a, b)), jnp.float32),
                       jnp.zeros(b, jnp.float32)]

        def loss(params):
            h = xs
            for k in range(0, len(params), 2):
                h = h @ params[k] + params[k + 1]
                h = jax.nn.relu(h) if k < len(params) - 2 else h
            logp = jax.nn.log_softmax(h, axis=1)
            return -jnp.mean(jnp.take_along_axis(logp, ys[:, None], axis=1))

    @jax.jit
    def update(params):
        return [p - lr * g for p, g in zip(params, jax.grad(loss)(params))]

    state = [params]

    def step():
        state[0] = update(state[0])
        jax.block_until_ready(state[0])
    return step


RUNNERS: dict[str, dict[str, Callable]] = {
    "W1": {"numpy": w1_numpy, "tinyflow Session": w1_session,
           "tinyflow eager": lambda: w1_eager(tinyflow), "torch eager": "w1_torch",
           "jax.jit": lambda: jax_train("W1")},
    "W2": {"numpy": lambda: mlp_numpy("W2"), "tinyflow Session": lambda: mlp_session("W2"),
           "tinyflow eager": lambda: eager_train(tinyflow, mlp, "W2"),
           "torch eager": ("train", mlp), "jax.jit": lambda: jax_train("W2")},
    "W3": {"tinyflow eager": lambda: eager_train(tinyflow, cnn, "W3"),
           "torch eager": ("train", cnn)},
    "W4": {"tinyflow eager": lambda: eager_train(tinyflow, gpt, "W4", opt="adamw"),
           "torch eager": ("train", gpt, "adamw")},
    "W5": {"tinyflow eager": lambda: eager_train(tinyflow, LSTMClassifier.make, "W5"),
           "torch eager": ("train", LSTMClassifier.make)},
    "W6": {"numpy": lambda: mlp_numpy("W6", train=False),
           "tinyflow Session": lambda: mlp_session("W6", train=False),
           "tinyflow eager": lambda: eager_infer(tinyflow, mlp, "W6"),
           "torch eager": ("infer", mlp)},
}
STEPS = {"W1": 200, "W2": 10, "W3": 3, "W4": 1, "W5": 5, "W6": 300}


def torch_runner(spec, compile_=False):
    import torch
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    if spec == "w1_torch":
        step = w1_eager(torch)
    else:
        kind, make, *opt = spec
        step = (eager_train(torch, make, workload_of(make), *opt) if kind == "train"
                else eager_infer(torch, make, workload_of(make)))
    return torch.compile(step) if compile_ else step


def workload_of(make):
    return {mlp: "W2", cnn: "W3", gpt: "W4", LSTMClassifier.make: "W5"}[make]


def time_steps(step, n):
    start = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - start) / n


def peak_bytes(step) -> int:
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--compile", action="store_true", help="also torch.compile (slow to build)")
    args = p.parse_args()
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
        threadpool_limits(THREADS)
        blas = [f"{i['internal_api']} {i.get('architecture', '')} {i['num_threads']} threads"
                for i in threadpool_info() if i["user_api"] == "blas"]
    except ImportError:
        blas = ["threadpoolctl not installed"]
    try:
        import torch  # noqa: F401  (only whether it is installed)
        have_torch = True
    except ImportError:
        have_torch = False
    try:
        import jax
        have_jax = f"JAX {jax.__version__} on {jax.devices()[0].platform}"
    except ImportError:
        have_jax = None
    print("IN-PROCESS numbers: torch and tinyflow share this process (their thread pools "
          "contend), so the torch column is not what a user sees; bench/harness.py runs each "
          "framework in its own process.")
    print(f"NumPy BLAS: {'; '.join(blas)}; {have_jax or 'JAX: not installed'}")

    print(f"{'workload':<5}{'runner':<18}{'s/step':>11}{'vs torch':>10}{'vs numpy':>10}"
          f"{'peak MB':>9}")
    for w in args.workloads.split(","):
        runners = {}
        for name, make in RUNNERS[w].items():
            if name == "jax.jit" and not have_jax:
                continue
            if name.startswith("torch"):
                if not have_torch:
                    continue
                runners[name] = torch_runner(make)
                if args.compile:
                    try:
                        runners["torch.compile"] = torch_runner(make, compile_=True)
                    except Exception as e:  # noqa: BLE001 - report and go on
                        print(f"  torch.compile unavailable: {type(e).__name__}: {e}")
            else:
                tinyflow.manual_seed(0)
                runners[name] = make()
        n = STEPS[w]
        peaks = {}
        for name, step in list(runners.items()):
            try:
                for _ in range(2):
                    step()        # warm-up (and torch.compile's build)
            except Exception as e:  # noqa: BLE001
                print(f"  {w} {name} failed: {type(e).__name__}: {str(e)[:200]}")
                del runners[name]
                continue
            if not name.startswith(("torch", "jax")):
                peaks[name] = peak_bytes(step) / 1e6
        times = {name: [] for name in runners}
        for _ in range(args.repeats):
            for name, step in runners.items():
                times[name].append(time_steps(step, n))
        med = {name: statistics.median(ts) for name, ts in times.items()}
        for name, t in med.items():
            vs_torch = f"{t / med['torch eager']:.2f}x" if "torch eager" in med else "-"
            vs_numpy = f"{t / med['numpy']:.2f}x" if "numpy" in med else "-"
            peak = f"{peaks[name]:.1f}" if name in peaks else "-"
            print(f"{w:<5}{name:<18}{t:>11.6f}{vs_torch:>10}{vs_numpy:>10}{peak:>9}", flush=True)


if __name__ == "__main__":
    main()
