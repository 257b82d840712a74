"""The TF1 surface: graphs, placeholders, variables, Session.run, and its errors."""
import numpy as np
import pytest

import tinyflow as tf
from tinyflow.runtime import plan as plan_module


def test_fetch_structures_and_scalar_results():
    a = tf.placeholder(tf.float32, [2], name="a")
    b = a * 2
    c = tf.reduce_sum(b)
    with tf.Session() as sess:
        feed = {a: [1.0, 2.0]}
        assert sess.run(c, feed) == 6.0 and isinstance(sess.run(c, feed), np.float32)
        out = sess.run({"b": b, "pair": (c, [b, "a:0"])}, feed)
        np.testing.assert_allclose(out["b"], [2, 4])
        assert out["pair"][0] == 6.0 and isinstance(out["pair"], tuple)
        np.testing.assert_allclose(out["pair"][1][1], [1, 2])
        assert sess.run(c, {"a:0": [0.0, 1.0]}) == 2.0


def test_plan_compiled_once_per_signature_and_only_needed_nodes_run(monkeypatch):
    x = tf.placeholder(tf.float32, [None])
    y = tf.placeholder(tf.float32, [None])
    used = x * 2
    unused = tf.log(y)  # noqa: F841  (must not run: y is not fed)
    built = []
    real_init = plan_module.Plan.__init__

    def counting_init(self, *args, **kwargs):
        built.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(plan_module.Plan, "__init__", counting_init)
    with tf.Session() as sess:
        for i in range(5):
            sess.run(used, {x: [float(i)]})
        assert len(built) == 1
        sess.run([used, used + 1], {x: [1.0]})
        assert len(built) == 2
        plan = sess.make_plan(used, [x])
    assert len(plan.steps) == 1  # one multiply; the log of y is not in the plan


