"""Scaled dot-product attention as one op each way, and the attention weights alone.

`Attention` is softmax(q k^T * scale + mask) v, F.scaled_dot_product_attention without
dropout: one kernel runs whole heads per thread of the kernel pool with single-threaded
products (OpenBLAS threads each small per-head product badly), and, causal, skips the key
blocks above the diagonal. Its output is all it keeps: `AttentionGrad` recomputes the
weights block by block (as flash attention does) and returns dq, dk and dv packed in one
tensor (an op has one output), which `Attention.vjp` slices into views.

`AttentionWeights` is the weights p alone (nn.MultiheadAttention returns them, and dropout
on p needs them): composed from primitive ops that is a product, a scaling, a [T, S] mask
built and added, and three softmax passes forward, and five full passes over the [.., T, S]
scores backward; fused, the scores are masked and normalized in place, and p is saved for
backward as PyTorch's math backend saves it."""
from __future__ import annotations

from ..core.modes import needs_input_grad
from ..core.op import Op, apply, as_tensor, sum_terms
from ..core.shapes import broadcast_shapes
from ..core.tensor import Tensor
from .linalg import matmul
from .reduce import reduce_sum
from .shape import concat, getitem, pad


def _probabilities_shape(q, k, mask):
    for t, what in ((q, "query"), (k, "key")):
        if t.shape is not None and len(t.shape) < 2:
            raise ValueError(f"{what} needs rank >= 2 ([..., T, D]), got shape {t.shape}")
    if not q.dtype.is_floating or q.dtype is not k.dtype:
        raise TypeError(f"query and key need one floating dtype, got {q.dtype.name} and "
                        f"{k.dtype.name}")
    if mask is not None and not (mask.dtype.is_bool or mask.dtype is q.dtype):
        raise TypeError(f"the mask must be bool or {q.dtype.name}, got {mask.dtype.name}")
    if q.shape is None or k.shape is None:
        return None
    if None not in (q.shape[-1], k.shape[-1]) and q.shape[-1] != k.shape[-1]:
        raise ValueError(f"query and key have different feature sizes: {q.shape[-1]} vs "
                         f"{k.shape[-1]}")
    try:
        shape = broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (q.shape[-2], k.shape[-2])
        return shape if mask is None else broadcast_shapes(shape, mask.shape)
    except ValueError:
        raise ValueError(f"query {q.shape}, key {k.shape} and mask "
                         f"{None if mask is None else mask.shape} do not broadcast to "
                         f"[..., T, S] scores") from None


class AttentionWeights(Op):
    """attention_weights(q [..., T, D], k [..., S, D][, mask]) = softmax(q k^T * scale + mask)
    over S. A bool mask keeps the scores where it is True (-inf elsewhere), a float mask is
    added; `causal` masks key j > query i (top-left aligned, as PyTorch's is_causal)."""
    name = "attention_weights"
    broadcasts = True      # batch dims and the mask broadcast; gradients are summed back
    scale: float
    causal: bool

    def infer(self, q, k, mask=None):
        return _probabilities_shape(q, k, mask), q.dtype

    def vjp(self, g, p, q, k, mask=None):
        ds = apply(AttentionWeightsGrad(scale=self.scale), g, p)   # d(q k^T)
        dq = matmul(ds, k) if needs_input_grad(0) else None
        dk = matmul(ds, q, transpose_a=True) if needs_input_grad(1) else None
        if mask is None:
            return dq, dk
        d_mask = None
        if not mask.dtype.is_bool and needs_input_grad(2):
            d_mask = ds * (1.0 / self.scale)
        return dq, dk, d_mask

    def jvp(self, t, p, q, k, mask=None):
        products = sum_terms([None if t[0] is None else matmul(t[0], k, transpose_b=True),
                              None if t[1] is None else matmul(q, t[1], transpose_b=True)])
        t_scores = sum_terms([None if products is None else products * self.scale,
                              t[2] if len(t) > 2 else None])
        if t_scores is None:
            return None
        return p * (t_scores - reduce_sum(t_scores * p, -1, keepdims=True))


