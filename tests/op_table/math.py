"""Elementwise ops (tinyflow/ops/math.py): arithmetic, unary functions, comparisons, logic,
where and cast (clamp: clamp.py). Most references are NumPy's own ufuncs."""
from __future__ import annotations

import math

import numpy as np

import tinyflow as tf

from .common import (FLOATS, HALF_TOO, NUMBERS, A, Arg, Cond, ErrorInput, OpCase, S, binary_samples, given,
                     boolean, broadcast_error, dtype_kwarg, even_grid, float64, floating,
                     half_points, nonzero, odd_grid, off_grid, positive, small_ints, tiny,
                     unary_samples, wide)

CASES: list[OpCase] = []

# ---- arithmetic --------------------------------------------------------------------------

CASES += [
    OpCase("add", tf.add, np.add, binary_samples(), HALF_TOO,
           errors=(broadcast_error("add"),
                   ErrorInput(S(A(2), A(3)), tf.ShapeError,
                              r"^add: dimension -1 is 2 in one and 3 in another"),
                   ErrorInput(S(A(None, 784), A(3)), tf.ShapeError,
                              r"^add: dimension -1 is 784 in one and 3 in another"))),
    OpCase("add_mixed", tf.add, np.add,
           (S(A(3, 4), A(4, dtype=tf.float64)), S(A(2, 3, dtype=tf.float64), A(2, 1))),
           (tf.float16, tf.float32, tf.int32, tf.int64), float64, op="add"),
    OpCase("sub", tf.subtract, np.subtract, binary_samples(), NUMBERS,
           errors=(broadcast_error("sub"),)),
    OpCase("mul", tf.multiply, np.multiply, binary_samples(), HALF_TOO,
           errors=(broadcast_error("mul"),)),
    OpCase("div", tf.divide, np.true_divide, binary_samples(y=nonzero), NUMBERS, floating,
           errors=(broadcast_error("div"),)),
    OpCase("neg", tf.negative, np.negative, unary_samples(), NUMBERS),
    OpCase("pow", tf.pow, np.power, binary_samples(x=positive),
           errors=(broadcast_error("pow"),)),
]


def pow_scalar(x, exponent):
    return x ** exponent


def np_pow_scalar(x, exponent):
    return np.power(x, float(exponent)).astype(x.dtype)


CASES += [
    OpCase("pow_scalar", pow_scalar, np_pow_scalar,
           (S(A(3, 4), exponent=3), S(A(2, 3, layout="T"), exponent=2),
            S(A(3, 4), exponent=5), S(A(3, 4, layout="step"), exponent=4),
            S(A(2, 3), exponent=-3),
            S(A(3, 4, domain=positive), exponent=-1.5)), op="pow"),
    OpCase("square", tf.square, np.square, unary_samples(), NUMBERS),
    OpCase("sqrt", tf.sqrt, np.sqrt, unary_samples(positive), NUMBERS, floating),
    OpCase("exp", tf.exp, np.exp, unary_samples(), HALF_TOO, floating),
    OpCase("log", tf.log, np.log, unary_samples(positive), NUMBERS, floating),
    OpCase("sin", tf.sin, np.sin, unary_samples(), NUMBERS, floating),
    OpCase("cos", tf.cos, np.cos, unary_samples(), NUMBERS, floating),
    OpCase("tanh", tf.tanh, np.tanh, unary_samples(), NUMBERS, floating),
]


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x.astype(np.float64)))


def np_relu(x):
    return np.maximum(x, 0).astype(x.dtype)


def np_relu_grad(g, x):
    return np.where(x > 0, g, 0).astype(np.result_type(g, x))


