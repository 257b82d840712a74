"""Indexing by graph tensors (TF1's strided_slice with tensor bounds): `x[t]` with t a
placeholder or a loop counter, tensor slice bounds, an int vector; values against NumPy and
gradients against float64 finite differences."""
import numpy as np
import pytest

import tinyflow as tf
from finite_differences import numeric_grad

X = np.random.default_rng(18).normal(size=(5, 3, 4))

CASES = {   # name: (index built from t (an int scalar placeholder), NumPy index for t = 2)
    "x[t]": (lambda t: t, 2),
    "x[t, 1:]": (lambda t: (t, slice(1, None)), (2, slice(1, None))),
    "x[:, t]": (lambda t: (slice(None), t), (slice(None), 2)),
    "x[..., t]": (lambda t: (Ellipsis, t), (Ellipsis, 2)),
    "x[t, None, 1, t]": (lambda t: (t, None, 1, t), (2, None, 1, 2)),
    "x[-t]": (lambda t: -t, -2),
    "x[t:t + 2]": (lambda t: slice(t, t + 2), slice(2, 4)),
    "x[-t:]": (lambda t: slice(-t, None), slice(-2, None)),
    "x[:t, ::2]": (lambda t: (slice(None, t), slice(None, None, 2)),
                   (slice(None, 2), slice(None, None, 2))),
    "x[t:99]": (lambda t: slice(t, 99), slice(2, 99)),
    "x[t:1] (empty)": (lambda t: slice(t, 1), slice(2, 1)),
}


@pytest.mark.parametrize("name", CASES)
def test_index_by_a_placeholder_and_its_gradient(name):
    build, numpy_index = CASES[name]
    tf.reset_default_graph()
    x, t = tf.placeholder(tf.float64, [5, 3, 4]), tf.placeholder(tf.int32, [])
    y = x[build(t)]
    weights = np.random.default_rng(1).normal(size=X[numpy_index].shape)
    grad, = tf.gradients(tf.reduce_sum(y * weights), x)
    with tf.Session() as sess:
        got, got_grad = sess.run([y, grad], {x: X, t: 2})
    np.testing.assert_array_equal(got, X[numpy_index])
    np.testing.assert_allclose(got_grad, numeric_grad(
        lambda v: (v[numpy_index] * weights).sum(), X), atol=1e-8)


def test_an_int_vector_placeholder_gathers():
    x, v = tf.placeholder(tf.float64, [5, 3, 4]), tf.placeholder(tf.int32, [None])
    y = x[1, v]
    grad, = tf.gradients(tf.reduce_sum(y * y), x)
    with tf.Session() as sess:
        got, got_grad = sess.run([y, grad], {x: X, v: [0, 2, 2]})
    np.testing.assert_array_equal(got, X[1, [0, 2, 2]])
    want = np.zeros_like(X)
    np.add.at(want[1], [0, 2, 2], 2 * X[1, [0, 2, 2]])
    np.testing.assert_allclose(got_grad, want)


def test_the_loop_counter_indexes_inside_a_while_loop():
    """The dynamic-RNN spelling: step i reads x[i]; the gradient runs back over the trips."""
    x = tf.placeholder(tf.float64, [None, 3])
    w = tf.placeholder(tf.float64, [3, 3])
    steps = tf.shape(x)[0]
    _, h = tf.while_loop(lambda i, h: i < steps,
                         lambda i, h: (i + 1, tf.tanh(tf.matmul(h[None], w)[0] + x[i])),
                         [tf.constant(0), tf.zeros([3], tf.float64)])
    loss = tf.reduce_sum(h * h)
    gx, gw = tf.gradients(loss, [x, w])
    rng = np.random.default_rng(2)
    xv, wv = rng.normal(size=(4, 3)), rng.normal(size=(3, 3)) * 0.5

    def reference(xv, wv):
        h = np.zeros(3)
        for row in xv:
            h = np.tanh(h @ wv + row)
        return (h * h).sum()

    with tf.Session() as sess:
        got, got_gx, got_gw = sess.run([loss, gx, gw], {x: xv, w: wv})
    np.testing.assert_allclose(got, reference(xv, wv))
    np.testing.assert_allclose(got_gx, numeric_grad(lambda v: reference(v, wv), xv), atol=1e-8)
    np.testing.assert_allclose(got_gw, numeric_grad(lambda v: reference(xv, v), wv), atol=1e-8)


def test_bad_graph_tensor_indices_are_refused_by_name():
    x, t = tf.placeholder(tf.float64, [5, 3]), tf.placeholder(tf.int32, [])
    with tf.Session() as sess:
        with pytest.raises(IndexError,
                           match=r"getitem: index out of range for a dimension of size 5"):
            sess.run(x[t], {x: X[:, :, 0], t: 7})
    with pytest.raises(IndexError, match="getitem: a graph tensor index must be an int"):
        x[tf.placeholder(tf.float32, [])]
    with pytest.raises(IndexError, match="getitem: at most one graph tensor index of rank 1"):
        x[tf.placeholder(tf.int32, [2]), tf.placeholder(tf.int32, [2])]
    with pytest.raises(IndexError, match="getitem: a slice with graph tensor bounds needs a "
                                         "positive int step"):
        x[t::-1]
