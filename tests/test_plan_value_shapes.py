"""A plan is compiled per set of feed shapes. A program whose shapes come from data (a
`range(n)`, a mask's count, a loop's trip count) must not reuse the buffers of an earlier
run with the same feed shapes but other values; one whose shapes come from shapes must."""
import numpy as np
import pytest

import tinyflow as tf
from tinyflow.runtime.plan import Plan


def _runs(fetch, feeds):
    sess = tf.Session()
    return [sess.run(fetch, f) for f in feeds]


def test_range_of_a_fed_count_after_a_larger_one():
    n = tf.placeholder(tf.int32, [])
    y = tf.cast(tf.range(n), tf.float32) * 2.0
    got = _runs(y, [{n: 4}, {n: 1}, {n: 3}])
    for out, k in zip(got, (4, 1, 3)):          # 1 after 4 would broadcast into the old buffer
        np.testing.assert_array_equal(out, np.arange(k) * 2.0)


def test_boolean_mask_count_changes_with_the_data():
    x = tf.placeholder(tf.float64, [6])
    y = tf.reduce_sum(tf.boolean_mask(x, x > 0.5) * 2.0)
    g, = tf.gradients(y, x)
    sess = tf.Session()
    for scale in (1.0, 0.3, 1.0):
        v = np.arange(6.0) * scale
        out, grad = sess.run([y, g], {x: v})
        assert out == pytest.approx(2 * v[v > 0.5].sum())
        np.testing.assert_array_equal(grad, np.where(v > 0.5, 2.0, 0.0))


def test_tensor_array_loop_over_a_fed_length():
    n = tf.placeholder(tf.int32, [])
    x = tf.placeholder(tf.float64, [2])
    ta = tf.TensorArray(tf.float64, size=n)
    _, out = tf.while_loop(lambda i, a: i < n, lambda i, a: (i + 1, a.write(i, x)), [0, ta])
    s = out.stack()
    g, = tf.gradients(tf.reduce_sum(s * s), x)
    sess = tf.Session()
    for k in (3, 5, 2):
        np.testing.assert_allclose(sess.run(g, {n: k, x: [1.0, 2.0]}), [2.0 * k, 4.0 * k])


def _plan(fetch, feeds):
    return Plan([fetch], tuple(feeds), {})


def test_shapes_from_shapes_keep_the_planned_run():
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.constant(np.ones((3, 2), np.float32))
    y = tf.reduce_sum(tf.nn.softmax(tf.matmul(x, w)) * tf.cast(tf.range(tf.shape(x)[0]),
                                                              tf.float32)[:, None])
    assert _plan(y, [x]).planned
    n = tf.placeholder(tf.int32, [])
    assert not _plan(tf.range(n), [n]).planned