def infer_row_grad(g, y, y_name: str):
    """Shape and dtype of a row op's backward from its output y and the gradient g: both of
    one floating dtype and one shape (unknown dims allowed)."""
    if not g.dtype.is_floating or g.dtype is not y.dtype:
        raise TypeError(f"g and {y_name} need one floating dtype, got {g.dtype.name} and "
                        f"{y.dtype.name}")
    if g.shape is not None and y.shape is not None and (
            len(g.shape) != len(y.shape) or any(a is not None and b is not None and a != b
                                                for a, b in zip(g.shape, y.shape))):
        raise ValueError(f"g {g.shape} must have the shape of {y_name} {y.shape}")
    return y.shape if y.shape is not None else g.shape, y.dtype


class AttentionWeightsGrad(Op):
    """attention_weights_grad(g, p) = p * (g - sum(g * p, -1)) * scale: the gradient of the
    scores q k^T given that of the weights p (softmax's backward and the scaling, one pass)."""
    name = "attention_weights_grad"
    composed = True        # derivatives: autodiff differentiates compose()
    saves_output = False
    scale: float

    def infer(self, g, p):
        return infer_row_grad(g, p, "p")

    def compose(self, g, p):
        return p * (g - reduce_sum(g * p, -1, keepdims=True)) * self.scale


def _attention_shape(q, k, v, mask):
    """[..., T, Dv]: the scores' batch dims broadcast with v's, T from q, Dv from v."""
    scores = _probabilities_shape(q, k, mask)
    if v.dtype is not q.dtype:
        raise TypeError(f"query and value need one dtype, got {q.dtype.name} and "
                        f"{v.dtype.name}")
    if v.shape is not None and len(v.shape) < 2:
        raise ValueError(f"value needs rank >= 2 ([..., S, Dv]), got shape {v.shape}")
    if scores is None or v.shape is None:
        return None
    if None not in (k.shape[-2], v.shape[-2]) and k.shape[-2] != v.shape[-2]:
        raise ValueError(f"key and value have different lengths: {k.shape[-2]} vs "
                         f"{v.shape[-2]}")
    try:
        return broadcast_shapes(scores[:-2], v.shape[:-2]) + (scores[-2], v.shape[-1])
    except ValueError:
        raise ValueError(f"the scores' batch dims {scores[:-2]} and value's {v.shape[:-2]} "
                         f"do not broadcast") from None


class Attention(Op):
    """attention(q [..., T, D], k [..., S, D], v [..., S, Dv][, mask]) =
    softmax(q k^T * scale + mask) v, masks and `causal` as in `AttentionWeights` (a row whose
    every key is masked gives zeros)."""
    name = "attention"
    broadcasts = True      # batch dims and the mask broadcast; gradients are summed back
    scale: float
    causal: bool

    def infer(self, q, k, v, mask=None):
        return _attention_shape(q, k, v, mask), q.dtype

    def vjp(self, g, out, q, k, v, mask=None):
        masks = () if mask is None else (mask,)
        mask_grad = mask is not None and not mask.dtype.is_bool and needs_input_grad(3)
        if mask_grad or any(x.shape is None or None in x.shape[-2:] for x in (q, k, v)):
            # rare: a float mask's gradient (the scores'), or a graph's unknown lengths (no
            # packed rows to slice): with the weights p and primitive ops
            grads = _gradients(self, g, q, k, v, mask)
            return grads[:3] + ((grads[3] if mask_grad else None,) if masks else ())
        t, s, d, dv = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
        grads = apply(AttentionGrad(scale=self.scale, causal=self.causal), g, q, k, v,
                      *masks)
        wanted = ((0, slice(0, t), d), (1, slice(t, t + s), d), (2, slice(t + s, None), dv))
        parts = tuple(getitem(grads, (Ellipsis, rows, slice(0, width)))
                      if needs_input_grad(i) else None for i, rows, width in wanted)
        return parts + ((None,) if masks else ())

    def jvp(self, t, out, q, k, v, mask=None):
        p = attention_weights(q, k, mask, self.scale, self.causal)
        weights = AttentionWeights(scale=self.scale, causal=self.causal)
        t_p = weights.jvp(t[:2] + t[3:], p, q, k, *(() if mask is None else (mask,)))
        return sum_terms([None if t_p is None else matmul(t_p, v),
                          None if t[2] is None else matmul(p, t[2])])


