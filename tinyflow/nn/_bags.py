"""F.embedding_bag: the sum, mean or max of the embedding rows of each bag of ids, without
materializing each id's row as a separate output (PyTorch's text-classifier layer).

Bags are given as rows of a 2-D id tensor, or as a flat id tensor cut by `offsets`. The flat
form is laid out as a 2-D [bags, longest bag] id matrix plus a mask of real entries (built in
NumPy from the offsets, which therefore need data); both forms then reduce the same padded
[bags, length, dim] gather, so gradients come from take, where and the reductions.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import ops
from ..core.errors import ShapeError, ValueRuntimeError
from ..core.op import as_tensor
from ..core.tensor import Tensor

_MODES = ("sum", "mean", "max")


def _bags_from_offsets(ids: np.ndarray, offsets: np.ndarray, include_last_offset: bool):
    """[bags, longest] positions into ids (0 where there is no entry) and the entry mask."""
    n = len(ids)
    if offsets.ndim != 1:
        raise ShapeError(f"embedding_bag: offsets must be 1-D, got shape {list(offsets.shape)}")
    if len(offsets) and offsets[0] != 0:
        raise ValueRuntimeError(f"embedding_bag: offsets[0] must be 0 (the first bag starts "
                                f"at the first id), got {offsets[0]}")
    if np.any(np.diff(offsets) < 0) or (len(offsets) and offsets[-1] > n):
        raise ValueRuntimeError(f"embedding_bag: offsets must be non-decreasing and at most "
                                f"the number of ids {n}, got {offsets.tolist()}")
    ends = offsets[1:] if include_last_offset else np.append(offsets[1:], n)
    starts = offsets[:len(ends)]
    lengths = ends - starts
    longest = int(lengths.max()) if len(lengths) else 0
    step = np.arange(longest)
    mask = step[None, :] < lengths[:, None]
    positions = np.where(mask, starts[:, None] + step[None, :], 0)
    return positions, mask


def embedding_bag(input: Tensor, weight: Tensor, offsets: Optional[Tensor] = None,
                  max_norm=None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                  mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Optional[Tensor] = None,
                  include_last_offset: bool = False,
                  padding_idx: Optional[int] = None) -> Tensor:
    """[bags, dim]: each bag's rows of `weight` reduced by `mode`; ids equal to padding_idx
    are left out (they count for no mean and get no gradient), an empty bag gives zeros."""
    if max_norm is not None or scale_grad_by_freq:
        raise NotImplementedError("embedding_bag: max_norm and scale_grad_by_freq are not "
                                  "supported")
    if mode not in _MODES:
        raise ValueError(f"embedding_bag: mode must be one of {_MODES}, got {mode!r}")
    ids, weight = as_tensor(input), as_tensor(weight)
    if weight.ndim != 2:
        raise ShapeError(f"embedding_bag: weight must be 2-D [num_embeddings, dim], got shape "
                         f"{list(weight.shape)}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights needs mode='sum', "
                                      f"got mode={mode!r}")
        per_sample_weights = as_tensor(per_sample_weights)
        if tuple(per_sample_weights.shape) != tuple(ids.shape):
            raise ShapeError(f"embedding_bag: per_sample_weights shape "
                             f"{list(per_sample_weights.shape)} must match the ids' "
                             f"{list(ids.shape)}")
    mask = None
    if ids.ndim == 2:
        if offsets is not None:
            raise ValueError(f"embedding_bag: offsets must be None for 2-D ids (each row is a "
                             f"bag), got ids of shape {list(ids.shape)} and offsets")
    elif ids.ndim == 1:
        if offsets is None:
            raise ValueError("embedding_bag: 1-D ids need offsets (where each bag starts)")
        positions, entries = _bags_from_offsets(
            ids._require_data("embedding_bag"),
            np.asarray(as_tensor(offsets)._require_data("embedding_bag offsets"), np.int64),
            include_last_offset)
        ids, mask = ops.take(ids, positions.reshape(-1), 0).reshape(positions.shape), entries
        if per_sample_weights is not None:
            per_sample_weights = ops.take(per_sample_weights, positions.reshape(-1), 0) \
                .reshape(positions.shape)
    else:
        raise ShapeError(f"embedding_bag: ids must be 1-D (with offsets) or 2-D [bags, ids], "
                         f"got shape {list(ids.shape)}")
    if padding_idx is not None:
        if not -weight.shape[0] <= padding_idx < weight.shape[0]:
            raise ValueError(f"embedding_bag: padding_idx {padding_idx} is out of range for "
                             f"{weight.shape[0]} embeddings")
        kept = ops.not_equal(ids, padding_idx % weight.shape[0])
        mask = kept if mask is None else ops.logical_and(kept, mask)
    return _reduce_bags(ops.take(weight, ids, 0), mask, mode, per_sample_weights)


def _reduce_bags(rows: Tensor, mask, mode: str, per_sample_weights) -> Tensor:
    """rows [bags, length, dim] reduced over length, counting only `mask`'s entries."""
    if per_sample_weights is not None:
        rows = rows * ops.expand_dims(per_sample_weights, -1)
    if mask is None:
        if mode == "sum":
            return rows.sum(1)
        return rows.mean(1) if mode == "mean" else rows.amax(1)
    keep = ops.expand_dims(as_tensor(mask), -1)
    count = keep.sum(1)
    if mode == "max":
        largest = ops.where(keep, rows, float("-inf")).amax(1)
        return ops.where(count > 0, largest, 0.0)
    total = ops.where(keep, rows, 0.0).sum(1)
    return total if mode == "sum" else total / count.clamp(min=1).to(rows.dtype)
