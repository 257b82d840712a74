"""PyTorch's ASGD: SGD with a decaying rate that also keeps the average of its iterates."""
from __future__ import annotations

from typing import Iterable, Optional

from . import rules
from .optimizer import (Optimizer, advance, check_options, scalar_state, set_scalar, step_count,
                        store, write, zeros_state)
from .sgd import _refuse_differentiable


class ASGD(Optimizer):
    """`torch.optim.ASGD`: the rate is `lr / (1 + lambd lr t)^alpha`; the average `ax` starts
    after step t0. eta and mu are 0-d state tensors, as PyTorch keeps them."""

    def __init__(self, params: Iterable, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: Optional[bool] = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        check_options(lr, weight_decay=weight_decay)
        _refuse_differentiable(differentiable)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = step_count()
            state["eta"] = scalar_state(group["lr"])
            state["mu"] = scalar_state(1.0)
            state["ax"] = zeros_state(param)
        step = advance(state)
        grad = rules.gradient(grad, param, group["weight_decay"], group["maximize"])
        new, ax = rules.asgd(param, grad, state["ax"], float(state["eta"].item()),
                             float(state["mu"].item()), group["lambd"])
        write(param, new)
        store(state, "ax", ax)
        lr, lambd = group["lr"], group["lambd"]
        set_scalar(state["eta"], lr / (1 + lambd * lr * step) ** group["alpha"])
        set_scalar(state["mu"], 1 / max(1, step - group["t0"]))

