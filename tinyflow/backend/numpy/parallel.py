"""Large kernels on every core: a kernel cuts its work into `threads()` pieces along one axis
and runs them at once, one piece in the calling thread and the rest in a small pool.

NumPy's ufuncs, its matmul and our Numba loops (`nogil=True`) release the GIL, so threads
are enough; the pool is sized by the thread setting every library reads (NUMBA_NUM_THREADS,
else OMP_NUM_THREADS, else the cores), so NumPy work, Numba loops and OpenBLAS never run
more threads than the user gave. While pieces that may multiply run, OpenBLAS is asked for one
thread (`openblas_set_num_threads_local`), and given its count back when the last is done: 32
small per-head products or 50 LSTM steps threaded one by one would pay OpenBLAS's hand-off
on every call, where one piece per core pays it once. Despite its name that setting is
process-wide in NumPy's OpenBLAS (a thread setting 1 sets it for every thread), so only
`run` sets it, around all its pieces: a pool thread setting it once when it started left
every later product of the process on one thread (the GPT step's GEMMs 30 -> 52 ms). Arrays
under `MIN_ELEMENTS` (512k) stay on the plain path: handing a piece to another thread costs
some 20 us, and right after a product OpenBLAS's thread may still be spinning on the second
core (below); at 128k the MLP step's relu on two threads made the step 7.1 -> 12.6 ms.

On when OpenBLAS's idle threads give the cores back quickly, else off;
TINYFLOW_KERNEL_THREADS overrides (a number of threads; "auto": the setting above). After
each product OpenBLAS's worker threads spin, by default for 2^28 cycles (~0.1 s), so a piece
handed to our second thread competes with a spinning thread for the second core: measured on
a quiet 2-core machine (bench/harness.py, 2026-12-04/05) that made steps bimodal per process
(the CNN step 36-58 ms, the MLP step 7-13 ms). `import tinyflow` therefore sets
OPENBLAS_THREAD_TIMEOUT=20 (2^20 cycles, well under a millisecond) when NumPy is not loaded
yet and the user set none, and the pool is on only when the timeout OpenBLAS read is at most
20. Shorter still (4) made every step slower: each product then wakes a sleeping thread. If
NumPy was imported before tinyflow (most programs' first line), OpenBLAS has read its default
already: `shorten_blas_spin` sets the variable, has OpenBLAS read its environment again and
restarts its threads, so the pool is on there too.

The hand-off: each pool thread waits for its next piece polling a counter without the GIL
for ~50 us (`_Signal`), as an OpenMP team does, then sleeps. Handing pieces through a
ThreadPoolExecutor woke a sleeping thread every time: an empty two-piece run took 58 us,
an exp over 128k floats 89 us on two threads against 47 on one; with the poll, 11 and 40 us
(2026-12-05, SCHED_FIFO on the 2-core VM). A run from another user thread while one is
active runs its pieces in its own thread, one after another.

Products stay on OpenBLAS's own threads. One team doing everything, as OpenMP does (OpenBLAS
on one thread, each 2-D product cut in two on this pool, the pool thread polling ~2 ms so no
piece wakes it), lost on the 2-core VM (2026-12-05, SCHED_FIFO): alone, the two halves of a
GPT product ([1024, 256] x [256, 768], transposed operands, dW's [256, 1024] x [1024, 768])
took 8-21 % longer than OpenBLAS's two threads, since each half alone runs at full speed but
the two at once are ~17 % slower (each packs all of the shared operand, where OpenBLAS's
threads share one packing); in the GPT step the products took 41.3 -> 48.9 ms while the other
kernels gained 3.3 ms (layer norm, attention, GELU, cross-entropy, with MIN_ELEMENTS at 64k),
the step 72.5 -> 72.5-73.2 ms; the MLP step 7.55 -> 8.0 ms (9.1 at 64-128k). Polling long
with OpenBLAS's threads on, the pool thread fights their spin for the second core (GPT 69 ->
98 ms); sending it to sleep before each product changes nothing (71.9 -> 71.6 ms), waking
it after each product loses (76 ms). The MLP's products (2026-12-06, quiet) lose to MKL by
OpenBLAS's kernel itself (1.17x at one thread, 1.22x at two), and its halves on this pool lost
too (docs/BENCHMARKS.md, session 17).

What a sleeping pool thread costs (2026-12-06, quiet): a 262k-float add took 74-99 us on one
thread, 43-50 us on two while the pool thread still polled, 104-131 us on two once it slept
(a gap of 100 us between calls at SPIN_ROUNDS 4000; 16000 polls past it). In the GPT step
most pooled kernels come after a product or Python, likely to find it asleep; at two threads the
non-product kernels took 17.5 ms against 20.3 at one (products 82 -> 46 ms). Polling 16000
rounds left the step as it was (74.7 / 74.5 -> 74.5 / 75.2 ms); 40000 made one process of
two 4x slower (the poll fighting OpenBLAS's threads). Handing OpenBLAS's jobs to this pool
through OpenBLAS's threads callback, so one team polls for both, gained 1-6 % on the GPT
steps (bench/blas_team.py, with why it is not shipped).

What a hand-off costs by what the second core did just before (bench/pool_handoff.py, an
empty two-piece run, quiet, 2026-12-06; median / p99 us): back to back 17 / 47; after 100 us
of Python (the poll ran out, the pool thread sleeps on a futex) 43 / 206; after a 1 ms sleep
(both cores went idle) 191 / 331; after a product, even 2 ms later, 225-267 / 600-800 (the
second core spun in OpenBLAS's thread, then went idle): the cost is waking an idle virtual
CPU through the hypervisor. With other processes loading the machine (not quiet), 78 us is
the *fastest* back-to-back hand-off, so the "78 instead of 16" seen before is the pool thread
waiting for a core another process holds. Polling on after the 50 us with sched_yield
between polls (~1.3 ms more, so the second core does not go idle and any other thread may run
on it) cut the 100 us case to 18 us and the 1 ms-sleep case to ~70 us, but not the
after-a-product case, and the steps did not move in two alternations (fastest steps, quiet:
MLP 10.6 / 8.3 -> 8.4 / 8.5 ms, CNN-BN-AdamW 36.7 / 36.2 -> 34.9 / 36.9, GPT 83.2 / 80.0 ->
79.8 / 81.2) while it burns the core: not kept.

On a machine with more runnable threads than cores (a shared machine, CI) each thread gets
a share of a core, and a thread waited for may be descheduled for a time slice. A piece
waited for here has been handed to a pool thread, which sleeps after its poll, so waiting
costs no core; the caller does not take over pieces their thread has not started (`run`'s
`take`, off by default: one thread running both pieces gets one share, where two threads
get two; measured with 4 busy processes, bench/loaded.py). Pieces that wait for each other
must not wait on a piece no thread has started: the LSTM's row pieces take each step's
pieces first come, first served (rnn.py `_by_rows`).
"""
from __future__ import annotations

