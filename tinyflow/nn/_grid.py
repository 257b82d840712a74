"""Spatial transformers' sampling (F.affine_grid, F.grid_sample) as compositions of existing
ops: the grid is a product of a constant coordinate mesh with theta; bilinear sampling picks
the four neighbours of each source point with `take` and weights them by their distances,
so gradients reach the input (take's scatter-add) and the grid (the weights; floor has a zero
derivative), and the functions trace under compile."""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.op import as_tensor
from ..core.tensor import Tensor

_CORNERS_NOTE = ("align_corners was not given, so it is False: -1 and 1 are the outer edges of "
                 "the corner pixels, not their centres (pass align_corners=True for those); "
                 "pass it explicitly to silence this")


def _align(align_corners: Optional[bool]) -> bool:
    if align_corners is None:
        warnings.warn(_CORNERS_NOTE, UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


def _steps(n: int, align_corners: bool, dtype) -> np.ndarray:
    """The n normalized coordinates in [-1, 1] of an axis: its pixels' corners or centres."""
    if n <= 1:
        return np.zeros(n, dtype)
    r = np.linspace(-1, 1, n, dtype=dtype)
    return r if align_corners else r * dtype((n - 1) / n)


def affine_grid(theta: Tensor, size, align_corners: Optional[bool] = None) -> Tensor:
    """The sampling grid [N, *spatial, k] of a batch of affine maps theta [N, k, k + 1]
    (k = 2 for a 4-D size [N, C, H, W], 3 for a 5-D one): theta @ (x, y[, z], 1) per pixel."""
    align_corners = _align(align_corners)
    theta, size = as_tensor(theta), tuple(int(s) for s in size)
    if not theta.dtype.is_floating:
        raise ValueError(f"affine_grid: theta is {theta.dtype.name}; it must be floating "
                         f"point")
    if len(size) not in (4, 5):
        raise NotImplementedError(f"affine_grid: size {list(size)} has {len(size)} "
                                  f"entries; give [N, C, H, W] (2-D) or [N, C, D, H, W] (3-D)")
    k = len(size) - 2
    if tuple(theta.shape) != (size[0], k, k + 1):
        raise ValueError(f"affine_grid: theta {list(theta.shape)} for size {list(size)}; it "
                         f"must be [N, {k}, {k + 1}], one {k}-D affine matrix per sample")
    if min(size) <= 0:
        raise ValueError(f"affine_grid: size {list(size)} has an entry <= 0")
    spatial, dtype = size[2:], theta.dtype.np.type
    if align_corners and min(spatial) == 1:
        warnings.warn("affine_grid: with align_corners=True a spatial dim of size 1 has its "
                      "one point at 0, the centre, not at a corner (a corner-aligned grid of "
                      "one point is ill-defined)", UserWarning, stacklevel=2)
    mesh = np.meshgrid(*[_steps(n, align_corners, dtype) for n in spatial], indexing="ij")
    base = np.stack([*mesh[::-1], np.ones(spatial, dtype)], -1).reshape(1, -1, k + 1)
    grid = ops.matmul(as_tensor(base), ops.transpose(theta, (0, 2, 1)))
    return ops.reshape(grid, (size[0], *spatial, k))


_MODES, _PADDINGS = ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection")


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",  # noqa: A002
                padding_mode: str = "zeros", align_corners: Optional[bool] = None) -> Tensor:
    """out[n, :, i, j] = input[n] sampled at grid[n, i, j] = (x, y) in [-1, 1] (-1: the
    left/top edge), bilinearly or at the nearest pixel; points outside read zeros, the border
    pixel, or the image reflected at its edges."""
    if mode not in _MODES:
        raise ValueError(f"grid_sample: mode={mode!r} is unknown; use 'bilinear', 'nearest' "
                         f"or 'bicubic'")
    if padding_mode not in _PADDINGS:
        raise ValueError(f"grid_sample: padding_mode={padding_mode!r} is unknown; use "
                         f"'zeros', 'border' or 'reflection'")
    align_corners = _align(align_corners)
    x, g = as_tensor(input), as_tensor(grid)
    _check(x, g, mode)
    n, c, h, w = x.shape
    ix = _source(ops.getitem(g, (Ellipsis, 0)), w, padding_mode, align_corners)
    iy = _source(ops.getitem(g, (Ellipsis, 1)), h, padding_mode, align_corners)
    rows = ops.reshape(ops.transpose(x, (0, 2, 3, 1)), (n * h * w, c))
    first = np.arange(n, dtype=np.int64).reshape(n, 1, 1) * (h * w)
    if mode == "nearest":
        rx, ry = ops.round(ix), ops.round(iy)
        # weight 1 through round's zero derivative: the grid's gradient is 0, as torch's
        # (1, not NaN, at a NaN or infinite point, which reads zero as torch's)
        zero = rx * 0
        one = ops.where(ops.equal(zero, 0), zero + 1, 1.0)
        out = _pick(rows, first, rx, ry, one, h, w)
    else:
        x0, y0 = ops.floor(ix), ops.floor(iy)
        right, down = ix - x0, iy - y0
        left, up = 1 - right, 1 - down
        out = (_pick(rows, first, x0, y0, left * up, h, w)
               + _pick(rows, first, x0 + 1, y0, right * up, h, w)
               + _pick(rows, first, x0, y0 + 1, left * down, h, w)
               + _pick(rows, first, x0 + 1, y0 + 1, right * down, h, w))
    return ops.transpose(out, (0, 3, 1, 2))


