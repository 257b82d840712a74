"""`F.unfold` (im2col: every sliding block of a batch of images as a column) and `F.fold`
(its adjoint: columns summed back into images), as a gather and a scatter-add at the blocks'
flat positions, so each is the other's gradient."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ..pytorch.sparse import scatter_flat


def _two(value, name: str) -> tuple:
    pair = tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value),) * 2
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value}")
    return pair


def _positions(channels: int, size: tuple, kernel: tuple, dilation: tuple, stride: tuple,
               what: str) -> tuple:
    """(flat positions in a (channels, H, W) image of each block element, of shape
    (channels * kh * kw, L); the number of blocks along H and W)."""
    (h, w), (kh, kw), (dh, dw), (sh, sw) = size, kernel, dilation, stride
    blocks = [(n - d * (k - 1) - 1) // s + 1 for n, d, k, s in ((h, dh, kh, sh), (w, dw, kw, sw))]
    if min(blocks) <= 0:
        raise RuntimeError(f"{what}: kernel {kernel} with dilation {dilation} does not fit the "
                           f"(padded) input of size {size}")
    c = np.arange(channels).reshape(-1, 1, 1, 1, 1)
    ki = np.arange(kh).reshape(1, -1, 1, 1, 1)
    kj = np.arange(kw).reshape(1, 1, -1, 1, 1)
    oy = np.arange(blocks[0]).reshape(1, 1, 1, -1, 1)
    ox = np.arange(blocks[1]).reshape(1, 1, 1, 1, -1)
    flat = c * (h * w) + (oy * sh + ki * dh) * w + (ox * sw + kj * dw)
    return flat.reshape(channels * kh * kw, blocks[0] * blocks[1]).astype(np.int64), blocks


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:  # noqa: A002
    """[N, C, H, W] -> [N, C kh kw, L]: each (dilated, strided) kh x kw block of the
    zero-padded images as a column, channel-major as PyTorch's; unbatched [C, H, W] too."""
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise RuntimeError(f"unfold: expected a 3-D or 4-D input (images), got {x.ndim}-D")
    if x.ndim == 3:
        return ops.reshape(unfold(ops.expand_dims(x, 0), kernel_size, dilation, padding,
                                  stride), tuple(unfold_shape(x, kernel_size, dilation,
                                                              padding, stride)))
    ph, pw = _two(padding, "padding")
    if ph or pw:
        x = ops.pad(x, [[0, 0], [0, 0], [ph, ph], [pw, pw]])
    n, c, h, w = x.shape
    positions, _ = _positions(c, (h, w), _two(kernel_size, "kernel_size"),
                              _two(dilation, "dilation"), _two(stride, "stride"), "unfold")
    columns = ops.take(ops.reshape(x, (n, c * h * w)), Tensor._eager(positions.reshape(-1)), 1)
    return ops.reshape(columns, (n,) + positions.shape)


def unfold_shape(x: Tensor, kernel_size, dilation, padding, stride) -> list:
    """The shape unfold gives an unbatched [C, H, W] input."""
    (kh, kw), (ph, pw) = _two(kernel_size, "kernel_size"), _two(padding, "padding")
    c, h, w = x.shape
    _, blocks = _positions(1, (h + 2 * ph, w + 2 * pw), (kh, kw), _two(dilation, "dilation"),
                           _two(stride, "stride"), "unfold")
    return [c * kh * kw, blocks[0] * blocks[1]]


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0,  # noqa: A002
         stride=1) -> Tensor:
    """[N, C kh kw, L] -> [N, C, H, W]: the columns summed back into images of
    `output_size` (overlapping blocks add up), the inverse layout of `unfold`."""
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise RuntimeError(f"fold: expected a 2-D or 3-D input (columns), got {x.ndim}-D")
    if x.ndim == 2:
        out = fold(ops.expand_dims(x, 0), output_size, kernel_size, dilation, padding, stride)
        return ops.reshape(out, tuple(out.shape[1:]))
    (kh, kw), (ph, pw) = _two(kernel_size, "kernel_size"), _two(padding, "padding")
    oh, ow = _two(output_size, "output_size")
    n, rows, length = x.shape
    if rows % (kh * kw):
        raise RuntimeError(f"fold: dim 1 of the input ({rows}) is not a multiple of "
                           f"kernel_size {(kh, kw)} = {kh * kw} values per block")
    c, h, w = rows // (kh * kw), oh + 2 * ph, ow + 2 * pw
    positions, blocks = _positions(c, (h, w), (kh, kw), _two(dilation, "dilation"),
                                   _two(stride, "stride"), "fold")
    if blocks[0] * blocks[1] != length:
        raise RuntimeError(f"fold: dim 2 of the input ({length}) must be the number of "
                           f"blocks, {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]} for "
                           f"this output_size, kernel, stride, padding and dilation")
    image = c * h * w
    everywhere = (np.arange(n, dtype=np.int64).reshape(-1, 1) * image
                  + positions.reshape(1, -1)).reshape(-1)
    flat = scatter_flat(ops.reshape(x, (-1,)), everywhere, (n * image,))
    out = ops.reshape(flat, (n, c, h, w))
    return out[:, :, ph:ph + oh, pw:pw + ow] if ph or pw else out
