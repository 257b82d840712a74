"""torchvision's transforms: `Compose`, `ToTensor`, `Normalize`, `Lambda`, and the crops,
flips, resizes and colour jitter of the usual training pipelines. Each takes a PIL image, a
NumPy image array or a tensor and returns the same kind (see `functional`); the random ones
draw from tinyflow's global generator, so `torch.manual_seed` repeats them (their numbers are
not torchvision's, which come from torch's generator)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ....core.random import generator as _global_rng
from ....core.tensor import Tensor
from . import functional as F
from .functional import InterpolationMode  # noqa: F401


class Compose:
    def __init__(self, transforms) -> None:
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class ToTensor:
    """An [H, W] or [H, W, C] image to a [C, H, W] tensor, as torchvision's: uint8 in
    [0, 255] to float32 in [0, 1] (divided by 255, as torchvision rounds), any other array
    in its own dtype."""

    def __call__(self, image) -> Tensor:
        if isinstance(image, Tensor):
            raise TypeError("ToTensor: pic should be a PIL image or an ndarray, got a Tensor")
        a = np.asarray(image)
        a = a[:, :, None] if a.ndim == 2 else a
        if a.ndim != 3:
            raise ValueError(f"ToTensor: expected an [H, W] or [H, W, C] image, got shape "
                             f"{a.shape}")
        chw = np.ascontiguousarray(a.transpose(2, 0, 1))
        if a.dtype == np.uint8:
            chw = np.divide(chw, np.float32(255), dtype=np.float32)
        return Tensor._eager(chw)


class Normalize:
    """(x - mean[c]) / std[c] per channel of a [..., C, H, W] float tensor."""

    def __init__(self, mean, std, inplace: bool = False) -> None:
        self.mean, self.std = tuple(mean), tuple(std)
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std {self.std} has a zero, which would divide by zero")

    def __call__(self, x: Tensor) -> Tensor:
        a = x.numpy()
        shape = (-1, 1, 1)
        mean = np.asarray(self.mean, a.dtype).reshape(shape)
        std = np.asarray(self.std, a.dtype).reshape(shape)
        return Tensor._eager((a - mean) / std)


class Lambda:
    def __init__(self, fn) -> None:
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)


class ToPILImage:
    """A [C, H, W] tensor (float in [0, 1] scaled by 255) or an [H, W(, C)] array to a PIL
    image."""

    def __init__(self, mode=None) -> None:
        self.mode = mode

    def __call__(self, pic):
        from PIL import Image
        if isinstance(pic, Tensor):
            a = pic.numpy(force=True)
            a = a[None] if a.ndim == 2 else a
            if a.ndim != 3:
                raise ValueError(f"ToPILImage: expected a [C, H, W] tensor, got shape {a.shape}")
            a = a.transpose(1, 2, 0)
            if a.dtype.kind == "f":
                a = (a * 255).astype(np.uint8)    # torchvision truncates, as here
        else:
            a = np.asarray(pic)
        a = a[:, :, 0] if a.ndim == 3 and a.shape[2] == 1 else a
        image = Image.fromarray(a)
        return image if self.mode is None else image.convert(self.mode)


class Resize:
    """`Resize(size)`: an int sets the shorter side (the aspect kept), (h, w) both."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias=True) -> None:
        self.size, self.interpolation, self.max_size = size, interpolation, max_size

    def __call__(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size)


class CenterCrop:
    def __init__(self, size) -> None:
        self.size = F._pair(size, "CenterCrop")

    def __call__(self, img):
        return F.center_crop(img, self.size)


class Pad:
    def __init__(self, padding, fill=0, padding_mode: str = "constant") -> None:
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)


class RandomCrop:
    """`RandomCrop(size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant")`:
    pad, then cut a window of `size` at a uniformly drawn place."""

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant") -> None:
        self.size = F._pair(size, "RandomCrop")
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    def __call__(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        w, h = F.get_image_size(img)
        if self.pad_if_needed and (w < tw or h < th):
            img = F.pad(img, [max(0, tw - w), max(0, th - h)], self.fill, self.padding_mode)
            w, h = F.get_image_size(img)
        return F.crop(img, *self.get_params(img, self.size))

    @staticmethod
    def get_params(img, output_size) -> tuple:
        """(top, left, height, width) of a uniformly placed window (static, as torchvision's)."""
        w, h = F.get_image_size(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the "
                             f"input image size {(h, w)}")
        rng = _global_rng()
        top = int(rng.integers(0, h - th + 1))
        return top, int(rng.integers(0, w - tw + 1)), th, tw


class RandomResizedCrop:
    """A window of a random area fraction (`scale`) and aspect ratio (`ratio`, drawn
    log-uniformly) resized to `size`; after ten misses, the centre window of the clamped
    ratio (torchvision's procedure)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                 interpolation=InterpolationMode.BILINEAR, antialias=True) -> None:
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"RandomResizedCrop: scale {scale} and ratio {ratio} should be "
                             f"of kind (min, max)")
        self.size = F._pair(size, "RandomResizedCrop")
        self.scale, self.ratio, self.interpolation = tuple(scale), tuple(ratio), interpolation

    @staticmethod
    def get_params(img, scale, ratio) -> tuple:
        """(top, left, height, width) of the window (a static method, as torchvision's)."""
        width, height = F.get_image_size(img)
        area, rng = height * width, _global_rng()
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(*scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = int(rng.integers(0, height - h + 1))
                return top, int(rng.integers(0, width - w + 1)), h, w
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            w, h = int(round(height * max(ratio))), height
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        return F.resized_crop(img, *self.get_params(img, self.scale, self.ratio), self.size,
                              self.interpolation)


class RandomHorizontalFlip:
    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img):
        return F.hflip(img) if _global_rng().random() < self.p else img


class RandomVerticalFlip(RandomHorizontalFlip):
    def __call__(self, img):
        return F.vflip(img) if _global_rng().random() < self.p else img


class ColorJitter:
    """Brightness, contrast, saturation and hue changed by factors drawn uniformly from
    their ranges (a number b means [max(0, 1 - b), 1 + b]; hue h means [-h, h]), applied in
    a random order."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0) -> None:
        self.brightness = self._range(brightness, "brightness", 1, (0, math.inf))
        self.contrast = self._range(contrast, "contrast", 1, (0, math.inf))
        self.saturation = self._range(saturation, "saturation", 1, (0, math.inf))
        self.hue = self._range(hue, "hue", 0, (-0.5, 0.5))

    @staticmethod
    def _range(value, name: str, center: float, bound: tuple):
        if isinstance(value, numbers.Number):
            if value < 0:
                raise ValueError(f"ColorJitter: if {name} is a single number, it must be "
                                 f"non negative, got {value}")
            value = [center - value, center + value]
            if center == 1:
                value[0] = max(value[0], 0.0)
        lo, hi = (float(v) for v in value)
        if not bound[0] <= lo <= hi <= bound[1]:
            raise ValueError(f"ColorJitter: {name} values should be between {bound}, "
                             f"got {(lo, hi)}")
        return None if lo == hi == center else (lo, hi)

    def __call__(self, img):
        rng = _global_rng()
        steps = ((self.brightness, F.adjust_brightness), (self.contrast, F.adjust_contrast),
                 (self.saturation, F.adjust_saturation), (self.hue, F.adjust_hue))
        for k in rng.permutation(4):
            bounds, adjust = steps[k]
            if bounds is not None:
                img = adjust(img, float(rng.uniform(*bounds)))
        return img
