"""Softmax-family kernels, all max-subtracted so large logits do not overflow."""
import functools

import numpy as np

from ...ops import nn
from . import parallel
from .registry import kernel


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


# Rows at least this long (and arrays at least this large) go through the row loops of
# `_attention_loops` (shift by the max, NumPy's exp, normalize: three passes over memory
# where NumPy's makes five): the scores of attention written out by hand, [B, H, T, T]
ROW_LOOPS_FROM = (32, 1 << 14)
SOFTMAX_PASSES = 3              # of work per element, as parallel.MIN_ELEMENTS counts it


@functools.cache
def _attention_loops():
    from . import _attention_loops     # imports Numba: on first use
    return _attention_loops


@kernel(nn.Softmax, out=True, widen=0)
def softmax(op, x, out=None):
    if (x.ndim and op.axis in (-1, x.ndim - 1) and x.shape[-1] >= ROW_LOOPS_FROM[0]
            and x.size >= ROW_LOOPS_FROM[1] and x.dtype in (np.float32, np.float64)
            and x.flags.c_contiguous and (out is None or out.flags.c_contiguous
                                          and out.dtype == x.dtype)):
        out = np.empty_like(x) if out is None else out
        rows, loops = out.reshape(-1, x.shape[-1]), _attention_loops()
        x_rows, minus_inf = x.reshape(rows.shape), x.dtype.type(-np.inf)

        def piece(a, b):
            loops.shifted_rows(x_rows[a:b], rows[a:b], minus_inf)
            np.exp(rows[a:b], out=rows[a:b])
            loops.normalize_rows(rows[None, a:b], False, 0)
        parallel.split(piece, len(rows), x.size * SOFTMAX_PASSES)
        return out
    # the ufuncs' reduce, not np.max / np.sum: their Python wrappers cost more than a small
    # batch's arithmetic
    e = np.subtract(x, np.maximum.reduce(x, axis=op.axis, keepdims=True), out=out)
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=op.axis, keepdims=True)
    return e


@kernel(nn.LogSoftmax, inplace=True, widen=0)
def log_softmax(op, x, out=None):
    """`_log_softmax`'s arithmetic, into `out` (which may be x: a loss's logits, dying)."""
    shifted = np.subtract(x, np.max(x, axis=op.axis, keepdims=True), out=out)
    shifted -= np.log(np.sum(np.exp(shifted), axis=op.axis, keepdims=True))
    return shifted


@functools.cache
def _row_loops():
    from . import _row_loops     # imports Numba: on first use
    return _row_loops


@kernel(nn.SoftmaxCrossEntropy, widen=1)
def softmax_cross_entropy(op, labels, logits):
    if (logits.ndim == 2 and labels.shape == logits.shape and logits.dtype == labels.dtype
            and logits.dtype in (np.float32, np.float64) and logits.size):
        out = np.empty(logits.shape[0], logits.dtype)
        _row_loops().cross_entropy(np.ascontiguousarray(labels), np.ascontiguousarray(logits), out)
        return out
    return -np.sum(labels * _log_softmax(logits, -1), axis=-1)


@kernel(nn.SparseSoftmaxCrossEntropy, widen=1)
def sparse_softmax_cross_entropy(op, labels, logits):
    """log(sum(exp(x - max))) - (x[label] - max) per example: the exponentials in one
    buffer, and no full log-softmax array (only the picked logits are needed)."""
    classes = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise IndexError(f"sparse_softmax_cross_entropy: label ids must be in [0, {classes}), "
                         f"got values in [{labels.min()}, {labels.max()}]")
    top = np.max(logits, axis=-1, keepdims=True)
    e = np.subtract(logits, top)
    np.exp(e, out=e)
    picked = np.take_along_axis(logits, labels[..., None], axis=-1)
    picked -= top
    return np.log(np.sum(e, axis=-1)) - picked[..., 0]


@kernel(nn.SparseSoftmaxCrossEntropyGrad, widen=2)
def sparse_softmax_cross_entropy_grad(op, g, labels, logits):
    """g * (softmax(logits) - one_hot(labels)), the softmax scaled by g / sum in place and g
    taken off at each label."""
    out = np.empty(logits.shape, logits.dtype)    # C order (rows below are views of it)
    np.subtract(logits, np.max(logits, axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    scale = np.divide(g, np.sum(out, axis=-1))
    out *= scale[..., None]
    rows = out.reshape(-1, out.shape[-1])
    rows[np.arange(len(rows)), labels.reshape(-1)] -= g.reshape(-1)
    return out
