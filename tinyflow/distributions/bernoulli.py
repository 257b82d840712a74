"""`Bernoulli`: a 0/1 variable per element, given by probabilities or log-odds (binary
policies, dropout-like masks, the output of a binary VAE decoder)."""
from __future__ import annotations

import numpy as np

from ..core.op import as_tensor
from ..pytorch.creation import rand
from . import constraints
from .distribution import Distribution


def softplus(x):
    """log(1 + e^x) without overflow (F.softplus's threshold would cut the gradient)."""
    return x.clamp(min=0) + (-x.abs()).exp().log1p()


class Bernoulli(Distribution):
    """`Bernoulli(probs)` or `Bernoulli(logits=...)`, elementwise; samples are 0.0 / 1.0 in
    the parameters' dtype."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean

    def __init__(self, probs=None, logits=None, validate_args=None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Bernoulli: give either `probs` or `logits`, not both")
        self._given = "probs" if probs is not None else "logits"
        if probs is not None:
            self.probs = as_tensor(probs)
            if not self.probs.dtype.is_floating:
                self.probs = self.probs.float()
            eps = float(np.finfo(self.probs.dtype.np).eps)
            p = self.probs.clamp(eps, 1 - eps)
            self.logits = p.log() - (-p).log1p()
        else:
            self.logits = as_tensor(logits)
            if not self.logits.dtype.is_floating:
                self.logits = self.logits.float()
            self.probs = self.logits.sigmoid()
        super().__init__(self.probs.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        drawn = rand(*shape, dtype=self.probs.dtype) < self.probs.detach()
        return drawn.to(self.probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = as_tensor(value).to(self.logits.dtype)
        return value * self.logits - softplus(self.logits)

    def entropy(self):
        return softplus(self.logits) - self.probs * self.logits

    def __repr__(self) -> str:
        return f"Bernoulli(probs: {self.probs.shape})"

