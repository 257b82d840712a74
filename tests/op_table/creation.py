"""Creation ops with a deterministic result (tinyflow/ops/creation.py): one_hot, zeros_like,
ones_like. The random ones are tested by statistics in test_ops.py."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.ops import creation as creation_ops

from .common import (NUMBERS, A, ErrorInput, Ids, Labels, OpCase, Ref, S, dtype_kwarg, given,
                     dtype_kwarg_or_float32)

CASES: list[OpCase] = []


def one_hot(indices, *like, depth=None, dtype=tf.float32):
    if like:
        return creation_ops.one_hot_like(indices, like[0], dtype)
    return tf.one_hot(indices, depth, dtype=dtype)


def np_one_hot(indices, *like, depth=None, dtype=tf.float32):
    return np.eye(like[0].shape[-1] if like else depth, dtype=dtype.np)[indices]


CASES += [
    OpCase("one_hot", one_hot, np_one_hot,
           (S(Labels(4, dtype=None), depth=5),
            S(Labels(2, 3, dtype=None), depth=5, dtype=tf.float64),
            S(Labels(dtype=None), depth=5, dtype=tf.int32),
            S(Labels(2, 3, dtype=None), Ref(4, 5), dtype=tf.float64)),
           (tf.int32, tf.int64), dtype_kwarg_or_float32, grad=False,
           errors=(ErrorInput(S(A(3, dtype=tf.float32), depth=5), tf.DTypeError,
                              r"^one_hot: one_hot indices must be integers"),
                   ErrorInput(S(Labels(4, dtype=None), depth=-2), tf.ShapeError,
                              r"^one_hot: depth must be non-negative, got -2"))),
]


def zeros_like(x, dtype=None):
    return tf.zeros_like(x, dtype=dtype)


def np_zeros_like(x, dtype=None):
    return np.zeros(x.shape, x.dtype if dtype is None else dtype.np)


def ones_like(x, dtype=None):
    return tf.ones_like(x, dtype=dtype)


def np_ones_like(x, dtype=None):
    return np.ones(x.shape, x.dtype if dtype is None else dtype.np)


CASES += [
    OpCase("zeros_like", zeros_like, np_zeros_like,
           (S(A(3, 4)), S(A(2, 3), dtype=tf.int32), S(A(5, layout="step"), dtype=tf.float64)),
           NUMBERS + (tf.bool,), dtype_kwarg, grad=False,
           errors=(ErrorInput(S(A(3), dtype="x"), TypeError, r"unknown dtype name 'x'"),)),
    OpCase("ones_like", ones_like, np_ones_like,
           (S(A(3, 4)), S(A(2, 3), dtype=tf.int32), S(A(5, layout="step"), dtype=tf.float64)),
           NUMBERS + (tf.bool,), dtype_kwarg, grad=False),
]


def tf_range(start, limit, delta):
    return tf.range(start, limit, delta)


def np_range(start, limit, delta):
    return np.arange(start, limit, delta, dtype=start.dtype)


CASES += [
    OpCase("range", tf_range, np_range,
           (S(A(domain=given(2.0)), A(domain=given(7.0)), A(domain=given(1.5))),
            S(A(domain=given(5.0)), A(domain=given(-1.0)), A(domain=given(-2.0))),
            S(A(domain=given(3.0)), A(domain=given(3.0)), A(domain=given(1.0)))),
           NUMBERS, grad=False, value_shaped=True,
           errors=(ErrorInput(S(A(2), A(), A()), tf.ShapeError,
                              r"^range: start must be a scalar, got shape \(2,\)"),
                   ErrorInput(S(A(domain=given(0.0)), A(domain=given(3.0)),
                                A(domain=given(0.0))), ValueError,
                              r"range: delta must not be zero", at_run=True))),
]


def tf_fill(value, dims):
    return tf.fill(dims, value)


def np_fill(value, dims):
    return np.full(tuple(dims), value, dtype=value.dtype)


CASES += [
    OpCase("fill", tf_fill, np_fill,
           (S(A(), Ids(2, 3, dtype=tf.int32)), S(A(), Ids(4, dtype=tf.int64)),
            S(A(), Ids(0, 3, dtype=tf.int32))),
           NUMBERS, value_shaped=True,
           errors=(ErrorInput(S(A(2), Ids(2, 3)), tf.ShapeError,
                              r"^fill: value must be a scalar, got shape \(2,\)"),
                   ErrorInput(S(A(), A(2)), tf.DTypeError, r"^fill: dims must be integers"),
                   ErrorInput(S(A(), Ids(2, -1)), ValueError,
                              r"fill: dims must be non-negative", at_run=True))),
]