class AttentionGrad(Op):
    """attention_grad(g, q, k, v[, mask]) = [dq; dk; dv] of `Attention` given its output's
    gradient g [..., T, Dv], packed along the rows: [..., T + 2 S, max(D, Dv)] (dq in rows
    :T, dk in T:T+S, dv in T+S:, each in its leading columns, zeros after), batch dims those
    of g. q, k and v are not summed back to their own batch dims here (Attention.vjp's
    caller does that, `broadcasts`)."""
    name = "attention_grad"
    composed = True        # derivatives: autodiff differentiates compose()
    saves_output = False
    scale: float
    causal: bool

    def infer(self, g, q, k, v, mask=None):
        out = _attention_shape(q, k, v, mask)
        if g.dtype is not q.dtype:
            raise TypeError(f"g and query need one dtype, got {g.dtype.name} and "
                            f"{q.dtype.name}")
        if out is None or g.shape is None:
            return None, q.dtype
        if len(g.shape) != len(out) or any(a is not None and b is not None and a != b
                                           for a, b in zip(g.shape, out)):
            raise ValueError(f"g {g.shape} must have attention's output shape {out}")
        t, s, d, dv = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
        rows = None if None in (t, s) else t + 2 * s
        width = None if None in (d, dv) else max(d, dv)
        return out[:-2] + (rows, width), q.dtype

    def compose(self, g, q, k, v, mask=None):
        parts = _gradients(self, g, q, k, v, mask)[:3]
        width = max(q.shape[-1], v.shape[-1])
        parts = [x if x.shape[-1] == width else
                 pad(x, [(0, 0)] * (x.ndim - 1) + [(0, width - x.shape[-1])]) for x in parts]
        return concat(parts, -2)


def _gradients(op, g, q, k, v, mask) -> tuple:
    """dq, dk, dv (batch dims those of g) and the scores' gradient, with the weights p and
    primitive ops: the math AttentionGrad's kernel runs block by block."""
    p = attention_weights(q, k, mask, op.scale, op.causal)
    d_logits = apply(AttentionWeightsGrad(scale=1.0), matmul(g, v, transpose_b=True), p)
    d_scores = d_logits * op.scale
    return (matmul(d_scores, k), matmul(d_scores, q, transpose_a=True),
            matmul(p, g, transpose_a=True), d_logits)


def dot_product_attention(q, k, v, mask=None, scale: float = 1.0, causal: bool = False,
                          name=None) -> Tensor:
    """softmax(q k^T * scale + mask) v (see `Attention`)."""
    inputs = (as_tensor(q), as_tensor(k), as_tensor(v)) + (
        () if mask is None else (as_tensor(mask),))
    return apply(Attention(scale=float(scale), causal=bool(causal)), *inputs, name=name)


def attention_weights(q, k, mask=None, scale: float = 1.0, causal: bool = False,
                      name=None) -> Tensor:
    """softmax(q k^T * scale + mask) over the keys (see `AttentionWeights`)."""
    inputs = (as_tensor(q), as_tensor(k)) + (() if mask is None else (as_tensor(mask),))
    return apply(AttentionWeights(scale=float(scale), causal=bool(causal)), *inputs,
                 name=name)


__all__ = ["Attention", "AttentionGrad", "AttentionWeights", "AttentionWeightsGrad",
           "attention_weights", "dot_product_attention"]
