"""Update rules, one function each, written with tinyflow ops: on eager tensors they
compute, on symbolic ones they build the TF1 optimizers' update graph.

Every rule is pure: it takes the parameter, its gradient and its state, and returns the new
values. `tinyflow.optim` writes them into the eager buffers; `tf.train` assigns them to
variables. Rates and betas may be Python numbers or tensors; the options that pick a branch
(weight_decay, dampening, mu) are Python numbers. Adam's `step` is a Python number (PyTorch
computes the bias corrections in double precision) or a tensor (TF1: a step variable).
"""
from __future__ import annotations

from typing import Optional, Union

from ..core.tensor import Tensor
from ..ops.math import abs as abs_
from ..ops.clamp import clamp
from ..ops.math import maximum, sign, sqrt, subtract, where

Scalar = Union[float, Tensor]


def gradient(grad: Tensor, param: Tensor, weight_decay: float = 0.0,
             maximize: bool = False) -> Tensor:
    """The direction PyTorch's optimizers follow: the gradient, negated to maximize, plus
    the coupled L2 penalty `weight_decay * param`."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    return grad


def sgd(param: Tensor, grad: Tensor, lr: Scalar, out: Optional[Tensor] = None) -> Tensor:
    """Plain gradient descent (eager: written into `out`, typically param itself)."""
    return subtract(param, lr * grad, out=out)


def momentum(param: Tensor, grad: Tensor, velocity: Optional[Tensor], lr: Scalar, mu: float,
             nesterov: bool = False, dampening: float = 0.0) -> tuple:
    """Returns (new param, new velocity): heavy-ball momentum, `v = mu * v + (1 - d) * g`.

    This is the accumulation form PyTorch and TF1 share (lr outside the velocity).
    `velocity=None` means the first step: PyTorch starts the buffer at the gradient itself,
    undamped; TF1 starts from a zero slot, which is the same thing when dampening is 0.
    """
    if velocity is None:
        velocity = grad
    elif dampening == 0:
        velocity = mu * velocity + grad
    else:
        velocity = mu * velocity + (1 - dampening) * grad
    step = grad + mu * velocity if nesterov else velocity
    return param - lr * step, velocity


def adam(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: Scalar, lr: Scalar,
         beta1: Scalar, beta2: Scalar, eps: Scalar, v_max: Optional[Tensor] = None,
         epsilon_hat: bool = True, decoupled_weight_decay: float = 0.0) -> tuple:
    """Returns (new param, new m, new v, new v_max); `step` is the 1-based step count.

    Args:
        v_max: the running maximum of `v` for AMSGrad, or None (then None is returned).
        epsilon_hat: True folds the bias corrections into the step size and adds `eps` to
            the uncorrected `sqrt(v)`, as TF1 and the Adam paper's section 2 do; False adds
            `eps` to the corrected `sqrt(v / (1 - beta2**t))`, as PyTorch does.
        decoupled_weight_decay: AdamW's `lr * wd * param`, taken off the parameter before
            the Adam step (the coupled L2 penalty belongs in `gradient`).
    """
    if decoupled_weight_decay != 0:
        param = param * (1 - lr * decoupled_weight_decay)
    m = m + (1 - beta1) * (grad - m)  # = beta1 * m + (1 - beta1) * g, PyTorch's lerp
    v = beta2 * v + (1 - beta2) * (grad * grad)
    if v_max is not None:
        v_max = maximum(v_max, v)
    second = v if v_max is None else v_max
    correction1 = 1 - beta1 ** step
    correction2 = (1 - beta2 ** step) ** 0.5
    if epsilon_hat:
        new_param = param - (lr * correction2 / correction1) * m / (sqrt(second) + eps)
    else:
        new_param = param - (lr / correction1) * (m / (sqrt(second) / correction2 + eps))
    return new_param, m, v, v_max


def rmsprop(param: Tensor, grad: Tensor, square_avg: Tensor, lr: Scalar, alpha: Scalar,
            eps: Scalar, grad_avg: Optional[Tensor] = None, velocity: Optional[Tensor] = None,
            mu: float = 0.0) -> tuple:
    """Returns (new param, new square_avg, new grad_avg, new velocity), PyTorch's RMSprop.

    Args:
        grad_avg: the running mean of the gradient for the centered variant, or None.
        velocity: the momentum buffer (used when `mu > 0`), or None.
    """
    square_avg = alpha * square_avg + (1 - alpha) * (grad * grad)
    if grad_avg is not None:
        grad_avg = grad_avg + (1 - alpha) * (grad - grad_avg)
        avg = sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = sqrt(square_avg) + eps
    if mu > 0:
        velocity = mu * velocity + grad / avg
        return param - lr * velocity, square_avg, grad_avg, velocity
    return param - lr * (grad / avg), square_avg, grad_avg, velocity


def rmsprop_tf(param: Tensor, grad: Tensor, ms: Tensor, mom: Tensor, lr: Scalar, rho: Scalar,
               mu: Scalar, eps: Scalar, mg: Optional[Tensor] = None) -> tuple:
    """Returns (new param, new ms, new mom, new mg), TF1's RMSProp (ApplyRMSProp): unlike
    PyTorch's, epsilon is inside the square root and the rate inside the momentum."""
    ms = ms + (grad * grad - ms) * (1 - rho)
    if mg is not None:
        mg = mg + (grad - mg) * (1 - rho)
        denom = ms - mg * mg + eps
    else:
        denom = ms + eps
    mom = mu * mom + lr * grad / sqrt(denom)
    return param - mom, ms, mom, mg


