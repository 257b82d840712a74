"""Attention-weight kernels: the [..., T, S] scores are masked and normalized in place.

float32 and float64 scores go through the row loops of `_attention_loops` (three passes over
the scores: scale, mask and shift; NumPy's exp; normalize), other dtypes and masks whose
batch dims broadcast only partly through NumPy (eight passes)."""
import functools
import math

import numpy as np

from ...ops import attention
from .registry import kernel


@functools.lru_cache(maxsize=64)
def _above_diagonal(queries: int, keys: int) -> np.ndarray:
    """The causal mask's masked entries (key j > query i), built once per (T, S)."""
    hidden = np.triu(np.ones((queries, keys), bool), 1)
    hidden.flags.writeable = False
    return hidden


def _loops():
    from . import _attention_loops
    return _attention_loops


def _rows_mask(mask, shape):
    """The mask as a C-contiguous [1 or B, T, S] array for scores of `shape` [..., T, S]
    (B: the batch dims flattened), or None when it broadcasts to more than the scores."""
    if np.broadcast_shapes(shape, mask.shape) != shape:
        return None
    if all(d == 1 for d in mask.shape[:-2]):     # one [T, S] mask for every batch entry
        plane = mask.reshape(mask.shape[-2:]) if mask.ndim > 2 else mask
        return np.ascontiguousarray(np.broadcast_to(plane, shape[-2:]))[None]
    return np.ascontiguousarray(np.broadcast_to(mask, shape)).reshape(-1, *shape[-2:])


@kernel(attention.AttentionWeights, widen=0)
def attention_weights(op, q, k, mask=None):
    scores = np.matmul(q, np.swapaxes(k, -1, -2))
    if scores.dtype in (np.float32, np.float64) and scores.size:
        rows_mask = np.zeros((1, 1, 1), bool) if mask is None else _rows_mask(mask,
                                                                              scores.shape)
        if rows_mask is not None:
            if rows_mask.dtype != np.bool_:
                rows_mask = rows_mask.astype(scores.dtype, copy=False)
            rows = scores.reshape(-1, *scores.shape[-2:])
            f = scores.dtype.type
            _loops().shifted_scores(rows, f(op.scale), op.causal, rows_mask,
                                    mask is not None, f(-math.inf))
            np.exp(rows, out=rows)
            _loops().normalize_rows(rows, op.causal)
            return scores
    return _weights_numpy(op, scores, mask)


def _weights_numpy(op, scores, mask):
    scores *= op.scale
    if mask is not None:
        if np.broadcast_shapes(scores.shape, mask.shape) != scores.shape:
            scores = np.array(np.broadcast_to(scores, np.broadcast_shapes(scores.shape,
                                                                          mask.shape)))
        if mask.dtype == np.bool_:
            np.copyto(scores, -np.inf, where=~mask)
        else:
            scores += mask
    if op.causal:
        np.copyto(scores, -np.inf, where=_above_diagonal(*scores.shape[-2:]))
    top = scores.max(-1, keepdims=True)
    empty = np.isneginf(top)       # a row with every key masked: zeros, as PyTorch's
    if empty.any():
        top[empty] = 0.0
    scores -= top
    np.exp(scores, out=scores)
    total = scores.sum(-1, keepdims=True)
    if empty.any():
        total[empty] = 1.0
    scores /= total
    return scores


@kernel(attention.AttentionWeightsGrad, out=True, widen=0)
def attention_weights_grad(op, g, p, out=None):
    """p * (g - sum(g * p)) * scale: one pass over rows (float32/64, C-contiguous), else in
    one buffer with NumPy (the row sums taken from g * p written where the result goes)."""
    if (g.dtype == p.dtype and g.dtype in (np.float32, np.float64) and g.size
            and g.flags.c_contiguous and p.flags.c_contiguous
            and (out is None or out.flags.c_contiguous and out.dtype == g.dtype)):
        out = np.empty_like(g) if out is None else out
        width = g.shape[-1]
        _loops().weights_grad(g.reshape(-1, width), p.reshape(-1, width),
                              g.dtype.type(op.scale), out.reshape(-1, width))
        return out
    out = np.multiply(g, p, out=out)
    row = np.add.reduce(out, axis=-1, keepdims=True)
    np.subtract(g, row, out=out)
    out *= p
    if op.scale != 1.0:   # softmax's own backward (scale 1): one pass fewer
        out *= op.scale
    return out