def test_variables_initializers_and_assign_ops():
    v = tf.Variable(tf.ones([2]), name="v")
    counter = tf.Variable(0, name="counter")
    assert v.name == "v:0" and v.shape == (2,)
    inc = tf.assign_add(counter, 1)
    double = v.assign(v * 2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(inc)
        assert sess.run(counter) == 3
        np.testing.assert_allclose(sess.run(double), [2, 2])
        np.testing.assert_allclose(v.eval(), [2, 2])
        fetched = sess.run(v)
        fetched[0] = 100.0  # a fetched value is a copy, not the variable's buffer
        np.testing.assert_allclose(sess.run(v), [2, 2])
        sess.run(tf.assign_sub(v, [1.0, 0.5]))
        np.testing.assert_allclose(sess.run(v), [1, 1.5])
    with tf.Session() as other:  # each session holds its own variable values
        with pytest.raises(tf.UninitializedVariableError, match="v:0"):
            other.run(v)


def test_group_runs_all_and_returns_none():
    a = tf.Variable(1.0)
    b = tf.Variable(2.0)
    step = tf.group(tf.assign(a, a + 1), tf.assign(b, b * 10))
    with tf.Session() as sess:
        sess.run(tf.initialize_all_variables())
        assert sess.run(step) is None
        assert sess.run([a, b]) == [2.0, 20.0]


def test_assign_reads_see_values_from_before_the_run():
    """Within one run every read of a variable sees the value from before that run."""
    w = tf.Variable(1.0)
    new = tf.assign(w, w + 1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run([new, w]) == [2.0, 1.0]
        assert sess.run(w) == 2.0


def test_graphs_names_and_reset():
    g = tf.Graph()
    with g.as_default():
        p = tf.placeholder(tf.float32, name="p")
        q = tf.placeholder(tf.float32, name="p")
        assert tf.get_default_graph() is g
    assert (p.name, q.name) == ("p:0", "p_1:0")
    assert g.get_tensor_by_name("p_1:0") is q
    assert tf.get_default_graph() is not g
    before = tf.get_default_graph()
    tf.Variable(1.0)
    tf.reset_default_graph()
    assert tf.get_default_graph() is not before and tf.global_variables() == []


def test_constants_and_random_initializers():
    tf.set_random_seed(1)
    w = tf.Variable(tf.random_normal([200, 50], stddev=0.1))
    t = tf.Variable(tf.truncated_normal([1000], stddev=1.0))
    u = tf.Variable(tf.random_uniform([1000], minval=-1, maxval=1))
    c = tf.constant(3.0, shape=[2, 2])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        wv, tv, uv = sess.run([w, t, u])
        np.testing.assert_allclose(sess.run(c), np.full((2, 2), 3.0))
    assert abs(wv.std() - 0.1) < 0.01 and wv.dtype == np.float32
    assert np.abs(tv).max() <= 2.0
    assert -1 <= uv.min() and uv.max() < 1
    assert tf.zeros([2, 3], tf.int32).dtype is tf.int32
    assert tf.ones_like(tf.zeros([4])).numpy().tolist() == [1, 1, 1, 1]


def test_default_session_eval_and_interactive_session():
    x = tf.constant([1.0, 2.0]) * 3
    p = tf.placeholder(tf.float32, [])
    with tf.Session():
        np.testing.assert_allclose(x.eval(), [3, 6])
        assert (p * 2).eval(feed_dict={p: 4.0}) == 8.0
    sess = tf.InteractiveSession()
    assert (p + 1).eval({p: 1.0}) == 2.0
    sess.close()
    with pytest.raises(ValueError, match="no default session"):
        (p + 1).eval({p: 1.0})


# ---- errors at the point of the mistake ----------------------------------------------------

# Shape errors of single ops (matmul, add, reduce_sum, reshape on a placeholder of unknown
# batch size) are error inputs of their entries in tests/op_table/, checked in a graph there.

def test_assign_of_another_shape_fails_when_the_node_is_built():
    w = tf.Variable(tf.zeros([10, 784]))
    with pytest.raises(tf.ShapeError, match="assign"):
        tf.assign(w, tf.zeros([3]))


def test_feed_errors_name_the_placeholder():
    x = tf.placeholder(tf.float32, [None, 4], name="images")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    y = tf.reduce_sum(x, axis=1) + tf.cast(labels, tf.float32)
    with tf.Session() as sess:
        with pytest.raises(tf.FeedError, match=r"images:0.*must be fed"):
            sess.run(y, {labels: [1]})
        with pytest.raises(tf.FeedError, match=r"shape \(2, 3\) to images:0"):
            sess.run(y, {x: np.zeros((2, 3)), labels: [1, 2]})
        with pytest.raises(tf.FeedError, match=r"dtype float64 to labels:0"):
            sess.run(y, {x: np.zeros((1, 4)), labels: [1.5]})
        with pytest.raises(tf.FeedError, match="feed_dict key 3 is a int; a key is a placeholder"):
            sess.run(y, {"images:0": np.zeros((1, 4)), 3: 1})
        out = sess.run(y, {x: np.ones((2, 4), np.float64), labels: np.array([1, 2], np.int32)})
        np.testing.assert_allclose(out, [5, 6])  # safe casts are accepted


def test_fetch_errors():
    other = tf.Graph()
    with other.as_default():
        foreign = tf.placeholder(tf.float32, [], name="foreign")
    with tf.Session() as sess:
        with pytest.raises(tf.FetchError, match="foreign:0 belongs to another graph"):
            sess.run(foreign, {})
        with pytest.raises(tf.FetchError, match="'missing': the graph has no operation of"):
            sess.run("missing")
        with pytest.raises(tf.FetchError, match="'missing:0': the graph has no operation named"):
            sess.run("missing:0")
        with pytest.raises(tf.FetchError, match="a fetch is a tensor"):
            sess.run(3.0)


def test_uninitialized_variable_is_named():
    w = tf.Variable(tf.zeros([2]), name="weights")
    with tf.Session() as sess:
        with pytest.raises(tf.UninitializedVariableError, match="weights:0"):
            sess.run(w * 2)


def test_closed_session_refuses_to_run():
    sess = tf.Session()
    sess.close()
    with pytest.raises(RuntimeError, match="closed"):
        sess.run(tf.constant(1.0))
