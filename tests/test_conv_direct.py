"""Few-output-channel convolutions with large kernels computed directly
(backend/numpy/_conv_direct.py: fast_neural_style's last layer, 32 -> 3 at 9x9; LeNet's
3 -> 6 -> 16 5x5 layers, few channels on both sides) against
PyTorch: forward with and without bias, weight, bias and input gradients, on odd and
non-square sizes, batch 1, asymmetric padding, channels-last inputs, float64 (tight) and
float32, one thread and the kernel pool; and the layers that must keep the other paths."""
from __future__ import annotations

import numpy as np
import pytest

from tinyflow.backend.numpy import _conv_direct, _conv_winograd
from tinyflow.ops import conv as conv_ops

from conv_kernel_check import check_kernels_against_torch, counted_calls
from pool_helpers import force_pool

torch = pytest.importorskip("torch")

CASES = [  # x shape, out channels, padding ((top, bottom), (left, right)), kernel (kh, kw)
    ((2, 32, 20, 17), 3, ((4, 4), (4, 4)), (9, 9)),
    ((1, 5, 11, 13), 2, ((1, 3), (0, 2)), (7, 5)),
    ((2, 7, 12, 12), 1, ((4, 0), (2, 6)), (5, 7)),
    ((1, 3, 9, 10), 4, ((0, 0), (0, 0)), (9, 9)),   # a 1 x 2 output
    ((3, 2, 6, 5), 3, ((2, 2), (3, 3)), (5, 7)),
    ((2, 3, 14, 13), 6, ((0, 0), (0, 0)), (5, 5)),   # LeNet's 3 -> 6 layer
    ((2, 3, 9, 9), 16, ((1, 1), (1, 1)), (3, 3)),    # a CIFAR ResNet's 3 -> 16 stem
    ((1, 4, 10, 9), 7, ((1, 1), (2, 2)), (3, 5)),    # an odd count: one output left alone
]


def _run(shape, out_channels, padding, kernel, dtype, bias, channels_last=False):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(dtype)
    if channels_last:   # same values, NHWC in memory
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    w = (rng.standard_normal((out_channels, shape[1]) + kernel) / kernel[0]).astype(dtype)
    b = rng.standard_normal(out_channels).astype(dtype) if bias else None
    check_kernels_against_torch(x, w, b, padding, rng)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[0])) + f"-o{c[1]}")
def test_direct_matches_torch(case, bias, dtype, monkeypatch):
    calls = counted_calls(_conv_direct, monkeypatch)
    _run(*case, dtype, bias)
    assert calls == ["conv2d", "grad_weight", "grad_input"]


