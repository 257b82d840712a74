"""Data parallelism over the ring: the post-accumulate-grad hook fires per leaf as soon as
its gradient is final; after every step the replicas are bit-identical, and N workers train
exactly as one worker on the concatenated batch (float64, 10 steps), for an eager module (an
update rule or a tinyflow optimizer) and a TF1 graph; buckets start during backward."""
from __future__ import annotations

import numpy as np
import pytest

import tinyflow as tf
from tinyflow import nn, optim

ray = pytest.importorskip("ray")

import tinyflow.distributed as dist  # noqa: E402
from tinyflow.distributed.data_parallel import DataParallel, make_buckets  # noqa: E402


# ---- the hook (no Ray) ------------------------------------------------------------------------

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
    with pytest.raises(RuntimeError, match="non-leaf"):
        model(x).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        x.register_post_accumulate_grad_hook(print)


def test_buckets_are_filled_from_the_last_parameter_and_split_by_dtype():
    arrays = [("a", np.zeros(10)), ("b", np.zeros(10)), ("c", np.zeros(30)),
              ("d", np.zeros(5, np.float32))]
    assert make_buckets(arrays, 160) == [["d"], ["c"], ["b", "a"]]
    assert make_buckets(arrays, 10**6) == [["d"], ["c", "b", "a"]]


# ---- training on the ring ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def pool(local_ray):
    g = dist.Group(4, timeout=20.0)
    yield g.workers
    g.shutdown()


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
