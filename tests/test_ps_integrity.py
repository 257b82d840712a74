"""The parameter server's integrity guarantees on a local Ray: a new client for a worker is
neither skipped nor replayed, a retried push counts once, a refused or failed push changes no
replica, restores are checked, a lost shard gives one stable error, and a worker replaced
mid-training loses and duplicates nothing (exact integer sums)."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest
from ray_helpers import kill_and_wait, run_joined

ray = pytest.importorskip("ray")

import tinyflow.distributed as dist  # noqa: E402

# starts a local Ray cluster: about 60 s
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("local_ray")]

SHAPES = {"w": (10, 3), "b": (3,), "scale": (), "embed": (7, 2)}
POISON = 7777.0            # a gradient holding it makes `PoisonedAdd` raise


class PoisonedAdd(dist.UpdateRule):
    """Adds the gradient and counts its applications in the rule state; raises on POISON."""

    def init_state(self, value):
        return {"count": np.zeros((), np.int64)}

    def apply(self, value, grad, state):
        state["count"] = state["count"] + 1
        if (grad == POISON).any():
            raise ValueError("poisoned gradient")
        return value + grad


def _initial(dtype=np.float64):
    return {k: np.arange(int(np.prod(s)), dtype=dtype).reshape(s) for k, s in SHAPES.items()}


def _grads(value=1.0, dtype=np.float64):
    return {k: np.full(s, value, dtype) for k, s in SHAPES.items()}


def _add(*dicts):
    return {k: sum(d[k] for d in dicts) for k in dicts[0]}


def _replica_states(ps):
    """Every live replica's values and rule state, per shard."""
    out = []
    for chain in ps.replicas:
        live = []
        for r in chain:
            try:
                live.append(ray.get(r.state_dict.remote()))
            except ray.exceptions.RayActorError:
                pass
        out.append(live)
    return out


def _assert_states_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert sorted(x) == sorted(y)
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=k)


def _assert_replicas_equal(ps, expected=None):
    states = _replica_states(ps)
    for shard in states:
        for other in shard[1:]:
            _assert_states_equal([shard[0]], [other])
    if expected is not None:
        _assert_states_equal([s for shard in states for s in shard],
                             [s for shard in expected for s in shard])
    return states


def _assert_values(ps, expected):
    final = ps.pull()
    for k, v in expected.items():
        np.testing.assert_array_equal(final[k], v, err_msg=k)


# ---- exactly once ------------------------------------------------------------------------------

def test_a_new_client_for_the_same_worker_is_neither_skipped_nor_replayed(actor_pool):
    ps = actor_pool.server(_initial(), dist.Custom(lambda v, g: v + g), num_shards=3,
                           replication=2, num_workers=2)
    g = _grads(1.0)
    ps.client(0).push(g)
    ps.client(0).push(g)                     # a restarted worker: its pushes count
    _assert_values(ps, _add(_initial(), g, g))
    client = ps.client(1)
    client.push(g)
    copy = ray.get(_push_remotely.remote(client, g))   # a copy in another process registers
    client.push(g)
    assert copy == 1
    _assert_values(ps, _add(_initial(), g, g, g, g, g))
    _assert_replicas_equal(ps)
    ps.shutdown()


@ray.remote(num_cpus=0)
def _push_remotely(client, grads):
    client.push(grads)
    return client.seq


def test_a_retried_push_after_a_failover_is_applied_once(actor_pool):
    ps = actor_pool.server(_initial(), dist.Custom(lambda v, g: v + g), num_shards=2,
                           replication=2, num_workers=1)
    client = ps.client(0)
    g = _grads(2.0)
    client.push(g)
    parts = client.layout.split(g)
    kill_and_wait(ps.replicas[0][0])
    # the client did not hear the acknowledgement and sends the same push again
    client._call([0, 1], "push", lambda s: (0, client.epoch, client.seq, parts[s]))
    assert client.stats.failovers == 1
    _assert_values(ps, _add(_initial(), g))
    client.push(g)
    _assert_values(ps, _add(_initial(), g, g))
    _assert_replicas_equal(ps)
    ps.shutdown()


