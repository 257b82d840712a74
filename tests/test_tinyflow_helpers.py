"""tqchen/tinyflow's own helpers, as its examples use them (example/mnist_mlp_auto_shape_
inference.py): tf.nn.linear makes `<name>_weight` [num_hidden, K] and `<name>_bias`, whose
shapes tf.infer_variable_shapes works out from the placeholders' shapes; the program then
assigns them tf.normal(shape, stdev). PyTorch is the oracle for the layer and the loss."""
import numpy as np
import pytest
import torch as real_torch

import tinyflow as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


def test_linear_with_inferred_shapes_matches_torch():
    x = tf.placeholder(tf.float32)
    label = tf.placeholder(tf.float32)
    hidden = tf.nn.relu(tf.nn.linear(x, num_hidden=5, name="fc1"))
    logits = tf.nn.linear(hidden, num_hidden=3, name="fc2", no_bias=True)
    loss = tf.nn.mean_sparse_softmax_cross_entropy_with_logits(logits, label)
    found = [(name, shape) for _, name, shape in
             tf.infer_variable_shapes(loss, feed_dict={x: [4, 6], label: [4]})]
    assert found == [("fc1_weight", [5, 6]), ("fc1_bias", [5]), ("fc2_weight", [3, 5])]
    variables = {v._name: v for v in tf.global_variables()}
    rng = np.random.default_rng(0)
    values = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in found}
    grads = tf.gradients(loss, [variables["fc1_weight"]])[0]
    data = rng.standard_normal((4, 6)).astype(np.float32)
    ids = np.array([0, 2, 1, 2], np.float32)     # tqchen/tinyflow feeds labels as floats
    with tf.Session() as sess:
        sess.run([tf.assign(variables[n], v) for n, v in values.items()])
        got_loss, got_grad = sess.run([loss, grads], {x: data, label: ids})
    w1 = real_torch.tensor(values["fc1_weight"], requires_grad=True)
    h = real_torch.relu(real_torch.nn.functional.linear(
        real_torch.tensor(data), w1, real_torch.tensor(values["fc1_bias"])))
    want = real_torch.nn.functional.cross_entropy(
        real_torch.nn.functional.linear(h, real_torch.tensor(values["fc2_weight"])),
        real_torch.tensor(ids).long())
    want.backward()
    np.testing.assert_allclose(got_loss, want.item(), rtol=1e-5)
    np.testing.assert_allclose(got_grad, w1.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_known_shapes_need_no_inference_and_normal_draws():
    x = tf.placeholder(tf.float32, [None, 8])
    y = tf.nn.linear(x, num_hidden=2, name="fc")
    assert {v._name: tuple(v.shape) for v in tf.global_variables()} == {
        "fc_weight": (2, 8), "fc_bias": (2,)}
    assert y.get_shape().as_list() == [None, 2]
    draws = tf.normal([2000], 0.5)
    with tf.Session() as sess:
        assert abs(sess.run(draws).std() - 0.5) < 0.05
    tf.global_variables_initializer()       # deferred variables have no initializer to group


def test_flatten_layer_and_missing_shapes():
    x = tf.placeholder(tf.float32, [None, 2, 3, 4])
    assert tf.nn.flatten_layer(x).get_shape().as_list() == [None, 24]
    with pytest.raises(ValueError, match="rank must be known"):
        tf.nn.flatten_layer(tf.placeholder(tf.float32))
    z = tf.placeholder(tf.float32)
    out = tf.nn.linear(z, num_hidden=2, name="fc")
    with pytest.raises(ValueError, match="give its shape in feed_dict"):
        list(tf.infer_variable_shapes(out, feed_dict={}))


@pytest.mark.parametrize("padding", [None, "SAME"])
def test_conv2d_with_num_filter_matches_torch(padding):
    """tqchen/tinyflow's conv2d(x, num_filter=, ksize=[1, kH, kW, 1]): NCHW, stride 1 unless
    given, VALID unless padding='SAME' ((k - 1) // 2 per side, its Torch backend's rule),
    weight [num_filter, C, kH, kW] plus a bias per filter."""
    x = tf.placeholder(tf.float32)
    y = tf.nn.conv2d(x, num_filter=4, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1],
                     padding=padding, name="conv1")
    found = dict((name, shape) for _, name, shape in
                 tf.infer_variable_shapes(y, feed_dict={x: [2, 3, 9, 9]}))
    assert found == {"conv1_weight": [4, 3, 3, 3], "conv1_bias": [4]}
    variables = {v._name: v for v in tf.global_variables()}
    rng = np.random.default_rng(1)
    values = {n: rng.standard_normal(s).astype(np.float32) for n, s in found.items()}
    data = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    with tf.Session() as sess:
        sess.run([tf.assign(variables[n], v) for n, v in values.items()])
        got = sess.run(y, {x: data})
    want = real_torch.nn.functional.conv2d(
        real_torch.tensor(data), real_torch.tensor(values["conv1_weight"]),
        real_torch.tensor(values["conv1_bias"]), stride=2, padding=1 if padding else 0)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-4)
