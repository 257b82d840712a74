"""Reductions (tinyflow/ops/reduce.py): sum, max, min, mean, count, argmax/argmin, cumsum,
and the sugar built on them (var, logsumexp)."""
from __future__ import annotations

import math

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.core.shapes import normalize_axes
from tinyflow.ops import reduce as reduce_ops

from .common import (FLOATS, HALF_TOO, NUMBERS, A, ErrorInput, OpCase, S, distinct, floating,
                     int64, real, summed, wide)

CASES: list[OpCase] = []


def reduce_samples(domain=real) -> tuple:
    return (S(A(3, 4, domain=domain)),
            S(A(3, 4, domain=domain), axis=0),
            S(A(2, 3, 4, domain=domain), axis=-1, keepdims=True),
            S(A(2, 3, 4, domain=domain), axis=(0, 2)),
            S(A(2, 3, 4, domain=domain), axis=(0, -1), keepdims=True),
            S(A(3, 4, domain=domain, layout="T"), axis=1),
            S(A(3, 4, domain=domain, layout="step"), axis=None, keepdims=True),
            S(A(5, domain=domain), axis=0),
            S(A(0, 3, domain=domain), axis=1))


def axis_error(op, axis: int = 2, error: type = tf.ShapeError) -> ErrorInput:
    """An axis out of range for a (3, 4) input; `op` None: the message names no op."""
    prefix = f"^{op}: " if op else ""
    return ErrorInput(S(A(3, 4), axis=axis), error,
                      rf"{prefix}axis {axis} is out of range for rank 2")


CASES += [
    OpCase("sum", tf.reduce_sum, np.sum, reduce_samples(), NUMBERS + (tf.bool,), summed,
           errors=(ErrorInput(S(A(None, 784), axis=2), tf.ShapeError,
                              r"^sum: axis 2 is out of range for rank 2"),
                   ErrorInput(S(A(3, 4), axis=(0, 0)), tf.ShapeError,
                              r"^sum: repeated axis in \(0, 0\)"))),
    OpCase("max", tf.reduce_max, np.max, reduce_samples(distinct), NUMBERS,
           errors=(axis_error("max", -3),)),
    OpCase("min", tf.reduce_min, np.min, reduce_samples(distinct), NUMBERS,
           errors=(axis_error("min"),)),
    OpCase("reduce_mean", tf.reduce_mean, np.mean, reduce_samples(), HALF_TOO, floating,
           sugar=True, errors=(axis_error("(sum|mean)", 5),)),  # graphs: the sum it divides
]


def mean(x, axis=None, keepdims=False):
    """The eager mean's op, also in graphs (where reduce_mean builds sum and divide)."""
    op = reduce_ops.Mean(axis=normalize_axes(axis, x.ndim), keepdims=keepdims)
    return apply(op, x)


CASES += [
    OpCase("mean", mean, np.mean, reduce_samples(),
           errors=(ErrorInput(S(A(3, 4, dtype=tf.int32)), tf.DTypeError,
                              r"^mean: needs a floating-point input, got int32"),)),
]


def count(x, axis=None):
    op = reduce_ops.Count(axis=normalize_axes(axis, x.ndim), keepdims=False, dtype=x.dtype)
    return apply(op, x)


def np_count(x, axis=None):
    axes = range(x.ndim) if axis is None else np.atleast_1d(axis)
    return np.array(math.prod(x.shape[a] for a in axes), x.dtype)


CASES += [
    OpCase("count", count, np_count,
           (S(A(3, 4)), S(A(2, 3, 4), axis=1), S(A(2, 3, 4), axis=(0, 2))), NUMBERS,
           grad=False),
]


def np_cumsum(x, axis=0, reverse=False):
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis), axis)
    return np.cumsum(x, axis)


CASES += [
    OpCase("cumsum", tf.cumsum, np_cumsum,
           (S(A(3, 4)), S(A(3, 4), axis=1), S(A(2, 3, 4), axis=-1, reverse=True),
            S(A(3, 4, layout="T"), axis=0, reverse=True), S(A(5, layout="step")),
            S(A(0, 3), axis=1)), NUMBERS + (tf.bool,), summed, op="cumsum",
           errors=(axis_error("cumsum"),)),
]


def np_argmax(x, axis=None):
    return np.argmax(x, axis)


def np_argmin(x, axis=None):
    return np.argmin(x, axis)


CASES += [
    OpCase("argmax", tf.argmax, np_argmax,
           (S(A(3, 4, domain=distinct)), S(A(3, 4, domain=distinct), axis=0),
            S(A(2, 3, 4, domain=distinct), axis=-1),
            S(A(3, 4, domain=distinct, layout="T"), axis=1)), NUMBERS, int64, grad=False,
           errors=(axis_error(None, error=ValueError),)),  # raised before the op: no op name
    OpCase("argmin", tf.argmin, np_argmin,
           (S(A(3, 4, domain=distinct)), S(A(3, 4, domain=distinct), axis=0),
            S(A(2, 3, 4, domain=distinct), axis=1),
            S(A(3, 4, domain=distinct, layout="step"), axis=-1)), NUMBERS, int64, grad=False,
           errors=(axis_error(None, error=ValueError),)),
]

# ---- sugar -------------------------------------------------------------------------------


def var(x, axis=None, correction=1, keepdims=False):
    return tf.ops.var(x, axis, correction, keepdims)


def np_var(x, axis=None, correction=1, keepdims=False):
    return np.var(x, axis=axis, ddof=correction, keepdims=keepdims)


def logsumexp(x, axis, keepdims=False):
    return tf.ops.logsumexp(x, axis, keepdims)


def np_logsumexp(x, axis, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis)


CASES += [
    OpCase("var", var, np_var,
           (S(A(3, 4)), S(A(3, 4), axis=1), S(A(2, 3, 4), axis=(0, 2), keepdims=True),
            S(A(3, 4, layout="T"), axis=0, correction=0)), FLOATS, sugar=True,
           errors=(axis_error(None, error=ValueError),)),
    OpCase("logsumexp", logsumexp, np_logsumexp,
           (S(A(3, 4), axis=1), S(A(2, 3, 4, domain=wide), axis=(0, 2), keepdims=True),
            S(A(3, 4, layout="step"), axis=-1)), FLOATS, sugar=True,
           errors=(axis_error(None, error=ValueError),)),
]