def test_channels_last_input(monkeypatch):
    calls = counted_calls(_conv_direct, monkeypatch)
    _run((2, 6, 9, 11), 3, ((4, 4), (4, 4)), (9, 9), np.float32, True, channels_last=True)
    assert calls == ["conv2d", "grad_weight", "grad_input"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_direct_on_the_kernel_pool_matches_torch(dtype, monkeypatch):
    threaded = force_pool(monkeypatch, 1 << 10, [])
    _run((3, 9, 14, 13), 3, ((4, 4), (4, 4)), (9, 9), dtype, bias=True)
    assert threaded.count("_conv_direct.py") == 3


@pytest.mark.parametrize("attrs, channels, out_channels, kernel", [
    (dict(stride=2, padding=4), 32, 3, 9),
    (dict(dilation=2, padding=8), 32, 3, 9),
    (dict(padding=4), 32, 8, 9),            # more outputs: im2col's GEMM has a real N
    (dict(padding=1), 32, 3, (1, 3)),       # 3 taps: few columns
    (dict(padding=9), 32, 3, 9),            # padding past the kernel (the input gradient's)
    (dict(padding=2), 1, 4, 5),             # one input channel: the tap-major im2col
    (dict(padding=2), 3, 17, 5),            # few inputs but more than FEW_OUT outputs
    (dict(padding=2), 5, 8, 5),             # more than FEW_IN inputs (LeNet's 6 -> 16)
])
def test_other_convolutions_keep_their_paths(attrs, channels, out_channels, kernel):
    op = conv_ops.Conv2d(**conv_ops.conv_attrs(**attrs))
    p = attrs["padding"]
    kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
    assert not _conv_direct.applies(op, kernel, channels, out_channels, np.float32,
                                    ((p, p), (p, p)), (28, 28))


def test_few_channels_at_a_few_output_pixels_keep_their_paths():
    """3 -> 16 takes this path at 10x10 outputs, not at 3x3 (runs too short) nor at one
    pixel (`conv._conv2d_one_pixel`)."""
    op = conv_ops.Conv2d(**conv_ops.conv_attrs())
    pads = ((0, 0), (0, 0))
    assert _conv_direct.applies(op, (5, 5), 3, 16, np.float32, pads, (10, 10))
    assert not _conv_direct.applies(op, (5, 5), 3, 16, np.float32, pads, (3, 3))
    assert not _conv_direct.applies(op, (3, 3), 3, 6, np.float32, pads, (1, 1))


def test_the_winograd_layers_keep_winograd():
    """5x5 from 16 channels or more into few is Winograd's (checked first), not this
    path's; from 3 channels it is this path's."""
    op = conv_ops.Conv2d(**conv_ops.conv_attrs(padding=2))
    assert _conv_winograd.applies(op, (5, 5), 16, 4, np.float32, 64, (28, 28))
    assert not _conv_winograd.applies(op, (5, 5), 3, 4, np.float32, 64, (28, 28))
    assert _conv_direct.applies(op, (5, 5), 3, 4, np.float32, ((2, 2), (2, 2)))


@pytest.mark.parametrize("case", ["transpose", "same", "reflect"])
def test_front_ends_reaching_the_direct_path(case, monkeypatch):
    """conv_transpose2d at stride 1 from <= 4 channels (its forward is this path's input
    gradient), padding='same' of an even kernel (asymmetric pads), a reflect-padded Conv2d
    (pads of 0 after F.pad): float64 values and gradients against PyTorch."""
    import tinyflow
    calls = counted_calls(_conv_direct, monkeypatch)
    rng = np.random.default_rng(7)
    if case == "transpose":
        x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((3, 5, 4, 4))
        fns = lambda L, x, w: L.nn.functional.conv_transpose2d(x, w, padding=1)  # noqa: E731
    elif case == "same":
        x, w = rng.standard_normal((2, 5, 9, 11)), rng.standard_normal((2, 5, 4, 6))
        fns = lambda L, x, w: L.nn.functional.conv2d(x, w, padding="same")  # noqa: E731
    else:
        x, w = rng.standard_normal((1, 6, 7, 9)), rng.standard_normal((3, 6, 3, 3))
        fns = lambda L, x, w: L.nn.functional.conv2d(   # noqa: E731
            L.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"), w)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    fx, fw = tinyflow.tensor(x, requires_grad=True), tinyflow.tensor(w, requires_grad=True)
    ty, fy = fns(torch, tx, tw), fns(tinyflow, fx, fw)
    g = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(g))
    (fy * tinyflow.tensor(g)).sum().backward()
    assert set(calls) == {"conv2d", "grad_weight", "grad_input"}
    for got, want in ((fy.detach().numpy(), ty.detach().numpy()), (fx.grad.numpy(), tx.grad.numpy()),
                      (fw.grad.numpy(), tw.grad.numpy())):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("out_channels, channels, kernel", [(16, 3, 3), (3, 32, 9)])
def test_an_empty_batch_gives_empty_results(out_channels, channels, kernel, monkeypatch):
    """Batch 0 (a data loader's empty last batch): empty output and gradients as torch's."""
    calls = counted_calls(_conv_direct, monkeypatch)
    x = np.zeros((0, channels, 17, 19))
    w = np.random.default_rng(0).standard_normal((out_channels, channels, kernel, kernel))
    check_kernels_against_torch(x, w, None, ((1, 1), (1, 1)), np.random.default_rng(1))
    assert calls == ["conv2d", "grad_weight", "grad_input"]
