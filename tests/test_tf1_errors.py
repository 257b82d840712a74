"""A catalog of bad TF1 input: each case is what a user writes, the exception TensorFlow 1
raises for it (the class, at graph construction or at Session.run), and a message pattern
naming what is wrong. TF1's own messages are quoted where tinyflow keeps them."""
import numpy as np
import pytest

import tinyflow as tf


def _graphs():
    """Two graphs, each with a placeholder and a variable; the session runs graph 2."""
    g1, g2 = tf.Graph(), tf.Graph()
    with g1.as_default():
        a = tf.placeholder(tf.float32, [2], name="a")
        va = tf.Variable(1.0, name="va")
    with g2.as_default():
        b = tf.placeholder(tf.float32, [2], name="b")
        vi = tf.Variable(np.int32(3), name="vi")
        vf = tf.Variable(np.zeros(2, np.float32), name="vf")
    return dict(g1=g1, g2=g2, a=a, va=va, b=b, vi=vi, vf=vf)


# (case, TF1's exception, message pattern, the user's code) -- graph construction
BUILD = [
    # TF1: "Tensor(...) must be from the same graph as Tensor(...)" (ValueError)
    ("gradients across graphs", ValueError, r"xs tensor b:0 must be from the same graph",
     lambda t: tf.gradients(t["a"] * 2.0, [t["b"]])),
    ("gradients across graphs, variables", ValueError, "must be from the same graph",
     lambda t: tf.gradients(t["va"] * 2.0, [t["vf"]])),
    ("gradients of a non-tensor x", TypeError, "xs must be tensors",
     lambda t: tf.gradients(t["b"] * 2.0, [3.0])),
    ("op across graphs", ValueError, "different graphs", lambda t: t["a"] + t["b"]),
    # TF1: "Input 'value' of 'Assign' Op has type float32 that does not match type int32 of
    # argument 'ref'." (TypeError) -- never a silent truncation
    ("assign a float tensor into an int variable", TypeError,
     r"has type float32 that does not match type int32 of argument 'ref' \(vi:0\)",
     lambda t: tf.assign(t["vi"], tf.constant(1.5))),
    # TF1: "Expected int32, got 1.5 of type 'float' instead." (TypeError)
    ("assign a Python float into an int variable", TypeError,
     r"Expected int32, got 1.5 of type 'float' instead",
     lambda t: tf.assign(t["vi"], 1.5)),
    ("Variable.assign of a float into an int variable", TypeError, "Expected int32",
     lambda t: t["vi"].assign(2.7)),
    ("assign_add of a float into an int variable", TypeError, "does not match type int32",
     lambda t: tf.assign_add(t["vi"], 1.5)),
    ("assign a float64 tensor into a float32 variable", TypeError,
     "has type float64 that does not match type float32",
     lambda t: tf.assign(t["vf"], tf.constant(np.zeros(2)))),
    # TF1: "Shapes () and (2,) are incompatible" (ValueError)
    ("assign of another shape", ValueError, r"shape \(2,\) to vi:0 of shape \(\)",
     lambda t: tf.assign(t["vi"], [1, 2])),
    ("assign to a placeholder", TypeError, "can only assign to a variable",
     lambda t: tf.assign(t["b"], [1.0, 2.0])),
    # TF1 converts "a" to a string tensor, then MatMul refuses it (TypeError)
    ("a string as a tensor", TypeError, "cannot convert 'a' of type 'str' to a tensor",
     lambda t: tf.matmul("a", t["b"])),
    ("an unknown dtype", TypeError, "unknown dtype name 'flot32'",
     lambda t: tf.placeholder("flot32")),
    ("learning rate of the wrong type", TypeError, "learning_rate must be a number",
     lambda t: tf.train.GradientDescentOptimizer("0.1")),
    ("minimize of a non-tensor", TypeError, "the loss must be a tensor",
     lambda t: tf.train.GradientDescentOptimizer(0.1).minimize(3.0)),
    ("dropout with keep_prob 0", ValueError, r"keep_prob must be in \(0, 1\]",
     lambda t: tf.nn.dropout(t["b"], 0.0)),
    ("dropout with an int keep_prob tensor", TypeError, "keep_prob must be a float",
     lambda t: tf.nn.dropout(t["b"], tf.placeholder(tf.int32))),
    # TF1 raises TypeError for these (our words)
    ("Session target of the wrong type", TypeError, "Session: target is <class 'int'>; give a",
     lambda t: tf.Session(target=3)),
    ("Session graph of the wrong type", TypeError, "Session: graph is .*; give a tf.Graph",
     lambda t: tf.Session(graph="g")),
    ("Session config of the wrong type", TypeError, "Session: config is .*; give a tf.ConfigProto",
     lambda t: tf.Session(config={"allow_growth": True})),
]


