"""Ops that index with integer tensors (tinyflow/ops/indexing.py): take, gather, their
gradients, setitem, and argsort."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops import indexing as indexing_ops

from .common import NUMBERS, A, ErrorInput, Ids, OpCase, Ref, S, int64, small_ints

CASES: list[OpCase] = []


def take(x, indices, axis=0):
    return indexing_ops.take(x, indices, axis)


def np_take(x, indices, axis=0):
    return np.take(x, indices, axis)


def take_grad(g, indices, ref, axis=0):
    return apply(indexing_ops.TakeGrad(axis=axis), g, indices, ref)


def np_take_grad(g, indices, ref, axis=0):
    """Each slice of `g` added at its index along `axis` (repeated indices add up)."""
    out = np.zeros(ref.shape, g.dtype)
    before = (slice(None),) * axis
    for position, i in np.ndenumerate(indices):
        out[before + (i,)] += g[before + position]
    return out


CASES += [
    OpCase("take", take, np_take,
           (S(A(5, 4), Ids(1, 3, 1, 0)),
            S(A(3, 4), Ids(3, 0, 0, 2, shape=(2, 2)), axis=1),
            S(A(2, 3, 4, layout="T"), Ids(2, shape=()), axis=-1),
            S(A(5, 4, layout="step"), Ids(4, 4, 0, 1, 2, 3, shape=(2, 3), dtype=tf.int32))),
           NUMBERS,
           errors=(ErrorInput(S(A(5, 4), A(2)), tf.DTypeError,
                              r"^take: indices must be integers, got float32"),
                   ErrorInput(S(A(5, 4), Ids(7)), IndexError,
                              r"^take: index out of range for a dimension of size 5 \(indices "
                              r"span \[7, 7\]\)", at_run=True),
                   ErrorInput(S(A(5, 4), Ids(1), axis=2), ValueError,   # no op name
                              r"axis 2 is out of range for rank 2"))),
    OpCase("take_grad", take_grad, np_take_grad,
           (S(A(4, 4), Ids(1, 3, 1, 0), Ref(5, 4)),
            S(A(3, 2, 2, layout="T"), Ids(3, 0, 0, 2, shape=(2, 2)), Ref(3, 4), axis=1)),
           NUMBERS),
]


def gather(x, index, dim):
    return indexing_ops.gather(x, dim, index)


def np_gather(x, index, dim):
    out = np.zeros(index.shape, x.dtype)
    for position, i in np.ndenumerate(index):
        source = list(position)
        source[dim] = i
        out[position] = x[tuple(source)]
    return out


def gather_grad(g, index, ref, dim):
    return apply(indexing_ops.GatherGrad(axis=dim), g, index, ref)


def np_gather_grad(g, index, ref, dim):
    out = np.zeros(ref.shape, g.dtype)
    for position, i in np.ndenumerate(index):
        target = list(position)
        target[dim] = i
        out[tuple(target)] += g[position]
    return out


CASES += [
    OpCase("gather", gather, np_gather,
           (S(A(3, 4), Ids(0, 3, 3, 1, 2, 2, shape=(3, 2)), dim=1),
            S(A(3, 4), Ids(2, 0, 1, 2, 0, 0, 1, 1, shape=(2, 4)), dim=0),
            S(A(2, 3, 4, layout="T"), Ids(3, 0, 1, 1, 2, 3, 0, 0, 2, 1, 3, 2, shape=(2, 3, 2)),
              dim=-1),
            S(A(3, 4), Ids(3, 3, 0, 1, shape=(2, 2)), dim=1)),
           NUMBERS,
           errors=(ErrorInput(S(A(3, 4), Ids(0, 0, 0), dim=1), tf.ShapeError,
                              r"^gather: index has 1 dims and the input 2; they must match"),
                   ErrorInput(S(A(3, 4), A(3, 2), dim=1), tf.DTypeError,
                              r"^gather: indices must be integers, got float32"),
                   ErrorInput(S(A(3, 4), Ids(9, 9, 9, 9, 9, 9, shape=(3, 2)), dim=1), IndexError,
                              r"^gather: index out of range for a dimension of size 4 \(indices "
                              r"span \[9, 9\]\)", at_run=True),
                   # torch.gather refuses negative indices (take_along_dim would wrap)
                   ErrorInput(S(A(3, 4), Ids(-1, 0, 0, 0, 0, 0, shape=(3, 2)), dim=1),
                              IndexError, r"^gather: index out of range for a dimension of "
                              r"size 4 \(indices span \[-1, 0\]\)", at_run=True))),
    OpCase("gather_grad", gather_grad, np_gather_grad,
           (S(A(3, 2), Ids(0, 3, 3, 1, 2, 2, shape=(3, 2)), Ref(3, 4), dim=1),
            S(A(2, 4, layout="step"), Ids(2, 0, 1, 2, 2, 0, 1, 1, shape=(2, 4)), Ref(3, 4),
              dim=0)),
           NUMBERS),
]


def setitem(x, value, index):
    return indexing_ops.setitem(x, index, value)


def np_setitem(x, value, index):
    out = x.copy()
    out[index] = value
    return out


CASES += [
    OpCase("setitem", setitem, np_setitem,
           (S(A(5, 4), A(4), index=1),
            S(A(5, 4), A(), index=(slice(1, 3),)),
            S(A(5, 4), A(3, 4), index=np.array([0, 2, 4])),
            S(A(4, 5), A(4, 1), index=(slice(None), slice(1, 3))),
            S(A(4, 3, layout="T"), A(4, layout="step"), index=(Ellipsis, 0)),
            S(A(5, 4, layout="step"), A(3, 4), index=slice(None, None, -2))),
           NUMBERS,
           errors=(ErrorInput(S(A(5, 4), A(3), index=1), tf.ShapeError,
                              r"^setitem: dimension -1 is 4 in one and 3 in another"),
                   ErrorInput(S(A(5, 4), A(4), index=9), tf.ShapeError,
                              r"^setitem: index 9 is out of bounds for axis 0 with size 5"),
                   ErrorInput(S(A(2, 4), A(2, 4), index=0), tf.ShapeError,
                              r"^setitem: cannot write a value of shape \(2, 4\) into a "
                              r"selection of shape \(4,\)"))),
]


def np_argsort(x, axis=-1, descending=False):
    """Stable; descending keeps equal elements in their original order, as ascending does."""
    order = np.argsort(x, axis=axis, kind="stable")
    if not descending:
        return order
    n = x.shape[axis]
    # stable descending: sort by (-value, index) = reversed stable ascending of reversed x
    flipped = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return np.flip(n - 1 - flipped, axis)


CASES += [
    OpCase("argsort", tf.argsort, np_argsort,
           (S(A(3, 4, domain=small_ints)), S(A(3, 4, domain=small_ints), axis=0),
            S(A(2, 3, 4, domain=small_ints), descending=True),
            S(A(3, 4, domain=small_ints, layout="T"), axis=0, descending=True),
            S(A(5, domain=small_ints, layout="step"))), NUMBERS + (tf.bool,), int64,
           grad=False,
           errors=(ErrorInput(S(A(3, 4), axis=2), tf.ShapeError,
                              r"^argsort: axis 2 is out of range for rank 2"),)),
]
