"""Two more margin losses, compositions of existing ops: the multi-label hinge loss
(multilabel_margin_loss) and the triplet loss with any distance function."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .. import ops
from ..core.errors import IndexOutOfRangeError, ShapeError
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ._losses import _reduce, _reduction, margin_scores


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """sum over target classes j and non-target classes i of max(0, 1 - x_j + x_i) / C. Each
    target row lists class ids up to its first -1; a class listed twice counts twice (as
    PyTorch's)."""
    x, t = margin_scores("multilabel_margin_loss", input, target)
    if tuple(t.shape) != tuple(x.shape):
        raise ShapeError(f"multilabel_margin_loss: target shape {list(t.shape)} must be the "
                         f"input's {list(x.shape)} (class ids, ended by -1)")
    classes = x.shape[-1]
    ids = np.asarray(t._require_data("multilabel_margin_loss target")).reshape(-1, classes)
    if ids.min() < -1 or ids.max() >= classes:
        raise IndexOutOfRangeError(f"multilabel_margin_loss: target ids must be in "
                                   f"[-1, {classes}), got {ids.min()}..{ids.max()}")
    # the ids before each row's first -1; only the longest such prefix is gathered
    listed = np.cumsum(ids < 0, axis=1) == 0
    longest = int(listed.sum(1).max())
    listed, ids = listed[:, :longest], np.where(listed, ids, 0)[:, :longest]
    others = np.ones((len(ids), classes), bool)    # [N, C]: the non-target classes
    others[np.nonzero(listed)[0], ids[listed]] = False
    rows = ops.reshape(x, (-1, classes))
    scores = ops.gather(rows, 1, ids)               # [N, T]: the listed classes' scores
    hinge = ops.maximum(1.0 - ops.expand_dims(scores, 2) + ops.expand_dims(rows, 1), 0.0)
    pairs = (listed[:, :, None] & others[:, None, :]).astype(x.dtype.np)
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
    return triplet_loss(anchor, positive, negative, distance_function or pairwise_distance,
                        margin, swap, reduction, "triplet_margin_with_distance_loss")


def triplet_loss(anchor, positive, negative, distance: Callable, margin: float, swap: bool,
                 reduction: str, what: str) -> Tensor:
    """The triplet hinge shared by F.triplet_margin_loss and
    F.triplet_margin_with_distance_loss; `what` names the caller in errors."""
    if margin <= 0:
        raise ValueError(f"{what}: margin must be greater than 0, got {margin}")
    a, pos, neg = as_tensor(anchor), as_tensor(positive), as_tensor(negative)
    if not a.ndim == pos.ndim == neg.ndim:
        raise ShapeError(f"{what}: anchor, positive and negative must have the same rank, got "
                         f"shapes {list(a.shape)}, {list(pos.shape)}, {list(neg.shape)}")
    d_pos, d_neg = distance(a, pos), distance(a, neg)
    if swap:
        d_neg = ops.minimum(d_neg, distance(pos, neg))
    loss = ops.maximum(margin + d_pos - d_neg, 0.0)
    return _reduce(loss, reduction)
