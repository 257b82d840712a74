"""TF1 optimizers and nn functions against NumPy re-implementations, and the specification's
MNIST program run unchanged."""
import pathlib
import runpy

import numpy as np
import pytest

import tinyflow as tf

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared"


def _quadratic_problem():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((8, 3)).astype(np.float32)
    target = rng.standard_normal((8, 1)).astype(np.float32)
    w0 = rng.standard_normal((3, 1)).astype(np.float32)
    return a, target, w0


def _numpy_grad(a, target, w):
    return 2 * a.T @ (a @ w - target) / len(a)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_optimizers_match_numpy_reference(name):
    a, target, w0 = _quadratic_problem()
    w = tf.Variable(w0)
    loss = tf.reduce_mean(tf.square(tf.matmul(tf.constant(a), w) - target))
    opt = {"sgd": tf.train.GradientDescentOptimizer(0.1),
           "momentum": tf.train.MomentumOptimizer(0.1, 0.9),
           "nesterov": tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
           "adam": tf.train.AdamOptimizer(0.05)}[name]
    step = opt.minimize(loss)
    ref, vel, m, v = w0.astype(np.float64), 0.0, 0.0, 0.0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for t in range(1, 6):
            sess.run(step)
            g = _numpy_grad(a, target, ref)
            if name == "sgd":
                ref = ref - 0.1 * g
            elif name in ("momentum", "nesterov"):
                vel = 0.9 * vel + g
                ref = ref - 0.1 * (g + 0.9 * vel if name == "nesterov" else vel)
            else:
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                lr_t = 0.05 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
                ref = ref - lr_t * m / (np.sqrt(v) + 1e-8)
        np.testing.assert_allclose(sess.run(w), ref, rtol=1e-4, atol=1e-5)


def test_minimize_with_var_list_and_global_step():
    a = tf.Variable(1.0)
    b = tf.Variable(1.0)
    step_count = tf.Variable(0, trainable=False)
    loss = a * a + b * b
    train = tf.train.GradientDescentOptimizer(0.25).minimize(loss, global_step=step_count,
                                                             var_list=[a])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        sess.run(train)
        assert sess.run([a, b, step_count]) == [0.25, 1.0, 2]


def test_minimize_without_gradients_is_an_error():
    x = tf.placeholder(tf.float32, [])
    tf.Variable(1.0)
    with pytest.raises(ValueError, match="has a gradient"):
        tf.train.GradientDescentOptimizer(0.1).minimize(x * 2)


def test_nn_functions_match_numpy():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((5, 4)).astype(np.float32) * 30  # large: needs stability
    labels = np.eye(4, dtype=np.float32)[[0, 3, 1, 1, 2]]
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.placeholder(tf.float32, [None, 4])
    ids = tf.placeholder(tf.int64, [None])
    shifted = logits - logits.max(1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    with tf.Session() as sess:
        feed = {x: logits, y: labels, ids: labels.argmax(1)}
        np.testing.assert_allclose(sess.run(tf.nn.softmax(x), feed), np.exp(logp), atol=1e-6)
        np.testing.assert_allclose(sess.run(tf.nn.log_softmax(x), feed), logp, atol=1e-4)
        ce = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=x)
        sce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids, logits=x)
        expect = -(labels * logp).sum(1)
        np.testing.assert_allclose(sess.run(ce, feed), expect, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(sess.run(sce, feed), expect, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(sess.run(tf.nn.relu(x), feed), np.maximum(logits, 0))
        np.testing.assert_allclose(sess.run(tf.nn.sigmoid(x), feed), 1 / (1 + np.exp(-logits)),
                                   rtol=1e-5)
    with pytest.raises(ValueError, match="named arguments"):
        tf.nn.softmax_cross_entropy_with_logits(y, x)


def _accuracy(ns):
    tf_ = ns["tf"]
    correct = tf_.equal(tf_.argmax(ns["y"], 1), tf_.argmax(ns["y_"], 1))
    accuracy = tf_.reduce_mean(tf_.cast(correct, tf_.float32))
    mnist = ns["mnist"]
    return float(ns["sess"].run(accuracy, feed_dict={ns["x"]: mnist.test.images,
                                                     ns["y_"]: mnist.test.labels}))


def test_specification_mnist_program_runs_unchanged(data_dir, monkeypatch):

    monkeypatch.setenv("TINYFLOW_DATA_DIR", data_dir)
    ns = runpy.run_path(str(SHARED / "acceptance" / "seed_mnist_softmax.py"),
                        run_name="__main__")
    assert _accuracy(ns) >= 0.90


@pytest.mark.slow  # three more training runs of the program above
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_specification_mnist_program_for_several_shuffling_seeds(data_dir, monkeypatch, seed):
    """The same program with the batches shuffled by a given seed."""
    import tinyflow.datasets as datasets

    monkeypatch.setenv("TINYFLOW_DATA_DIR", data_dir)
    real = datasets.get_mnist
    monkeypatch.setattr(datasets, "get_mnist", lambda **kw: real(seed=seed, **kw))
    ns = runpy.run_path(str(SHARED / "acceptance" / "seed_mnist_softmax.py"),
                        run_name="__main__")
    assert _accuracy(ns) >= 0.90
