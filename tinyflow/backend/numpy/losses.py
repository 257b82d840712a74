"""Kernels of the binary cross-entropy on probabilities and of the smooth L1 loss."""
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


@kernel(losses.SmoothL1)
def smooth_l1(op, x, y):
    """The composed loss's arithmetic, in its order (the same float32 roundings)."""
    d = np.abs(x - y)
    return np.where(d < op.beta, 0.5 * d * d / op.beta, d - 0.5 * op.beta)


@kernel(losses.SmoothL1Slope)
def smooth_l1_slope(op, x, y):
    """np.clip's values (NaN kept, -0.0 kept) in two ufunc calls on the quotient's own
    buffer: np.clip's Python wrapper cost more than the arithmetic on a loss's few rows."""
    slope = (x - y) / op.beta
    if type(slope) is not np.ndarray:   # 0-d operands give a NumPy scalar
        return np.clip(slope, -1.0, 1.0)
    return np.minimum(np.maximum(slope, -1.0, out=slope), 1.0, out=slope)
