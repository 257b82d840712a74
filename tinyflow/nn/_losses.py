"""PyTorch's loss functions (F.cross_entropy, F.mse_loss, ...), re-exported by
nn/functional.py. Compositions of tinyflow ops, so they differentiate twice and build graph
nodes on TF1 placeholders. Class scores are in dim 1 (dim 0 for unbatched input)."""
from __future__ import annotations

import math
import warnings
from functools import partial
from typing import Optional

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.errors import DTypeError, ShapeError
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ..ops.nn import REDUCTIONS


def _reduction(size_average, reduce, reduction: str) -> str:
    """The legacy `size_average`/`reduce` flags, as PyTorch maps them to `reduction`."""
    if size_average is None and reduce is None:
        return reduction
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return ops.reduce_mean(loss)
    if reduction == "sum":
        return ops.reduce_sum(loss)
    if reduction == "none":
        return loss
    _unknown_reduction(reduction)


def _unknown_reduction(reduction: str):
    raise ValueError(f"reduction={reduction!r} is unknown; use 'mean', 'sum' or 'none'")


def _pair(loss: str, input, target) -> tuple[Tensor, Tensor]:
    """An elementwise loss's operands. A target of another shape is broadcast, with
    PyTorch's warning (it is usually a mistake: (N, 1) against (N,) gives an N x N loss);
    shapes that do not broadcast are refused naming the loss."""
    x, t = as_tensor(input), as_tensor(target)
    if x.shape != t.shape and x.shape is not None and t.shape is not None:
        if None not in x.shape and None not in t.shape:
            try:
                np.broadcast_shapes(x.shape, t.shape)
            except ValueError:
                raise ShapeError(f"{loss}: the size of input {list(x.shape)} and target "
                                 f"{list(t.shape)} do not match and do not broadcast") from None
        warnings.warn(f"{loss}: target {list(t.shape)} and input {list(x.shape)} differ in "
                      f"shape and are broadcast against each other, which is rarely what a "
                      f"loss means; give the target the input's shape", stacklevel=3)
    return x, t


def _same_shape(loss: str, input, target) -> tuple[Tensor, Tensor]:
    """Binary cross-entropies refuse a target of another shape (PyTorch's ValueError):
    broadcasting (N, 1) against (N,) would give a plausible but wrong number."""
    x, t = as_tensor(input), as_tensor(target)
    if x.shape != t.shape and not (x.is_symbolic or t.is_symbolic):
        raise ShapeError(f"{loss}: target {list(t.shape)} and input {list(x.shape)} differ "
                         f"in shape; give the target the input's shape")
    return x, t


def _check_class_target(loss: str, x: Tensor, t: Tensor, weight, probabilities: bool):
    """The targets PyTorch's cross_entropy / nll_loss accept, else an error naming the loss:
    input [N, C, d...] (or [C]) with int64 or uint8 class ids [N, d...] (or []), or (for
    cross_entropy) probabilities of the input's shape; a weight of C entries. (N, 1) ids
    against (N, C) would otherwise broadcast into a wrong number. Returns the target, uint8
    ids widened to int64."""
    if t.dtype.is_floating:
        if probabilities and (t.shape == x.shape or x.shape is None or t.shape is None):
            return t
        if not probabilities or t.ndim != x.ndim:
            raise DTypeError(f"{loss}: the target is {t.dtype.name} {list(t.shape)}; class "
                             f"indices must be int64 or uint8 (convert with .long())")
        raise ShapeError(f"{loss}: class probabilities of shape {list(t.shape)} must have "
                         f"the input's shape {list(x.shape)}")
    if t.dtype not in (dtypes.int64, dtypes.uint8):
        raise DTypeError(f"{loss}: the target is {t.dtype.name}; class indices must be int64 "
                         f"or uint8 (convert with .long())")
    if x.shape is not None and t.shape is not None and None not in x.shape + t.shape:
        _check_id_shapes(loss, x, t, weight)
    return ops.cast(t, dtypes.int64) if t.dtype is dtypes.uint8 else t


