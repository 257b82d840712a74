"""What TF1 programs run in session 19 needed (TensorFlow-Examples' 2_BasicModels to
6_MultiGPU, run again with only their import lines changed). Each test pins TF1's documented
behaviour of one gap found there, in a few lines of our own."""
import numpy as np
import pytest

import tinyflow as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


# ---- TF 1.x's eager mode: refused at its switch, graph mode reported ----------------------

def test_executing_eagerly_is_false_in_tf1_graph_mode():
    # TF1 programs branch on it (graph mode unless eager execution was switched on)
    assert tf.executing_eagerly() is False
    assert tf.compat.v1.executing_eagerly() is False


@pytest.mark.parametrize("switch", ["enable_eager_execution", "enable_v2_behavior"])
def test_enabling_eager_mode_stops_the_program_with_a_clear_error(switch):
    # The eager-API tutorials begin with `tf.enable_eager_execution()` and then compute
    # values with tf.* ops: without eager mode each op would build a graph node instead, so
    # the program must stop at the switch and say why.
    with pytest.raises(NotImplementedError, match="eager"):
        getattr(tf, switch)()


# ---- tf.convert_to_tensor (file lists and labels turned into tensors) ---------------------

def test_convert_to_tensor_makes_constants_in_tf1_dtypes():
    names = tf.convert_to_tensor(["x/1.jpg", "y/2.jpg"], dtype=tf.string)
    labels = tf.convert_to_tensor([0, 1], dtype=tf.int32)
    assert names.dtype == tf.string and labels.dtype == tf.int32
    # no dtype: Python ints int32, Python floats float32, NumPy arrays keep theirs
    assert tf.convert_to_tensor([4, 5]).dtype == tf.int32
    assert tf.convert_to_tensor(0.5).dtype == tf.float32
    assert tf.convert_to_tensor(np.zeros(3)).dtype == tf.float64
    with tf.Session() as sess:
        got_names, got = sess.run([names, labels * 3])
    assert list(got_names) == [b"x/1.jpg", b"y/2.jpg"]
    np.testing.assert_array_equal(got, [0, 3])


def test_convert_to_tensor_returns_tensors_as_they_are_and_never_casts_them():
    x = tf.placeholder(tf.float32, [None])
    v = tf.Variable([1.0, 2.0])
    assert tf.convert_to_tensor(x) is x and tf.convert_to_tensor(x, tf.float32) is x
    assert tf.convert_to_tensor(v) is v
    with pytest.raises(ValueError, match="int32 requested for a tensor of dtype float32"):
        tf.convert_to_tensor(x, dtype=tf.int32)
    with pytest.raises(TypeError, match="Python float"):
        tf.convert_to_tensor(1.5, dtype=tf.int32)


def test_convert_to_tensor_tries_the_preferred_dtype_then_the_values_own():
    assert tf.convert_to_tensor(2, preferred_dtype=tf.int64).dtype == tf.int64
    assert tf.convert_to_tensor(2, dtype_hint=tf.float32).dtype == tf.float32
    assert tf.convert_to_tensor(1.5, preferred_dtype=tf.int32).dtype == tf.float32
