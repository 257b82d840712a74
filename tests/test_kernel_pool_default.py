"""When the kernel pool is on by default: only if OpenBLAS lets its idle threads sleep soon,
which `import tinyflow` arranges (OPENBLAS_THREAD_TIMEOUT=20) when NumPy is not loaded yet
and the user set nothing; the timeout is the one the loaded OpenBLAS reports."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBE = """
import json, os
{before}
import tinyflow
from tinyflow.backend.numpy import parallel
lib = parallel._openblas()
print(json.dumps(dict(env=os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
                      read=lib.openblas_thread_timeout() if lib is not None else None,
                      short=parallel.blas_spin_is_short(), threads=parallel.threads(),
                      auto=len(os.sched_getaffinity(0)), **globals().get("_extra", {{}}))))
"""


def _probe(before: str = "", **env) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OPENBLAS_THREAD_TIMEOUT", "TINYFLOW_KERNEL_THREADS",
                          "NUMBA_NUM_THREADS", "OMP_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", PROBE.format(before=before)], cwd=ROOT,
                          env={**clean, "PYTHONPATH": ROOT, **env}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bundled_openblas():
    if _probe()["read"] is None:
        pytest.skip("NumPy's BLAS is not the bundled OpenBLAS")


def test_tinyflow_first_sets_a_short_spin_and_turns_the_pool_on(bundled_openblas):
    got = _probe()
    assert (got["env"], got["read"], got["short"]) == ("20", 20, True)
    assert got["threads"] == got["auto"]


def test_numpy_loaded_first_gets_the_short_spin_too_and_the_pool_on(bundled_openblas):
    """`import numpy` first (and a product already run, its threads started with the long
    spin): OpenBLAS is told the short timeout again and its threads restarted."""
    got = _probe(before="import numpy; numpy.ones((300, 300)) @ numpy.ones((300, 300))")
    assert (got["env"], got["read"], got["short"]) == ("20", 20, True)
    assert got["threads"] == got["auto"]


def test_numpy_first_products_after_the_restart_are_right_and_threads_sleep(bundled_openblas):
    """After the restart a product is still right, and the idle OpenBLAS threads no longer
    spin on: a 0.2 s pause after a product costs the process ~no CPU (the default spin
    burned ~0.1 s)."""
    got = _probe(before="""import numpy, time
a = numpy.random.default_rng(0).standard_normal((400, 300))
b = numpy.random.default_rng(1).standard_normal((300, 200))""" + PAUSE_AFTER_PRODUCT)
    assert got["right"] and got["threads"] == got["auto"]
    if got["auto"] > 1:
        assert got["cpu_in_pause"] < 0.05, got


PAUSE_AFTER_PRODUCT = """
import tinyflow
expected = numpy.einsum("ij,jk->ik", a, b)
c = a @ b
cpu = time.process_time(); time.sleep(0.2); cpu = time.process_time() - cpu
import json as _j
_extra = dict(right=bool(numpy.allclose(c, expected)), cpu_in_pause=cpu)
"""


def test_the_users_own_setting_wins_when_numpy_came_first(bundled_openblas):
    got = _probe(before="import numpy", OPENBLAS_THREAD_TIMEOUT="26")
    assert (got["env"], got["read"], got["short"], got["threads"]) == ("26", 26, False, 1)


def test_the_users_own_setting_wins(bundled_openblas):
    got = _probe(OPENBLAS_THREAD_TIMEOUT="26")
    assert (got["env"], got["read"], got["short"], got["threads"]) == ("26", 26, False, 1)
    assert _probe(OPENBLAS_THREAD_TIMEOUT="26", TINYFLOW_KERNEL_THREADS="3")["threads"] == 3


def test_pool_gives_openblas_its_thread_count_back(monkeypatch):
    """OpenBLAS's thread setting is process-wide: after pieces ran (the pool's thread started
    by them), the calling thread's products have their threads back; while they run, one."""
    from tinyflow.backend.numpy import parallel
    lib = parallel._openblas()
    if lib is None:
        pytest.skip("NumPy's OpenBLAS has no thread setter")
    monkeypatch.setattr(parallel, "threads", lambda: 2)
    before = lib.openblas_set_num_threads_local(2)
    try:
        seen = []
        parallel.run(lambda a, b: seen.append(lib.openblas_set_num_threads_local(1)), 2)
        assert seen == [1, 1]
        assert lib.openblas_set_num_threads_local(2) == 2
        # a run of one part (a length of 1) runs here and leaves both settings as they were;
        # it once kept the team's lock and OpenBLAS's one thread for the rest of the process
        assert parallel.run(lambda a, b: seen.append((a, b)), 1) and seen[-1] == (0, 1)
        assert lib.openblas_set_num_threads_local(2) == 2
        assert not parallel._team_lock.locked() and parallel._runs["active"] == 0
    finally:
        lib.openblas_set_num_threads_local(before)


