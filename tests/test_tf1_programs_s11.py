"""What other people's TF1 programs needed, round 11: batch normalization with its update
ops (tf.layers.batch_normalization, tf.contrib.layers.batch_norm), tf.nn.moments and the
activations of Géron's "Hands-On Machine Learning" (first edition) chapters 9-11, with the
graph plumbing those notebooks use. PyTorch is the oracle where the maths is the same.
"""
import numpy as np
import pytest
import torch

import tinyflow as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


def _run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


# ---- tf.nn.moments, activations ---------------------------------------------------------------

def test_moments_are_the_biased_mean_and_variance_with_exact_gradients():
    xv = np.random.RandomState(0).randn(4, 3, 2)
    x = tf.placeholder(tf.float64, [None, 3, 2])
    mean, var = tf.nn.moments(x, axes=[0, 2])
    kept = tf.nn.moments(x, [1], keep_dims=True)
    grad = tf.gradients(tf.reduce_sum(var * [1.0, 2.0, 3.0]) + tf.reduce_sum(mean), x)[0]
    m, v, (km, kv), g = _run([mean, var, kept, grad], {x: xv})
    xt = torch.tensor(xv, requires_grad=True)
    tv = xt.var(dim=(0, 2), unbiased=False)
    ((tv * torch.tensor([1.0, 2.0, 3.0])).sum() + xt.mean(dim=(0, 2)).sum()).backward()
    np.testing.assert_allclose(m, xv.mean((0, 2)), atol=1e-12)
    np.testing.assert_allclose(v, tv.detach().numpy(), atol=1e-12)
    assert km.shape == kv.shape == (4, 1, 2)
    np.testing.assert_allclose(kv, xv.var(1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(g, xt.grad.numpy(), atol=1e-12)


def test_activations_match_torch_values_and_gradients():
    xv = np.array([-30.0, -2.0, -0.5, 0.0, 0.5, 3.0, 7.0, 30.0])
    x = tf.placeholder(tf.float64, [8])
    cases = [(tf.nn.leaky_relu(x), lambda t: torch.nn.functional.leaky_relu(t, 0.2)),
             (tf.nn.leaky_relu(x, alpha=0.01), torch.nn.functional.leaky_relu),
             (tf.nn.elu(x), torch.nn.functional.elu),
             (tf.nn.selu(x), torch.nn.functional.selu),
             (tf.nn.relu6(x), torch.nn.functional.relu6),
             (tf.nn.softplus(x), torch.nn.functional.softplus),
             (tf.nn.softsign(x), torch.nn.functional.softsign)]
    outs = _run([(y, tf.gradients(tf.reduce_sum(y * y), x)[0]) for y, _ in cases], {x: xv})
    for (value, grad), (_, reference) in zip(outs, cases):
        xt = torch.tensor(xv, requires_grad=True)
        yt = reference(xt)
        (yt * yt).sum().backward()
        np.testing.assert_allclose(value, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    # TF's leaky_relu takes alpha's slope at 0 (its gradient kernel tests x > 0)
    zero = tf.placeholder(tf.float64, [])
    assert _run(tf.gradients(tf.nn.leaky_relu(zero, 0.3), zero)[0], {zero: 0.0}) == 0.3
    assert _run(tf.nn.l2_loss(x), {x: xv}) == pytest.approx((xv ** 2).sum() / 2)


# ---- batch normalization and its update ops ----------------------------------------------------

def _torch_bn(xv, momentum, eps, channels_axis):
    """torch's BatchNorm (running variance unbiased) over a channels-first copy."""
    moved = np.moveaxis(xv, channels_axis, 1)
    bn = (torch.nn.BatchNorm2d if xv.ndim == 4 else torch.nn.BatchNorm1d)(
        moved.shape[1], eps=eps, momentum=1 - momentum).double()
    xt = torch.tensor(moved, requires_grad=True)
    return bn, xt


def test_layers_batch_normalization_trains_and_infers_as_torch():
    xv = np.random.RandomState(1).randn(6, 4, 3, 5)
    x = tf.placeholder(tf.float64, [None, 4, 3, 5])
    training = tf.placeholder_with_default(False, shape=(), name="training")
    y = tf.layers.batch_normalization(x, momentum=0.9, training=training)
    weights = np.arange(5.0)
    loss = tf.reduce_sum(y * y * weights)
    grads = tf.gradients(loss, [x] + tf.trainable_variables())
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert [v.name for v in tf.global_variables()] == [
        "batch_normalization/gamma:0", "batch_normalization/beta:0",
        "batch_normalization/moving_mean:0", "batch_normalization/moving_variance:0"]
    assert [v.name for v in tf.trainable_variables()] == [
        "batch_normalization/gamma:0", "batch_normalization/beta:0"]
    assert len(update_ops) == 2
    moving = tf.global_variables()[2:]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        frozen = sess.run(y, {x: xv})                      # not fed: inference, no update
        sess.run(update_ops, {x: xv})                      # training False: nothing moves
        np.testing.assert_array_equal(sess.run(moving[0]), np.zeros(5))
        out, g, _ = sess.run([y, grads, update_ops], {x: xv, training: True})
        stats = sess.run(moving)
        later = sess.run(y, {x: xv})
    np.testing.assert_allclose(frozen, xv / np.sqrt(1 + 1e-3), rtol=1e-12)
    bn, xt = _torch_bn(xv, 0.9, 1e-3, 3)
    yt = bn(xt)
    (yt * yt * torch.tensor(weights).view(1, 5, 1, 1)).sum().backward()
    np.testing.assert_allclose(out, np.moveaxis(yt.detach().numpy(), 1, 3), atol=1e-12)
    np.testing.assert_allclose(g[0], np.moveaxis(xt.grad.numpy(), 1, 3), atol=1e-11)
    np.testing.assert_allclose(g[1], bn.weight.grad.numpy(), atol=1e-11)
    np.testing.assert_allclose(g[2], bn.bias.grad.numpy(), atol=1e-11)
    np.testing.assert_allclose(stats[0], bn.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(stats[1], bn.running_var.numpy(), atol=1e-12)   # fused: unbiased
    bn.eval()
    np.testing.assert_allclose(later, np.moveaxis(bn(xt).detach().numpy(), 1, 3), atol=1e-12)


def test_layers_batch_normalization_of_dense_outputs_averages_the_biased_variance():
    """TF1 normalizes a 2-D input without the fused kernel: tf.nn.moments' biased variance
    goes into the moving average; the layers are named batch_normalization, _1."""
    xv = np.random.RandomState(2).randn(8, 3)
    x = tf.placeholder(tf.float64, [None, 3])
    y = tf.layers.batch_normalization(x, training=True, momentum=0.5, epsilon=0.01)
    tf.layers.batch_normalization(x, training=False)
    assert sum("batch_normalization_1/" in v.name for v in tf.global_variables()) == 4
    assert len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) == 2     # the second adds none
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out, _ = sess.run([y, tf.get_collection(tf.GraphKeys.UPDATE_OPS)], {x: xv})
        mean, var = sess.run(tf.global_variables()[2:4])
    np.testing.assert_allclose(out, (xv - xv.mean(0)) / np.sqrt(xv.var(0) + 0.01), atol=1e-12)
    np.testing.assert_allclose(mean, 0.5 * xv.mean(0), atol=1e-12)
    np.testing.assert_allclose(var, 0.5 + 0.5 * xv.var(0), atol=1e-12)


def test_update_ops_run_through_control_dependencies_of_the_train_op():
    xv = np.random.RandomState(3).randn(16, 2) * 3 + 5
    x = tf.placeholder(tf.float32, [None, 2])
    training = tf.placeholder_with_default(False, shape=())
    hidden = tf.layers.batch_normalization(tf.layers.dense(x, 4), training=training)
    loss = tf.reduce_mean(tf.square(tf.layers.dense(hidden, 1)))
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    moving_mean = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train_op, {x: xv, training: True})
        after_one = sess.run(moving_mean)
        sess.run(train_op, {x: xv, training: True})
        after_two = sess.run(moving_mean)
    assert np.abs(after_one).max() > 0 and not np.allclose(after_one, after_two)


def test_contrib_batch_norm_defaults_and_inline_updates():
    """contrib's defaults: training, no gamma, decay 0.999, scope BatchNorm, the unbiased
    batch variance averaged (its fused kernel); updates_collections=None runs the updates
    with the output."""
    xv = np.random.RandomState(4).randn(5, 3)
    x = tf.placeholder(tf.float64, [None, 3])
    y = tf.contrib.layers.batch_norm(x, updates_collections=None, activation_fn=tf.nn.relu)
    assert [v.name for v in tf.global_variables()] == [
        "BatchNorm/beta:0", "BatchNorm/moving_mean:0", "BatchNorm/moving_variance:0"]
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(y, {x: xv})
        mean, var = sess.run(tf.global_variables()[1:])
    np.testing.assert_allclose(out, np.maximum((xv - xv.mean(0)) / np.sqrt(xv.var(0) + 1e-3),
                                               0), atol=1e-12)
    np.testing.assert_allclose(mean, 0.001 * xv.mean(0), atol=1e-12)
    np.testing.assert_allclose(var, 0.999 + 0.001 * xv.var(0, ddof=1), atol=1e-12)
    z = tf.contrib.layers.batch_norm(tf.placeholder(tf.float32, [None, 2, 2, 3]),
                                     scale=True, is_training=False, scope="bn2")
    assert z.shape.as_list() == [None, 2, 2, 3]
    assert "bn2/gamma:0" in [v.name for v in tf.global_variables()]


def test_batch_norm_refuses_what_it_lacks_by_name():
    x = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(NotImplementedError, match="renorm is not supported"):
        tf.layers.batch_normalization(x, renorm=True)
    with pytest.raises(NotImplementedError, match="batch_weights is not supported"):
        tf.contrib.layers.batch_norm(x, batch_weights=tf.ones([3]))
    with pytest.raises(ValueError, match="axis 2 of the inputs"):
        tf.layers.batch_normalization(x, axis=2)
    with pytest.raises(TypeError, match="training is .*; pass True, False or a bool"):
        tf.layers.batch_normalization(x, training="yes")


def test_placeholder_with_default_is_its_value_unless_fed():
    flag = tf.placeholder_with_default(False, shape=(), name="training")
    rows = tf.placeholder_with_default(np.ones((2, 3), np.float32), shape=[None, 3])
    doubled = tf.where(flag, 2.0 * tf.reduce_sum(rows), tf.reduce_sum(rows))
    assert flag.name == "training:0" and rows.shape.as_list() == [None, 3]
    with tf.Session() as sess:
        assert sess.run(doubled) == 6.0
        assert sess.run(doubled, {flag: True}) == 12.0
        assert sess.run(doubled, {"training:0": True, rows: np.ones((4, 3))}) == 24.0
    with pytest.raises(ValueError, match="does not match shape"):
        tf.placeholder_with_default([1.0, 2.0], shape=[3])


# ---- variable scopes reopened by object -------------------------------------------------------

def test_variable_scope_reopened_by_object_keeps_its_name_and_shares():
    with tf.variable_scope("outer"):
        with tf.variable_scope("layer") as captured:
            weights = tf.get_variable("w", [2])
    assert captured.name == "outer/layer" and captured.original_name_scope == "outer/layer/"
    with tf.variable_scope("elsewhere"):
        with tf.variable_scope(captured, reuse=True) as again:
            assert again.name == "outer/layer"              # the captured name, not nested
            assert tf.get_variable("w", [2]) is weights
            assert tf.add(weights, 1.0).name.startswith("elsewhere/layer/")
    with tf.variable_scope(captured):
        with pytest.raises(ValueError, match="outer/layer/w exists already"):
            tf.get_variable("w", [2])
        assert tf.get_variable("v", [1]).name == "outer/layer/v:0"
    with tf.variable_scope("", reuse=True):                   # the root scope (Géron, ch. 11)
        assert tf.get_variable("outer/layer/w") is weights


# ---- Géron ch. 11: initializers, regularizers, clipping, schedules, reuse -----------------------

def test_variance_scaling_initializers_draw_with_he_stddev():
    tf.manual_seed(0)
    he = tf.get_variable("he", [400, 300], initializer=tf.variance_scaling_initializer())
    avg = tf.get_variable("avg", [3, 3, 40, 60], initializer=tf.variance_scaling_initializer(
        scale=2.0, mode="fan_avg", distribution="uniform"))
    contrib = tf.get_variable("contrib", [400, 300],
                              initializer=tf.contrib.layers.variance_scaling_initializer())
    h, a, c = _run([he, avg, contrib])
    assert h.std() == pytest.approx(np.sqrt(1 / 400), rel=0.02) and np.abs(h).max() <= 2.28 / 20
    limit = np.sqrt(3 * 2.0 / (9 * 50))
    assert np.abs(a).max() <= limit and np.abs(a).max() > 0.95 * limit
    assert c.std() == pytest.approx(np.sqrt(1.3 * 2 / 400) * 0.8796, rel=0.02)
    with pytest.raises(ValueError, match="mode fan_in/fan_out/fan_avg"):
        tf.variance_scaling_initializer(mode="fan_sum")


def test_layer_regularizers_fill_the_collection_that_add_n_sums():
    x = tf.placeholder(tf.float64, [None, 2])
    init = tf.constant_initializer([[1.0, -2.0], [3.0, -4.0]])
    tf.layers.dense(x, 2, kernel_initializer=init, name="h1",
                    kernel_regularizer=tf.contrib.layers.l1_regularizer(0.1))
    tf.layers.dense(x, 2, kernel_initializer=init, name="h2",
                    kernel_regularizer=tf.contrib.layers.l2_regularizer(0.5))
    tf.layers.dense(x, 2, name="h3", kernel_regularizer=lambda w: None)    # max-norm style
    tf.layers.dense(x, 2, name="h4", kernel_regularizer=tf.contrib.layers.l1_regularizer(0.0))
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 2
    total = tf.add_n([tf.constant(1.0, tf.float64)] + losses, name="loss")
    assert total.name == "loss:0"
    values = _run([total, tf.losses.get_regularization_loss()])
    np.testing.assert_allclose(values, [1.0 + 1.0 + 7.5, 1.0 + 7.5])
    with tf.variable_scope("h1", reuse=True):
        tf.get_variable("kernel", regularizer=tf.contrib.layers.l1_regularizer(1.0))
    assert len(tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)) == 2   # reuse adds none
    with pytest.raises(ValueError, match="add_n: the inputs must have one shape"):
        tf.add_n([tf.ones([2]), tf.ones([3])])


def test_clip_by_norm_and_global_norm():
    rng = np.random.RandomState(5)
    w, v = rng.randn(4, 3), rng.randn(5)
    clipped_rows = tf.clip_by_norm(tf.constant(w), clip_norm=1.0, axes=1)
    clipped_all = tf.clip_by_norm(tf.constant(w), 0.5)
    (cw, cv), norm = tf.clip_by_global_norm([tf.constant(w), tf.constant(v)], 2.0)
    kept, _ = tf.clip_by_global_norm([tf.constant(v), None], 100.0)
    assert kept[1] is None
    rows, whole, cw, cv, norm, k = _run([clipped_rows, clipped_all, cw, cv, norm, kept[0]])
    lengths = np.linalg.norm(w, axis=1, keepdims=True)
    np.testing.assert_allclose(rows, w / np.maximum(lengths, 1.0))
    np.testing.assert_allclose(whole, w * 0.5 / np.linalg.norm(w))
    total = np.sqrt((w ** 2).sum() + (v ** 2).sum())
    assert total > 2.0 and norm == pytest.approx(total)
    np.testing.assert_allclose(cw, w * 2.0 / total)
    np.testing.assert_allclose(cv, v * 2.0 / total)
    np.testing.assert_allclose(k, v)


def test_exponential_decay_follows_the_global_step():
    step = tf.Variable(0, trainable=False)
    smooth = tf.train.exponential_decay(0.1, step, 10, 0.5)
    stairs = tf.train.exponential_decay(0.1, step, 10, 0.5, staircase=True)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.assign(step, 15))
        values = sess.run([smooth, stairs])
    np.testing.assert_allclose(values, [0.1 * 0.5 ** 1.5, 0.05], rtol=1e-6)


