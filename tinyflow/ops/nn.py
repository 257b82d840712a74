"""Softmax family: softmax, log-softmax and the two fused cross-entropies (max-subtracted)."""
from __future__ import annotations

from typing import Optional

from ..core.op import Op, apply, apply2, as_tensor, shared, sum_terms
from ..core.shapes import normalize_axes
from ..core.tensor import Tensor
from .attention import AttentionWeightsGrad, infer_row_grad
from ..core.modes import needs_input_grad
from .creation import one_hot_like, ones_like
from .indexing import TakeGrad, take
from .math import cast, equal, exp, not_equal, where
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


REDUCTIONS = ("none", "mean", "sum")


class SparseSoftmaxCrossEntropy(Op):
    """-log_softmax(logits)[..., label] per example against integer class ids, times the
    label's class weight when a `weight` [classes] is given. An example labelled
    `ignore_index` (PyTorch's) gives 0 and no gradient, decided by the kernel: a graph or a
    compiled step need not know its labels to take this op. `reduction` 'sum' or 'mean'
    reduces inside, as PyTorch's nll_loss: 'mean' divides by the summed weights of the
    examples that count (their number without a weight; NaN when none counts), so a
    classifier's loss is one op each way, where a per-example op, a mean and the mean's
    gradient (a division and a broadcast) were three forward and three backward."""
    name = "sparse_softmax_cross_entropy"
    ignore_index: Optional[int] = None
    reduction: str = "none"

    def infer(self, labels, logits, weight=None):
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
        if weight is not None:
            _check_weight(weight, logits)
        if self.reduction != "none":
            if self.reduction not in REDUCTIONS:
                raise ValueError(f"reduction={self.reduction!r} is unknown; use 'mean', "
                                 f"'sum' or 'none'")
            return (), logits.dtype
        return _loss_shape(logits), logits.dtype

    def vjp(self, g, out, labels, logits, weight=None):
        grad_op = shared(SparseSoftmaxCrossEntropyGrad, self.ignore_index, self.reduction)
        if weight is None:
            return None, apply(grad_op, g, labels, logits)
        d_logits = apply(grad_op, g, labels, logits, weight) if needs_input_grad(1) else None
        d_weight = None
        if needs_input_grad(2):   # d loss / d w[c]: the shares of the examples of class c
            share = g * _weight_share(self, labels, logits, weight)
            d_weight = apply(TakeGrad(axis=0), share, _counted_ids(labels, self.ignore_index),
                             weight)
        return None, d_logits, d_weight

    def jvp(self, t, out, labels, logits, weight=None):
        terms = []
        if t[1] is not None:
            scale = _example_scale(self, labels, logits, weight)
            d = reduce_sum(_residual(labels, logits, self.ignore_index) * t[1], -1)
            terms.append(d if scale is None else d * scale)
        if weight is not None and t[2] is not None:
            terms.append(take(t[2], _counted_ids(labels, self.ignore_index))
                         * _weight_share(self, labels, logits, weight))
        total = sum_terms(terms)
        return total if total is None or self.reduction == "none" else reduce_sum(total)


def _check_weight(weight, logits):
    if weight.dtype is not logits.dtype:
        raise TypeError(f"weight ({weight.dtype.name}) must have the logits' dtype "
                        f"({logits.dtype.name})")
    if weight.shape is not None and logits.shape is not None and (
            len(weight.shape) != 1 or None not in (weight.shape[0], logits.shape[-1])
            and weight.shape[0] != logits.shape[-1]):
        raise ValueError(f"weight {weight.shape} must have one entry per class "
                         f"({logits.shape[-1]})")


def _counted_ids(labels, ignore_index):
    """The labels with ignored ones as class 0 (their share is 0): ids to index with."""
    if ignore_index is None:
        return labels
    return where(not_equal(labels, ignore_index), labels, 0)


