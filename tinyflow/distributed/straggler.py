"""Slow workers on purpose, for experiments and tests.

Two kinds: `Straggler` slows one given worker (always, or on a random share of its steps);
`roaming(...)` makes exactly one worker slow at every step, a different random one each time,
which is how transient slowness from GC pauses or a busy neighbour looks in a cluster. The
difference matters: no consistency model can outrun a worker that is slower *on average*
(SSP only absorbs variance within its staleness bound), while a roaming straggler stalls
every BSP step and only a bounded share of each SSP worker's steps.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class Straggler:
    """After a step whose work (read, compute, push, clock; not the time spent blocked on
    slower workers) took t seconds, sleep (slowdown - 1) * t, so the worker runs `slowdown`
    times slower: always (`permanent`) or with probability `prob` per step (transient). A
    fixed `seed` makes the slow steps repeatable."""
    slowdown: float = 4.0
    prob: float = 1.0
    permanent: bool = False
    seed: Optional[int] = 0

    def __post_init__(self) -> None:
        if self.slowdown < 1 or not 0 <= self.prob <= 1:
            raise ValueError(f"slowdown must be >= 1 and prob in [0, 1], got "
                             f"{self.slowdown}, {self.prob}")
        self._rng = np.random.default_rng(self.seed)
        self.slept = 0.0
        self.slow_steps = 0

    def is_slow(self) -> bool:
        """Draw whether this step is slow (advances the random stream)."""
        return self.permanent or bool(self._rng.random() < self.prob)

    def after_step(self, work_seconds: float) -> None:
        if self.is_slow():
            pause = (self.slowdown - 1) * work_seconds
            time.sleep(pause)
            self.slept += pause
            self.slow_steps += 1


@dataclass
class RoamingStraggler(Straggler):
    """Worker `worker`'s view of a straggler that roams over `num_workers` workers: on step t
    the slow worker is drawn from a stream seeded by `seed` that every worker replays
    identically, so on each step exactly one worker is slow without any communication."""
    worker: int = 0
    num_workers: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.worker < self.num_workers:
            raise ValueError(f"worker {self.worker} is not one of {self.num_workers} workers")

    def is_slow(self) -> bool:
        return int(self._rng.integers(self.num_workers)) == self.worker


def roaming(slowdown: float, num_workers: int, seed: int = 0) -> dict:
    """{worker: RoamingStraggler} for PSTrainer(stragglers=...): on every step one of the
    `num_workers` workers, picked at random, takes `slowdown` times as long."""
    return {w: RoamingStraggler(slowdown, seed=seed, worker=w, num_workers=num_workers)
            for w in range(num_workers)}
