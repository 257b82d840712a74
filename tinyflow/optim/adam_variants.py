"""PyTorch's NAdam and RAdam: Adam with Nesterov momentum, and Adam with its early steps
rectified (the rules are in `rules.py`)."""
from __future__ import annotations

from typing import Iterable, Optional

from . import rules
from .optimizer import (Optimizer, advance, check_options, scalar_state, set_scalar,
                        step_count, store, write, zeros_state)
from .sgd import _refuse_differentiable


def _weight_decayed(param, grad, group):
    """The gradient with the coupled L2 penalty, or the parameter decayed as AdamW's when
    `decoupled_weight_decay`."""
    if group["decoupled_weight_decay"] and group["weight_decay"] != 0:
        param = param * (1 - group["lr"] * group["weight_decay"])
        return param, rules.gradient(grad, param, 0.0, group["maximize"])
    return param, rules.gradient(grad, param, group["weight_decay"], group["maximize"])


class NAdam(Optimizer):
    """`torch.optim.NAdam`."""

    def __init__(self, params: Iterable, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: Optional[bool] = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_options(lr, betas, eps=eps, weight_decay=weight_decay,
                      momentum_decay=momentum_decay)
        _refuse_differentiable(differentiable)
        super().__init__(params, dict(lr=lr, betas=tuple(float(b) for b in betas), eps=eps,
                                      weight_decay=weight_decay, momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      foreach=foreach, maximize=maximize,
                                      capturable=capturable, differentiable=differentiable))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = step_count()
            state["mu_product"] = scalar_state(1.0)
            state["exp_avg"] = zeros_state(param)
            state["exp_avg_sq"] = zeros_state(param)
        step = float(advance(state))
        decayed, grad = _weight_decayed(param, grad, group)
        beta1, beta2 = group["betas"]
        # the product is kept in its state dtype and read back rounded, as PyTorch's
        product = state["mu_product"]
        set_scalar(product, product.array * rules.nadam_momentum(step, beta1,
                                                                 group["momentum_decay"]))
        new, m, v = rules.nadam(
            decayed, grad, state["exp_avg"], state["exp_avg_sq"], step,
            float(state["mu_product"].item()), group["lr"], beta1, beta2, group["eps"],
            group["momentum_decay"])
        store(state, "exp_avg", m)
        store(state, "exp_avg_sq", v)
        write(param, new)


class RAdam(Optimizer):
    """`torch.optim.RAdam`."""

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: Optional[bool] = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        check_options(lr, betas, eps=eps, weight_decay=weight_decay)
        _refuse_differentiable(differentiable)
        super().__init__(params, dict(lr=lr, betas=tuple(float(b) for b in betas), eps=eps,
                                      weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      foreach=foreach, maximize=maximize,
                                      capturable=capturable, differentiable=differentiable))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = step_count()
            state["exp_avg"] = zeros_state(param)
            state["exp_avg_sq"] = zeros_state(param)
        step = float(advance(state))
        decayed, grad = _weight_decayed(param, grad, group)
        beta1, beta2 = group["betas"]
        new, m, v = rules.radam(decayed, grad, state["exp_avg"], state["exp_avg_sq"], step,
                                group["lr"], beta1, beta2, group["eps"])
        store(state, "exp_avg", m)
        store(state, "exp_avg_sq", v)
        write(param, new)
