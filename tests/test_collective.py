"""Collectives and what is built on them, on one local Ray (started once: starting Ray and
worker processes is most of the time here).

- Ring collectives over Ray actors: all-reduce equals the sum for sizes not divisible by N
  (N = 1..4), every worker gets the same bits, bytes sent per worker are 2(N-1)/N of the
  buffer, the mailbox never holds more than one segment, and a worker killed mid-all-reduce is
  named in a clear error within the timeout.
- Data parallelism: the post-accumulate-grad hook fires per leaf as soon as its gradient is
  final; after every step the replicas are bit-identical, and N workers train exactly as one
  worker on the concatenated batch (float64, 10 steps), for an eager module (an update rule or
  a tinyflow optimizer) and a TF1 graph; buckets start during backward.
- Megatron-style tensor parallelism on 2 and 4 workers: the MLP block and self-attention with
  the heads split equal one device (PyTorch as the oracle, float64, 1e-5) in output, input
  gradient and every weight shard's gradient, with one all-reduce forward and one backward.
"""
from __future__ import annotations

import functools
import time

import numpy as np
import pytest

import tinyflow as tf
from tinyflow import nn, optim

ray = pytest.importorskip("ray")
torch = pytest.importorskip("torch")

import tinyflow.distributed as dist  # noqa: E402
from tinyflow.distributed.collective import (CollectiveError, Communicator,  # noqa: E402
                                             Group)
from tinyflow.distributed.data_parallel import DataParallel, make_buckets  # noqa: E402
from tinyflow.distributed.tensor_parallel import (ParallelMLP,  # noqa: E402
                                                  ParallelSelfAttention, TensorParallel)


@pytest.fixture(scope="module")
def pool(local_ray):
    """Four worker processes, re-wired into rings of 1..4 for each test."""
    g = Group(4, timeout=20.0)
    yield g.workers
    g.shutdown()


# ==== collectives =============================================================================

@pytest.fixture(params=[1, 2, 3, 4])
def group(request, pool):
    return Group(request.param, timeout=20.0, workers=pool)


def _inputs(n, size, integer=False):
    rng = np.random.default_rng(size)
    if integer:   # integer-valued floats: every order of summation gives the exact sum
        return [rng.integers(-50, 50, size).astype(np.float64) for _ in range(n)]
    return [rng.standard_normal(size) for _ in range(n)]


@pytest.mark.parametrize("size", [1, 7, 1001])
def test_all_reduce_is_the_sum_on_every_worker(group, size):
    xs = _inputs(group.size, size, integer=True)
    out = group.run("all_reduce", xs)
    for o in out:
        np.testing.assert_array_equal(o, np.sum(xs, axis=0))
    xs = [x.reshape(1, -1) / 3 for x in _inputs(group.size, size)]      # 2-D, not exact
    out = group.run("all_reduce", xs)
    np.testing.assert_allclose(out[0], np.sum(xs, axis=0), rtol=1e-12)
    assert out[0].shape == (1, size)
    for o in out[1:]:
        assert o.tobytes() == out[0].tobytes()          # replicas agree to the bit


