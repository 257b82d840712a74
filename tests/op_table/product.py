"""Products (tinyflow/ops/product.py): prod and cumprod, with zeros among the inputs (where
the gradient must not divide by x)."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.ops.product import cumulative_product, reduce_prod

from .common import NUMBERS, A, ErrorInput, OpCase, S, given, summed

WITH_ZEROS = given(1.5, 0.0, -2.0, 0.5, 0.0, 3.0, -1.0, 2.0, 0.7, -0.3, 1.1, 0.0)
ONE_ZERO = given(1.5, -0.5, 2.0, 0.0, 1.2, -1.3)


def np_prod(x, axis=0, keepdims=False):
    return np.prod(x, axis, dtype=np.int64 if x.dtype == np.bool_ else None,
                   keepdims=keepdims)


def np_cumprod(x, axis=0):
    return np.cumprod(x, axis, dtype=np.int64 if x.dtype == np.bool_ else None)


def product_samples() -> tuple:
    return (S(A(3, 4), axis=0), S(A(3, 4), axis=1), S(A(2, 3, 4), axis=-1),
            S(A(3, 4, domain=WITH_ZEROS), axis=1), S(A(6, domain=ONE_ZERO), axis=0),
            S(A(3, 4, layout="T"), axis=0), S(A(5, layout="step"), axis=0), S(A(0, 3), axis=1),
            S(A(1, 3), axis=0))


CASES: list[OpCase] = [
    OpCase("prod", reduce_prod, np_prod,
           product_samples() + (S(A(2, 3, 4), axis=1, keepdims=True),),
           NUMBERS + (tf.bool,), summed, dynamic=False,   # the gradient needs known lengths
           errors=(ErrorInput(S(A(3, 4), axis=2), tf.ShapeError,
                              r"^prod: axis 2 is out of range for rank 2"),)),
    OpCase("cumprod", cumulative_product, np_cumprod, product_samples(), NUMBERS + (tf.bool,), summed,
           dynamic=False,
           errors=(ErrorInput(S(A(3, 4), axis=-3), tf.ShapeError,
                              r"^cumprod: axis -3 is out of range for rank 2"),)),
]
