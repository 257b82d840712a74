"""torchvision's `io.read_image` (custom datasets of image files, as the data tutorial
writes them) and `io.write_png`, through Pillow: images are uint8 [C, H, W] tensors."""
from __future__ import annotations

import enum

import numpy as np

from ...core.tensor import Tensor
from ...io.atomic import atomic_path

_CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


class ImageReadMode(enum.Enum):
    """The channels read_image returns: the file's own, or converted to these."""
    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4


_PIL_MODE = {ImageReadMode.GRAY: "L", ImageReadMode.GRAY_ALPHA: "LA",
             ImageReadMode.RGB: "RGB", ImageReadMode.RGB_ALPHA: "RGBA"}


def read_image(path, mode: ImageReadMode = ImageReadMode.UNCHANGED) -> Tensor:
    """The image file at `path` (PNG, JPEG, ... whatever Pillow opens) as uint8 [C, H, W];
    palette images are expanded to RGB (RGBA when they have transparency)."""
    from PIL import Image
    if isinstance(mode, str):
        mode = ImageReadMode[mode.upper()]
    with Image.open(path) as img:
        if mode is ImageReadMode.UNCHANGED:
            want = img.mode if img.mode in _CHANNELS else (
                "RGBA" if "transparency" in img.info or "A" in img.mode else "RGB")
        else:
            want = _PIL_MODE[mode]
        pixels = np.asarray(img.convert(want) if img.mode != want else img, np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return Tensor._eager(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


def write_png(input: Tensor, filename, compression_level: int = 6) -> None:  # noqa: A002
    """Write a uint8 [C, H, W] tensor (C = 1 or 3, or 2/4 with alpha) as a PNG file."""
    from PIL import Image
    pixels = np.asarray(input.detach().numpy() if isinstance(input, Tensor) else input)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[0] not in (1, 2, 3, 4):
        raise RuntimeError(f"write_png: expected a uint8 [C, H, W] tensor with 1 to 4 "
                           f"channels, got {pixels.dtype} of shape {pixels.shape}")
    image = Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
    with atomic_path(filename) as tmp:
        image.save(tmp, format="PNG", compress_level=compression_level)
