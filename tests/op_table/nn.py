"""The softmax family (tinyflow/ops/nn.py): softmax, log_softmax and the two fused
cross-entropy losses."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops import nn as nn_ops

from .common import A, ErrorInput, Ids, Labels, OpCase, S, positive, simplex, wide

CASES: list[OpCase] = []


def softmax_samples() -> tuple:
    return (S(A(3, 5)),
            S(A(3, 5), axis=0),
            S(A(2, 3, 4), axis=1),
            S(A(4, 6, domain=wide)),
            S(A(5, 3, layout="T"), axis=-1),
            S(A(3, 4, layout="step"), axis=0),
            S(A(0, 5)))


def np_log_softmax(x, axis=-1):
    x = x.astype(np.float64)
    shifted = x - x.max(axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis, keepdims=True))


def np_softmax(x, axis=-1):
    return np.exp(np_log_softmax(x, axis))


CASES += [
    OpCase("softmax", tf.softmax, np_softmax, softmax_samples(),
           errors=(ErrorInput(S(A(3, 4), axis=2), tf.ShapeError,
                              r"^softmax: axis 2 is out of range for rank 2"),
                   ErrorInput(S(A()), tf.ShapeError,
                              r"^softmax: axis -1 is out of range for rank 0"),
                   ErrorInput(S(A(3, 4, dtype=tf.int32)), tf.DTypeError,
                              r"^softmax: softmax needs a floating-point input"))),
    OpCase("log_softmax", tf.log_softmax, np_log_softmax, softmax_samples(),
           errors=(ErrorInput(S(A(3, 4), axis=2), tf.ShapeError,
                              r"^log_softmax: axis 2 is out of range for rank 2"),)),
]


def log_simplex(rng, shape):
    """Rows of log-probabilities: what log_softmax_grad's y is."""
    return np.log(simplex(rng, shape))


def log_softmax_grad(g, y):
    return apply(nn_ops.LogSoftmaxGrad(), g, y)


def np_log_softmax_grad(g, y):
    g, y = g.astype(np.float64), y.astype(np.float64)
    return g - np.exp(y) * g.sum(-1, keepdims=True)


CASES += [
    OpCase("log_softmax_grad", log_softmax_grad, np_log_softmax_grad,
           (S(A(3, 5), A(3, 5, domain=log_simplex)),
            S(A(2, 3, 4, layout="T"), A(2, 3, 4, domain=log_simplex, layout="step"))),
           errors=(ErrorInput(S(A(3, 5), A(3, 4)), tf.ShapeError,
                              r"^log_softmax_grad: g \(3, 5\) must have the shape of y"),)),
]


def softmax_cross_entropy(labels, logits):
    return tf.ops.softmax_cross_entropy(labels, logits)


def np_softmax_cross_entropy(labels, logits):
    return -np.sum(labels * np_log_softmax(logits), -1)


def sparse_softmax_cross_entropy(labels, logits):
    return tf.ops.sparse_softmax_cross_entropy(labels, logits)


def np_sparse_softmax_cross_entropy(labels, logits):
    logp = np_log_softmax(logits)
    return -np.take_along_axis(logp, labels[..., None], -1)[..., 0]