import contextvars
import ctypes
import functools
import os
import threading
from typing import Callable, Optional

import numpy as np

from . import blas

MIN_ELEMENTS = 1 << 19
_worker = threading.local()      # .active: this thread is one of the pool's
_set_by_program: list = []       # the count of the program's last `set_threads`, if any


@functools.cache
def threads() -> int:
    """Threads a kernel may use: TINYFLOW_KERNEL_THREADS if set (a number, or "auto": the
    program's `set_threads`, else the process's thread setting, as OpenBLAS and Numba read
    it); else "auto" when OpenBLAS's idle threads sleep soon (`blas_spin_is_short`), else 1
    (the pool off)."""
    asked = os.environ.get("TINYFLOW_KERNEL_THREADS",
                           "auto" if blas_spin_is_short() else "1")
    if asked.isdigit():
        return max(1, int(asked))
    if _set_by_program:
        return _set_by_program[0]
    for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


SHORT_SPIN = 20   # OpenBLAS's thread timeout (log2 of cycles) at or under which the pool runs


@functools.cache
def _openblas() -> Optional[ctypes.CDLL]:
    """NumPy's bundled OpenBLAS (`blas.library`), if it has the functions used here."""
    lib = blas.library()
    try:
        lib.openblas_set_num_threads_local.argtypes = [ctypes.c_int]
        lib.openblas_set_num_threads_local.restype = ctypes.c_int
        lib.openblas_thread_timeout.restype = ctypes.c_int
    except AttributeError:       # no library (None), or one without these functions
        return None
    return lib


def blas_spin_is_short() -> bool:
    """Whether the loaded OpenBLAS lets its idle threads sleep soon after a product: the
    timeout it read from OPENBLAS_THREAD_TIMEOUT when NumPy loaded it (tinyflow sets that
    variable first when it can); 0 means its default, 2^28 cycles."""
    lib = _openblas()
    return lib is not None and 0 < lib.openblas_thread_timeout() <= SHORT_SPIN


