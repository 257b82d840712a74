"""The base class: shapes, the sample-shape argument, and the argument checks
(`validate_args`) every distribution shares."""
from __future__ import annotations

import numpy as np

from ..core.shapes import Size
from ..core.tensor import EAGER, Tensor
from ..pytorch.autograd import no_grad


class Distribution:
    """A batch of distributions of shape `batch_shape`, each over events of `event_shape`.

    With `validate_args` (on by default, as PyTorch's), parameters outside their
    `arg_constraints` raise at construction and values outside the `support` raise in
    `log_prob`: the mistake is named where it is made, not found later as a NaN loss.
    """

    has_rsample = False
    arg_constraints: dict = {}
    _validate_default = True

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn the checks on or off for distributions built without `validate_args`."""
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected True or False, got {value!r}")
        Distribution._validate_default = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None) -> None:
        self._batch_shape, self._event_shape = Size(batch_shape), Size(event_shape)
        if validate_args is not None:
            self._validate_args = bool(validate_args)
        if not self._validate_args:
            return
        given = getattr(self, "_given", None)   # the parameter the user gave is named first
        for name, constraint in sorted(self.arg_constraints.items(), key=lambda c: c[0] != given):
            value = self.__dict__.get(name)
            if isinstance(value, Tensor) and not _holds(constraint.check(value)):
                raise ValueError(f"{type(self).__name__}: parameter {name} (shape "
                                 f"{list(value.shape)}) has values outside {constraint!r}; "
                                 f"{_offender(constraint, value)}")

    @property
    def _validate_args(self) -> bool:
        return self.__dict__.get("_validate", Distribution._validate_default)

    @_validate_args.setter
    def _validate_args(self, value: bool) -> None:
        self.__dict__["_validate"] = value

    @property
    def batch_shape(self) -> Size:
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        return self._event_shape

    @property
    def support(self):
        raise NotImplementedError(f"{type(self).__name__} does not say its support")

    def _extended_shape(self, sample_shape=()) -> Size:
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _validate_sample(self, value) -> None:
        """Refuse a value log_prob cannot score: not a tensor, a shape that does not
        broadcast with batch_shape + event_shape, or a value outside the support."""
        what = f"{type(self).__name__}.log_prob"
        if not isinstance(value, Tensor):
            raise ValueError(f"{what}: value must be a Tensor, got {type(value).__name__}")
        shape, event = tuple(value.shape), tuple(self._event_shape)
        expected = tuple(self._batch_shape) + event
        if (len(shape) < len(event) or shape[len(shape) - len(event):] != event
                or any(a != 1 and b != 1 and a != b for a, b in zip(shape[::-1],
                                                                    expected[::-1]))):
            raise ValueError(f"{what}: value of shape {list(shape)} does not broadcast with "
                             f"batch_shape + event_shape {list(expected)}")
        if not _holds(self.support.check(value)):
            raise ValueError(f"{what}: value has entries outside the support "
                             f"{self.support!r}; {_offender(self.support, value)}")

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


def _holds(ok: Tensor) -> bool:
    """Whether a check passed everywhere; a value without data (a graph's) is not checked."""
    return ok.kind != EAGER or bool(np.all(ok.array))


def _offender(constraint, value: Tensor) -> str:
    """The first failing event's index and value, for the error message."""
    ok = constraint.check(value).array
    event = value.shape[value.ndim - constraint.event_dim:]
    # the parameters can broadcast the check beyond the value's own batch shape
    batch = np.broadcast_shapes(ok.shape, value.shape[:value.ndim - constraint.event_dim])
    where = tuple(int(i) for i in np.argwhere(~np.broadcast_to(ok, batch))[0])
    values = np.broadcast_to(value.detach().numpy(), batch + event)
    return f"the first at index {list(where)} is {values[where]}"
