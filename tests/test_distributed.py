"""The parameter server on a local Ray: layout, exact sums under every consistency model and
through a server failure, the SSP bound from the recorded clocks, dead workers, checkpoints,
and learning (BSP with 4 workers matches one worker on the same number of examples)."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import tinyflow as tf  # noqa: E402
import tinyflow.distributed as dist  # noqa: E402
from tinyflow import nn  # noqa: E402
from ray_helpers import kill_and_wait  # noqa: E402

# starts a local Ray cluster and trains through it: about 120 s
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("local_ray")]

SHAPES = {"w": (10, 3), "b": (3,), "scale": (), "embed": (7, 2)}


# ---- layout (no Ray needed) ------------------------------------------------------------------

def test_layout_splits_large_tensors_by_rows_and_balances_the_rest():
    layout = dist.Layout({"big": (100, 8), "w": (10, 3), "tiny": (2,), "s": ()}, 4)
    assert [p.shard for p in layout.pieces["big"]] == [0, 1, 2, 3]
    assert [(p.start, p.stop) for p in layout.pieces["big"]] == [(0, 25), (25, 50), (50, 75),
                                                                   (75, 100)]
    assert len(layout.pieces["tiny"]) == 1 and len(layout.pieces["s"]) == 1
    assert max(layout.load) - min(layout.load) <= 30          # no hot spot
    values = {k: np.random.default_rng(0).standard_normal(s) for k, s in layout.shapes.items()}
    back = layout.join(values, layout.split(values))
    for k in values:
        np.testing.assert_array_equal(back[k], values[k])
    with pytest.raises(KeyError, match="unknown parameter key 'nope'"):
        layout.split({"nope": np.zeros(3)})
    with pytest.raises(ValueError, match=r"'w' has shape \(3, 10\).*\(10, 3\)"):
        layout.split({"w": np.zeros((3, 10))})


def test_consistency_arguments_are_checked():
    assert dist.ssp(3).bound == 3 and dist.bsp().bound == 0 and dist.asynchronous().bound is None
    with pytest.raises(ValueError, match="staleness must be >= 0"):
        dist.ssp(-1)
    with pytest.raises(ValueError, match="consistency must be"):
        dist.Consistency("eventually")


# ---- exact sums --------------------------------------------------------------------------------

@ray.remote(num_cpus=0)
class Pusher:
    """Pushes deterministic integer-valued gradients: worker w at step t pushes w + t + 1
    (times a fixed integer pattern per key)."""

    def __init__(self, worker, client):
        self.worker, self.client = worker, client

    def reset(self, worker, client):
        self.__init__(worker, client)

    def run(self, steps, pause=0.0, start_after=0.0):
        time.sleep(start_after)
        for t in range(steps):
            self.client.read()
            self.client.push(pushed(self.worker, t))
            self.client.clock()
            time.sleep(pause)
        self.client.finish()
        return self.client.stats


def pushed(worker, t):
    return {k: np.full(s, worker + t + 1, np.float64) * _pattern(s) for k, s in SHAPES.items()}


def _pattern(shape):
    return (np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) % 5) + 1


def _initial():
    return {k: np.arange(int(np.prod(s)), dtype=np.float64).reshape(s) for k, s in SHAPES.items()}


def _run_pushers(pool, ps, consistency, workers=4, steps=12, pause=0.0, kill=None):
    pushers = [pool.take(Pusher, w, ps.client(w, consistency)) for w in range(workers)]
    refs = [p.run.remote(steps, pause) for p in pushers]
    if kill is not None:
        time.sleep(kill[1])
        ray.kill(ps.replicas[kill[0]][0])
    stats = ray.get(refs)
    pool.give_back(Pusher, pushers)
    return stats


def _expected(workers, steps):
    out = _initial()
    for w in range(workers):
        for t in range(steps):
            for k, v in pushed(w, t).items():
                out[k] = out[k] + v
    return out

def test_a_roaming_straggler_slows_exactly_one_worker_per_step():
    """Each worker replays the same seeded draw, so with no communication exactly one of them
    is slow on every step, and each about a quarter of the time."""
    workers = dist.roaming(4.0, 4, seed=3)
    slow = np.array([[w.is_slow() for w in workers.values()] for _ in range(400)])
    assert (slow.sum(1) == 1).all()
    assert np.all(np.abs(slow.mean(0) - 0.25) < 0.07)
    with pytest.raises(ValueError, match="worker 4 is not one of 4"):
        dist.RoamingStraggler(worker=4, num_workers=4)



@pytest.mark.parametrize("consistency", [dist.bsp(), dist.ssp(2), dist.ssp(2, lazy=True),
                                         dist.asynchronous()], ids=str)
def test_servers_hold_the_exact_sum_of_all_pushes(consistency, actor_pool):
    ps = actor_pool.server(_initial(), dist.Custom(lambda v, g: v + g), num_shards=3,
                           num_workers=4)
    stats = _run_pushers(actor_pool, ps, consistency)
    final = ps.pull()
    for k, v in _expected(4, 12).items():
        np.testing.assert_array_equal(final[k], v)
    assert all(s.pushes == 12 for s in stats)
    assert all(s.bytes_pushed == 12 * sum(8 * int(np.prod(s)) for s in SHAPES.values())
               for s in stats)
    ps.shutdown()


def test_killing_a_primary_mid_training_loses_no_acknowledged_update(actor_pool):
    ps = actor_pool.server(_initial(), dist.Custom(lambda v, g: v + g), num_shards=2,
                           replication=2, num_workers=4)
    stats = _run_pushers(actor_pool, ps, dist.ssp(1), steps=40, pause=0.01, kill=(0, 0.3))
    final = ps.pull()
    for k, v in _expected(4, 40).items():
        np.testing.assert_array_equal(final[k], v)
    assert sum(s.failovers for s in stats) >= 1          # the workers noticed and failed over
    ps.shutdown()


def test_without_replication_a_lost_shard_is_reported(actor_pool):
    ps = actor_pool.server(_initial(), dist.SGD(0.1), num_shards=2, num_workers=1)
    kill_and_wait(ps.replicas[1][0])
    with pytest.raises(RuntimeError, match="every replica of shard 1 is gone"):
        ps.pull()
    ps.shutdown()


# ---- the consistency bound and failures --------------------------------------------------------

def test_ssp_bound_is_never_exceeded_with_a_straggler(actor_pool):
    ps = actor_pool.server(_initial(), dist.Custom(lambda v, g: v + g), num_workers=3)
    pushers = [actor_pool.take(Pusher, w, ps.client(w, dist.ssp(2, lazy=True)))
               for w in range(3)]
    # the straggler starts late and stays slow: on a loaded machine a fast step may take as
    # long as its pause, but the fast ones always reach the bound while it has not started
    refs = [p.run.remote(15) for p in pushers[:2]] + [pushers[2].run.remote(15, 0.05, 1.0)]
    stats = ray.get(refs)
    actor_pool.give_back(Pusher, pushers)
    history = ps.history()
    assert len(history) == 3 * 15
    assert all(clock - slowest <= 2 for _, clock, slowest, _ in history)
    assert max(clock - slowest for _, clock, slowest, _ in history) == 2   # it was reached
    assert sum(s.wait_seconds for s in stats[:2]) > 0.1    # the fast ones waited
    assert all(max(s.staleness) <= 2 for s in stats)
    assert stats[0].cache_reads > 0                         # lazy: cached reads happened
    ps.shutdown()


def test_a_silent_worker_is_dropped_after_the_timeout(actor_pool):
    ps = actor_pool.server(_initial(), dist.Custom(lambda v, g: v + g), num_workers=3,
                           timeout=1.0)
    # worker 2 never starts: BSP would wait for it forever without the timeout
    pushers = [actor_pool.take(Pusher, w, ps.client(w, dist.bsp())) for w in range(2)]
    start = time.perf_counter()
    ray.get([p.run.remote(5) for p in pushers])
    assert time.perf_counter() - start < 20
    actor_pool.give_back(Pusher, pushers)
    final = ps.pull()
    np.testing.assert_array_equal(final["w"], _expected(2, 5)["w"])
    ps.shutdown()


def test_checkpoint_and_restore_server_state(tmp_path, actor_pool):
    ps = actor_pool.server(_initial(), dist.Adam(0.1), num_shards=2, replication=2,
                           num_workers=1)
    client = ps.client(0)
    client.push(pushed(0, 0))
    path = str(tmp_path / "ps.safetensors")
    ps.save(path)
    saved = ps.pull()
    client.push(pushed(0, 1))
    assert not np.array_equal(ps.pull()["w"], saved["w"])
    ps.restore(path)
    np.testing.assert_array_equal(ps.pull()["w"], saved["w"])
    client.push(pushed(0, 1))                       # Adam's moments came back too
    again = ps.pull()
    fresh = actor_pool.server(_initial(), dist.Adam(0.1), num_workers=1)
    other = fresh.client(0)
    other.push(pushed(0, 0))
    other.push(pushed(0, 1))
    np.testing.assert_allclose(again["w"], fresh.pull()["w"], rtol=1e-12)
    ps.shutdown()
    fresh.shutdown()


# ---- learning ----------------------------------------------------------------------------------

def _mnist():
    from tinyflow.datasets import get_mnist
    if not os.environ.get("TINYFLOW_DATA_DIR"):
        pytest.skip("TINYFLOW_DATA_DIR is not set (make test sets it)")
    return get_mnist(flatten=True, onehot=False, validation_size=0)


def make_mlp():
    tf.manual_seed(0)
    return dist.ModuleModel(nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10)))


def test_bsp_with_four_workers_learns_as_well_as_one_worker():
    mnist = _mnist()
    data = (mnist.train.images[:25600], mnist.train.labels[:25600])
    accs = {}
    for workers in (1, 4):
        # 400 pushes of 64 examples either way; one BSP round applies 4 gradients taken at
        # the same point, which matches 4 sequential steps while the learning rate is small.
        # One shard: a push is one call, not two phases (the sums do not depend on the split)
        trainer = dist.PSTrainer(make_mlp, data, num_workers=workers, num_shards=1,
                                 consistency=dist.bsp(), rule=dist.SGD(0.1), batch_size=64)
        trainer.train(400 // workers)
        accs[workers] = trainer.accuracy(mnist.test.images, mnist.test.labels)(
            trainer.ps.pull())
        trainer.shutdown()
    assert accs[1] > 0.88
    assert abs(accs[4] - accs[1]) <= 0.005, accs


def make_tf1_mlp():
    def build():
        x = tf.placeholder(tf.float32, [None, 784])
        y = tf.placeholder(tf.int64, [None])
        w = tf.Variable(tf.zeros([784, 10]), name="w")
        b = tf.Variable(tf.zeros([10]), name="b")
        logits = tf.matmul(x, w) + b
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                             logits=logits))
        return loss, logits, x, y
    return dist.GraphModel(build)


def test_a_tf1_graph_trains_through_the_servers():
    mnist = _mnist()
    trainer = dist.PSTrainer(make_tf1_mlp, (mnist.train.images[:6400],
                                            mnist.train.labels[:6400]),
                             num_workers=2, consistency=dist.ssp(1), rule=dist.SGD(0.5))
    result = trainer.train(150, evaluate=trainer.accuracy(mnist.test.images[:2000],
                                                         mnist.test.labels[:2000]),
                           eval_every=0.5)
    trainer.shutdown()
    assert result.curve[-1][1] > 0.85
    assert np.mean(result.workers[0]["losses"][-10:]) < np.mean(result.workers[0]["losses"][:3])
