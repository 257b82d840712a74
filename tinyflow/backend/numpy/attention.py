"""Attention-weight kernels: the [..., T, S] scores are masked and normalized in place."""
import functools

import numpy as np

from ...ops import attention
from .registry import kernel


@functools.lru_cache(maxsize=64)
def _above_diagonal(queries: int, keys: int) -> np.ndarray:
    """The causal mask's masked entries (key j > query i), built once per (T, S)."""
    hidden = np.triu(np.ones((queries, keys), bool), 1)
    hidden.flags.writeable = False
    return hidden


@kernel(attention.AttentionWeights, widen=0)
def attention_weights(op, q, k, mask=None):
    scores = np.matmul(q, np.swapaxes(k, -1, -2))
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
    """p * (g - sum(g * p)) * scale in one buffer: the row sums are taken from g * p written
    where the result goes."""
    out = np.multiply(g, p, out=out)
    row = np.add.reduce(out, axis=-1, keepdims=True)
    np.subtract(g, row, out=out)
    out *= p
    if op.scale != 1.0:   # softmax's own backward (scale 1): one pass fewer
        out *= op.scale
    return out