def shorten_blas_spin() -> bool:
    """After `import numpy` came before `import tinyflow`: give OpenBLAS the short thread
    timeout it would have read at load (OPENBLAS_THREAD_TIMEOUT=20), unless the user set the
    variable (theirs wins). OpenBLAS reads its environment again (`openblas_read_env`) and
    stops its threads (`blas_thread_shutdown_`, the call it makes itself before a fork); its
    next product starts them with the new timeout. Without that, idle OpenBLAS threads spun
    ~0.1 s on the second core after each product and the pool stayed off. Done at import,
    when no product is running. True when OpenBLAS now reports the short timeout."""
    lib = _openblas()
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ or lib is None or not all(
            hasattr(lib, name) for name in ("openblas_read_env", "blas_thread_shutdown_")):
        return False
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(SHORT_SPIN)
    lib.openblas_read_env()
    lib.blas_thread_shutdown_()
    threads.cache_clear()
    return blas_spin_is_short()


def set_threads(count: int) -> None:
    """PyTorch's torch.set_num_threads: from now on products (OpenBLAS) and kernels cut into
    pieces use at most `count` threads."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"set_num_threads: the number of threads must be a positive int, "
                         f"got {count!r}")
    setter = _openblas_function(BLAS_SET_THREADS)
    if setter is not None:
        setter(count)
    _set_by_program[:] = [count]
    threads.cache_clear()


def get_threads() -> int:
    """PyTorch's torch.get_num_threads: the threads a product may use (OpenBLAS's count;
    without NumPy's OpenBLAS, the kernels' pieces)."""
    getter = _openblas_function(BLAS_GET_THREADS)
    return getter() if getter is not None else threads()


# OpenBLAS's process-wide thread count, by the names NumPy's bundled build and others use
BLAS_SET_THREADS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                    "openblas_set_num_threads")
BLAS_GET_THREADS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                    "openblas_get_num_threads")


def _openblas_function(names: tuple) -> Optional[Callable]:
    """`blas.function(names)`, taking and giving C ints."""
    found = blas.function(names)
    if found is not None:
        found.restype = ctypes.c_int
    return found


def _openblas_local() -> Optional[Callable[[int], int]]:
    """OpenBLAS's thread count setter (returns the previous count; process-wide, see above),
    if NumPy's bundled OpenBLAS has it; None otherwise (then BLAS keeps its own threads)."""
    lib = _openblas()
    return lib.openblas_set_num_threads_local if lib is not None else None


# A waiting thread polls ~50 us (~13 ns a poll on the 2-core Xeon) before it sleeps. Once
# it sees the change it pauses a few us more before taking the GIL: the thread that raised
# the count is by then inside NumPy or Numba with the GIL released, where without the pause
# the waiter finds the GIL held and sleeps on it (a futex wake-up again). The caller has more
# Python to run before its own piece's kernel than a pool thread before its next poll, so
# the pool thread pauses longer. Measured (2026-12-05, SCHED_FIFO): an empty piece handed
# over and back 47 us with no pause, 7 us with 200 rounds, 20 us with 1000; a relu over
# [256, 1024] on two threads 78 us with 200 rounds before the pool thread's piece, 41 with
# 300-600 (one thread: 54)
SPIN_ROUNDS = 4000
GO_SETTLE = 400       # rounds the pool thread pauses after it was handed a piece
DONE_SETTLE = 200     # rounds the caller pauses after the pool thread finished


class _Signal:
    """A count one thread raises and another waits for: the waiter polls it without the GIL
    for `SPIN_ROUNDS` (`_spin_loops.spin`), then sleeps on a lock that the raiser releases
    only when the waiter said it sleeps (both under `mutex`, so no raise is missed)."""

    def __init__(self, settle: int):
        self.count, self.settle = np.zeros(1, np.int64), settle
        self.address, self.seen = self.count.ctypes.data, 0
        self.mutex, self.wake = threading.Lock(), threading.Lock()
        self.wake.acquire()
        self.sleeping = False

    def raise_(self) -> None:
        with self.mutex:
            self.count[0] += 1
            sleeping, self.sleeping = self.sleeping, False
        if sleeping:
            self.wake.release()

    def wait(self) -> None:
        if _spin()(self.address, self.seen, SPIN_ROUNDS, self.settle) == self.seen:
            with self.mutex:
                sleep = self.sleeping = bool(self.count[0] == self.seen)
            if sleep:
                self.wake.acquire()
        self.seen += 1


