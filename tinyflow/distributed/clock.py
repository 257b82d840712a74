"""The clock table: one clock per worker, the consistency bound, and failure detection.

A worker's clock counts the iterations whose updates it has pushed. Under SSP with
staleness s, a worker at clock c may start iteration c + 1 only when every live worker has
reached clock c - s (BSP is s = 0: a barrier; asynchronous is no bound). A worker not heard
from for `timeout` seconds is dropped from the minimum (it rejoins when it ticks again), and
a finished worker no longer holds anybody back. Every admission is recorded as (worker,
clock, slowest live clock), so tests can check the bound was never exceeded.
"""
from __future__ import annotations

import asyncio
import time
from typing import Optional

import ray


class ClockTable:
    def __init__(self, num_workers: int, timeout: float = 30.0) -> None:
        self.clocks = {w: 0 for w in range(num_workers)}
        self.seen = {w: time.monotonic() for w in range(num_workers)}
        self.finished: set = set()
        self.timeout = timeout
        self._recheck = min(1.0, max(0.05, timeout / 4))   # seconds between liveness checks
        self.history: list = []       # (worker, clock, slowest live clock, seconds waited)
        self.epochs: dict = {}        # worker -> registrations so far
        self._changed = asyncio.Condition()

    def _live(self) -> list:
        now = time.monotonic()
        return [w for w in self.clocks
                if w not in self.finished and now - self.seen[w] <= self.timeout]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def register(self, worker: int) -> tuple:
        """A new client for `worker` (a restarted or replaced worker): (its epoch, the clock to
        resume from). The epoch keeps its pushes apart from an earlier client's; the worker
        counts as live and unfinished again."""
        self.epochs[worker] = self.epochs.get(worker, 0) + 1
        if worker in self.clocks:
            self.finished.discard(worker)
            self.seen[worker] = time.monotonic()
            await self._notify()
        return self.epochs[worker], self.clocks.get(worker, 0)

    async def tick(self, worker: int, clock: int) -> None:
        self.clocks[worker] = clock
        self.seen[worker] = time.monotonic()
        await self._notify()

    async def finish(self, worker: int) -> None:
        self.finished.add(worker)
        await self._notify()

    async def wait(self, worker: int, clock: int, staleness: Optional[int]) -> tuple:
        """Block until the slowest live worker is at least `clock - staleness`; returns
        (seconds waited, slowest live clock)."""
        start = time.monotonic()
        self.seen[worker] = start
        while True:
            live = self._live() or [worker]
            slowest = min(self.clocks[w] for w in live)
            if staleness is None or slowest >= clock - staleness:
                break
            async with self._changed:   # woken by a tick, or time out to re-check liveness
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout=self._recheck)
                except asyncio.TimeoutError:
                    pass
            self.seen[worker] = time.monotonic()
        waited = time.monotonic() - start
        self.history.append((worker, clock, slowest, waited))
        return waited, slowest

    async def get_history(self) -> list:
        return list(self.history)

    async def get_clocks(self) -> dict:
        return dict(self.clocks)


RemoteClockTable = ray.remote(num_cpus=0)(ClockTable)
