"""PyTorch's Adam and AdamW (with AMSGrad, maximize, coupled or decoupled weight decay)."""
from __future__ import annotations

from typing import Iterable, Optional

from ..ops.state import adam_step
from . import rules
from .optimizer import (Optimizer, advance, check_options, one_pass_applies, step_count, store,
                        write, zeros_state)
from .sgd import _refuse_differentiable


class Adam(Optimizer):
    """`torch.optim.Adam`: eps is added to the bias-corrected sqrt(v), as PyTorch does."""

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: Optional[bool] = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None, decoupled_weight_decay: bool = False) -> None:
        check_options(lr, betas, eps=eps, weight_decay=weight_decay)
        _refuse_differentiable(differentiable)
        super().__init__(params, dict(lr=lr, betas=tuple(float(b) for b in betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable,
                                      fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = step_count()
            state["exp_avg"] = zeros_state(param)
            state["exp_avg_sq"] = zeros_state(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = zeros_state(param)
        step = advance(state)
        decoupled = group["decoupled_weight_decay"]
        wd = group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not group["amsgrad"] and all(isinstance(b, float) for b in group["betas"]) and \
                one_pass_applies(param, grad, group, ("lr", "eps", "weight_decay")):
            adam_step(param, grad, state["exp_avg"], state["exp_avg_sq"], lr=group["lr"],
                      beta1=beta1, beta2=beta2, eps=group["eps"], step=step,
                      weight_decay=wd if decoupled else 0.0,
                      coupled_decay=0.0 if decoupled else wd, maximize=group["maximize"])
            return
        grad = rules.gradient(grad, param, 0 if decoupled else wd, group["maximize"])
        new, m, v, v_max = rules.adam(
            param, grad, state["exp_avg"], state["exp_avg_sq"], step, group["lr"], beta1,
            beta2, group["eps"], v_max=state.get("max_exp_avg_sq") if group["amsgrad"] else None,
            epsilon_hat=False, decoupled_weight_decay=wd if decoupled else 0)
        store(state, "exp_avg", m)
        store(state, "exp_avg_sq", v)
        store(state, "max_exp_avg_sq", v_max)
        write(param, new)


class AdamW(Adam):
    """`torch.optim.AdamW`: Adam with weight decay taken off the parameters directly."""

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: Optional[bool] = None,
                 capturable: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
