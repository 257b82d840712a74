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
