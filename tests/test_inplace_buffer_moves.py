"""An in-place write whose result nothing else holds takes the result's buffer instead of
copying it (`tape._buffer_moves`); wherever something can still see the target's memory or
the result, the values are copied as before. Checked against torch."""
import numpy as np
import pytest
import torch as pt

import tinyflow as tf
import tinyflow.nn as nn
import tinyflow.nn.functional as F

WRITES = {
    "relu_": (lambda x: x.relu_(), lambda x: x.relu_()),
    "relu inplace": (lambda x: F.relu(x, inplace=True), lambda x: pt.nn.functional.relu(x, inplace=True)),
    "relu6 inplace": (lambda x: F.relu6(x, inplace=True), lambda x: pt.nn.functional.relu6(x, inplace=True)),
    "leaky_relu inplace": (lambda x: F.leaky_relu(x, 0.1, inplace=True),
                           lambda x: pt.nn.functional.leaky_relu(x, 0.1, inplace=True)),
    "clamp_": (lambda x: x.clamp_(-0.5, 0.5), lambda x: x.clamp_(-0.5, 0.5)),
}


def _data(seed=0):
    return np.random.default_rng(seed).standard_normal((3, 4, 5)).astype(np.float32)


@pytest.mark.parametrize("name", WRITES)
def test_a_fresh_result_moves_and_the_gradient_is_torchs(name):
    ours, theirs = WRITES[name]
    w, v = tf.tensor(_data(), requires_grad=True), pt.tensor(_data(), requires_grad=True)
    h, g = w * 2, v * 2
    before = id(h.array)
    early, early_t = h.exp(), g.exp()   # read before the write (its gradient reads its output)
    ours(h), theirs(g)
    assert id(h.array) != before        # took the result's buffer: no copy
    (early * 3 + h).sum().backward()
    (early_t * 3 + g).sum().backward()
    np.testing.assert_allclose(h.detach().numpy(), g.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), v.grad.numpy(), rtol=1e-6)


def test_batch_norm_output_moves_under_relu_inplace():
    bn, x = nn.BatchNorm2d(4), tf.tensor(_data().reshape(3, 4, 5, 1), requires_grad=True)
    y = bn(x)
    before = id(y.array)
    y.relu_()
    assert id(y.array) != before
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_no_grad_write_moves_too():
    x = tf.tensor(_data()) * 1.0
    before = id(x.array)
    with tf.no_grad():
        x.relu_()
    assert id(x.array) != before and (x.numpy() >= 0).all()


def _keeps_buffer_and_writes(x, see):
    """x's memory stays where something else sees it, and that thing sees the write."""
    before = id(x.array)
    x.relu_()
    assert id(x.array) == before
    np.testing.assert_array_equal(see(), np.maximum(_data(), 0))


def test_a_held_numpy_array_sees_the_write():
    x = tf.tensor(_data())
    n = x.numpy()
    _keeps_buffer_and_writes(x, lambda: n)


def test_a_tensor_view_sees_the_write():
    x = tf.tensor(_data())
    v = x[1:]
    _keeps_buffer_and_writes(x, lambda: np.concatenate([x.numpy()[:1], v.numpy()]))


def test_from_numpy_shares_with_its_array():
    a = _data()
    x = tf.from_numpy(a)
    _keeps_buffer_and_writes(x, lambda: a)


def test_a_view_of_part_of_an_array_keeps_its_buffer():
    whole = np.concatenate([_data().ravel(), np.ones(7, np.float32)])
    x = tf.from_numpy(whole[:60].reshape(3, 4, 5))
    del whole
    _keeps_buffer_and_writes(x, lambda: x.numpy())


def test_a_result_the_caller_holds_is_copied_not_shared():
    x, y = tf.tensor(_data()), tf.tensor(_data(1))
    x.copy_(y)
    x.mul_(0)
    assert (y.numpy() == _data(1)).all()    # y's buffer did not become x's
