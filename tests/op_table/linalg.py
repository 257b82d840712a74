"""Linear algebra (tinyflow/ops/linalg.py): matmul, the fused affine, einsum, tril/triu, and
PyTorch's mm."""
from __future__ import annotations

import numpy as np

import tinyflow as tf

from .common import FLOATS, HALF_TOO, NUMBERS, A, ErrorInput, OpCase, S

CASES: list[OpCase] = []


def matmul(a, b, transpose_a=False, transpose_b=False):
    # the op itself: tf.matmul / torch.matmul also takes PyTorch's 1-D cases on eager input
    return tf.ops.matmul(a, b, transpose_a=transpose_a, transpose_b=transpose_b)


def np_matmul(a, b, transpose_a=False, transpose_b=False):
    a = np.swapaxes(a, -1, -2) if transpose_a else a
    b = np.swapaxes(b, -1, -2) if transpose_b else b
    return a @ b


CASES += [
    OpCase("matmul", matmul, np_matmul,
           (S(A(3, 4), A(4, 5)),
            S(A(2, 3, 4), A(2, 4, 5)),
            S(A(2, 3, 4), A(4, 5)),
            S(A(3, 4), A(2, 4, 5)),
            S(A(5, 1, 3, 4), A(2, 4, 6)),
            S(A(4, 3), A(4, 5), transpose_a=True),
            S(A(3, 4), A(5, 4), transpose_b=True),
            S(A(2, 4, 3), A(5, 4), transpose_a=True, transpose_b=True),
            S(A(3, 4, layout="T"), A(4, 5, layout="step")),
            S(A(17, 1, layout="step"), A(16, 1), transpose_b=True),   # one inner term: a loop
            S(A(3, 0), A(0, 4)),
            S(A(5, 1, layout="step"), A(1, 4)),   # an outer product
            S(A(1, 5), A(1, 4), transpose_a=True),
            S(A(0, 3), A(2, 3, 2))), HALF_TOO,
           errors=(ErrorInput(S(A(None, 784), A(10, 784)), tf.ShapeError,
                              r"^matmul: inner dimensions differ: 784 \(a\) vs 10 \(b\)"),
                   ErrorInput(S(A(3, 4), A(5, 6)), tf.ShapeError,
                              r"^matmul: inner dimensions differ: 4 \(a\) vs 5 \(b\)"),
                   ErrorInput(S(A(3, 4), A(3, 5), transpose_b=True), tf.ShapeError,
                              r"^matmul: inner dimensions differ: 4 \(a\) vs 5 \(b\)"),
                   ErrorInput(S(A(2, 3, 4), A(3, 4, 5)), tf.ShapeError,
                              r"^matmul: the batch dimensions \(2,\) \(a\) and \(3,\) "
                              r"\(b\) do not broadcast"),
                   ErrorInput(S(A(4), A(4, 5)), tf.ShapeError,
                              r"^matmul: both operands need rank >= 2"))),
]


def np_affine(x, w, b):
    return x.astype(np.float64) @ w.T.astype(np.float64) + b


CASES += [
    OpCase("affine", tf.ops.affine, np_affine,
           (S(A(3, 4), A(5, 4), A(5)), S(A(4, 3, layout="T"), A(2, 3, layout="step"), A(2)),
            S(A(17, 1, layout="step"), A(16, 1), A(16))),
           errors=(ErrorInput(S(A(3, 4), A(5, 3), A(5)), tf.ShapeError,
                              r"^affine: inner dimensions differ: 4 \(a\) vs 3 \(b\)"),
                   ErrorInput(S(A(3, 4), A(5, 4), A(4)), tf.ShapeError,
                              r"^affine: the bias \(4,\) must be a vector of the 5 outputs"),
                   ErrorInput(S(A(2, 3, 4), A(5, 4), A(5)), tf.ShapeError,
                              r"^affine: x must be a vector or a matrix, got shape \(2, 3, 4\)"))),
    # one sample x [in] (nn.Linear at batch 1); its rules need x's rank known
    OpCase("affine_vector", tf.ops.affine, np_affine, (S(A(4), A(5, 4), A(5)),), op="affine",
           dynamic=False,
           errors=(ErrorInput(S(A(4), A(5, 3), A(5)), tf.ShapeError,
                              r"^affine: inner dimensions differ: 4 \(a\) vs 3 \(b\)"),)),
]


def np_product_sum(*xs, rows=False):
    if rows:
        return sum(b.astype(np.float64).sum(0) for b in xs)
    return sum(a.T.astype(np.float64) @ b for a, b in zip(xs[::2], xs[1::2]))


CASES += [
    # the eager sweep's sum of a shared weight's gradient terms (autodiff/reverse.py)
    OpCase("product_sum", tf.ops.product_sum, np_product_sum,
           (S(A(3, 4), A(3, 5)),
            S(A(3, 4), A(3, 2), A(6, 4, layout="T"), A(6, 2, layout="step")),
            S(A(2, 3), A(2, 1), A(1, 3), A(1, 1), A(4, 3), A(4, 1)),
            S(A(3, 5), rows=True),
            S(A(3, 5), A(2, 5, layout="T"), A(4, 5, layout="step"), rows=True)),
           (tf.float16,) + FLOATS,
           errors=(ErrorInput(S(A(3, 4), A(3, 5), A(3, 4)), tf.ShapeError,
                              r"^product_sum: needs pairs of matrices, got 3 inputs"),
                   ErrorInput(S(A(3, 4), A(2, 5)), tf.ShapeError,
                              r"^product_sum: a pair's rows differ: \(3, 4\) and \(2, 5\)"),
                   ErrorInput(S(A(3, 4), A(3, 5), A(3, 4), A(3, 6)), tf.ShapeError,
                              r"^product_sum: the products' shapes differ"),
                   ErrorInput(S(A(3), A(3, 5)), tf.ShapeError,
                              r"^product_sum: needs matrices"))),
]


