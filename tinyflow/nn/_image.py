"""Image resampling and per-instance normalization as compositions of existing ops:
pixel_shuffle / pixel_unshuffle are a reshape and a permutation, nearest interpolation is a
broadcast and a reshape (an integer scale) or a gather of source rows, instance norm is the
fused `normalize` op over each image's spatial axes, local response norm a sum of shifted
channel slices."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .. import ops
from ..core.errors import ValueRuntimeError
from ..core.modes import no_grad
from ..core.op import as_tensor
from ..core.tensor import Tensor


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """[*, C r², H, W] -> [*, C, H r, W r]: each group of r² channels becomes an r x r block."""
    x, r = as_tensor(input), int(upscale_factor)
    if x.ndim < 3:
        raise RuntimeError(f"pixel_shuffle: the input has {x.ndim} dims; it needs [*, C, H, "
                           f"W] (3 or more)")
    *batch, c, h, w = x.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle: {c} channels (dim -3) are not a multiple of "
                           f"upscale_factor**2 = {r * r}")
    nb = len(batch)
    y = ops.reshape(x, (*batch, c // (r * r), r, r, h, w))
    perm = tuple(range(nb + 1)) + (nb + 3, nb + 1, nb + 4, nb + 2)
    return ops.reshape(ops.transpose(y, perm), (*batch, c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """[*, C, H r, W r] -> [*, C r², H, W], the inverse of pixel_shuffle."""
    x, r = as_tensor(input), int(downscale_factor)
    if x.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle: the input has {x.ndim} dims; it needs [*, C, "
                           f"H, W] (3 or more)")
    *batch, c, h, w = x.shape
    for name, size in (("height", h), ("width", w)):
        if size % r:
            raise RuntimeError(f"pixel_unshuffle: the {name} {size} is not a multiple of "
                               f"downscale_factor {r}")
    nb = len(batch)
    y = ops.reshape(x, (*batch, c, h // r, r, w // r, r))
    perm = tuple(range(nb + 1)) + (nb + 2, nb + 4, nb + 1, nb + 3)
    return ops.reshape(ops.transpose(y, perm), (*batch, c * r * r, h // r, w // r))


def _per_dim(value, n: int, what: str) -> tuple:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"interpolate: {what} {tuple(value)} has {len(value)} entries "
                             f"for {n} spatial dims; give one per spatial dim")
        return tuple(value)
    return (value,) * n


_LINEAR_MODES = {"linear": 3, "bilinear": 4, "trilinear": 5}   # mode -> input rank
_NEAREST_MODES = ("nearest", "nearest-exact")


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: Optional[bool] = None, recompute_scale_factor=None,
                antialias: bool = False) -> Tensor:
    """Resample the spatial dims of [N, C, *spatial] (1 to 3 of them). 'nearest': output
    pixel i reads input pixel floor(i * scale); 'linear'/'bilinear'/'trilinear': a weighted
    sum of the two neighbours of the source coordinate, one spatial dim at a time. The scale
    is 1 / scale_factor when given (as PyTorch), else in / out."""
    x = as_tensor(input)
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"interpolate: the input is {x.ndim}-D; it must be [N, C] plus 1 to "
                         f"3 spatial dims (3-D to 5-D) (mode {mode!r})")
    if mode not in _NEAREST_MODES and mode not in _LINEAR_MODES and mode != "area":
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (only "
                                  f"'nearest', 'nearest-exact', 'area', 'linear', "
                                  f"'bilinear', 'trilinear')")
    if mode in _LINEAR_MODES and x.ndim != _LINEAR_MODES[mode]:
        raise NotImplementedError(f"interpolate: mode {mode!r} needs a "
                                  f"{_LINEAR_MODES[mode]}D input, got {x.ndim}D")
    if align_corners is not None and mode not in _LINEAR_MODES:
        raise ValueError(f"interpolate: align_corners is for the linear modes (linear, "
                         f"bilinear, bicubic, trilinear), not mode {mode!r}; leave it None")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give size or scale_factor, not both" if size is not None
                         else "interpolate: give size or scale_factor")
    spatial = tuple(x.shape[2:])
    n = len(spatial)
    if size is not None:
        out = tuple(int(s) for s in _per_dim(size, n, "output size"))
        scales = [i / o for i, o in zip(spatial, out)]
        scales32 = [np.float32(i) / np.float32(o) for i, o in zip(spatial, out)]
    else:
        factors = [float(f) for f in _per_dim(scale_factor, n, "scale_factor")]
        out = tuple(int(math.floor(i * f)) for i, f in zip(spatial, factors))
        scales = [i / o if recompute_scale_factor else 1.0 / f
                  for i, o, f in zip(spatial, out, factors)]
        scales32 = [np.float32(i) / np.float32(o) if recompute_scale_factor
                    else np.float32(1.0 / f) for i, o, f in zip(spatial, out, factors)]
    if mode in _LINEAR_MODES:
        for dim, (i, o, s) in enumerate(zip(spatial, out, scales)):
            x = _linear_along(x, dim + 2, i, o, s, bool(align_corners))
        return x
    if mode == "area":   # the mean of each adaptive window, one spatial dim at a time
        for dim, (i, o) in enumerate(zip(spatial, out)):
            x = _area_along(x, dim + 2, i, o)
        return x
    exact = mode == "nearest-exact"
    index = [_nearest_index(i, o, s, exact, n == 2) for i, o, s in zip(spatial, out, scales32)]
    if n == 2:   # images: one gather each way (see ops.GatherPlanes)
        return ops.gather_planes(x, *index)
    if all(o % i == 0 and np.array_equal(j, np.arange(o) // (o // i))
           for i, o, j in zip(spatial, out, index)):
        return _repeat_pixels(x, [o // i for i, o in zip(spatial, out)])   # either mode
    for dim, (i, o, j) in enumerate(zip(spatial, out, index)):
        if i != o or not np.array_equal(j, np.arange(o)):
            x = ops.getitem(x, (slice(None),) * (dim + 2) + (j,))
    return x


def _nearest_index(size_in: int, size_out: int, scale, exact: bool, image: bool) -> np.ndarray:
    """The source pixel of each output pixel, by PyTorch's arithmetic (a float32 scale:
    float64's floor differed at 14 -> 46 pixels): floor(float32(j) * scale) for 'nearest',
    floor(float32((j + 0.5) * scale)) for 'nearest-exact'; except that torch's 'nearest' of
    images (2 spatial dims, not 1 or 3) keeps j at the same size and takes j // 2 at twice
    it, whatever the scale factor (2.1 at 4 -> 8 pixels, 1.1 at 2 -> 2). torch's 1-D and
    3-D 'nearest-exact' is another kernel: floor(max(fma(scale, j + 0.5, -0.5), 0) + 0.5)
    in float32, one rounding for the fma (its ties differ: 2 -> 41 pixels, j = 20)."""
    j = np.arange(size_out)
    if image and not exact and size_out == size_in:
        return j
    if image and not exact and size_out == 2 * size_in:
        return j // 2
    if exact and not image:   # exact in float64 (24-bit scale), rounded once to float32
        centre = np.maximum((np.float64(scale) * (j + 0.5) - 0.5).astype(np.float32), 0)
        source = centre + np.float32(0.5)
    elif exact:
        source = ((j + 0.5) * np.float64(scale)).astype(np.float32)
    else:
        source = j.astype(np.float32) * np.float32(scale)
    return np.minimum(np.floor(source).astype(np.int64), size_in - 1)


def _area_along(x: Tensor, axis: int, size_in: int, size_out: int) -> Tensor:
    """out[j] = the mean of x over [floor(j in / out), ceil((j + 1) in / out)) along axis
    (PyTorch's adaptive average pooling windows), as a product with the averaging matrix."""
    if size_in == size_out:
        return x
    weights = np.zeros((size_in, size_out), x.dtype.np)
    for j in range(size_out):
        start, stop = j * size_in // size_out, -(-(j + 1) * size_in // size_out)
        weights[start:stop, j] = 1.0 / (stop - start)
    last = x.ndim - 1
    moved = ops.transpose(x, _swap(x.ndim, axis, last))
    return ops.transpose(ops.matmul(moved, as_tensor(weights)), _swap(x.ndim, axis, last))


def _swap(ndim: int, a: int, b: int) -> tuple:
    order = list(range(ndim))
    order[a], order[b] = b, a
    return tuple(order)


def _linear_along(x: Tensor, axis: int, size_in: int, size_out: int, scale: float,
                  align_corners: bool) -> Tensor:
    """Linear resampling of one axis: out[j] = (1 - w) x[i0] + w x[i1] at the source
    coordinate of j (PyTorch's: corners aligned, or pixel centres with negatives clamped)."""
    j = np.arange(size_out, dtype=np.float64)
    if align_corners:
        src = j * ((size_in - 1) / (size_out - 1)) if size_out > 1 else np.zeros(size_out)
    else:
        src = np.maximum((j + 0.5) * scale - 0.5, 0.0)
    low = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
    high = np.minimum(low + 1, size_in - 1)
    weight = (src - low).astype(x.dtype.np).reshape((-1,) + (1,) * (x.ndim - 1 - axis))
    lead = (slice(None),) * axis
    near, far = ops.getitem(x, lead + (low,)), ops.getitem(x, lead + (high,))
    return near + (far - near) * as_tensor(weight)


def _repeat_pixels(x: Tensor, factors: list) -> Tensor:
    """Integer nearest upsampling: each pixel repeated factor times per spatial dim, one
    broadcast and one reshape (its gradient sums the blocks)."""
    if all(f == 1 for f in factors):
        return x
    n, c, *spatial = x.shape
    expanded = (n, c) + tuple(v for s in spatial for v in (s, 1))
    wide = (n, c) + tuple(v for s, f in zip(spatial, factors) for v in (s, f))
    y = ops.expand(ops.reshape(x, expanded), wide)
    return ops.reshape(y, (n, c) + tuple(s * f for s, f in zip(spatial, factors)))


def instance_norm(input: Tensor, running_mean: Optional[Tensor] = None,
                  running_var: Optional[Tensor] = None, weight: Optional[Tensor] = None,
                  bias: Optional[Tensor] = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each (example, channel) plane over its spatial dims. With running
    statistics, training folds the batch average of the per-instance mean and unbiased
    variance into them; use_input_stats=False normalizes with them instead."""
    x = as_tensor(input)
    axes = tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if use_input_stats:
        if running_mean is not None or running_var is not None:
            _update_instance_stats(x, axes, running_mean, running_var, momentum)
        if (_per_channel(x, weight) and _per_channel(x, bias) and x.ndim >= 3
                and None not in tuple(x.shape)):     # (a graph's unknown batch: not)
            return _batch_norm_of_planes(x, weight, bias, eps)
        y = ops.normalize(x, axes, eps)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and "
                             "running_var")
        y = (x - ops.reshape(running_mean, shape)) / ops.sqrt(
            ops.reshape(running_var, shape) + eps)
    if weight is not None:
        y = y * ops.reshape(weight, shape)
    return y if bias is None else y + ops.reshape(bias, shape)


def _per_channel(x: Tensor, v) -> bool:
    return isinstance(v, Tensor) and v.dtype is x.dtype and v.ndim == 1


def _batch_norm_of_planes(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """Affine instance norm as training-mode batch norm (`ops.normalize_channels`) of x
    seen as [1, N * C, ...], weight and bias repeated per example: one op each way with the
    scale and shift folded in. Normalize, times weight, plus bias had taken three passes
    over x forward and five backward (fast_neural_style: ~5 ms of a 130 ms step)."""
    n, c = x.shape[:2]
    planes = ops.reshape(x, (1, n * c) + tuple(x.shape[2:]))
    if n > 1:
        weight, bias = (ops.reshape(ops.expand(ops.reshape(v, (1, c)), (n, c)), (n * c,))
                        for v in (weight, bias))
    return ops.reshape(ops.normalize_channels(planes, weight, bias, eps), x.shape)


def _update_instance_stats(x: Tensor, axes: tuple, running_mean, running_var,
                           momentum: float) -> None:
    count = int(np.prod([x.shape[a] for a in axes]))
    with no_grad():
        mean = ops.reduce_mean(x, axes)
        if running_mean is not None:
            running_mean.copy_(running_mean * (1 - momentum)
                               + ops.reduce_mean(mean, 0) * momentum)
        if running_var is not None:
            centered = x - ops.reshape(mean, tuple(mean.shape) + (1,) * len(axes))
            var = ops.reduce_sum(centered * centered, axes) / max(count - 1, 1)
            running_var.copy_(running_var * (1 - momentum)
                              + ops.reduce_mean(var, 0) * momentum)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """AlexNet's normalization across channels: x / (k + alpha/size * sum of x^2 over `size`
    neighbouring channels)^beta, the window zero-padded at the ends as PyTorch's."""
    x = as_tensor(input)
    if x.ndim < 3:
        raise ValueError(f"local_response_norm: expected an input of at least 3 dims "
                         f"[N, C, ...], got shape {list(x.shape)}")
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
        raise TypeError(f"local_response_norm: size must be an int, got {size!r}")
    if size < 1:
        raise ValueRuntimeError(f"local_response_norm: size (the channels in each window) "
                                f"must be >= 1, got {size}")
    window = window_sum(x * x, 1, size // 2, (size - 1) // 2)
    return x / (window * (alpha / size) + k) ** beta


def window_sum(x: Tensor, axis: int, before: int, after: int) -> Tensor:
    """Sum over the `before` entries before each along `axis`, itself and `after` after it,
    zero beyond the ends: shifted slices of a zero-padded copy (local response norm's, F's
    and tf.nn.lrn's)."""
    n = x.shape[axis]
    pad = [(0, 0)] * x.ndim
    pad[axis] = (before, after)
    padded = ops.pad(x, pad)
    lead = (slice(None),) * (axis % x.ndim)
    total = padded[lead + (slice(0, n),)]
    for j in range(1, before + after + 1):
        total = total + padded[lead + (slice(j, j + n),)]
    return total