@pytest.mark.parametrize("case,error,pattern,code", BUILD, ids=[c[0] for c in BUILD])
def test_graph_construction_errors(case, error, pattern, code):
    t = _graphs()
    with t["g2"].as_default():
        with pytest.raises(error, match=pattern):
            code(t)


def _ok_feed(t):
    return {t["b"]: [1.0, 2.0]}


# -- at Session.run (the session runs graph 2)
RUN = [
    # TF1 raises ValueError for a tensor of another graph
    ("fetch from another graph", ValueError, "fetch a:0 belongs to another graph than the sess",
     lambda s, t: s.run(t["a"])),
    ("feed key from another graph", ValueError, "key a:0 belongs to another graph",
     lambda s, t: s.run(t["b"], {t["a"]: [1.0, 2.0], t["b"]: [1.0, 2.0]})),
    # TF1 raises TypeError for a fetch of the wrong kind
    ("fetch None", TypeError, "fetch None is a NoneType; a fetch is a tensor",
     lambda s, t: s.run(None)),
    ("fetch a number", TypeError, "fetch 3 is a int; a fetch is a tensor",
     lambda s, t: s.run(3)),
    ("fetch a name that does not exist", ValueError, "'nope': the graph has no operation of",
     lambda s, t: s.run("nope")),
    # TF1 raises TypeError for a key that is not a tensor
    ("feed a key that is not a tensor", TypeError, "feed_dict key 3 is a int; a key is a",
     lambda s, t: s.run(t["b"], {3: 1.0})),
    # TF1 raises TypeError for a graph tensor fed as a value
    ("feed a symbolic tensor as a value", TypeError, "the value for b:0 is the graph tensor",
     lambda s, t: s.run(t["b"] * 2.0, {t["b"]: t["b"] + 1.0})),
    # TF1: "Cannot feed value of shape (3,) for Tensor 'b:0', which has shape '(2,)'"
    ("feed of the wrong shape", ValueError, r"shape \(3,\) to b:0",
     lambda s, t: s.run(t["b"], {t["b"]: [1.0, 2.0, 3.0]})),
    ("feed a string to a float placeholder", ValueError, "dtype <U",
     lambda s, t: s.run(t["b"], {t["b"]: ["x", "y"]})),
    ("a needed placeholder not fed", ValueError, "b:0 .* must be fed",
     lambda s, t: s.run(t["b"] * 2.0)),
    ("feed_dict not a dict", TypeError, "feed_dict must be a dictionary",
     lambda s, t: s.run(t["b"], [[1.0, 2.0]])),
    ("options of the wrong type", TypeError, "options is <class 'dict'>; give a tf.RunOptions",
     lambda s, t: s.run(t["b"], _ok_feed(t), options={"trace": 1})),
    ("run_metadata of the wrong type", TypeError, "run_metadata is <class 'int'>; give a",
     lambda s, t: s.run(t["b"], _ok_feed(t), run_metadata=3)),
    # TF1 raises FailedPreconditionError
    ("an uninitialized variable", RuntimeError, "uninitialized variable vi:0 is read before",
     lambda s, t: s.run(t["vi"])),
]


@pytest.mark.parametrize("case,error,pattern,code", RUN, ids=[c[0] for c in RUN])
def test_session_run_errors(case, error, pattern, code):
    t = _graphs()
    with tf.Session(graph=t["g2"]) as sess:
        with pytest.raises(error, match=pattern):
            code(sess, t)


def test_what_tf1_accepts_still_runs():
    """The neighbours of the refused cases: an int into a float variable, a same-dtype
    assign, fed non-placeholder tensors, RunOptions/RunMetadata and a ConfigProto."""
    t = _graphs()
    with t["g2"].as_default():
        up = tf.assign(t["vf"], [1, 2])
        count = tf.assign_add(t["vi"], 2)
        doubled = t["b"] * 2.0
        after = doubled + 1.0
    config = tf.ConfigProto(allow_soft_placement=True)
    config.gpu_options.allow_growth = True
    with tf.Session(graph=t["g2"], config=config) as sess:
        sess.run([t["vi"].initializer, t["vf"].initializer])
        np.testing.assert_array_equal(sess.run(up), [1, 2])
        assert sess.run(count) == 5
        np.testing.assert_array_equal(sess.run(after, {doubled: [0.0, 1.0]}), [1, 2])
        options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
        np.testing.assert_array_equal(
            sess.run(t["b"], _ok_feed(t), options=options, run_metadata=tf.RunMetadata()),
            [1, 2])


def test_axis_given_as_a_constant_tensor():
    """TF1 programs pass axes as tensors (tf.constant(1)); a symbolic one is refused by name."""
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(tf.reduce_sum(x, tf.constant(1)).numpy(), [3.0, 7.0])
    np.testing.assert_array_equal(tf.argmax(x, tf.constant(0)).numpy(), [1, 1])
    with pytest.raises(TypeError, match="Placeholder"):
        tf.reduce_sum(x, tf.placeholder(tf.int32, []))
