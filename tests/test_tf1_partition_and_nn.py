"""tf.dynamic_partition / tf.dynamic_stitch, tf.nn.fused_batch_norm and
tf.nn.sampled_softmax_loss: in a Session on placeholders and eagerly, against NumPy (TF1's
semantics written out), with float64 finite-difference gradients."""
import numpy as np
import pytest

import tinyflow as tf
from finite_differences import numeric_grad


def test_dynamic_partition_splits_rows_in_order_and_refuses_bad_ids():
    data = np.arange(10.0).reshape(5, 2)
    ids = np.array([2, 0, 2, 1, 0])
    want = [data[ids == k] for k in range(3)]
    d, p = tf.placeholder(tf.float64, [None, 2]), tf.placeholder(tf.int32, [None])
    parts = tf.dynamic_partition(d, p, 3)
    weights = np.array([1.0, 2.0, 3.0])
    loss = sum(w * tf.reduce_sum(part * part) for w, part in zip(weights, parts))
    grad, = tf.gradients(loss, d)
    with tf.Session() as sess:
        got = sess.run(parts + [grad], {d: data, p: ids})
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
        np.testing.assert_allclose(got[3], 2 * weights[ids][:, None] * data)
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"dynamic_partition: partition id 3 is outside \[0, 3\)"):
            sess.run(parts, {d: data, p: [0, 3, 0, 0, 0]})
    eager = tf.dynamic_partition(tf.constant(data), tf.constant(ids), 3)
    for g, w in zip(eager, want):
        np.testing.assert_array_equal(g.numpy(), w)
    with pytest.raises(tf.errors.InvalidArgumentError, match="partition id -1"):
        tf.dynamic_partition(tf.constant(data), tf.constant([0, -1, 0, 0, 0]), 2)


def _stitch_numpy(indices, data):
    rows = max(int(i.max()) for i in indices) + 1
    rest = data[0].shape[indices[0].ndim:]
    out = np.zeros((rows,) + rest)
    for i, d in zip(indices, data):
        for index, value in zip(i.reshape(-1), d.reshape((-1,) + rest)):
            out[index] = value
    return out


def test_dynamic_stitch_keeps_the_later_value_and_differentiates():
    indices = [np.array([6]), np.array([[4, 6], [0, 1]])]
    values = [np.array([[1.0, 2.0]]), np.arange(8.0).reshape(2, 2, 2)]
    want = _stitch_numpy(indices, values)
    ix = [tf.constant(indices[0]), tf.placeholder(tf.int32, [None, 2])]
    vs = [tf.placeholder(tf.float64, [1, 2]), tf.placeholder(tf.float64, [None, 2, 2])]
    merged = tf.dynamic_stitch(ix, vs)
    scale = np.arange(1.0, 15.0).reshape(7, 2)
    grads = tf.gradients(tf.reduce_sum(merged * merged * scale), vs)
    feed = {ix[1]: indices[1], vs[0]: values[0], vs[1]: values[1]}
    with tf.Session() as sess:
        got, *got_grads = sess.run([merged] + grads, feed)
    np.testing.assert_array_equal(got, want)
    for k in range(2):
        def loss(v, k=k):
            changed = list(values)
            changed[k] = v
            return (_stitch_numpy(indices, changed) ** 2 * scale).sum()
        np.testing.assert_allclose(got_grads[k], numeric_grad(loss, values[k]), atol=1e-6)
    assert not got_grads[0].any()    # overwritten by the later index 6
    eager = tf.dynamic_stitch([tf.constant([0, 2]), tf.constant([1])],
                              [tf.constant([1.0, 3.0]), tf.constant([2.0])])
    assert eager.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_fused_batch_norm_training_and_inference(data_format):
    rng = np.random.default_rng(0)
    xv = rng.normal(size=(2, 3, 2, 4))             # NHWC
    scale, offset = rng.normal(size=4), rng.normal(size=4)
    to_layout = (lambda a: a) if data_format == "NHWC" else (lambda a: a.transpose(0, 3, 1, 2))

    def reference(xv, scale):
        mean, var = xv.mean((0, 1, 2)), xv.var((0, 1, 2))
        return (xv - mean) / np.sqrt(var + 1e-3) * scale + offset

    x = tf.placeholder(tf.float64, [None] + list(to_layout(xv).shape[1:]))
    s = tf.placeholder(tf.float64, [4])
    y, mean, var = tf.nn.fused_batch_norm(x, s, offset, data_format=data_format)
    loss = tf.reduce_sum(y * y * to_layout(xv))
    d_x, d_s = tf.gradients(loss, [x, s])
    with tf.Session() as sess:
        got = sess.run([y, mean, var, d_x, d_s], {x: to_layout(xv), s: scale})
    np.testing.assert_allclose(got[0], to_layout(reference(xv, scale)), atol=1e-12)
    np.testing.assert_allclose(got[1], xv.mean((0, 1, 2)), atol=1e-12)
    np.testing.assert_allclose(got[2], xv.var((0, 1, 2), ddof=1), atol=1e-12)
    weight = xv.copy()
    np.testing.assert_allclose(got[3], to_layout(numeric_grad(
        lambda v: (reference(v, scale) ** 2 * weight).sum(), xv)), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got[4], numeric_grad(
        lambda v: (reference(xv, v) ** 2 * weight).sum(), scale), rtol=1e-5, atol=1e-7)
    m, v = np.array([0.1, 0.2, 0.3, 0.4]), np.array([1.0, 2.0, 0.5, 1.5])
    y2, m2, v2 = tf.nn.fused_batch_norm(tf.constant(to_layout(xv)), scale, offset, m, v,
                                        data_format=data_format, is_training=False)
    np.testing.assert_allclose(y2.numpy(), to_layout((xv - m) / np.sqrt(v + 1e-3) * scale
                                                     + offset), atol=1e-12)
    assert m2.tolist() == m.tolist() and v2.tolist() == v.tolist()


