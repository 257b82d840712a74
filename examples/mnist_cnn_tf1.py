"""The LeNet-style CNN of mnist_cnn.py written with the TF1 API: placeholders, NHWC
tf.nn.conv2d with HWIO filters, tf.nn.max_pool, tf.train.AdamOptimizer and a tf.Session.
As there, Adam's learning rate decays along a cosine over the run, batch 64, and the
pixels are normalized (here in the graph).

    python examples/mnist_cnn_tf1.py                  # 2 epochs, then the test accuracy
    python examples/mnist_cnn_tf1.py --plot tf1.png --save tf1.safetensors
    python examples/mnist_cnn_tf1.py --load tf1.safetensors
"""
from __future__ import annotations

import math
import time
from typing import Optional

import numpy as np

import tinyflow as tf
from tinyflow.datasets import get_mnist

from common import (MNIST_MEAN, MNIST_STD, example_parser, load_variables, report, run_steps,
                    save_variables, step_budget)


def weight_variable(shape: list[int], name: str) -> tf.Variable:
    """He-scaled truncated normal: the fan-in is every dim but the last (HWIO or [in, out])."""
    stddev = np.sqrt(2.0 / np.prod(shape[:-1]))
    return tf.Variable(tf.truncated_normal(shape, stddev=stddev), name=name)


def bias_variable(size: int, name: str) -> tf.Variable:
    return tf.Variable(tf.zeros([size]), name=name)


def conv_relu_pool(x: tf.Tensor, shape: list[int], name: str) -> tf.Tensor:
    """5x5 SAME convolution + bias, ReLU, then 2x2 max-pooling (halves height and width)."""
    w = weight_variable(shape, f"{name}/weights")
    b = bias_variable(shape[-1], f"{name}/biases")
    h = tf.nn.relu(tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME") + b)
    return tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")


def lenet(x: tf.Tensor, hidden: int = 128) -> tf.Tensor:
    """Logits [N, 10] for flat images x [N, 784]."""
    images = (tf.reshape(x, [-1, 28, 28, 1]) - MNIST_MEAN) / MNIST_STD
    h1 = conv_relu_pool(images, [5, 5, 1, 32], "conv1")     # [N, 14, 14, 32]
    h2 = conv_relu_pool(h1, [5, 5, 32, 64], "conv2")        # [N, 7, 7, 64]
    flat = tf.reshape(h2, [-1, 7 * 7 * 64])
    fc1 = tf.nn.relu(tf.matmul(flat, weight_variable([7 * 7 * 64, hidden], "fc1/weights"))
                     + bias_variable(hidden, "fc1/biases"))
    return (tf.matmul(fc1, weight_variable([hidden, 10], "fc2/weights"))
            + bias_variable(10, "fc2/biases"))


def evaluate(sess: tf.Session, correct: tf.Tensor, x, y_, images, labels,
             batch_size: int = 500) -> float:
    """Test accuracy, fed in batches (the whole test set at once would need GBs for conv)."""
    hits = sum(sess.run(correct, feed_dict={x: images[i:i + batch_size],
                                            y_: labels[i:i + batch_size]})
               for i in range(0, len(images), batch_size))
    return float(hits) / len(images)


def main(argv: Optional[list[str]] = None) -> dict:
    """Train (or load) and evaluate; returns the metrics, so tests can call it in-process."""
    parser = example_parser(__doc__.splitlines()[0], epochs=2, batch_size=64, lr=1e-3)
    parser.add_argument("--eval-examples", type=int, default=None,
                        help="evaluate on the first N test images only (default: all)")
    args = parser.parse_args(argv)
    tf.reset_default_graph()
    tf.set_random_seed(args.seed)
    start = time.perf_counter()
    mnist = get_mnist(flatten=True, onehot=False, validation_size=0, seed=args.seed)
    test_images = mnist.test.images[:args.eval_examples]
    test_labels = mnist.test.labels[:len(test_images)]

    x = tf.placeholder(tf.float32, [None, 784])
    y_ = tf.placeholder(tf.int64, [None])
    logits = lenet(x)
    model_variables = tf.trainable_variables()
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_,
                                                                         logits=logits))
    steps_per_epoch = mnist.train.num_examples // args.batch_size
    total_steps = step_budget(args, steps_per_epoch)
    global_step = tf.Variable(0.0, trainable=False, name="global_step")
    learning_rate = 0.5 * args.lr * (1 + tf.cos(math.pi * global_step / total_steps))
    train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
    correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), y_), tf.int32))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())

    if args.load:
        load_variables(sess, model_variables, args.load)
        acc = evaluate(sess, correct, x, y_, test_images, test_labels)
        print(f"{args.load}: test accuracy {acc:.4f} on {len(test_images)} images")
        return {"test_accuracy": acc}

    def step(batch_x: np.ndarray, batch_y: np.ndarray) -> float:
        _, value = sess.run([train_op, loss], feed_dict={x: batch_x, y_: batch_y})
        return value

    losses: list[float] = []
    accs: list[float] = []
    for epoch in range(1, args.epochs + 1):
        total = min(steps_per_epoch, total_steps - len(losses))
        batches = (mnist.train.next_batch(args.batch_size) for _ in range(total))
        losses += run_steps(batches, step, f"epoch {epoch}/{args.epochs}", total)
        accs.append(evaluate(sess, correct, x, y_, test_images, test_labels))
        print(f"epoch {epoch}: {len(losses)} steps, train loss {np.mean(losses[-100:]):.4f}, "
              f"test accuracy {accs[-1]:.4f}")
        if len(losses) >= total_steps:
            break
    return report(args, losses, accs, start, "MNIST LeNet (TF1)",
                  lambda path: save_variables(sess, model_variables, path))


if __name__ == "__main__":
    main()
