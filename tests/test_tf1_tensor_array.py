"""tf.TensorArray: as TF1's dynamic-RNN programs use it (unstacked inputs read and outputs
written inside tf.while_loop), against NumPy, with gradients against float64 finite
differences; growing arrays, eager use, and the mistakes it refuses."""
import numpy as np
import pytest

import tinyflow as tf
from finite_differences import numeric_grad

T, B, D, H = 4, 2, 3, 5


def _rnn(x, w, u):
    """An Elman RNN over x [time, batch, D] in a while_loop, TensorArrays in and out."""
    steps = tf.shape(x)[0]
    inputs = tf.TensorArray(tf.float64, size=steps).unstack(x)
    outputs = tf.TensorArray(tf.float64, size=steps)

    def step(t, h, out):
        h = tf.tanh(tf.matmul(inputs.read(t), w) + tf.matmul(h, u))
        return t + 1, h, out.write(t, h)

    h0 = tf.zeros([tf.shape(x)[1], H], tf.float64)
    _, h, out = tf.while_loop(lambda t, h, out: t < steps, step, [0, h0, outputs])
    return h, out


def _rnn_numpy(x, w, u):
    h, ys = np.zeros((x.shape[1], H)), []
    for t in range(len(x)):
        h = np.tanh(x[t] @ w + h @ u)
        ys.append(h)
    ys = np.stack(ys)
    return h, ys, (ys * ys).sum() + h.sum()


def test_a_dynamic_rnn_writes_its_outputs_and_differentiates_through_them():
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(T, B, D)), rng.normal(size=(D, H)) * 0.5,
              rng.normal(size=(H, H)) * 0.5]
    x = tf.placeholder(tf.float64, [None, None, D])
    w, u = tf.placeholder(tf.float64, [D, H]), tf.placeholder(tf.float64, [H, H])
    h, out = _rnn(x, w, u)
    ys = out.stack()
    assert ys.shape.as_list() == [None, None, H]
    grads = tf.gradients(tf.reduce_sum(ys * ys) + tf.reduce_sum(h), [x, w, u])
    with tf.Session() as sess:
        for steps in (T, 1):
            feed = dict(zip([x, w, u], [values[0][:steps], *values[1:]]))
            got_ys, size, *got = sess.run([ys, out.size(), *grads], feed)
            assert size == steps
            np.testing.assert_allclose(got_ys, _rnn_numpy(*feed.values())[1], rtol=1e-12)
    for k, got_grad in enumerate(got):   # (the last run: one step)
        def loss(v, k=k):
            args = [values[0][:1], *values[1:]]
            args[k] = v
            return _rnn_numpy(*args)[2]
        x_k = values[0][:1] if k == 0 else values[k]
        np.testing.assert_allclose(got_grad, numeric_grad(loss, x_k), rtol=1e-6, atol=1e-9)


def test_the_gradient_of_every_step_of_a_longer_rnn():
    rng = np.random.default_rng(1)
    xv, wv, uv = rng.normal(size=(T, B, D)), rng.normal(size=(D, H)), rng.normal(size=(H, H))
    x = tf.placeholder(tf.float64, [None, None, D])
    w = tf.placeholder(tf.float64, [D, H])
    h, out = _rnn(x, w, tf.constant(uv * 0.5))
    dx, dw = tf.gradients(tf.reduce_sum(out.stack() ** 2) + tf.reduce_sum(h), [x, w])
    with tf.Session() as sess:
        got_dx, got_dw = sess.run([dx, dw], {x: xv, w: wv})
    np.testing.assert_allclose(
        got_dx, numeric_grad(lambda v: _rnn_numpy(v, wv, uv * 0.5)[2], xv), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        got_dw, numeric_grad(lambda v: _rnn_numpy(xv, v, uv * 0.5)[2], wv), rtol=1e-6, atol=1e-9)


def test_a_dynamic_size_array_grows_to_the_trips_taken():
    """A decoder-style loop: the trip count is fed, the array starts empty."""
    n = tf.placeholder(tf.int32, [])
    scale = tf.placeholder(tf.float64, [])
    grown = tf.TensorArray(tf.float64, size=0, dynamic_size=True)
    _, grown = tf.while_loop(lambda i, a: i < n, lambda i, a: (
        i + 1, a.write(i, tf.cast(i, tf.float64) * scale * tf.ones([2], tf.float64))),
        [0, grown])
    stacked = grown.stack()
    d_scale, = tf.gradients(tf.reduce_sum(stacked), scale)
    with tf.Session() as sess:
        for count in (3, 5):
            values, size, d = sess.run([stacked, grown.size(), d_scale], {n: count, scale: 2.0})
            np.testing.assert_array_equal(values, 2.0 * np.repeat(np.arange(count), 2)
                                          .reshape(count, 2))
            assert size == count and d == 2 * sum(range(count))
    eager = tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a.write(i, i * 10)),
                          [0, tf.TensorArray(tf.int32, size=0, dynamic_size=True)])[1]
    np.testing.assert_array_equal(eager.stack().numpy(), [0, 10, 20])