def _check_id_shapes(loss: str, x: Tensor, t: Tensor, weight) -> None:
    classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    if weight is not None and tuple(as_tensor(weight).shape) != (classes,):
        raise ShapeError(f"{loss}: weight has shape {list(as_tensor(weight).shape)}; it "
                         f"needs one entry per class [{classes}] (or leave it None)")
    expected = ((), (1,)) if x.ndim == 1 else ((x.shape[0],) + tuple(x.shape[2:]),)
    if tuple(t.shape) in expected:
        return
    if x.ndim == 2 and t.ndim == 1:
        raise ShapeError(f"{loss}: input has {x.shape[0]} samples but target "
                         f"{t.shape[0]}; give one target per sample")
    if x.ndim <= 2:
        raise ShapeError(f"{loss}: the target must be 0-D or 1-D, one class per sample "
                         f"(input {list(x.shape)}, target {list(t.shape)})")
    raise ShapeError(f"{loss}: the target is {list(t.shape)}; for input "
                     f"{list(x.shape)} it must be {list(expected[0])} (the input without its "
                     f"class dim 1)")


def _classes_last(x: Tensor) -> Tensor:
    """[N, C, d1, ...] -> [N, d1, ..., C]: the ops reduce over the last axis."""
    if x.ndim <= 2:
        return x
    return ops.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))


def _check_targets(target: Tensor, classes: int, ignore_index: int) -> bool:
    """Refuse out-of-range class ids (eager only); True if some target is ignored (or may
    be: a graph's, or a device's, which would cost a fetch)."""
    if target.is_symbolic or target.kind == "remote":
        return True
    t = target.numpy()
    if t.size:   # every step's check: two reductions when all ids are in range (one id, a
        # char-RNN's letter: read in Python)
        low = high = t.item() if t.size == 1 else None
        if low is None:
            low, high = np.minimum.reduce(t, None), np.maximum.reduce(t, None)
        if 0 <= low and high < classes and not low <= ignore_index <= high:
            return False
    bad = (t != ignore_index) & ((t < 0) | (t >= classes))
    if bad.any():
        raise IndexError(f"target class {t[bad].flat[0]} is out of range for {classes} "
                         f"classes (0..{classes - 1})")
    return bool((t == ignore_index).any())


@ops.in_float32(autocast_float32=True)
def cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy against class ids or class probabilities (same shape as input).

    Class ids without label smoothing are one op (weights, ignored ids and the reduction
    inside); the rest is log_softmax followed by nll_loss's masked, weighted pick.
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, t = as_tensor(input), as_tensor(target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing={label_smoothing} must be in "
                         f"[0, 1]")
    t = _check_class_target("cross_entropy", x, t, weight, probabilities=True)
    logits = _classes_last(x)
    if t.dtype.is_floating:
        return _soft_cross_entropy(logits, _classes_last(t), weight, reduction,
                                   label_smoothing)
    ignored = _check_targets(t, logits.shape[-1], ignore_index)
    if label_smoothing == 0.0:
        # one op each way, weights, ignored labels (a graph's may be: the kernel decides)
        # and the reduction inside, as PyTorch's nll_loss
        if reduction not in REDUCTIONS:
            _unknown_reduction(reduction)
        if weight is not None:
            weight = ops.cast(as_tensor(weight), logits.dtype)
        return ops.sparse_softmax_cross_entropy(t, logits, ignore_index if ignored else None,
                                                reduction=reduction, weight=weight)
    return _nll(ops.log_softmax(logits, -1), t, weight, ignore_index, reduction,
                label_smoothing)


def _soft_cross_entropy(logits, probs, weight, reduction, label_smoothing) -> Tensor:
    """-sum_c w_c p_c log_softmax(x)_c; 'mean' divides by the number of rows, as PyTorch."""
    classes = logits.shape[-1]
    if label_smoothing > 0.0:
        probs = probs * (1.0 - label_smoothing) + label_smoothing / classes
    if weight is not None:
        probs = probs * weight
    loss = -ops.reduce_sum(ops.log_softmax(logits, -1) * probs, -1)
    return _reduce(loss, reduction)


