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
    assert grad.op.type == "GetItemGrads"
    with tf.Session() as sess:
        got = sess.run(grad, {x: X})
    want = np.concatenate([X[..., 2:4], X[..., 0:2], np.ones((2, 3, 2))], -1)
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_concat_gradient_is_slices_at_known_offsets_else_pieces():
    """A concat's gradient: slices of g where the sizes along the axis are known (a
    ConcatPiece reads every input's shape, so a long torch.cat of time steps cost n^2),
    ConcatPiece where a placeholder leaves them to run time; both as PyTorch's."""
    with tf.Graph().as_default():
        a, b = tf.placeholder(tf.float64, [2, 3]), tf.placeholder(tf.float64, [2, 1])
        known = tf.gradients(tf.reduce_sum(tf.concat([a, b], 1) ** 2), [a, b])
        c = tf.placeholder(tf.float64, [2, None])
        unknown = tf.gradients(tf.reduce_sum(tf.concat([c, b], -1) ** 2), [c, b])
        assert {g.op.type for g in known} == {"GetItem"}
        assert {g.op.type for g in unknown} == {"ConcatPiece"}
        x, y = X[0, :2, :3], X[1, :2, :1]
        with tf.Session() as sess:
            got = sess.run(known + unknown, {a: x, b: y, c: x})
    for g, want in zip(got, [2 * x, 2 * y] * 2):
        np.testing.assert_allclose(g, want)
    xs = [torch.tensor(X[0, :, k:k + 2], requires_grad=True) for k in range(3)]
    ts = [tf.tensor(x.detach().numpy(), requires_grad=True) for x in xs]
    (torch.cat(xs, 1) ** 3).sum().backward()
    (tf.cat(ts, 1) ** 3).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(t.grad.numpy(), x.grad.numpy())
