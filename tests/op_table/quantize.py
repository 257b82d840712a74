"""Simulated fp8 (tinyflow/ops/quantize.py): per-tensor scaled rounding to float8."""
from __future__ import annotations

import ml_dtypes
import numpy as np

import tinyflow as tf

from .common import FLOATS, A, ErrorInput, OpCase, S, real, wide

CASES: list[OpCase] = []


def np_fake_quantize(x, dtype=None, grad_dtype=None, margin=0):
    """The same rounding written directly: scale amax onto the format's max, round, undo."""
    if dtype is None:
        return x.copy()
    fmax = float(ml_dtypes.finfo(dtype.np).max)
    amax = np.abs(x).max(initial=0.0)
    scale = fmax / amax / 2.0 ** margin if amax > 0 else 1.0
    wide_x = x.astype(np.float32) if x.dtype != np.float64 else x
    return ((wide_x * scale).astype(dtype.np).astype(wide_x.dtype) / scale).astype(x.dtype)


E4M3, E5M2 = tf.float8_e4m3fn, tf.float8_e5m2

CASES += [
    # piecewise constant: no finite-difference gradient (test_precision_amp checks the
    # straight-through forward gradient and the rounded backward one)
    OpCase("fake_quantize", tf.ops.fake_quantize, np_fake_quantize,
           (S(A(3, 4), dtype=E4M3), S(A(2, 3, 4, domain=wide), dtype=E5M2),
            S(A(5, layout="step"), dtype=E4M3, margin=2), S(A(3, 4), grad_dtype=E5M2),
            S(A(0, 3), dtype=E4M3), S(A(3, 4, domain=real, layout="T"), dtype=E4M3)),
           FLOATS, grad=False, atol=0, rtol=0,
           errors=(ErrorInput(S(A(3, 4), dtype=tf.float16), tf.DTypeError,
                              r"^fake_quantize: rounds to float8 types only, got float16"),)),
]