def test_gradients_clipped_by_value_train_as_tf1():
    x = tf.Variable([3.0, -0.5])
    loss = tf.reduce_sum(tf.square(x))
    optimizer = tf.train.GradientDescentOptimizer(0.1)
    grads = optimizer.compute_gradients(loss)
    capped = [(tf.clip_by_value(g, -1.0, 1.0), v) for g, v in grads]
    train_op = optimizer.apply_gradients(capped)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train_op)
        np.testing.assert_allclose(sess.run(x), [2.9, -0.4], rtol=1e-6)


def test_graph_lookups_and_feeding_an_initial_value():
    x = tf.placeholder(tf.float32, shape=(None, 2), name="X")
    y = tf.placeholder(tf.int32, shape=(None), name="y")          # unknown rank, as Géron
    hidden = tf.layers.dense(x, 3, activation=tf.nn.relu, name="hidden1")
    correct = tf.nn.in_top_k(tf.layers.dense(hidden, 4), y, 1)
    graph = tf.get_default_graph()
    assign_kernel = graph.get_operation_by_name("hidden1/kernel/Assign")
    assert graph.get_tensor_by_name("X:0") is x
    with pytest.raises(ValueError, match="names a tensor"):
        graph.get_operation_by_name("X:0")
    for op in (x, correct):
        tf.add_to_collection("important", op)
    assert tf.get_collection("important") == [x, correct]
    original = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer(), {assign_kernel.inputs[1]: original})
        out = sess.run(hidden, {x: [[10.0, 11.0]]})
        assert sess.run(correct, {x: [[1.0, 1.0]], y: [0]}).shape == (1,)
    np.testing.assert_allclose(out, [[54.0, 75.0, 96.0]])
    with pytest.raises(NotImplementedError, match="import_meta_graph.*not supported"):
        tf.train.import_meta_graph("model.ckpt.meta")


