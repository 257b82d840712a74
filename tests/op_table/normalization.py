"""The fused normalization over some axes and its gradient op (tinyflow/ops/normalization.py),
which layer, group and batch norm are built on."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops import normalization as normalization_ops

from .common import A, ErrorInput, OpCase, S

CASES: list[OpCase] = []


def np_normalize(x, axes, eps=1e-5):
    x = x.astype(np.float64)
    centered = x - x.mean(axes, keepdims=True)
    return centered / np.sqrt((centered ** 2).mean(axes, keepdims=True) + eps)


def np_normalize_grad(g, x, axes, eps=1e-5):
    """The textbook layer-norm backward: (g - mean(g) - y mean(g y)) / std."""
    g, x = g.astype(np.float64), x.astype(np.float64)
    y = np_normalize(x, axes, eps)
    std = np.sqrt(x.var(axes, keepdims=True) + eps)
    return (g - g.mean(axes, keepdims=True) - y * (g * y).mean(axes, keepdims=True)) / std


def normalize_grad(g, x, axes, eps=1e-5):
    return apply(normalization_ops.NormalizeGrad(axes=axes, eps=eps), g, x)


CASES += [
    OpCase("normalize", tf.ops.normalize, np_normalize,
           (S(A(3, 5), axes=(1,)), S(A(2, 3, 4, layout="T"), axes=(1, 2), eps=1e-3),
            S(A(4, 3, layout="step"), axes=(0,))),
           errors=(ErrorInput(S(A(3, 4, dtype=tf.int32), axes=(1,)), tf.DTypeError,
                              r"^normalize: needs floating-point tensors, got int32"),
                   ErrorInput(S(A(3, 4), axes=(2,)), tf.ShapeError,
                              r"^normalize: axis 2 is out of range for rank 2"),
                   ErrorInput(S(A(3, 4), axes=(1, 1)), tf.ShapeError,
                              r"^normalize: repeated axis in \(1, 1\)"))),
    OpCase("normalize_grad", normalize_grad, np_normalize_grad,
           (S(A(3, 5), A(3, 5), axes=(1,)),
            S(A(2, 3, 4, layout="step"), A(2, 3, 4, layout="T"), axes=(1, 2), eps=1e-3))),
]