def adagrad(param: Tensor, grad: Tensor, state_sum: Tensor, step: Scalar, lr: Scalar,
            lr_decay: float, eps: Scalar) -> tuple:
    """Returns (new param, new state_sum), PyTorch's Adagrad: the rate shrinks with the sum
    of squared gradients, and with the step count through `lr / (1 + (step - 1) lr_decay)`."""
    state_sum = state_sum + grad * grad
    rate = lr / (1 + (step - 1) * lr_decay)
    return param - rate * (grad / (sqrt(state_sum) + eps)), state_sum


def adadelta(param: Tensor, grad: Tensor, square_avg: Tensor, acc_delta: Tensor, lr: Scalar,
             rho: Scalar, eps: Scalar) -> tuple:
    """Returns (new param, new square_avg, new acc_delta), PyTorch's Adadelta: the step is the
    gradient scaled by RMS(past steps) / RMS(gradients), so its units match the parameter's."""
    square_avg = rho * square_avg + (1 - rho) * (grad * grad)
    delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * grad
    acc_delta = rho * acc_delta + (1 - rho) * (delta * delta)
    return param - lr * delta, square_avg, acc_delta


def adamax(param: Tensor, grad: Tensor, m: Tensor, u: Tensor, step: Scalar, lr: Scalar,
           beta1: Scalar, beta2: Scalar, eps: Scalar) -> tuple:
    """Returns (new param, new m, new u), PyTorch's Adamax: Adam with the infinity norm,
    `u = max(beta2 u, |g| + eps)`, and only the first moment bias-corrected."""
    m = m + (1 - beta1) * (grad - m)
    u = maximum(beta2 * u, abs_(grad) + eps)
    return param - (lr / (1 - beta1 ** step)) * (m / u), m, u


def moments(grad: Tensor, m: Tensor, v: Tensor, beta1: Scalar, beta2: Scalar) -> tuple:
    """Adam's running moments: (beta1 m + (1 - beta1) g, beta2 v + (1 - beta2) g^2)."""
    return m + (1 - beta1) * (grad - m), beta2 * v + (1 - beta2) * (grad * grad)


def nadam_momentum(step: float, beta1: float, momentum_decay: float) -> float:
    """NAdam's momentum coefficient at `step`: mu_t = beta1 (1 - 0.96^(t psi) / 2)."""
    return beta1 * (1 - 0.5 * 0.96 ** (step * momentum_decay))


def nadam(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: float, mu_product: float,
          lr: Scalar, beta1: float, beta2: float, eps: Scalar,
          momentum_decay: float) -> tuple:
    """Returns (new param, new m, new v), PyTorch's NAdam: Adam whose momentum coefficient
    mu_t warms up (`nadam_momentum`), with Nesterov's look-ahead (the gradient weighted by
    mu_t, the momentum by mu_{t+1}); `mu_product` is mu_1 ... mu_t, this step's included."""
    mu = nadam_momentum(step, beta1, momentum_decay)
    mu_next = nadam_momentum(step + 1, beta1, momentum_decay)
    m, v = moments(grad, m, v, beta1, beta2)
    denom = sqrt(v / (1 - beta2 ** step)) + eps
    new = (param - (lr * (1 - mu) / (1 - mu_product)) * (grad / denom)
           - (lr * mu_next / (1 - mu_product * mu_next)) * (m / denom))
    return new, m, v


def radam(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: float, lr: Scalar,
          beta1: float, beta2: float, eps: Scalar) -> tuple:
    """Returns (new param, new m, new v), PyTorch's RAdam: momentum SGD while the second
    moment's variance is unbounded (rho_t <= 5), then Adam's step times the rectification
    term r_t."""
    m, v = moments(grad, m, v, beta1, beta2)
    correction2 = 1 - beta2 ** step
    corrected = m / (1 - beta1 ** step)
    rho_inf = 2 / (1 - beta2) - 1
    rho = rho_inf - 2 * step * beta2 ** step / correction2
    if rho <= 5:
        return param - lr * corrected, m, v
    rect = ((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)) ** 0.5
    return param - (lr * rect * correction2 ** 0.5) * (corrected / (sqrt(v) + eps)), m, v


def rprop(param: Tensor, grad: Tensor, prev: Tensor, step_size: Tensor, etaminus: float,
          etaplus: float, min_step: float, max_step: float) -> tuple:
    """Returns (new param, new prev, new step_size), PyTorch's Rprop: each coordinate's step
    grows by etaplus while its gradient keeps its sign and shrinks by etaminus when the sign
    flips; after a flip that gradient counts as zero (no move, and no flip next step)."""
    agreement = grad * prev
    step_size = where(agreement > 0, step_size * etaplus,
                      where(agreement < 0, step_size * etaminus, step_size))
    step_size = clamp(step_size, min_step, max_step)
    grad = where(agreement < 0, 0.0, grad)
    return param - sign(grad) * step_size, grad, step_size


def asgd(param: Tensor, grad: Tensor, ax: Tensor, eta: float, mu: float,
         lambd: float) -> tuple:
    """Returns (new param, new ax), PyTorch's ASGD: an SGD step with the parameter decayed by
    `1 - lambd eta`, and `ax` the running average of the parameters (a copy while mu is 1)."""
    param = param * (1 - lambd * eta) - eta * grad
    ax = param if mu == 1 else ax + (param - ax) * mu
    return param, ax