def _example_scale(op, labels, logits, weight):
    """Each example's factor in the reduced loss, as ops (the kernels do this in NumPy): its
    class weight (1 without one), 0 where ignored, over the factors' sum for 'mean' (over 1
    where that sum is 0: an all-ignored batch's zero gradients, PyTorch's). None: all 1."""
    scale, total = _factors(op, labels, logits, weight)
    return scale if total is None else scale / total


def _factors(op, labels, logits, weight):
    """(each example's weight, 0 where ignored; None: all 1 and not 'mean') and, for
    'mean', their sum (1 where it is 0), else None."""
    scale = None if weight is None else take(weight, _counted_ids(labels, op.ignore_index))
    if op.ignore_index is not None:
        kept = cast(not_equal(labels, op.ignore_index), logits.dtype)
        scale = kept if scale is None else scale * kept
    if op.reduction != "mean":
        return scale, None
    if scale is None:
        scale = ones_like(labels, dtype=logits.dtype)
    total = reduce_sum(scale)
    return scale, where(equal(total, 0), 1.0, total)


def _weight_share(op, labels, logits, weight):
    """d loss / d w[label] per example: its unweighted loss (0 where ignored); for 'mean',
    its loss less the mean, over the summed weights (0 in an all-ignored batch)."""
    nll = apply(shared(SparseSoftmaxCrossEntropy, op.ignore_index), labels, logits)
    if op.reduction != "mean":
        return nll
    scale, total = _factors(op, labels, logits, weight)
    centred = nll - reduce_sum(scale * nll) / total   # the mean, 0 (not NaN) if none counts
    if op.ignore_index is not None:
        centred = centred * cast(not_equal(labels, op.ignore_index), logits.dtype)
    return centred / total


def _residual(labels, logits, ignore_index):
    """softmax(logits) - one_hot(labels): the logits' gradient of the loss per example (0
    where the label is ignore_index)."""
    residual = softmax(logits) - one_hot_like(labels, logits, logits.dtype)
    if ignore_index is None:
        return residual
    return residual * expand_dims(cast(not_equal(labels, ignore_index), logits.dtype), -1)


class SparseSoftmaxCrossEntropyGrad(Op):
    """sparse_softmax_cross_entropy_grad(g, labels, logits[, weight]) = g[..., None] * scale
    * (softmax(logits) - one_hot(labels)), scale each example's factor in the loss (its
    class weight, over the summed weights for 'mean'): the logits' gradient as one op.
    Composed, it is a softmax (five passes over the logits), a one-hot array, a subtraction
    and a product; fused, four passes in one buffer."""
    name = "sparse_softmax_cross_entropy_grad"
    composed = True       # derivatives: autodiff differentiates compose()
    saves_output = False
    ignore_index: Optional[int] = None
    reduction: str = "none"

    def infer(self, g, labels, logits, weight=None):
        shape, dtype = shared(SparseSoftmaxCrossEntropy, self.ignore_index,
                              self.reduction).infer(labels, logits, weight)
        if g.dtype is not dtype:
            raise TypeError(f"g ({g.dtype.name}) must have the logits' dtype ({dtype.name})")
        if g.shape is not None and shape is not None and (
                len(g.shape) != len(shape) or any(a is not None and b is not None and a != b
                                                  for a, b in zip(g.shape, shape))):
            raise ValueError(f"g {g.shape} must have the loss's shape {shape}")
        return logits.shape, dtype

    def compose(self, g, labels, logits, weight=None):
        scale = _example_scale(self, labels, logits, weight)
        rows = g if scale is None else g * scale   # a reduced loss's g (0-d) broadcasts
        return expand_dims(rows, -1) * _residual(labels, logits, self.ignore_index)


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


def sparse_softmax_cross_entropy(labels, logits, ignore_index=None, name=None,
                                 reduction: str = "none", weight=None) -> Tensor:
    """Per example (reduction 'none'), or their weighted sum or mean (PyTorch's)."""
    inputs = (as_tensor(labels), as_tensor(logits))
    if weight is not None:
        inputs += (as_tensor(weight),)
    return apply(shared(SparseSoftmaxCrossEntropy, ignore_index, reduction), *inputs,
                 name=name)