def test_keras_datasets_load_mnist_as_uint8_and_refuse_the_rest(monkeypatch):
    from tinyflow.datasets import mnist
    images, labels = np.arange(2 * 784, dtype=np.uint8), np.array([3, 7], np.uint8)
    monkeypatch.setattr(mnist, "_raw", lambda name, folder: [images, labels, images, labels])
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.fashion_mnist.load_data()
    assert x_train.shape == (2, 28, 28) and x_train.dtype == np.uint8
    assert y_test.tolist() == [3, 7]
    x_train[0, 0, 0] = 99                            # a copy: the cached arrays stay
    assert images[0] == 0
    with pytest.raises(AttributeError, match="tf.keras.layers is not supported"):
        tf.keras.layers.Dense


def test_log_loss_as_tf1():
    labels = np.array([[0.0], [1.0], [1.0]])
    p = np.array([[0.2], [0.9], [0.6]])
    loss = tf.losses.log_loss(labels, tf.constant(p))
    expected = -(labels * np.log(p + 1e-7) + (1 - labels) * np.log(1 - p + 1e-7)).mean()
    assert _run(loss) == pytest.approx(expected)


def test_numpy_text_arrays_are_string_constants_and_missing_namespaces_are_named():
    text = tf.constant(np.array("Do you want some café?".split()))
    assert text.dtype is tf.string
    assert _run(text).tolist() == [b"Do", b"you", b"want", b"some", "café?".encode()]
    with pytest.raises(AttributeError, match="tf.estimator.DNNClassifier is not supported"):
        tf.estimator.DNNClassifier
    with pytest.raises(AttributeError, match="tf.feature_column.numeric_column is not"):
        tf.feature_column.numeric_column("X")


