"""`Categorical`: one of K classes, given by probabilities or unnormalized log-probabilities
(the policy head of REINFORCE and actor-critic)."""
from __future__ import annotations

import numpy as np

from ..core.op import as_tensor
from ..pytorch.shared_names import broadcast_to, logsumexp, multinomial
from . import constraints
from .distribution import Distribution


class Categorical(Distribution):
    """`Categorical(probs)` or `Categorical(logits=...)`, over the last dim (K classes);
    the other dims are the batch. Probabilities are normalized to sum to one."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, probs=None, logits=None, validate_args=None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: give either `probs` or `logits`, not both")
        self._given = "probs" if probs is not None else "logits"
        source = as_tensor(probs if probs is not None else logits)
        if source.ndim is None or source.ndim < 1:
            raise ValueError(f"Categorical: `{'probs' if probs is not None else 'logits'}` "
                             f"needs at least one dimension, got shape {source.shape}")
        if probs is not None:
            self.probs = source / source.sum(-1, keepdim=True)
            eps = float(np.finfo(self.probs.dtype.np).eps)
            self.logits = self.probs.clamp(eps, 1 - eps).log()   # PyTorch's probs_to_logits
        else:   # +inf logits give inf - inf = NaN, which validation reports: no NumPy warning
            with np.errstate(invalid="ignore"):
                self.logits = source - logsumexp(source, -1, keepdim=True)
            self.probs = self.logits.exp()
        self._num_events = source.shape[-1]
        super().__init__(source.shape[:-1], validate_args=validate_args)

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def param_shape(self):
        return self.probs.shape

    def sample(self, sample_shape=()):
        """Class indices (int64) of shape sample_shape + batch_shape."""
        sample_shape = tuple(sample_shape)
        n = int(np.prod(sample_shape)) if sample_shape else 1
        rows = self.probs.detach().reshape(-1, self._num_events)
        drawn = multinomial(rows, n, replacement=True).T   # (n, batch)
        return drawn.reshape(self._extended_shape(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = as_tensor(value).long().unsqueeze(-1)
        shape = np.broadcast_shapes(tuple(value.shape), tuple(self.logits.shape))
        index = broadcast_to(value, shape[:-1] + (1,))
        return broadcast_to(self.logits, shape).gather(-1, index).squeeze(-1)

    def entropy(self):
        smallest = float(np.finfo(self.logits.dtype.np).min)
        return -(self.logits.clamp(min=smallest) * self.probs).sum(-1)

    @property
    def mean(self):
        raise NotImplementedError("Categorical has no mean (PyTorch: nan of batch_shape)")

    def __repr__(self) -> str:
        return f"Categorical(probs: {self.probs.shape})"
