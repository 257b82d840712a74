"""MultiheadAttention with PyTorch's parameters (in_proj_weight [3E, E], out_proj) and
forward signature. Without need_weights (and dropout, and with at most one mask) it runs
softmax(q k^T * scale + mask) v as one op each way (ops.dot_product_attention, as
F.scaled_dot_product_attention); else it computes the attention weights itself (the fused
ops.attention_weights) because callers asked for them or dropout drops some."""
from __future__ import annotations

import math
from typing import Optional

from ... import ops
from .. import functional as F
from .. import init
from .linear import Linear, NonDynamicallyQuantizableLinear, empty_parameter
from .module import Module


class MultiheadAttention(Module):
    """softmax(Q K^T / sqrt(d) + masks) V per head, then out_proj; returns (output,
    attention weights averaged over heads, or per head, or None)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True, add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: Optional[int] = None, vdim: Optional[int] = None,
                 batch_first: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv / add_zero_attn")
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.head_dim, self.batch_first = embed_dim // num_heads, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty_parameter(3 * embed_dim, embed_dim, dtype=dtype)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = empty_parameter(embed_dim, embed_dim, dtype=dtype)
            self.k_proj_weight = empty_parameter(embed_dim, self.kdim, dtype=dtype)
            self.v_proj_weight = empty_parameter(embed_dim, self.vdim, dtype=dtype)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = empty_parameter(3 * embed_dim, dtype=dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """xavier_uniform_ projections, zero biases; out_proj.weight keeps Linear's init."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def _projections(self) -> tuple:
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            ws = (w[:e], w[e:2 * e], w[2 * e:])
        else:
            ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        bs = (None,) * 3 if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        return ws, bs

    def _heads(self, x, batch: int, batch_first: bool = False):
        """[L, N, E] (batch_first: [N, L, E]) -> [N, heads, L, head_dim]."""
        if batch_first:
            x = ops.reshape(x, (_dim(batch), x.shape[1], self.num_heads, self.head_dim))
            return ops.transpose(x, (0, 2, 1, 3))
        x = ops.reshape(x, (x.shape[0], _dim(batch), self.num_heads, self.head_dim))
        return ops.transpose(x, (1, 2, 0, 3))

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: is_causal=True is a hint that needs the "
                               "causal attn_mask too (make it with "
                               "Transformer.generate_square_subsequent_mask)")
        batched = query.ndim == 3
        packed = query is key and key is value and self._qkv_same_embed_dim
        q, k, v = query, key, value
        if not batched:
            q, k, v = (ops.expand_dims(t, 1) for t in (q, k, v))
            if key_padding_mask is not None:
                key_padding_mask = ops.expand_dims(key_padding_mask, 0)
        # batch first: projected as given ([N, L, E], no copy of the transposed inputs), the
        # heads and the output taken in that layout
        first = self.batch_first and batched
        tgt_len, batch = (q.shape[1], q.shape[0]) if first else (q.shape[0], q.shape[1])
        if packed:    # self-attention: one product [.., E] x [E, 3E] (PyTorch's too), split
            qkv = F.linear(q, self.in_proj_weight, self.in_proj_bias)
            q, k, v = ops.split(qkv, 3, -1)
        else:
            (wq, wk, wv), (bq, bk, bv) = self._projections()
            q, k, v = F.linear(q, wq, bq), F.linear(k, wk, bk), F.linear(v, wv, bv)
        q, k, v = (self._heads(t, batch, first) for t in (q, k, v))
        scale = 1.0 / math.sqrt(self.head_dim)
        mask = _one_mask(attn_mask, key_padding_mask, batch, self.num_heads, q.dtype)
        if need_weights or self.dropout > 0.0 and self.training:
            out, weights = self._weighted_values(q, k, v, mask, scale)
        else:   # no weights wanted: softmax(...) v as one op each way
            out, weights = ops.dot_product_attention(q, k, v, mask, scale), None
        if first:
            out = ops.transpose(out, (0, 2, 1, 3))  # [N, L, heads, hd]
            out = self.out_proj(ops.reshape(out, (_dim(batch), tgt_len, self.embed_dim)))
        else:
            out = ops.transpose(out, (2, 0, 1, 3))  # [L, N, heads, hd]
            out = self.out_proj(ops.reshape(out, (tgt_len, _dim(batch), self.embed_dim)))
        if not batched:
            out = ops.squeeze(out, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = ops.reduce_mean(weights, 1)
        return out, (weights if batched else ops.squeeze(weights, 0))

    def _weighted_values(self, q, k, v, mask, scale):
        """(weights v, weights) with the weights computed on their own: the caller wants them,
        or dropout drops some."""
        weights = ops.attention_weights(q, k, mask, scale)
        if self.dropout > 0.0 and self.training:
            weights = F.dropout(weights, self.dropout, True)
        return ops.matmul(weights, v), weights


def _one_mask(attn_mask, key_padding_mask, batch: int, heads: int, dtype):
    """MHA's masks as the one mask of attention_weights: a bool mask says what may be
    attended (MHA's True means masked out), a float mask is added in the scores' dtype. Two
    masks become one, so a row both mask out entirely gets zero weights from the fused
    ops (as PyTorch's scaled_dot_product_attention) rather than a softmax's NaN."""
    masks = []
    if attn_mask is not None:
        mask = ops.as_tensor(attn_mask)
        if mask.ndim == 3:  # [N * heads, L, S]
            mask = ops.reshape(mask, (_dim(batch), heads) + tuple(mask.shape[1:]))
        masks.append(mask)
    if key_padding_mask is not None:
        mask = ops.as_tensor(key_padding_mask)
        masks.append(ops.reshape(mask, (_dim(batch), 1, 1, mask.shape[-1])))
    if not masks:
        return None
    if all(m.dtype.is_bool for m in masks):
        masked_out = masks[0] if len(masks) == 1 else ops.logical_or(*masks)
        return ops.logical_not(masked_out)
    total = None
    for mask in masks:
        if mask.dtype.is_bool:
            mask = ops.where(mask, -math.inf, 0.0)
        if mask.dtype is not dtype:
            mask = ops.cast(mask, dtype)
        total = mask if total is None else total + mask
    return total


def _dim(size) -> int:
    """A static dim for reshape: -1 where the batch is unknown until run time (graphs)."""
    return -1 if size is None else size