def test_a_fed_initial_value_overrides_a_constant_initializer():
    bias = tf.Variable(tf.zeros([3]), name="bias")
    assert bias.initializer.inputs[1].name == "bias/initial_value:0"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer(), {bias.initializer.inputs[1]: [7.0, 8, 9]})
        np.testing.assert_array_equal(sess.run(bias), [7.0, 8, 9])
        sess.run(bias.initializer)
        np.testing.assert_array_equal(sess.run(bias), [0.0, 0, 0])


def test_queue_pipelines_and_meta_graphs_are_refused_by_name():
    with pytest.raises(AttributeError, match="tf.train.Supervisor is not supported.*queue"):
        tf.train.Supervisor
    with pytest.raises(AttributeError, match="range_input_producer is not supported"):
        tf.train.range_input_producer(10)
    with pytest.raises(NotImplementedError, match="export_meta_graph is not supported"):
        tf.train.export_meta_graph()


# ---- tensorflow/models tutorials/image/mnist/convolutional.py -----------------------------

def test_lenet_spellings_of_the_convolutional_tutorial_learn_a_toy_task():
    """Its spellings: fixed-batch placeholders, Variables of seeded truncated normals and
    tf.constant(0.1, shape=...), conv2d + bias_add + max_pool SAME, get_shape().as_list()
    for the flatten, l2_loss regularizers, a float Variable as minimize's global_step
    driving a staircase exponential_decay, dropout only in training."""
    rng = np.random.RandomState(0)
    labels = np.arange(8) % 2
    images = (rng.rand(8, 8, 8, 1) * 0.1 + labels[:, None, None, None] - 0.5).astype(np.float32)
    data = tf.placeholder(tf.float32, shape=(8, 8, 8, 1))
    target = tf.placeholder(tf.int64, shape=(8,))
    conv_w = tf.Variable(tf.truncated_normal([3, 3, 1, 4], stddev=0.1, seed=66478))
    conv_b = tf.Variable(tf.zeros([4]))
    fc_w = tf.Variable(tf.truncated_normal([4 * 4 * 4, 2], stddev=0.1, seed=66478))
    fc_b = tf.Variable(tf.constant(0.1, shape=[2]))

    def model(x, train=False):
        relu = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, conv_w, [1, 1, 1, 1], "SAME"), conv_b))
        pool = tf.nn.max_pool(relu, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
        shape = pool.get_shape().as_list()
        hidden = tf.reshape(pool, [shape[0], shape[1] * shape[2] * shape[3]])
        if train:
            hidden = tf.nn.dropout(hidden, 0.9, seed=66478)
        return tf.matmul(hidden, fc_w) + fc_b

    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=target, logits=model(data, True)))
    loss += 5e-4 * (tf.nn.l2_loss(fc_w) + tf.nn.l2_loss(fc_b))
    batch = tf.Variable(0, dtype=tf.float32)
    rate = tf.train.exponential_decay(0.5, batch * 8, 16, 0.5, staircase=True)
    train_op = tf.train.MomentumOptimizer(rate, 0.9).minimize(loss, global_step=batch)
    prediction = tf.nn.softmax(model(data))
    with tf.Session() as sess:
        tf.global_variables_initializer().run()
        rates = [sess.run([train_op, rate], {data: images, target: labels})[1]
                 for _ in range(6)]
        guess = sess.run(prediction, {data: images}).argmax(1)
        assert sess.run(batch) == 6.0
    np.testing.assert_allclose(rates, [0.5, 0.5, 0.25, 0.25, 0.125, 0.125])
    assert (guess == labels).all()


