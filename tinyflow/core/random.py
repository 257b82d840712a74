"""The one random generator that random ops draw from; `manual_seed` makes runs repeatable."""
from __future__ import annotations

import functools
from typing import Optional

import numpy as np

from .dtypes import DType, float_info
from .modes import trace_state


def _fresh_seed() -> int:
    """A nondeterministic seed (from the OS's entropy), kept to be reported by initial_seed."""
    return int(np.random.SeedSequence().entropy) % 2**63


_seed = _fresh_seed()
_generator = np.random.default_rng(_seed)


def generator() -> np.random.Generator:
    return _generator


def python_draws(what: str, rng: Optional[np.random.Generator] = None) -> np.random.Generator:
    """The generator (`rng`, else the global one) for numbers drawn now, in Python (an eager
    factory, `normal_`); under `tinyflow.compile` a graph break: the graph would hold this
    call's numbers as constants and give them on every call."""
    if trace_state.active is not None:
        trace_state.active.graph_break(f"{what}: random numbers drawn in Python (a graph "
                                       f"would repeat this call's)")
    return _generator if rng is None else rng


def refuse_integers(name: str, dtype) -> None:
    """Uniform or normal floats drawn into an integer or bool dtype would be cut to (mostly)
    zeros, or all True: refused, as PyTorch refuses them (randint draws integers)."""
    if not dtype.is_floating:
        raise NotImplementedError(f"{name}: draws floating point values; dtype {dtype.name} "
                                  f"is not a floating point type (use randint for integers)")


@functools.lru_cache(maxsize=None)
def _limits(dt: DType) -> tuple:
    """(lowest, highest) value of a dtype: bool 0 and 1, an integer type's, a float type's
    largest finite numbers."""
    kind = np.dtype(dt.np).kind
    if kind == "b":
        return 0, 1
    if kind in "iu":
        return int(np.iinfo(dt.np).min), int(np.iinfo(dt.np).max)
    top = float(float_info(dt).max)
    return -top, top


def check_draw_range(name: str, low, high, dt: DType) -> None:
    """Integers drawn from [low, high) and cast to `dt` must fit it (int8's 200 would wrap to
    -56, float16's 70000 become inf): refused, as PyTorch refuses them."""
    lo, hi = _limits(dt)
    for what, value in (("from", low), ("to - 1", high - 1)):
        if not lo <= value <= hi:
            raise RuntimeError(f"{name}: {what} is out of bounds for {dt.name} "
                               f"({low}, {high}): {dt.name} holds {lo} to {hi}")


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed every random op (PyTorch's `torch.manual_seed`, TF1's `tf.set_random_seed`)."""
    global _generator, _seed
    if trace_state.active is not None:   # (eagerly, every call reseeds)
        trace_state.active.graph_break("manual_seed inside a compiled function")
    _seed = int(seed)
    _generator = np.random.default_rng(_seed)
    return _generator


def initial_seed() -> int:
    """The seed the generator was last seeded with (PyTorch's `torch.initial_seed`, which
    data-loading workers read to seed NumPy and `random`)."""
    return _seed


def seed() -> int:
    """Reseed with a fresh nondeterministic seed and return it (PyTorch's `torch.seed`)."""
    fresh = _fresh_seed()
    manual_seed(fresh)
    return fresh


# A new `torch.Generator()` starts from this fixed seed (PyTorch's default_rng_seed_val), so a
# program that makes one and never seeds it draws the same values on every run.
GENERATOR_SEED = 67280421310721


class Generator:
    """PyTorch's `torch.Generator`: an independent, seedable random stream."""

    def __init__(self, device: str = "cpu") -> None:
        self.manual_seed(GENERATOR_SEED)

    def manual_seed(self, seed: int) -> "Generator":
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        return self._seed

    def seed(self) -> int:
        """Reseed with a fresh nondeterministic seed and return it."""
        return self.manual_seed(_fresh_seed())._seed
