"""Reverse and forward mode on the specification's worked examples, higher order, deep
graphs, and the eager tape using the same algorithm."""
import sys

import numpy as np
import pytest

import tinyflow as tf


def _lecture_y(x1, x2):
    return tf.log(x1) + x1 * x2 - tf.sin(x2)


def test_worked_example_ln_symbolic_reverse_and_forward():
    x1 = tf.placeholder(tf.float64, [])
    x2 = tf.placeholder(tf.float64, [])
    y = _lecture_y(x1, x2)
    feed = {x1: 2.0, x2: 5.0}
    with tf.Session() as sess:
        d1, d2 = sess.run(tf.gradients(y, [x1, x2]), feed)
        f1 = sess.run(tf.forward_gradients(y, [x1, x2], [1.0, 0.0])[0], feed)
        f2 = sess.run(tf.forward_gradients(y, [x1, x2], [0.0, 1.0])[0], feed)
    assert d1 == pytest.approx(5.5) and f1 == pytest.approx(5.5)
    assert d2 == pytest.approx(2 - np.cos(5.0)) and f2 == pytest.approx(d2)
    assert d2 == pytest.approx(1.716, abs=1e-3)


def test_worked_example_ln_eager():
    x1 = tf.tensor(2.0, dtype=tf.float64, requires_grad=True)
    x2 = tf.tensor(5.0, dtype=tf.float64, requires_grad=True)
    _lecture_y(x1, x2).backward()
    assert x1.grad.item() == pytest.approx(5.5)
    assert x2.grad.item() == pytest.approx(2 - np.cos(5.0))


def test_worked_example_e_both_modes():
    a = tf.placeholder(tf.float32, [])
    b = tf.placeholder(tf.float32, [])
    e = (a + b) * (b + 1)
    with tf.Session() as sess:
        assert sess.run(tf.gradients(e, [a, b]), {a: 2.0, b: 1.0}) == [2.0, 5.0]
        tangent_b = tf.forward_gradients(e, [a, b], [0.0, 1.0])[0]
        assert sess.run(tangent_b, {a: 2.0, b: 1.0}) == 5.0
    ea = tf.tensor(2.0, requires_grad=True)
    eb = tf.tensor(1.0, requires_grad=True)
    ((ea + eb) * (eb + 1)).backward()
    assert (ea.grad.item(), eb.grad.item()) == (2.0, 5.0)


def test_gradients_are_graph_nodes_and_differentiate_again():
    x = tf.placeholder(tf.float64, [3])
    y = tf.reduce_sum(x * x * x)  # dy/dx = 3x^2, d2y/dx2 = 6x (diagonal)
    (g,) = tf.gradients(y, [x])
    (h,) = tf.gradients(tf.reduce_sum(g), [x])
    (h3,) = tf.gradients(tf.reduce_sum(h), [x])
    with tf.Session() as sess:
        gv, hv, h3v = sess.run([g, h, h3], {x: [1.0, 2.0, -3.0]})
    np.testing.assert_allclose(gv, [3, 12, 27])
    np.testing.assert_allclose(hv, [6, 12, -18])
    np.testing.assert_allclose(h3v, [6, 6, 6])


def test_unconnected_inputs_get_none():
    x = tf.placeholder(tf.float32, [2])
    z = tf.placeholder(tf.float32, [2])
    assert tf.gradients(tf.reduce_sum(x * 2), [x, z])[1] is None
    assert tf.forward_gradients(tf.reduce_sum(x), [z], [np.ones(2, np.float32)]) == [None]


def test_grad_ys_weights_the_outputs():
    x = tf.placeholder(tf.float32, [2])
    y = x * 3
    (g,) = tf.gradients(y, x, grad_ys=tf.constant([1.0, 10.0]))
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(g, {x: [0, 0]}), [3, 30])


def test_gradient_of_broadcast_input_is_summed_back():
    x = tf.placeholder(tf.float32, [None, 3])
    b = tf.Variable(tf.zeros([3]))
    gb, gx = tf.gradients(tf.reduce_sum((x + b) * 2), [b, x])
    assert gb.shape == (3,)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out_b, out_x = sess.run([gb, gx], {x: np.ones((4, 3))})
    np.testing.assert_allclose(out_b, [8, 8, 8])
    assert out_x.shape == (4, 3)


# Twenty times Python's recursion limit: a walk that recursed per node would fail long before.
CHAIN = 20_000


@pytest.mark.slow  # builds and differentiates 20,000 graph nodes: about 3 s
def test_chain_of_20000_nodes_differentiates_without_recursion():
    assert CHAIN >= 20 * sys.getrecursionlimit()
    x = tf.placeholder(tf.float32, [])
    h = x
    for _ in range(CHAIN):
        h = h + 1.0
    (g,) = tf.gradients(h, [x])
    (t,) = tf.forward_gradients(h, [x], [2.0])
    with tf.Session() as sess:
        assert sess.run([h, g, t], {x: 0.0}) == [float(CHAIN), 1.0, 2.0]


@pytest.mark.slow  # 20,000 eager ops and their backward
def test_eager_chain_of_20000_ops_backward():
    assert CHAIN >= 20 * sys.getrecursionlimit()
    x = tf.tensor(1.0, requires_grad=True)
    h = x
    for _ in range(CHAIN):
        h = h * 1.0
    h.backward()
    assert x.grad.item() == 1.0


def test_eager_grad_accumulates_and_no_grad_records_nothing():
    w = tf.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(2):
        (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [4.0, 8.0])
    with tf.no_grad():
        y = w * 2
    assert not y.requires_grad and y._op is None
    with pytest.raises(RuntimeError, match="does not require grad and has no grad_fn"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match=r"not one element, so the starting gradient cannot"):
        (w * 2).backward()


def test_eager_backward_create_graph_gives_second_order():
    x = tf.tensor(3.0, dtype=tf.float64, requires_grad=True)
    y = x * x * x
    y.backward(create_graph=True)
    g = x.grad
    assert g.item() == pytest.approx(27.0) and g.requires_grad
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(18.0)


def test_eager_tensor_in_a_graph_is_read_by_reference():
    """A parameter (eager, requires_grad) used with a placeholder is a graph leaf whose
    current value each run reads; tf.gradients w.r.t. it works."""
    w = tf.tensor([[1.0], [2.0]], requires_grad=True)
    x = tf.placeholder(tf.float32, [None, 2])
    loss = tf.reduce_sum(tf.matmul(x, w))
    (gw,) = tf.gradients(loss, [w])
    with tf.Session() as sess:
        assert sess.run(loss, {x: [[1.0, 1.0]]}) == 3.0
        w.array[...] = [[10.0], [20.0]]
        assert sess.run(loss, {x: [[1.0, 1.0]]}) == 30.0
        np.testing.assert_allclose(sess.run(gw, {x: [[1.0, 2.0], [3.0, 4.0]]}), [[4], [6]])


def test_backward_refuses_symbolic():
    x = tf.placeholder(tf.float32, [])
    with pytest.raises(TypeError, match="symbolic"):
        (x * 2).backward()
