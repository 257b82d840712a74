"""Kernel of the binary cross-entropy on probabilities."""
import numpy as np

from ...core.errors import ValueRuntimeError
from ...ops import losses
from .registry import kernel


@kernel(losses.BinaryCrossEntropy)
def binary_cross_entropy(op, p, y):
    for name, v in (("input", p), ("target", y)):   # as PyTorch refuses (NaN fails both)
        if v.size and not (np.min(v) >= 0 and np.max(v) <= 1):
            raise ValueRuntimeError(f"binary_cross_entropy: all elements of {name} should "
                                    f"be between 0 and 1")
    with np.errstate(divide="ignore"):   # log(0) = -inf, clamped
        log_p = np.maximum(np.log(p), losses.LOG_FLOOR)
        log_q = np.maximum(np.log(1 - p), losses.LOG_FLOOR)
    return -(y * log_p + (1 - y) * log_q).astype(p.dtype, copy=False)
