"""What other people's TF1 programs needed, round 12: InteractiveSession's default graph, and
the spellings of the tutorials run this session (each pinned in a few lines of our own).
"""
import numpy as np
import pytest
from test_tf1_programs_s11 import _run, fresh_graph  # noqa: F401  (an autouse fixture)

import tinyflow as tf


# ---- InteractiveSession --------------------------------------------------------------------

def test_interactive_session_makes_its_graph_the_default_until_closed():
    g = tf.Graph()
    sess = tf.InteractiveSession(graph=g)
    p = tf.placeholder(tf.float32, [])
    v = tf.Variable(2.0)
    assert p.graph is g and v.graph is g
    tf.global_variables_initializer().run()
    assert (p * v).eval({p: 3.0}) == 6.0
    with tf.Graph().as_default() as other:       # closed inside another graph's block:
        sess.close()                              # that block's graph stays the default
        assert tf.get_default_graph() is other
    assert tf.get_default_graph() is not g
    with pytest.raises(ValueError, match="no default session"):
        (p * 2).eval({p: 1.0})


def test_reset_default_graph_refused_while_an_interactive_session_is_open():
    sess = tf.InteractiveSession()
    with pytest.raises(RuntimeError, match="InteractiveSession"):
        tf.reset_default_graph()
    with sess:                                    # also usable as a context manager
        assert tf.get_default_session() is sess
    tf.reset_default_graph()


# ---- checkpoints: get_checkpoint_state, checkpoint_exists (golbin 05, nlintz 10) -------------

def test_get_checkpoint_state_names_the_latest_checkpoint(tmp_path):
    tf.Variable(1.0)
    saver = tf.train.Saver()
    assert tf.train.get_checkpoint_state(str(tmp_path)) is None
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.raises(ValueError, match="Saver.save: the folder of .* does not exist"):
            saver.save(sess, str(tmp_path / "missing" / "m.ckpt"))
        first = saver.save(sess, str(tmp_path / "m.ckpt"), global_step=1)
        last = saver.save(sess, str(tmp_path / "m.ckpt"), global_step=2)
    ckpt = tf.train.get_checkpoint_state(str(tmp_path))
    assert ckpt.model_checkpoint_path == last
    assert ckpt.all_model_checkpoint_paths == [first, last]
    assert tf.train.checkpoint_exists(last) and tf.train.latest_checkpoint(str(tmp_path)) == last
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "m.ckpt-1"\n')  # relative
    assert tf.train.get_checkpoint_state(str(tmp_path)).model_checkpoint_path == first
    assert not tf.train.checkpoint_exists(str(tmp_path / "m.ckpt-7"))


# ---- Géron's capsule network, nlintz's LSTM: shapes known only when run ---------------------

def test_tile_by_a_batch_size_known_only_when_run_and_of_unknown_dims():
    x = tf.placeholder(tf.float64, [None, 3])
    w = tf.Variable(np.arange(6.0).reshape(1, 2, 3))
    w_tiled = tf.tile(w, [tf.shape(x)[0], 1, 1])              # Géron's W_tiled
    x_tiled = tf.tile(tf.expand_dims(x, 1), [1, 4, 1])        # a size-1 axis, unknown batch
    x_twice = tf.tile(x, [2, 2])                              # other axes: copies
    assert w_tiled.shape.as_list() == [None, 2, 3] and x_twice.shape.as_list() == [None, 6]
    grads = tf.gradients(tf.reduce_sum(w_tiled * 2.0) + tf.reduce_sum(x_twice ** 2), [w, x])
    xv = np.random.RandomState(0).rand(5, 3)
    wt, xt, x2, gw, gx = _run([w_tiled, x_tiled, x_twice] + grads, {x: xv})
    np.testing.assert_array_equal(wt, np.tile(np.arange(6.0).reshape(1, 2, 3), [5, 1, 1]))
    np.testing.assert_array_equal(xt, np.tile(xv[:, None], [1, 4, 1]))
    np.testing.assert_array_equal(x2, np.tile(xv, [2, 2]))
    np.testing.assert_allclose(gw, np.full((1, 2, 3), 10.0))        # 5 copies, times 2
    np.testing.assert_allclose(gx, 8 * xv)                          # 4 copies of x**2
    with pytest.raises(NotImplementedError, match="tf.tile: a multiple known only when run"):
        tf.tile(x, [tf.shape(x)[0], 1])
    with pytest.raises(ValueError, match="tf.tile: the input's rank must be known"):
        tf.tile(tf.placeholder(tf.float32), [2])


def test_split_of_a_dim_known_only_when_run_into_equal_parts():
    x = tf.placeholder(tf.float64, [None, 3])
    parts = tf.split(tf.reshape(tf.transpose(x), [-1, 2]), 3, 0)   # nlintz's 07_lstm
    assert [p.shape.as_list() for p in parts] == [[None, 2]] * 3
    grad = tf.gradients(tf.reduce_sum(parts[1] * 3.0), x)[0]
    xv = np.random.RandomState(1).rand(2, 3)
    *values, g = _run(parts + [grad], {x: xv})
    for got, want in zip(values, np.split(xv.T.reshape(-1, 2), 3)):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(g, [[0, 3, 0], [0, 3, 0]])


