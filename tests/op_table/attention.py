"""Attention softmax(q k^T * scale + mask) v and its gradient op (F.scaled_dot_product_attention
without dropout; tests/test_sdpa_fused.py checks it against PyTorch), and the attention
weights alone and their gradient op (tinyflow/ops/attention.py)."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops import attention as attention_ops

from .common import A, Arg, ErrorInput, OpCase, S, simplex

CASES: list[OpCase] = []


def keeps_first_key(rng, shape):
    """A random bool mask that keeps key 0 for every query: no row is all -inf."""
    keep = rng.random(shape) < 0.6
    keep[..., 0] = True
    return keep


def Keep(*shape) -> Arg:
    return Arg(tuple(shape), keeps_first_key, dtype=tf.bool, diff=False)


def np_attention_weights(q, k, mask=None, scale=1.0, causal=False):
    scores = np.matmul(q.astype(np.float64), np.swapaxes(k.astype(np.float64), -1, -2)) * scale
    if mask is not None:
        scores = np.where(mask, scores, -np.inf) if mask.dtype == bool else scores + mask
    if causal:
        scores = np.where(np.tril(np.ones(scores.shape[-2:], bool)), scores, -np.inf)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def attention_weights(q, k, mask=None, scale=1.0, causal=False):
    return tf.ops.attention_weights(q, k, mask, scale, causal)


def np_attention_weights_grad(g, p, scale):
    g, p = g.astype(np.float64), p.astype(np.float64)
    return p * (g - (g * p).sum(-1, keepdims=True)) * scale


def attention_weights_grad(g, p, scale):
    return apply(attention_ops.AttentionWeightsGrad(scale=scale), g, p)


def np_attention(q, k, v, mask=None, scale=1.0, causal=False):
    return np_attention_weights(q, k, mask, scale, causal) @ v.astype(np.float64)


def dot_product_attention(q, k, v, mask=None, scale=1.0, causal=False):
    return tf.ops.dot_product_attention(q, k, v, mask, scale, causal)


def np_attention_grad(g, q, k, v, mask=None, scale=1.0, causal=False):
    """[dq; dk; dv] packed along the rows, zero-padded to the wider of D and Dv."""
    g, q, k, v = (x.astype(np.float64) for x in (g, q, k, v))
    p = np_attention_weights(q, k, mask, scale, causal)
    ds = np_attention_weights_grad(g @ np.swapaxes(v, -1, -2), p, scale)
    parts = [ds @ k, np.swapaxes(ds, -1, -2) @ q, np.swapaxes(p, -1, -2) @ g]
    batch = np.broadcast_shapes(*(x.shape[:-2] for x in parts))
    width = max(x.shape[-1] for x in parts)
    return np.concatenate([np.pad(np.broadcast_to(x, batch + x.shape[-2:]),
                                  [(0, 0)] * (len(batch) + 1) + [(0, width - x.shape[-1])])
                           for x in parts], -2)


def attention_grad(g, q, k, v, mask=None, scale=1.0, causal=False):
    inputs = (g, q, k, v) + (() if mask is None else (mask,))
    return apply(attention_ops.AttentionGrad(scale=scale, causal=causal), *inputs)


CASES += [
    OpCase("attention", dot_product_attention, np_attention,
           (S(A(4, 3), A(5, 3), A(5, 2), scale=0.5),
            S(A(2, 3, 5, 4), A(2, 3, 5, 4), A(2, 3, 5, 4), scale=0.5, causal=True),
            S(A(1, 4, 3), A(2, 6, 3, layout="T"), A(6, 5), causal=True),   # broadcast, T < S
            S(A(2, 3, 4, 2), A(2, 3, 5, 2), A(2, 1, 5, 3), Keep(4, 5), scale=0.7),
            S(A(2, 4, 2, layout="step"), A(2, 5, 2), A(2, 5, 2), A(1, 4, 5), scale=0.3),
            S(A(2, 7, 2), A(2, 4, 2), A(2, 4, 3), causal=True)),          # T > S
           errors=(ErrorInput(S(A(4, 3), A(5, 3), A(4, 2)), tf.ShapeError,
                              r"^attention: key and value have different lengths: 5 vs 4"),
                   ErrorInput(S(A(2, 4, 3), A(2, 5, 3), A(3, 5, 3)), tf.ShapeError,
                              r"^attention: the scores' batch dims \(2,\) and value's "
                              r"\(3,\) do not broadcast"),
                   ErrorInput(S(A(4, 3), A(5, 3), A(5,)), tf.ShapeError,
                              r"^attention: value needs rank >= 2"))),
    OpCase("attention_grad", attention_grad, np_attention_grad,
           (S(A(4, 2), A(4, 3), A(5, 3), A(5, 2), scale=0.5),
            S(A(2, 5, 4), A(2, 5, 4), A(2, 5, 4, layout="T"), A(2, 5, 4), scale=0.5,
              causal=True),
            S(A(2, 4, 3), A(2, 4, 2), A(1, 5, 2), A(5, 3), Keep(4, 5), scale=0.7)),
           # Attention.vjp makes this op only where the lengths and depths are known (else
           # it differentiates with the composition), and its packed layout needs them
           dynamic=False,
           errors=(ErrorInput(S(A(4, 3), A(4, 3), A(5, 3), A(5, 2)), tf.ShapeError,
                              r"^attention_grad: g \(4, 3\) must have attention's output "
                              r"shape \(4, 2\)"),)),
    OpCase("attention_weights", attention_weights, np_attention_weights,
           (S(A(4, 3), A(5, 3), scale=0.5),
            S(A(2, 3, 5, 4), A(2, 3, 5, 4), scale=0.5, causal=True),     # [B, H, T, D]
            S(A(1, 4, 3), A(2, 6, 3, layout="T"), causal=True),          # rectangular, broadcast
            S(A(2, 3, 4, 2), A(2, 3, 5, 2), Keep(4, 5), scale=0.7),      # bool mask
            S(A(2, 4, 2, layout="step"), A(2, 5, 2), A(1, 4, 5), scale=0.3),   # float mask
            S(A(2, 4, 2), A(2, 4, 2), A(4, 4), causal=True)),            # float mask, causal
           errors=(ErrorInput(S(A(4, 3), A(5, 2)), tf.ShapeError,
                              r"^attention_weights: query and key have different feature "
                              r"sizes: 3 vs 2"),
                   ErrorInput(S(A(2, 4, 3), A(3, 5, 3)), tf.ShapeError,
                              r"^attention_weights: query \(2, 4, 3\), key \(3, 5, 3\) and "
                              r"mask None do not broadcast"),
                   ErrorInput(S(A(4, 3), A(5, 3), A(4, 5, dtype=tf.int32)), tf.DTypeError,
                              r"^attention_weights: the mask must be bool or float32, got "
                              r"int32"),
                   ErrorInput(S(A(3), A(5, 3)), tf.ShapeError,
                              r"^attention_weights: query needs rank >= 2"))),
    OpCase("attention_weights_grad", attention_weights_grad, np_attention_weights_grad,
           (S(A(3, 5), A(3, 5, domain=simplex), scale=0.5),
            S(A(2, 3, 4, layout="T"), A(2, 3, 4, domain=simplex, layout="step"), scale=1.0)),
           errors=(ErrorInput(S(A(3, 5), A(3, 4), scale=1.0), tf.ShapeError,
                              r"^attention_weights_grad: g \(3, 5\) must have the shape of p"),)),
]
