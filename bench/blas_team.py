"""An experiment, not used by tinyflow: OpenBLAS's threaded products run on the kernel pool's
threads (one team), as torch's MKL and its elementwise kernels share one OpenMP team.

Why: a pool thread that went to sleep costs about as much to wake as a whole memory-bound
kernel. On the 2-core VM (quiet, 2026-12-06) a 262k-float add took 74-99 us on one thread,
43-50 us on two while the pool thread still polled, 104-131 us on two once it slept (calls
100 us apart, the default poll): in the GPT step most pooled kernels come after a product or
some Python, likely to find it asleep. Polling longer made OpenBLAS's own idle threads and
ours fight for the second core (parallel.py's docstring). With OpenBLAS 0.3.27+'s
`openblas_set_threads_callback_function`, exported by NumPy's scipy-openblas, OpenBLAS hands
its jobs to a callback instead of its threads: here a Numba cfunc that publishes them to the
pool's threads, which poll for both our pieces and OpenBLAS's jobs ~2.5 ms before they sleep
on a futex. OpenBLAS's level-3 jobs wait for each other, so every job needs a thread of its
own at once: the callback runs job 0 and waits for the team to take the others.

Measured (the fastest of 15 steps per process, two threads, quiet runs alternated with the
pool as it is, 2026-12-06): gpt_manual_tanh 73.1 / 75.0 -> 70.6 / 72.6 ms and, on a busier
machine, 79.0 / 78.5 -> 74.2 / 77.2 (the kernels' sums of fastest calls 1-6 % less);
gpt_sdpa_causal_tanh 70.4 / 67.0 / 67.8 -> 69.4 / 65.6 / 68.5; gpt4_b16_sdpa_causal_tanh
247 / 244 / 251 -> 236 / 232 / 246; mlp_train_sgdm 6.90 / 6.97 / 7.11 / 7.04 -> 6.86 / 6.77 /
6.98 / 7.20, no change; CPU time per step up to ~10 % more (the longer poll). Lowering
MIN_ELEMENTS as well (128k, 32k) gained nothing more: the residual adds and ReLUs still ran
slower on two threads. Not made tinyflow's because it is not yet safe: a job count above the
team (another library raising OpenBLAS's threads, threadpoolctl) or a forked child without
the team would leave the caller waiting forever. Handing such a batch to OpenBLAS's own
threads from the callback (its exported exec_blas_async / exec_blas_async_wait, as its
exec_blas does without a callback) hung with OpenBLAS 0.3.31 at 4 threads and a team of 2,
so a real version must grow the team before it publishes, and unset the callback in a
forked child.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/op_threads.py \\
        gpt gpt_manual_tanh --threads 2 --min --blas-team
"""
from __future__ import annotations

import ctypes
import ctypes.util
import threading

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from tinyflow.backend.numpy import blas, parallel
from tinyflow.backend.numpy._numba import numba
from tinyflow.backend.numpy._spin_loops import _load_acquire, _pause

I64 = ir.IntType(64)
# the team's state: int64 slots (CLAIM + i: job i taken)
SEQ, BUSY, DONE, JOBS, DOJOB, DATA, SIZE, EXTRA, WORD, SLEEPERS, CLAIM = range(11)
MAX_JOBS = 64
SYS_FUTEX, FUTEX_WAIT, FUTEX_WAKE = 202, 128, 129     # x86-64 Linux, private futex
POLL_ROUNDS = 200_000                                   # ~2.5 ms of polls before sleeping


@intrinsic
def _fetch_add(typingctx, address, value):
    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(args[0], I64.as_pointer())
        return builder.atomic_rmw("add", pointer, args[1], "seq_cst")
    return types.int64(types.intp, types.int64), codegen


@intrinsic
def _swap_if(typingctx, address, expected, new):
    """Compare-and-swap; the value found."""
    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(args[0], I64.as_pointer())
        return builder.extract_value(
            builder.cmpxchg(pointer, args[1], args[2], "seq_cst", "seq_cst"), 0)
    return types.int64(types.intp, types.int64, types.int64), codegen


@intrinsic
def _store(typingctx, address, value):
    def codegen(context, builder, signature, args):
        builder.store_atomic(args[1], builder.inttoptr(args[0], I64.as_pointer()),
                             "release", 8)
        return context.get_dummy_value()
    return types.none(types.intp, types.int64), codegen


@intrinsic
def _run_job(typingctx, dojob, i, data, extra):
    """OpenBLAS's dojob(int i, void *data, int extra), called at its address."""
    def codegen(context, builder, signature, args):
        i32, pointer = ir.IntType(32), ir.IntType(8).as_pointer()
        fn = builder.inttoptr(args[0], ir.FunctionType(ir.VoidType(), [i32, pointer, i32])
                              .as_pointer())
        builder.call(fn, [builder.trunc(args[1], i32), builder.inttoptr(args[2], pointer),
                          builder.trunc(args[3], i32)])
        return context.get_dummy_value()
    return types.none(types.intp, types.int64, types.intp, types.int64), codegen


@intrinsic
def _futex(typingctx, syscall, address, op, value):
    """libc's syscall(SYS_futex, address, op, value, 0, 0, 0), called at its address."""
    def codegen(context, builder, signature, args):
        fn = builder.inttoptr(args[0], ir.FunctionType(I64, [I64], var_arg=True).as_pointer())
        zero = ir.Constant(I64, 0)
        return builder.call(fn, [ir.Constant(I64, SYS_FUTEX), args[1], args[2], args[3],
                                 zero, zero, zero])
    return types.int64(types.intp, types.intp, types.int64, types.int64), codegen