def mm(a, b):
    return tf.mm(a, b)


CASES += [
    OpCase("mm", mm, np.matmul, (S(A(3, 4), A(4, 5)), S(A(4, 3, layout="T"), A(3, 2))),
           FLOATS, dynamic=False, sugar=True,  # mm checks the rank statically
           errors=(ErrorInput(S(A(2, 3, 4), A(4, 5)), ValueError,
                              r"^mm: both operands must be 2-D, got shapes \(2, 3, 4\) and "
                              r"\(4, 5\)"),
                   ErrorInput(S(A(3, 4), A(5, 5)), tf.ShapeError,
                              r"^matmul: inner dimensions differ: 4 \(a\) vs 5 \(b\)"))),
]


def einsum(*xs, equation):
    return tf.einsum(equation, *xs)


def np_einsum(*xs, equation):
    return np.einsum(equation, *xs)


CASES += [
    OpCase("einsum", einsum, np_einsum,
           (S(A(2, 3, 4), A(2, 4, 5), equation="bij,bjk->bik"),
            S(A(3, 4), A(4, 5), equation="ij,jk"),            # implicit output
            S(A(2, 3, 4, layout="T"), equation="ijk->j"),      # summed within one operand
            S(A(3), A(4), equation="i,j->ij"),
            S(A(3, 4), A(4), A(4, 2), equation="ij,j,jk->ik")), NUMBERS,
           errors=(ErrorInput(S(A(2, 2), equation="ij,jk->ik"), ValueError,
                              r"^einsum 'ij,jk->ik' names 2 operands, got 1"),
                   ErrorInput(S(A(2, 3), A(4, 2), equation="ij,jk->ik"), tf.ShapeError,
                              r"^einsum: dimension 'j' is 3 in one operand and 4 in operand 1"),
                   ErrorInput(S(A(2, 3, 4), equation="ij->i"), tf.ShapeError,
                              r"^einsum: operand 0 has shape \(2, 3, 4\), but 'ij' names 2 "
                              r"dims"))),
]


def np_tril(x, diagonal=0):
    return np.tril(x, diagonal)


def np_triu(x, diagonal=0):
    return np.triu(x, diagonal)


CASES += [
    OpCase("tril", tf.tril, np_tril,
           (S(A(4, 4)), S(A(3, 5), diagonal=1), S(A(2, 4, 3), diagonal=-1),
            S(A(4, 4, layout="T")), S(A(0, 3))), NUMBERS,
           errors=(ErrorInput(S(A(3)), tf.ShapeError,
                              r"^tril: needs rank >= 2, got shape \(3,\)"),)),
    OpCase("triu", tf.triu, np_triu,
           (S(A(4, 4)), S(A(3, 5), diagonal=-2), S(A(2, 4, 3, layout="T"), diagonal=1),
            S(A(5, 2, layout="step"))), NUMBERS,
           errors=(ErrorInput(S(A(3)), tf.ShapeError,
                              r"^triu: needs rank >= 2, got shape \(3,\)"),)),
]


def fused_update(w, a, b, lr, transpose_a=False, transpose_b=False, lr_first=True):
    """The planned runtime's fused SGD update, on a copy of w (it writes w in place)."""
    from tinyflow.ops.state import fused_update
    return fused_update(w * 1, a, b, lr, transpose_a=transpose_a, transpose_b=transpose_b,
                        lr_first=lr_first)


def np_fused_update(w, a, b, lr, transpose_a=False, transpose_b=False, lr_first=True):
    g = np_matmul(a, b, transpose_a, transpose_b)
    return w - (lr * g if lr_first else g * lr)


CASES += [
    OpCase("fused_update", fused_update, np_fused_update,
           (S(A(5, 3), A(5, 4), A(4, 3), A()),
            S(A(5, 3), A(4, 5, layout="T"), A(3, 4), A(), transpose_a=True, transpose_b=True),
            S(A(4000, 10), A(4000, 2), A(2, 10), A(), lr_first=False)),   # blocks of rows
           grad=False,
           errors=(ErrorInput(S(A(3, 4), A(3, 5), A(5, 3), A()), tf.ShapeError,
                              r"^fused_update: the product's shape \(3, 3\) differs from the "
                              r"updated value's \(3, 4\)"),
                   ErrorInput(S(A(3, 4), A(3, 5), A(5, 4), A(2)), tf.ShapeError,
                              r"^fused_update: the learning rate must be a scalar"),
                   ErrorInput(S(A(3, 4), A(3, 5), A(4, 4), A()), tf.ShapeError,
                              r"^fused_update: inner dimensions differ: 5 \(a\) vs 4 \(b\)"))),
]
