"""Kernels of the binary cross-entropy on probabilities, the smooth L1 loss and the
negative log-likelihood at class ids."""
import numpy as np

from ...core.errors import IndexOutOfRangeError, ValueRuntimeError
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


def _class_rows(ids, classes: int, what: str):
    """The examples' row numbers for a fancy index, after checking every id is in
    [0, classes) (one id, a char-RNN's letter: compared in Python, no reductions)."""
    if ids.size == 1:
        low = high = int(ids[0])
    elif ids.size:
        low, high = int(np.minimum.reduce(ids)), int(np.maximum.reduce(ids))
    else:
        return ids
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise IndexOutOfRangeError(f"{what}: target class {bad} is out of range for {classes} "
                                   f"classes (0..{classes - 1})")
    return np.arange(ids.size)


@kernel(losses.Nll, widen=0)
def nll(op, logp, labels):
    """-logp at each label by one fancy index, then the reduction (the mean over no
    examples is NaN, as PyTorch's)."""
    ids = labels.reshape(-1)
    rows = _class_rows(ids, logp.shape[-1], "nll")
    if ids.size == 1 and op.reduction != "none":   # one example: no fancy index, no sum
        return np.array(-logp.reshape(-1)[ids[0]], logp.dtype)
    loss = -logp.reshape(ids.size, logp.shape[-1])[rows, ids]
    if op.reduction == "none":
        return loss.reshape(labels.shape)
    total = np.add.reduce(loss)
    if op.reduction == "mean":
        total = total / ids.size if ids.size else loss.dtype.type(np.nan)
    return np.array(total, logp.dtype)


@kernel(losses.NllGrad, shape_only=(2,), widen=0)
def nll_grad(op, g, labels, ref):
    """Zeros with -g (over the number of examples for 'mean') written at each label."""
    ids = labels.reshape(-1)
    out = np.zeros((ids.size, ref.shape[-1]), g.dtype)
    rows = _class_rows(ids, ref.shape[-1], "nll_grad")
    if ids.size:
        share = -g.reshape(-1) if op.reduction == "none" else (
            -(g / ids.size) if op.reduction == "mean" else -g)
        out[rows, ids] = share
    return out.reshape(ref.shape)
