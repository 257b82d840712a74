"""Slow workers on purpose, for experiments and tests."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class Straggler:
    """After a step that took t seconds of compute, sleep (slowdown - 1) * t, so the step
    takes `slowdown` times as long: always (`permanent`) or with probability `prob` per step
    (transient). A fixed `seed` makes the slow steps repeatable."""
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

    def after_step(self, compute_seconds: float) -> None:
        if self.permanent or self._rng.random() < self.prob:
            pause = (self.slowdown - 1) * compute_seconds
            time.sleep(pause)
            self.slept += pause
