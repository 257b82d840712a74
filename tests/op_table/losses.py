"""Losses as ops (tinyflow/ops/losses.py): the binary cross-entropy on probabilities."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.ops import losses as losses_ops

from .common import A, ErrorInput, OpCase, S


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
