"""Session 17 review (review-a): reproducers of wrong answers found in the TF1 segment
extremes and in set_default_dtype. NumPy and torch are the oracles."""
import numpy as np

import tinyflow as tf
from tinyflow.core import dtypes


def _segment_max_of_minus_infinity(ids, segments):
    data = np.array([-np.inf, 1.0][:len(ids)], np.float32)
    return tf.unsorted_segment_max(tf.constant(data), tf.constant(ids), segments).numpy()[0]


def test_a_segment_of_only_minus_infinity_has_max_minus_infinity():
    """TF1's unsorted_segment_max of a segment holding only -inf is -inf (only empty segments
    hold the lowest finite value; a padding row of that value once made it -3.4e38)."""
    assert _segment_max_of_minus_infinity([0], 1) == -np.inf


def test_a_segment_of_only_minus_infinity_beside_others_has_max_minus_infinity():
    assert _segment_max_of_minus_infinity([0, 1], 2) == -np.inf



def test_tf1_float_constants_stay_float32_under_a_float64_torch_default():
    """TF1's own conversions (tf.constant, tf.Variable, a constant meeting a placeholder) keep
    Python floats float32. (Names both front ends share, tf.zeros / torch.zeros, follow the
    one default: their calls look alike.)"""
    tf.set_default_dtype(tf.float64)
    try:
        x = tf.placeholder(tf.float32, [2])
        got = [tf.constant(1.5).dtype, tf.constant([1.5, 2.0]).dtype,
               tf.Variable(0.5).dtype, (x * tf.constant([1.5, 2.0])).dtype]
    finally:
        tf.set_default_dtype(tf.float32)
    assert all(d is tf.float32 for d in got), got


def test_empty_parameter_and_block_diag_follow_the_default_dtype():
    tf.set_default_dtype(tf.float64)
    try:
        got = [tf.nn.Parameter().dtype, tf.block_diag().dtype]
    finally:
        tf.set_default_dtype(tf.float32)
    assert got == [dtypes.float64, dtypes.float64], got