# ---- Géron ch. 15: autoencoders with tied weights, a variational coding layer ----------------

def test_tied_weight_and_variational_autoencoder_spellings_train():
    """An initializer called directly for a Variable's value, decoder weights as the
    encoder's transpose, a regularizer applied by hand, and the variational coding
    mean + sigma * tf.random_normal(tf.shape(sigma)) with its latent loss."""
    rng = np.random.RandomState(6)
    data = rng.rand(32, 6).astype(np.float32)
    x = tf.placeholder(tf.float32, shape=[None, 6])
    he_init = tf.variance_scaling_initializer()
    regularizer = tf.contrib.layers.l2_regularizer(1e-4)
    weights1 = tf.Variable(he_init([6, 3]), dtype=tf.float32, name="weights1")
    weights2 = tf.transpose(weights1, name="weights2")            # tied
    hidden = tf.nn.elu(tf.matmul(x, weights1) + tf.Variable(tf.zeros(3)))
    mean = tf.layers.dense(hidden, 2)
    gamma = tf.layers.dense(hidden, 2)
    noise = tf.random_normal(tf.shape(gamma), dtype=tf.float32)
    coding = mean + tf.exp(0.5 * gamma) * noise
    back = tf.layers.dense(coding, 3, activation=tf.nn.elu)
    logits = tf.matmul(back, weights2) + tf.Variable(tf.zeros(6))
    reconstruction = tf.reduce_sum(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits))
    latent = 0.5 * tf.reduce_sum(tf.exp(gamma) + tf.square(mean) - 1 - gamma)
    loss = reconstruction + latent + regularizer(weights1)
    train_op = tf.train.AdamOptimizer(0.01).minimize(loss)
    trained = tf.trainable_variables()
    assert any(v is weights1 for v in trained) and not any(v is weights2 for v in trained)
    with tf.Session() as sess:
        tf.global_variables_initializer().run()
        first = loss.eval({x: data})
        for _ in range(25):
            sess.run(train_op, {x: data})
        assert loss.eval({x: data}) < 0.95 * first
        np.testing.assert_allclose(sess.run(weights2), sess.run(weights1).T)


