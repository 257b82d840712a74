"""The CNN kernels on the sizes where they cut the batch (or the channels) among threads:
convolution forward and both gradients, max pooling and training batch norm against PyTorch,
in float64 (tight) and float32, with odd batches, one image, one channel, groups, strides and
non-contiguous inputs. Each test also checks that the threaded path ran (tests/test_conv.py
and the op table cover the same kernels on sizes that stay on one thread)."""
from __future__ import annotations

import numpy as np
import pytest

import tinyflow as tf
from tinyflow.backend.numpy import parallel
from tinyflow.nn import functional as F

from pool_helpers import force_pool

torch = pytest.importorskip("torch")
TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-4)}


@pytest.fixture
def threaded(monkeypatch):
    """The source files of the kernels that ran on several threads, one entry per kernel
    call (and there are two threads)."""
    from tinyflow.backend.numpy import conv as conv_kernels
    monkeypatch.setattr(conv_kernels, "MACS_PER_ELEMENT", 1)   # im2col's work as elements
    return force_pool(monkeypatch, 1 << 17, [])   # the sizes below are cut


def _conv_calls(threaded) -> int:
    """Convolution kernel calls among the threaded ones (im2col, Winograd, 1x1 products)."""
    return sum(name in ("conv.py", "_conv_winograd.py", "_conv_numba.py", "_conv_pointwise.py")
               for name in threaded)


