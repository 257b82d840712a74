"""TF1's `tf.image` (this module): resizing (bilinear and nearest, TF1's corner-aligned or not, never
half-pixel), flips and crops, composed of take, slicing and where on NHWC images
([batch, height, width, channels] or one [height, width, channels] image)."""
from __future__ import annotations

import types

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.op import as_tensor
from ..core.tensor import EAGER, Tensor
from ..ops.shape import shape_of

ResizeMethod = types.SimpleNamespace(BILINEAR=0, NEAREST_NEIGHBOR=1, BICUBIC=2, AREA=3)
_METHODS = {"bilinear": 0, "nearest": 1, "bicubic": 2, "area": 3}


def _image_dims(x: Tensor, fn: str) -> tuple:
    """The height and width axes of a 3-D or 4-D image (their sizes known)."""
    if x.ndim not in (3, 4):
        raise ValueError(f"{fn}: images must be [batch, height, width, channels] or [height, "
                         f"width, channels], got shape {x.shape}")
    axes = (x.ndim - 3, x.ndim - 2)
    if any(x.shape[a] is None for a in axes):
        raise ValueError(f"{fn}: the height and width of images {x.shape} must be known when "
                         f"the graph is built")
    return axes


def _ints(value, count: int, fn: str, what: str) -> list:
    """Python ints from ints or an eager tensor; a graph tensor is refused by name."""
    if isinstance(value, Tensor):
        if value.kind != EAGER:
            raise ValueError(f"{fn}: {what} must be known when the graph is built (ints or a "
                             f"constant), got the graph tensor {value.name}")
        value = value.array
    values = [int(v) for v in np.asarray(value).reshape(-1)]
    if len(values) != count:
        raise ValueError(f"{fn}: {what} must be {count} ints, got {values}")
    return values


def _source(n_in: int, n_out: int, align_corners: bool) -> np.ndarray:
    """Where each output row reads in the input: out * scale (TF1's legacy, no half pixel),
    scale = in / out, or (in - 1) / (out - 1) with corners aligned."""
    if align_corners and n_out > 1:
        scale = (n_in - 1) / (n_out - 1)
    else:
        scale = n_in / n_out
    return np.arange(n_out, dtype=np.float32) * np.float32(scale)


def _resize_axis(x: Tensor, axis: int, n_out: int, nearest: bool, align_corners: bool):
    n_in = x.shape[axis]
    if n_in == n_out:
        return x
    where = _source(n_in, n_out, align_corners)
    if nearest:
        rows = np.round(where) if align_corners else np.floor(where)
        return ops.take(x, as_tensor(np.minimum(rows, n_in - 1).astype(np.int64)), axis)
    low = np.floor(where).astype(np.int64)
    high = np.minimum(low + 1, n_in - 1)
    frac = (where - low).astype(x.dtype.np).reshape((-1,) + (1,) * (x.ndim - 1 - axis))
    near = ops.take(x, as_tensor(low), axis)
    return ops.add(near, ops.multiply(ops.subtract(ops.take(x, as_tensor(high), axis), near),
                                      as_tensor(frac)))


def resize_images(images, size, method=ResizeMethod.BILINEAR, align_corners=False,
                  preserve_aspect_ratio=False, name=None) -> Tensor:
    """images resized to size = [height, width]: bilinear (float32, as TF1) or nearest
    neighbour (images' dtype); TF1's default samples at out * in / out, no half-pixel
    offset."""
    x = as_tensor(images)
    method = _METHODS.get(method, method) if isinstance(method, str) else method
    if method not in (ResizeMethod.BILINEAR, ResizeMethod.NEAREST_NEIGHBOR):
        raise NotImplementedError(f"resize_images: method {method!r} is not supported "
                                  f"(BILINEAR or NEAREST_NEIGHBOR)")
    if preserve_aspect_ratio:
        raise NotImplementedError("resize_images: preserve_aspect_ratio is not supported")
    axes = _image_dims(x, "resize_images")
    height, width = _ints(size, 2, "resize_images", "size")
    if height < 1 or width < 1:
        raise ValueError(f"resize_images: size must be positive, got {[height, width]}")
    if (x.shape[axes[0]], x.shape[axes[1]]) == (height, width):
        return x
    nearest = method == ResizeMethod.NEAREST_NEIGHBOR
    if not nearest:
        x = ops.cast(x, dtypes.float32)
    x = _resize_axis(x, axes[0], height, nearest, align_corners)
    return _resize_axis(x, axes[1], width, nearest, align_corners)


def resize_bilinear(images, size, align_corners=False, name=None, half_pixel_centers=False):
    if half_pixel_centers:
        raise NotImplementedError("resize_bilinear: half_pixel_centers is not supported")
    return resize_images(images, size, ResizeMethod.BILINEAR, align_corners, name=name)


def resize_nearest_neighbor(images, size, align_corners=False, name=None,
                            half_pixel_centers=False):
    if half_pixel_centers:
        raise NotImplementedError("resize_nearest_neighbor: half_pixel_centers is not "
                                  "supported")
    return resize_images(images, size, ResizeMethod.NEAREST_NEIGHBOR, align_corners, name=name)


def flip_left_right(image) -> Tensor:
    x = as_tensor(image)
    width = _image_dims(x, "flip_left_right")[1]
    return ops.getitem(x, (slice(None),) * width + (slice(None, None, -1),))


def random_flip_left_right(image, seed=None) -> Tensor:
    """Each image mirrored left to right with probability 1/2, drawn when run (`seed` is
    accepted; tf.set_random_seed seeds the draws)."""
    x = as_tensor(image)
    flipped = flip_left_right(x)
    if x.ndim == 3:
        return ops.where(ops.less(ops.random_uniform([]), 0.5), flipped, x)
    draws = ops.random_uniform(shape_of(x)[:1])
    return ops.where(ops.reshape(ops.less(draws, 0.5), (-1, 1, 1, 1)), flipped, x)


def crop_to_bounding_box(image, offset_height, offset_width, target_height,
                         target_width) -> Tensor:
    """image[offset_height : offset_height + target_height, offset_width : ... ]."""
    x = as_tensor(image)
    axes = _image_dims(x, "crop_to_bounding_box")
    top, left, height, width = _ints(
        [_ints(v, 1, "crop_to_bounding_box", "the box")[0] for v in
         (offset_height, offset_width, target_height, target_width)], 4,
        "crop_to_bounding_box", "the box")
    if top < 0 or left < 0 or height < 1 or width < 1 or \
            top + height > x.shape[axes[0]] or left + width > x.shape[axes[1]]:
        raise ValueError(f"crop_to_bounding_box: the box (offset {top}, {left}, size {height}, "
                         f"{width}) does not fit images of shape {x.shape}")
    index = (slice(None),) * axes[0] + (slice(top, top + height), slice(left, left + width))
    return ops.getitem(x, index)


def __getattr__(name: str):
    """Names what tf.image lacks (this module is the `tf.image` namespace)."""
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"tf.image.{name} is not supported by tinyflow (it has resize_images, "
                         f"resize_bilinear, resize_nearest_neighbor, flip_left_right, "
                         f"random_flip_left_right and crop_to_bounding_box)")
