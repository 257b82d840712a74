"""The base class: shapes and the sample-shape argument every distribution shares."""
from __future__ import annotations

from ..core.shapes import Size
from ..pytorch.autograd import no_grad


class Distribution:
    """A batch of distributions of shape `batch_shape`, each over events of `event_shape`."""

    has_rsample = False

    def __init__(self, batch_shape=(), event_shape=()) -> None:
        self._batch_shape, self._event_shape = Size(batch_shape), Size(event_shape)

    @property
    def batch_shape(self) -> Size:
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        return self._event_shape

    def _extended_shape(self, sample_shape=()) -> Size:
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def sample(self, sample_shape=()):
        """A sample outside autograd (PyTorch: reparameterized draws detached)."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} has no reparameterized sample "
                                  f"(rsample)")

    def log_prob(self, value):
        raise NotImplementedError(f"{type(self).__name__}.log_prob")

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__}.entropy")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