def _both(fn, torch_fn, arrays, seed=0):
    """Forward values and every input's gradient, for a random output weighting."""
    ours = [tf.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, y_t = fn(*ours), torch_fn(*theirs)
    weights = np.random.default_rng(seed).standard_normal(y.shape).astype(arrays[0].dtype)
    tf.reduce_sum(y * weights).backward()
    (y_t * torch.tensor(weights)).sum().backward()
    return ([y.detach().numpy()] + [t.grad.numpy() for t in ours],
            [y_t.detach().numpy()] + [t.grad.numpy() for t in theirs])


def _check(fn, torch_fn, arrays, dtype):
    got, want = _both(fn, torch_fn, arrays)
    for k, (g, w) in enumerate(zip(got, want)):
        scale = max(1.0, float(np.abs(w).max()))
        np.testing.assert_allclose(g / scale, w / scale, **TOL[dtype],
                                   err_msg="output" if k == 0 else f"gradient of input {k - 1}")


CONVS = [  # (x shape, w shape, attributes)
    ((64, 32, 14, 14), (64, 32, 5, 5), dict(padding=2)),     # the CNN benchmarks' layers
    ((64, 1, 28, 28), (32, 1, 3, 3), dict(padding=1)),
    ((7, 6, 11, 9), (8, 3, 3, 3), dict(padding=1, groups=2)),
    ((9, 4, 33, 32), (6, 4, 3, 2), dict(stride=2, dilation=(1, 2))),
    ((1, 8, 30, 30), (4, 8, 5, 5), dict(padding=2)),          # one image: one thread
    ((3, 1, 40, 33), (5, 1, 5, 5), dict(stride=(2, 1), padding=(1, 2))),
    ((2, 1, 120, 250), (4, 1, 5, 5), dict(padding=2)),    # one channel, blocks of rows
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shapes", CONVS, ids=lambda s: "x".join(map(str, s[0])))
def test_conv2d_on_threads_matches_torch(threaded, shapes, dtype):
    xs, ws, attrs = shapes
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(dtype)
    _check(lambda a, b: tf.ops.conv2d(a, b, **attrs),
           lambda a, b: torch.nn.functional.conv2d(a, b, **attrs), [x, w], dtype)
    assert _conv_calls(threaded) == (3 if xs[0] > 1 else 0)   # forward, both gradients


def test_lenet_sized_convolutions_stay_on_one_thread(monkeypatch):
    """LeNet's 6 -> 16 5x5 layer at batch 4 (0.96M multiply-adds each way) lost time when
    its forward and input gradient cut the batch (pieces of Python under the GIL, the weight
    packed twice, the pool's thread woken): one piece at the pool's default threshold, while
    8x the batch is still cut; values as torch's."""
    calls = force_pool(monkeypatch, parallel.MIN_ELEMENTS, [])
    rng = np.random.default_rng(4)
    for batch, cut in ((4, 0), (32, 2)):
        x = rng.standard_normal((batch, 6, 14, 14)).astype(np.float32)
        w = (rng.standard_normal((16, 6, 5, 5)) / np.sqrt(150)).astype(np.float32)
        del calls[:]
        _check(lambda a, b: tf.ops.conv2d(a, b), torch.nn.functional.conv2d, [x, w],
               np.float32)
        assert calls.count("conv.py") == cut   # the forward and the input gradient


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shapes", CONVS[:3] + CONVS[-1:], ids=lambda s: "x".join(map(str, s[0])))
def test_conv2d_with_bias_on_threads_matches_torch(threaded, shapes, dtype):
    """With a bias, the weight and bias gradients come from one kernel (the bias summed from
    g's blocks of each thread's images)."""
    xs, ws, attrs = shapes
    rng = np.random.default_rng(2)
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    _check(lambda a, c, d: tf.ops.conv2d(a, c, bias=d, **attrs),
           lambda a, c, d: torch.nn.functional.conv2d(a, c, d, **attrs), [x, w, b], dtype)
    assert _conv_calls(threaded) == 3   # forward, the input's and the parameters' grads


PAIRS = [  # (x shape, w shape, attributes): images small enough for per-pixel-pair GEMMs
    ((64, 32, 2, 2), (48, 32, 3, 3), dict(padding=1)),          # a ResNet's 2x2 layers
    ((33, 40, 6, 5), (36, 40, 3, 3), dict(stride=2, padding=1)),   # 6x5 -> 3x3 (4x4 -> 2x2:
    # regions, tests/test_conv.py)
    ((40, 32, 1, 1), (32, 32, 1, 1), dict(padding=1)),   # outputs reading padding only
    ((50, 32, 3, 2), (40, 32, 2, 3), dict(padding=(1, 2), dilation=(2, 1))),
    ((80, 32, 2, 2), (32, 32, 3, 3), dict(padding=1)),   # rows for each thread: cut
]


@pytest.mark.parametrize("cut", [True, False], ids=["channels-cut", "openblas-threads"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("shapes", PAIRS, ids=lambda s: "x".join(map(str, s[0])))
def test_conv2d_of_small_images_by_pixel_pairs_matches_torch(threaded, monkeypatch, shapes,
                                                             bias, cut):
    from tinyflow.backend.numpy import conv as conv_kernels
    monkeypatch.setattr(conv_kernels, "PAIR_CUT_MIN", 1 if cut else 1 << 30)
    calls = []
    pairs = conv_kernels._conv2d_pairs
    monkeypatch.setattr(conv_kernels, "_conv2d_pairs", lambda *a: calls.append(1) or pairs(*a))
    xs, ws, attrs = shapes
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))]
    if bias:
        arrays.append(rng.standard_normal(ws[0]))
    _check(lambda a, c, *d: tf.ops.conv2d(a, c, bias=(d or [None])[0], **attrs),
           lambda a, c, *d: torch.nn.functional.conv2d(a, c, *d, **attrs), arrays, np.float64)
    # the forward cuts the output channels when told to (but the 1x1 image's one pair is too
    # little work to cut), the input gradient cuts the batch; the weight gradient's few
    # pixels are one part (`_conv_numba.sum_parts`), one product on OpenBLAS's threads
    forward = cut and xs[2:] != (1, 1)
    assert calls == [1] and threaded.count("conv.py") == 1 + forward


def test_conv2d_of_an_empty_batch_of_small_images():
    x, w = np.zeros((0, 32, 2, 2), np.float32), np.ones((40, 32, 3, 3), np.float32)
    got = tf.ops.conv2d(tf.Tensor(x), tf.Tensor(w), bias=tf.Tensor(np.ones(40, np.float32)),
                        padding=1)
    assert got.shape == (0, 40, 2, 2)


def test_conv2d_on_threads_of_non_contiguous_inputs(threaded):
    rng = np.random.default_rng(1)
    x = np.transpose(rng.standard_normal((20, 18, 6, 9)), (2, 3, 1, 0))   # [6, 9, 18, 20]
    w = (rng.standard_normal((12, 9, 3, 6)) / 9)[:, :, :, ::2]
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    _check(lambda a, b: tf.ops.conv2d(a, b, padding=1),
           lambda a, b: torch.nn.functional.conv2d(a, b, padding=1), [x, w], np.float64)
    assert _conv_calls(threaded) == 3


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,kernel", [((64, 32, 28, 28), 2), ((5, 32, 29, 31), 2),
                                          ((3, 40, 33, 36), 3), ((1, 200, 26, 26), (2, 1))],
                         ids=["cnn", "odd-border", "3x3", "one-image"])
