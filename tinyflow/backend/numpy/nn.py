"""Softmax-family kernels, all max-subtracted so large logits do not overflow."""
import functools
import math

import numpy as np

from ...ops import nn
from . import _fast_math
from .registry import kernel


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@functools.cache
def _softmax_rows():
    """Softmax of each row of a C-contiguous [rows, k] array, in cache: three passes per row
    where NumPy makes five over the whole array. float32 uses _fast_math's exp(-y) (no libm
    call: SIMD), taken as 0 past y = 18 where it is below 1.5e-8 of the row's maximum."""
    import numba

    exp_neg32 = _fast_math.scalars()["exp_neg32"]
    jit = numba.njit(nogil=True, fastmath=True, error_model="numpy")

    @jit
    def rows32(x, out):
        zero = np.float32(0)
        for i in range(x.shape[0]):
            m = x[i, 0]
            for j in range(1, x.shape[1]):
                if not x[i, j] <= m:       # NaN wins, as np.max
                    m = x[i, j]
            total = zero
            for j in range(x.shape[1]):
                y = m - x[i, j]
                e = zero if y > np.float32(18) else exp_neg32(y)
                out[i, j] = e
                total += e
            scale = np.float32(1) / total
            for j in range(x.shape[1]):
                out[i, j] *= scale

    @jit
    def rows64(x, out):
        for i in range(x.shape[0]):
            m = x[i, 0]
            for j in range(1, x.shape[1]):
                if not x[i, j] <= m:
                    m = x[i, j]
            total = 0.0
            for j in range(x.shape[1]):
                e = math.exp(x[i, j] - m)
                out[i, j] = e
                total += e
            scale = 1.0 / total
            for j in range(x.shape[1]):
                out[i, j] *= scale
    return rows32, rows64


@kernel(nn.Softmax, out=True)
def softmax(op, x, out=None):
    if (op.axis in (-1, x.ndim - 1) and x.size and x.dtype in (np.float32, np.float64)
            and (out is None or out.flags.c_contiguous)):
        rows = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
        result = np.empty(x.shape, x.dtype) if out is None else out
        _softmax_rows()[x.dtype == np.float64](rows, result.reshape(rows.shape))
        return result
    e = np.subtract(x, np.max(x, axis=op.axis, keepdims=True), out=out)
    np.exp(e, out=e)
    e /= np.sum(e, axis=op.axis, keepdims=True)
    return e


@kernel(nn.LogSoftmax)
def log_softmax(op, x):
    return _log_softmax(x, op.axis)


@kernel(nn.SoftmaxCrossEntropy)
def softmax_cross_entropy(op, labels, logits):
    if (logits.ndim == 2 and labels.shape == logits.shape and logits.dtype == labels.dtype
            and logits.dtype in (np.float32, np.float64) and logits.size):
        out = np.empty(logits.shape[0], logits.dtype)
        _cross_entropy_rows()(np.ascontiguousarray(labels), np.ascontiguousarray(logits), out)
        return out
    return -np.sum(labels * _log_softmax(logits, -1), axis=-1)


@functools.cache
def _cross_entropy_rows():
    """One pass per row: (max + log sum exp(x - max)) * sum(labels) - labels . x, summed in
    float64. NumPy's version makes six passes of short-axis reductions and temporaries
    (21 us for a 100 x 10 batch, against 2 us here), which made the stable loss the seed
    program's rewrite produces slower than the unstable one it replaces."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def rows(labels, logits, out):
        n, k = logits.shape
        for i in range(n):
            m = logits[i, 0]
            for j in range(1, k):
                if not logits[i, j] <= m:      # NaN wins, as np.max
                    m = logits[i, j]
            total = 0.0
            dot = 0.0
            mass = 0.0
            for j in range(k):
                total += math.exp(logits[i, j] - m)
                dot += labels[i, j] * logits[i, j]
                mass += labels[i, j]
            out[i] = (m + math.log(total)) * mass - dot
    return rows


@kernel(nn.SparseSoftmaxCrossEntropy)
def sparse_softmax_cross_entropy(op, labels, logits):
    classes = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise IndexError(f"sparse_softmax_cross_entropy: label ids must be in [0, {classes}), "
                         f"got values in [{labels.min()}, {labels.max()}]")
    logp = _log_softmax(logits, -1)
    return -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