CASES += [
    OpCase("sigmoid", tf.sigmoid, np_sigmoid, unary_samples() + (S(A(4, 5, domain=wide)),),
           NUMBERS, floating),
    OpCase("relu", tf.relu, np_relu, unary_samples(nonzero), NUMBERS),
    OpCase("relu_grad", tf.ops.relu_grad, np_relu_grad,
           # x only selects: its derivative is 0 wherever it exists
           (S(A(3, 4), A(3, 4, domain=nonzero, diff=False)),
            S(A(4), A(3, 4, domain=nonzero, diff=False)),
            S(A(2, 3, layout="T"), A(2, 3, domain=nonzero, layout="step", diff=False))),
           errors=(broadcast_error("relu_grad"),)),
    OpCase("abs", tf.abs, np.abs, unary_samples(nonzero), NUMBERS),
    OpCase("sign", tf.ops.sign, np.sign, unary_samples(small_ints), NUMBERS, grad=False),
    OpCase("sign_of_nan", tf.ops.sign, np.sign, (S(A(4, domain=given(np.nan, -1.0, 0.0, 2.0))),),
           FLOATS, grad=False, op="sign"),
    OpCase("sign_nan_to_zero", tf.ops.math.sign_nan_to_zero,
           lambda x: np.sign(np.where(np.isnan(x), 0, x)).astype(x.dtype),
           unary_samples(small_ints), NUMBERS, grad=False, op="sign"),
    OpCase("sign_nan_to_zero_of_nan", tf.ops.math.sign_nan_to_zero,
           lambda x: np.sign(np.where(np.isnan(x), 0, x)).astype(x.dtype),
           (S(A(4, domain=given(np.nan, -1.0, 0.0, 2.0))),), FLOATS, grad=False, op="sign"),
    OpCase("floor", tf.floor, np.floor, unary_samples(), NUMBERS, grad=False),
    OpCase("ceil", tf.ceil, np.ceil, unary_samples(), NUMBERS, grad=False),
    OpCase("round", tf.round, np.round,
           unary_samples() + (S(A(6, domain=half_points)),), NUMBERS, grad=False),
    OpCase("log1p", tf.log1p, np.log1p, unary_samples(positive) + (S(A(4, domain=tiny)),),
           NUMBERS, floating),
    OpCase("expm1", tf.expm1, np.expm1, unary_samples() + (S(A(4, domain=tiny)),), NUMBERS,
           floating),
]

np_erf = np.vectorize(math.erf, otypes=[np.float64])

CASES += [
    OpCase("erf", tf.ops.erf, np_erf, unary_samples(), FLOATS, floating),
    OpCase("atan2", tf.atan2, np.arctan2, binary_samples(nonzero, nonzero), NUMBERS, floating,
           errors=(broadcast_error("atan2"),)),
    OpCase("remainder", tf.remainder, np.mod, binary_samples(off_grid, nonzero), NUMBERS,
           errors=(broadcast_error("remainder"),)),
    OpCase("floor_divide", tf.floor_divide, np.floor_divide,
           binary_samples(off_grid, nonzero), NUMBERS, grad=False,
           errors=(broadcast_error("floor_divide"),)),
    OpCase("maximum", tf.maximum, np.maximum, binary_samples(even_grid, odd_grid), NUMBERS,
           errors=(broadcast_error("maximum"),)),
    OpCase("minimum", tf.minimum, np.minimum, binary_samples(even_grid, odd_grid), NUMBERS,
           errors=(broadcast_error("minimum"),)),
]


# ---- logic, comparisons, where -----------------------------------------------------------

CASES += [
    OpCase(name, getattr(tf, name), getattr(np, name), binary_samples(small_ints, small_ints),
           NUMBERS + (tf.bool,), boolean, grad=False, errors=(broadcast_error(name),))
    for name in ("logical_and", "logical_or", "logical_xor")
] + [
    OpCase("logical_not", tf.logical_not, np.logical_not,
           (S(A(3, 4)), S(A(2, 3, domain=small_ints, layout="T")), S(A())),
           (tf.bool, tf.float32, tf.int32), boolean, grad=False),
]

def shift_amounts(rng, shape):
    """0 .. 5 (bit widths and negative amounts: test_torch_semantics_s7.py, against torch)."""
    return rng.integers(0, 6, shape)


def any_ints(rng, shape):
    return rng.integers(-100, 100, shape)


BITS = (tf.int32, tf.int64)
FLOAT_BITS = ErrorInput(S(A(3, dtype=tf.float32), A(3, dtype=tf.float32)), tf.DTypeError,
                        r"not implemented for 'float32'")
