"""Ring collectives over Ray actors: all-reduce equals the sum for sizes not divisible by N
(N = 1..4), every worker gets the same bits, bytes sent per worker are 2(N-1)/N of the
buffer, the mailbox never holds more than one segment, and a worker killed mid-all-reduce is
named in a clear error within the timeout."""
from __future__ import annotations

import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from tinyflow.distributed.collective import (CollectiveError, Communicator,  # noqa: E402
                                             Group)

pytestmark = pytest.mark.usefixtures("local_ray")


@pytest.fixture(scope="module")
def pool(local_ray):
    """Four worker processes, re-wired into rings of 1..4 (starting actors is the slow part)."""
    g = Group(4, timeout=10.0)
    yield g.workers
    g.shutdown()


@pytest.fixture(params=[1, 2, 3, 4])
def group(request, pool):
    return Group(request.param, timeout=10.0, workers=pool)


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


def test_a_worker_killed_mid_all_reduce_is_named_not_a_hang():
    g = Group(3, timeout=2.0, latency=0.25)       # 4 ring steps of >= 0.25 s each
    try:
        calls = [w.all_reduce.remote(np.ones(3000)) for w in g.workers]
        time.sleep(0.6)
        ray.kill(g.workers[1])
        start = time.monotonic()
        with pytest.raises(CollectiveError, match=r"^worker 1 died during all_reduce") as err:
            g.gather(calls, "all_reduce")
        assert time.monotonic() - start < 15
        # the survivors say whom they lost, and neither returned a (partial) sum
        assert "worker 0: CollectiveError" in str(err.value)
        assert "worker 2: CollectiveError" in str(err.value)
        assert str(err.value).count("worker 1") >= 3
    finally:
        g.shutdown()
