"""The graph rewrites preserve every model the project ships: the seed program, the examples
(examples/*.py), the benchmark models (bench/workloads.py) and the tests' own models give the
same values, gradients and training trajectories in the optimized session (`tf.Session()`)
as in the reference (`tf.Session(optimize=False)`).

TF1 programs train a few steps in each session (each has its own variables) on the same
batches; PyTorch-style modules are applied to placeholders, and each step the parameters
(eager tensors both sessions read) take an SGD step with the reference's gradients.
"""
import math
import pathlib
import sys

import numpy as np
import pytest

import tinyflow as tf
import tinyflow.nn as nn
import tinyflow.nn.functional as F

from equivalence import assert_all_same, assert_runs_agree, run_pair, session_pair

ROOT = pathlib.Path(__file__).resolve().parent.parent
for folder in ("examples", "bench"):
    if str(ROOT / folder) not in sys.path:
        sys.path.insert(0, str(ROOT / folder))

import char_gpt  # noqa: E402
import mnist_cnn  # noqa: E402
import mnist_cnn_tf1  # noqa: E402
import mnist_lstm  # noqa: E402
import mnist_mlp  # noqa: E402
import workloads  # noqa: E402

RNG = np.random.default_rng(0)


def mnist_like(n: int, onehot: bool = True):
    """A batch shaped like MNIST's: sparse pixels in [0, 1], labels."""
    images = (RNG.random((n, 784)) < 0.2).astype(np.float32) * RNG.random((n, 784),
                                                                           np.float32)
    labels = RNG.integers(0, 10, n)
    return images, (np.eye(10, dtype=np.float32)[labels] if onehot else labels)


def train_in_both(graph, train_op, loss, feeds: list, extra=()) -> None:
    """Run `train_op` with each feed in both sessions: the loss (and `extra` fetches) of each
    step and every variable after it must agree."""
    sessions = session_pair(graph)
    with graph.as_default():
        variables = tf.global_variables()
    for step, feed in enumerate(feeds):
        assert_runs_agree(sessions, [train_op, loss] + list(extra), feed, f"step {step}",
                          variables)


# ---- TF1 programs ------------------------------------------------------------------------

def test_seed_program():
    """/work/shared/acceptance/seed_mnist_softmax.py (and examples/mnist_softmax.py), its
    graph built here line by line, trained 5 steps; then its softmax and accuracy."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 784])
        W = tf.Variable(tf.zeros([784, 10]))
        y = tf.nn.softmax(tf.matmul(x, W))
        y_ = tf.placeholder(tf.float32, [None, 10])
        cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
        learning_rate = 0.5
        W_grad = tf.gradients(cross_entropy, [W])[0]
        train_step = tf.assign(W, W - learning_rate * W_grad)
        correct = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
        accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    batches = [dict(zip((x, y_), mnist_like(100))) for _ in range(5)]
    sessions = session_pair(graph)
    for step, feed in enumerate(batches):
        assert_runs_agree(sessions, [train_step, cross_entropy], feed, f"step {step}", [W])
    test = dict(zip((x, y_), mnist_like(300)))
    assert_runs_agree(sessions, [y, accuracy, W_grad], test, "evaluation")


def _tf1_cnn_training(logits_of, pixels: int, batches=(4, 3)) -> None:
    """Train a TF1 CNN as examples/mnist_cnn_tf1.py's main() does: sparse softmax
    cross-entropy, Adam with a cosine learning rate over a global step."""
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(0)
        x = tf.placeholder(tf.float32, [None, pixels])
        y_ = tf.placeholder(tf.int64, [None])
        logits = logits_of(x)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_,
                                                                             logits=logits))
        global_step = tf.Variable(0.0, trainable=False, name="global_step")
        learning_rate = 0.5 * 1e-3 * (1 + tf.cos(math.pi * global_step / 10))
        train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss,
                                                                  global_step=global_step)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), y_), tf.int32))
    feeds = []
    for n in batches:
        images, labels = mnist_like(n, onehot=False)
        feeds.append({x: images[:, :pixels], y_: labels})
    train_in_both(graph, train_op, loss, feeds, extra=[correct, logits])


def test_cnn_tf1_example_layers():
    """examples/mnist_cnn_tf1.py's layers (conv_relu_pool, weight and bias variables) on
    8x8 images: the example's graph, small enough for the fast suite."""
    def logits_of(x):
        h = mnist_cnn_tf1.conv_relu_pool(tf.reshape(x, [-1, 8, 8, 1]), [3, 3, 1, 4], "c1")
        h = mnist_cnn_tf1.conv_relu_pool(h, [3, 3, 4, 8], "c2")          # [N, 2, 2, 8]
        w = mnist_cnn_tf1.weight_variable([2 * 2 * 8, 10], "fc/weights")
        return tf.matmul(tf.reshape(h, [-1, 2 * 2 * 8]), w) + \
            mnist_cnn_tf1.bias_variable(10, "fc/biases")
    _tf1_cnn_training(logits_of, 64)


@pytest.mark.slow
def test_mnist_cnn_tf1_example():
    """examples/mnist_cnn_tf1.py's LeNet at full size (about 16 s)."""
    _tf1_cnn_training(lambda x: mnist_cnn_tf1.lenet(x, hidden=16), 784)


