"""PyTorch's RMSprop (centered, momentum, weight decay, maximize)."""
from __future__ import annotations

from typing import Iterable, Optional

from . import rules
from .optimizer import (Optimizer, advance, check_options, step_count, store, write,
                        zeros_state)
from .sgd import _refuse_differentiable


class RMSprop(Optimizer):
    """`torch.optim.RMSprop`: eps is added outside the square root, as PyTorch does."""

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: Optional[bool] = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_options(lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        _refuse_differentiable(differentiable)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay,
                                      capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _update(self, param, grad, state, group):
        mu = group["momentum"]
        if not state:
            state["step"] = step_count()
            state["square_avg"] = zeros_state(param)
            if mu > 0:
                state["momentum_buffer"] = zeros_state(param)
            if group["centered"]:
                state["grad_avg"] = zeros_state(param)
        advance(state)
        grad = rules.gradient(grad, param, group["weight_decay"], group["maximize"])
        new, square_avg, grad_avg, velocity = rules.rmsprop(
            param, grad, state["square_avg"], group["lr"], group["alpha"], group["eps"],
            grad_avg=state.get("grad_avg") if group["centered"] else None,
            velocity=state.get("momentum_buffer") if mu > 0 else None, mu=mu)
        store(state, "square_avg", square_avg)
        store(state, "grad_avg", grad_avg)
        store(state, "momentum_buffer", velocity)
        write(param, new)
