"""TF1's `tf.image` (this module): resizing (bilinear and nearest, TF1's corner-aligned or
not, never half-pixel), flips, crops, pads, standardization and dtype conversion, composed
of take, slicing, pad and where on NHWC images ([batch, height, width, channels] or one
[height, width, channels] image)."""
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
        rows = np.floor(where)
        if align_corners:   # TF1's roundf: halves away from zero (np.round's go to even)
            rows += (where - rows >= 0.5)
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
    if (x.shape[axes[0]], x.shape[axes[1]]) == (height, width):
        return x   # TF1's resize_images returns same-size images as they are
    return _resize(x, axes, height, width, method == ResizeMethod.NEAREST_NEIGHBOR,
                   align_corners, "resize_images")


def _resize(x: Tensor, axes: tuple, height: int, width: int, nearest: bool,
            align_corners: bool, fn: str) -> Tensor:
    if height < 1 or width < 1:
        raise ValueError(f"{fn}: size must be positive, got {[height, width]}")
    if not nearest:
        x = ops.cast(x, dtypes.float32)
    x = _resize_axis(x, axes[0], height, nearest, align_corners)
    return _resize_axis(x, axes[1], width, nearest, align_corners)


def resize_bilinear(images, size, align_corners=False, name=None, half_pixel_centers=False):
    if half_pixel_centers:
        raise NotImplementedError("resize_bilinear: half_pixel_centers is not supported")
    x = as_tensor(images)
    height, width = _ints(size, 2, "resize_bilinear", "size")
    return _resize(x, _image_dims(x, "resize_bilinear"), height, width, False, align_corners,
                   "resize_bilinear")   # float32 at any size, as TF1's op


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
    return _maybe(as_tensor(image), flip_left_right(image))


def _maybe(x: Tensor, flipped: Tensor) -> Tensor:
    """flipped or x, drawn per image with probability 1/2 each."""
    if x.ndim == 3:
        return ops.where(ops.less(ops.random_uniform([]), 0.5), flipped, x)
    draws = ops.random_uniform(shape_of(x)[:1])
    return ops.where(ops.reshape(ops.less(draws, 0.5), (-1, 1, 1, 1)), flipped, x)


def _box(x: Tensor, fn: str, *values) -> tuple:
    """The image axes of x, and a box's offsets and sizes as ints."""
    return _image_dims(x, fn), [_ints(v, 1, fn, "the box")[0] for v in values]


def crop_to_bounding_box(image, offset_height, offset_width, target_height,
                         target_width) -> Tensor:
    """image[offset_height : offset_height + target_height, offset_width : ... ]."""
    x = as_tensor(image)
    axes, (top, left, height, width) = _box(x, "crop_to_bounding_box", offset_height,
                                            offset_width, target_height, target_width)
    if top < 0 or left < 0 or height < 1 or width < 1 or \
            top + height > x.shape[axes[0]] or left + width > x.shape[axes[1]]:
        raise ValueError(f"crop_to_bounding_box: the box (offset {top}, {left}, size {height}, "
                         f"{width}) does not fit images of shape {x.shape}")
    index = (slice(None),) * axes[0] + (slice(top, top + height), slice(left, left + width))
    return ops.getitem(x, index)


def flip_up_down(image) -> Tensor:
    x = as_tensor(image)
    height = _image_dims(x, "flip_up_down")[0]
    return ops.getitem(x, (slice(None),) * height + (slice(None, None, -1),))


def random_flip_up_down(image, seed=None) -> Tensor:
    """Each image mirrored top to bottom with probability 1/2, drawn when run."""
    return _maybe(as_tensor(image), flip_up_down(image))


def pad_to_bounding_box(image, offset_height, offset_width, target_height,
                        target_width) -> Tensor:
    """image placed at (offset_height, offset_width) in zeros of the target size."""
    x = as_tensor(image)
    axes, (top, left, height, width) = _box(x, "pad_to_bounding_box", offset_height,
                                            offset_width, target_height, target_width)
    bottom, right = height - top - x.shape[axes[0]], width - left - x.shape[axes[1]]
    if min(top, left, bottom, right) < 0:
        raise ValueError(f"pad_to_bounding_box: images of shape {x.shape} at offset {top}, "
                         f"{left} do not fit the target size {height}, {width}")
    pads = [[0, 0]] * axes[0] + [[top, bottom], [left, right], [0, 0]]
    return ops.pad(x, pads)


