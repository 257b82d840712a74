"""F.embedding_bag: the sum, mean or max of the embedding rows of each bag of ids, without
materializing each id's row as a separate output (PyTorch's text-classifier layer).

Bags are given as rows of a 2-D id tensor, or as a flat id tensor cut by `offsets`. Both are
read (ids and offsets are data) into one bag number per id, padding_idx entries dropped; the
kept ids' rows are then added into [bags, dim] by bag number (take's scatter-add gradient op),
so memory follows the number of ids, never bags x longest bag. Max mode picks one row per
(bag, column) in NumPy, the first largest as PyTorch, which therefore needs weight's values;
its gradient goes to that row alone.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import ops
from ..core.errors import DTypeError, IndexOutOfRangeError, ShapeError, ValueRuntimeError
from ..core.op import apply, as_tensor
from ..core.tensor import Tensor
from ..ops.indexing import TakeGrad

_MODES = ("sum", "mean", "max")


def _bag_numbers(n: int, offsets: np.ndarray, include_last_offset: bool):
    """The bag number of each of the n ids, and the number of bags."""
    if offsets.ndim != 1:
        raise ShapeError(f"embedding_bag: offsets must be 1-D, got shape {list(offsets.shape)}")
    if len(offsets) and offsets[0] != 0:
        raise ValueRuntimeError(f"embedding_bag: offsets[0] must be 0 (the first bag starts "
                                f"at the first id), got {offsets[0]}")
    if np.any(np.diff(offsets) < 0) or (len(offsets) and offsets[-1] > n):
        raise ValueRuntimeError(f"embedding_bag: offsets must be non-decreasing and at most "
                                f"the number of ids {n}, got {offsets.tolist()}")
    if include_last_offset and (not len(offsets) or offsets[-1] != n):
        raise ValueRuntimeError(f"embedding_bag: with include_last_offset the last offset must "
                                f"be the number of ids {n} (the end of the last bag), got "
                                f"{offsets.tolist()}")
    bags = len(offsets) - 1 if include_last_offset else len(offsets)
    if include_last_offset:
        offsets = offsets[:-1]
    if n and not len(offsets):
        raise ValueRuntimeError(f"embedding_bag: offsets name no bag for the {n} ids")
    # the bag of id i is the last b with offsets[b] <= i (empty bags are passed over)
    return np.searchsorted(offsets, np.arange(n), side="right") - 1, bags


def _add_into(rows: Tensor, bag: np.ndarray, bags: int) -> Tensor:
    """[bags, dim]: rows[k] added into row bag[k] (zeros where no row goes)."""
    zeros = np.broadcast_to(np.zeros((), rows.dtype.np), (bags, rows.shape[1]))
    return apply(TakeGrad(axis=0), rows, Tensor._eager(bag), Tensor._eager(zeros))


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
    id_values = np.asarray(ids._require_data("embedding_bag ids"))
    if id_values.dtype.kind not in "iu":
        raise DTypeError(f"embedding_bag: ids must be integers, got {id_values.dtype}")
    if ids.ndim == 2:
        if offsets is not None:
            raise ValueError(f"embedding_bag: offsets must be None for 2-D ids (each row is a "
                             f"bag), got ids of shape {list(ids.shape)} and offsets")
        bags, width = ids.shape
        if width == 0:
            raise ShapeError(f"embedding_bag: 2-D ids need at least one id per bag, got shape "
                             f"{list(ids.shape)}")
        bag = np.repeat(np.arange(bags), width)
    elif ids.ndim == 1:
        if offsets is None:
            raise ValueError("embedding_bag: 1-D ids need offsets (where each bag starts)")
        bag, bags = _bag_numbers(
            len(id_values),
            np.asarray(as_tensor(offsets)._require_data("embedding_bag offsets"), np.int64),
            include_last_offset)
    else:
        raise ShapeError(f"embedding_bag: ids must be 1-D (with offsets) or 2-D [bags, ids], "
                         f"got shape {list(ids.shape)}")
    id_values = id_values.reshape(-1).astype(np.int64)
    rows_in = weight.shape[0]
    if np.any((id_values < 0) | (id_values >= rows_in)):
        bad = id_values[(id_values < 0) | (id_values >= rows_in)][0]
        raise IndexOutOfRangeError(f"embedding_bag: id {bad} is out of range for weight of "
                                   f"shape {list(weight.shape)}")
    kept = slice(None)
    if padding_idx is not None:
        if not -rows_in <= padding_idx < rows_in:
            raise ValueError(f"embedding_bag: padding_idx {padding_idx} is out of range for "
                             f"{rows_in} embeddings")
        kept = np.flatnonzero(id_values != padding_idx % rows_in)
        id_values, bag = id_values[kept], bag[kept]
    rows = ops.take(weight, id_values, 0)
    if per_sample_weights is not None:
        rows = rows * ops.expand_dims(ops.reshape(per_sample_weights, (-1,))[kept], -1)
    if mode == "max":
        return _largest_per_bag(rows, bag, bags)
    total = _add_into(rows, bag, bags)
    if mode == "sum":
        return total
    count = np.maximum(np.bincount(bag, minlength=bags), 1)[:, None]
    return total / count.astype(rows.dtype.np)


def _largest_per_bag(rows: Tensor, bag: np.ndarray, bags: int) -> Tensor:
    """Each non-empty bag's column-wise largest row entry (the first of equal ones), zeros
    for empty bags; `bag` is non-decreasing."""
    if not len(bag):
        return _add_into(rows, bag, bags)
    values = np.asarray(rows._require_data("embedding_bag max mode weight"))
    starts = np.flatnonzero(np.r_[True, bag[1:] != bag[:-1]])
    largest = np.maximum.reduceat(values, starts, axis=0)
    own = largest[np.searchsorted(starts, np.arange(len(bag)), "right") - 1]
    at = np.where((values == own) | np.isnan(values), np.arange(len(bag))[:, None], len(bag))
    first = np.minimum.reduceat(at, starts, axis=0)   # [non-empty bags, dim] row numbers
    dim = values.shape[1]
    picked = ops.take(ops.reshape(rows, (-1,)), (first * dim + np.arange(dim)).reshape(-1), 0)
    return _add_into(ops.reshape(picked, first.shape), bag[starts], bags)
