"""torchvision's `transforms.functional` for the geometry the usual pipelines need (crop,
flip, pad, resize), on three kinds of image, each returned as its own kind:

- a PIL image (what `ImageFolder` and `PIL.Image.open` give),
- a NumPy [H, W] or [H, W, C] array (what tinyflow's MNIST and FakeData give),
- a tensor [..., C, H, W] (after `ToTensor`).

Resizing goes through Pillow for all three (a float array channel by channel in Pillow's
32-bit float mode), so it antialiases as torchvision's PIL path does. Pillow is imported only
when an image is resized or a PIL image is met.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from ....core.tensor import Tensor

__all__ = ["InterpolationMode", "adjust_brightness", "adjust_contrast", "adjust_hue",
           "adjust_saturation", "center_crop", "crop", "get_image_size", "hflip", "pad",
           "resize", "resized_crop", "vflip"]


class InterpolationMode:
    """torchvision's interpolation names (its enum's values are these strings)."""
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _is_pil(img) -> bool:
    return type(img).__module__.startswith("PIL.")


def _as_array(img):
    """img as an array whose last two dims (tensor) or first two dims (array, PIL) are H, W;
    and a function that turns an array of that layout back into img's kind."""
    if isinstance(img, Tensor):
        return img.numpy(force=True), Tensor._eager
    if _is_pil(img):
        from PIL import Image
        return np.asarray(img), Image.fromarray
    a = np.asarray(img)
    if a.ndim not in (2, 3):
        raise ValueError(f"expected an [H, W] or [H, W, C] image array, got shape {a.shape}")
    return a, lambda b: b


def _hw_axes(img) -> tuple:
    return (-2, -1) if isinstance(img, Tensor) else (0, 1)


def get_image_size(img) -> list:
    """[width, height], as torchvision's."""
    if _is_pil(img):
        return list(img.size)
    shape = img.shape if isinstance(img, Tensor) else np.shape(img)
    h, w = (shape[-2], shape[-1]) if isinstance(img, Tensor) else (shape[0], shape[1])
    return [int(w), int(h)]


def crop(img, top: int, left: int, height: int, width: int):
    """The [top, top + height) x [left, left + width) window; parts outside the image are
    zeros (as torchvision's)."""
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    a, back = _as_array(img)
    ah, aw = _hw_axes(img)
    h, w = a.shape[ah], a.shape[aw]
    before = (max(0, -top), max(0, -left))
    after = (max(0, top + height - h), max(0, left + width - w))
    if any(before + after):
        widths = [(0, 0)] * a.ndim
        widths[ah], widths[aw] = (before[0], after[0]), (before[1], after[1])
        a = np.pad(a, widths)
        top, left = top + before[0], left + before[1]
    index = [slice(None)] * a.ndim
    index[ah], index[aw] = slice(top, top + height), slice(left, left + width)
    return back(np.ascontiguousarray(a[tuple(index)]))


def _pair(size, name: str) -> tuple:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) != 2:
        raise ValueError(f"{name}: size must be an int or a sequence of 1 or 2 ints, got {size}")
    return int(size[0]), int(size[1])


def center_crop(img, output_size):
    """The middle output_size (h, w) window, zero-padded first where the image is smaller."""
    ch, cw = _pair(output_size, "center_crop")
    w, h = get_image_size(img)
    if ch > h or cw > w:
        img = pad(img, [(cw - w) // 2 if cw > w else 0, (ch - h) // 2 if ch > h else 0,
                        (cw - w + 1) // 2 if cw > w else 0, (ch - h + 1) // 2 if ch > h else 0])
        w, h = get_image_size(img)
    return crop(img, int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0)), ch, cw)


def _flip(img, axis: int):
    if _is_pil(img):
        from PIL import Image
        return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM if axis == 0 else
                             Image.Transpose.FLIP_LEFT_RIGHT)
    a, back = _as_array(img)
    return back(np.ascontiguousarray(np.flip(a, _hw_axes(img)[axis])))


def hflip(img):
    return _flip(img, 1)


def vflip(img):
    return _flip(img, 0)