CASES += [
    OpCase("softmax_cross_entropy", softmax_cross_entropy, np_softmax_cross_entropy,
           (S(A(3, 5, domain=simplex), A(3, 5)),
            S(A(4, domain=simplex), A(4)),
            S(A(2, 3, 4), A(2, 3, 4)),
            S(A(3, 5, domain=simplex, layout="T"), A(3, 5, domain=wide, layout="step"))),
           errors=(ErrorInput(S(A(3, 5), A(3, 4)), tf.ShapeError,
                              r"^softmax_cross_entropy: labels \(3, 5\) and logits \(3, 4\) "
                              r"must have the same shape"),)),
    OpCase("sparse_softmax_cross_entropy", sparse_softmax_cross_entropy,
           np_sparse_softmax_cross_entropy,
           (S(Labels(3), A(3, 5)),
            S(Labels(2, 3, classes=4, dtype=tf.int32), A(2, 3, 4)),
            S(Labels(), A(5)),
            S(Labels(4), A(4, 5, domain=wide, layout="T"))),
           errors=(ErrorInput(S(A(3), A(3, 5)), tf.DTypeError,
                              r"^sparse_softmax_cross_entropy: labels must be integer class "
                              r"ids"),
                   ErrorInput(S(Labels(4), A(3, 5)), tf.ShapeError,
                              r"^sparse_softmax_cross_entropy: labels \(4,\) must have shape "
                              r"\(3,\) for logits \(3, 5\)"),
                   ErrorInput(S(Ids(0, 7, 1), A(3, 5)), IndexError,
                              r"^sparse_softmax_cross_entropy: label ids must be in \[0, 5\)",
                              at_run=True),
                   ErrorInput(S(Ids(0, -1, 1), A(3, 5)), IndexError,
                              r"^sparse_softmax_cross_entropy: label ids must be in \[0, 5\), "
                              r"got values in \[-1, 1\]", at_run=True))),
]


def sparse_softmax_cross_entropy_ignoring(labels, logits):
    return tf.ops.sparse_softmax_cross_entropy(labels, logits, ignore_index=-1)


def np_sparse_softmax_cross_entropy_ignoring(labels, logits):
    kept = labels != -1
    return np.where(kept, np_sparse_softmax_cross_entropy(np.where(kept, labels, 0), logits), 0)


CASES += [
    OpCase("sparse_softmax_cross_entropy_ignore_index", sparse_softmax_cross_entropy_ignoring,
           np_sparse_softmax_cross_entropy_ignoring, op="sparse_softmax_cross_entropy",
           samples=(S(Ids(2, -1, 0, 4), A(4, 5)),
            S(Ids(-1, -1, dtype=tf.int32), A(2, 3)),
            S(Labels(3), A(3, 5))),
           errors=(ErrorInput(S(Ids(0, -1, 7), A(3, 5)), IndexError,
                              r"^sparse_softmax_cross_entropy: label ids must be in \[0, 5\)",
                              at_run=True),)),
]


def sparse_softmax_cross_entropy_grad(g, labels, logits):
    return apply(nn_ops.SparseSoftmaxCrossEntropyGrad(), g, labels, logits)


def np_sparse_softmax_cross_entropy_grad(g, labels, logits):
    residual = np_softmax(logits)
    np.put_along_axis(residual, labels[..., None],
                      np.take_along_axis(residual, labels[..., None], -1) - 1, -1)
    return g.astype(np.float64)[..., None] * residual


CASES += [
    OpCase("sparse_softmax_cross_entropy_grad", sparse_softmax_cross_entropy_grad,
           np_sparse_softmax_cross_entropy_grad,
           (S(A(3), Labels(3), A(3, 5)),
            S(A(2, 3, layout="T"), Labels(2, 3, classes=4, dtype=tf.int32), A(2, 3, 4)),
            S(A(), Labels(), A(5)),
            S(A(4, layout="step"), Labels(4), A(4, 5, domain=wide, layout="T")),
            S(A(2, 3), Labels(2, 3, classes=4), A(2, 3, 4, layout="T"))),
           errors=(ErrorInput(S(A(4), Labels(3), A(3, 5)), tf.ShapeError,
                              r"^sparse_softmax_cross_entropy_grad: g \(4,\) must have the "
                              r"loss's shape \(3,\)"),)),
]


def sparse_softmax_cross_entropy_reduced(labels, logits, weight=None, reduction="mean",
                                         ignore_index=None):
    return tf.ops.sparse_softmax_cross_entropy(labels, logits, ignore_index,
                                               reduction=reduction, weight=weight)


def np_example_factors(labels, weight, ignore_index):
    """Each example's weight in PyTorch's loss (0 where ignored) and the ids to pick with."""
    kept = np.ones(labels.shape, bool) if ignore_index is None else labels != ignore_index
    ids = np.where(kept, labels, 0)
    factors = kept * (1.0 if weight is None else weight.astype(np.float64)[ids])
    return factors, ids