def test_max_pool_tiles_on_threads_match_torch(threaded, shape, kernel, dtype):
    """Ties (values rounded to a few levels) route to the first maximum, as in PyTorch."""
    x = np.round(np.random.default_rng(2).standard_normal(shape) * 2).astype(dtype)
    _check(lambda a: tf.ops.max_pool2d(a, kernel),
           lambda a: torch.nn.functional.max_pool2d(a, kernel), [x], dtype)
    assert threaded.count("pool.py") == (shape[0] > 1)     # forward, per image
    assert threaded.count("_conv_numba.py") == 1            # gradient, per plane


def test_max_pool_tiles_on_threads_with_nan(threaded):
    """A NaN is the maximum of its window (one per window: of two, PyTorch takes the last)."""
    x = np.random.default_rng(3).standard_normal((8, 16, 32, 32))
    x[0, 0, 0, 1] = x[3, 5, 7, 6] = x[3, 5, 8, 7] = np.nan
    _check(lambda a: tf.ops.max_pool2d(a, 2), lambda a: torch.nn.functional.max_pool2d(a, 2),
           [x], np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv2d_by_pixel_pairs_on_threads_matches_torch(threaded, dtype):
    """256 -> 257 3x3 at 2x2 (a ResNet's, one more output channel): the pixel pairs cut the
    output channels among the threads, with a bias."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((6, 256, 2, 2)).astype(dtype)
    w = (rng.standard_normal((257, 256, 3, 3)) / 48).astype(dtype)
    b = rng.standard_normal(257).astype(dtype)
    _check(lambda a, c, d: tf.ops.conv2d(a, c, bias=d, padding=1),
           lambda a, c, d: torch.nn.functional.conv2d(a, c, d, padding=1), [x, w, b], dtype)
    assert threaded.count("conv.py") == 2     # the pairs (forward) and the input gradient


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xs,ws,attrs,pooled", [
    ((7, 128, 2, 2), (301, 128, 3, 3), dict(stride=2, padding=1), ["conv.py", "conv.py"]),
    ((5, 256, 1, 1), (300, 256, 3, 3), dict(padding=1), ["_conv_pointwise.py", "conv.py"])],
    ids=["2x2-stride-2", "centre-tap"])
def test_conv2d_of_one_output_pixel_on_threads_matches_torch(threaded, xs, ws, attrs, pooled,
                                                             dtype):
    """One output pixel: the threads each gather and multiply a part of the output
    channels (an odd count here), with a bias. The centre tap alone is a 1x1 kernel, whose
    input gradient is `_conv_pointwise`'s products, the threads cutting the batch."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    _check(lambda a, c, d: tf.ops.conv2d(a, c, bias=d, **attrs),
           lambda a, c, d: torch.nn.functional.conv2d(a, c, d, **attrs), [x, w, b], dtype)
    # the forward and the input gradient; the weight gradient of a few pixels is one part
    # (`_conv_numba.sum_parts`), one product
    assert sorted(n for n in threaded if n in ("conv.py", "_conv_pointwise.py")) == pooled


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,attrs", [
    ((64, 64, 14, 14), dict(kernel_size=3, stride=2, padding=1)),    # the ResNet stem's pool
    ((5, 7, 61, 80), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=2)),
    ((3, 40, 35, 35), dict(kernel_size=3, stride=2, ceil_mode=True))],
    ids=["resnet-stem", "odd", "ceil"])