@ops.in_float32(autocast_float32=True)
def nll_loss(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
             size_average=None, ignore_index: int = -100, reduce=None,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities `input` at the class ids `target`."""
    reduction = _reduction(size_average, reduce, reduction)
    t = _check_class_target("nll_loss", as_tensor(input), as_tensor(target), weight,
                            probabilities=False)
    logp = _classes_last(as_tensor(input))
    ignored = _check_targets(t, logp.shape[-1], ignore_index)
    if weight is None and not ignored and t.array.size:
        # every target counts (eager, checked above): one op each way, where the masks of
        # `_nll` make 15 (a char-RNN's loss per letter, one sample each)
        if reduction not in REDUCTIONS:
            _unknown_reduction(reduction)
        return ops.nll(logp, t, reduction)
    return _nll(logp, t, weight, ignore_index, reduction, 0.0)


def _nll(logp, target, weight, ignore_index, reduction, label_smoothing) -> Tensor:
    """PyTorch's weighted NLL with ignore_index: 'mean' divides by the summed weights of the
    targets that count; label smoothing mixes in the (weighted) mean over all classes.

    Each target's log-probability is gathered (its gradient a scatter into zeros), as
    PyTorch's: a one-hot product made a language model's step (700 targets x 33k classes)
    write and read three dense [N, classes] arrays more, forward and backward."""
    classes = logp.shape[-1]
    valid = ops.not_equal(target, ignore_index)
    mask = ops.cast(valid, logp.dtype)
    ids = ops.where(valid, target, 0)
    picked = ops.squeeze(ops.gather(logp, -1, ops.expand_dims(ids, -1)), -1)
    target_weight = mask if weight is None else ops.take(weight, ids) * mask
    loss = -picked * target_weight
    if label_smoothing > 0.0:
        spread = logp if weight is None else logp * weight
        smooth = -ops.reduce_sum(spread, -1) * mask
        loss = loss * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)
    if reduction == "mean":   # every target ignored: NaN, with zero gradients (PyTorch's)
        total = ops.reduce_sum(target_weight)
        none = ops.equal(total, 0)
        return (ops.reduce_sum(loss) / ops.where(none, 1.0, total)
                + ops.where(none, float("nan"), 0.0))
    return _reduce(loss, reduction)


@ops.in_float32(autocast_float32=True)
def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight=None) -> Tensor:
    input, target = _pair("mse_loss", input, target)
    diff = input - target
    return _reduce(_weighted(diff * diff, weight), _reduction(size_average, reduce, reduction))


@ops.in_float32(autocast_float32=True)
def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight=None) -> Tensor:
    input, target = _pair("l1_loss", input, target)
    return _reduce(_weighted(ops.abs(input - target), weight),
                   _reduction(size_average, reduce, reduction))


def _weighted(loss: Tensor, weight) -> Tensor:
    return loss if weight is None else loss * weight


@ops.in_float32(autocast_float32=True)
def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Quadratic (0.5 d^2 / beta) below beta, linear (|d| - beta / 2) above."""
    input, target = _pair("smooth_l1_loss", input, target)
    if beta > 0.0 and input.shape == target.shape and input.dtype is target.dtype:
        return _reduce(ops.smooth_l1(input, target, beta),   # one op
                       _reduction(size_average, reduce, reduction))
    d = ops.abs(input - target)
    if beta == 0.0:
        loss = d
    else:
        loss = ops.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)
    return _reduce(loss, _reduction(size_average, reduce, reduction))


@ops.in_float32(autocast_float32=True)
def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight=None) -> Tensor:
    input, target = _pair("huber_loss", input, target)
    d = ops.abs(input - target)
    loss = ops.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    return _reduce(_weighted(loss, weight), reduction)


@ops.in_float32(autocast_float32=True)
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Optional[Tensor] = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Optional[Tensor] = None) -> Tensor:
    """Sigmoid + binary cross-entropy in the stable form max(x, 0) - x y + log(1 + e^-|x|),
    which never exponentiates a large positive number."""
    x, y = _same_shape("binary_cross_entropy_with_logits", input, target)
    softplus_neg = ops.log(1 + ops.exp(-ops.abs(x)))  # log(1 + e^-|x|)
    if pos_weight is None:
        loss = ops.maximum(x, 0.0) - x * y + softplus_neg
    else:  # (1 - y) x + (1 + (pw - 1) y) * log(1 + e^-x)
        log_weight = (pos_weight - 1) * y + 1
        loss = (1 - y) * x + log_weight * (softplus_neg + ops.maximum(-x, 0.0))
    return _reduce(_weighted(loss, weight), _reduction(size_average, reduce, reduction))


