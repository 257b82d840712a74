"""Simulated fp8 rounding with a per-tensor scale (ml_dtypes does the rounding)."""
import numpy as np

from ...core import dtypes
from ...ops import quantize as q
from .registry import kernel


@kernel(q.FakeQuantize, widen=0)
def fake_quantize(op, x):
    if op.dtype is None:
        return x.copy()
    amax = float(np.max(np.abs(x))) if x.size else 0.0
    fmax = float(dtypes.float_info(op.dtype).max)
    if op.history is not None:
        scale = op.history.scale(amax, fmax, op.margin)
    else:
        scale = fmax / amax / 2.0 ** op.margin if 0.0 < amax < np.inf else 1.0
    scaled = np.clip(x * scale, -fmax, fmax)   # saturate beyond a delayed scale's range
    rounded = scaled.astype(op.dtype.np).astype(x.dtype)
    rounded /= scale
    return rounded
