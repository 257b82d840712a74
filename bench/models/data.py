"""NumPy-only helpers the workloads share: deterministic parameters and data, so torch and
tinyflow start from the same numbers (their own random initializers differ) and their losses
can be compared step by step. No framework is imported here."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Workload:
    """build() returns a step function; each call runs one step and returns its loss (or an
    output whose sum stands for it). `steps` is fixed so step N means the same in both; `drift`
    is how far step N's loss may be from torch's."""
    build: Callable[[], Callable]
    steps: int
    kind: str = "train"
    drift: float = 2e-3   # relative: step N's loss vs torch's (float32 sums in another order)


def param_array(name: str, shape) -> np.ndarray:
    """A parameter's starting value from its name alone: uniform in +-1/sqrt(fan_in), and
    1 + small noise for 1-D weights (norm scales)."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    shape = tuple(shape)
    if len(shape) == 1 and name.endswith("weight"):
        return (1.0 + 0.1 * rng.uniform(-1, 1, shape)).astype(np.float32)
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def uniform(seed: int, *shape) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def integers(seed: int, high: int, *shape) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, shape).astype(np.int64)
