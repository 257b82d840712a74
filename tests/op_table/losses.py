"""Losses as ops (tinyflow/ops/losses.py): the binary cross-entropy on probabilities, the
smooth L1 loss, the negative log-likelihood at class ids."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply, shared
from tinyflow.ops import losses as losses_ops

from .common import A, ErrorInput, Ids, Labels, OpCase, Ref, S


def probabilities(rng, shape):
    """Inside (0, 1), away from the ends where the logs are clamped."""
    return rng.uniform(0.05, 0.95, shape)


def np_binary_cross_entropy(p, y):
    return -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log(1 - p), -100))


CASES = [
    OpCase("binary_cross_entropy", tf.ops.binary_cross_entropy, np_binary_cross_entropy,
           (S(A(3, 4, domain=probabilities), A(3, 4, domain=probabilities)),
            S(A(5, domain=probabilities, layout="step"), A(5, domain=probabilities)),
            S(A(domain=probabilities), A(domain=probabilities))),
           errors=(ErrorInput(S(A(3, 4, domain=probabilities), A(4, domain=probabilities)),
                              tf.ShapeError, r"^binary_cross_entropy: input \(3, 4\) and "
                              r"target \(4,\) must have one shape"),
                   ErrorInput(S(A(2, domain=lambda rng, shape: np.full(shape, 1.5)),
                                A(2, domain=probabilities)), ValueError,
                              r"^binary_cross_entropy: all elements of input should be between "
                              r"0 and 1", at_run=True))),
]


def np_smooth_l1(x, y, beta):
    d = x - y
    return np.where(np.abs(d) < beta, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta)


def np_smooth_l1_slope(x, y, beta):
    return np.clip((x - y) / beta, -1, 1)


CASES += [
    # inputs drawn from N(0, 1): |x - y| falls on both sides of beta, rarely within a
    # finite difference's step of the kink
    OpCase("smooth_l1", tf.ops.smooth_l1, np_smooth_l1,
           (S(A(3, 4), A(3, 4), beta=1.0), S(A(5, layout="step"), A(5), beta=0.5),
            S(A(2, 3, layout="T"), A(2, 3), beta=2.0)),
           errors=(ErrorInput(S(A(3, 4), A(4), beta=1.0), tf.ShapeError,
                              r"^smooth_l1: input \(3, 4\) and target \(4,\) must have one "
                              r"shape"),)),
    OpCase("smooth_l1_slope", losses_ops.smooth_l1_slope, np_smooth_l1_slope,
           (S(A(3, 4), A(3, 4), beta=1.0), S(A(5, layout="step"), A(5), beta=0.5)),
           errors=(ErrorInput(S(A(3, 4), A(4), beta=1.0), tf.ShapeError,
                              r"^smooth_l1_slope: input \(3, 4\) and target \(4,\) must have "
                              r"one shape"),)),
]


def np_nll(logp, labels, reduction="mean"):
    loss = -np.take_along_axis(logp, labels[..., None], -1)[..., 0]
    return loss if reduction == "none" else np.sum(loss) / (
        loss.size if reduction == "mean" else 1.0)


def nll_grad(g, labels, ref, reduction="mean"):
    return apply(shared(losses_ops.NllGrad, reduction), g, labels, ref)


def np_nll_grad(g, labels, ref, reduction="mean"):
    out = np.zeros(ref.shape)
    share = -g.astype(np.float64) / (labels.size if reduction == "mean" else 1.0)
    np.put_along_axis(out, labels[..., None], np.broadcast_to(share, labels.shape)[..., None],
                      -1)
    return out


CASES += [   # nll_loss with every target counted and no class weight (a char-RNN's letter)
    OpCase("nll", losses_ops.nll, np_nll,
           (S(A(3, 5), Labels(3)),
            S(A(1, 60), Labels(1, classes=60), reduction="sum"),
            S(A(2, 3, 4, layout="T"), Labels(2, 3, classes=4, dtype=tf.int32),
              reduction="none"),
            S(A(5), Labels()),
            S(A(4, 5, layout="step"), Labels(4), reduction="none")),
           errors=(ErrorInput(S(A(3, 5), A(3)), tf.DTypeError,
                              r"^nll: labels must be integer class ids, got float32"),
                   ErrorInput(S(A(3, 5), Labels(4)), tf.ShapeError,
                              r"^nll: labels \(4,\) must have shape \(3,\) for "
                              r"log-probabilities \(3, 5\)"),
                   ErrorInput(S(A(3, 5), Labels(3), reduction="avg"), tf.ShapeError,
                              r"^nll: reduction='avg' is unknown"),
                   ErrorInput(S(A(3, 5), Ids(0, 5, 1)), IndexError,
                              r"^nll: target class 5 is out of range for 5 classes \(0..4\)",
                              at_run=True),
                   ErrorInput(S(A(1, 5), Ids(-1)), IndexError,
                              r"^nll: target class -1 is out of range", at_run=True))),
    OpCase("nll_grad", nll_grad, np_nll_grad,
           (S(A(), Labels(3), Ref(3, 5)),
            S(A(), Labels(1, classes=60), Ref(1, 60), reduction="sum"),
            S(A(2, 3, layout="T"), Labels(2, 3, classes=4), Ref(2, 3, 4), reduction="none")),
           errors=(ErrorInput(S(A(4), Labels(3), Ref(3, 5), reduction="none"), tf.ShapeError,
                              r"^nll_grad: g \(4,\) must have the loss's shape \(3,\)"),
                   ErrorInput(S(A(), Ids(7, 0, 1), Ref(3, 5)), IndexError,
                              r"^nll_grad: target class 7 is out of range", at_run=True))),
]