@functools.cache
def _spin() -> Callable[[int, int, int, int], int]:
    from ._spin_loops import spin      # Numba, imported when the pool is first used
    return spin


class _Worker:
    """One pool thread: runs the piece `start` hands it, unless the caller took it first
    (`take`: the caller of `run`, done with its own piece, runs pieces not yet started);
    `finish` waits for a piece it took and returns its error (None when it ran through)."""

    def __init__(self):
        self.go, self.done = _Signal(GO_SETTLE), _Signal(DONE_SETTLE)
        self.task = None
        threading.Thread(target=self._loop, name="tinyflow-kernel", daemon=True).start()

    def _loop(self) -> None:
        _worker.active = True
        while True:
            self.go.wait()
            task = self.task   # the newest piece: one taken by the caller is skipped
            if task is None or not task[4].acquire(blocking=False):
                continue
            context, piece, start, stop, _, error = task
            try:
                context.run(piece, start, stop)
            except BaseException as e:   # re-raised by the caller of `run`
                error.append(e)
            # the piece (its closure: a run's arrays) not held until the next run: a memo's
            # array a run read is then known unread (`_conv_numba.WeightMemo.slot`); the
            # caller lets go of `self.task` (`take`, `finish`)
            task = context = piece = error = None
            self.done.raise_()

    def start(self, piece: Callable[[int, int], object], start: int, stop: int) -> None:
        # the piece runs in a copy of the caller's context: NumPy's error state (the
        # kernels' silenced warnings, a user's errstate) holds in the pool's threads too
        self.task = (contextvars.copy_context(), piece, start, stop, threading.Lock(), [])
        self.go.raise_()

    def take(self) -> Optional[tuple]:
        """(piece, start, stop) for the caller to run itself if this thread has not taken
        it yet, else None (then `finish` waits for it)."""
        task = self.task
        if not task[4].acquire(blocking=False):
            return None
        self.task = None
        return task[1:4]

    def finish(self) -> Optional[BaseException]:
        self.done.wait()
        task, self.task = self.task, None
        return task[5][0] if task[5] else None


_team: list = []                  # the pool's threads, started as runs first need them
_warm_products = [1]              # products at once whose OpenBLAS buffers are warm
_team_lock = threading.Lock()     # held by the run using them