def test_read_write_gather_concat_outside_a_loop():
    ta = tf.TensorArray(tf.float32, size=3, element_shape=[2])
    ta = ta.write(0, [1.0, 2.0]).write(2, tf.constant([5.0, 6.0]))
    np.testing.assert_array_equal(ta.stack().numpy(), [[1, 2], [0, 0], [5, 6]])
    np.testing.assert_array_equal(ta.read(2).numpy(), [5, 6])
    np.testing.assert_array_equal(ta.gather([2, 0]).numpy(), [[5, 6], [1, 2]])
    np.testing.assert_array_equal(ta.concat().numpy(), [1, 2, 0, 0, 5, 6])
    assert int(ta.size()) == 3
    x = tf.placeholder(tf.float32, [None, 2])
    rows = tf.TensorArray(tf.float32, size=0, dynamic_size=True).unstack(x)
    picked = rows.read(1) * 3.0
    dx, = tf.gradients(tf.reduce_sum(picked), x)
    with tf.Session() as sess:
        got, got_dx = sess.run([picked, dx], {x: [[1, 2], [3, 4], [5, 6]]})
    np.testing.assert_array_equal(got, [9, 12])
    np.testing.assert_array_equal(got_dx, [[0, 0], [3, 3], [0, 0]])


def test_tensor_array_mistakes_are_named():
    ta = tf.TensorArray(tf.float64, size=2)
    with pytest.raises(TypeError, match="holds float64, got a value of int32"):
        ta.write(0, tf.constant(1))
    with pytest.raises(IndexError, match="index 2 is outside the array's 2 elements"):
        ta.write(2, 1.0)
    with pytest.raises(ValueError, match=r"elements have shape \[3\], got a value of shape"):
        ta.write(0, np.ones(3)).write(1, np.ones(2))
    with pytest.raises(TypeError, match="loop variable 1 is a TensorArray, but the body "
                                        "returned Tensor"):
        tf.while_loop(lambda i, a: i < 2, lambda i, a: (i + 1, a.read(0)), [0, ta])
    n = tf.placeholder(tf.int32, [])
    _, fixed = tf.while_loop(lambda i, a: i < n, lambda i, a: (i + 1, a.write(i, 1.0)), [0, ta])
    with tf.Session() as sess, pytest.raises(IndexError, match="dynamic_size=True"):
        sess.run(fixed.stack(), {n: 3})


def test_a_python_float_into_an_int_array_and_reads_out_of_range_are_refused():
    """TF1 refuses converting 1.5 (any Python float) to int32, and a read past the size
    names the read, the index and the size (once named `take`)."""
    ints = tf.TensorArray(tf.int32, size=3)
    with pytest.raises(TypeError, match="TensorArray.write: 1.5 holds a Python float"):
        ints.write(0, 1.5)
    np.testing.assert_array_equal(ints.write(1, 7).stack().numpy(), [0, 7, 0])
    floats = tf.TensorArray(tf.float32, size=3).write(0, 2)   # an int into floats is fine
    np.testing.assert_array_equal(floats.stack().numpy(), [2, 0, 0])
    i = tf.placeholder(tf.int32, [])
    read = floats.write(1, tf.placeholder_with_default(1.0, [])).read(i)
    with tf.Session() as sess:
        for bad in (5, -1):
            with pytest.raises(IndexError, match=r"TensorArray.read: index out of range for "
                                                  r"a dimension of size 3 \(indices span "
                                                  rf"\[{bad}, {bad}\]\)"):
                sess.run(read, {i: bad})
        assert sess.run(read, {i: 1}) == 1.0


def test_an_element_is_written_once_and_a_loop_writes_its_array_in_place():
    """TF1 refuses a second write of an element: when built (known index) and, inside a
    while_loop, when run. The loop's writes go into its own copy of the buffer, so T writes
    copy no O(T) buffer each (the loop's input array is left as it was)."""
    with pytest.raises(ValueError, match="element 0 was written already"):
        tf.TensorArray(tf.float32, size=2).write(0, 1.0).write(0, 2.0)
    n = tf.placeholder(tf.int32, [])
    start = tf.TensorArray(tf.float64, size=3).write(0, 5.0)
    _, twice = tf.while_loop(lambda i, a: i < n, lambda i, a: (i + 1, a.write(i // 2 + 1, 1.0)),
                             [0, start])
    loop = next(node for node in tf.get_default_graph().nodes
                if getattr(node._op, "name", None) == "while_loop")
    assert loop._op.owned == (1,)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(twice.stack(), {n: 1}), [5, 1, 0])
        with pytest.raises(ValueError, match="element 1 was written already"):
            sess.run(twice.stack(), {n: 2})
