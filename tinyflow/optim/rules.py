"""Update rules, one function each, written with tinyflow ops: on eager tensors they
compute, on symbolic ones they build the TF1 optimizers' update graph."""
from __future__ import annotations

from ..ops.math import sqrt


def sgd(param, grad, lr):
    return param - lr * grad


def momentum(param, grad, velocity, lr, mu, nesterov=False):
    """Returns (new param, new velocity); TF1's accumulation `v = mu * v + g`."""
    velocity = mu * velocity + grad
    step = grad + mu * velocity if nesterov else velocity
    return param - lr * step, velocity


def adam(param, grad, m, v, step, lr, beta1, beta2, eps):
    """Returns (new param, new m, new v); `step` is the 1-based step count (a tensor).

    The bias correction is folded into the step size, as in TF1 and the Adam paper's
    section 2 ("epsilon hat").
    """
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    lr_t = lr * sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
    return param - lr_t * m / (sqrt(v) + eps), m, v