@ops.in_float32(autocast_float32=True)
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)), each log clamped at -100 as PyTorch does (one op:
    its gradient stays finite at p = 0 or 1)."""
    p, y = _same_shape("binary_cross_entropy", input, target)
    loss = ops.binary_cross_entropy(p, y)
    return _reduce(_weighted(loss, weight), _reduction(size_average, reduce, reduction))


@ops.in_float32(autocast_float32=True)
def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """target * (log target - input), with 0 log 0 = 0; 'batchmean' divides by the batch."""
    x, t = _pair("kl_div", input, target)
    if log_target:
        loss = ops.exp(t) * (t - x)
    else:
        positive = t > 0
        loss = ops.where(positive, t * (ops.log(ops.where(positive, t, 1.0)) - x), 0.0)
    reduction = _reduction(size_average, reduce, reduction)
    if reduction == "batchmean":
        return ops.reduce_sum(loss) / (x.shape[0] if x.ndim else 1)
    return _reduce(loss, reduction)


@ops.in_float32(autocast_float32=True)
def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -y (x1 - x2) + margin): y = 1 ranks x1 above x2, -1 below."""
    x1, x2, y = as_tensor(input1), as_tensor(input2), as_tensor(target)
    if not x1.ndim == x2.ndim == y.ndim:
        raise ShapeError(f"margin_ranking_loss: input1 {list(x1.shape)}, input2 "
                         f"{list(x2.shape)} and target {list(y.shape)} must have one number "
                         f"of dims")
    loss = ops.maximum(-y * (x1 - x2) + margin, 0.0)
    return _reduce(loss, _reduction(size_average, reduce, reduction))


@ops.in_float32(autocast_float32=True)
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where y = 1, max(0, cos - margin) where y = -1 (0 for other y); the
    cosine along the last dim, each squared norm plus 1e-12 (zero rows give 0, not NaN)."""
    x1, x2, y = as_tensor(input1), as_tensor(input2), as_tensor(target)
    if y.ndim + 1 != x1.ndim or x1.ndim not in (1, 2):
        raise ShapeError(f"cosine_embedding_loss: {y.ndim}D target tensor expects "
                         f"{y.ndim + 1}D input tensors (at most 2D), but found inputs with "
                         f"sizes {list(x1.shape)} and {list(x2.shape)}.")
    dot = ops.reduce_sum(x1 * x2, -1)
    squares = (ops.reduce_sum(x1 * x1, -1) + 1e-12) * (ops.reduce_sum(x2 * x2, -1) + 1e-12)
    cos = dot / ops.sqrt(squares)
    loss = (ops.where(ops.equal(y, 1), 1.0 - cos, 0.0)
            + ops.where(ops.equal(y, -1), ops.maximum(cos - margin, 0.0), 0.0))
    return _reduce(loss, _reduction(size_average, reduce, reduction))


def margin_scores(loss: str, input, target) -> tuple:
    """The multi-class margin losses' checks: scores a non-empty [C] or [N, C], class ids
    int64."""
    x, t = as_tensor(input), as_tensor(target)
    if x.ndim not in (1, 2) or x.numel() == 0:
        raise ShapeError(f"{loss}: the input {list(x.shape)} must be a non-empty [C] or "
                         f"[N, C]")
    if t.dtype is not dtypes.int64:
        raise DTypeError(f"{loss}: the target is {t.dtype.name}; class indices must be int64 "
                         f"(convert with .long())")
    return x, t


@ops.in_float32(autocast_float32=True)
def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Optional[Tensor] = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """The multi-class hinge loss: sum over classes i != y of w_y max(0, margin - x_y +
    x_i)^p, divided by the number of classes."""
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: p={p}; p must be 1 or 2")
    x, t = margin_scores("multi_margin_loss", input, target)
    batch, classes = (1, x.shape[0]) if x.ndim == 1 else x.shape
    if t.numel() != batch or t.ndim > 1:
        raise ShapeError(f"multi_margin_loss: the target is {list(t.shape)} for input "
                         f"{list(x.shape)}; it must be [{batch}], one class per sample")
    if weight is not None and tuple(as_tensor(weight).shape) != (classes,):
        raise ShapeError(f"multi_margin_loss: weight {list(as_tensor(weight).shape)} must "
                         f"be [{classes}], one per class")
    if not t.is_symbolic and t.numel() and (t.numpy().min() < 0 or t.numpy().max() >= classes):
        raise IndexError(f"multi_margin_loss: target out of range (classes 0..{classes - 1})")
    rows, ids = ops.reshape(x, (batch, classes)), ops.reshape(t, (batch, 1))
    picked = ops.gather(rows, 1, ids)
    hinge = ops.maximum(rows - picked + margin, 0.0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * ops.reshape(ops.gather(as_tensor(weight), 0, ops.reshape(t, (batch,))),
                                    (batch, 1))
    others = 1.0 - ops.one_hot(ops.reshape(t, (batch,)), classes, hinge.dtype)
    loss = ops.reduce_sum(hinge * others, 1) / classes
    # a 1-D input's loss takes the target's shape: () or [1], as PyTorch's
    return _reduce(loss if x.ndim == 2 else ops.reshape(loss, tuple(t.shape)),
                   _reduction(size_average, reduce, reduction))


@ops.in_float32(autocast_float32=True)
def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True,
                     full: bool = False, size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """The negative log-likelihood of a Poisson count `target` with rate exp(input)
    (log_input) or input; `full` adds Stirling's term for log(target!) where target > 1."""
    x, t = as_tensor(input), as_tensor(target)
    if log_input:
        loss = ops.exp(x) - t * x
    else:
        loss = x - t * ops.log(x + eps)
    if full:
        big = t > 1
        safe = ops.where(big, t, 1.0)
        stirling = safe * ops.log(safe) - safe + 0.5 * ops.log(2 * math.pi * safe)
        loss = loss + ops.where(big, stirling, 0.0)
    return _reduce(loss, _reduction(size_average, reduce, reduction))