def test_a_promoted_backup_brings_the_other_backups_up_to_date(actor_pool):
    """The dead primary had forwarded its last push to backup 1 but not to backup 2."""
    ps = actor_pool.server(_initial(), dist.Custom(lambda v, g: v + g), num_shards=1,
                           replication=3, num_workers=1)
    primary, first, second = ps.replicas[0]
    staged = {p.name: (p.cut(v) + 5.0, {}) for key, v in _initial().items()
              for p in ps.layout.pieces[key]}
    ray.get([r.install.remote((0, 1), 1, staged) for r in (primary, first)])
    assert ray.get(second.pull.remote())["b[0:3]"].tolist() == [0.0, 1.0, 2.0]
    kill_and_wait(primary)
    _assert_values(ps, _add(_initial(), _grads(5.0)))      # fails over to `first`
    assert ray.get(second.pull.remote())["b[0:3]"].tolist() == [5.0, 6.0, 7.0]
    _assert_replicas_equal(ps)
    ps.shutdown()


def test_a_prepared_push_whose_primary_died_is_sent_again_in_full(actor_pool):
    ps = actor_pool.server(_initial(), dist.Custom(lambda v, g: v + g), num_shards=2,
                           replication=2, num_workers=1)
    client = ps.client(0)
    client.register()
    g = _grads(3.0)
    parts = client.layout.split(g)

    def full(s):
        return 0, client.epoch, 1, parts[s]

    client._call([0, 1], "prepare", full)
    kill_and_wait(ps.replicas[0][0])                 # it held shard 0's prepared gradients
    done = client._call([0, 1], "push", lambda s: (0, client.epoch, 1), retry=full)
    assert all(isinstance(d, int) for d in done) and client.stats.failovers == 1
    assert ray.get(ps.replicas[1][0].push.remote(0, client.epoch, 2)) is None  # not prepared
    _assert_values(ps, _add(_initial(), g))
    _assert_replicas_equal(ps)
    ps.shutdown()


# ---- atomic pushes -----------------------------------------------------------------------------

@pytest.mark.parametrize("num_shards", [1, 3])
def test_a_push_that_fails_on_its_last_piece_changes_no_replica(num_shards, actor_pool):
    ps = actor_pool.server(_initial(), PoisonedAdd(), num_shards=num_shards, replication=3,
                           num_workers=1)
    client = ps.client(0)
    client.push(_grads(1.0))
    before = _replica_states(ps)
    bad = _grads(1.0)
    bad["w"] = bad["w"].copy()
    bad["w"][-1, -1] = POISON                # the last row: the last piece of the last shard
    with pytest.raises(RuntimeError, match=r"update rule failed on 'w\[.*poisoned.*changed "
                                           r"nothing"):
        client.push(bad)
    _assert_replicas_equal(ps, before)       # no shard, no replica changed
    client.push(_grads(1.0))                 # the shard still works, in step on every replica
    _assert_replicas_equal(ps)
    ps.shutdown()


BAD_PIECES = [
    ({"nope": np.zeros(3)}, KeyError, "unknown parameter key 'nope'"),
    ({"w": np.zeros((3, 10))}, ValueError, r"'w' has shape \(3, 10\).*\(10, 3\)"),
    ({"b": np.array(["x", "y", "z"])}, TypeError, "'b' has dtype <U1, not a real number"),
    ({"b": np.array([1, 2j, 3])}, TypeError, "'b' has dtype complex128"),
    ({"b": [[1.0], [2.0, 3.0]]}, TypeError, "gradient for 'b' is not an array"),
    ({"embed": np.full((7, 2), np.nan)}, ValueError, "'embed' has 14 non-finite"),
    ({"scale": np.array(np.inf)}, ValueError, "'scale' has 1 non-finite.*allow_nonfinite"),
]