def test_product_free_pieces_leave_openblas_threads_alone(monkeypatch):
    """`blas=False` (elementwise, normalization, softmax, optimizer pieces) skips the thread
    toggle: OpenBLAS keeps its count while they run, and the pieces still all run."""
    from tinyflow.backend.numpy import parallel
    lib = parallel._openblas()
    if lib is None:
        pytest.skip("NumPy's OpenBLAS has no thread setter")
    monkeypatch.setattr(parallel, "threads", lambda: 2)
    calls = []
    monkeypatch.setattr(parallel, "_openblas_local", lambda: calls.append(1) or None)
    ran = []
    parallel.run(lambda a, b: ran.append((a, b)), 4, blas=False)
    parallel.split(lambda a, b: ran.append((a, b)), 4, parallel.MIN_ELEMENTS, blas=False)
    assert calls == [] and sorted(ran) == [(0, 2), (0, 2), (2, 4), (2, 4)]
    parallel.run(lambda a, b: None, 4)            # pieces that may multiply: toggled
    assert calls == [1, 1]
    x = np.ones((1024, 1024), np.float32)         # past MIN_ELEMENTS: pooled, untoggled
    assert np.array_equal(parallel.ufunc(np.add, x, x), x + x)
    assert np.array_equal(parallel.add_reduce(x, axis=1), x.sum(axis=1))
    assert calls == [1, 1] and not parallel._team_lock.locked()


def test_first_run_that_may_multiply_fills_a_blas_buffer_per_thread_at_once(monkeypatch):
    """OpenBLAS gives products running side by side different buffers, and only a large
    product touches all of one: before the first run whose pieces may multiply on two
    threads, each thread runs one large product, both at once (so each holds its own
    buffer); once; product-free runs do not."""
    import threading
    import time
    from tinyflow.backend.numpy import parallel
    monkeypatch.setattr(parallel, "threads", lambda: 2)
    monkeypatch.setattr(parallel, "_warm_products", [1])
    monkeypatch.setattr(parallel, "WARM_WAIT", 30.0)
    lock, inside, most, fills = threading.Lock(), [0], [0], []

    def fill():
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            fills.append(threading.get_ident())
        time.sleep(0.05)
        with lock:
            inside[0] -= 1
    monkeypatch.setattr(parallel, "_fill_buffer", fill)
    ran = []
    parallel.run(lambda a, b: ran.append((a, b)), 2, blas=False)
    assert fills == []
    parallel.run(lambda a, b: ran.append((a, b)), 2)
    assert len(fills) == 2 and len(set(fills)) == 2 and most[0] == 2
    parallel.run(lambda a, b: ran.append((a, b)), 2)
    assert len(fills) == 2 and sorted(ran) == [(0, 1), (0, 1), (0, 1), (1, 2), (1, 2), (1, 2)]
    assert not parallel._team_lock.locked() and parallel._runs["active"] == 0


def test_an_interrupted_buffer_fill_leaves_no_thread_behind(monkeypatch):
    """A Ctrl-C while this thread fills its buffer (before the first run that may multiply)
    must not leave a pool thread's fill unwaited: its late `done` would let the next run
    return before that run's piece ran."""
    import threading
    import time
    from tinyflow.backend.numpy import parallel
    monkeypatch.setattr(parallel, "threads", lambda: 2)
    monkeypatch.setattr(parallel, "_warm_products", [1])
    caller = threading.get_ident()

    def fill():
        if threading.get_ident() == caller:
            raise KeyboardInterrupt
        time.sleep(0.1)
    monkeypatch.setattr(parallel, "_fill_buffer", fill)
    with pytest.raises(KeyboardInterrupt):
        parallel.run(lambda a, b: None, 2)
    monkeypatch.setattr(parallel, "_fill_buffer", lambda: None)
    done = []

    def piece(start, stop):
        if start:
            time.sleep(0.2)
        done.append(start)
    parallel.run(piece, 2)
    assert sorted(done) == [0, 1] and not parallel._team_lock.locked()


