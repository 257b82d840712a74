"""PyTorch's SGD with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from typing import Iterable, Optional

from ..ops.state import momentum_step, sgd_step
from . import rules
from .optimizer import (Optimizer, check_options, one_pass_applies, store, write,
                        zeros_state)


class SGD(Optimizer):
    """Stochastic gradient descent, `torch.optim.SGD` (the momentum buffer starts at g)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: Optional[bool] = None,
                 differentiable: bool = False, fused: Optional[bool] = None) -> None:
        check_options(lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening=0 "
                             f"(got momentum={momentum}, dampening={dampening})")
        _refuse_differentiable(differentiable)
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _update(self, param, grad, state, group):
        wd, maximize, lr = group["weight_decay"], group["maximize"], group["lr"]
        buf = state.get("momentum_buffer")
        if param.dtype.is_floating and one_pass_applies(
                param, grad, group, ("lr", "momentum", "dampening", "weight_decay")):
            if group["momentum"] == 0:
                sgd_step(param, grad, lr=lr, weight_decay=wd, maximize=maximize)
                return
            if buf is None:     # PyTorch's first step: the buffer starts at the direction
                buf = state["momentum_buffer"] = zeros_state(param)
                starts = True
            else:
                starts = False
            if buf.dtype is param.dtype:
                momentum_step(param, grad, buf, lr=lr, momentum=group["momentum"],
                              dampening=group["dampening"], nesterov=group["nesterov"],
                              weight_decay=wd, maximize=maximize, starts=starts)
                return
        if wd != 0 or maximize:   # (else the gradient itself)
            grad = rules.gradient(grad, param, wd, maximize)
        if group["momentum"] == 0:
            rules.sgd(param, grad, lr, out=param)   # in place: no temporary, no copy
            return
        new, velocity = rules.momentum(param, grad, buf, lr, group["momentum"],
                                       group["nesterov"], group["dampening"])
        store(state, "momentum_buffer", velocity)
        write(param, new)


def _refuse_differentiable(differentiable: bool) -> None:
    """Steps run under no_grad: differentiating through them is not supported."""
    if differentiable:
        raise NotImplementedError("differentiable=True is not supported: tinyflow's "
                                  "optimizer steps are not recorded by autograd")
