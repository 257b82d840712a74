"""The core of scaled dot-product attention as one op each way: the attention weights
p = softmax(q k^T * scale + mask) and their gradient. Composed from primitive ops that is a
product, a scaling, a [T, S] mask built and added, and three softmax passes forward, and
five full passes over the [.., T, S] scores backward; fused, the scores are masked and
normalized in place. F.scaled_dot_product_attention is then attention_weights(q, k) @ v, so
p is saved for backward as PyTorch's math backend saves it (an op has one output: p is it),
and the products with v are ordinary matmuls with their own gradients."""
from __future__ import annotations

from ..core.modes import needs_input_grad
from ..core.op import Op, apply, as_tensor, sum_terms
from ..core.shapes import broadcast_shapes
from ..core.tensor import Tensor
from .linalg import matmul
from .reduce import reduce_sum


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


class AttentionWeightsGrad(Op):
    """attention_weights_grad(g, p) = p * (g - sum(g * p, -1)) * scale: the gradient of the
    scores q k^T given that of the weights p (softmax's backward and the scaling, one pass)."""
    name = "attention_weights_grad"
    composed = True        # derivatives: autodiff differentiates compose()
    saves_output = False
    scale: float

    def infer(self, g, p):
        if not g.dtype.is_floating or g.dtype is not p.dtype:
            raise TypeError(f"g and p need one floating dtype, got {g.dtype.name} and "
                            f"{p.dtype.name}")
        if g.shape is not None and p.shape is not None and (
                len(g.shape) != len(p.shape) or any(a is not None and b is not None and a != b
                                                    for a, b in zip(g.shape, p.shape))):
            raise ValueError(f"g {g.shape} must have the shape of p {p.shape}")
        return p.shape if p.shape is not None else g.shape, p.dtype

    def compose(self, g, p):
        return p * (g - reduce_sum(g * p, -1, keepdims=True)) * self.scale


def attention_weights(q, k, mask=None, scale: float = 1.0, causal: bool = False,
                      name=None) -> Tensor:
    """softmax(q k^T * scale + mask) over the keys (see `AttentionWeights`)."""
    inputs = (as_tensor(q), as_tensor(k)) + (() if mask is None else (as_tensor(mask),))
    return apply(AttentionWeights(scale=float(scale), causal=bool(causal)), *inputs,
                 name=name)


__all__ = ["AttentionWeights", "AttentionWeightsGrad", "attention_weights"]
