"""Fused elementwise groups (tinyflow/ops/fused.py): the op the fusion pass builds, checked
here with its NumPy member evaluation (the table's arrays are below the size that generates
a kernel; tests/test_fusion.py checks the generated kernels against the same evaluation)."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops import math as m
from tinyflow.ops.fused import (AddLayerNorm, GeluGradSum, LayerNormGradsAdd, fused_elementwise,
                                fused_sum)

from .common import A, ErrorInput, OpCase, S, nonzero, positive
from .activation import np_gelu_grad
from .normalization import np_layer_norm, np_layer_norm_grads

CASES: list[OpCase] = []


def group(*members):
    """The table's call of a group: members as (op, operand indices) pairs."""
    ops, args = zip(*members)

    def call(*xs):
        return fused_elementwise(ops, args, *xs)
    return call


def summed(*members):
    ops, args = zip(*members)

    def call(*xs, keepdims=False):
        return fused_sum(ops, args, *xs, keepdims=keepdims)
    return call


def small(rng, shape):
    """|b| <= 0.1: added to `nonzero` values, keeps relu away from its kink."""
    return rng.uniform(-0.1, 0.1, shape)


# E = D + (A + B) * C, the lectures' example: inputs 0-3, member values 4, 5, 6
lecture = group((m.Add(), (0, 1)), (m.Mul(), (4, 2)), (m.Add(), (3, 5)))
# relu(x + b) * s, a bias and activation
bias_relu = group((m.Add(), (0, 1)), (m.Relu(), (3,)), (m.Mul(), (4, 2)))
# tanh(x)^2 / sigmoid(y) - sqrt(x^2 + 1): a value read twice (a DAG), transcendentals
diamond = group((m.Tanh(), (0,)), (m.Mul(), (2, 2)), (m.Sigmoid(), (1,)), (m.Div(), (3, 4)),
                (m.Square(), (0,)), (m.Add(), (6, 6)), (m.Sqrt(), (7,)), (m.Sub(), (5, 8)))
# max(x, y) - min(x, -y) + |x| * -y
extremes = group((m.Maximum(), (0, 1)), (m.Neg(), (1,)), (m.Minimum(), (0, 3)),
                 (m.Sub(), (2, 4)), (m.Abs(), (0,)), (m.Mul(), (6, 3)), (m.Add(), (5, 7)))


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


CASES += [
    OpCase("fused_elementwise", lecture, lambda a, b, c, d: d + (a + b) * c,
           (S(A(5), A(5), A(5), A(5)),
            S(A(3, 4), A(4), A(3, 1), A()),
            S(A(3, 4, layout="T"), A(3, 4, layout="step"), A(1, 4), A(2, 1, 1)),
            S(A(0, 4), A(4), A(4), A(4))),
           errors=(ErrorInput(S(A(3, 4), A(2, 4), A(4), A(4)), tf.ShapeError,
                              r"^fused\[add,mul,add\]: dimension -2 is 3 in one and 2"),)),
    OpCase("fused_bias_relu", bias_relu, lambda x, b, s: np.maximum(x + b, 0) * s,
           (S(A(4, 3, domain=nonzero), A(3, domain=small), A()),
            S(A(2, 3, 4, domain=nonzero, layout="T"), A(4, domain=small), A(3, 1))),
           op="fused_elementwise"),
    OpCase("fused_diamond", diamond,
           lambda x, y: np.tanh(x) ** 2 / np_sigmoid(y) - np.sqrt(2 * x * x),
           (S(A(3, 4, domain=nonzero), A(3, 4)), S(A(4, domain=positive), A(2, 1))),
           op="fused_elementwise"),
    OpCase("fused_extremes", extremes,
           lambda x, y: np.maximum(x, y) - np.minimum(x, -y) + np.abs(x) * -y,
           (S(A(6, domain=nonzero), A(6, domain=small)),
            S(A(2, 3, domain=nonzero), A(3, domain=small))),
           op="fused_elementwise"),
]