_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect",
              "symmetric": "symmetric"}


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Pad the borders: `padding` an int (all sides), (left/right, top/bottom) or (left, top,
    right, bottom); modes constant (with `fill`), edge, reflect, symmetric."""
    if padding_mode not in _PAD_MODES:
        raise ValueError(f"pad: padding_mode must be one of {sorted(_PAD_MODES)}, got "
                         f"{padding_mode!r}")
    p = [padding] * 4 if isinstance(padding, numbers.Number) else list(padding)
    if len(p) == 1:
        p = p * 4
    elif len(p) == 2:
        p = p * 2
    if len(p) != 4:
        raise ValueError(f"pad: padding must be an int or a sequence of 1, 2 or 4 ints, got "
                         f"{padding}")
    left, top, right, bottom = (int(v) for v in p)
    a, back = _as_array(img)
    ah, aw = _hw_axes(img)
    widths = [(0, 0)] * a.ndim
    widths[ah], widths[aw] = (top, bottom), (left, right)
    if padding_mode == "constant" and not isinstance(fill, numbers.Number):
        return back(_pad_with_color(a, widths, fill, -3 if isinstance(img, Tensor) else 2))
    extra = {"constant_values": fill} if padding_mode == "constant" else {}
    return back(np.pad(a, widths, mode=_PAD_MODES[padding_mode], **extra))


def _pad_with_color(a: np.ndarray, widths: list, fill, channel_axis: int) -> np.ndarray:
    """Constant padding by one value per channel (np.pad would read a sequence per axis)."""
    values = np.asarray(fill, dtype=a.dtype).reshape(-1)
    channels = a.shape[channel_axis] if a.ndim >= 3 else 1
    if values.size not in (1, channels):
        raise ValueError(f"pad: fill {tuple(fill)} has {values.size} values for an image of "
                         f"{channels} channels")
    out = np.empty([n + lo + hi for n, (lo, hi) in zip(a.shape, widths)], a.dtype)
    shape = [1] * a.ndim
    if values.size > 1:
        shape[channel_axis] = values.size
    out[...] = values.reshape(shape)
    out[tuple(slice(lo, lo + n) for n, (lo, _) in zip(a.shape, widths))] = a
    return out


def _resized_size(w: int, h: int, size, max_size) -> tuple:
    """(new_w, new_h): an int size sets the shorter side (the other keeps the aspect, cut
    down to an int; at most max_size), a pair is (h, w)."""
    if isinstance(size, numbers.Number) or len(size) == 1:
        want = int(size if isinstance(size, numbers.Number) else size[0])
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = want, int(want * long / short)
        if max_size is not None:
            if max_size <= want:
                raise ValueError(f"resize: max_size = {max_size} must be strictly greater "
                                 f"than the requested size for the smaller edge {want}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_short, new_long) if w <= h else (new_long, new_short)
    if max_size is not None:
        raise ValueError("resize: max_size is only supported with a single int size")
    new_h, new_w = _pair(size, "resize")
    return new_w, new_h


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
           antialias=True):
    """Resize to `size` (see `_resized_size`) with Pillow's filter `interpolation`."""
    from PIL import Image
    w, h = get_image_size(img)
    new_w, new_h = _resized_size(w, h, size, max_size)
    resample = _resample(interpolation)
    if (new_w, new_h) == (w, h):
        return img
    if _is_pil(img):
        return img.resize((new_w, new_h), resample)
    a, back = _as_array(img)
    if not isinstance(img, Tensor) and a.dtype == np.uint8 and a.shape[2:] in ((), (3,), (4,)):
        return back(np.asarray(Image.fromarray(a).resize((new_w, new_h), resample)))
    tensor = isinstance(img, Tensor)
    planes = a.reshape((-1, h, w)) if tensor else np.moveaxis(a.reshape((h, w, -1)), -1, 0)
    out = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(p, np.float32))
                               .resize((new_w, new_h), resample)) for p in planes])
    if a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        out = np.clip(np.round(out), info.min, info.max)
    out = (out.reshape(a.shape[:-2] + (new_h, new_w)) if tensor else
           np.moveaxis(out, 0, -1).reshape((new_h, new_w) + a.shape[2:]))
    return back(out.astype(a.dtype))


def _resample(interpolation):
    """Pillow's filter for an InterpolationMode name or a Pillow constant (torchvision took
    both)."""
    from PIL import Image
    if isinstance(interpolation, int):
        return Image.Resampling(interpolation)
    name = str(getattr(interpolation, "value", interpolation)).upper()
    if name not in Image.Resampling.__members__:
        raise ValueError(f"resize: unknown interpolation {interpolation!r}; expected one of "
                         f"{[m.lower() for m in Image.Resampling.__members__]}")
    return Image.Resampling[name]