def _reset_after_fork() -> None:
    global _team_lock, _runs_lock
    _team.clear()                 # a forked child has none of the parent's threads
    _team_lock, _runs_lock = threading.Lock(), threading.Lock()
    if _runs["active"]:           # forked during a run: none runs in the child
        setter = _openblas_local()
        if setter is not None:
            setter(_runs["previous"])
        _runs.update(active=0, previous=None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def in_worker() -> bool:
    """Whether this thread is running a piece (a pool thread, or the caller of `run` during
    its own piece): work inside a piece stays on its thread."""
    return getattr(_worker, "active", False)


def worth_it(size: int, pieces: int) -> bool:
    """Whether `size` elements cut into at most `pieces` pieces go to several threads."""
    return (pieces >= 2 and size >= MIN_ELEMENTS and threads() > 1
            and not in_worker())


def bounds(length: int, pieces: int) -> list[tuple[int, int]]:
    """[start, stop) of `pieces` near-equal parts of range(length) (none empty)."""
    pieces = max(1, min(pieces, length))
    cuts = [length * i // pieces for i in range(pieces + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


_runs = {"active": 0, "previous": None}
_runs_lock = threading.Lock()


def _enter(alone: bool) -> bool:
    """Count a `run` in (False, counting nothing, when `alone` and another is active). While
    any is active OpenBLAS runs one thread: the first to enter saves its count, the last to
    leave (`_leave`) gives it back, so runs from several user threads may overlap."""
    setter = _openblas_local()
    with _runs_lock:
        if alone and _runs["active"]:
            return False
        _runs["active"] += 1
        if _runs["active"] == 1 and setter is not None:
            _runs["previous"] = setter(1)
    return True


def _leave() -> None:
    setter = _openblas_local()
    with _runs_lock:
        # the count is given back before the run is counted out: a fork in between leaves a
        # child that gives it back again (harmless), never one left on a single thread
        if _runs["active"] == 1 and setter is not None:
            setter(_runs["previous"])
        _runs["active"] -= 1


def run(piece: Callable[[int, int], object], length: int, pieces: int = 0, *,
        alone: bool = False, blas: bool = True, take: bool = False) -> bool:
    """piece(start, stop) over near-equal parts of range(length), one per thread (at most
    `pieces` if given), the first in this thread, with one BLAS thread until all are done;
    returns True when all are done and re-raises the first error. With `alone`, pieces
    that must all start at once, none queued behind another run's, run only with the team:
    then nothing runs, and it returns False, while another run is active.
    `blas=False` says the pieces call no BLAS: OpenBLAS's thread count is left alone (setting
    it to one right after a product took 12-24 us, measured over 300 calls). With `take`,
    this thread, done with its piece, runs the pieces no pool thread has started yet (for
    pieces that share out their work themselves, as the LSTM's row pieces do: a late piece
    finds nothing left, and this thread would only wait for it). Not by default: on a
    machine with more runnable threads than cores each thread gets a share of a core, and a
    piece taken over by this thread ran the pieces one after another on one share (tanh
    and a product over 2M floats with 4 busy processes, bench/loaded.py: forward 11.0 ->
    18.7 ms, backward 28.3 -> 43.7, medians)."""
    parts = bounds(length, min(threads(), pieces or threads()))
    outer = in_worker()
    if len(parts) == 1 or not _team_lock.acquire(blocking=False):
        # one part, or another run (or this one, nested) has the team: all of it here
        if alone and len(parts) > 1:
            return False
        _worker.active = True
        try:
            piece(0, length)
        finally:
            _worker.active = outer
        return True
    if blas and not _enter(alone):
        _team_lock.release()
        return False
    started, ran = [], False
    try:
        while len(_team) < len(parts) - 1:
            _team.append(_Worker())
        if blas and len(parts) > _warm_products[0]:
            _warm_blas_buffers(_team[:len(parts) - 1])
        for worker, part in zip(_team, parts[1:]):
            worker.start(piece, *part)
            started.append(worker)
        _worker.active = True     # this thread's piece does not cut again
        piece(*parts[0])
        for worker in list(started) if take else ():
            taken = worker.take()     # not started by its thread yet: run here instead
            if taken is not None:
                started.remove(worker)
                taken[0](*taken[1:])
        ran = True
    finally:
        _worker.active = outer
        try:
            # all, before raising; if this thread raised, a piece no thread started never runs
            errors = [worker.finish() for worker in started
                      if ran or worker.take() is None]
        except BaseException:
            # interrupted (a Ctrl-C) while waiting: the signals' counts are no longer known
            # to agree, so these threads are left to finish alone and a new team starts
            _team.clear()
            raise
        finally:
            if blas:
                _leave()
            _team_lock.release()
    for error in errors:
        if error is not None:
            raise error
    return True


# a product that fills OpenBLAS's packing buffers (its float32 blocks on haswell): ~0.3 ms
WARM_PRODUCT = (32, 512, 1024)     # m, k, n
WARM_WAIT = 0.1                    # seconds a thread waits for the others to fill at once


def _fill_buffer() -> None:
    """One float32 product of WARM_PRODUCT's shape (touching all of the OpenBLAS buffer that
    this thread's ?gemm call holds meanwhile)."""
    m, k, n = WARM_PRODUCT
    np.matmul(np.ones((m, k), np.float32), np.ones((k, n), np.float32))


def _warm_blas_buffers(team: list) -> None:
    """`_fill_buffer` on this thread and on each of `team`'s at once, so that the OpenBLAS
    buffers products running side by side take have been touched. Each ?gemm call takes the
    first free one of OpenBLAS's buffers, so a product running beside another takes the
    second; its kernel prefetches ahead in the buffer, and a prefetch to a page never
    touched (mapped, not faulted in) costs as much as a miss every time and never faults it
    in. Only a large product touches the whole buffer: the first buffer gets one from the
    program's first large product, the second none, as the pool's pieces run small products
    (haswell kernels). The LSTM's backward on two row pieces (each step [128, 1024] x
    [1024, 32] per thread) waits every step for the slower of the two: 25.1 / 25.2 -> 14.7 /
    14.9 ms (50 steps, H 256, batch 32, SCHED_FIFO, 2026-12-07); float64 products showed no
    such loss. Once per count of products at once; a thread that does not reach the
    barrier in time leaves a buffer cold, nothing worse."""
    barrier = threading.Barrier(len(team) + 1)

    def fill(start: int, stop: int) -> None:
        try:
            barrier.wait(timeout=WARM_WAIT)
        except threading.BrokenBarrierError:
            pass
        _fill_buffer()
    for worker in team:
        worker.start(fill, 0, 1)
    try:
        fill(0, 1)
    finally:
        try:                      # each thread's fill waited for, even after a Ctrl-C here
            for worker in team:
                worker.finish()
        except BaseException:     # interrupted while waiting: a new team, as `run` does
            _team.clear()
            raise
    _warm_products[0] = max(_warm_products[0], len(team) + 1)


def split(piece: Callable[[int, int], object], length: int, size: int = 0, *,
          blas: bool = True) -> None:
    """piece(start, stop) over parts of range(length) in parallel when `size` elements
    (default `length`) are worth it, else piece(0, length) here; `blas` as for `run`."""
    if worth_it(size or length, length):
        run(piece, length, blas=blas)
    else:
        piece(0, length)


def rows(fn: Callable, out: np.ndarray, *inputs: np.ndarray) -> np.ndarray:
    """fn(*inputs[a:b], out=out[a:b]) for parts of axis 0, in parallel when worth it; inputs
    must have out's leading length (broadcast them first); fn calls no BLAS."""
    if out.size < MIN_ELEMENTS or not out.ndim:
        fn(*inputs, out=out)
        return out
    split(lambda a, b: fn(*(x[a:b] for x in inputs), out=out[a:b]), out.shape[0], out.size,
          blas=False)
    return out


FLOATS = (np.float32, np.float64)


def ufunc(f: np.ufunc, *xs: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """f(*xs, out=out), cut along the result's first axis when large, for inputs of one
    float dtype (f must map it to itself); `out` may be one of the inputs (in place)."""
    if xs[0].size < MIN_ELEMENTS and xs[-1].size < MIN_ELEMENTS:    # the common, small case
        return f(*xs, out=out)
    shape = xs[0].shape if len(xs) == 1 else np.broadcast_shapes(*(x.shape for x in xs))
    dtype = xs[0].dtype
    if (not shape or not worth_it(int(np.prod(shape)), shape[0])
            or dtype not in FLOATS or any(x.dtype != dtype for x in xs)
            or (out is not None and not _writes_apart(out, xs))):
        return f(*xs, out=out)
    if out is None:
        out = np.empty(shape, dtype)
    return rows(f, out, *(np.broadcast_to(x, shape) for x in xs))


def copy(x: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """A C-ordered copy of x (np.array(x, order="C")), or x written into `out` (of x's
    shape), in pieces when large."""
    return rows(_copy_into, np.empty(x.shape, x.dtype) if out is None else out, x)


def _copy_into(x, out):
    np.copyto(out, x)


def reshaped(x: np.ndarray, shape) -> np.ndarray:
    """np.reshape(x, shape): a view when NumPy can make one, else a copy in pieces."""
    try:
        return np.reshape(x, shape, copy=False)
    except ValueError:
        return np.reshape(copy(x), shape)


def add_reduce(x: np.ndarray, axis=None, keepdims: bool = False,
               out: Optional[np.ndarray] = None) -> np.ndarray:
    """np.add.reduce(x, axis, keepdims=, out=), cut along an axis that is kept when x is a
    large float array: each output element is summed in the same order either way."""
    if x.size < MIN_ELEMENTS:
        return np.add.reduce(x, axis=axis, keepdims=keepdims, out=out)
    axes = range(x.ndim) if axis is None else sorted(
        a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis))
    kept = [i for i in range(x.ndim) if i not in axes]
    if (x.dtype not in FLOATS or not kept or not axes
            or not worth_it(x.size, max(x.shape[i] for i in kept))):
        return np.add.reduce(x, axis=axis, keepdims=keepdims, out=out)
    cut = max(kept, key=lambda i: (x.shape[i] >= threads(), -i))   # first long enough
    out_cut = cut if keepdims else cut - sum(a < cut for a in axes)
    if out is None:
        out = np.empty([1 if i in axes else n for i, n in enumerate(x.shape)
                        if keepdims or i not in axes], x.dtype)
    axes = tuple(axes)

    def piece(a, b):
        np.add.reduce(x[(slice(None),) * cut + (slice(a, b),)], axis=axes, keepdims=keepdims,
                      out=out[(slice(None),) * out_cut + (slice(a, b),)])
    run(piece, x.shape[cut], blas=False)
    return out


def _writes_apart(out: np.ndarray, xs) -> bool:
    """Whether each piece of out overlaps only the same piece of each input (out is an input
    itself, or shares no memory with it), so pieces may run in any order."""
    def same(x):
        return (x.shape == out.shape and x.strides == out.strides
                and x.__array_interface__["data"][0] == out.__array_interface__["data"][0])
    return all(same(x) or not np.may_share_memory(x, out) for x in xs)