# sum((x - y)^2 * w), a weighted squared error: the values are added up, never stored
CASES += [
    OpCase("fused_sum", summed((m.Sub(), (0, 1)), (m.Square(), (3,)), (m.Mul(), (4, 2))),
           lambda x, y, w, keepdims=False: np.sum((x - y) ** 2 * w, keepdims=keepdims),
           (S(A(3, 4), A(4), A(3, 1)), S(A(2, 3, layout="T"), A(2, 3), A(), keepdims=True),
            S(A(0, 3), A(3), A(3))),
           errors=(ErrorInput(S(A(3, 4), A(2, 4), A(4)), tf.ShapeError,
                              r"^fused\[sub,square,mul,sum\]: dimension -2 is 3 in one and 2"),)),
]


def layer_norm_grads_add(g, x, w, r, eps=1e-5):
    return apply(LayerNormGradsAdd(eps=eps), g, x, w, r)


def np_layer_norm_grads_add(g, x, w, r, eps=1e-5):
    both = np_layer_norm_grads(g, x, w, eps)
    both[:-2] += r.reshape((-1,) + w.shape)
    return both


# a layer norm's input gradient plus a residual gradient (passes/residual_grads.py)
CASES += [
    OpCase("layer_norm_grads_add", layer_norm_grads_add, np_layer_norm_grads_add,
           (S(A(3, 5), A(3, 5, layout="T"), A(5), A(3, 5)),
            S(A(2, 3, 4, layout="step"), A(2, 3, 4), A(3, 4), A(2, 3, 4, layout="T"),
              eps=1e-3),
            S(A(40, 6), A(40, 6, layout="step"), A(6), A(40, 6))), dynamic=False,
           errors=(ErrorInput(S(A(3, 5), A(3, 5), A(5), A(5, 3)), tf.ShapeError,
                              r"^layer_norm_grads_add: the residual gradient \(5, 3\) "
                              r"\(float32\) must have the input's static shape \(3, 5\)"),)),
]


def gelu_grad_sum(g, x, approximate="none"):
    return apply(GeluGradSum(approximate=approximate), g, x)


def np_gelu_grad_sum(g, x, approximate="none"):
    dh = np_gelu_grad(g, x, approximate)
    dh = dh.reshape(-1, dh.shape[-1])
    return np.concatenate([dh, dh.sum(axis=0, keepdims=True)])


# a GELU's gradient and its column sums, the bias gradient before it (passes/bias_grads.py);
# 40 rows: the float32 loop's blocks of rows summed in float32 and then float64
CASES += [
    OpCase("gelu_grad_sum", gelu_grad_sum, np_gelu_grad_sum,
           (S(A(3, 4), A(3, 4)), S(A(2, 3, 5, layout="T"), A(2, 3, 5, layout="step"),
                                    approximate="tanh"),
            S(A(40, 3), A(40, 3)), S(A(4), A(3, 4))), dynamic=False,
           atol=2e-6,  # float32 erf and exp are approximations (see _fast_math)
           errors=(ErrorInput(S(A(), A()), tf.ShapeError,
                              r"^gelu_grad_sum: needs a static shape of rank 1 or more"),)),
]


def add_layer_norm(a, b, w, bias, eps=1e-5):
    return apply(AddLayerNorm(eps=eps), a, b, w, bias)


def np_add_layer_norm(a, b, w, bias, eps=1e-5):
    total = a + b
    return np.stack([total, np_layer_norm(total, w, bias, eps).astype(total.dtype)])


# a residual add and the layer norm of its sum (passes/add_layer_norm.py)
CASES += [
    OpCase("add_layer_norm", add_layer_norm, np_add_layer_norm,
           (S(A(3, 5), A(3, 5, layout="T"), A(5), A(5)),
            S(A(2, 3, 4, layout="step"), A(2, 3, 4), A(3, 4), A(3, 4), eps=1e-3),
            S(A(40, 6), A(40, 6), A(6, layout="step"), A(6))), dynamic=False,
           errors=(ErrorInput(S(A(3, 5), A(5), A(5), A(5)), tf.ShapeError,
                              r"^add_layer_norm: adds two values of one shape and dtype, got "
                              r"\(3, 5\) \(float32\) and \(5,\)"),)),
]
