"""What crosses between processes, counted: transfers by (kind, from, to) with their bytes,
and the driver's calls (round trips) per device; and the error a device's failure raises."""
from __future__ import annotations

import itertools
import threading
from collections import Counter

from ..core.tensor import Tensor


class DeviceError(RuntimeError):
    """A device's worker died, timed out or could not be reached; the message names it."""


class Transfer:
    """One forward transfer under autograd: its gradient goes back to `source`'s device."""
    __slots__ = ("seq", "source")
    _counter = itertools.count()

    def __init__(self, source: Tensor) -> None:
        self.seq, self.source = next(Transfer._counter), source


class TransferStats:
    """Counts of what crossed between processes: transfers by (kind, from, to) with their
    bytes, and the driver's calls (round trips) per device."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.transfers: Counter = Counter()
        self.bytes: Counter = Counter()
        self.calls: Counter = Counter()

    def transfer(self, kind: str, source: str, target: str, nbytes: int) -> None:
        with self.lock:
            self.transfers[(kind, source, target)] += 1
            self.bytes[(kind, source, target)] += int(nbytes)

    def call(self, device: str) -> None:
        with self.lock:
            self.calls[device] += 1

    def snapshot(self) -> dict:
        with self.lock:
            return {"transfers": dict(self.transfers), "bytes": dict(self.bytes),
                    "calls": dict(self.calls)}


STATS = TransferStats()