def test_fused_batch_norm_running_average_and_errors():
    xv = np.random.default_rng(1).normal(size=(3, 2, 2, 2))
    m, v = np.array([1.0, -1.0]), np.array([2.0, 3.0])
    _, mean, var = tf.nn.fused_batch_norm(tf.constant(xv), np.ones(2), np.zeros(2), m, v,
                                          exponential_avg_factor=0.25)
    np.testing.assert_allclose(mean.numpy(), 0.75 * m + 0.25 * xv.mean((0, 1, 2)))
    np.testing.assert_allclose(var.numpy(), 0.75 * v + 0.25 * xv.var((0, 1, 2), ddof=1))
    with pytest.raises(ValueError, match="fused_batch_norm: x must be 4-D"):
        tf.nn.fused_batch_norm(tf.zeros([2, 3]), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="needs mean and variance"):
        tf.nn.fused_batch_norm(tf.zeros([1, 2, 2, 3]), np.ones(3), np.zeros(3),
                               is_training=False)


def _sampled_softmax_numpy(w, b, x, labels, sampled, true_expected, sampled_expected):
    true_logits = (x * w[labels[:, 0]]).sum(1) + b[labels[:, 0]] - np.log(true_expected[:, 0])
    sampled_logits = x @ w[sampled].T + b[sampled] - np.log(sampled_expected)
    hits = labels[:, :1] == sampled[None, :]
    sampled_logits = np.where(hits, np.finfo(np.float64).min, sampled_logits)
    logits = np.concatenate([true_logits[:, None], sampled_logits], 1)
    top = logits.max(1, keepdims=True)
    return (np.log(np.exp(logits - top).sum(1)) + top[:, 0]) - logits[:, 0]


def test_sampled_softmax_loss_removes_accidental_hits_and_differentiates():
    rng = np.random.default_rng(2)
    w, b, x = rng.normal(size=(10, 3)), rng.normal(size=10), rng.normal(size=(2, 3))
    labels, sampled = np.array([[1], [4]]), np.array([0, 4, 7])
    true_expected, sampled_expected = np.full((2, 1), 0.5), np.array([0.3, 0.2, 0.1])
    weights, inputs = tf.placeholder(tf.float64, [10, 3]), tf.placeholder(tf.float64, [None, 3])
    loss = tf.nn.sampled_softmax_loss(weights, b, labels, inputs, 3, 10,
                                      sampled_values=(sampled, true_expected, sampled_expected))
    d_w, d_x = tf.gradients(tf.reduce_sum(loss), [weights, inputs])
    with tf.Session() as sess:
        got, got_w, got_x = sess.run([loss, d_w, d_x], {weights: w, inputs: x})
    args = (labels, sampled, true_expected, sampled_expected)
    np.testing.assert_allclose(got, _sampled_softmax_numpy(w, b, x, *args), rtol=1e-12)
    np.testing.assert_allclose(got_w, numeric_grad(
        lambda v: _sampled_softmax_numpy(v, b, x, *args).sum(), w), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(got_x, numeric_grad(
        lambda v: _sampled_softmax_numpy(w, b, v, *args).sum(), x), rtol=1e-5, atol=1e-8)
    drawn = tf.nn.sampled_softmax_loss(w, b, labels, x, 4, 10)   # the sampler draws per run
    with tf.Session() as sess:
        value = sess.run(drawn)
    assert value.shape == (2,) and np.all(np.isfinite(value)) and np.all(value > 0)


def test_dynamic_stitch_and_partition_refuse_what_does_not_fit():
    with pytest.raises(tf.errors.InvalidArgumentError, match="dynamic_stitch: index -1 is "
                                                             "negative"):
        tf.dynamic_stitch([tf.constant([0, -1, 1])], [tf.constant([1., 2., 3.])])
    with pytest.raises(ValueError, match=r"dynamic_stitch: data\[0\] of shape \(2,\) must "
                                         r"start with indices\[0\]'s shape \(3,\)"):
        tf.dynamic_stitch([tf.constant([0, 1, 2])], [tf.constant([1., 2.])])
    i, d = tf.placeholder(tf.int32, [None]), tf.placeholder(tf.float64, [None])
    merged = tf.dynamic_stitch([i], [d])
    with tf.Session() as sess:
        assert sess.run(merged, {i: [2, 0], d: [5.0, 7.0]}).tolist() == [7.0, 0.0, 5.0]
        with pytest.raises(tf.errors.InvalidArgumentError, match="index -2 is negative"):
            sess.run(merged, {i: [0, -2], d: [1.0, 2.0]})
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"data\[0\] starts with dims \[2\], but indices\[0\] has "
                                 r"shape \[3\]"):
            sess.run(merged, {i: [0, 1, 2], d: [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"dynamic_partition: partitions' shape \(2,\) must "
                                         r"be a prefix of data's shape \(3,\)"):
        tf.dynamic_partition(tf.constant([1., 2., 3.]), tf.constant([0, 1]), 2)


def test_fused_batch_norm_raises_epsilon_to_tfs_least():
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4))
    y, _, _ = tf.nn.fused_batch_norm(tf.constant(x), tf.constant(np.ones(4)),
                                     tf.constant(np.zeros(4)), epsilon=0.0)
    want = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1.001e-5)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12)