def test_max_pool_windows_on_threads_match_torch_bit_for_bit(threaded, shape, attrs, dtype):
    """The overlapping-window forward (images cut among the threads) keeps the first maximum
    of each window: ties of 0.0 and -0.0 give the first one's sign, as in PyTorch, and a NaN
    wins its windows; the gradient (one thread) still matches."""
    rng = np.random.default_rng(8)
    x = np.round(rng.standard_normal(shape) * 2).astype(dtype)
    x[x == 0] = np.where(rng.random(int((x == 0).sum())) < 0.5, -0.0, 0.0)
    x[0, 0, 1, 1] = x[-1, -1, 2, 3] = np.nan
    got = tf.ops.max_pool2d(tf.Tensor(x), attrs["kernel_size"],
                            **{k: v for k, v in attrs.items() if k != "kernel_size"}).numpy()
    want = torch.nn.functional.max_pool2d(torch.tensor(x), **attrs).numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    assert threaded.count("_conv_numba.py") == 1
    x[np.isnan(x)] = 0.5
    _check(lambda a: tf.ops.max_pool2d(a, attrs["kernel_size"], **{
        k: v for k, v in attrs.items() if k != "kernel_size"}),
        lambda a: torch.nn.functional.max_pool2d(a, **attrs), [x], dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(64, 32, 28, 28), (7, 5, 9, 11), (3, 64, 50), (1, 3, 200, 220)],
                         ids=["cnn", "odd", "1d", "one-image"])
def test_batch_norm_training_on_threads_matches_torch(threaded, shape, dtype):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    if len(shape) == 4:
        x = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # strided
    c = shape[1]
    w, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    stats = [np.zeros(c, dtype), np.ones(c, dtype)]
    ours = [tf.Tensor(s.copy()) for s in stats]
    theirs = [torch.tensor(s.copy()) for s in stats]
    _check(lambda a, u, v: F.batch_norm(a, *ours, u, v, training=True),
           lambda a, u, v: torch.nn.functional.batch_norm(a, *theirs, u, v, training=True),
           [x, w, b], dtype)
    for got, want in zip(ours, theirs):
        np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL[dtype])
    # the statistics, the forward, and all three gradients (BatchNormGrads) in one kernel
    assert threaded.count("normalization.py") == (3 if x.size >= parallel.MIN_ELEMENTS else 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(128, 256, 2, 2), (6, 40, 1, 1), (60, 48, 9, 9), (300, 520),
                                   (2, 24, 32, 32)],
                         ids=["resnet-2x2", "1x1-small", "9x9-strided", "1d", "under-threshold"])
def test_batch_norm_eval_on_threads_matches_torch(threaded, shape, dtype):
    """Eval mode's one multiply-add per element (ChannelAffine), as rows for images under 64
    pixels, per channel above, channels cut among threads; and its gradients. One pass: x
    counts once toward the pool's threshold (under-threshold: a third of it and more)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    if len(shape) == 4 and shape[2] > 1:
        x = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # strided
    c = shape[1]
    mean, var = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    _check(lambda a, u, v: F.batch_norm(a, tf.Tensor(mean), tf.Tensor(var), u, v),
           lambda a, u, v: torch.nn.functional.batch_norm(a, torch.tensor(mean),
                                                          torch.tensor(var), u, v),
           [x, rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)],
           dtype)
    assert threaded.count("normalization.py") == (1 if x.size >= parallel.MIN_ELEMENTS else 0)


@pytest.mark.parametrize("frozen", ["input", "weight", "both parameters", "nothing"])
def test_batch_norm_gradients_when_some_inputs_need_none(frozen):
    """Input and parameters all trained: one op for the three gradients (BatchNormGrads);
    otherwise the separate ops. Either way torch's gradients, and none where none is due."""
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((5, 3, 4, 6)), rng.standard_normal(3),
              rng.standard_normal(3)]
    needs = {"input": (False, True, True), "weight": (True, False, True),
             "both parameters": (True, False, False), "nothing": (True, True, True)}[frozen]
    ours = [tf.Tensor(a, requires_grad=n) for a, n in zip(arrays, needs)]
    theirs = [torch.tensor(a, requires_grad=n) for a, n in zip(arrays, needs)]
    weights = rng.standard_normal(arrays[0].shape)
    tf.reduce_sum(F.batch_norm(ours[0], None, None, ours[1], ours[2], training=True)
                  * weights).backward()
    (torch.nn.functional.batch_norm(theirs[0], None, None, theirs[1], theirs[2],
                                    training=True) * torch.tensor(weights)).sum().backward()
    for k, (a, b) in enumerate(zip(ours, theirs)):
        if not needs[k]:
            assert a.grad is None
        else:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL[np.float64],
                                       err_msg=f"gradient of input {k}")