def test_a_bad_piece_refuses_the_whole_push_before_anything_is_sent(actor_pool):
    ps = actor_pool.server(_initial(), PoisonedAdd(), num_shards=3, replication=2,
                           num_workers=1)
    before = _replica_states(ps)
    client = ps.client(0)
    for bad, error, message in BAD_PIECES:
        with pytest.raises(error, match=message):
            client.push({**_grads(1.0), **bad})   # good pieces beside the bad one
    _assert_replicas_equal(ps, before)
    assert client.stats.pushes == 0 and client.seq == 0
    client.push(_grads(1.0))
    _assert_values(ps, _add(_initial(), _grads(1.0)))
    ps.shutdown()


def test_a_shard_refuses_bad_pieces_sent_past_the_client(actor_pool):
    ps = actor_pool.server(_initial(), PoisonedAdd(), num_shards=1, num_workers=1)
    shard = ps.replicas[0][0]
    before = _replica_states(ps)
    with pytest.raises(ValueError, match=r"shard 0: gradient for 'b\[0:3\]' has 1 non-finite"):
        ray.get(shard.push.remote(0, 1, 1, {"w[0:10]": np.ones((10, 3)),
                                            "b[0:3]": np.array([1.0, np.nan, 1.0])}))
    with pytest.raises(KeyError, match=r"shard 0 holds no piece 'q\[0:1\]'"):
        ray.get(shard.push.remote(0, 1, 1, {"w[0:10]": np.ones((10, 3)),
                                            "q[0:1]": np.ones(1)}))
    _assert_replicas_equal(ps, before)
    ps.shutdown()


def test_non_finite_gradients_are_applied_when_allowed(actor_pool):
    ps = actor_pool.server(_initial(), dist.SGD(1.0), num_shards=2, num_workers=1,
                           allow_nonfinite=True)
    g = _grads(0.0)
    g["b"] = np.array([np.nan, np.inf, 1.0])
    ps.client(0).push(g)
    b = ps.pull()["b"]
    assert np.isnan(b[0]) and b[1] == -np.inf and b[2] == 1.0
    ps.shutdown()


@pytest.mark.parametrize("rule", [dist.SGD(0.5), dist.Momentum(0.5), dist.Adam(0.5),
                                  dist.Custom(lambda v, g: v + g)], ids=lambda r: type(r).__name__)
def test_a_float64_push_keeps_float32_parameters_float32(rule, actor_pool):
    ps = actor_pool.server(_initial(np.float32), rule, num_shards=2, replication=2,
                           num_workers=1)
    client = ps.client(0)
    client.push(_grads(1.0, np.float64))
    client.push(_grads(1, np.int64))
    values = ps.pull()
    assert {k: v.dtype for k, v in values.items()} == {k: np.float32 for k in SHAPES}
    for shard in _replica_states(ps):
        for state in shard:
            assert all(v.dtype == np.float32 for k, v in state.items() if k.startswith("value/"))
    if isinstance(rule, dist.Custom):
        _assert_values(ps, _add(_initial(np.float32), _grads(2.0, np.float32)))
    huge = np.zeros((10, 3))
    huge[0, 0] = 1e300                       # finite in float64, inf in float32: refused
    with pytest.raises(ValueError, match="'w' has 1 non-finite value.*in float32"):
        client.push({"w": huge})
    ps.shutdown()


# ---- a lost shard ------------------------------------------------------------------------------

@pytest.mark.parametrize("replication", [1, 2])
def test_a_lost_shard_gives_the_same_error_on_every_later_call(replication, tmp_path,
                                                              actor_pool):
    ps = actor_pool.server(_initial(), dist.Custom(lambda v, g: v + g), num_shards=2,
                           replication=replication, num_workers=1)
    path = str(tmp_path / "ps.safetensors")
    ps.save(path)
    for r in ps.replicas[1]:
        kill_and_wait(r)
    client = ps.client(0)
    calls = [ps.pull, ps.pull, lambda: client.push(_grads()), lambda: client.push(_grads()),
             client.pull, lambda: ps.save(path), lambda: ps.restore(path), ps.pull]
    for call in calls:
        with pytest.raises(RuntimeError, match="every replica of shard 1 is gone") as info:
            call()
        if replication == 1:
            assert "use replication >= 2" in str(info.value)
        else:
            assert "all 2 of its replicas failed" in str(info.value)
            assert "replication >=" not in str(info.value)
    ps.shutdown()


