"""The fused GELU and leaky ReLU and their gradient ops (tinyflow/ops/activation.py)."""
from __future__ import annotations

import math

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops import activation as activation_ops

from .common import A, ErrorInput, OpCase, S, nonzero, unary_samples, wide
from .math import np_erf

CASES: list[OpCase] = []


def np_gelu(x, approximate="none"):
    x = x.astype(np.float64)
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return x * 0.5 * (1 + np_erf(x / math.sqrt(2)))


def np_gelu_grad(g, x, approximate="none"):
    """g times the derivative of np_gelu, by hand (the gradient test checks it numerically)."""
    x = x.astype(np.float64)
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = np.tanh(k * (x + 0.044715 * x ** 3))
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t ** 2) * k * (1 + 3 * 0.044715 * x ** 2))
    return g * (0.5 * (1 + np_erf(x / math.sqrt(2))) + x * np.exp(-x ** 2 / 2)
                / math.sqrt(2 * math.pi))


def gelu_grad(g, x, approximate="none"):
    return apply(activation_ops.GeluGrad(approximate=approximate), g, x)


CASES += [
    OpCase("gelu", tf.ops.gelu, np_gelu,
           unary_samples() + (S(A(3, 4), approximate="tanh"), S(A(6, domain=wide))),
           errors=(ErrorInput(S(A(3, dtype=tf.int32)), tf.DTypeError,
                              r"^gelu: needs floating-point tensors, got int32"),
                   ErrorInput(S(A(3), approximate="fast"), tf.ShapeError,
                              r"^gelu: approximate='fast'; use 'none' or 'tanh'"))),
    OpCase("gelu_grad", gelu_grad, np_gelu_grad,
           (S(A(3, 4), A(3, 4)), S(A(2, 3, layout="T"), A(2, 3, layout="step")),
            S(A(3, 4), A(3, 4), approximate="tanh"), S(A(4), A(3, 4))),
           atol=2e-6),  # float32 erf and exp are approximations (see _fast_math)
]


def np_leaky_relu(x, slope):
    return np.where(x > 0, x, x * x.dtype.type(slope))


def np_leaky_relu_grad(g, y, slope):
    return np.where(y > 0, g, g * slope).astype(np.result_type(g, y))


def leaky_relu_grad(g, y, slope):
    return apply(activation_ops.LeakyReluGrad(slope=slope), g, y)


CASES += [
    OpCase("leaky_relu", tf.ops.leaky_relu, np_leaky_relu,
           tuple(S(*s.args, slope=0.2) for s in unary_samples(nonzero)) + (
               S(A(3, 4, domain=nonzero), slope=1.5),),
           errors=(ErrorInput(S(A(3, dtype=tf.int32), slope=0.2), tf.DTypeError,
                              r"^leaky_relu: needs floating-point tensors, got int32"),
                   ErrorInput(S(A(3), slope=-0.1), ValueError,
                              r"^leaky_relu: the op takes a positive slope, got -0.1"))),
    OpCase("leaky_relu_grad", leaky_relu_grad, np_leaky_relu_grad,
           # y only selects: its derivative is 0 wherever it exists
           (S(A(3, 4), A(3, 4, domain=nonzero, diff=False), slope=0.2),
            S(A(4), A(3, 4, domain=nonzero, diff=False), slope=0.01),
            S(A(2, 3, layout="T"), A(2, 3, domain=nonzero, layout="step", diff=False),
              slope=0.2)),
           errors=(ErrorInput(S(A(3, 4), A(2, 4), slope=0.2), tf.ShapeError,
                              r"^leaky_relu_grad: dimension -2 is 3 in one and 2 in another"),)),
]
