"""PyTorch's Rprop: steps sized per coordinate by the signs of successive gradients."""
from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from ..core.tensor import Tensor
from . import rules
from .optimizer import Optimizer, advance, check_options, step_count, store, write, zeros_state
from .sgd import _refuse_differentiable


class Rprop(Optimizer):
    """`torch.optim.Rprop` (full-batch training: the gradient's size is not used)."""

    def __init__(self, params: Iterable, lr: float = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: Optional[bool] = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_options(lr)
        etaminus, etaplus = etas
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Rprop: etas must satisfy 0 < etas[0] < 1 < etas[1], got "
                             f"{tuple(etas)}")
        _refuse_differentiable(differentiable)
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes,
                                      foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = step_count()
            state["prev"] = zeros_state(param)
            state["step_size"] = Tensor._eager(np.full(param.shape, group["lr"],
                                                       param.dtype.np))
        advance(state)
        if group["maximize"]:
            grad = -grad
        (etaminus, etaplus), (min_step, max_step) = group["etas"], group["step_sizes"]
        new, prev, step_size = rules.rprop(param, grad, state["prev"], state["step_size"],
                                           etaminus, etaplus, min_step, max_step)
        store(state, "prev", prev)
        store(state, "step_size", step_size)
        write(param, new)
