"""PyTorch's Adagrad, Adadelta and Adamax: per-coordinate rates from gradient statistics."""
from __future__ import annotations

from typing import Iterable, Optional

from . import rules
from .optimizer import (Optimizer, advance, check_options, step_count, store, write,
                        zeros_state)
from .sgd import _refuse_differentiable


class Adagrad(Optimizer):
    """`torch.optim.Adagrad`."""

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: Optional[bool] = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None) -> None:
        check_options(lr, lr_decay=lr_decay, weight_decay=weight_decay,
                      initial_accumulator_value=initial_accumulator_value, eps=eps)
        _refuse_differentiable(differentiable)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, fused=fused))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = step_count()
            state["sum"] = zeros_state(param)
            state["sum"].array[...] = group["initial_accumulator_value"]
        step = advance(state)
        grad = rules.gradient(grad, param, group["weight_decay"], group["maximize"])
        new, state_sum = rules.adagrad(param, grad, state["sum"], step, group["lr"],
                                       group["lr_decay"], group["eps"])
        store(state, "sum", state_sum)
        write(param, new)


class Adadelta(Optimizer):
    """`torch.optim.Adadelta`."""

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: Optional[bool] = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_options(lr, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: rho must be in [0, 1], got {rho}")
        _refuse_differentiable(differentiable)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, capturable=capturable,
                                      maximize=maximize, differentiable=differentiable))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = step_count()
            state["square_avg"] = zeros_state(param)
            state["acc_delta"] = zeros_state(param)
        advance(state)
        grad = rules.gradient(grad, param, group["weight_decay"], group["maximize"])
        new, square_avg, acc_delta = rules.adadelta(
            param, grad, state["square_avg"], state["acc_delta"], group["lr"], group["rho"],
            group["eps"])
        store(state, "square_avg", square_avg)
        store(state, "acc_delta", acc_delta)
        write(param, new)


class Adamax(Optimizer):
    """`torch.optim.Adamax`."""

    def __init__(self, params: Iterable, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: Optional[bool] = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        check_options(lr, betas, eps=eps, weight_decay=weight_decay)
        _refuse_differentiable(differentiable)
        super().__init__(params, dict(lr=lr, betas=tuple(float(b) for b in betas), eps=eps,
                                      weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = step_count()
            state["exp_avg"] = zeros_state(param)
            state["exp_inf"] = zeros_state(param)
        step = advance(state)
        grad = rules.gradient(grad, param, group["weight_decay"], group["maximize"])
        beta1, beta2 = group["betas"]
        new, m, u = rules.adamax(param, grad, state["exp_avg"], state["exp_inf"], step,
                                 group["lr"], beta1, beta2, group["eps"])
        store(state, "exp_avg", m)
        store(state, "exp_inf", u)
        write(param, new)
