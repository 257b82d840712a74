"""Server-side update rules: how a shard turns a pushed gradient into new parameter values.

They call the same rule functions as the eager optimizers and `tf.train`
(`tinyflow.optim.rules`), on eager tensors over the shard's arrays. A rule keeps its own
state per piece (momentum buffers, Adam moments), so a replica applying the same pushes in the
same order holds the same values.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..core.tensor import Tensor
from ..optim import rules


def _t(a: np.ndarray) -> Tensor:
    return Tensor._eager(a)


class UpdateRule:
    def init_state(self, value: np.ndarray) -> dict:
        return {}

    def apply(self, value: np.ndarray, grad: np.ndarray, state: dict) -> np.ndarray:
        raise NotImplementedError


class SGD(UpdateRule):
    def __init__(self, lr: float) -> None:
        self.lr = lr

    def apply(self, value, grad, state):
        return rules.sgd(_t(value), _t(grad), self.lr).numpy()


class Momentum(UpdateRule):
    def __init__(self, lr: float, momentum: float = 0.9, nesterov: bool = False) -> None:
        self.lr, self.mu, self.nesterov = lr, momentum, nesterov

    def apply(self, value, grad, state):
        velocity = state.get("velocity")
        new, velocity = rules.momentum(_t(value), _t(grad),
                                       None if velocity is None else _t(velocity), self.lr,
                                       self.mu, self.nesterov)
        state["velocity"] = velocity.numpy()
        return new.numpy()


class Adam(UpdateRule):
    def __init__(self, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.lr, self.betas, self.eps = lr, betas, eps

    def init_state(self, value):
        return {"m": np.zeros_like(value), "v": np.zeros_like(value), "step": 0}

    def apply(self, value, grad, state):
        state["step"] += 1
        new, m, v, _ = rules.adam(_t(value), _t(grad), _t(state["m"]), _t(state["v"]),
                                  state["step"], self.lr, self.betas[0], self.betas[1],
                                  self.eps, epsilon_hat=False)
        state["m"], state["v"] = m.numpy(), v.numpy()
        return new.numpy()


class Custom(UpdateRule):
    """A user rule `fn(value, grad) -> new value` on NumPy arrays (e.g. `lambda v, g: v + g`
    to accumulate pushes)."""

    def __init__(self, fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        self.fn = fn

    def apply(self, value, grad, state):
        return np.asarray(self.fn(value, grad), value.dtype)