# ---- checked restores --------------------------------------------------------------------------

def test_restore_refuses_a_checkpoint_of_another_layout_shape_or_dtype(tmp_path, actor_pool):
    def server(params=None, shards=2, replication=1):
        return actor_pool.server(params or _initial(), dist.Adam(0.1), num_shards=shards,
                                 replication=replication, num_workers=1)

    def saved(ps, name):
        ps.client(0).push({k: np.ones(s) for k, s in ps.layout.shapes.items()})
        path = str(tmp_path / name)
        ps.save(path)
        ps.shutdown()
        return path

    three = saved(server(shards=3), "three.safetensors")
    wide = saved(server({**_initial(), "w": np.zeros((10, 4))}), "wide.safetensors")
    single = saved(server(_initial(np.float32)), "single.safetensors")
    fewer = saved(server({k: v for k, v in _initial().items() if k != "b"}), "fewer.safetensors")
    ps = server(replication=2)
    ps.client(0).push(_grads(3.0))
    before = _replica_states(ps)
    with pytest.raises(ValueError, match=r"three.safetensors: checkpoint holds shards "
                                         r"\[0, 1, 2\], this server has 2"):
        ps.restore(three)
    with pytest.raises(ValueError, match=r"wide.safetensors: shard 0, 'w\[0:5\]': expected "
                                         r"shape \(5, 3\) float64, found shape \(5, 4\)"):
        ps.restore(wide)
    with pytest.raises(ValueError, match=r"single.safetensors: shard \d, '.*': expected shape "
                                         r".* float64, found shape .* float32"):
        ps.restore(single)
    with pytest.raises(ValueError, match=r"fewer.safetensors: shard \d has no value for "
                                         r"'b\[0:1\]' \(expected shape \(1,\), float64\)"):
        ps.restore(fewer)
    _assert_replicas_equal(ps, before)        # nothing was loaded
    ps.shutdown()


# ---- a worker replaced mid-training ------------------------------------------------------------

@ray.remote(num_cpus=0)
class Pusher:
    """Worker w at step t pushes w + t + 1 everywhere (tagged with step t); resumes from the
    registered clock; with `hang=(where, t)`, stops answering at step t right after its push
    ("push") or its clock ("clock"), writing `marker` first, to be killed there."""

    def __init__(self, worker, client):
        self.worker, self.client = worker, client

    def reset(self, worker, client):
        self.__init__(worker, client)

    def run(self, steps, hang=(None, None), marker=None):
        for t in range(self.client.register(), steps):
            self.client.read()
            self.client.push(_grads(float(self.worker + t + 1)), step=t)
            if hang == ("push", t):
                self._hang(marker)
            self.client.clock()
            if hang == ("clock", t):
                self._hang(marker)
        self.client.finish()
        return self.client.stats

    @staticmethod
    def _hang(marker):
        with open(marker, "w") as f:
            f.write("here")
        time.sleep(3600)


def _expected(workers, steps):
    return _add(_initial(), *(_grads(float(w + t + 1)) for w in range(workers)
                              for t in range(steps)))


@pytest.mark.parametrize("consistency, where", [(dist.bsp(), "clock"), (dist.ssp(2), "clock"),
                                                (dist.bsp(), "push"), (dist.ssp(2), "push")],
                         ids=["bsp-after-clock", "ssp-after-clock", "bsp-after-push",
                              "ssp-after-push"])
