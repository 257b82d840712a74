"""The kernel pool's one-shot hand-off (backend/numpy/parallel.py `_Worker`: a piece runs
in its pool thread or, with `run(take=True)`, in the caller when its thread has not started
it) and the LSTM's row pieces taken first come, first served (rnn.py `_by_rows`), under
random delays before pieces start: every piece runs exactly once (none twice, none lost,
none run late after `run` returned), and the LSTM's results are bitwise those of an
undelayed run, for 2 to 4 pieces on two cores, two user threads at once too. Small: about
a second."""
from __future__ import annotations

import collections
import random
import threading
import time

import numpy as np
import pytest
import torch

import tinyflow as tf
from test_lstm_fused import inputs, models, run
from tinyflow.backend.numpy import parallel
from tinyflow.backend.numpy import rnn as rnn_kernels

DELAYS = (0, 0, 0, 1e-5, 1e-4, 5e-4)    # seconds before a piece starts


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_every_piece_runs_once_in_any_interleaving(monkeypatch, threads):
    monkeypatch.setattr(parallel, "threads", lambda: threads)
    rng, lock, counts = random.Random(threads), threading.Lock(), []
    for _ in range(150):
        seen, delays = collections.Counter(), [rng.choice(DELAYS) for _ in range(threads)]
        counts.append(seen)
        fail = rng.random() < 0.1

        def piece(a, b, seen=seen, delays=delays, fail=fail):
            if fail and a == 0:
                raise ValueError("the caller's piece")
            time.sleep(delays[a])
            with lock:
                seen[a] += 1
        take = rng.random() < 0.5
        if fail:
            with pytest.raises(ValueError):
                parallel.run(piece, threads, take=take, blas=rng.random() < 0.5)
            with lock:
                assert max(seen.values(), default=1) == 1, dict(seen)
        else:
            assert parallel.run(piece, threads, take=take, blas=rng.random() < 0.5)
            with lock:
                assert dict(seen) == dict.fromkeys(range(threads), 1), (take, dict(seen))
    time.sleep(0.05)     # a late pool thread would run a taken piece again by now
    with lock:
        assert all(max(c.values(), default=1) == 1 for c in counts)


CASES = [(7, 3, 4, 9, 2, True, False, True, "all"), (5, 2, 3, 13, 1, False, True, True, "all")]


def _lstm(case):
    torch.manual_seed(0)
    _, ours = models(np.float32, *case[2:7])
    x, init, weights = inputs(np.random.default_rng(case[1]), np.float32, *case[:-1])

    def once():
        for p in ours.parameters():
            p.grad = None
        values, grads = run(tf, ours, x, init, weights, case[-1])
        return values + grads
    return once


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_lstm_row_pieces_with_late_threads_are_bitwise_the_same(monkeypatch, threads):
    monkeypatch.setattr(parallel, "threads", lambda: threads)
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 1)
    monkeypatch.setattr(rnn_kernels, "MIN_PIECE_ROWS", 2)
    models_ = [_lstm(case) for case in CASES]
    want = [once() for once in models_]
    real, rng, pieces = parallel.run, random.Random(threads), []

    def delayed(piece, length, count=0, **options):
        if piece.__code__.co_filename.endswith("rnn.py"):
            pieces.append(length)

        def late(a, b):
            time.sleep(rng.choice(DELAYS))
            piece(a, b)
        return real(late, length, count, **options)
    monkeypatch.setattr(parallel, "run", delayed)
    bad = []

    def user(k, times):
        for _ in range(times):
            got = models_[k]()
            if not all(g is None and w is None or np.array_equal(g, w)
                       for g, w in zip(got, want[k])):
                bad.append(k)
    for _ in range(4):
        user(0, 1)
        user(1, 1)
    users = [threading.Thread(target=user, args=(k, 4)) for k in (0, 1)]
    for u in users:
        u.start()
    for u in users:
        u.join()
    assert not bad
    assert set(pieces) == {threads}      # every LSTM call cut in `threads` row pieces
