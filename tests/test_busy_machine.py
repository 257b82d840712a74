"""Kernel threads on a machine with more runnable threads than cores (a shared machine, a
CI runner): busy-loop processes beside the kernel pool and the LSTM's row pieces, whose
threads wait for each other. The results must equal the unloaded ones exactly (the same
pieces, each computed whole by one thread, whichever) and nothing may raise or hang.
Small: a few hundred ms of work."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import tinyflow as tf
from pool_helpers import force_pool
from tinyflow.backend.numpy import parallel
from tinyflow.backend.numpy import rnn as rnn_kernels


def _work():
    """An LSTM cut by hidden rows (forward and backward) and pooled elementwise kernels."""
    rng = np.random.default_rng(0)
    tf.manual_seed(0)
    lstm = tf.nn.LSTM(8, 128)
    x = tf.tensor(rng.standard_normal((12, 4, 8)).astype(np.float32), requires_grad=True)
    out, (h, c) = lstm(x)
    (out.sum() + h.sum()).backward()
    y = tf.tensor(rng.standard_normal((512, 256)).astype(np.float32), requires_grad=True)
    z = (tf.tanh(y) * y).sum()
    z.backward()
    return [t.detach().numpy().copy() for t in (out, h, c, x.grad, y.grad, z)] + [
        p.grad.numpy().copy() for p in lstm.parameters()]


def _busy(count: int) -> list:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def test_pool_and_lstm_rows_on_a_busy_machine(monkeypatch):
    calls = force_pool(monkeypatch, 1 << 14, [])
    monkeypatch.setattr(rnn_kernels, "MIN_PIECE_ROWS", 32)
    want = _work()           # compiled and loaded; the machine as it is
    assert "rnn.py" in calls and len(calls) > 4
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    procs = _busy(cores + 2)     # more runnable threads than cores
    try:
        for _ in range(3):
            got = _work()
            for k, (g, w) in enumerate(zip(got, want)):
                np.testing.assert_array_equal(g, w, err_msg=f"result {k}")
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
