"""F.* built from existing ops: max pooling's indices and max_unpool2d, avg_pool1d,
adaptive_max_pool2d, conv3d, max_pool3d and avg_pool3d. None has a kernel of its own; each
reuses the 2-D pooling and convolution ops (and their gradients)."""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..core.errors import DTypeError, ShapeError
from ..core.op import apply, as_tensor
from ..core.tensor import Tensor
from ..ops import conv as _conv
from ..ops import pool as _pool
from ..ops.indexing import GatherGrad


def _tuple(value, n: int, what: str) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{what}: expected {n} values, got {tuple(value)}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


def max_pool2d_indices(x: Tensor, kernel, stride, padding, dilation, ceil_mode) -> Tensor:
    """The flat position (h * W + w) in its plane of each window's maximum, int64, as
    PyTorch's return_indices: the max-pool selection (first maximum on ties) applied to a
    ramp of positions instead of x."""
    if x.ndim == 3:
        return ops.squeeze(max_pool2d_indices(ops.expand_dims(x, 0), kernel, stride, padding,
                                              dilation, ceil_mode), 0)
    n, c, h, w = x.shape
    ramp = np.broadcast_to(np.arange(h * w, dtype=np.float64).reshape(h, w), (n, c, h, w))
    op = _pool.MaxPool2dSelect(**_pool.pool_attrs(kernel, stride, padding, dilation, ceil_mode,
                                                  "max_pool2d"))
    return ops.cast(apply(op, as_tensor(ramp), x.detach()), "int64")


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The inverse of max_pool2d(return_indices=True): zeros with each pooled value put back
    at its index (a scatter; its gradient gathers at the indices)."""
    x, idx = as_tensor(input), as_tensor(indices)
    if tuple(x.shape) != tuple(idx.shape):
        raise ValueError(f"max_unpool2d: indices of shape {tuple(idx.shape)} for an input of "
                         f"shape {tuple(x.shape)}")
    if x.ndim == 3:
        return ops.squeeze(max_unpool2d(ops.expand_dims(x, 0), ops.expand_dims(idx, 0),
                                        kernel_size, stride, padding, output_size), 0)
    kernel = _tuple(kernel_size, 2, "kernel_size")
    stride = kernel if stride is None else _tuple(stride, 2, "stride")
    padding = _tuple(padding, 2, "padding")
    n, c, h, w = x.shape
    size = tuple((i - 1) * s - 2 * p + k for i, s, p, k in zip((h, w), stride, padding, kernel))
    if output_size is not None:
        size = tuple(int(s) for s in tuple(output_size)[-2:])
    flat = idx.numpy() if not idx.is_symbolic else None
    if flat is not None and flat.size and (flat.min() < 0 or flat.max() >= size[0] * size[1]):
        raise ValueError(f"max_unpool2d: found an invalid max index {int(flat.max())} (output "
                         f"volumes are of size {size[0]}x{size[1]})")
    ref = as_tensor(np.zeros((n, c, size[0] * size[1]), x.dtype.np))
    flat_idx = ops.reshape(idx, (n, c, h * w))
    summed = apply(GatherGrad(axis=2), ops.reshape(x, (n, c, h * w)), flat_idx, ref)
    # Overlapping windows (stride < kernel) can pick one position twice: PyTorch writes the
    # value once (the scatter above added it per window) yet passes each window the whole
    # gradient at its index, as the scatter-add's gradient does
    hits = apply(GatherGrad(axis=2), ops.ones_like(flat_idx, dtype=x.dtype), flat_idx, ref)
    once = ops.stop_gradient(summed / ops.maximum(hits, 1))
    out = once + (summed - ops.stop_gradient(summed))
    return ops.reshape(out, (n, c) + size)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """avg_pool2d over a height-1 image: [N, C, L] (or [C, L])."""
    x = as_tensor(input)
    if x.ndim == 2:
        return ops.squeeze(avg_pool1d(ops.expand_dims(x, 0), kernel_size, stride, padding,
                                      ceil_mode, count_include_pad), 0)
    k = _tuple(kernel_size, 1, "kernel_size")[0]
    s = k if stride is None or stride == [] else _tuple(stride, 1, "stride")[0]
    p = _tuple(padding, 1, "padding")[0]
    _pool.check_padding("avg_pool1d", (k,), (p,), padding)
    out = _pool.avg_pool2d(ops.expand_dims(x, 2), (1, k), (1, s), (0, p), ceil_mode,
                           count_include_pad)
    return ops.squeeze(out, 2)


def _one_d(name: str, x: Tensor, output_size) -> int:
    if x.ndim not in (2, 3):
        raise ShapeError(f"{name}(): Expected 2D or 3D tensor, but got {tuple(x.shape)}")
    if not x.dtype.is_floating:
        raise DTypeError(f"{name}(): not implemented for {x.dtype.name} (pools average or "
                         f"compare floating-point values)")
    size = _tuple(output_size, 1, "output_size")[0]
    if size < 0 or (size == 0 and x.shape[-1]):
        raise ValueError(f"{name}(): output_size must be positive, got {size}")
    return size


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """adaptive_avg_pool2d over a height-1 image: [N, C, L] (or [C, L])."""
    x = as_tensor(input)
    size = _one_d("adaptive_avg_pool1d", x, output_size)
    batched = x if x.ndim == 3 else ops.expand_dims(x, 0)
    out = ops.squeeze(_pool.adaptive_avg_pool2d(ops.expand_dims(batched, 2), (1, size)), 2)
    return out if x.ndim == 3 else ops.squeeze(out, 0)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """The max of each adaptive window of [N, C, L] (or [C, L]) and, if asked, its position
    (the first maximum, as PyTorch's): the windows gathered into a [.., L_out, widest]
    block, short ones padded with their own first element (which never wins over it)."""
    x = as_tensor(input)
    size = _one_d("adaptive_max_pool1d", x, output_size)
    windows = _adaptive_windows(x.shape[-1], size)
    width = max((b - a for a, b in windows), default=1)
    positions = np.array([[a + k if a + k < b else a for k in range(width)]
                          for a, b in windows], np.int64).reshape(size, width)
    block = ops.getitem(x, (Ellipsis, positions))
    first = ops.expand_dims(ops.argmax(block, -1), -1)
    values = ops.squeeze(ops.gather(block, -1, first), -1)
    if not return_indices:
        return values
    ramp = ops.expand(as_tensor(positions), tuple(block.shape))
    return values, ops.squeeze(ops.gather(ramp, -1, first), -1)


def _adaptive_windows(size: int, out: int) -> list:
    """PyTorch's adaptive windows: [floor(i in / out), ceil((i + 1) in / out))."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max over PyTorch's adaptive windows. Sizes that divide evenly are one max_pool2d;
    otherwise the max is taken one axis at a time (a rectangle's max is the max of its
    columns' maxima)."""
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_max_pool2d: the input {tuple(x.shape)} must be 3-D "
                         f"[C, H, W] or 4-D [N, C, H, W]")
    size = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    size = tuple(x.shape[i - 2] if s is None else int(s) for i, s in enumerate(size))
    spatial = tuple(x.shape[-2:])
    if all(i % o == 0 for i, o in zip(spatial, size)):
        kernel = tuple(i // o for i, o in zip(spatial, size))
        pool = (ops.squeeze(_pool.max_pool2d(ops.expand_dims(x, 0), kernel, kernel), 0)
                if x.ndim == 3 else _pool.max_pool2d(x, kernel, kernel))
        if return_indices:
            return pool, max_pool2d_indices(x, kernel, kernel, 0, 1, False)
        return pool
    if return_indices:
        raise NotImplementedError(f"adaptive_max_pool2d(return_indices=True) needs output "
                                  f"sizes that divide the input's: {size} for {spatial}")
    for axis in (x.ndim - 1, x.ndim - 2):
        n_in, n_out = x.shape[axis], size[axis - x.ndim + 2]
        lead = (slice(None),) * axis
        x = ops.concat([_first_max(ops.getitem(x, lead + (slice(a, b),)), axis)
                        for a, b in _adaptive_windows(n_in, n_out)], axis)
    return x


def _first_max(x: Tensor, axis: int) -> Tensor:
    """The max along axis (kept), its gradient all to the first maximum, as PyTorch's pools
    (columns first, then rows: the first in row-major order), not shared among ties."""
    return ops.gather(x, axis, ops.expand_dims(ops.argmax(x, axis), axis))


def conv3d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """3-D cross-correlation of [N, C, D, H, W] with [O, C / groups, kD, kH, kW]: for each
    depth tap k, one conv2d of the depth slices it reads (the output depths folded into the
    batch), summed over the taps."""
    x, w = as_tensor(input), as_tensor(weight)
    if x.ndim == 4:
        return ops.squeeze(conv3d(ops.expand_dims(x, 0), w, bias, stride, padding, dilation,
                                  groups), 0)
    if x.ndim != 5 or w.ndim != 5:
        raise ValueError(f"conv3d: expected a 5-D input and weight, got {tuple(x.shape)} and "
                         f"{tuple(w.shape)}")
    stride, dilation = _tuple(stride, 3, "stride"), _tuple(dilation, 3, "dilation")
    kd = w.shape[2]
    if padding == "valid":
        padding = (0, 0, 0)
    if padding == "same":
        if stride != (1, 1, 1):
            raise ValueError(f"padding='same' needs stride 1 (got {stride}): a strided "
                             f"output cannot keep the input's size")
        total = [d * (k - 1) for d, k in zip(dilation, w.shape[2:])]
        pad_pairs = [(t // 2, t - t // 2) for t in total]
    else:
        pad_pairs = [(p, p) for p in _tuple(padding, 3, "padding")]
    x = ops.pad(x, ((0, 0), (0, 0)) + tuple(pad_pairs))
    n, c, depth = x.shape[:3]
    out_d = (depth - dilation[0] * (kd - 1) - 1) // stride[0] + 1
    if out_d < 1:
        raise ValueError(f"conv3d: the kernel's depth {kd} (dilation {dilation[0]}) is larger "
                         f"than the padded input's {depth}")
    total = None
    for k in range(kd):
        start = k * dilation[0]
        planes = ops.getitem(x, (slice(None), slice(None),
                                 slice(start, start + stride[0] * (out_d - 1) + 1, stride[0])))
        folded = ops.reshape(ops.transpose(planes, (0, 2, 1, 3, 4)),
                             (n * out_d, c) + tuple(x.shape[3:]))
        tap = _conv.conv2d(folded, ops.getitem(w, (slice(None), slice(None), k)),
                           stride[1:], (0, 0), dilation[1:], groups)
        total = tap if total is None else total + tap
    o, ho, wo = total.shape[1:]
    out = ops.transpose(ops.reshape(total, (n, out_d, o, ho, wo)), (0, 2, 1, 3, 4))
    if bias is not None:
        out = out + ops.reshape(as_tensor(bias), (1, -1, 1, 1, 1))
    return out


def _pool3d(name: str, pool2d, x: Tensor, kernel, stride, padding, hw_args: tuple,
            depth_args: tuple) -> Tensor:
    """A 3-D pool as two 2-D pools: over (H, W) of every depth slice, then over depth (a
    (kD, 1) window on [N, C, D, H'W']). Exact, as the max of maxima and, with each axis's
    own count of (padded) elements, the mean of means are."""
    if x.ndim == 4:
        return ops.squeeze(_pool3d(name, pool2d, ops.expand_dims(x, 0), kernel, stride,
                                   padding, hw_args, depth_args), 0)
    if x.ndim != 5:
        raise ShapeError(f"{name}: expected a 4-D or 5-D input, got {tuple(x.shape)}")
    _pool.check_padding(name, kernel, padding, padding)
    n, c, d, h, w = x.shape
    planes = pool2d(ops.reshape(x, (n, c * d, h, w)), kernel[1:], stride[1:], padding[1:],
                    *hw_args)
    ho, wo = planes.shape[2:]
    out = pool2d(ops.reshape(planes, (n, c, d, ho * wo)), (kernel[0], 1), (stride[0], 1),
                 (padding[0], 0), *depth_args)
    return ops.reshape(out, (n, c, out.shape[2], ho, wo))


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """Max pooling of [N, C, D, H, W] (or [C, D, H, W]); return_indices is not built."""
    if return_indices:
        raise NotImplementedError("max_pool3d: return_indices=True is not supported")
    kernel = _tuple(kernel_size, 3, "kernel_size")
    stride = kernel if stride is None or stride == [] else _tuple(stride, 3, "stride")
    dilation = _tuple(dilation, 3, "dilation")
    return _pool3d("max_pool3d", _pool.max_pool2d, as_tensor(input), kernel, stride,
                   _tuple(padding, 3, "padding"), (dilation[1:], ceil_mode),
                   ((dilation[0], 1), ceil_mode))


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Average pooling of [N, C, D, H, W] (or [C, D, H, W])."""
    kernel = _tuple(kernel_size, 3, "kernel_size")
    stride = kernel if stride is None or stride == [] else _tuple(stride, 3, "stride")
    extra = (ceil_mode, count_include_pad)
    out = _pool3d("avg_pool3d", _pool.avg_pool2d, as_tensor(input), kernel, stride,
                  _tuple(padding, 3, "padding"), extra, extra)
    return override_divisor("avg_pool3d", out, kernel, divisor_override, ceil_mode,
                            count_include_pad)


def override_divisor(name: str, out: Tensor, kernel: tuple, divisor_override, ceil_mode: bool,
                     count_include_pad: bool) -> Tensor:
    """An average pool's `out` (divided by the window's size) divided by `divisor_override`
    instead, if given: exact where every window is whole, so the other cases are refused."""
    if divisor_override is None:
        return out
    if ceil_mode or not count_include_pad:
        raise NotImplementedError(f"{name}: divisor_override needs ceil_mode=False and "
                                  "count_include_pad=True")
    if divisor_override == 0:
        raise ValueError(f"{name}: divisor_override must not be zero")
    return out * (math.prod(kernel) / divisor_override)


__all__ = ["adaptive_avg_pool1d", "adaptive_max_pool1d", "adaptive_max_pool2d", "avg_pool1d",
           "avg_pool3d", "conv3d", "max_pool3d", "max_unpool2d"]
