"""The one random generator that random ops draw from; `manual_seed` makes runs repeatable."""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def generator() -> np.random.Generator:
    return _generator


def refuse_integers(name: str, dtype) -> None:
    """Uniform or normal floats drawn into an integer or bool dtype would be cut to (mostly)
    zeros, or all True: refused, as PyTorch refuses them (randint draws integers)."""
    if not dtype.is_floating:
        raise NotImplementedError(f"{name}: draws floating point values; dtype {dtype.name} "
                                  f"is not a floating point type (use randint for integers)")


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed every random op (PyTorch's `torch.manual_seed`, TF1's `tf.set_random_seed`)."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


class Generator:
    """PyTorch's `torch.Generator`: an independent, seedable random stream."""

    def __init__(self, device: str = "cpu") -> None:
        self.rng = np.random.default_rng()

    def manual_seed(self, seed: int) -> "Generator":
        self.rng = np.random.default_rng(int(seed))
        return self
