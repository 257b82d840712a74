"""Sparse x dense products (tinyflow/ops/sparse.py): sparse_matmul and its partner
sampled_dot, each the other's gradient. Coordinates repeat (duplicates add up) and skip rows."""
from __future__ import annotations

import numpy as np

import tinyflow as tf

from .common import A, ErrorInput, Ids, OpCase, S

CASES: list[OpCase] = []

# a 3 x 4 pattern with a repeated coordinate (1, 2) and an empty row 2
COORDS = (0, 1, 1, 1, 0, 2, 2, 3,
          1, 0, 2, 2, 3, 1, 1, 0)


def sparse_matmul(indices, values, dense, rows, cols):
    return tf.ops.sparse_matmul(indices, values, dense, rows, cols)


def np_sparse_matmul(indices, values, dense, rows, cols):
    out = np.zeros((rows, dense.shape[1]), np.result_type(values, dense))
    np.add.at(out, indices[0], values[:, None] * dense[indices[1]])
    return out


def sampled_dot(indices, a, b, rows, cols):
    return tf.ops.sampled_dot(indices, a, b, rows, cols)


def np_sampled_dot(indices, a, b, rows, cols):
    return np.einsum("kj,kj->k", a[indices[0]], b[indices[1]])


CASES += [
    OpCase("sparse_matmul", sparse_matmul, np_sparse_matmul,
           (S(Ids(*COORDS, shape=(2, 8)), A(8), A(4, 5), rows=4, cols=4),
            S(Ids(0, 2, 2, 1, shape=(2, 2), dtype=tf.int32), A(2), A(3, 3, layout="T"),
              rows=5, cols=3),
            S(Ids(shape=(2, 0)), A(0), A(4, 2), rows=3, cols=4)),
           errors=(ErrorInput(S(Ids(0, 1, shape=(2, 1)), A(1), A(4, 5), rows=2, cols=3),
                              tf.ShapeError, r"^sparse_matmul: inner dimensions differ: 3 "
                              r"\(sparse \[2, 3\]\) vs 4 \(dense\)"),
                   ErrorInput(S(Ids(0, 1, 2, shape=(3, 1)), A(1), A(4, 5), rows=4, cols=4),
                              tf.ShapeError, r"^sparse_matmul: indices must have shape \[2, nnz\]"),
                   ErrorInput(S(Ids(0, 1, shape=(2, 1)), A(2), A(4, 5), rows=4, cols=4),
                              tf.ShapeError, r"^sparse_matmul: indices have 1 entries but there "
                              r"are 2 values"),
                   ErrorInput(S(A(2, 1), A(1), A(4, 5), rows=4, cols=4), tf.DTypeError,
                              r"^sparse_matmul: indices must be integers, got float32"),
                   ErrorInput(S(Ids(0, 7, shape=(2, 1)), A(1), A(4, 5), rows=4, cols=4),
                              IndexError, r"^sparse_matmul: sparse index out of range for "
                              r"dimension 1 of size 4 \(indices span \[7, 7\]\)", at_run=True))),
    OpCase("sampled_dot", sampled_dot, np_sampled_dot,
           (S(Ids(*COORDS, shape=(2, 8)), A(4, 5), A(4, 5), rows=4, cols=4),
            S(Ids(0, 2, 2, 1, shape=(2, 2)), A(5, 3, layout="T"), A(3, 3), rows=5, cols=3),
            S(Ids(shape=(2, 0)), A(3, 2), A(4, 2), rows=3, cols=4)),
           errors=(ErrorInput(S(Ids(0, 1, shape=(2, 1)), A(2, 5), A(3, 4), rows=2, cols=3),
                              tf.ShapeError, r"^sampled_dot: the rows of a \(5\) and b \(4\) "
                              r"differ in length"),
                   ErrorInput(S(Ids(0, 1, shape=(2, 1)), A(2, 5), A(3, 5), rows=4, cols=3),
                              tf.ShapeError, r"^sampled_dot: a must have 4 rows, got shape "
                              r"\(2, 5\)"))),
]
