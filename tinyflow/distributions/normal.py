"""`Normal(loc, scale)`: Gaussian policies and VAE posteriors; `rsample` is the
reparameterized draw loc + scale * eps that gradients flow through."""
from __future__ import annotations

import math

import numpy as np

from ..core.op import as_tensor
from ..pytorch.creation import randn
from ..pytorch.shared_names import broadcast_to
from . import constraints
from .distribution import Distribution


class Normal(Distribution):
    has_rsample = True
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc, scale, validate_args=None) -> None:
        loc, scale = as_tensor(loc), as_tensor(scale)
        if not loc.dtype.is_floating:
            loc = loc.float()
        if not scale.dtype.is_floating:
            scale = scale.float()
        shape = np.broadcast_shapes(tuple(loc.shape), tuple(scale.shape))
        self.loc, self.scale = broadcast_to(loc, shape), broadcast_to(scale, shape)
        super().__init__(shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def rsample(self, sample_shape=()):
        eps = randn(*self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = as_tensor(value)
        return (-((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log()
                - math.log(math.sqrt(2 * math.pi)))

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()

    def __repr__(self) -> str:
        return f"Normal(loc: {self.loc.shape}, scale: {self.scale.shape})"
