"""F.pad's reflect / replicate / circular modes and nearest interpolation of images as one
gather of the last two dims each way (ops.GatherPlanes): PyTorch's values and gradients on
odd, non-square, batch-1 and non-contiguous inputs, float64 finite differences."""
import numpy as np
import pytest
import torch

import tinyflow
from tinyflow.ops.shape import GatherPlanes
from torch_oracle import X, compare, gradcheck

F, TF = torch.nn.functional, tinyflow.nn.functional


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((1, 3, 7, 5), (4, 2, 1, 3)), ((2, 2, 9, 10), (1, 1, 1, 1)),
                                       ((3, 6, 5), (0, 2, 3, 0)), ((2, 3, 5, 4), (2, 3, 0, 0))])
def test_image_padding_matches_torch(mode, shape, pad):
    compare(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode),
            [X(*shape)])


def test_reflection_pad2d_is_one_gather_each_way():
    """Two getitems with index arrays (and their slice-add gradients) before; one op now."""
    x = tinyflow.randn(2, 3, 6, 5, requires_grad=True)
    y = tinyflow.nn.ReflectionPad2d((4, 3, 2, 1))(x)
    assert isinstance(y._op, GatherPlanes) and y.shape == (2, 3, 9, 12)
    compare(lambda x: torch.nn.ReflectionPad2d(4)(x), lambda x: tinyflow.nn.ReflectionPad2d(4)(x),
            [X(1, 32, 13, 11)])


def test_padding_of_channels_last_and_transposed_inputs():
    compare(lambda x: F.pad(x.permute(0, 3, 1, 2), (2, 1, 1, 2), mode="reflect"),
            lambda x: TF.pad(x.permute(0, 3, 1, 2), (2, 1, 1, 2), mode="reflect"), [X(2, 6, 7, 3)])
    compare(lambda x: F.pad(x.transpose(-1, -2), (1, 1, 1, 1), mode="replicate"),
            lambda x: TF.pad(x.transpose(-1, -2), (1, 1, 1, 1), mode="replicate"),
            [X(2, 3, 5, 4)])


@pytest.mark.parametrize("shape,kwargs", [
    ((1, 3, 5, 7), {"scale_factor": 2}), ((2, 4, 3, 3), {"scale_factor": 3}),
    ((2, 2, 4, 6), {"scale_factor": (2, 1)}), ((1, 2, 5, 3), {"size": (7, 8)}),
    ((2, 3, 6, 9), {"size": (4, 5)}), ((1, 1, 3, 4), {"scale_factor": 1.7})])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_interpolation_matches_torch(shape, kwargs, mode):
    compare(lambda x: F.interpolate(x, mode=mode, **kwargs),
            lambda x: TF.interpolate(x, mode=mode, **kwargs), [X(*shape)])


def test_upsample_module_and_channels_last_input():
    compare(lambda x: torch.nn.Upsample(scale_factor=2)(x.permute(0, 3, 1, 2)),
            lambda x: tinyflow.nn.Upsample(scale_factor=2)(x.permute(0, 3, 1, 2)),
            [X(2, 5, 3, 4)])


def test_float64_gradients_by_finite_differences():
    rng = np.random.default_rng(2)
    gradcheck(lambda a: TF.pad(a, (2, 1, 1, 2), mode="reflect") ** 2, rng.random((1, 2, 4, 3)))
    gradcheck(lambda a: TF.pad(a, (1, 2, 2, 0), mode="circular") ** 2, rng.random((2, 1, 3, 3)))
    gradcheck(lambda a: TF.interpolate(a, scale_factor=2) ** 2, rng.random((1, 2, 3, 2)))
    gradcheck(lambda a: TF.interpolate(a, size=(5, 2)) ** 2, rng.random((2, 1, 3, 4)))


