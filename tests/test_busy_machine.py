"""Kernel threads on a machine with more runnable threads than cores (a shared machine, a
CI runner): busy-loop processes beside the kernel pool and the LSTM's row pieces, whose
threads wait for each other. The results must equal the unloaded ones exactly (the same
pieces, each computed whole by one thread, whichever) and nothing may raise or hang.
Small: a few hundred ms of work. The busy processes end with the test, and on their own
if the test's process dies without cleaning up (tests/busy_helpers.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import tinyflow as tf
import busy_helpers
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


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_busy_processes_end_when_their_parent_dies_uncleaned():
    """A process that starts busy ones and dies without killing them (os._exit: no finally,
    no atexit) leaves none spinning."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (f"import os, sys; sys.path.insert(0, {here!r})\n"
            "import busy_helpers\n"
            "print(*(p.pid for p in busy_helpers.start(2)), flush=True)\n"
            "os._exit(0)\n")
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                         timeout=60, cwd=here)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2, out
    end = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < end:
        alive = [p for p in pids if _running(p)]
        time.sleep(0.05)
    for p in alive:        # not this test's children: kill them so the run stays clean
        os.kill(p, 9)
    assert not alive, "busy processes outlived the process that started them"


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_pool_and_lstm_rows_on_a_busy_machine(monkeypatch):
    calls = force_pool(monkeypatch, 1 << 14, [])
    monkeypatch.setattr(rnn_kernels, "MIN_PIECE_ROWS", 32)
    want = _work()           # compiled and loaded; the machine as it is
    assert "rnn.py" in calls and len(calls) > 4
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    procs = busy_helpers.start(cores + 2)     # more runnable threads than cores
    try:
        for _ in range(3):
            got = _work()
            for k, (g, w) in enumerate(zip(got, want)):
                np.testing.assert_array_equal(g, w, err_msg=f"result {k}")
    finally:
        busy_helpers.stop(procs)
