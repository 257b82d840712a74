"""Collectives over a group of Ray worker actors: ring all-reduce (reduce-scatter, then
all-gather), reduce-scatter, all-gather and broadcast on NumPy buffers.

The ring as the lectures draw it: worker r sends only to r + 1 and receives only from r - 1.
A buffer is cut into N segments (`np.array_split`, so any size works); in N - 1 steps of the
reduce-scatter each worker adds the segment arriving from its left neighbour into its own
copy and passes the sum on, ending with one fully reduced segment; N - 1 steps of all-gather
pass the reduced segments round. Each worker sends 2(N - 1) segments: 2(N - 1)/N of the
buffer, whatever N is. A message is an actor call on the receiver (`deliver`) that returns
once the receiver took the segment out of its mailbox, and a sender sends the next message on
a link only after that: one message per link at a time, so no worker holds more than its own
buffer plus one incoming segment.

Every wait has a timeout and names the worker it waited for; a dead neighbour is named as
such. A worker never returns a partial sum: it returns only after all 2(N - 1) segments.

Ray's own `ray.util.collective` was tried first: its CPU backend is gloo, which in this Ray
(2.60) goes through `torch.distributed` (tinyflow never imports torch), and `pygloo` has no
distribution for this Python, so the ring is written here over Ray actor calls.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError

# Seconds a new worker process may take to start and answer its first call. Not a message
# timeout: on a loaded machine starting Ray actors alone can take tens of seconds.
STARTUP_TIMEOUT = 120.0


class CollectiveError(RuntimeError):
    """A collective could not finish: a worker died or sent nothing within the timeout."""


@dataclass
class CommStats:
    """What one worker sent and held: bytes and messages sent, collectives run (by name),
    and the largest number of received bytes waiting in its mailbox at once."""
    bytes_sent: int = 0
    messages: int = 0
    calls: dict = None
    peak_inbox_bytes: int = 0

    def __post_init__(self) -> None:
        self.calls = dict(self.calls or {})


class Communicator:
    """One worker's end of the ring: its rank, the peers' actor handles, its mailbox.

    Args:
        latency: seconds slept before each message is sent (an injected network latency for
            experiments; 0 by default).
        timeout: seconds to wait for any one message before raising `CollectiveError`.
        chunk_bytes: the largest message; a segment above it goes in pieces (default: one
            message per segment).
    """

    def __init__(self, rank: int, size: int, timeout: float = 30.0, latency: float = 0.0,
                 chunk_bytes: Optional[int] = None) -> None:
        if not 0 <= rank < size:
            raise ValueError(f"rank {rank} is not in a group of {size} worker(s)")
        self.rank, self.size, self.timeout, self.latency = rank, size, timeout, latency
        self.chunk_bytes = chunk_bytes
        self.peers: Sequence = ()
        self.stats = CommStats()
        self._inbox: dict = {}              # sender -> (tag, array), one at most per sender
        self._unacked: dict = {}            # receiver -> (tag, ref of its deliver call)
        self._cond = threading.Condition()
        self._seq = 0                       # collectives called so far: the message tags
        self._current = "setup"

    # ---- messages -------------------------------------------------------------------------
    def deliver(self, src: int, tag: tuple, array: np.ndarray) -> None:
        """Called by worker `src` (on an actor thread): put the segment in the mailbox and
        return once this worker took it, so the sender sends no more on this link before."""
        with self._cond:
            if src in self._inbox:
                raise CollectiveError(f"worker {self.rank}: worker {src} sent {tag} before "
                                      f"{self._inbox[src][0]} was taken")
            self._inbox[src] = (tag, array)
            held = sum(getattr(a, "nbytes", 0) for _, a in self._inbox.values())
            self.stats.peak_inbox_bytes = max(self.stats.peak_inbox_bytes, held)
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._inbox.get(src, (None,))[0] != tag,
                                       self.timeout):
                raise CollectiveError(f"worker {self.rank} did not take {tag} from worker "
                                      f"{src} within {self.timeout} s (it is in "
                                      f"{self._current})")

    def _send(self, dst: int, tag: tuple, array: np.ndarray) -> None:
        """Send without waiting for the answer, once `dst` took the previous message: one
        message per link at a time, and the call's latency hides behind the receive."""
        self._acknowledged(dst)
        if self.latency:
            time.sleep(self.latency)
        self.stats.bytes_sent += getattr(array, "nbytes", 0)
        self.stats.messages += 1
        self._unacked[dst] = (tag, self.peers[dst].deliver.remote(self.rank, tag, array))

    def _acknowledged(self, dst: Optional[int] = None) -> None:
        """Wait until `dst` (every peer, by default) took the last message sent to it."""
        for d in list(self._unacked) if dst is None else [dst]:
            if d not in self._unacked:
                continue
            tag, ref = self._unacked.pop(d)
            try:
                ray.get(ref, timeout=self.timeout)
            except RayActorError:
                raise CollectiveError(f"{self._current} on worker {self.rank}: worker {d} "
                                      f"died (sending it {tag})") from None
            except GetTimeoutError:
                raise CollectiveError(f"{self._current} on worker {self.rank}: worker {d} "
                                      f"did not take {tag} within {self.timeout} s") from None
            except ray.exceptions.RayTaskError as e:
                raise CollectiveError(f"{self._current} on worker {self.rank}: sending {tag} "
                                      f"to worker {d} failed: {e.cause}") from None

    def _recv(self, src: int, tag: tuple) -> np.ndarray:
        with self._cond:
            if not self._cond.wait_for(lambda: src in self._inbox, self.timeout):
                raise CollectiveError(f"{self._current} on worker {self.rank}: nothing from "
                                      f"worker {src} within {self.timeout} s (waiting for "
                                      f"{tag}); is worker {src} alive and in the same "
                                      f"collective?")
            got, array = self._inbox.pop(src)
            self._cond.notify_all()
        if got != tag:
            raise CollectiveError(f"{self._current} on worker {self.rank}: worker {src} sent "
                                  f"{got}, expected {tag}: the workers called collectives in "
                                  f"different orders")
        return array

    def _begin(self, name: str) -> int:
        self._seq += 1
        self._current = f"{name} #{self._seq}"
        self.stats.calls[name] = self.stats.calls.get(name, 0) + 1
        return self._seq

    # ---- the ring -------------------------------------------------------------------------
    def _segments(self, n: int) -> list:
        bounds = np.cumsum([0] + [len(a) for a in np.array_split(np.empty(n), self.size)])
        return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]

    def _pieces(self, seg: slice, itemsize: int) -> list:
        """`seg` cut into messages of at most `chunk_bytes` (sender and receiver cut the same
        slice the same way)."""
        if not self.chunk_bytes or seg.stop - seg.start <= 1:
            return [seg]
        step = max(1, self.chunk_bytes // itemsize)
        return [slice(a, min(a + step, seg.stop)) for a in range(seg.start, seg.stop, step)]

    def _exchange(self, flat: np.ndarray, out: slice, inc: slice, tag: tuple,
                  add: bool) -> None:
        """One ring step: flat[out] to the next worker while the previous one's segment
        arrives into flat[inc] (added or copied), a piece at a time."""
        outs, incs = self._pieces(out, flat.itemsize), self._pieces(inc, flat.itemsize)
        for k in range(max(len(outs), len(incs))):
            if k < len(outs):
                self._send((self.rank + 1) % self.size, tag + (k,), flat[outs[k]])
            if k < len(incs):
                piece = self._recv((self.rank - 1) % self.size, tag + (k,))
                if add:
                    flat[incs[k]] += piece
                else:
                    flat[incs[k]] = piece

    def _reduce_scatter_ring(self, flat: np.ndarray, seq: int, segs: list) -> None:
        """In place on `flat`: afterwards segment `rank` holds the sum over all workers."""
        n, r = self.size, self.rank
        for step in range(n - 1):
            self._exchange(flat, segs[(r - step - 1) % n], segs[(r - step - 2) % n],
                           (seq, "rs", step), add=True)

    def _all_gather_ring(self, flat: np.ndarray, seq: int, segs: list) -> None:
        """In place on `flat`: segment k comes from worker k, passed round the ring."""
        n, r = self.size, self.rank
        for step in range(n - 1):
            self._exchange(flat, segs[(r - step) % n], segs[(r - step - 1) % n],
                           (seq, "ag", step), add=False)

    def all_reduce(self, array: np.ndarray) -> np.ndarray:
        """The sum over the group of every worker's `array` (same shape and dtype on all)."""
        seq = self._begin("all_reduce")
        flat = np.array(array, copy=True).reshape(-1)
        segs = self._segments(flat.size)
        self._reduce_scatter_ring(flat, seq, segs)
        self._all_gather_ring(flat, seq, segs)
        self._acknowledged()
        return flat.reshape(np.shape(array))

    def reduce_scatter(self, array: np.ndarray) -> np.ndarray:
        """Segment `rank` (of N, `np.array_split` of the flattened buffer) of the sum."""
        seq = self._begin("reduce_scatter")
        flat = np.array(array, copy=True).reshape(-1)
        segs = self._segments(flat.size)
        self._reduce_scatter_ring(flat, seq, segs)
        self._acknowledged()
        return flat[segs[self.rank]].copy()

    def all_gather(self, array: np.ndarray) -> list:
        """Every worker's `array`, in rank order (shapes may differ between workers)."""
        seq = self._begin("all_gather")
        n, r = self.size, self.rank
        parts: list = [None] * n
        parts[r] = np.asarray(array)
        for step in range(n - 1):
            self._send((r + 1) % n, (seq, "ag", step), parts[(r - step) % n])
            parts[(r - step - 1) % n] = np.array(self._recv((r - 1) % n, (seq, "ag", step)))
        self._acknowledged()
        return parts

    def broadcast(self, array: Optional[np.ndarray], root: int = 0) -> np.ndarray:
        """`root`'s array on every worker, pipelined along the ring in N segments: each
        worker forwards a segment as soon as it has it."""
        seq = self._begin("broadcast")
        n, r = self.size, self.rank
        if r == root:
            array = np.asarray(array)
            meta = (array.shape, array.dtype.str)
        else:
            meta = None
        nxt, prev, last = (r + 1) % n, (r - 1) % n, (root - 1) % n
        if n == 1:
            return np.array(array, copy=True)
        if r != root:
            meta = self._recv(prev, (seq, "meta"))
        if r != last:
            self._send(nxt, (seq, "meta"), meta)
        shape, dtype = meta
        flat = (np.array(array, copy=True).reshape(-1) if r == root
                else np.empty(int(np.prod(shape)), np.dtype(dtype)))
        for k, seg in enumerate(self._segments(flat.size)):
            for j, piece in enumerate(self._pieces(seg, flat.itemsize)):
                if r != root:
                    flat[piece] = self._recv(prev, (seq, "bc", k, j))
                if r != last:
                    self._send(nxt, (seq, "bc", k, j), flat[piece])
        self._acknowledged()
        return flat.reshape(shape)


class CollectiveWorker:
    """Actor body of one group member: `self.comm` is its end of the ring. It hosts the
    objects of the jobs run on the group (a data-parallel replica, tensor-parallel layers:
    `install` builds one with the communicator, `invoke` calls its methods), so one set of
    processes serves many jobs. The collectives are methods here too."""

    def __init__(self) -> None:
        self.comm: Optional[Communicator] = None
        self.objects: dict = {}

    def connect(self, peers: Sequence, rank: int, **options) -> int:
        """Join the ring of `peers` as `rank` (a fresh communicator: new counts and tags;
        `options` are the Communicator's)."""
        self.comm = Communicator(rank, len(peers), **options)
        self.comm.peers = list(peers)
        return rank

    def install(self, key: str, factory: Callable, *args, **kwargs) -> None:
        self.objects[key] = factory(self.comm, *args, **kwargs)

    def invoke(self, key: str, method: str, *args, **kwargs):
        return getattr(self.objects[key], method)(*args, **kwargs)

    def uninstall(self, key: str) -> None:
        job = self.objects.pop(key, None)
        if hasattr(job, "close"):
            job.close()

    def deliver(self, src: int, tag: tuple, array: np.ndarray) -> None:
        self.comm.deliver(src, tag, array)

    def stats(self) -> CommStats:
        return self.comm.stats

    def all_reduce(self, array):
        return self.comm.all_reduce(array)

    def reduce_scatter(self, array):
        return self.comm.reduce_scatter(array)

    def all_gather(self, array):
        return self.comm.all_gather(array)

    def broadcast(self, array, root: int = 0):
        return self.comm.broadcast(array, root)


_RemoteWorker = ray.remote(CollectiveWorker)


class Group:
    """N `CollectiveWorker` actors wired into a ring.

    Args:
        workers: actors of another group to re-wire into this one (its first `num_workers`,
            which then leave the old ring); by default new actors are started.
        timeout: seconds any worker waits for one message before raising `CollectiveError`.
        latency: seconds slept before every message (an injected network latency).
        chunk_bytes: the largest message (default: one message per segment).
        env: environment variables of new worker processes (BLAS threads default to 1).
    """

    def __init__(self, num_workers: int, timeout: float = 30.0, latency: float = 0.0,
                 chunk_bytes: Optional[int] = None, env: Optional[dict] = None,
                 workers: Optional[Sequence] = None) -> None:
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        self.size, self.timeout = num_workers, timeout
        if workers is None:
            runtime_env = {"env_vars": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                        **(env or {})}}
            remote = _RemoteWorker.options(num_cpus=0, max_concurrency=4,
                                           runtime_env=runtime_env)
            workers = [remote.remote() for _ in range(num_workers)]
        elif len(workers) < num_workers:
            raise ValueError(f"a group of {num_workers} needs as many workers, got "
                             f"{len(workers)}")
        self.workers = list(workers[:num_workers])
        options = {"timeout": timeout, "latency": latency, "chunk_bytes": chunk_bytes}
        self.gather([w.connect.remote(self.workers, r, **options)
                     for r, w in enumerate(self.workers)], "connect",
                    limit=max(STARTUP_TIMEOUT, 2 * timeout + 10))

    def run(self, method: str, *per_worker: Sequence, **kwargs) -> list:
        """Call `method` on every worker, worker r with the r-th entry of each of
        `per_worker`, and the same `kwargs`; their results in rank order."""
        calls = [getattr(w, method).remote(*(a[r] for a in per_worker), **kwargs)
                 for r, w in enumerate(self.workers)]
        return self.gather(calls, method)

    def invoke(self, key: str, method: str, *per_worker: Sequence, **kwargs) -> list:
        """`method` of the object installed as `key` on every worker (arguments as `run`)."""
        calls = [w.invoke.remote(key, method, *(a[r] for a in per_worker), **kwargs)
                 for r, w in enumerate(self.workers)]
        return self.gather(calls, f"{key}.{method}")

    def gather(self, refs: list, what: str, limit: Optional[float] = None) -> list:
        """The results of one call per worker; if any fails, waits for the others to fail
        or finish (each within the timeout; all within `limit` s) and raises one error
        naming every worker's fate, a dead worker first."""
        limit = 2 * self.timeout + 10 if limit is None else limit
        done, pending = ray.wait(refs, num_returns=len(refs), timeout=limit)
        failures, results = {}, []
        for r, ref in enumerate(refs):
            if ref in pending:
                failures[r] = f"worker {r}: no answer within {limit:.0f} s"
                continue
            try:
                results.append(ray.get(ref))
            except RayActorError:
                failures[r] = f"worker {r} died"
            except ray.exceptions.RayTaskError as e:
                cause = e.cause if isinstance(e.cause, Exception) else e
                failures[r] = f"worker {r}: {type(cause).__name__}: {cause}"
        if failures:
            dead = [r for r, f in failures.items() if f.endswith("died")]
            order = dead + [r for r in failures if r not in dead]
            head = f"worker {dead[0]} died during {what}" if dead else f"{what} failed"
            raise CollectiveError(head + "; " + "; ".join(failures[r] for r in order))
        return results

    def stats(self) -> list:
        return self.run("stats")

    def shutdown(self) -> None:
        for w in self.workers:
            ray.kill(w)


class GroupJob:
    """A job hosted on a `Group`'s workers under one key (`install`ed there). A job that
    started its own group (no `group=` given) stops its workers on `shutdown`, or on leaving
    a `with` block; one given a group only uninstalls itself, leaving the group to others."""

    def __init__(self, group: Optional[Group], make_group: Callable[[], Group], prefix: str,
                 factory: Callable, *per_worker_args) -> None:
        self.owns_group = group is None
        self.group = make_group() if group is None else group
        self.key = f"{prefix}_{id(self)}"
        n = self.group.size
        self.group.run("install", [self.key] * n, [factory] * n,
                       *[[a] * n for a in per_worker_args])

    def shutdown(self) -> None:
        try:
            self.group.run("uninstall", [self.key] * self.group.size)
        finally:
            if self.owns_group:
                self.group.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
