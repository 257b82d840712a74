"""Convolution and pooling against PyTorch (forward, backward, double backward) over a grid
of stride / padding / dilation / groups / ceil_mode / count_include_pad; the TF1 functions
(NHWC, SAME / VALID) against NumPy references.

The op table (tests/op_table/conv.py and pool.py) already checks every op's gradients against
numbers in float64, to second order and in forward mode, and its errors on bad input; this
file pins the semantics.
"""
from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pytest

import tinyflow as tf
from tinyflow.core.errors import ShapeError
from tinyflow.nn import tf_functions as tfn
from tinyflow.ops import adaptive_avg_pool2d, avg_pool2d, conv2d, max_pool2d

RTOL, ATOL = 1e-5, 1e-5


def _close(got, want, what=""):
    """float32 against PyTorch's (or NumPy's float64) float32 results."""
    np.testing.assert_allclose(got, np.asarray(want), rtol=RTOL, atol=ATOL, err_msg=what)


def _seeded(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _ours_and_torch(fn, torch_fn, arrays, rng):
    """Forward values and input gradients (for a random output weighting) of both."""
    torch = pytest.importorskip("torch")
    ours = [tf.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, y_t = fn(*ours), torch_fn(*theirs)
    assert y.shape == tuple(y_t.shape)
    weights = rng.standard_normal(y.shape)
    tf.reduce_sum(y * weights).backward()
    (y_t * torch.tensor(weights)).sum().backward()
    return ([y.detach().numpy()] + [t.grad.numpy() for t in ours],
            [y_t.detach().numpy()] + [t.grad.numpy() for t in theirs])


def _check(fn, torch_fn, arrays, seed=0):
    got, want = _ours_and_torch(fn, torch_fn, arrays, np.random.default_rng(seed + 1))
    for k, (g, w) in enumerate(zip(got, want)):
        _close(g, w, "output" if k == 0 else f"gradient of input {k - 1}")


# ---- conv2d ------------------------------------------------------------------------------

CONV_GRID = [
    dict(stride=s, padding=p, dilation=d, groups=g)
    for s, p, d, g in itertools.product((1, 2, (2, 1)), (0, 1, (2, 1), "valid"), (1, 2, (1, 2)),
                                        (1, 2, 6))
] + [dict(stride=1, padding="same", dilation=d, groups=g)
     for d, g in itertools.product((1, 2, (2, 3)), (1, 3))]


@pytest.mark.slow  # the full grid; the op table covers conv2d's samples in every run
@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch pads a copy: fine here
@pytest.mark.parametrize("attrs", CONV_GRID, ids=lambda a: "-".join(map(str, a.values())))
def test_conv2d_matches_torch(attrs):
    F = pytest.importorskip("torch.nn.functional")
    rng = _seeded(attrs)
    groups = attrs["groups"]
    x = _rand(rng, 3, 6, 9, 8)
    w = _rand(rng, 2 * groups if groups > 1 else 4, 6 // groups, 3, 2)
    _check(lambda a, b: conv2d(a, b, **attrs), lambda a, b: F.conv2d(a, b, None, **attrs),
           [x, w])


def test_conv2d_asymmetric_padding_matches_torch_pad_then_conv():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    x, w = _rand(rng, 2, 3, 7, 6), _rand(rng, 4, 3, 3, 3)
    _check(lambda a, b: conv2d(a, b, stride=2, padding=((0, 2), (1, 0))),
           lambda a, b: F.conv2d(F.pad(a, (1, 0, 0, 2)), b, stride=2), [x, w])


def test_conv2d_non_contiguous_inputs():
    F = pytest.importorskip("torch.nn.functional")
    rng = np.random.default_rng(4)
    x = np.transpose(_rand(rng, 7, 8, 5, 2), (3, 2, 1, 0))  # [2, 5, 8, 7], a transposed view
    w = _rand(rng, 6, 5, 3, 6)[:, :, :, ::2]  # every other column
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    _check(lambda a, b: conv2d(a, b, padding=1), lambda a, b: F.conv2d(a, b, padding=1),
           [x, w])


@pytest.mark.parametrize("block_bytes", [1, 3000, 20000], ids=["rows", "some-rows", "images"])
@pytest.mark.parametrize("cin", [1, 4])
def test_conv2d_column_blocks_match_torch(monkeypatch, block_bytes, cin):
    """The kernels cut the batch into blocks of columns (BLOCK_BYTES): a few whole images,
    or output rows of one image when an image's columns do not fit; every cut gives the
    same values and gradients, with and without the bias each block's copy adds."""
    F = pytest.importorskip("torch.nn.functional")
    from tinyflow.backend.numpy import conv as conv_kernels
    monkeypatch.setattr(conv_kernels, "BLOCK_BYTES", block_bytes)
    rng = _seeded("blocks", block_bytes, cin)
    x, w, b = _rand(rng, 5, cin, 9, 7), _rand(rng, 6, cin, 3, 3), _rand(rng, 6)
    _check(lambda a, c: conv2d(a, c, padding=1), lambda a, c: F.conv2d(a, c, padding=1),
           [x, w])
    _check(lambda a, c, d: conv2d(a, c, padding=1, bias=d),
           lambda a, c, d: F.conv2d(a, c, d, padding=1), [x, w, b])


# Taps whose windows read only zero padding at every output are cut from the kernel
# (`_live_taps`): (input HxW, kernel, attrs, the taps kept per axis).
DEAD_TAP_CASES = [
    ((1, 1), (3, 3), dict(padding=1), (1, 1)),                     # the centre tap only
    ((2, 2), (3, 3), dict(stride=2, padding=1), (2, 2)),           # the first row and column
    ((2, 3), (3, 3), dict(stride=2, padding=1, groups=2), (2, 3)),
    ((1, 4), (3, 3), dict(padding=(2, 1), dilation=2), (1, 3)),    # the middle row
    ((2, 3), (5, 3), dict(padding=(3, 1), stride=(5, 1)), (2, 3)),
    # the first row reads only padding, but cutting it would need padding -1: kept
    ((2, 1), (2, 1), dict(padding=1, stride=(2, 1), dilation=(2, 1)), (2, 1)),
    # the row's windows step over the input (rows -4 and 1): not a cut from either end
    ((1, 2), (1, 3), dict(padding=(4, 1), stride=5), (1, 2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hw, khw, attrs, kept", DEAD_TAP_CASES, ids=lambda a: str(a))
def test_conv2d_taps_in_padding_match_torch(hw, khw, attrs, kept, dtype):
    """Values and all three gradients (bias too) with the taps in padding cut, which they
    are (the gradient of a cut tap is zero)."""
    F = pytest.importorskip("torch.nn.functional")
    import tinyflow as torch_like
    from tinyflow.backend.numpy import conv as conv_kernels
    op = tf.ops.conv.Conv2d(**tf.ops.conv.conv_attrs(**attrs))
    cut = conv_kernels._live_taps(op, hw, khw)[2]
    assert tuple(c.stop - c.start for c in cut) == kept
    rng = _seeded("dead taps", hw, khw, attrs)
    groups = attrs.get("groups", 1)
    x, b = _rand(rng, 3, 4, *hw).astype(dtype), _rand(rng, 6).astype(dtype)
    w = _rand(rng, 6, 4 // groups, *khw).astype(dtype)
    _check(lambda a, c, d: torch_like.nn.functional.conv2d(a, c, d, **attrs),
           lambda a, c, d: F.conv2d(a, c, d, **attrs), [x, w, b])
    _check(lambda a, c: conv2d(a, c, **attrs), lambda a, c: F.conv2d(a, c, **attrs), [x, w])


BIAS_CASES = [dict(), dict(stride=2, padding=1), dict(stride=(1, 2), padding=(2, 1), dilation=2),
              dict(groups=3, padding="same"), dict(groups=6, dilation=(1, 2)),
              dict(stride=2, groups=2, padding=(0, 1))]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("attrs", BIAS_CASES, ids=lambda a: "-".join(map(str, a.values())))
@pytest.mark.parametrize("cin", [1, 6])
def test_conv2d_with_bias_matches_torch(attrs, cin):
    """The bias as part of the conv op (Conv2dBias): values and the gradients of input,
    weight and bias, through the PyTorch front end's F.conv2d as users call it."""
    F = pytest.importorskip("torch.nn.functional")
    import tinyflow as torch_like
    if cin == 1 and attrs.get("groups", 1) > 1:
        pytest.skip("groups need several input channels")
    rng = _seeded("bias", attrs, cin)
    groups = attrs.get("groups", 1)
    x, b = _rand(rng, 3, cin, 9, 8), _rand(rng, 6)
    w = _rand(rng, 6, cin // groups, 3, 2)
    _check(lambda a, c, d: torch_like.nn.functional.conv2d(a, c, d, **attrs),
           lambda a, c, d: F.conv2d(a, c, d, **attrs), [x, w, b])


@pytest.mark.parametrize("cin, cout, groups", [(8, 8, 1), (4, 40, 1), (3, 16, 1), (8, 16, 2)],
                         ids=["taps-rows", "many-outputs", "few-taps", "taps-rows-groups"])
@pytest.mark.parametrize("bias", [False, True])
def test_conv2d_weight_gradient_either_product_way_matches_torch(cin, cout, groups, bias):
    """The weight gradient's product runs with the taps as rows (few output channels, many
    taps: `conv.TAP_ROWS_FROM`) or the output channels as rows; 4x4 at stride 2, as a GAN's
    layers, with and without the bias summed from the same rows."""
    F = pytest.importorskip("torch.nn.functional")
    from tinyflow.backend.numpy import conv as kernels
    import tinyflow as torch_like
    og, kg = cout // groups, 16 * cin // groups
    assert (kg >= kernels.TAP_ROWS_FROM * og and og <= kernels.TAP_ROWS_MAX_OUT) == (
        cout in (8, 16) and cin >= 8)
    rng = _seeded("orientation", cin, cout, groups, bias)
    x, w, b = _rand(rng, 3, cin, 10, 9), _rand(rng, cout, cin // groups, 4, 4), _rand(rng, cout)
    attrs = dict(stride=2, padding=1, groups=groups)
    if bias:
        _check(lambda a, c, d: torch_like.nn.functional.conv2d(a, c, d, **attrs),
               lambda a, c, d: F.conv2d(a, c, d, **attrs), [x, w, b])
    else:
        _check(lambda a, c: torch_like.nn.functional.conv2d(a, c, None, **attrs),
               lambda a, c: F.conv2d(a, c, None, **attrs), [x, w])


@pytest.mark.parametrize("frozen", ["weight", "bias", "input"])
@pytest.mark.parametrize("cin", [1, 4])
def test_conv2d_bias_gradients_when_some_inputs_need_none(frozen, cin):
    """Weight and bias both trained take one op for their two gradients
    (Conv2dGradWeightBias); a frozen weight or bias (or input) takes the separate ops. Each
    way gives torch's gradients of what needs one, and none for the rest."""
    torch = pytest.importorskip("torch")
    rng = _seeded("frozen", frozen, cin)
    arrays = dict(input=_rand(rng, 3, cin, 8, 7), weight=_rand(rng, 5, cin, 3, 3),
                  bias=_rand(rng, 5))
    ours = {k: tf.Tensor(a, requires_grad=k != frozen) for k, a in arrays.items()}
    theirs = {k: torch.tensor(a, requires_grad=k != frozen) for k, a in arrays.items()}
    weights = _rand(rng, 3, 5, 8, 7)
    tf.reduce_sum(conv2d(ours["input"], ours["weight"], padding=1, bias=ours["bias"])
                  * weights).backward()
    (torch.nn.functional.conv2d(*theirs.values(), padding=1)
     * torch.tensor(weights)).sum().backward()
    for k in arrays:
        if k == frozen:
            assert ours[k].grad is None
        else:
            _close(ours[k].grad.numpy(), theirs[k].grad.numpy(), k)


def test_conv1d_with_bias_and_unbatched_input_match_torch():
    F = pytest.importorskip("torch.nn.functional")
    import tinyflow as torch_like
    rng = _seeded("conv1d-bias")
    x, w, b = _rand(rng, 2, 4, 11), _rand(rng, 6, 2, 3), _rand(rng, 6)
    _check(lambda a, c, d: torch_like.nn.functional.conv1d(a, c, d, stride=2, padding=1,
                                                           groups=2),
           lambda a, c, d: F.conv1d(a, c, d, stride=2, padding=1, groups=2), [x, w, b])
    _check(lambda a, c, d: torch_like.nn.functional.conv2d(a, c, d, padding=1),
           lambda a, c, d: F.conv2d(a, c, d, padding=1), [x[0].reshape(4, 1, 11),
                                                             _rand(rng, 6, 4, 1, 3), b])


@pytest.mark.parametrize("attrs", [dict(stride=2, padding=1), dict(dilation=2, groups=2),
                                   dict(padding="same", groups=4)])
def test_conv2d_double_backward_matches_torch(attrs):
    """d/d(x, w) of <grad_x, v> + <grad_w, u>: exercises both gradient ops' vjps."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    x, w = _rand(rng, 2, 4, 7, 6), _rand(rng, 4, 4 // attrs.get("groups", 1), 3, 3)
    ours = [tf.Tensor(a, requires_grad=True) for a in (x, w)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w)]
    y, y_t = conv2d(*ours, **attrs), F.conv2d(*theirs, **attrs)
    weights = rng.standard_normal(y.shape)
    v, u = _rand(rng, *x.shape), _rand(rng, *w.shape)
    gx, gw = tf.gradients(tf.reduce_sum(y * weights), ours)
    second = tf.gradients(tf.reduce_sum(gx * v) + tf.reduce_sum(gw * u), ours)
    gx_t, gw_t = torch.autograd.grad((y_t * torch.tensor(weights)).sum(), theirs,
                                     create_graph=True)
    second_t = torch.autograd.grad((gx_t * torch.tensor(v)).sum() +
                                   (gw_t * torch.tensor(u)).sum(), theirs)
    for got, want in zip(second, second_t):
        _close(got.detach().numpy(), want.detach().numpy())


def test_conv2d_symbolic_matches_eager():
    rng = np.random.default_rng(6)
    x, w = _rand(rng, 2, 3, 6, 6), _rand(rng, 4, 3, 3, 3)
    with tf.Graph().as_default(), tf.Session() as sess:
        px = tf.placeholder(tf.float32, (None, 3, None, None))
        pw = tf.placeholder(tf.float32, (4, 3, 3, 3))
        y = conv2d(px, pw, stride=2, padding="valid")
        assert y.shape == (None, 4, None, None)
        value = sess.run(y, {px: x, pw: w})
    _close(value, conv2d(x, w, stride=2).numpy())


# ---- pooling -----------------------------------------------------------------------------

MAX_GRID = [dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=c)
            for k, s, p, d, c in itertools.product((2, 3, (3, 2)), (None, 1, 2, (2, 1)),
                                                   (0, 1), (1, 2), (False, True))
            if not (p == 1 and k == (3, 2))]  # padding must be at most half the kernel


@pytest.mark.slow  # the full grid, as conv2d's
@pytest.mark.parametrize("attrs", MAX_GRID, ids=lambda a: "-".join(map(str, a.values())))
def test_max_pool2d_matches_torch(attrs):
    F = pytest.importorskip("torch.nn.functional")
    rng = _seeded(attrs)
    x = _rand(rng, 2, 3, 9, 8)
    _check(lambda a: max_pool2d(a, **attrs), lambda a: F.max_pool2d(a, **attrs), [x])


def test_max_pool2d_ties_route_to_the_first_maximum_and_overlaps_add_up():
    torch = pytest.importorskip("torch")
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = 1.0  # a tie inside overlapping windows
    _check(lambda a: max_pool2d(a, 3, stride=1),
           lambda a: torch.nn.functional.max_pool2d(a, 3, stride=1), [x])


def test_max_pool_tile_gradient_writes_every_element_of_its_output():
    """The 2x2 tile loop fills dx itself: whatever the buffer held before (NaN here) is gone,
    and each tile's first maximum gets g (ties: the ReLU zeros of an all-zero tile)."""
    torch = pytest.importorskip("torch")
    from tinyflow.backend.numpy import _conv_loops
    rng = np.random.default_rng(7)
    x = np.maximum(np.round(rng.standard_normal((3, 4, 6, 8)) * 2), 0).astype(np.float32)
    g = _rand(rng, 3, 4, 3, 4)
    dx = np.full(x.shape, np.nan, np.float32)
    _conv_loops.pair_max_grad(x.reshape(-1), g.reshape(-1), dx.reshape(-1), 0, 3 * 4 * 3, 8,
                              np.float32(0))
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(tx, 2).backward(torch.tensor(g))
    np.testing.assert_array_equal(dx, tx.grad.numpy())


@pytest.mark.parametrize("size, attrs", [
    ((4, 4), dict(kernel_size=3, dilation=2, ceil_mode=True)),          # the window hangs past
    ((1, 4), dict(kernel_size=(1, 3), dilation=(1, 2), ceil_mode=True)),
    ((5, 3), dict(kernel_size=3, stride=2, dilation=2, padding=1, ceil_mode=True)),
    ((1, 2), dict(kernel_size=2, stride=2, ceil_mode=True)),
])
def test_max_pool2d_ceil_mode_window_larger_than_the_input_matches_torch(size, attrs):
    F = pytest.importorskip("torch.nn.functional")
    x = _rand(np.random.default_rng(5), 2, 3, *size)
    _check(lambda a: max_pool2d(a, **attrs), lambda a: F.max_pool2d(a, **attrs), [x])


def test_max_pool2d_refuses_a_dilated_window_of_padding_only():
    """Taps at -1 and +1 of a 1-pixel input: PyTorch gives -inf (or unwritten memory in
    ceil_mode); we refuse, naming the window."""
    for ceil_mode in (False, True):
        with pytest.raises(ValueError, match="window 0 along rows covers only padding"):
            max_pool2d(tf.Tensor(np.ones((1, 1, 1, 2))), 2, 1, 1, dilation=2,
                       ceil_mode=ceil_mode)


def test_avg_pool_refuses_a_zero_divisor_override():
    F = tf.nn.functional
    with pytest.raises(ValueError, match="avg_pool2d: divisor_override must not be zero"):
        F.avg_pool2d(tf.Tensor(np.ones((1, 1, 4, 4))), 2, divisor_override=0)
    with pytest.raises(ValueError, match="avg_pool3d: divisor_override must not be zero"):
        F.avg_pool3d(tf.Tensor(np.ones((1, 1, 4, 4, 4))), 2, divisor_override=0)


AVG_GRID = [dict(kernel_size=k, stride=s, padding=p, ceil_mode=c, count_include_pad=i)
            for k, s, p, c, i in itertools.product((2, 3, (3, 2)), (None, 1, 2, (2, 1)), (0, 1),
                                                   (False, True), (True, False))
            if not (p == 1 and k == (3, 2))]


@pytest.mark.slow  # the full grid, as conv2d's
@pytest.mark.parametrize("attrs", AVG_GRID, ids=lambda a: "-".join(map(str, a.values())))
def test_avg_pool2d_matches_torch(attrs):
    F = pytest.importorskip("torch.nn.functional")
    rng = _seeded(attrs)
    x = _rand(rng, 2, 3, 9, 8)
    _check(lambda a: avg_pool2d(a, **attrs), lambda a: F.avg_pool2d(a, **attrs), [x])


@pytest.mark.parametrize("size", [(3, 4), (4, 3), (5, 7), 1, (9, 8), (2, None), (6, 5)])
def test_adaptive_avg_pool2d_matches_torch(size):
    F = pytest.importorskip("torch.nn.functional")
    x = _rand(np.random.default_rng(7), 2, 3, 9, 8)
    _check(lambda a: adaptive_avg_pool2d(a, size), lambda a: F.adaptive_avg_pool2d(a, size),
           [x])


@pytest.mark.parametrize("which", ["max", "avg"])
def test_pool_double_backward_matches_torch(which):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    pool_ours = {"max": max_pool2d, "avg": avg_pool2d}[which]
    pool_torch = {"max": F.max_pool2d, "avg": F.avg_pool2d}[which]
    rng = np.random.default_rng(8)
    x, v = _rand(rng, 2, 3, 7, 6), _rand(rng, 2, 3, 7, 6)
    xt, xt_t = tf.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, y_t = pool_ours(xt, 3, 2, 1, ceil_mode=True), pool_torch(xt_t, 3, 2, 1, ceil_mode=True)
    weights = rng.standard_normal(y.shape)
    w = tf.Tensor(weights, requires_grad=True)
    w_t = torch.tensor(weights, requires_grad=True)
    (g,) = tf.gradients(tf.reduce_sum(y * w), [xt])
    (g_t,) = torch.autograd.grad((y_t * w_t).sum(), [xt_t], create_graph=True)
    (gw,) = tf.gradients(tf.reduce_sum(g * v), [w])  # d<grad, v>/d(output weights)
    (gw_t,) = torch.autograd.grad((g_t * torch.tensor(v)).sum(), [w_t])
    _close(gw.detach().numpy(), gw_t.detach().numpy())


# ---- TF1 functions (NHWC) against NumPy --------------------------------------------------

def _tf_pads(size, k, s, d, padding):
    if padding == "VALID":
        return (0, 0)
    total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
    return (total // 2, total - total // 2)


def _np_tf_windows(x, ksize, strides, padding, dilations=(1, 1), fill=0.0):
    """x [N, H, W, C] padded as TF pads it, and each output pixel's window [N, kh, kw, C]."""
    pads = [_tf_pads(x.shape[1 + i], ksize[i], strides[i], dilations[i], padding)
            for i in (0, 1)]
    xp = np.pad(x.astype(np.float64), [(0, 0)] + pads + [(0, 0)], constant_values=fill)
    span = [dilations[i] * (ksize[i] - 1) + 1 for i in (0, 1)]
    out = [(xp.shape[1 + i] - span[i]) // strides[i] + 1 for i in (0, 1)]
    for oh in range(out[0]):
        for ow in range(out[1]):
            r, c = oh * strides[0], ow * strides[1]
            yield oh, ow, out, xp[:, r:r + span[0]:dilations[0], c:c + span[1]:dilations[1]]


def np_tf_conv2d(x, f, strides, padding, dilations=(1, 1)):
    y = None
    for oh, ow, out, win in _np_tf_windows(x, f.shape[:2], strides, padding, dilations):
        if y is None:
            y = np.zeros((x.shape[0],) + tuple(out) + (f.shape[3],))
        y[:, oh, ow] = np.einsum("nhwc,hwco->no", win, f)
    return y


def np_tf_pool(x, ksize, strides, padding, kind):
    y = None
    ones = np.ones((1,) + x.shape[1:3] + (1,))
    counts = {(oh, ow): win.sum()
              for oh, ow, _, win in _np_tf_windows(ones, ksize, strides, padding)}
    fill = -np.inf if kind == "max" else 0.0
    for oh, ow, out, win in _np_tf_windows(x, ksize, strides, padding, fill=fill):
        if y is None:
            y = np.zeros((x.shape[0],) + tuple(out) + (x.shape[3],))
        y[:, oh, ow] = win.max((1, 2)) if kind == "max" else win.sum((1, 2)) / counts[oh, ow]
    return y


TF_GRID = [(hw, k, s, p) for hw, k, s, p in itertools.product(
    ((7, 7), (8, 5), (5, 6)), ((3, 3), (2, 2), (4, 3), (1, 1)), (1, 2, 3), ("SAME", "VALID"))]


@pytest.mark.parametrize("hw,k,s,padding", TF_GRID)
def test_tf_conv2d_matches_numpy(hw, k, s, padding):
    rng = _seeded(hw, k, s, padding)
    x, f = _rand(rng, 2, *hw, 3), _rand(rng, *k, 3, 4)
    y = tfn.conv2d(x, f, strides=[1, s, s, 1], padding=padding)
    _close(y.numpy(), np_tf_conv2d(x, f, (s, s), padding))


@pytest.mark.parametrize("dilations", [(2, 2), (1, 3)])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_tf_conv2d_dilated_matches_numpy(dilations, padding):
    rng = np.random.default_rng(9)
    x, f = _rand(rng, 2, 9, 8, 3), _rand(rng, 3, 2, 3, 2)
    y = tfn.conv2d(x, f, [1, 1, 1, 1], padding, dilations=[1, *dilations, 1])
    _close(y.numpy(), np_tf_conv2d(x, f, (1, 1), padding, dilations))


def test_tf_conv2d_nchw_explicit_padding_and_gradients_in_a_session():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    x, f = _rand(rng, 2, 3, 7, 6), _rand(rng, 3, 2, 3, 4)  # NCHW input, HWIO filter
    with tf.Graph().as_default(), tf.Session() as sess:
        px = tf.placeholder(tf.float32, (None, 3, 7, 6))
        pf = tf.placeholder(tf.float32, (3, 2, 3, 4))
        y = tfn.conv2d(px, pf, [1, 1, 2, 2], [[0, 0], [0, 0], [2, 1], [0, 1]],
                       data_format="NCHW", name="conv")
        assert y.shape == (None, 4, 4, 3)
        grads = tf.gradients(tf.reduce_sum(y * y), [px, pf])
        got = sess.run([y] + grads, {px: x, pf: f})
    xt = torch.tensor(x, requires_grad=True)
    ft = torch.tensor(f, requires_grad=True)
    yt = torch.nn.functional.conv2d(torch.nn.functional.pad(xt, (0, 1, 2, 1)),
                                    ft.permute(3, 2, 0, 1), stride=2)
    (yt * yt).sum().backward()
    for g, w in zip(got, [yt.detach(), xt.grad, ft.grad]):
        _close(g, w.numpy())


def test_tf_conv2d_grouped_filter():
    rng = np.random.default_rng(11)
    x, f = _rand(rng, 1, 5, 5, 4), _rand(rng, 3, 3, 2, 6)  # 2 groups of 2 input channels
    y = tfn.conv2d(x, f, 1, "SAME").numpy()
    want = np.concatenate([np_tf_conv2d(x[..., 2 * g:2 * g + 2], f[..., 3 * g:3 * g + 3],
                                        (1, 1), "SAME") for g in (0, 1)], axis=-1)
    _close(y, want)


POOL_GRID = [(hw, k, s, p) for hw, k, s, p in itertools.product(
    ((7, 7), (8, 5), (6, 6)), ((2, 2), (3, 3), (3, 2)), (1, 2, 3), ("SAME", "VALID"))]


@pytest.mark.parametrize("hw,k,s,padding", POOL_GRID)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_tf_pool_matches_numpy(hw, k, s, padding, kind):
    rng = _seeded(hw, k, s, padding, kind)
    x = _rand(rng, 2, *hw, 3)
    fn = tfn.max_pool if kind == "max" else tfn.avg_pool
    y = fn(x, ksize=[1, *k, 1], strides=[1, s, s, 1], padding=padding)
    _close(y.numpy(), np_tf_pool(x, k, (s, s), padding, kind))


def test_tf_avg_pool_same_divides_by_the_valid_count():
    x = np.ones((1, 3, 3, 1), np.float32)
    y = tfn.avg_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME").numpy()
    np.testing.assert_array_equal(y, np.ones((1, 2, 2, 1)))  # not 1/2 or 1/4 at the edges


def test_tf_pool_nchw_and_gradient():
    rng = np.random.default_rng(12)
    x = _rand(rng, 2, 3, 5, 5)
    xt = tf.Tensor(x, requires_grad=True)
    y = tfn.max_pool(xt, [1, 1, 3, 3], [1, 1, 2, 2], "SAME", data_format="NCHW")
    want = np_tf_pool(x.transpose(0, 2, 3, 1), (3, 3), (2, 2), "SAME", "max")
    _close(y.detach().numpy(), want.transpose(0, 3, 1, 2))
    tf.reduce_sum(y).backward()
    assert xt.grad.numpy().sum() == y.detach().numpy().size  # each window routes its 1 once


def test_tf_bias_add():
    rng = np.random.default_rng(13)
    x, b = _rand(rng, 2, 3, 4, 5), _rand(rng, 5)
    _close(tfn.bias_add(x, b).numpy(), x + b)
    xc, bc = _rand(rng, 2, 5, 3, 4), _rand(rng, 5)
    _close(tfn.bias_add(xc, bc, data_format="NCHW").numpy(), xc + bc[:, None, None])
    with pytest.raises(ValueError, match="does not match"):
        tfn.bias_add(x, _rand(rng, 4))


def test_tf_batch_normalization():
    rng = np.random.default_rng(14)
    x = _rand(rng, 4, 3, 5)
    mean, var = x.mean((0, 1)), x.var((0, 1))
    offset, scale = _rand(rng, 5), _rand(rng, 5)
    want = (x - mean) / np.sqrt(var + 1e-3) * scale + offset
    _close(tfn.batch_normalization(x, mean, var, offset, scale, 1e-3).numpy(), want)
    _close(tfn.batch_normalization(x, mean, var, None, None, 1e-3).numpy(),
           (x - mean) / np.sqrt(var + 1e-3))


def test_tf_dropout_scales_and_redraws_each_run():
    with tf.Graph().as_default(), tf.Session() as sess:
        p = tf.placeholder(tf.float32, (200, 100))
        y = tfn.dropout(p, keep_prob=0.8)
        ones = np.ones((200, 100), np.float32)
        a, b = sess.run(y, {p: ones}), sess.run(y, {p: ones})
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.8)}
    assert abs((a > 0).mean() - 0.8) < 0.02 and not np.array_equal(a, b)
    x = tf.Tensor(np.ones((50, 40), np.float32), requires_grad=True)
    y = tfn.dropout(x, rate=0.5, noise_shape=[50, 1])
    rows = y.detach().numpy()
    assert all(len(set(r)) == 1 for r in rows)  # one draw per row, shared along it
    tf.reduce_sum(y).backward()
    np.testing.assert_array_equal(x.grad.numpy(), rows)
    assert tfn.dropout(x, keep_prob=1.0) is x
    with pytest.raises(ValueError):
        tfn.dropout(x)


# ---- errors ------------------------------------------------------------------------------
# conv2d's and the pooling ops' errors on bad shapes, dtypes and padding are error inputs of
# their entries in tests/op_table/ (conv.py, pool.py).

def test_tf_conv2d_padding_is_same_or_valid():
    with pytest.raises(ValueError, match="SAME"):
        tfn.conv2d(np.zeros((1, 5, 5, 2), np.float32), np.zeros((3, 3, 2, 2), np.float32),
                   1, "FULL")


@pytest.mark.parametrize("xs, ws, attrs", [
    ((2, 0, 5, 5), (3, 0, 3, 3), {}),                    # no input channels
    ((2, 0, 6, 6), (4, 0, 3, 3), dict(groups=2, padding=1)),
    ((2, 4, 5, 5), (0, 4, 1, 1), dict(stride=2)),        # no output channels
])
def test_conv2d_without_channels_is_a_clear_error(xs, ws, attrs):
    """(The kernels' blocks divided by the channel count: a bare ZeroDivisionError.)"""
    x, w = tf.Tensor(np.ones(xs, np.float32)), tf.Tensor(np.ones(ws, np.float32))
    for bias in (None, tf.Tensor(np.ones(ws[0], np.float32))):
        with pytest.raises(ShapeError, match=r"conv2d(_bias)?: input \(2, .* no "
                                                       r"channels to convolve"):
            conv2d(x, w, bias=bias, **attrs)


KEPT_WEIGHT_CASES = [  # x shape, w shape, attrs, whether the memo keeps a derived weight
    ((2, 32, 2, 2), (32, 32, 3, 3), dict(padding=1), False),            # pixel pairs
    ((3, 32, 4, 4), (33, 32, 3, 3), dict(padding=1, stride=2), True),   # regions
    ((3, 3, 5, 6), (4, 3, 3, 3), dict(padding=1, stride=2), False),      # im2col
    ((8, 32, 6, 6), (33, 32, 3, 3), dict(padding=1), True),             # Winograd F(4, 3)
    ((4, 16, 9, 8), (17, 16, 5, 5), dict(padding=2), True),             # Winograd F(2, 5)
    ((4, 3, 9, 8), (6, 3, 5, 5), dict(padding=2), False),               # 5x5, few channels
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs, ws, attrs, kept", KEPT_WEIGHT_CASES, ids=lambda a: str(a))
def test_conv2d_weight_kept_between_calls_follows_changes(xs, ws, attrs, kept, dtype,
                                                          monkeypatch):
    """A derived weight kept between calls (`_conv_numba.WeightMemo`): the same weight again,
    then changed in place (as an optimizer step does), then a -0.0 for a 0.0, each matches
    torch, and only the unchanged weight was served from the memo."""
    F = pytest.importorskip("torch.nn.functional")
    torch = pytest.importorskip("torch")
    from tinyflow.backend.numpy import _conv_numba, conv as conv_kernels
    memo = _conv_numba.WeightMemo()
    monkeypatch.setattr(_conv_numba, "weight_memo", memo)
    rng = _seeded("kept weight", xs, ws)
    x, w = _rand(rng, *xs).astype(dtype), _rand(rng, *ws).astype(dtype)
    w[0, 0, 0, 0] = 0.0
    op = tf.ops.conv.Conv2d(**tf.ops.conv.conv_attrs(**attrs))
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    for step in range(4):
        if step == 2:
            w *= 1.5
        if step == 3:
            w[0, 0, 0, 0] = -0.0
        want = F.conv2d(torch.tensor(x), torch.tensor(w), **attrs).numpy()
        found = memo.find(w, next(iter(memo.entries))[0]) if memo.entries else None
        assert (found is not None) == (step == 1 and kept)
        np.testing.assert_allclose(conv_kernels.conv2d(op, x, w), want, **tol)


REGION_CASES = [  # x shape, w shape, attrs: small images whose windows hang over the edge
    ((5, 32, 4, 4), (40, 32, 3, 3), dict(stride=2, padding=1)),      # 4x4 -> 2x2 (a ResNet's)
    ((3, 32, 6, 6), (36, 32, 3, 3), dict(stride=2, padding=1)),      # 6x6 -> 3x3: 2 x 2 regions
    ((2, 32, 4, 2), (33, 32, 3, 3), dict(stride=(2, 1), padding=1)),   # rows and columns differ
    ((3, 32, 4, 3), (34, 32, 4, 3), dict(stride=(3, 2), padding=(2, 1))),  # a 4x3 kernel
]


def _float64_conv_against_torch(key: str, xs, ws, attrs, bias) -> tuple:
    """conv2d of seeded float64 data against torch to 1e-10, forward and gradients; returns
    the data (x, w, b) and torch's output."""
    F = pytest.importorskip("torch.nn.functional")
    torch = pytest.importorskip("torch")
    rng = _seeded(key, xs, ws)
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws) / math.sqrt(math.prod(ws[1:]))
    b = rng.standard_normal(ws[0]) if bias else None
    xt, wt = tf.Tensor(x, requires_grad=True), tf.Tensor(w, requires_grad=True)
    bt = tf.Tensor(b, requires_grad=True) if bias else None
    y = conv2d(xt, wt, bias=bt, **attrs)
    weights = rng.standard_normal(y.shape)
    tf.reduce_sum(y * weights).backward()
    xo, wo = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bo = torch.tensor(b, requires_grad=True) if bias else None
    yo = F.conv2d(xo, wo, bo, **attrs)
    (yo * torch.tensor(weights)).sum().backward()
    tight = dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.detach().numpy(), yo.detach().numpy(), **tight)
    np.testing.assert_allclose(xt.grad.numpy(), xo.grad.numpy(), **tight)
    np.testing.assert_allclose(wt.grad.numpy(), wo.grad.numpy(), **tight)
    if bias:
        np.testing.assert_allclose(bt.grad.numpy(), bo.grad.numpy(), **tight)
    return x, w, b, yo


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("xs, ws, attrs", REGION_CASES, ids=lambda a: str(a))
def test_conv2d_by_regions_of_small_images_matches_torch(xs, ws, attrs, bias, monkeypatch):
    """`conv._conv2d_regions` (each region of outputs multiplies only the taps its windows
    read) ran and matches torch in float64, forward and gradients (the gradients are im2col's),
    and in float32; a second call, served its region weights from the memo, gives the same
    bits."""
    from tinyflow.backend.numpy import _conv_numba, conv as conv_kernels
    monkeypatch.setattr(_conv_numba, "weight_memo", _conv_numba.WeightMemo())
    calls = []
    regions = conv_kernels._conv2d_regions
    monkeypatch.setattr(conv_kernels, "_conv2d_regions",
                        lambda *a: calls.append(1) or regions(*a))
    x, w, b, yo = _float64_conv_against_torch("regions", xs, ws, attrs, bias)
    assert calls == [1]
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    b32 = None if b is None else tf.Tensor(b.astype(np.float32))
    first = conv2d(tf.Tensor(x32), tf.Tensor(w32), bias=b32, **attrs).numpy()
    again = conv2d(tf.Tensor(x32), tf.Tensor(w32), bias=b32, **attrs).numpy()
    np.testing.assert_allclose(first, yo.detach().numpy(), rtol=1e-4, atol=1e-4)
    assert np.array_equal(first, again) and len(calls) == 3


PAIR_CASES = [  # x shape, w shape, attrs: small images where few (output, input) pairs exist
    ((5, 32, 2, 2), (40, 32, 3, 3), dict(padding=1)),                # 2x2 at 2x2 (a ResNet's)
    ((3, 33, 3, 2), (34, 33, 3, 3), dict(padding=1)),                # not square
    ((2, 32, 2, 3), (36, 32, 2, 3), dict(padding=(1, 1))),           # a 2x3 kernel
]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("xs, ws, attrs", PAIR_CASES, ids=lambda a: str(a))
def test_conv2d_by_pixel_pairs_matches_torch(xs, ws, attrs, bias, monkeypatch):
    """`conv._conv2d_pairs` (products [O, C] @ [C, N] per output and input pixel pair) ran
    and matches torch in float64 and float32."""
    F = pytest.importorskip("torch.nn.functional")
    torch = pytest.importorskip("torch")
    from tinyflow.backend.numpy import conv as conv_kernels
    calls = []
    pairs = conv_kernels._conv2d_pairs
    monkeypatch.setattr(conv_kernels, "_conv2d_pairs", lambda *a: calls.append(1) or pairs(*a))
    rng = _seeded("pairs", xs, ws)
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws) / math.sqrt(math.prod(ws[1:]))
    b = rng.standard_normal(ws[0]) if bias else None
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-4)):
        want = F.conv2d(torch.tensor(x), torch.tensor(w), None if b is None else torch.tensor(b),
                        **attrs).numpy()
        got = conv2d(tf.Tensor(x.astype(dtype)), tf.Tensor(w.astype(dtype)),
                     bias=None if b is None else tf.Tensor(b.astype(dtype)), **attrs).numpy()
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    assert len(calls) == 2


ONE_PIXEL_CASES = [  # x shape, w shape, attrs: convolutions with a single output pixel
    ((5, 32, 1, 1), (40, 32, 3, 3), dict(padding=1)),                # the centre tap only
    ((3, 16, 2, 2), (24, 16, 3, 3), dict(stride=2, padding=1)),      # 2x2 -> 1x1: four taps
    ((2, 8, 3, 3), (6, 8, 3, 3), {}),                                # the whole window
    ((2, 4, 5, 5), (3, 4, 3, 3), dict(dilation=2)),                  # a dilated window
    ((3, 6, 2, 3), (5, 6, 2, 3), dict(stride=(2, 3))),               # not square
    ((2, 3, 1, 2), (4, 3, 3, 3), dict(padding=1)),                   # 1x2 out: not taken
]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("xs, ws, attrs", ONE_PIXEL_CASES, ids=lambda a: str(a))
def test_conv2d_of_one_output_pixel_matches_torch(xs, ws, attrs, bias, monkeypatch):
    """`conv._conv2d_one_pixel` (out^T = w's live taps @ the one window's values) ran
    exactly where the output is one pixel, and matches torch in float64, forward and
    gradients (im2col's), and in float32."""
    from tinyflow.backend.numpy import conv as conv_kernels
    calls = []
    one_pixel = conv_kernels._conv2d_one_pixel
    monkeypatch.setattr(conv_kernels, "_conv2d_one_pixel",
                        lambda *a: calls.append(1) or one_pixel(*a))
    x, w, b, yo = _float64_conv_against_torch("one pixel", xs, ws, attrs, bias)
    assert len(calls) == (yo.shape[2:] == (1, 1))
    b32 = None if b is None else tf.Tensor(b.astype(np.float32))
    y32 = conv2d(tf.Tensor(x.astype(np.float32)), tf.Tensor(w.astype(np.float32)), bias=b32,
                 **attrs).numpy()
    np.testing.assert_allclose(y32, yo.detach().numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("xs, ws, attrs", [
    ((0, 32, 1, 1), (40, 32, 3, 3), dict(padding=1)),                # one pixel: centre tap
    ((0, 8, 3, 3), (6, 8, 3, 3), {}),                                # one pixel: all taps
    ((0, 32, 2, 2), (40, 32, 3, 3), dict(padding=1))],               # pixel pairs
    ids=["one-pixel-centre", "one-pixel-window", "pairs"])
def test_conv2d_of_an_empty_batch_on_small_images(xs, ws, attrs):
    """An empty batch gives an empty output, as im2col and PyTorch do (the one-pixel path's
    window values were reshaped with -1, which numpy cannot infer for zero images)."""
    torch = pytest.importorskip("torch")
    x, w = np.zeros(xs, np.float32), np.ones(ws, np.float32)
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), **attrs).numpy()
    xt = tf.Tensor(x, requires_grad=True)
    y = conv2d(xt, tf.Tensor(w), **attrs)
    assert y.shape == want.shape
    tf.reduce_sum(y).backward()
    assert xt.grad.shape == xs


def test_conv2d_regions_cover_each_output_once():
    """`conv._regions` of a 4x4 -> 2x2 stride-2 layer: one region per output pixel, each with
    the taps its window reads; and geometries it leaves to others."""
    from tinyflow.backend.numpy import conv as conv_kernels
    found = conv_kernels._regions((2, 2), (1, 1), 1, (4, 4), (3, 3), ((1, 1), (1, 1)), (2, 2))
    assert found == (((0, 1), (0, 1), (1, 3), (1, 3)), ((0, 1), (1, 2), (1, 3), (0, 3)),
                     ((1, 2), (0, 1), (0, 3), (1, 3)), ((1, 2), (1, 2), (0, 3), (0, 3)))
    # 7x7 -> 4x4 is nine regions (more than REGION_MAX); a large image saves too little;
    # stride 1 is left to the pixel pairs, groups and dilation to im2col
    assert conv_kernels._regions((2, 2), (1, 1), 1, (7, 7), (3, 3), ((1, 1),) * 2, (4, 4)) is None
    assert conv_kernels._regions((2, 2), (1, 1), 1, (28, 28), (3, 3), ((1, 1),) * 2,
                                 (14, 14)) is None
    assert conv_kernels._regions((1, 1), (1, 1), 1, (2, 2), (3, 3), ((1, 1),) * 2, (2, 2)) is None
    assert conv_kernels._regions((2, 2), (1, 1), 2, (4, 4), (3, 3), ((1, 1),) * 2, (2, 2)) is None
    assert conv_kernels._regions((2, 2), (2, 2), 1, (5, 5), (3, 3), ((2, 2),) * 2, (3, 3)) is None


@pytest.mark.parametrize("xs, ws, attrs", [
    ((5, 8, 7, 7), (12, 8, 1, 1), dict(stride=2)),               # a ResNet's downsample
    ((3, 6, 9, 8), (4, 3, 1, 1), dict(stride=(2, 3), groups=2)),
    ((2, 1, 9, 10), (5, 1, 1, 1), dict(stride=3)),                # one channel
    ((4, 32, 2, 2), (40, 32, 1, 1), dict(stride=2)),              # to 1x1
    ((3, 4, 6, 6), (5, 4, 1, 1), dict(stride=2, padding=1)),      # padded: not subsampled
], ids=lambda a: str(a))
def test_conv2d_of_a_strided_1x1_kernel_matches_torch(xs, ws, attrs):
    """A strided 1x1 kernel convolves the input's every s-th pixel (taken before the NHWC
    copy): forward and gradients against torch in float64, with and without a bias."""
    F = pytest.importorskip("torch.nn.functional")
    torch = pytest.importorskip("torch")
    rng = _seeded("strided 1x1", xs, ws)
    for bias in (False, True):
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        b = rng.standard_normal(ws[0]) if bias else None
        ours = [tf.Tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
        theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
        y = conv2d(*ours[:2], bias=ours[2] if bias else None, **attrs)
        yt = F.conv2d(*theirs, **attrs)
        g = rng.standard_normal(y.shape)
        tf.reduce_sum(y * g).backward()
        (yt * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-10,
                                   atol=1e-10)
        for a, at in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), at.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_conv2d_region_weights_of_one_weight_at_two_paddings(monkeypatch):
    """One weight at padding (1, 1) and (2, 1), stride (3, 2), on one-row images: the live
    taps are row 1, then row 2 of the kernel, with the same regions. The region weights kept
    for the first must not serve the second (keyed by the regions only, they did: the second
    was off by ~38)."""
    torch = pytest.importorskip("torch")
    from tinyflow.backend.numpy import _conv_numba
    monkeypatch.setattr(_conv_numba, "weight_memo", _conv_numba.WeightMemo())
    rng = _seeded("regions at two paddings")
    x, w = rng.standard_normal((4, 32, 1, 4)), rng.standard_normal((32, 32, 3, 3))
    weight = tf.Tensor(w)   # one array: the memo's key
    for padding in [(1, 1), (2, 1), (1, 1), (2, 1)]:
        got = conv2d(tf.Tensor(x), weight, stride=(3, 2), padding=padding).numpy()
        want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=(3, 2),
                                          padding=padding).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_conv_and_pool_ops_are_shared_per_attribute_values():
    """An eager step builds no op object per convolution or pooling call (a frozen
    dataclass each, ~20 per LeNet step): F.conv2d, max_pool2d and the gradient ops of their
    rules take `shared`'s one instance for their attributes; other attributes, other ops."""
    from tinyflow.ops import conv as conv_ops
    x = tf.Tensor(np.ones((1, 2, 6, 6), np.float32), requires_grad=True)
    w = tf.Tensor(np.ones((3, 2, 3, 3), np.float32), requires_grad=True)
    b = tf.Tensor(np.ones(3, np.float32), requires_grad=True)
    ys = [conv2d(x, w, bias=b, padding=1) for _ in range(2)]
    assert ys[0]._op is ys[1]._op
    assert conv2d(x, w, bias=b, padding=0)._op is not ys[0]._op
    assert conv2d(x, w, padding=1)._op is not ys[0]._op
    pools = [max_pool2d(ys[0], 2) for _ in range(2)]
    assert pools[0]._op is pools[1]._op and max_pool2d(ys[0], 3)._op is not pools[0]._op
    means = [avg_pool2d(ys[0], 2, count_include_pad=False) for _ in range(2)]
    assert means[0]._op is means[1]._op and means[0]._op.count_include_pad is False
    assert avg_pool2d(ys[0], 2)._op is not means[0]._op
    grad_op = conv_ops.like(ys[0]._op, conv_ops.Conv2dGradInput)
    assert grad_op is conv_ops.like(ys[1]._op, conv_ops.Conv2dGradInput)
    assert (grad_op.stride, grad_op.padding, grad_op.groups) == ((1, 1), ((1, 1), (1, 1)), 1)


def test_conv2d_bias_gradient_views_and_shapes_are_built_once_per_shape():
    """A conv node's backward takes its weight and bias gradients as views of one flat
    buffer through view ops built once per weight shape (the getitem/reshape front ends built
    three ops per node per step), and the convolution's output shape is kept per (op,
    shapes): the same answers at other shapes, and a refused shape refused every time."""
    x = tf.Tensor(np.ones((2, 2, 6, 6)), requires_grad=True)
    w = tf.Tensor(np.ones((3, 2, 3, 3)), requires_grad=True)
    b = tf.Tensor(np.ones(3), requires_grad=True)
    grads = [tf.gradients(tf.reduce_sum(conv2d(x, w, bias=b)), [w, b]) for _ in range(2)]
    (gw1, gb1), (gw2, gb2) = grads
    assert gw1._op is gw2._op and gw1.inputs[0]._op is gw2.inputs[0]._op
    assert gb1._op is gb2._op
    np.testing.assert_array_equal(gw1.detach().numpy(), np.full((3, 2, 3, 3), 32.0))
    np.testing.assert_array_equal(gb1.detach().numpy(), np.full(3, 32.0))
    assert conv2d(x, w).shape == (2, 3, 4, 4)
    assert conv2d(tf.Tensor(np.ones((1, 2, 5, 7))), w).shape == (1, 3, 3, 5)
    for _ in range(2):
        with pytest.raises(ShapeError, match="larger than the padded input"):
            conv2d(tf.Tensor(np.ones((1, 2, 2, 2))), w)
