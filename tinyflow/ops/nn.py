"""Softmax family: softmax, log-softmax and the two fused cross-entropies (max-subtracted)."""
from __future__ import annotations

from typing import Optional

from ..core.op import Op, apply, apply2, as_tensor, shared, sum_terms
from ..core.shapes import normalize_axes
from ..core.tensor import Tensor
from .attention import AttentionWeightsGrad, infer_row_grad
from .creation import one_hot_like
from .math import cast, exp, not_equal
from .reduce import reduce_sum
from .shape import expand_dims


class Softmax(Op):
    name = "softmax"
    axis: int

    def infer(self, x):
        if x.shape is not None and not -len(x.shape) <= self.axis < len(x.shape):
            normalize_axes(self.axis, len(x.shape))   # its error names the axis and rank
        if not x.dtype.is_floating:
            raise TypeError("softmax needs a floating-point input")
        return x.shape, x.dtype

    def vjp(self, g, out, x):
        if out.kind == "eager" and g.dtype is out.dtype and (
                self.axis == -1 or self.axis == len(out.shape) - 1):
            # eager, over the last axis: attention's softmax backward, one op for four (graphs
            # keep the primitives, which the passes rewrite: stable_softmax)
            return (apply2(_SOFTMAX_GRAD, g, out),)
        return (out * (g - reduce_sum(g * out, self.axis, keepdims=True)),)

    def jvp(self, t, out, x):
        return out * (t[0] - reduce_sum(t[0] * out, self.axis, keepdims=True))


_SOFTMAX_GRAD = AttentionWeightsGrad(scale=1.0)


class LogSoftmax(Softmax):
    name = "log_softmax"

    def vjp(self, g, out, x):
        if out.kind == "eager" and g.dtype is out.dtype and (
                self.axis == -1 or self.axis == len(out.shape) - 1):
            # eager, over the last axis (every classifier's, a language model's 33k-word
            # rows): one pass for the four ops below (graphs keep those, for the passes)
            return (apply(_LOG_SOFTMAX_GRAD, g, out),)
        return (g - exp(out) * reduce_sum(g, self.axis, keepdims=True),)

    def jvp(self, t, out, x):
        return t[0] - reduce_sum(exp(out) * t[0], self.axis, keepdims=True)


class LogSoftmaxGrad(Op):
    """log_softmax_grad(g, y) = g - exp(y) * sum(g, -1): log_softmax's backward over the last
    axis given its output y, in one pass per row instead of four over the whole array."""
    name = "log_softmax_grad"
    composed = True        # derivatives: autodiff differentiates compose()
    saves_output = False

    def infer(self, g, y):
        return infer_row_grad(g, y, "y")

    def compose(self, g, y):
        return g - exp(y) * reduce_sum(g, -1, keepdims=True)


_LOG_SOFTMAX_GRAD = LogSoftmaxGrad()


def _loss_shape(logits):
    if logits.shape is None:
        return None
    if len(logits.shape) < 1:
        raise ValueError("logits need at least one dimension (the classes)")
    return logits.shape[:-1]


class SoftmaxCrossEntropy(Op):
    """-sum(labels * log_softmax(logits), -1): per-example loss against class probabilities."""
    name = "softmax_cross_entropy"

    def infer(self, labels, logits):
        if labels.shape is not None and logits.shape is not None:
            if len(labels.shape) != len(logits.shape) or any(
                    a is not None and b is not None and a != b
                    for a, b in zip(labels.shape, logits.shape)):
                raise ValueError(f"labels {labels.shape} and logits {logits.shape} "
                                 "must have the same shape")
        if not logits.dtype.is_floating:
            raise TypeError("logits must be floating point")
        return _loss_shape(logits), logits.dtype

    def vjp(self, g, out, labels, logits):
        g = expand_dims(g, -1)
        logp = log_softmax(logits)
        d_logits = g * (exp(logp) * reduce_sum(labels, -1, keepdims=True) - labels)
        return -g * logp, d_logits

    def jvp(self, t, out, labels, logits):
        logp = log_softmax(logits)
        d_logp = None if t[1] is None else t[1] - reduce_sum(exp(logp) * t[1], -1, keepdims=True)
        return sum_terms([None if t[0] is None else -reduce_sum(t[0] * logp, -1),
                          None if t[1] is None else -reduce_sum(labels * d_logp, -1)])


