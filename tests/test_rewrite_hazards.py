"""Graphs where an optimization could change an answer, each found by reading the compiler:
the optimized session must equal `Session(optimize=False)` on every one."""
import numpy as np

import tinyflow as tf


def both(build, feed_of):
    """(optimized, reference) values of `build()`'s fetches, each in a fresh graph."""
    results = []
    for optimize in (True, False):
        with tf.Graph().as_default() as g:
            fetches, feeds = build()
            sess = tf.Session(graph=g, optimize=optimize)
            sess.run(tf.global_variables_initializer())
            results.append(sess.run(fetches, feed_of(feeds)))
    return results


def test_an_in_place_kernel_never_overwrites_a_buffer_another_input_views():
    """`(a + transpose(a)) * 3` may write over a's dying buffer, but not while the same step
    reads a transposed view of it (the generated loop would read what it already wrote)."""
    n = 256
    rng = np.random.default_rng(0)
    p_val, q_val = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))

    def build():
        p, q = tf.placeholder(tf.float32, [n, n]), tf.placeholder(tf.float32, [n, n])
        a = p * q
        return tf.reduce_sum((a + tf.transpose(a)) * 3.0, axis=0), (p, q)
    got, want = both(build, lambda f: {f[0]: p_val, f[1]: q_val})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


def test_a_fused_group_does_not_move_a_read_past_an_assign_to_an_eager_tensor():
    """`m = p * x` runs before `assign(p, ...)` (an eager tensor, written in place); fusing it
    with `m + z`, which runs after, must not make it read the new p."""
    def build():
        p = tf.tensor(np.ones(3, np.float32))
        x = tf.placeholder(tf.float32, [3])
        m = p * x
        update = tf.assign(p, x + 100.0)
        with tf.control_dependencies([update]):
            z = tf.exp(x)
        return m + z, (x,)
    got, want = both(build, lambda f: {f[0]: np.ones(3, np.float32)})
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(want, 1 + np.e, rtol=1e-6)


def test_a_reassociated_chain_does_not_move_a_read_past_an_assign():
    def build():
        m1 = tf.tensor(np.eye(4, dtype=np.float32))
        x, v0 = tf.placeholder(tf.float32, [4, 4]), tf.placeholder(tf.float32, [4, 1])
        inner = tf.matmul(m1, x)
        update = tf.assign(m1, 2 * tf.ones([4, 4]) + x)
        with tf.control_dependencies([update]):
            v = tf.exp(v0)
        return tf.matmul(inner, v), (x, v0)
    got, want = both(build, lambda f: {f[0]: np.eye(4, dtype=np.float32),
                                       f[1]: np.zeros((4, 1), np.float32)})
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(want, 1.0)


def test_x_plus_zero_keeps_the_sign_of_zero():
    def build():
        x = tf.placeholder(tf.float32, [3])
        return 1.0 / (x + 0.0), (x,)
    got, want = both(build, lambda f: {f[0]: np.array([-0.0, 1, 2], np.float32)})
    np.testing.assert_array_equal(got, want)
    assert want[0] == np.inf


def test_a_fused_update_keeps_the_gradient_a_control_edge_waits_for():
    """The weight gradient is both absorbed by the fused SGD update and named by a control
    edge: it stays its own step (the verifier, on in tests, refuses a dangling edge)."""
    x_val, t_val = np.ones((8, 4), np.float32), np.zeros((8, 3), np.float32)

    def build():
        x, t = tf.placeholder(tf.float32, [8, 4]), tf.placeholder(tf.float32, [8, 3])
        w = tf.Variable(np.ones((4, 3), np.float32))
        (g,) = tf.gradients(tf.reduce_sum(tf.square(tf.matmul(x, w) - t)), [w])
        step = tf.assign(w, w - 0.01 * g)
        with tf.control_dependencies([g]):
            marker = tf.no_op()
        return [tf.group(step, marker), w], (x, t)

    def run(optimize):
        with tf.Graph().as_default() as g:
            (train, w), (x, t) = build()
            sess = tf.Session(graph=g, optimize=optimize)
            sess.run(tf.global_variables_initializer())
            sess.run(train, {x: x_val, t: t_val})
            return sess.run(w)
    np.testing.assert_allclose(run(True), run(False), rtol=1e-6)