def test_a_worker_replaced_mid_training_loses_and_duplicates_nothing(consistency, where,
                                                                     tmp_path, actor_pool):
    """Worker 1 is killed after step 3's push (before or after its clock); a new actor with a
    new client for worker 1 resumes from its clock and finishes: exact sums."""
    ps = actor_pool.server(_initial(), dist.Custom(lambda v, g: v + g), num_shards=3,
                           replication=2, num_workers=3)
    steps, hang_at = 10, 3
    marker = str(tmp_path / "hung")
    pushers = [actor_pool.take(Pusher, w, ps.client(w, consistency)) for w in range(3)]
    ray.get([p.__ray_ready__.remote() for p in pushers])   # started: the deadline is for steps
    refs = [p.run.remote(steps, (where, hang_at) if w == 1 else (None, None), marker)
            for w, p in enumerate(pushers)]
    deadline = time.monotonic() + 30
    while not os.path.exists(marker):
        assert time.monotonic() < deadline, "worker 1 never reached the step"
        time.sleep(0.05)
    kill_and_wait(pushers[1])
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(refs[1])
    resumed = hang_at + (where == "clock")
    assert ray.get(ps.clock_table.get_clocks.remote())[1] == resumed
    replacement = actor_pool.take(Pusher, 1, ps.client(1, consistency))
    stats = ray.get([refs[0], replacement.run.remote(steps), refs[2]])
    actor_pool.give_back(Pusher, [pushers[0], replacement, pushers[2]])
    _assert_values(ps, _expected(3, steps))
    assert stats[1].pushes == steps - resumed                 # it resumed where 1 stopped
    bound = consistency.bound
    assert all(clock - slowest <= bound for _, clock, slowest, _ in ps.history())
    _assert_replicas_equal(ps)
    ps.shutdown()


def test_a_worker_killed_at_any_moment_is_replaced_with_exact_sums(actor_pool):
    """Killed wherever it is (reading, mid-push between shards, clocking): the replacement
    redoes its step and each shard counts it once (the gradients do not depend on the reads,
    so the sums are exact)."""
    ps = actor_pool.server(_initial(), dist.Custom(lambda v, g: v + g), num_shards=3,
                           replication=2, num_workers=3)
    steps = 30
    pushers = [actor_pool.take(Pusher, w, ps.client(w, dist.ssp(1))) for w in range(3)]
    ray.get([p.__ray_ready__.remote() for p in pushers])
    refs = [p.run.remote(steps) for p in pushers]
    deadline = time.monotonic() + 30
    while ray.get(ps.clock_table.get_clocks.remote())[1] < 5:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    ray.kill(pushers[1])
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(refs[1])
    replacement = actor_pool.take(Pusher, 1, ps.client(1, dist.ssp(1)))
    ray.get([refs[0], replacement.run.remote(steps), refs[2]])
    actor_pool.give_back(Pusher, [pushers[0], replacement, pushers[2]])
    _assert_values(ps, _expected(3, steps))
    _assert_replicas_equal(ps)
    ps.shutdown()


def test_a_pushed_step_counts_once_and_plain_pushes_always_count(actor_pool):
    ps = actor_pool.server(_initial(), dist.Custom(lambda v, g: v + g), num_shards=2,
                           replication=2, num_workers=1)
    g = _grads(1.0)
    ps.client(0).push(g, step=0)
    ps.client(0).push(g, step=0)             # a replacement redoing step 0: skipped
    ps.client(0).push(g, step=1)
    ps.client(0).push(g)                     # no step: always a new push
    _assert_values(ps, _add(_initial(), g, g, g))
    _assert_replicas_equal(ps)
    ps.shutdown()


# ---- a cluster joined by address ---------------------------------------------------------------

JOIN = """
import numpy as np, tinyflow.distributed as dist
dist.init(address="127.0.0.1:{port}")
ps = dist.ParameterServer({{"w": np.zeros((4, 2))}}, dist.Custom(lambda v, g: v + g),
                          num_shards=2)
ps.client(0).push({{"w": np.ones((4, 2))}})
ps.client(0).push({{"w": np.ones((4, 2))}})
print("sum", ps.pull()["w"].sum())
"""


def test_a_cluster_started_with_ray_start_is_joined_by_address():
    """A head started apart (`ray start --head`, with token authentication when a token is
    configured here) is joined by "host:port" from a fresh process."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(dist.__file__)))
    assert "sum 16.0" in run_joined(JOIN, repo).stdout