@pytest.mark.parametrize("workload", ["W2", "W6"])
def test_bench_mlp_session(workload):
    """bench/workloads.py's mlp_session (narrower): matmul + bias + relu, sparse softmax
    cross-entropy and GradientDescentOptimizer (W2), or inference only (W6)."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 784])
        y = tf.placeholder(tf.int64, [None])
        h = x
        sizes = (784, 32, 16, 10)
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            W = tf.Variable(tf.random_uniform([a, b], -a ** -0.5, a ** -0.5))
            h = tf.matmul(h, W) + tf.Variable(tf.zeros([b]))
            if i < len(sizes) - 2:
                h = tf.nn.relu(h)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                             logits=h))
        train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    feeds = [dict(zip((x, y), mnist_like(n, onehot=False))) for n in (8, 1, 8)]
    if workload == "W2":
        train_in_both(graph, train, loss, feeds, extra=[h])
    else:
        sessions = session_pair(graph)
        for k, feed in enumerate(feeds):
            assert_runs_agree(sessions, [h], {x: feed[x]}, f"inference {k}")


def test_conv_batch_norm_tf1_inference():
    """TF1 conv2d + bias, then tf.nn.batch_normalization with fixed statistics, relu, pool:
    the inference graph the batch-norm folding rewrites."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 6, 6, 2])
        w = tf.Variable(RNG.standard_normal((3, 3, 2, 4)).astype(np.float32))
        b = tf.Variable(RNG.standard_normal(4).astype(np.float32))
        h = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME") + b
        mean, var = (tf.constant(RNG.uniform(lo, hi, 4).astype(np.float32))
                     for lo, hi in ((-1, 1), (0.5, 2)))
        scale, offset = (tf.Variable(RNG.standard_normal(4).astype(np.float32))
                         for _ in range(2))
        out = tf.nn.max_pool(tf.nn.relu(tf.nn.batch_normalization(h, mean, var, offset, scale,
                                                                  1e-3)),
                             ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
        grads = tf.gradients(tf.reduce_sum(out * out), [x, w, b, scale])
    sessions = session_pair(graph)
    for n in (2, 3):
        feed = {x: RNG.standard_normal((n, 6, 6, 2)).astype(np.float32)}
        assert_runs_agree(sessions, [out] + grads, feed, f"batch {n}")


# ---- PyTorch-style modules on placeholders -----------------------------------------------

def _gpt_config():
    return char_gpt.GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


def _bn_cnn():
    """Conv + BatchNorm2d + ReLU + pool, Linear + BatchNorm1d, evaluated with running
    statistics: what batch-norm folding rewrites."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 6),
                          nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 10))
    for m in model:
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with tf.no_grad():
                m.running_mean.data[...] = RNG.uniform(-1, 1, m.running_mean.shape)
                m.running_var.data[...] = RNG.uniform(0.5, 2, m.running_var.shape)
                m.weight.data[...] = RNG.uniform(0.5, 1.5, m.weight.shape)
                m.bias.data[...] = RNG.uniform(-1, 1, m.bias.shape)
    return model.eval()


def _images(shape):
    return lambda n: RNG.random((n,) + shape, np.float32)


def _classes(k):
    return lambda n: RNG.integers(0, k, n)


def _tokens(k, t):
    return lambda n: RNG.integers(0, k, (n, t))


# name -> (model factory, input static shape, dtype, inputs(n), targets(n), batch sizes)
MODULES = {
    "examples/mnist_mlp MLP": (lambda: mnist_mlp.MLP((32, 16)), [None, 784], tf.float32,
                               _images((784,)), _classes(10), (4, 2)),
    "examples/mnist_cnn LeNet": (lambda: mnist_cnn.LeNet((4, 8), 16), [None, 1, 28, 28],
                                 tf.float32, _images((1, 28, 28)), _classes(10), (2, 3)),
    "examples/mnist_lstm RowLSTM": (lambda: mnist_lstm.RowLSTM(8), [None, 28, 28],
                                    tf.float32, _images((28, 28)), _classes(10), (2, 3)),
    "examples/char_gpt GPT": (lambda: char_gpt.GPT(_gpt_config()), [2, 8], tf.int64,
                              _tokens(11, 8), _tokens(11, 8), (2, 2)),
    "bench mlp (W2)": (lambda: workloads.mlp(tf, (784, 32, 16, 10)), [None, 784], tf.float32,
                       _images((784,)), _classes(10), (4, 1)),
    "bench gpt (W4)": (lambda: workloads.gpt(tf, vocab=13, d=16, heads=2, layers=1, seq=8),
                       [2, 8], tf.int64, _tokens(13, 8), _tokens(13, 8), (2, 2)),
    "bench lstm (W5)": (lambda: workloads.LSTMClassifier.make(tf), [None, 5, 128],
                        tf.float32, _images((5, 128)), _classes(10), (2, 3)),
    "tests/test_nn mlp with LayerNorm": (
        lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.LayerNorm(8), nn.Linear(8, 3)),
        [None, 4], tf.float32, lambda n: RNG.standard_normal((n, 4)).astype(np.float32),
        _classes(3), (6, 2)),
    "conv + batch norm (inference)": (_bn_cnn, [None, 1, 8, 8], tf.float32,
                                      _images((1, 8, 8)), _classes(10), (2, 3)),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_on_placeholders(name):
    make, shape, dtype, inputs, targets, batches = MODULES[name]
    tf.manual_seed(0)
    model = make()
    params = list(model.parameters())
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(dtype, shape)
        y = tf.placeholder(tf.int64, [None] if dtype is tf.float32 else [None, None])
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        grads = tf.gradients(loss, params)
    sessions = session_pair(graph)
    for step, n in enumerate(batches):
        feed = {x: inputs(n), y: targets(n)}
        values = run_pair(sessions, [out, loss] + grads, feed)
        assert_all_same(values["reference"], values["optimized"], f"{name}, step {step}")
        with tf.no_grad():   # an SGD step both sessions see: they read the parameters
            for p, g in zip(params, values["reference"][2:]):
                p.data[...] -= 0.1 * g