@numba.njit(nogil=True)
def _take_jobs(s):
    """Run each job 1.. of the published batch that no other thread took."""
    for i in range(1, _load_acquire(s + 8 * JOBS)):
        if _swap_if(s + 8 * (CLAIM + i), 0, 1) == 0:
            _run_job(_load_acquire(s + 8 * DOJOB), i, _load_acquire(s + 8 * DATA)
                     + i * _load_acquire(s + 8 * SIZE), _load_acquire(s + 8 * EXTRA))
            _fetch_add(s + 8 * DONE, 1)


@numba.njit(nogil=True)
def _wake(s, syscall):
    if _load_acquire(s + 8 * SLEEPERS) > 0:
        _fetch_add(s + 8 * WORD, 1)
        _futex(syscall, s + 8 * WORD, FUTEX_WAKE, 1 << 30)


@numba.njit(nogil=True)
def _publish(s, syscall, dojob, n, size, data, extra):
    """OpenBLAS's batch of n jobs: job 0 here, the others on the team; returns when all ran."""
    if n < 2:
        for i in range(n):
            _run_job(dojob, i, data + i * size, extra)
        return
    while _swap_if(s + 8 * BUSY, 0, 1) != 0:     # another user thread's batch: its turn
        _pause()
    _store(s + 8 * DOJOB, dojob)
    _store(s + 8 * DATA, data)
    _store(s + 8 * SIZE, size)
    _store(s + 8 * EXTRA, extra)
    _store(s + 8 * JOBS, n)
    _store(s + 8 * DONE, 0)
    for i in range(1, n):
        _store(s + 8 * (CLAIM + i), 0)
    _fetch_add(s + 8 * SEQ, 1)
    _wake(s, syscall)
    _run_job(dojob, 0, data, extra)
    while _load_acquire(s + 8 * DONE) < n - 1:
        _pause()
    _store(s + 8 * BUSY, 0)


@numba.njit(nogil=True)
def _serve(s, syscall, go, seen, rounds, settle):
    """A pool thread's wait: polls its piece count `go` and OpenBLAS's batches, runs the
    batches' jobs, sleeps on the futex after `rounds` idle polls; returns go's new value."""
    served, idle = -1, 0
    while True:
        value = _load_acquire(go)
        if value != seen:
            for _ in range(settle):
                _pause()
            return value
        if _load_acquire(s + 8 * BUSY) != 0 and _load_acquire(s + 8 * SEQ) != served:
            served = _load_acquire(s + 8 * SEQ)
            _take_jobs(s)
            idle = 0
            continue
        _pause()
        idle += 1
        if idle >= rounds:
            word = _load_acquire(s + 8 * WORD)
            _fetch_add(s + 8 * SLEEPERS, 1)
            if _load_acquire(go) == seen and (_load_acquire(s + 8 * BUSY) == 0
                                              or _load_acquire(s + 8 * SEQ) == served):
                _futex(syscall, s + 8 * WORD, FUTEX_WAIT, word & 0xFFFFFFFF)
            _fetch_add(s + 8 * SLEEPERS, -1)
            idle = 0


@numba.njit(nogil=True)
def _raise(s, syscall, go):
    _fetch_add(go, 1)
    _wake(s, syscall)


STATE = np.zeros(CLAIM + MAX_JOBS, np.int64)
STATE[CLAIM:] = 1                      # no job to take until a batch is published
_S = STATE.ctypes.data
_SYSCALL = ctypes.cast(ctypes.CDLL(ctypes.util.find_library("c")).syscall, ctypes.c_void_p).value


@numba.cfunc(types.void(types.int32, types.intp, types.int32, types.intp, types.intp,
                        types.int32))
def _callback(sync, dojob, n, size, data, extra):
    _publish(_S, _SYSCALL, dojob, n, size, data, extra)


class _Go:
    """The pool thread's piece count, waited for by `_serve` (which runs OpenBLAS's jobs
    meanwhile) and raised with a futex wake."""

    def __init__(self, settle: int):
        self.count, self.seen, self.settle = np.zeros(1, np.int64), 0, settle
        self.address = self.count.ctypes.data

    def raise_(self) -> None:
        _raise(_S, _SYSCALL, self.address)

    def wait(self) -> None:
        _serve(_S, _SYSCALL, self.address, self.seen, POLL_ROUNDS, self.settle)
        self.seen += 1


def install() -> None:
    """From now on the pool's threads take OpenBLAS's jobs (call before the pool starts)."""
    if parallel.threads() < 2 or parallel.get_threads() > parallel.threads():
        raise SystemExit("blas_team: needs the pool on and OpenBLAS's threads <= the pool's")

    def start(worker):
        worker.go, worker.done = _Go(parallel.GO_SETTLE), parallel._Signal(parallel.DONE_SETTLE)
        worker.task, worker.error = None, None
        threading.Thread(target=worker._loop, name="tinyflow-kernel", daemon=True).start()
    parallel._Worker.__init__ = start
    setter = blas.function(("scipy_openblas_set_threads_callback_function64_",
                            "openblas_set_threads_callback_function"))
    if setter is None:
        raise SystemExit("blas_team: this OpenBLAS has no threads callback")
    setter.argtypes = [ctypes.c_void_p]
    parallel.run(lambda start, stop: None, parallel.threads())    # the team, before any job
    setter(_callback.address)