__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
           "cosine_embedding_loss", "huber_loss", "kl_div", "l1_loss", "margin_ranking_loss",
           "mse_loss", "multi_margin_loss", "nll_loss", "poisson_nll_loss", "smooth_l1_loss",
           "gaussian_nll_loss", "hinge_embedding_loss", "multilabel_soft_margin_loss",
           "soft_margin_loss", "triplet_margin_loss"]


@ops.in_float32(autocast_float32=True)
def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y x)), y = +-1: logistic regression's loss on a margin. Written as
    max(z, 0) + log1p(exp(-|z|)) so a large margin neither overflows nor rounds to 0."""
    x, y = as_tensor(input), as_tensor(target)
    z = -y * x
    loss = ops.maximum(z, 0.0) + ops.log1p(ops.exp(-ops.abs(z)))
    return _reduce(loss, _reduction(size_average, reduce, reduction))


@ops.in_float32(autocast_float32=True)
def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """x (a distance) where y = 1, max(0, margin - x) where y = -1; as PyTorch, a target
    that is neither adds both terms."""
    x, y = as_tensor(input), as_tensor(target)
    loss = (ops.where(ops.not_equal(y, 1), ops.maximum(margin - x, 0.0), 0.0)
            + ops.where(ops.not_equal(y, -1), x, 0.0))
    return _reduce(loss, _reduction(size_average, reduce, reduction))


@ops.in_float32(autocast_float32=True)
def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """One binary cross-entropy on logits per class (target 0/1 in each), averaged over the
    classes (the last dim): a loss per sample, then reduced."""
    per_class = binary_cross_entropy_with_logits(input, target, weight, reduction="none")
    return _reduce(ops.reduce_mean(per_class, -1), _reduction(size_average, reduce, reduction))


@ops.in_float32(autocast_float32=True)
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) with F.pairwise_distance; `swap` uses the closer of
    d(a, n) and d(p, n) (the harder negative)."""
    from ._margin_losses import triplet_loss   # it imports this module
    from .functional import pairwise_distance    # functional imports this module
    return triplet_loss(anchor, positive, negative, partial(pairwise_distance, p=p, eps=eps),
                        margin, swap, _reduction(size_average, reduce, reduction),
                        "triplet_margin_loss")


@ops.in_float32(autocast_float32=True)
def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """0.5 (log var + (x - t)^2 / var) (+ 0.5 log 2 pi if full): the negative log likelihood
    of t under N(x, var). var is per element, or one short of input's shape (one variance
    per row), or a number. As PyTorch, var is clamped to eps in value only: its gradient
    still flows where it was clamped."""
    x, t = as_tensor(input), as_tensor(target)
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        v = ops.ones_like(x) * float(var)
    else:
        v = as_tensor(var)
        if not v.is_symbolic and np.any(v.detach().numpy() < 0):
            raise ValueError("var has negative entry/entries")
    if v.shape != x.shape:
        if tuple(x.shape[:-1]) == tuple(v.shape):
            v = ops.expand_dims(v, -1)
        elif not (v.ndim == x.ndim and
                  sum(b for a, b in zip(x.shape, v.shape) if a != b) == 1):
            raise ValueError("var is of incorrect size")
    v = v + ops.stop_gradient(ops.maximum(v, eps) - v)
    loss = 0.5 * (ops.log(v) + (x - t) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
