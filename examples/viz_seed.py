"""Pictures of the specification's MNIST program: its graph, and its program before and after
the graph rewrites, coloured forward / loss / backward / update.

    python examples/viz_seed.py OUT_DIR

writes seed.dot (the whole graph: training step and accuracy) and seed_compare.dot (the
training step's program, lowered and optimized, side by side), and the same as .svg when
Graphviz's `dot` is installed. No data is needed: a picture runs nothing.
"""
import argparse
import pathlib
import shutil

import tinyflow as tf

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("out_dir", type=pathlib.Path, help="folder for the pictures")
args = parser.parse_args()
args.out_dir.mkdir(parents=True, exist_ok=True)

# The seed program, as examples/mnist_softmax.py builds it
x = tf.placeholder(tf.float32, [None, 784], name="x")
W = tf.Variable(tf.zeros([784, 10]), name="W")
y = tf.nn.softmax(tf.matmul(x, W))
y_ = tf.placeholder(tf.float32, [None, 10], name="y_")
cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]),
                               name="cross_entropy")
W_grad = tf.gradients(cross_entropy, [W])[0]
train_step = tf.assign(W, W - 0.5 * W_grad, name="train_step")
correct = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
accuracy = tf.reduce_mean(tf.cast(correct, tf.float32), name="accuracy")

sess = tf.Session()
pictures = {
    "seed": tf.viz.to_dot(tf.get_default_graph(), title="the seed program"),
    "seed_compare": tf.viz.compare(train_step, [x, y_], session=sess),
}
for name, dot in pictures.items():
    written = [tf.viz.render(dot, args.out_dir / f"{name}.dot")]
    if shutil.which("dot"):
        written.append(tf.viz.render(dot, args.out_dir / f"{name}.svg"))
    print("wrote", ", ".join(str(p) for p in written))
if not shutil.which("dot"):
    print("Graphviz's dot is not installed (apt-get install graphviz): wrote DOT text only")
