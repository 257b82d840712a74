"""What other people's TF1 programs needed, round 12: InteractiveSession's default graph, and
the spellings of the tutorials run this session (each pinned in a few lines of our own).
"""
import numpy as np
import pytest

import tinyflow as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


def _run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


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
        with pytest.raises(ValueError, match="Parent directory of .* doesn't exist"):
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
