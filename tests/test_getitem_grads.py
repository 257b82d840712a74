"""The gradients of several getitems of one tensor (split, chunk, q/k/v slices) are gathered by
the reverse sweep into one getitem_grads op: checked by finite differences, against PyTorch,
through second order and in a TF1 graph, where the op count is visible."""
import numpy as np
import pytest
import torch

import tinyflow as tf
from torch_oracle import gradcheck

RNG = np.random.default_rng(3)
X = RNG.standard_normal((2, 3, 6))

PIECEWISE = {
    "split_all_used": lambda x: (lambda a, b, c: a * b + c * c)(*x.split(2, dim=-1)),
    "chunk_one_unused": lambda x: (lambda a, b, c: a * 2 + c)(*x.chunk(3, -1)),
    "overlapping_and_whole": lambda x: (x[:, :2] * x[:, 1:] + x[:, :2] * 3
                                        + x[:, 1:] * x[1, :2]),
    "ints_and_arrays": lambda x: (x[0] * 2 + x[1][:, [0, 0, 5, 2, 1, 4]] + x[-1]
                                  + x[[0, 0]].sum(0)),
    "attention_qkv": lambda x: (lambda q, k, v: q @ k.transpose(-1, -2) @ v)(
        *x.split(2, dim=-1)),
}


@pytest.mark.parametrize("name", list(PIECEWISE))
def test_gathered_gradient_matches_finite_differences(name):
    gradcheck(lambda x: PIECEWISE[name](x), X)


@pytest.mark.parametrize("name", list(PIECEWISE))
def test_gathered_gradient_matches_pytorch(name):
    w = RNG.standard_normal(PIECEWISE[name](tf.tensor(X)).shape)
    grads = []
    for lib in (tf, torch):
        x = lib.tensor(X, requires_grad=True)
        (PIECEWISE[name](x) * lib.tensor(w)).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)


def test_second_order_through_the_gathered_gradient():
    def first(lib):
        x = lib.tensor(X, requires_grad=True)
        a, b, c = x.split(2, dim=-1)
        (g,) = lib.autograd.grad((a * a * b + c).sum(), x, create_graph=True)
        (g * g).sum().backward()
        return x.grad.numpy()
    np.testing.assert_allclose(first(tf), first(torch), rtol=1e-12, atol=1e-12)


def test_split_gradient_is_one_op_in_a_graph():
    x = tf.placeholder(tf.float64, [2, 3, 6])
    a, b, c = tf.split(x, 3, axis=2)
    (grad,) = tf.gradients(tf.reduce_sum(a * b + c), [x])
    assert grad.op.name == "getitem_grads"
    with tf.Session() as sess:
        got = sess.run(grad, {x: X})
    want = np.concatenate([X[..., 2:4], X[..., 0:2], np.ones((2, 3, 2))], -1)
    np.testing.assert_allclose(got, want, rtol=1e-15)