def test_bytes_sent_per_worker_are_2_n_minus_1_over_n_of_the_buffer(group):
    size = 10_007                                       # not divisible by 2, 3 or 4
    before = group.stats()
    group.run("all_reduce", _inputs(group.size, size))
    after = group.stats()
    n, nbytes = group.size, size * 8
    for b, a in zip(before, after):
        sent = a.bytes_sent - b.bytes_sent
        assert sent == pytest.approx(2 * (n - 1) / n * nbytes, rel=0.01)
        assert a.messages - b.messages == 2 * (n - 1)
        # one segment in flight at most: ceil(size / n) elements
        assert a.peak_inbox_bytes <= -(-size // n) * 8


def test_chunked_messages_bound_what_a_worker_holds(pool):
    group = Group(3, timeout=20.0, chunk_bytes=800, workers=pool)     # 100 float64
    xs = _inputs(3, 1001, integer=True)
    for o in group.run("all_reduce", xs):
        np.testing.assert_array_equal(o, np.sum(xs, axis=0))
    value = np.arange(1001.0)
    for got in group.run("broadcast", [value, None, None]):
        np.testing.assert_array_equal(got, value)
    for st in group.stats():
        assert st.peak_inbox_bytes <= 800
        assert st.calls == {"all_reduce": 1, "broadcast": 1}
    # segments of 334, 334, 333 elements: 4 pieces each, 4 ring steps
    assert group.stats()[0].messages == 4 * 4 + 1 + 3 * 4      # + broadcast: meta, 3 x 4
    assert group.stats()[0].bytes_sent == pytest.approx(4 / 3 * 1001 * 8 + 1001 * 8, rel=0.01)


def test_reduce_scatter_all_gather_and_broadcast(group):
    n = group.size
    xs = _inputs(n, 23, integer=True)
    total = np.sum(xs, axis=0)
    for r, seg in enumerate(group.run("reduce_scatter", xs)):
        np.testing.assert_array_equal(seg, np.array_split(total, n)[r])
    parts = [np.full(r + 1, r, np.int32) for r in range(n)]     # shapes differ by rank
    for got in group.run("all_gather", parts):
        assert [p.tolist() for p in got] == [p.tolist() for p in parts]
    root = n - 1
    value = np.arange(12.0).reshape(3, 4)
    sent = [value if r == root else None for r in range(n)]
    for got in group.run("broadcast", sent, root=root):
        np.testing.assert_array_equal(got, value)


def test_bad_rank_is_refused():
    with pytest.raises(ValueError, match="rank 3 is not in a group of 2"):
        Communicator(3, 2)


# ==== data parallelism ========================================================================

def test_post_accumulate_grad_hook_fires_last_layer_first_with_grad_final():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    names = {id(p): k for k, p in model.named_parameters()}
    seen = []
    handles = [p.register_post_accumulate_grad_hook(
        lambda t: seen.append((names[id(t)], t.grad.numpy().copy())))
        for p in model.parameters()]
    x = tf.randn(5, 3)
    model(x).sum().backward()
    assert [k for k, _ in seen] == ["2.bias", "2.weight", "0.bias", "0.weight"]
    for k, g in seen:                     # what the hook saw is the final gradient
        np.testing.assert_array_equal(g, dict(model.named_parameters())[k].grad.numpy())
    handles[0].remove()
    seen.clear()
    model(x).sum().backward()             # accumulates: the hook sees the sum
    assert [k for k, _ in seen] == ["2.bias", "2.weight", "0.bias"]
    with pytest.raises(RuntimeError, match="the tensor is not a leaf"):
        model(x).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="post_accumulate_grad_hook: the tensor does not require"):
        x.register_post_accumulate_grad_hook(print)


def test_buckets_are_filled_from_the_last_parameter_and_split_by_dtype():
    arrays = [("a", np.zeros(10)), ("b", np.zeros(10)), ("c", np.zeros(30)),
              ("d", np.zeros(5, np.float32))]
    assert make_buckets(arrays, 160) == [["d"], ["c"], ["b", "a"]]
    assert make_buckets(arrays, 10**6) == [["d"], ["c", "b", "a"]]


def make_mlp():
    """Unseeded on purpose: the broadcast must make the replicas equal."""
    return dist.ModuleModel(nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double())


def make_tf1():
    def build():
        x = tf.placeholder(tf.float64, [None, 5])
        y = tf.placeholder(tf.int64, [None])
        w = tf.Variable(tf.random_normal([5, 3], dtype=tf.float64), name="w")
        b = tf.Variable(tf.zeros([3], dtype=tf.float64), name="b")
        logits = tf.tanh(tf.matmul(x, w) + b)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                             logits=logits))
        return loss, logits, x, y
    return dist.GraphModel(build)


def momentum_sgd(params):
    return optim.SGD(params, lr=0.3, momentum=0.9)


def _batches(steps=10, batch=17):        # 17 rows: not divisible by 2, 3 or 4
    rng = np.random.default_rng(1)
    return rng.standard_normal((steps, batch, 5)), rng.integers(0, 3, (steps, batch))


def _single_worker(make_model, start, optimizer, xs, ys):
    """The reference: one model on the driver, the whole batch, the same update."""
    model = make_model()
    model.set(start)
    if isinstance(optimizer, dist.UpdateRule):
        state = {k: optimizer.init_state(v) for k, v in start.items()}
        for x, y in zip(xs, ys):
            _, grads = model.gradients(x, y)
            model.set({k: optimizer.apply(v, grads[k], state[k])
                       for k, v in model.arrays().items()})
    else:
        opt = optimizer(list(model.params.values()))
        for x, y in zip(xs, ys):
            _, grads = model.gradients(x, y)
            opt.step()
    return model.arrays()


@pytest.mark.parametrize("make_model, optimizer, workers, bucket_bytes", [
    (make_mlp, dist.SGD(0.5), 3, 200),
    (make_mlp, momentum_sgd, 4, 300),
    (make_mlp, dist.Adam(0.05), 1, 1 << 20),
    (make_tf1, dist.SGD(0.5), 2, 64),
])
def test_n_workers_equal_one_worker_on_the_whole_batch(pool, make_model, optimizer, workers,
                                                       bucket_bytes):
    group = dist.Group(workers, timeout=20.0, workers=pool)
    dp = DataParallel(make_model, optimizer, group=group, bucket_bytes=bucket_bytes)
    start = dp.parameters()
    for p in start[1:]:                                    # the broadcast
        for k in p:
            assert p[k].tobytes() == start[0][k].tobytes()
    xs, ys = _batches()
    for x, y in zip(xs, ys):
        dp.step(x, y)
        params = dp.parameters()
        for p in params[1:]:                               # bit-identical after every step
            for k in p:
                assert p[k].tobytes() == params[0][k].tobytes(), k
    expected = _single_worker(make_model, start[0], optimizer, xs, ys)
    for k, v in expected.items():
        assert np.abs(v - start[0][k]).max() > 1e-3        # it did train
        np.testing.assert_allclose(params[0][k], v, rtol=1e-5, atol=1e-5)
    calls = group.stats()[0].calls
    assert calls["all_reduce"] == 10 * len(make_buckets(list(start[0].items()), bucket_bytes))
    dp.shutdown()