class SparseSoftmaxCrossEntropy(Op):
    """-log_softmax(logits)[..., label]: per-example loss against integer class ids. An
    example labelled `ignore_index` (PyTorch's) gives 0 and no gradient, decided by the
    kernel: a graph or a compiled step need not know its labels to take this op."""
    name = "sparse_softmax_cross_entropy"
    ignore_index: Optional[int] = None

    def infer(self, labels, logits):
        if not labels.dtype.is_integer:
            raise TypeError("labels must be integer class ids")
        if labels.shape is not None and logits.shape is not None:
            expect = _loss_shape(logits)
            if len(labels.shape) != len(expect) or any(
                    a is not None and b is not None and a != b
                    for a, b in zip(labels.shape, expect)):
                raise ValueError(f"labels {labels.shape} must have shape {expect} "
                                 f"for logits {logits.shape}")
        if not logits.dtype.is_floating:
            raise TypeError("logits must be floating point")
        return _loss_shape(logits), logits.dtype

    def vjp(self, g, out, labels, logits):
        return None, apply(shared(SparseSoftmaxCrossEntropyGrad, self.ignore_index),
                           g, labels, logits)

    def jvp(self, t, out, labels, logits):
        if t[1] is None:
            return None
        return reduce_sum(_residual(labels, logits, self.ignore_index) * t[1], -1)


def _residual(labels, logits, ignore_index):
    """softmax(logits) - one_hot(labels): the logits' gradient of the loss per example (0
    where the label is ignore_index)."""
    residual = softmax(logits) - one_hot_like(labels, logits, logits.dtype)
    if ignore_index is None:
        return residual
    return residual * expand_dims(cast(not_equal(labels, ignore_index), logits.dtype), -1)


class SparseSoftmaxCrossEntropyGrad(Op):
    """sparse_softmax_cross_entropy_grad(g, labels, logits) = g[..., None] * (softmax(logits)
    - one_hot(labels)): the logits' gradient as one op. Composed, it is a softmax (five
    passes over the logits), a one-hot array, a subtraction and a product; fused, four passes
    in one buffer."""
    name = "sparse_softmax_cross_entropy_grad"
    composed = True       # derivatives: autodiff differentiates compose()
    saves_output = False
    ignore_index: Optional[int] = None

    def infer(self, g, labels, logits):
        shape, dtype = shared(SparseSoftmaxCrossEntropy).infer(labels, logits)
        if g.dtype is not dtype:
            raise TypeError(f"g ({g.dtype.name}) must have the logits' dtype ({dtype.name})")
        if g.shape is not None and shape is not None and (
                len(g.shape) != len(shape) or any(a is not None and b is not None and a != b
                                                  for a, b in zip(g.shape, shape))):
            raise ValueError(f"g {g.shape} must have the loss's shape {shape}")
        return logits.shape, dtype

    def compose(self, g, labels, logits):
        return expand_dims(g, -1) * _residual(labels, logits, self.ignore_index)


def softmax(logits, axis=None, name=None, dim=None) -> Tensor:
    return apply(shared(Softmax, _axis_or_dim("softmax", axis, dim)), as_tensor(logits),
                 name=name)


def log_softmax(logits, axis=None, name=None, dim=None) -> Tensor:
    return apply(shared(LogSoftmax, _axis_or_dim("log_softmax", axis, dim)),
                 as_tensor(logits), name=name)


def _axis_or_dim(op: str, axis, dim) -> int:
    """TF1's softmax axis: `dim` is its deprecated name for `axis` (1.x programs pass it),
    both at once is an error, neither is the last axis."""
    if dim is not None and axis is not None:
        raise ValueError(f"{op}: cannot specify both 'axis' and 'dim'")
    return -1 if axis is None and dim is None else int(dim if axis is None else axis)


def softmax_cross_entropy(labels, logits, name=None) -> Tensor:
    return apply(shared(SoftmaxCrossEntropy), as_tensor(labels), as_tensor(logits), name=name)


def sparse_softmax_cross_entropy(labels, logits, ignore_index=None, name=None) -> Tensor:
    return apply(shared(SparseSoftmaxCrossEntropy, ignore_index), as_tensor(labels),
                 as_tensor(logits), name=name)