def _check(x: Tensor, g: Tensor, mode: str) -> None:
    sizes = f"input with sizes {list(x.shape)} and grid with sizes {list(g.shape)}"
    if x.ndim == 5 and g.ndim == 5 or mode == "bicubic":
        raise NotImplementedError(f"grid_sample: {'bicubic' if mode == 'bicubic' else '5-D'} "
                                  f"sampling is not supported (4-D bilinear or nearest only); "
                                  f"got {sizes}")
    if x.ndim != 4 or g.ndim != 4:
        raise RuntimeError(f"grid_sample: input and grid must both be 4-D (or both 5-D); "
                           f"got {sizes}")
    if g.shape[0] != x.shape[0]:
        raise RuntimeError(f"grid_sample: input and grid differ in batch size (dim 0); got "
                           f"{sizes}")
    if g.shape[-1] != 2:
        raise RuntimeError(f"grid_sample: grid {list(g.shape)} must end in 2 (x, y "
                           f"coordinates)")
    if x.dtype is not g.dtype or not x.dtype.is_floating:
        raise RuntimeError(f"grid_sample: input is {x.dtype.name} and grid {g.dtype.name}; "
                           f"give both one floating dtype")


def _source(coord: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    """Normalized coordinates -> pixel coordinates, reflected and clipped as padding asks."""
    if align_corners:
        coord = (coord + 1) * ((size - 1) / 2)
    else:
        coord = ((coord + 1) * size - 1) / 2
    if padding_mode == "reflection":
        coord = (_reflect(coord, 0, 2 * (size - 1)) if align_corners
                 else _reflect(coord, -1, 2 * size - 1))
    return coord if padding_mode == "zeros" else _clip(coord, size - 1)


def _clip(coord: Tensor, high: int) -> Tensor:
    """coord clipped to [0, high] with a zero gradient at or past either bound, as torch's
    clip_coordinates_set_grad (clamp's would pass it at the bound, where the pixel beyond
    reads as zero: a spurious pull at the edge of an identity grid)."""
    inside = ops.logical_and(ops.greater(coord, 0), ops.less(coord, high))
    return ops.where(inside, coord, ops.cast(ops.greater(coord, 0), coord.dtype) * high)


def _reflect(coord: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """Fold coordinates into [low, high] by reflecting at its ends, as often as needed."""
    if twice_low == twice_high:
        return coord * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    distance = ops.abs(coord - low)
    flips = ops.floor(distance / span)
    extra = distance - flips * span
    even = ops.equal(flips - ops.floor(flips / 2) * 2, 0)
    return ops.where(even, extra + low, span - extra + low)


def _pick(rows: Tensor, first: np.ndarray, cx: Tensor, cy: Tensor, weight: Tensor, h: int,
          w: int) -> Tensor:
    """The pixels at integer-valued (cx, cy) of each image, times weight; 0 outside (the
    weight, NaN at a NaN point, is multiplied: bilinear sampling gives NaN there, as torch's)."""
    inside = ops.logical_and(ops.logical_and(ops.greater_equal(cx, 0), ops.less_equal(cx, w - 1)),
                             ops.logical_and(ops.greater_equal(cy, 0), ops.less_equal(cy, h - 1)))
    weight = weight * ops.cast(inside, rows.dtype)
    cx = ops.cast(ops.where(inside, cx, 0), dtypes.int64)   # pixel 0 for points outside,
    cy = ops.cast(ops.where(inside, cy, 0), dtypes.int64)   # NaN and infinite ones too
    picked = ops.take(rows, cy * w + cx + first, axis=0)
    return picked * ops.expand_dims(weight, -1)