CASES += [
    OpCase(name, getattr(tf.ops, name), getattr(np, name),
           binary_samples(any_ints, any_ints), BITS + (tf.bool,), grad=False,
           errors=(broadcast_error(name), FLOAT_BITS))
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor")
] + [
    OpCase(name, getattr(tf.ops, name), reference,
           binary_samples(any_ints, shift_amounts), BITS, grad=False,
           errors=(broadcast_error(name), FLOAT_BITS))
    for name, reference in (("bitwise_left_shift", np.left_shift),
                            ("bitwise_right_shift", np.right_shift))
] + [
    OpCase("bitwise_not", tf.ops.bitwise_not, np.invert,
           (S(A(3, 4, domain=any_ints)), S(A(2, 3, domain=any_ints, layout="T")), S(A())),
           BITS + (tf.bool,), grad=False,
           errors=(ErrorInput(S(A(3, dtype=tf.float64)), tf.DTypeError,
                              r"not implemented for 'float64'"),)),
]

COMPARE_SAMPLES = (S(A(3, 4, domain=small_ints), A(3, 4, domain=small_ints)),
                   S(A(3, 4, domain=small_ints), A(4, domain=small_ints)),
                   S(A(2, 1, 4, domain=small_ints), A(3, 1, domain=small_ints)),
                   S(A(3, 4, domain=small_ints, layout="T"),
                     A(3, 4, domain=small_ints, layout="step")))

CASES += [
    OpCase(name, getattr(tf.ops, name), getattr(np, name), COMPARE_SAMPLES, NUMBERS + (tf.bool,),
           boolean, grad=False, errors=(broadcast_error(name),))
    for name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
]

CASES += [
    OpCase("where", tf.where, np.where,
           (S(Cond(3, 4), A(3, 4), A(3, 4)),
            S(Cond(3, 1), A(4), A()),
            S(Cond(2, 1, 4), A(3, 1), A(4)),
            S(Cond(4), A(3, 4, layout="T"), A(3, 4, layout="step")),
            S(Cond(), A(2, 3), A(3)),
            S(Cond(0, 1), A(4), A(4))), NUMBERS,
           errors=(ErrorInput(S(Cond(3, 4), A(2, 4), A(4)), tf.ShapeError,
                              r"^where: dimension -2 is 3 in one and 2 in another"),
                   ErrorInput(S(A(3, 4), A(3, 4), A(3, 4)), tf.DTypeError,
                              r"^where: the condition must be bool"))),
]


def Pred(value: bool) -> Arg:
    """tf.cond's scalar predicate, with this value."""
    return Arg((), given(value), dtype=tf.bool, diff=False)


CASES += [
    OpCase("cond_select", tf.ops.math.cond_select, lambda t, f, pred: t if pred else f,
           (S(A(3, 4), A(3, 4), Pred(True)),
            S(A(3, 4, layout="T"), A(3, 4, layout="step"), Pred(False)),
            S(A(2, 3), A(5), Pred(True)),                # the branches' shapes may differ
            S(A(0), A(4, 2), Pred(False))), NUMBERS, value_shaped=True,
           errors=(ErrorInput(S(A(3), A(3), Cond(3)), tf.DTypeError,
                              r"^cond_select: the predicate must be a bool scalar"),
                   ErrorInput(S(A(3), A(3, dtype=tf.int32), Pred(True)), tf.DTypeError,
                              r"^cond_select: the branches are"))),
]

# ---- cast ----------------------------------------------------------------------------------


def cast(x, dtype):
    return tf.cast(x, dtype)


def np_cast(x, dtype):
    return x.astype(dtype.np)


CASES += [
    OpCase("cast", cast, np_cast,
           (S(A(3, 4), dtype=tf.int32),
            S(A(3, 4, layout="T"), dtype=tf.float64),
            S(A(2, 3, domain=small_ints), dtype=tf.bool),
            S(A(5, layout="step"), dtype=tf.float32)),
           (tf.float32, tf.float64, tf.int32, tf.bool), dtype_kwarg, grad=False,
           errors=(ErrorInput(S(A(3), dtype="float33"), TypeError,
                              r"unknown dtype name 'float33'"),)),
]