def test_second_order_gradient():
    """The gradient's gradient is the gather again (the op table checks the tangent)."""
    x = tinyflow.tensor(np.random.default_rng(3).random((1, 2, 4, 5)), requires_grad=True)
    w = tinyflow.tensor(np.random.default_rng(4).random((1, 2, 6, 7)))
    (g,) = tinyflow.autograd.grad((TF.pad(x, (1, 1, 1, 1), mode="reflect") ** 2 * w).sum(), x,
                                  create_graph=True)
    (gg,) = tinyflow.autograd.grad(g.sum(), x)
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    (gt,) = torch.autograd.grad((F.pad(xt, (1, 1, 1, 1), mode="reflect") ** 2
                                 * torch.tensor(w.numpy())).sum(), xt, create_graph=True)
    (ggt,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(g.detach().numpy(), gt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(gg.numpy(), ggt.numpy(), rtol=1e-12)


def test_integer_inputs_and_empty_planes():
    x = np.arange(24).reshape(1, 2, 3, 4)
    got = TF.pad(tinyflow.tensor(x), (1, 1, 1, 1), mode="reflect").numpy()
    np.testing.assert_array_equal(got, F.pad(torch.tensor(x), (1, 1, 1, 1),
                                             mode="reflect").numpy())
    assert TF.interpolate(tinyflow.zeros(0, 3, 2, 2), scale_factor=2).shape == (0, 3, 4, 4)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_after_cropping_a_dim_to_nothing(mode):
    """(1, 1, -3, 0) crops all 3 rows, then pads the columns: the rows keep their (no)
    positions, not a reflect pad of a size-0 dim (refused)."""
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4)).astype(np.float32)
    want = F.pad(torch.tensor(x), (1, 1, -3, 0), mode=mode)
    got = TF.pad(tinyflow.tensor(x), (1, 1, -3, 0), mode=mode)
    assert got.shape == tuple(want.shape) == (1, 2, 0, 6)


def _nearest_mismatches(shape_of, size_of, scale_of, modes):
    """(mode, what, size in, size or factor) wherever torch's nearest interpolation of
    0, 1, ... along one spatial dim reads other pixels than ours."""
    bad = []
    for mode in modes:
        for i in range(1, 25):
            x = np.arange(np.prod(shape_of(i)), dtype=np.float32).reshape(shape_of(i))
            calls = [("size", o, dict(size=size_of(o))) for o in range(1, 50)]
            calls += [("scale", (f, rec), dict(scale_factor=scale_of(f), recompute_scale_factor=rec))
                      for f in (0.3, 0.5, 0.7, 1.1, 1.3, 1.5, 1.7, 2.0000001, 2.1, 2.5, 3.0,
                                3.3, 1 / 3, 2 / 3, 4.2) for rec in (None, True)
                      if int(i * f) >= 1]
            for what, arg, kwargs in calls:
                want = F.interpolate(torch.tensor(x), mode=mode, **kwargs).numpy()
                got = TF.interpolate(tinyflow.tensor(x), mode=mode, **kwargs).numpy()
                if want.shape != got.shape or not np.array_equal(want, got):
                    bad.append((mode, what, i, arg))
    return bad


def test_nearest_indices_of_images_are_torchs():
    """torch computes floor(j * scale) in float32 (float64 gave 14 -> 46 pixels another
    pixel), and for images takes j at the same size and j // 2 at twice it whatever the
    factor (2.1 at 4 -> 8 pixels: 0 0 1 1 ..., not 0 0 0 1 ...; 1.1 at 2 -> 2: 0 1)."""
    assert _nearest_mismatches(lambda i: (1, 1, i, 2), lambda o: (o, 2), lambda f: (f, 1.0),
                               ["nearest", "nearest-exact"]) == []


def test_nearest_indices_of_1d_and_3d_are_torchs():
    """Without the image special cases (torch's 1-D and 3-D kernels have none), and with
    their own 'nearest-exact' rounding (2 -> 41 and 2 -> 47 pixels differed)."""
    assert _nearest_mismatches(lambda i: (1, 1, i), lambda o: (o,), lambda f: (f,),
                               ["nearest", "nearest-exact"]) == []
    assert _nearest_mismatches(lambda i: (1, 1, 1, i, 2), lambda o: (1, o, 2),
                               lambda f: (1.0, f, 1.0), ["nearest", "nearest-exact"]) == []
