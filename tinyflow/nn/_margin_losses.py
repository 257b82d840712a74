"""Two more margin losses, compositions of existing ops: the multi-label hinge loss
(multilabel_margin_loss) and the triplet loss with any distance function."""
from __future__ import annotations

from typing import Callable, Optional

from .. import ops
from ..core import dtypes
from ..core.errors import DTypeError, IndexOutOfRangeError, ShapeError
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ._losses import _reduce, _reduction


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """sum over target classes j and non-target classes i of max(0, 1 - x_j + x_i) / C. Each
    target row lists class ids up to its first -1; a class listed twice counts twice (as
    PyTorch's)."""
    x, t = as_tensor(input), as_tensor(target)
    if x.ndim not in (1, 2) or x.numel() == 0:
        raise ShapeError(f"multilabel_margin_loss: expected a non-empty [C] or [N, C] input, "
                         f"got shape {list(x.shape)}")
    if t.dtype is not dtypes.int64:
        raise DTypeError(f"multilabel_margin_loss: target must hold int64 class ids, got "
                         f"{t.dtype.name}")
    if tuple(t.shape) != tuple(x.shape):
        raise ShapeError(f"multilabel_margin_loss: target shape {list(t.shape)} must be the "
                         f"input's {list(x.shape)} (class ids, ended by -1)")
    classes = x.shape[-1]
    if not t.is_symbolic and (t.numpy().min() < -1 or t.numpy().max() >= classes):
        raise IndexOutOfRangeError(f"multilabel_margin_loss: target ids must be in "
                                   f"[-1, {classes}), got {t.numpy().min()}.."
                                   f"{t.numpy().max()}")
    rows, ids = ops.reshape(x, (-1, classes)), ops.reshape(t, (-1, classes))
    listed = ops.equal(ops.cumsum(ops.cast(ids < 0, dtypes.int64), axis=1), 0)
    hits = ops.one_hot(ops.maximum(ids, 0), classes, x.dtype) * ops.expand_dims(
        ops.cast(listed, x.dtype), -1)
    count = ops.reduce_sum(hits, 1)                       # [N, C]: times class j is listed
    others = ops.cast(ops.equal(count, 0.0), x.dtype)     # [N, C]: non-target classes i
    hinge = ops.maximum(1.0 - ops.expand_dims(rows, 2) + ops.expand_dims(rows, 1), 0.0)
    pairs = ops.expand_dims(count, 2) * ops.expand_dims(others, 1)
    loss = ops.reduce_sum(hinge * pairs, (1, 2)) / classes
    return _reduce(loss if x.ndim == 2 else ops.reshape(loss, ()),
                   _reduction(size_average, reduce, reduction))


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Optional[Callable] = None,
                                      margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) for any distance d (F.pairwise_distance by
    default); `swap` uses the closer of d(a, n) and d(p, n)."""
    from .functional import pairwise_distance   # functional imports this module
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: margin must be greater than 0, "
                         f"got {margin}")
    a, pos, neg = as_tensor(anchor), as_tensor(positive), as_tensor(negative)
    if not a.ndim == pos.ndim == neg.ndim:
        raise ShapeError(f"triplet_margin_with_distance_loss: anchor, positive and negative "
                         f"must have the same rank, got shapes {list(a.shape)}, "
                         f"{list(pos.shape)}, {list(neg.shape)}")
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos, d_neg = distance(a, pos), distance(a, neg)
    if swap:
        d_neg = ops.minimum(d_neg, distance(pos, neg))
    loss = ops.maximum(margin + d_pos - d_neg, 0.0)
    return _reduce(loss, reduction)
