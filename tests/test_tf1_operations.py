"""TF1's Operation view of graph nodes (`t.op`, `graph.get_operation_by_name`) and name
lookups, pinned from TF1's documented behaviour: an operation `name` has the output tensor
`name:0`; names are unique per graph (`add`, `add_1`) under their name scopes; fetching an
operation runs it and gives None."""
import numpy as np
import pytest

import tinyflow as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield


def test_names_are_unique_per_graph_and_scoped():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    w = tf.Variable(tf.ones([2, 2]), name="w")
    first, second = x + 1.0, x + 2.0
    with tf.name_scope("layer1"):
        h = tf.matmul(x, w)
    with tf.name_scope("layer1"):            # reopened: TF1 makes it layer1_1
        h2 = tf.matmul(x, w)
    assert (x.op.name, x.name) == ("x", "x:0")
    assert (w.op.name, w.name) == ("w", "w:0")
    assert (first.op.name, second.op.name) == ("add", "add_1")
    assert h.op.name.startswith("layer1/") and h2.op.name.startswith("layer1_1/")
    assert h.name == h.op.name + ":0"


def test_an_operation_says_its_type_inputs_and_outputs():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    w = tf.Variable(tf.ones([2, 3]), name="w")
    y = tf.nn.relu(tf.matmul(x, w), name="y")
    op = y.op
    assert (op.type, x.op.type, w.op.type) == ("Relu", "Placeholder", "VariableV2")
    assert op.inputs[0].op.type == "MatMul" and list(op.inputs[0].op.inputs) == [x, w]
    assert op.outputs == [y] and op.values() == (y,) and op.graph is tf.get_default_graph()
    assert op == y.op and len({op, y.op, x.op}) == 2 and op != x.op
    assert repr(op) == "<tf.Operation 'y' type=Relu>"
    assert tf.no_op(name="nothing").op.outputs == []
    with pytest.raises(AttributeError, match="eager"):
        tf.constant(1.0).op


def test_graph_lookups_by_name():
    x = tf.placeholder(tf.float32, [2], name="x")
    with tf.name_scope("scope"):
        y = tf.multiply(x, 2.0, name="y")
    graph = tf.get_default_graph()
    assert graph.get_tensor_by_name("scope/y:0") is y
    assert graph.get_operation_by_name("scope/y") == y.op
    assert [op.name for op in graph.get_operations()] == [n.op.name for n in graph.nodes]
    assert y.op in graph.get_operations()
    with pytest.raises(ValueError, match="names an operation; a tensor is named"):
        graph.get_tensor_by_name("scope/y")
    with pytest.raises(KeyError, match="has 1 output"):
        graph.get_tensor_by_name("scope/y:1")
    with pytest.raises(KeyError, match="'z:0': the graph has no operation named 'z'"):
        graph.get_tensor_by_name("z:0")
    with pytest.raises(ValueError, match="names a tensor"):
        graph.get_operation_by_name("x:0")


def test_session_fetches_and_feeds_by_name_and_runs_operations():
    x = tf.placeholder(tf.float32, [2], name="x")
    v = tf.Variable(0.0, name="v")
    y = tf.multiply(x, 3.0, name="y")
    bump = tf.assign_add(v, 1.0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run("y:0", feed_dict={"x:0": [1.0, 2.0]}), [3.0, 6.0])
        assert sess.run("y", {x: [1.0, 2.0]}) is None            # an operation: run, None
        assert sess.run([bump.op, v]) == [None, 0.0]              # reads see the old value
        assert sess.run(v) == 1.0
        with sess.as_default():
            bump.op.run()
        assert sess.run(v) == 2.0
        with pytest.raises(ValueError, match="names an operation; a tensor is"):   # as TF1
            sess.run(y, {"x": [1.0, 2.0]})


def test_operations_as_control_inputs_and_in_group():
    v = tf.Variable(1.0, name="v")
    double = tf.assign(v, v * 2.0)
    with tf.control_dependencies([double.op]):
        after = tf.identity(v)
    both = tf.group(double.op, name="both")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(after) == 2.0
        sess.run(both)
        assert sess.run(v) == 4.0


def test_variable_op_names_name_summaries():
    with tf.variable_scope("layer1"):
        w = tf.get_variable("weights", [2, 2])
    summary = tf.summary.histogram(w.op.name, w)
    assert w.op.name == "layer1/weights" and summary.op.name.startswith("layer1/weights")


def test_train_ops_and_initializers_are_named_and_printed_as_operations():
    """Nodes with no output (minimize, initializers, groups) are TF1's Operations: their
    name has no ':0', sess.run by that name runs them, and they print."""
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    w = tf.Variable(np.ones((2, 1), np.float32), name="w")
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(tf.matmul(x, w)))
    init = tf.global_variables_initializer()
    assert (train.name, init.name) == ("GradientDescent", "init")
    assert repr(init) == "<tf.Operation 'init' type=NoOp>"
    with tf.Session() as sess:
        assert sess.run(init.name) is None
        assert sess.run(train.name, {x: np.ones((1, 2), np.float32)}) is None
        np.testing.assert_allclose(sess.run(w), [[0.9], [0.9]])