def resize_image_with_crop_or_pad(image, target_height, target_width) -> Tensor:
    """image cropped about its centre, or padded around it with zeros, to the target size."""
    x = as_tensor(image)
    axes = _image_dims(x, "resize_image_with_crop_or_pad")
    (height, width), (target_h, target_w) = (x.shape[a] for a in axes), (
        int(target_height), int(target_width))
    crop_h, crop_w = min(height, target_h), min(width, target_w)
    x = crop_to_bounding_box(x, max((height - target_h) // 2, 0),
                             max((width - target_w) // 2, 0), crop_h, crop_w)
    return pad_to_bounding_box(x, max((target_h - height) // 2, 0),
                               max((target_w - width) // 2, 0), target_h, target_w)


def central_crop(image, central_fraction) -> Tensor:
    """The central part, central_fraction (0, 1] of each side, as TF1 rounds it."""
    x = as_tensor(image)
    if not 0.0 < central_fraction <= 1.0:
        raise ValueError(f"central_crop: central_fraction must be in (0, 1], got "
                         f"{central_fraction}")
    axes = _image_dims(x, "central_crop")
    height, width = (x.shape[a] for a in axes)
    top = int((height - height * central_fraction) / 2)
    left = int((width - width * central_fraction) / 2)
    return crop_to_bounding_box(x, top, left, height - 2 * top, width - 2 * left)


def per_image_standardization(image) -> Tensor:
    """(x - mean) / max(stddev, 1 / sqrt(elements)) per image, in float32."""
    x = ops.cast(as_tensor(image), dtypes.float32)
    axes = _image_dims(x, "per_image_standardization")
    dims = (axes[0], axes[1], axes[1] + 1)
    count = int(np.prod([x.shape[d] for d in dims if x.shape[d] is not None]))
    if x.shape[dims[2]] is None:
        raise ValueError(f"per_image_standardization: the channels of {x.shape} must be known")
    mean = ops.reduce_mean(x, dims, keepdims=True)
    centred = ops.subtract(x, mean)
    std = ops.sqrt(ops.reduce_mean(ops.square(centred), dims, keepdims=True))
    return ops.divide(centred, ops.maximum(std, 1.0 / np.sqrt(count)))


def convert_image_dtype(image, dtype, saturate=False, name=None) -> Tensor:
    """Integers as fractions of their type's maximum, floats in [0, 1] (as TF1 scales)."""
    x = as_tensor(image)
    dtype = dtypes.as_dtype(dtype)
    if x.dtype is dtype:
        return x
    if x.dtype.is_floating and dtype.is_floating:
        return ops.cast(x, dtype, name=name)
    if x.dtype.is_integer and dtype.is_floating:
        return ops.multiply(ops.cast(x, dtype), 1.0 / np.iinfo(x.dtype.np).max, name=name)
    if x.dtype.is_floating and dtype.is_integer:
        limits = np.iinfo(dtype.np)
        scaled = ops.multiply(x, limits.max + 0.5)
        if saturate:
            scaled = ops.clamp(scaled, float(limits.min), float(limits.max))
        return ops.cast(scaled, dtype, name=name)
    raise NotImplementedError(f"convert_image_dtype: {x.dtype.name} to {dtype.name} is not "
                              f"supported")


def random_crop(value, size, seed=None, name=None) -> Tensor:
    """A size-shaped window of value at an offset drawn uniformly when run (each dim)."""
    x = as_tensor(value)
    sizes = _ints(size, x.ndim or 0, "random_crop", "size")
    if x.shape is None or any(d is None or not 0 < n <= d for n, d in zip(sizes, x.shape)):
        raise ValueError(f"random_crop: size {sizes} must fit the known shape of value, got "
                         f"{x.shape}")
    for axis, (n, d) in enumerate(zip(sizes, x.shape)):
        if n < d:
            start = ops.random_uniform([], 0, d - n + 1, dtype=dtypes.int64)
            x = ops.take(x, ops.add(start, as_tensor(np.arange(n))), axis)
    return x


def _as_fractions(image, adjust) -> Tensor:
    """adjust(image) for float images; integer ones are adjusted as float32 fractions of
    their maximum and converted back with saturation, as TF1's."""
    x = as_tensor(image)
    if x.dtype.is_floating:
        return adjust(x)
    return convert_image_dtype(adjust(convert_image_dtype(x, dtypes.float32)), x.dtype,
                               saturate=True)


def adjust_brightness(image, delta) -> Tensor:
    return _as_fractions(image, lambda x: ops.add(x, delta))


def random_brightness(image, max_delta, seed=None) -> Tensor:
    """image plus one delta drawn from [-max_delta, max_delta) when run."""
    if max_delta < 0:
        raise ValueError(f"random_brightness: max_delta must be non-negative, got {max_delta}")
    return adjust_brightness(image, ops.random_uniform([], -max_delta, max_delta))


def adjust_contrast(images, contrast_factor) -> Tensor:
    """(x - mean) * contrast_factor + mean, the mean of each channel of each image."""
    x = as_tensor(images)
    axes = _image_dims(x, "adjust_contrast")

    def adjust(x):
        mean = ops.reduce_mean(x, list(axes), keepdims=True)
        return ops.add(ops.multiply(ops.subtract(x, mean), contrast_factor), mean)
    return _as_fractions(x, adjust)


def random_contrast(image, lower, upper, seed=None) -> Tensor:
    """adjust_contrast by a factor drawn from [lower, upper) when run."""
    if not 0 <= lower < upper:
        raise ValueError(f"random_contrast: need 0 <= lower < upper, got {lower}, {upper}")
    return adjust_contrast(image, ops.random_uniform([], lower, upper))


def __getattr__(name: str):
    """Names what tf.image lacks (this module is the `tf.image` namespace)."""
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"tf.image.{name} is not supported by tinyflow (it has resize_images, "
                         f"resize_bilinear, resize_nearest_neighbor, flip_left_right, "
                         f"flip_up_down, random_flip_left_right, random_flip_up_down, "
                         f"crop_to_bounding_box, pad_to_bounding_box, central_crop, "
                         f"resize_image_with_crop_or_pad, per_image_standardization, "
                         f"convert_image_dtype, random_crop, adjust_brightness, "
                         f"random_brightness, adjust_contrast and random_contrast)")
