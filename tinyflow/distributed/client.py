"""The worker's side: push gradients, pull parameters, advance the clock, under one of three
consistency models, with a local cache of the parameters.

`Consistency("bsp")`, `Consistency("ssp", staleness=s)` or `Consistency("async")`. Every
model pulls each clock, BSP and SSP after waiting for the slowest worker as the clock table
requires; with `lazy=True`, SSP instead reads its cached copy while that still holds every
update the bound requires ("lazy" communication: fewer pulls, staler reads). Stats: seconds
waited, staleness seen (own clock minus the slowest live clock at each read), bytes pushed
and pulled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np
import ray
from ray.exceptions import RayActorError

from .server import check_gradient
from .sharding import Layout


@dataclass(frozen=True)
class Consistency:
    model: str = "bsp"
    staleness: int = 0
    lazy: bool = False

    def __post_init__(self) -> None:
        if self.model not in ("bsp", "ssp", "async"):
            raise ValueError(f"consistency must be 'bsp', 'ssp' or 'async', got {self.model!r}")
        if self.staleness < 0:
            raise ValueError(f"staleness must be >= 0, got {self.staleness}")

    @property
    def bound(self) -> Optional[int]:
        """How many clocks ahead of the slowest worker one may run (None: unbounded)."""
        return None if self.model == "async" else 0 if self.model == "bsp" else self.staleness

    def __str__(self) -> str:
        if self.model != "ssp":
            return self.model
        return f"ssp(s={self.staleness}{', lazy' if self.lazy else ''})"


def bsp() -> Consistency:
    return Consistency("bsp")


def ssp(staleness: int, lazy: bool = False) -> Consistency:
    return Consistency("ssp", staleness, lazy)


def asynchronous() -> Consistency:
    return Consistency("async")


@dataclass
class Stats:
    wait_seconds: float = 0.0
    bytes_pushed: int = 0
    bytes_pulled: int = 0
    pushes: int = 0
    pulls: int = 0
    cache_reads: int = 0
    staleness: list = field(default_factory=list)
    failovers: int = 0


class PSClient:
    """One worker's connection to the servers and the clock table.

    A client registers with the clock table on its first push, read or clock (in the
    process it runs in: a copy sent to a Ray actor registers anew), which gives it an epoch
    and the worker's clock to resume from; its pushes are (worker, epoch, sequence number), so
    a replacement client for the same worker is neither skipped as a replay nor replayed.

    Args:
        replicas: per shard, its replica actors, primary first.
        dtypes: {key: dtype} of the parameters (gradients are cast to them).
        allow_nonfinite: send gradients holding nan/inf instead of refusing them.
    """

    def __init__(self, worker: int, layout: Layout, replicas: list, clock_table,
                 consistency: Consistency = Consistency(), dtypes: Optional[Mapping] = None,
                 allow_nonfinite: bool = False) -> None:
        self.worker, self.layout = worker, layout
        self.replicas = [list(r) for r in replicas]
        self.replication = [len(r) for r in replicas]
        self.clock_table, self.consistency = clock_table, consistency
        self.dtypes = {k: np.dtype(d) for k, d in (dtypes or {}).items()}
        self.allow_nonfinite = allow_nonfinite
        self.epoch: Optional[int] = None
        self.clock_value = 0
        self.seq = 0
        self.cache: Optional[dict] = None
        self.cache_clock = -1
        self.stats = Stats()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(epoch=None, seq=0)             # another process: another registration
        return state

    def register(self) -> int:
        """Register (once per process) and return the clock this worker resumes from."""
        if self.epoch is None:
            self.epoch, self.clock_value = ray.get(self.clock_table.register.remote(self.worker))
            self.seq = 0
        return self.clock_value

    # ---- the API ------------------------------------------------------------------------
    def push(self, values: Mapping[str, np.ndarray], step: Optional[int] = None) -> None:
        """Send gradients (keys -> arrays shaped as the parameters); returns once every shard
        has them on all its live replicas. Every gradient is checked (key, shape, a real
        number type, finite unless allowed) before anything is sent. With `step` (the
        worker's iteration, increasing), a shard applies at most one push per (worker, step)
        over all its clients: a replacement redoing its predecessor's step is not counted
        twice."""
        checked = {key: self._check(key, value) for key, value in values.items()}
        parts = self.layout.split(checked)
        self.register()
        self.seq += 1
        seq = self.seq
        shards = [s for s, part in enumerate(parts) if part]

        def full(s):
            return self.worker, self.epoch, seq, parts[s], step

        if len(shards) > 1:          # two phases: every shard checks it before any applies it
            self._call(shards, "prepare", full)
            done = self._call(shards, "push", lambda s: (self.worker, self.epoch, seq, None, step),
                              what=f"push {seq} of worker {self.worker}", retry=full)
            again = [s for s, applied in zip(shards, done) if applied is None]
            if again:                # prepared on a primary that has since died
                self._call(again, "push", full, what=f"push {seq} of worker {self.worker}")
        else:
            self._call(shards, "push", full, what=f"push {seq} of worker {self.worker}")
        self.stats.pushes += 1
        self.stats.bytes_pushed += sum(a.nbytes for part in parts for a in part.values())

    def _check(self, key: str, value) -> np.ndarray:
        return check_gradient(f"push of worker {self.worker}", key, value,
                              self.layout.shape_of(key),
                              self.dtypes.get(key, np.dtype(np.float64)), self.allow_nonfinite)

    def pull(self, keys=None) -> dict:
        """The servers' current values of `keys` (all parameters if None)."""
        keys = sorted(self.layout.shapes) if keys is None else list(keys)
        for k in keys:
            if k not in self.layout.shapes:
                raise KeyError(f"unknown parameter key {k!r}")
        shards = sorted(self.layout.shards_of(keys))
        names = {s: [p.name for k in keys for p in self.layout.pieces[k] if p.shard == s]
                 for s in shards}
        pulled = self._call(shards, "pull", lambda s: (names[s],))
        per_shard = [{} for _ in range(self.layout.num_shards)]
        for s, got in zip(shards, pulled):
            per_shard[s] = got
        self.stats.pulls += 1
        self.stats.bytes_pulled += sum(a.nbytes for got in pulled for a in got.values())
        return self.layout.join(keys, per_shard)

    def clock(self) -> int:
        """Mark this worker's iteration done (its pushes are acknowledged)."""
        self.register()
        self.clock_value += 1
        ray.get(self.clock_table.tick.remote(self.worker, self.clock_value))
        return self.clock_value

    def read(self) -> dict:
        """Parameters to compute the next iteration with, as the consistency model allows.

        A pull made when the slowest live worker was at clock m holds every update of
        iterations up to m; at clock c, SSP needs those up to c - s, so the cached copy
        serves while m >= c - s (the worker's own later pushes are not in it)."""
        self.register()
        bound = self.consistency.bound
        c = self.clock_value
        slowest = c
        if bound is not None:
            waited, slowest = ray.get(self.clock_table.wait.remote(self.worker, c, bound))
            self.stats.wait_seconds += waited
            self.stats.staleness.append(c - slowest)
        if (self.consistency.lazy and self.cache is not None
                and self.cache_clock >= c - bound):
            self.stats.cache_reads += 1          # fresh enough: no communication
            return self.cache
        self.cache, self.cache_clock = self.pull(), slowest
        return self.cache

    def finish(self) -> None:
        ray.get(self.clock_table.finish.remote(self.worker))

    # ---- failover -----------------------------------------------------------------------
    def _primary(self, shard: int):
        if not self.replicas[shard]:
            raise self._lost(shard)
        return self.replicas[shard][0]

    def _lost(self, shard: int) -> RuntimeError:
        r = self.replication[shard]
        advice = ("it had one replica: use replication >= 2 to survive a server failure"
                  if r == 1 else f"all {r} of its replicas failed")
        return RuntimeError(f"every replica of shard {shard} is gone: its parameters are "
                            f"lost ({advice})")

    def _call(self, shards: list, method: str, args, what: str = "", retry=None) -> list:
        """Call `method` on each shard's primary concurrently; where a primary has died,
        promote its first live backup and call again (with `retry(s)`'s arguments if given).
        If some shards raise, wait for the others, then raise the first error saying which
        shards did apply the call."""
        refs = {s: getattr(self._primary(s), method).remote(*args(s)) for s in shards}
        out, errors = {}, {}
        for s in shards:
            while True:
                try:
                    out[s] = ray.get(refs[s])
                    break
                except RayActorError:
                    self._fail_over(s)
                    again = (retry or args)(s)
                    refs[s] = getattr(self._primary(s), method).remote(*again)
                except Exception as e:       # the shard refused: nothing changed on it
                    errors[s] = e
                    break
        if errors:
            first = next(iter(errors.values()))
            if out and what:
                first.add_note(f"{what}: refused by shard(s) {sorted(errors)} (unchanged), "
                               f"applied by shard(s) {sorted(out)}")
            raise first
        return [out[s] for s in shards]

    def _fail_over(self, shard: int) -> None:
        """Drop the dead primary; the next replica in the chain takes over the rest."""
        chain = self.replicas[shard]
        if chain:
            chain.pop(0)
        while chain:
            try:
                ray.get(chain[0].set_backups.remote(chain[1:]))
                self.stats.failovers += 1
                return
            except RayActorError:
                chain.pop(0)
        raise self._lost(shard)
