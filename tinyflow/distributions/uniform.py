"""`Uniform(low, high)`: uniform on [low, high) per element; `rsample` is
low + u * (high - low), through which gradients reach low and high."""
from __future__ import annotations

import numpy as np

from ..core.op import as_tensor
from ..pytorch.creation import rand
from ..pytorch.shared_names import broadcast_to
from . import constraints
from .distribution import Distribution


class Uniform(Distribution):
    has_rsample = True

    def __init__(self, low, high, validate_args=None) -> None:
        low, high = as_tensor(low), as_tensor(high)
        low = low if low.dtype.is_floating else low.float()
        high = high if high.dtype.is_floating else high.float()
        shape = np.broadcast_shapes(tuple(low.shape), tuple(high.shape))
        self.low, self.high = broadcast_to(low, shape), broadcast_to(high, shape)
        super().__init__(shape, validate_args=validate_args)
        if self._validate_args and self.low.kind == self.high.kind == "eager" and not bool(
                (self.low < self.high).all()):
            raise ValueError(f"Uniform: low must be below high everywhere; low "
                             f"{self.low.detach().numpy()}, high {self.high.detach().numpy()}")

    @property
    def support(self):
        return constraints.interval(self.low, self.high)

    @property
    def mean(self):
        return (self.low + self.high) / 2

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=()):
        u = rand(*self._extended_shape(sample_shape), dtype=self.low.dtype)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        """-log(high - low) inside [low, high), -inf outside (high is in the support, as
        PyTorch's: validation lets it through and it scores -inf)."""
        if self._validate_args:
            self._validate_sample(value)
        value = as_tensor(value)
        inside = ((self.low <= value) & (value < self.high)).to(self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def entropy(self):
        return (self.high - self.low).log()

    def __repr__(self) -> str:
        return f"Uniform(low: {self.low.shape}, high: {self.high.shape})"
