"""Losses as ops (tinyflow/ops/losses.py): the binary cross-entropy on probabilities."""
from __future__ import annotations

import numpy as np

import tinyflow as tf

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