def test_softmax_takes_tf1s_deprecated_dim():
    x = tf.placeholder(tf.float64, [2, 3, 4])
    xv = np.random.RandomState(2).randn(2, 3, 4)
    a, b = _run([tf.nn.softmax(x, dim=1), tf.nn.log_softmax(x, dim=1)], {x: xv})
    e = np.exp(xv - xv.max(1, keepdims=True))
    np.testing.assert_allclose(a, e / e.sum(1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(b, np.log(a), atol=1e-12)
    with pytest.raises(ValueError, match="both 'axis' and 'dim'"):
        tf.nn.softmax(x, axis=1, dim=1)


def test_cond_picks_a_whole_branch_whose_shape_differs_when_run():
    """Géron's capsule network feeds an empty label vector to the untaken branch."""
    y = tf.placeholder(tf.int64, [None])
    y_pred = tf.placeholder(tf.int64, [None])
    use_labels = tf.placeholder_with_default(False, shape=())
    targets = tf.cond(use_labels, lambda: y, lambda: y_pred)
    x = tf.placeholder(tf.float64, [None])
    picked = tf.cond(use_labels, lambda: x * 2.0, lambda: tf.reduce_sum(x, keepdims=True))
    grad = tf.gradients(tf.reduce_sum(picked * picked), x)[0]
    with tf.Session() as sess:
        got = sess.run(targets, {y: np.zeros(0, np.int64), y_pred: [3, 1, 4]})
        np.testing.assert_array_equal(got, [3, 1, 4])
        assert sess.run(targets, {y: [7], y_pred: [3, 1], use_labels: True}).tolist() == [7]
        xv = np.array([1.0, 2.0, 3.0])
        value, g = sess.run([picked, grad], {x: xv})
        np.testing.assert_allclose(value, [6.0])
        np.testing.assert_allclose(g, [12.0] * 3)
        np.testing.assert_allclose(sess.run(grad, {x: xv, use_labels: True}), 8 * xv)


def test_a_device_function_is_refused_by_name():
    """TensorFlow-Examples' multigpu_cnn places variables by a function of each op."""
    with pytest.raises(NotImplementedError, match="tf.device: device functions"):
        tf.device(lambda op: "/cpu:0")


def test_cond_gradient_drops_what_the_untaken_branch_makes_of_zero():
    """TF1's Switch: sqrt's and log's rules at 0 (inf times the branch's zero gradient) made
    NaN in x's gradient through the branch not taken. TF1: -1, -1, 0.25 and 0, 0, 0.25."""
    x = tf.placeholder(tf.float64, [])
    y = tf.cond(x > 0, lambda: tf.sqrt(x), lambda: -x)
    safe_log = tf.cond(x > 0, lambda: tf.log(x), lambda: tf.zeros_like(x))
    grads = tf.gradients(y, [x]) + tf.gradients(safe_log, [x])
    with tf.Session() as sess, np.errstate(all="ignore"):
        got = [sess.run(grads, {x: v}) for v in (-1.0, 0.0, 4.0)]
    np.testing.assert_allclose(got, [[-1.0, 0.0], [-1.0, 0.0], [0.25, 0.25]])


def test_run_time_shapes_refuse_what_tf1_refuses():
    """One multiple per dim (extra multiples were dropped on the run-time path), at least
    one part, and a cond predicate fed more than one value: clear errors, not a wrong
    shape, an empty list or NumPy's truth-value message."""
    x = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match="tf.tile: 3 multiples for an input of rank 2"):
        tf.tile(x, [2, 1, 1])
    for parts in (0, -2):
        with pytest.raises(ValueError, match="split: num_or_size_splits must be at least 1"):
            tf.split(x, parts, 0)
    pred = tf.placeholder(tf.bool)
    picked = tf.cond(pred, lambda: x, lambda: x * 2)
    with tf.Session() as sess, pytest.raises(ValueError, match="predicate must be a scalar"):
        sess.run(picked, {pred: [True, False], x: np.ones((2, 3))})


def test_an_optimizer_step_inside_cond_updates_only_when_taken():
    """The branch gates must not come between an update and the variable it writes."""
    for make in (lambda: tf.train.GradientDescentOptimizer(0.1),
                 lambda: tf.train.MomentumOptimizer(0.1, 0.9)):
        v = tf.Variable(1.0, dtype=tf.float64)
        p = tf.placeholder(tf.bool, [])
        train = tf.cond(p, lambda: make().minimize(v * v), lambda: tf.no_op())
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train, {p: True})
            sess.run(train, {p: False})
            np.testing.assert_allclose(sess.run(v), 0.8)
