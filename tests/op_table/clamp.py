"""clamp / hardtanh as one op and its gradient op (tinyflow/ops/clamp.py). NaN, -0.0 and
the limits themselves against PyTorch: tests/test_clamp.py."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops.clamp import Clamp, ClampGrad

from .common import A, ErrorInput, OpCase, S

CASES: list[OpCase] = []


def off_limits(rng, shape):
    """At least 0.1 from every multiple of 0.5 (the limits below): finite differences do
    not straddle a kink."""
    return rng.integers(-4, 4, shape) * 0.5 + rng.uniform(0.1, 0.4, shape)


def on_limits(rng, shape):
    """Multiples of 0.5: the limits themselves among them."""
    return rng.integers(-4, 5, shape) * 0.5


def np_clamp(x, min=None, max=None):  # noqa: A002
    return np.clip(x, min, max)


def hardtanh(x, low, high, reads_output=False):
    return tf.ops.hardtanh(x, low, high, reads_output=reads_output)


def np_hardtanh(x, low, high, reads_output=False):
    return np.clip(x, low, high)


def clamp_grad(g, y, low=None, high=None, hard=False):
    return apply(ClampGrad(low=low, high=high, hard=hard), g, y)


def np_clamp_grad(g, y, low=None, high=None, hard=False):
    low = -np.inf if low is None else low
    high = np.inf if high is None else high
    passes = ((y > low) & (y < high) | np.isnan(y)) if hard else (y >= low) & (y <= high)
    return np.where(passes, g, 0).astype(np.result_type(g, y))


def clamp_op(x, **attrs):
    return apply(Clamp(**attrs), x)


CASES += [
    OpCase("clamp", tf.ops.clamp, np_clamp,
           (S(A(3, 4, domain=off_limits), min=-0.5, max=0.5),
            S(A(3, 4, domain=off_limits, layout="T"), min=0.0),
            S(A(5, domain=off_limits, layout="step"), max=1.0),
            S(A(domain=off_limits), min=-1.0, max=1.0),
            S(A(0, 3), min=0.0, max=6.0)), (tf.float16,) + (tf.float32, tf.float64)),
    OpCase("clamp_op", clamp_op, lambda x, low, high, **_: np.clip(x, low, high),
           (S(A(3, 4, domain=off_limits), low=-0.5, high=None),),
           op="clamp",
           errors=(ErrorInput(S(A(3, dtype=tf.bool), low=0.0, high=None), tf.DTypeError,
                              r"^clamp: not implemented for 'bool'"),
                   ErrorInput(S(A(3), low=0.0, high=1.0, reads_output=True), ValueError,
                              r"^clamp: clamp's gradient cannot read"),
                   ErrorInput(S(A(3), low=None, high=None), ValueError,
                              r"^clamp: needs at least one limit"))),
    OpCase("clamp_ints", tf.ops.clamp, np_clamp,
           (S(A(3, 4, domain=on_limits), min=0, max=1), S(A(5, domain=on_limits), max=0)),
           (tf.int32, tf.int64), grad=False, op="clamp"),
    OpCase("clamp_limits_swapped", tf.ops.clamp, lambda x, min, max: np.full_like(x, max),
           (S(A(3, 4), min=1.0, max=-1.0),), grad=False, op="clamp"),
    OpCase("hardtanh", hardtanh, np_hardtanh,
           (S(A(3, 4, domain=off_limits), low=-1.0, high=1.0),
            S(A(2, 3, domain=off_limits, layout="T"), low=0.0, high=1.5),
            S(A(3, 4, domain=off_limits), low=0.0, high=1.5, reads_output=True)),
           op="clamp",
           errors=(ErrorInput(S(A(3), low=1.0, high=-1.0), ValueError,
                              r"^clamp: hardtanh's limits must be low <= high"),)),
    OpCase("clamp_grad", clamp_grad, np_clamp_grad,
           # y only selects: its derivative is 0 wherever it exists
           (S(A(3, 4), A(3, 4, domain=on_limits, diff=False), low=-0.5, high=0.5),
            S(A(3, 4), A(3, 4, domain=on_limits, diff=False), low=-0.5, high=0.5, hard=True),
            S(A(4), A(3, 4, domain=on_limits, diff=False), high=1.0),
            S(A(2, 3, layout="T"), A(2, 3, domain=on_limits, layout="step", diff=False),
              low=0.0)),
           errors=(ErrorInput(S(A(3, 4), A(2, 4), low=0.0), tf.ShapeError,
                              r"^clamp_grad: dimension -2 is 3 in one and 2 in another"),
                   ErrorInput(S(A(3), A(3)), ValueError,
                              r"^clamp_grad: needs at least one limit"))),
]