def resized_crop(img, top: int, left: int, height: int, width: int, size,
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
    return resize(crop(img, top, left, height, width), size, interpolation)


# ---- colour: PIL images and uint8 arrays through Pillow's ImageEnhance (torchvision's PIL
# path), float tensors [..., 3, H, W] in [0, 1] by torchvision's tensor formulas ----------

def _via_pil(img, fn):
    """fn(PIL image) for a PIL image or a uint8 [H, W(, 3)] array, in img's kind; None for a
    tensor (the caller computes on its values)."""
    if isinstance(img, Tensor):
        return None
    if _is_pil(img):
        return fn(img)
    from PIL import Image
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise TypeError(f"colour transforms take PIL images, uint8 image arrays or float "
                        f"tensors; got an array of dtype {a.dtype}")
    return np.asarray(fn(Image.fromarray(a)))


def _gray(a: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of [..., 3, H, W], keeping the channel dim."""
    if a.shape[-3] == 1:
        return a
    r, g, b = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    return (0.2989 * r + 0.587 * g + 0.114 * b)[..., None, :, :].astype(a.dtype)


def _bound(dtype) -> float:
    """The largest pixel value of an image dtype, as torchvision's: 1 for floats."""
    return float(np.iinfo(dtype).max) if np.dtype(dtype).kind in "iu" else 1.0


def _blend(img: Tensor, other: np.ndarray, factor: float) -> Tensor:
    a = img.numpy(force=True)
    mixed = factor * a.astype(np.float32 if a.dtype.kind in "iu" else a.dtype) \
        + (1 - factor) * other
    return Tensor._eager(np.clip(mixed, 0, _bound(a.dtype)).astype(a.dtype))


def adjust_brightness(img, brightness_factor: float):
    from PIL import ImageEnhance
    out = _via_pil(img, lambda p: ImageEnhance.Brightness(p).enhance(brightness_factor))
    return out if out is not None else _blend(img, 0, brightness_factor)


def adjust_contrast(img, contrast_factor: float):
    from PIL import ImageEnhance
    out = _via_pil(img, lambda p: ImageEnhance.Contrast(p).enhance(contrast_factor))
    if out is not None:
        return out
    a = img.numpy(force=True)
    return _blend(img, _gray(a).mean(axis=(-3, -2, -1), keepdims=True), contrast_factor)


def adjust_saturation(img, saturation_factor: float):
    from PIL import ImageEnhance
    out = _via_pil(img, lambda p: ImageEnhance.Color(p).enhance(saturation_factor))
    return out if out is not None else _blend(img, _gray(img.numpy(force=True)),
                                              saturation_factor)


def adjust_hue(img, hue_factor: float):
    """Rotate the hue by hue_factor turns (in [-0.5, 0.5])."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"adjust_hue: hue_factor ({hue_factor}) is not in [-0.5, 0.5]")
    out = _via_pil(img, lambda p: _pil_hue(p, hue_factor))
    if out is not None:
        return out
    a = img.numpy(force=True)
    if a.shape[-3] == 1:
        return img
    bound = _bound(a.dtype)       # integer pixels as floats in [0, 1] and back, as torchvision
    h, s, v = _rgb_to_hsv(a / bound if a.dtype.kind in "iu" else a)
    rgb = _hsv_to_rgb((h + hue_factor) % 1.0, s, v)
    if a.dtype.kind in "iu":
        rgb = rgb * (bound + 1 - 1e-3)
    return Tensor._eager(rgb.astype(a.dtype))


def _pil_hue(p, hue_factor: float):
    if p.mode in ("L", "1", "I", "F"):
        return p
    from PIL import Image
    h, s, v = p.convert("HSV").split()
    shifted = (np.asarray(h).astype(np.int16) + int(hue_factor * 255)) % 256
    return Image.merge("HSV", (Image.fromarray(shifted.astype(np.uint8)), s, v)) \
        .convert(p.mode)


def _rgb_to_hsv(a: np.ndarray) -> tuple:
    r, g, b = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    hi, lo = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    delta = hi - lo
    safe = np.where(delta > 0, delta, 1)
    h = np.where(hi == r, ((g - b) / safe) % 6, np.where(hi == g, (b - r) / safe + 2,
                                                          (r - g) / safe + 4))
    h = np.where(delta > 0, h / 6, 0)
    return h, np.where(hi > 0, delta / np.where(hi > 0, hi, 1), 0), hi


def _hsv_to_rgb(h, s, v) -> np.ndarray:
    i = np.floor(h * 6)
    f = h * 6 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.astype(np.int64) % 6
    pick = lambda *xs: np.choose(i, xs)  # noqa: E731  (one of six by the sector i)
    return np.stack([pick(v, q, p, p, t, v), pick(t, v, v, q, p, p),
                     pick(p, p, t, v, v, q)], axis=-3)
