"""Binary cross-entropy on probabilities as one op, so that its gradient is PyTorch's
(p - y) / max(p (1 - p), 1e-12): finite where a saturated sigmoid gives p exactly 0 or 1
(the composed logs' gradient there is 0 * inf = NaN)."""
from __future__ import annotations

from ..core.modes import needs_input_grad
from ..core.op import Op, apply, as_tensor, sum_terms
from ..core.tensor import Tensor
from .math import log, maximum

EPSILON = 1e-12   # PyTorch's floor under p (1 - p) in the gradient
LOG_FLOOR = -100.0   # PyTorch's clamp of each log


class BinaryCrossEntropy(Op):
    """-(y log p + (1 - y) log(1 - p)) per element, each log clamped at -100."""
    name = "binary_cross_entropy"

    def infer(self, p, y):
        if p.dtype is not y.dtype:
            raise TypeError(f"expected input and target of one dtype, got {p.dtype.name} and "
                            f"{y.dtype.name}")
        if not p.dtype.is_floating:
            raise TypeError(f"expected floating point probabilities, got {p.dtype.name}")
        if None not in (p.shape, y.shape) and p.shape != y.shape:
            raise ValueError(f"input {p.shape} and target {y.shape} must have one shape")
        return p.shape if p.shape is not None else y.shape, p.dtype

    def vjp(self, g, out, p, y):
        return (g * _d_input(p, y) if needs_input_grad(0) else None,
                g * _d_target(p) if needs_input_grad(1) else None)

    def jvp(self, t, out, p, y):
        return sum_terms([None if t[0] is None else t[0] * _d_input(p, y),
                          None if t[1] is None else t[1] * _d_target(p)])


def _d_input(p, y):
    return (p - y) / maximum(p * (1 - p), EPSILON)


def _d_target(p):
    return log(1 - p) - log(p)   # unclamped, as PyTorch's (inf at p = 0 or 1)


def binary_cross_entropy(p, y) -> Tensor:
    return apply(BinaryCrossEntropy(), as_tensor(p), as_tensor(y))