# ---- the TF1 guide "Introduction to low-level APIs" -----------------------------------------

def test_layers_dense_object_builds_once_and_shares_its_variables():
    x = tf.placeholder(tf.float32, shape=[None, 3])
    layer = tf.layers.Dense(units=1, kernel_initializer=tf.ones_initializer())
    assert not layer.built
    y = layer(x)
    twice = layer(x * 2.0)
    named = tf.layers.Dense(2, name="head")(x)
    assert layer.built and layer.kernel.name == "dense/kernel:0"
    assert [v.name for v in tf.trainable_variables()] == [
        "dense/kernel:0", "dense/bias:0", "head/kernel:0", "head/bias:0"]
    assert named.shape.as_list() == [None, 2]
    one, two = _run([y, twice], {x: [[1, 2, 3], [4, 5, 6]]})
    np.testing.assert_allclose(one, [[6.0], [15.0]])
    np.testing.assert_allclose(two, 2 * one)
    with pytest.raises(TypeError, match="random_normal:0 is a graph tensor"):
        tf.data.Dataset.from_tensor_slices(tf.random_normal([10, 3]))


# ---- TensorFlow-Examples' DCGAN: batch norm with a bare bool placeholder, scoped updates ------

def test_scoped_update_ops_of_a_shared_discriminator_with_a_rankless_training_flag():
    is_training = tf.placeholder(tf.bool)                      # no shape: rank unknown

    def discriminator(x, reuse=False):
        with tf.variable_scope("Discriminator", reuse=reuse):
            x = tf.layers.batch_normalization(tf.layers.dense(x, 3), training=is_training)
            return tf.layers.dense(tf.layers.dropout(x, 0.5, training=is_training), 1)

    real = tf.placeholder(tf.float32, [None, 2])
    with tf.variable_scope("Generator"):
        fake = tf.layers.batch_normalization(tf.layers.dense(real, 2), training=is_training)
    out_real, out_fake = discriminator(real), discriminator(fake, reuse=True)
    assert out_real.shape.as_list() == [None, 1]
    disc_updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope="Discriminator")
    assert len(disc_updates) == 4 and len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) == 6
    disc_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="Discriminator")
    with tf.control_dependencies(disc_updates):
        train = tf.train.AdamOptimizer(0.01).minimize(tf.reduce_mean(out_real - out_fake),
                                                      var_list=disc_vars)
    batch = np.random.RandomState(7).randn(8, 2).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {real: batch, is_training: True})
        moving = sess.run("Discriminator/batch_normalization/moving_mean:0")
        generator_moving = sess.run("Generator/batch_normalization/moving_mean:0")
        assert np.abs(moving).max() > 0 and not generator_moving.any()
        sess.run(out_real, {real: batch, is_training: False})


def test_a_session_block_makes_its_graph_the_default():
    """Géron ch. 15 reads `tf.get_collection` inside `with tf.Session(graph=graph)`."""
    graph = tf.Graph()
    with graph.as_default():
        weights = tf.Variable([1.0, 2.0], name="w")
    with tf.Session(graph=graph) as sess:
        sess.run(weights.initializer)
        assert tf.get_default_graph() is graph
        values = {v.name: v.eval() for v in tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES)}
    assert tf.get_default_graph() is not graph
    np.testing.assert_array_equal(values["w:0"], [1.0, 2.0])