@pytest.mark.parametrize("first", [3e6 + 0.5, -3e3], ids=["mean", "outlier"])
def test_batch_norm_statistics_in_one_pass_keep_float64_accuracy(first):
    """The loops sum x - s and its square, s a value of the channel: a mean large against the
    spread (3e6, spread 1: a plain one-pass float64 variance is off by 3e-4) or a first value
    far from the rest costs no precision."""
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((8, 3, 5, 7)) + 3e6).astype(np.float32)
    x[0, :, 0, 0] = first
    from tinyflow.backend.numpy import _batch_norm_loops
    out = np.empty((2, 3), np.float32)
    _batch_norm_loops.moments(x.reshape(8, 3, -1), out, 0, 3)
    wide = x.astype(np.float64)
    np.testing.assert_allclose(out[0], wide.mean(axis=(0, 2, 3)), rtol=1e-7)
    np.testing.assert_allclose(out[1], wide.var(axis=(0, 2, 3)), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_on_threads_matches_torch(threaded, dtype):
    x = np.random.default_rng(5).standard_normal((33, 16, 17, 15)).astype(dtype)
    x[0, 0, 0, :2] = (0.0, -0.0)
    _check(lambda a: F.relu(a * 1), lambda a: torch.nn.functional.relu(a * 1), [x], dtype)
    _check(lambda a: F.relu(a * 1, inplace=True),
           lambda a: torch.nn.functional.relu(a * 1, inplace=True), [x], dtype)
    before = len(threaded)
    y = tf.ops.relu(tf.Tensor(x))
    tf.ops.relu_grad(y, y)
    assert len(threaded) == before + 2      # relu and its gradient alone, each on threads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", [
    ((16, 8, 15, 15), (12, 8, 1, 1), dict(stride=2)),             # a ResNet's downsample
    ((24, 6, 11, 11), (8, 6, 3, 3), dict(stride=2, padding=1)),
    ((16, 32, 8, 8), (32, 32, 3, 3), dict(padding=1)),            # Winograd
    ((12, 4, 11, 7), (6, 2, 3, 2), dict(padding=(1, 0), groups=2, dilation=(2, 1))),
], ids=lambda s: "x".join(map(str, s[0])))
def test_conv2d_gradients_have_the_same_bits_on_any_number_of_threads(monkeypatch, shapes,
                                                                       dtype):
    """The weight (and bias) gradient sums over the batch: the sum's order, and so its bits,
    must not depend on how many threads share the images (with a bias, one kernel gives
    both). The per-image results (the output, the input's gradient) are equal to rounding
    only: OpenBLAS's float32 kernels on some CPUs (AMD EPYC, its Haswell kernels) round a
    row by where it falls in a call, and the threads' calls start at other rows."""
    xs, ws, attrs = shapes
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    results = []
    for threads in (1, 2, 4):
        calls = force_pool(monkeypatch, 1 << 8, [])
        monkeypatch.setattr(parallel, "threads", lambda: threads)
        got = []
        for bias in (None, b):
            ours = [tf.Tensor(a, requires_grad=True) for a in (x, w, bias) if a is not None]
            y = tf.ops.conv2d(*ours[:2], **attrs, bias=None if bias is None else ours[2])
            tf.reduce_sum(y * np.cos(np.arange(np.prod(y.shape), dtype=dtype)).reshape(y.shape)).backward()
            got += [y.detach().numpy()] + [t.grad.numpy() for t in ours]
        results.append(got)
        assert _conv_calls(calls) == (0 if threads == 1 else 6)
    sums = {2, 5, 6}        # y, dx, dw without a bias; y, dx, dw, db with one
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for other in results[1:]:
        for k, (a, c) in enumerate(zip(results[0], other)):
            if k in sums:
                assert a.tobytes() == c.tobytes(), f"result {k}"
            else:
                np.testing.assert_allclose(c, a, rtol=rtol, atol=rtol * np.abs(a).max(),
                                           err_msg=f"result {k}")