def test_a_batch_smaller_than_the_group_is_refused(pool):
    dp = DataParallel(make_mlp, group=dist.Group(3, timeout=20.0, workers=pool))
    with pytest.raises(ValueError, match="a batch of 2 example.*across 3 workers"):
        dp.step(np.zeros((2, 5)), np.zeros(2, np.int64))
    dp.shutdown()


def test_a_data_parallel_job_stops_the_workers_it_started_and_only_those(pool):
    def alive(workers):
        count = 0
        for w in workers:
            try:
                ray.get(w.uninstall.remote("no such job"), timeout=20)
                count += 1
            except ray.exceptions.RayActorError:
                pass
        return count
    with dist.DataParallel(make_mlp, dist.SGD(0.1), num_workers=2, timeout=20.0) as own:
        started = own.group.workers
        assert alive(started) == 2
    deadline = time.monotonic() + 20   # ray.kill returns before the process is gone
    while alive(started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive(started) == 0
    shared = dist.DataParallel(make_mlp, dist.SGD(0.1), group=Group(2, 20.0, workers=pool))
    shared.shutdown()
    assert alive(pool) == 4


def test_buckets_start_during_backward_only_with_overlap(pool):
    group = dist.Group(2, timeout=20.0, workers=pool)
    xs, ys = _batches(steps=2)
    for overlap, started in ((True, 4), (False, 0)):      # 4 parameters, 4 buckets
        dp = DataParallel(make_mlp, dist.SGD(0.1), group=group, bucket_bytes=8,
                          overlap=overlap)
        for x, y in zip(xs, ys):
            dp.step(x, y)
        for worker in dp.timings():
            assert [t[3] for t in worker] == [started, started]
        dp.shutdown()


# ==== tensor parallelism ======================================================================

D, HIDDEN, HEADS, B, T = 8, 16, 4, 2, 5


def _weights(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) / np.sqrt(s[-1]) for s in shapes]