def np_sparse_softmax_cross_entropy_reduced(labels, logits, weight=None, reduction="mean",
                                            ignore_index=None):
    factors, ids = np_example_factors(labels, weight, ignore_index)
    loss = np_sparse_softmax_cross_entropy(ids, logits) * factors
    if reduction == "none":
        return loss
    return np.sum(loss) / (np.sum(factors) if reduction == "mean" else 1.0)


CASES += [   # reduced inside, as PyTorch's nll_loss: 'mean' over the summed class weights
    OpCase("sparse_softmax_cross_entropy_reduced", sparse_softmax_cross_entropy_reduced,
           np_sparse_softmax_cross_entropy_reduced, op="sparse_softmax_cross_entropy",
           samples=(S(Labels(4), A(4, 5)),
                    S(Labels(2, 3, classes=4, dtype=tf.int32), A(2, 3, 4), reduction="sum"),
                    S(Labels(), A(5)),
                    S(Ids(2, -1, 0, 4), A(4, 5), A(5, domain=positive), ignore_index=-1),
                    S(Ids(1, -1, 3), A(3, 5, layout="T"), A(5, domain=positive),
                      reduction="none", ignore_index=-1),
                    S(Labels(3), A(3, 5, domain=wide), A(5, domain=positive),
                      reduction="sum"),
                    S(Labels(0, 2), A(0, 2, 5), reduction="sum")),
           errors=(ErrorInput(S(Labels(3), A(3, 5), A(4)), tf.ShapeError,
                              r"^sparse_softmax_cross_entropy: weight \(4,\) must have one "
                              r"entry per class \(5\)"),
                   ErrorInput(S(Labels(3), A(3, 5), A(5, dtype=tf.float64)), tf.DTypeError,
                              r"^sparse_softmax_cross_entropy: weight \(float64\) must have "
                              r"the logits' dtype \(float32\)"),
                   ErrorInput(S(Labels(3), A(3, 5), reduction="max"), tf.ShapeError,
                              r"^sparse_softmax_cross_entropy: reduction='max' is unknown"),
                   ErrorInput(S(Ids(0, 7, 1), A(3, 5), reduction="mean"), IndexError,
                              r"^sparse_softmax_cross_entropy: label ids must be in \[0, 5\)",
                              at_run=True))),
]


def sparse_softmax_cross_entropy_grad_reduced(g, labels, logits, weight=None,
                                              reduction="mean", ignore_index=None):
    grad_op = nn_ops.SparseSoftmaxCrossEntropyGrad(ignore_index=ignore_index,
                                                   reduction=reduction)
    return apply(grad_op, g, labels, logits, *([] if weight is None else [weight]))


def np_sparse_softmax_cross_entropy_grad_reduced(g, labels, logits, weight=None,
                                                 reduction="mean", ignore_index=None):
    factors, ids = np_example_factors(labels, weight, ignore_index)
    if reduction == "mean":
        factors = factors / np.sum(factors)
    return np_sparse_softmax_cross_entropy_grad(g * factors, ids, logits) * (
        factors != 0)[..., None]


CASES += [
    OpCase("sparse_softmax_cross_entropy_grad_reduced",
           sparse_softmax_cross_entropy_grad_reduced,
           np_sparse_softmax_cross_entropy_grad_reduced, op="sparse_softmax_cross_entropy_grad",
           samples=(S(A(), Labels(3), A(3, 5)),
                    S(A(), Labels(2, 3, classes=4), A(2, 3, 4, layout="T"), reduction="sum"),
                    S(A(), Ids(2, -1, 0, 4), A(4, 5), A(5, domain=positive),
                      ignore_index=-1),
                    S(A(3), Ids(1, -1, 3), A(3, 5), A(5, domain=positive), reduction="none",
                      ignore_index=-1)),
           errors=(ErrorInput(S(A(3), Labels(3), A(3, 5)), tf.ShapeError,
                              r"^sparse_softmax_cross_entropy_grad: g \(3,\) must have the "
                              r"loss's shape \(\)"),)),
]