@pytest.mark.parametrize("spin_rounds", [0, 4000])   # the pool thread asleep / polling
def test_pool_runs_every_piece_and_raises_their_errors(monkeypatch, spin_rounds):
    """Each run covers its range once, whether the pool thread polls or slept; a piece's
    error reaches the caller after all pieces finished; runs from two user threads at once
    (one then running its pieces itself) both cover their ranges."""
    import threading

    import numpy as np

    from tinyflow.backend.numpy import parallel
    monkeypatch.setattr(parallel, "threads", lambda: 3)
    monkeypatch.setattr(parallel, "SPIN_ROUNDS", spin_rounds)
    for length in (2, 3, 10):
        hits = np.zeros(length, int)

        def piece(a, b):
            hits[a:b] += 1
        for _ in range(20):
            assert parallel.run(piece, length)
        assert (hits == 20).all()

    def failing(a, b):
        if a > 0:
            raise ValueError(f"piece {a}")
    with pytest.raises(ValueError, match="piece"):
        parallel.run(failing, 9)
    assert parallel.run(lambda a, b: None, 9)    # the pool still works after an error

    totals = [np.zeros(1000, int), np.zeros(1000, int)]

    def user(total):
        def piece(a, b):
            total[a:b] += 1
        for _ in range(50):
            parallel.run(piece, len(total))
    users = [threading.Thread(target=user, args=(t,)) for t in totals]
    for t in users:
        t.start()
    for t in users:
        t.join()
    assert all((t == 50).all() for t in totals)


def test_a_ctrl_c_while_waiting_for_the_pool_leaves_it_working(monkeypatch, request):
    """A KeyboardInterrupt in the caller while the pool thread still runs its piece reaches
    the caller; afterwards the team lock is free, no run is counted (OpenBLAS has its threads
    back) and runs use both threads again, `alone` ones included."""
    import signal
    import threading
    import time

    from tinyflow.backend.numpy import parallel
    monkeypatch.setattr(parallel, "threads", lambda: 2)

    def slow(a, b):
        if a > 0:
            time.sleep(0.3)      # the pool thread's piece: the caller waits for it
    main = threading.main_thread().ident
    # Python's own handler (Ray, run earlier in the suite, installs another)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    timer = threading.Timer(0.1, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        parallel.run(slow, 2)
    timer.join()
    assert not parallel._team_lock.locked() and parallel._runs["active"] == 0
    names, second = [], threading.Event()

    def both(a, b):        # the caller's piece waits for the pool thread's (not taken)
        names.append(threading.current_thread().name)
        second.set() if a else second.wait(timeout=30)
    assert parallel.run(both, 2, alone=True)
    assert sorted(names) == ["MainThread", "tinyflow-kernel"]


def test_set_num_threads_sets_openblas_and_the_pool(monkeypatch):
    """torch.set_num_threads / get_num_threads: OpenBLAS's count and the kernels' pieces."""
    import numpy as np
    import tinyflow as torch
    from tinyflow.backend.numpy import parallel
    monkeypatch.setattr(parallel, "_set_by_program", [])
    monkeypatch.delenv("TINYFLOW_KERNEL_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        for count in (1, 3):
            torch.set_num_threads(count)
            if parallel._openblas() is not None:
                assert torch.get_num_threads() == count
            assert parallel.threads() == (count if parallel.blas_spin_is_short() else 1)
            a = np.arange(12.0).reshape(3, 4)
            np.testing.assert_array_equal((torch.tensor(a) @ torch.tensor(a.T)).numpy(),
                                          a @ a.T)
        for bad in (0, -1, True, 1.5):
            with pytest.raises(ValueError, match="set_num_threads: .* positive int"):
                torch.set_num_threads(bad)
    finally:
        parallel.set_threads(before)
        parallel._set_by_program.clear()
        parallel.threads.cache_clear()