def _torch(*arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def _check(results, out, x, grad_out, full_grads, shard_of):
    """Every worker: the full output and input gradient; its shard of each weight gradient."""
    for r, res in enumerate(results):
        np.testing.assert_allclose(res["out"], out, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(res["x_grad"], x.grad.numpy(), rtol=1e-5, atol=1e-5)
        for name, full in full_grads.items():
            np.testing.assert_allclose(res["grads"][name], shard_of(name, full, r),
                                       rtol=1e-5, atol=1e-5, err_msg=f"worker {r}: {name}")
        assert (res["forward_all_reduces"], res["backward_all_reduces"]) == (1, 1)


@pytest.mark.parametrize("workers", [2, 4])
def test_parallel_mlp_equals_one_device(pool, workers):
    w1, b1, w2, b2 = _weights(workers, (HIDDEN, D), (HIDDEN,), (D, HIDDEN), (D,))
    x, g = _weights(10, (B, T, D), (B, T, D))
    tp = TensorParallel(functools.partial(ParallelMLP.from_full, w1=w1, b1=b1, w2=w2, b2=b2),
                        group=dist.Group(workers, timeout=20.0, workers=pool))
    results = tp.forward_backward(x, g)
    tx, tw1, tb1, tw2, tb2 = _torch(x, w1, b1, w2, b2)
    out = torch.nn.functional.gelu(tx @ tw1.T + tb1) @ tw2.T + tb2
    out.backward(torch.tensor(g))
    k = HIDDEN // workers

    def shard_of(name, full, r):
        rows = slice(r * k, (r + 1) * k)
        return {"fc1.weight": lambda: full[rows], "fc1.bias": lambda: full[rows],
                "fc2.weight": lambda: full[:, rows], "fc2.bias": lambda: full}[name]()
    grads = {"fc1.weight": tw1, "fc1.bias": tb1, "fc2.weight": tw2, "fc2.bias": tb2}
    _check(results, out.detach().numpy(), tx, g,
           {n: t.grad.numpy() for n, t in grads.items()}, shard_of)
    # without an input gradient to compute, the backward all-reduce is not needed
    assert [r["forward_all_reduces"] for r in tp.forward_backward(x, None)] == [1] * workers
    tp.shutdown()


@pytest.mark.parametrize("workers, causal", [(2, False), (4, True)])
def test_parallel_attention_splits_heads_and_equals_one_device(pool, workers, causal):
    wq, wk, wv, wo = _weights(workers, *[(D, D)] * 4)
    bq, bk, bv, bo = _weights(workers + 1, *[(D,)] * 4)
    x, g = _weights(11, (B, T, D), (B, T, D))
    make = functools.partial(ParallelSelfAttention.from_full, num_heads=HEADS, wq=wq, wk=wk,
                             wv=wv, wo=wo, bq=bq, bk=bk, bv=bv, bo=bo, causal=causal)
    tp = TensorParallel(make, group=dist.Group(workers, timeout=20.0, workers=pool))
    results = tp.forward_backward(x, g)
    tx, *tw = _torch(x, wq, wk, wv, wo, bq, bk, bv, bo)
    tq, tk, tv, to, tbq, tbk, tbv, tbo = tw
    dh = D // HEADS

    def heads(y):
        return y.reshape(B, T, HEADS, dh).transpose(1, 2)
    q, k, v = heads(tx @ tq.T + tbq), heads(tx @ tk.T + tbk), heads(tx @ tv.T + tbv)
    scores = q @ k.transpose(-2, -1) / np.sqrt(dh)
    if causal:
        scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1),
                                    float("-inf"))
    out = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(B, T, D) @ to.T + tbo
    out.backward(torch.tensor(g))
    rows = D // workers                                 # = (HEADS / workers) heads x dh

    def shard_of(name, full, r):
        own = slice(r * rows, (r + 1) * rows)
        if name == "qkv.weight":
            return np.concatenate([tq.grad.numpy()[own], tk.grad.numpy()[own],
                                   tv.grad.numpy()[own]])
        if name == "qkv.bias":
            return np.concatenate([tbq.grad.numpy()[own], tbk.grad.numpy()[own],
                                   tbv.grad.numpy()[own]])
        return full[:, own] if name == "out.weight" else full
    _check(results, out.detach().numpy(), tx, g,
           {"qkv.weight": None, "qkv.bias": None, "out.weight": to.grad.numpy(),
            "out.bias": tbo.grad.numpy()}, shard_of)
    tp.shutdown()


def test_the_input_gradient_flows_on_through_a_residual_path():
    """f's backward continues into a non-leaf input that a residual connection also reads
    (a group of one: no Ray)."""
    w1, b1, w2, b2 = _weights(3, (HIDDEN, D), (HIDDEN,), (D, HIDDEN), (D,))
    x = _weights(4, (B, D))[0]
    mlp = ParallelMLP.from_full(Communicator(0, 1), w1, b1, w2, b2)
    xt = tf.tensor(x, requires_grad=True)
    h = xt * 2
    (h + mlp(h)).sum().backward()
    tx, tw1, tb1, tw2, tb2 = _torch(x, w1, b1, w2, b2)
    th = tx * 2
    (th + torch.nn.functional.gelu(th @ tw1.T + tb1) @ tw2.T + tb2).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(mlp.fc1.weight.grad.numpy(), tw1.grad.numpy(), rtol=1e-10)
    assert mlp.fc1.comm.stats.calls == {"all_reduce": 2}


def test_uneven_split_is_refused(pool):
    w1, b1, w2, b2 = _weights(0, (HIDDEN + 1, D), (HIDDEN + 1,), (D, HIDDEN + 1), (D,))
    make = functools.partial(ParallelMLP.from_full, w1=w1, b1=b1, w2=w2, b2=b2)
    with pytest.raises(dist.CollectiveError,
                       match="ColumnParallelLinear out_features: 17 is not divisible by the "
                             "group size 2"):
        TensorParallel(make, group=dist.Group(2, timeout=20.0, workers=pool))


# ==== failure (last: it starts and kills its own workers) =====================================

def test_a_worker_killed_mid_all_reduce_is_named_not_a_hang(local_ray):
    g = Group(3, timeout=4.0, latency=0.25)       # 4 ring steps of >= 0.25 s each
    try:
        calls = [w.all_reduce.remote(np.ones(3000)) for w in g.workers]
        time.sleep(0.6)
        ray.kill(g.workers[1])
        start = time.monotonic()
        with pytest.raises(CollectiveError, match=r"^worker 1 died during all_reduce") as err:
            g.gather(calls, "all_reduce")
        assert time.monotonic() - start < 2 * g.timeout + 10 + 2   # gather's own limit
        # the survivors say whom they lost, and neither returned a (partial) sum
        assert "worker 0: CollectiveError" in str(err.value)
        assert "worker 2: CollectiveError" in str(err.value)
        assert str(err.value).count("worker 1") >= 3
    finally:
        g.shutdown()
