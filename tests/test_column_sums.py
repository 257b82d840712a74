"""Sums over leading axes (a linear layer's bias gradient) take a Numba column-sum loop
(backend/numpy/_sum_loops.py): checked against float64 sums and PyTorch, on NaN, inf and
-0.0 as NumPy's sum, and through a Linear's bias gradient in float64 by finite differences."""
import numpy as np
import pytest
import torch

import tinyflow as tf
from tinyflow.backend.numpy import reduce as kernels
from tinyflow.ops import reduce as ops
from torch_oracle import gradcheck

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, dims", [
    ((1024, 256), 0), ((67, 129), 0), ((5, 2000), 0), ((33, 7, 40), (0, 1)),
    ((8, 128, 256), 0), ((3, 4, 5, 600), (0, 1, 2)), ((70, 90), -2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_leading_sums_match_float64_and_torch(dtype, shape, dims, keepdim):
    x = RNG.standard_normal(shape).astype(dtype)
    got = tf.tensor(x).sum(dims, keepdim=keepdim).numpy()
    want = torch.from_numpy(x).sum(dims, keepdim=keepdim).numpy()
    exact = x.astype(np.float64).sum(dims, keepdims=keepdim)
    assert got.dtype == dtype and got.shape == want.shape
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, exact, rtol=tol, atol=tol * np.sqrt(x.size))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(x.size))


def test_long_float32_columns_are_summed_in_float64_blocks():
    """100,000 rows of 0.1: NumPy's sum along axis 0 adds them one by one in float32 (9998.56);
    the loop's float32 blocks of 32 rows go into float64 sums."""
    x = np.full((100_000, 8), 0.1, np.float32)
    got = tf.tensor(x).sum(0).numpy()
    np.testing.assert_allclose(got, np.full(8, 10_000.0), rtol=1e-6)


def test_special_values_as_numpy():
    x = RNG.standard_normal((64, 128)).astype(np.float32)
    x[:, 0] = -0.0                      # a column of -0.0 sums to +0.0, as NumPy's
    x[3, 1], x[9, 2] = np.inf, -np.inf
    x[5, 3], x[6, 3] = np.inf, -np.inf  # inf - inf: NaN
    x[7, 4] = np.nan
    got = tf.tensor(x).sum(0).numpy()
    want = np.add.reduce(x, 0)
    np.testing.assert_array_equal(np.signbit(got[:1]), np.signbit(want[:1]))
    np.testing.assert_array_equal(got[1:5], want[1:5])
    np.testing.assert_allclose(got[5:], want[5:], rtol=1e-5, atol=1e-4)


def test_other_axes_and_layouts_keep_numpy():
    """Not leading axes, not C-contiguous, integers, small: NumPy's sum, as before."""
    x = RNG.standard_normal((64, 128)).astype(np.float32)
    assert kernels._leading_sum(ops.Sum(axis=(1,), keepdims=False), x) is None
    for y in (x.T, x[:, ::2], (x * 100).astype(np.int32), x[:8, :8]):
        np.testing.assert_allclose(tf.tensor(y).sum(0).numpy(), np.add.reduce(y, 0),
                                   rtol=1e-5, atol=1e-4)


def test_linear_bias_gradient_float64_finite_differences():
    """g [96, 48] (4608 values) reaches the loop as the bias gradient's sum."""
    x, w = tf.tensor(RNG.standard_normal((96, 40))), tf.tensor(RNG.standard_normal((48, 40)))
    gradcheck(lambda b: tf.nn.functional.linear(x, w, b) ** 2, RNG.standard_normal(48))


def test_linear_bias_gradient_matches_torch():
    x = RNG.standard_normal((512, 64)).astype(np.float32)
    g = RNG.standard_normal((512, 96)).astype(np.float32)
    grads = []
    for lib in (tf, torch):
        layer = lib.nn.Linear(64, 96)
        with lib.no_grad():
            layer.weight.copy_(lib.tensor(RNG.standard_normal((96, 64)).astype(np.float32)))
        (layer(lib.tensor(x)) * lib.tensor(g)).sum().backward()
        grads.append(layer.bias.grad.numpy())
    np.testing.assert_allclose(grads[0], g.astype(np.float64).sum(0), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("keepdim", [False, True])
def test_into_out_the_same_bits_as_without(keepdim):
    """A planned run hands the kernel an arena buffer (`out=`): the same loop, the same bits
    as the eager call (and the graph's recording run), in a contiguous out or a strided one."""
    x = RNG.standard_normal((1000, 3, 64)).astype(np.float32)
    op = ops.Sum(axis=(0,), keepdims=keepdim)
    want = kernels.sum_(op, x)
    got = kernels.sum_(op, x, out=np.empty_like(want))
    np.testing.assert_array_equal(got, want)
    strided = np.empty(want.shape + (2,), np.float32)[..., 0]
    np.testing.assert_array_equal(kernels.sum_(op, x, out=strided), want)
    np.testing.assert_array_equal(strided, want)


def test_session_runs_give_the_same_bits():
    """The first Session.run of a shape hands out the recording run's values (no `out=`), the
    next ones write planned buffers: a column sum inside the graph gives the same bits in each,
    and as the unplanned reference loop's."""
    xv = RNG.standard_normal((1000, 64)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 64])
    y = tf.reduce_sum(tf.exp(x * 0.1), axis=0) * 2.0
    with tf.Session() as sess:
        runs = [sess.run(y, {x: xv}) for _ in range(3)]
    with tf.Session(planned=False) as sess:
        runs.append(sess.run(y, {x: xv}))
    for other in runs[1:]:
        np.testing.assert_array_equal(other, runs[0])


def test_one_column_keeps_numpy():
    """A Linear(n, 1)'s bias gradient sums one column: NumPy's contiguous sum is 3-5x faster
    than the loop there (row at a time, one element wide)."""
    for shape, axes in (((100_000, 1), (0,)), ((50, 200, 1), (0, 1))):
        x = RNG.standard_normal(shape).astype(np.float32)
        assert kernels._leading_sum(ops.Sum(axis=axes, keepdims=False), x) is None
        np.testing.assert_allclose(tf.tensor(x).sum(axes).numpy(), x.astype(np.float64).sum(axes),
                                   rtol=1e-5)


def test_broadcast_bias_gradients_take_the_same_loop():
    """A bias added by broadcasting (TF1's `matmul(x, w) + b`, eager `x + b`) gets its
    gradient from SumTo: the same column sums, the same bits as Linear's bias gradient."""
    g = RNG.standard_normal((512, 96)).astype(np.float32)
    want = kernels.sum_(ops.Sum(axis=(0,), keepdims=False), g)
    b = tf.zeros(96, requires_grad=True)
    (tf.zeros((512, 96)) + b).backward(tf.tensor(g))
    np.testing.assert_array_equal(b.grad.numpy(), want)
    bias = tf.zeros((1, 1, 96), requires_grad=True)   # [1, 1, width] over [8, 64, width]
    (tf.zeros((8, 64, 96)) + bias).backward(tf.tensor(g.reshape(8, 64, 96)))
    np.testing.assert_array_equal(bias.grad.numpy().reshape(96), want)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 96])
    v = tf.Variable(np.zeros(96, np.float32))
    grad = tf.gradients(tf.reduce_sum((x + v) * g), v)[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        runs = [sess.run(grad, {x: np.zeros((512, 96), np.float32)}) for _ in range(2)]
    for run in runs:
        np.testing.assert_array_equal(run, want)
