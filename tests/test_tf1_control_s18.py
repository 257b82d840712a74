"""TF1 control semantics: ops of constants made inside `control_dependencies` run when the
session runs them, after the control inputs (they once computed while the graph was built);
variables made while a while_loop's or cond's functions are built follow TF1 (a callable
initial value or get_variable, else refused by name)."""
import numpy as np
import pytest

import tinyflow as tf


def test_constants_inside_control_dependencies_run_after_the_control_inputs():
    tf.reset_default_graph()
    v = tf.Variable(1.0)
    bump = tf.assign_add(v, 1.0)
    with tf.control_dependencies([bump]):
        c = tf.constant(2.0) * 3.0
        ints = tf.identity(tf.constant([1, 2]))
    outside = tf.constant(2.0) * 3.0
    assert c.kind == ints.kind == "node" and outside.kind == "eager"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(c) == 6.0 and sess.run(v) == 2.0
        np.testing.assert_array_equal(sess.run(ints), [1, 2])
        assert sess.run(v) == 3.0
        sess.run([c, ints])           # one run: the assign runs once
        assert sess.run(v) == 4.0


def test_a_variable_in_a_while_loop_body_needs_a_callable_or_get_variable():
    tf.reset_default_graph()

    def made_with_a_value(i, x):
        return i + 1, x * tf.Variable(2.0, name="w")

    with pytest.raises(ValueError, match="Variable w: made inside a while_loop with an "
                                         "initial value"):
        tf.while_loop(lambda i, x: i < 3, made_with_a_value, [tf.constant(0), 1.0])
    names = []

    def made_by_get_variable(i, x):
        w = tf.get_variable("w", [], initializer=tf.constant_initializer(2.0))
        u = tf.Variable(lambda: 0.5, name="u")
        names.extend([w.name, u.name])
        return i + 1, x * w + u

    _, y = tf.while_loop(lambda i, x: i < 3, made_by_get_variable, [tf.constant(0), 1.0])
    # get_variable ignores the loop's name scope (the refused loop above took "while")
    assert names == ["w:0", "while_1/u:0"]
    gw, gu = tf.gradients(y, tf.trainable_variables())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([y, gw, gu])
    # y = ((2 + .5) 2 + .5) 2 + .5 = 11.5; dy/dw = 3 w^2 + 2 w u + u = 12 + 2 + .5;
    # dy/du = w^2 + w + 1 = 7
    np.testing.assert_allclose(got, [11.5, 14.5, 7.0])


def test_a_variable_in_a_cond_branch_needs_a_callable():
    tf.reset_default_graph()
    p = tf.placeholder(tf.bool, [])
    with pytest.raises(ValueError, match="made inside a cond"):
        tf.cond(p, lambda: tf.Variable(1.0) * 2.0, lambda: tf.constant(0.0))
